//! Server-side printing: the `meta.k8s.io/v1` `Table` columns and cells of every built-in kind,
//! as upstream's `pkg/printers/internalversion/printers.go` computes them (and upstream's
//! default table convertor, `NAME`/`CREATED AT`, for kinds without a printer).
//!
//! The server always prints "wide" (upstream's table convertor sets `Wide: true`): every row
//! carries a cell for every column, and clients hide the priority-1 columns unless asked for
//! `-o wide`. Pure: values in, values out; the time of printing is a parameter.

mod columns;
mod printers;

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::registry::ResourceInfo;

/// One `TableColumnDefinition`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColumnDefinition {
    /// Human-readable column name (kubectl upper-cases it for the header).
    pub name: &'static str,
    /// OpenAPI type: `string`, `integer`, `number`, `boolean` or `date`.
    pub type_: &'static str,
    /// OpenAPI format hint, e.g. `name`.
    pub format: &'static str,
    /// What the column shows.
    pub description: &'static str,
    /// 0 for the default view, 1 for columns only `-o wide` shows.
    pub priority: i32,
}

impl ColumnDefinition {
    /// The JSON form (`metav1.TableColumnDefinition`: every field present, upstream order).
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.type_,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// Which printer renders a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Printer {
    Default,
    Pod,
    PodTemplate,
    Pdb,
    ReplicationController,
    ReplicaSet,
    DaemonSet,
    Job,
    CronJob,
    Service,
    Ingress,
    IngressClass,
    StatefulSet,
    Endpoints,
    Node,
    Event,
    Namespace,
    Secret,
    ServiceAccount,
    PersistentVolume,
    PersistentVolumeClaim,
    Deployment,
    Hpa,
    ConfigMap,
    NetworkPolicy,
    RoleBinding,
    ClusterRoleBinding,
    Csr,
    Lease,
    StorageClass,
    ControllerRevision,
    ResourceQuota,
    PriorityClass,
    VolumeAttachment,
    EndpointSlice,
    CsiNode,
    CsiDriver,
    WebhookConfiguration,
    ValidatingAdmissionPolicy,
    ValidatingAdmissionPolicyBinding,
}

fn printer(res: &ResourceInfo) -> Printer {
    use Printer as P;
    match (res.group, res.kind) {
        ("", "Pod") => P::Pod,
        ("", "PodTemplate") => P::PodTemplate,
        ("policy", "PodDisruptionBudget") => P::Pdb,
        ("", "ReplicationController") => P::ReplicationController,
        ("apps", "ReplicaSet") => P::ReplicaSet,
        ("apps", "DaemonSet") => P::DaemonSet,
        ("batch", "Job") => P::Job,
        ("batch", "CronJob") => P::CronJob,
        ("", "Service") => P::Service,
        ("networking.k8s.io", "Ingress") => P::Ingress,
        ("networking.k8s.io", "IngressClass") => P::IngressClass,
        ("apps", "StatefulSet") => P::StatefulSet,
        ("", "Endpoints") => P::Endpoints,
        ("", "Node") => P::Node,
        ("" | "events.k8s.io", "Event") => P::Event,
        ("", "Namespace") => P::Namespace,
        ("", "Secret") => P::Secret,
        ("", "ServiceAccount") => P::ServiceAccount,
        ("", "PersistentVolume") => P::PersistentVolume,
        ("", "PersistentVolumeClaim") => P::PersistentVolumeClaim,
        ("apps", "Deployment") => P::Deployment,
        ("autoscaling", "HorizontalPodAutoscaler") => P::Hpa,
        ("", "ConfigMap") => P::ConfigMap,
        ("networking.k8s.io", "NetworkPolicy") => P::NetworkPolicy,
        ("rbac.authorization.k8s.io", "RoleBinding") => P::RoleBinding,
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => P::ClusterRoleBinding,
        ("certificates.k8s.io", "CertificateSigningRequest") => P::Csr,
        ("coordination.k8s.io", "Lease") => P::Lease,
        ("storage.k8s.io", "StorageClass") => P::StorageClass,
        ("apps", "ControllerRevision") => P::ControllerRevision,
        ("", "ResourceQuota") => P::ResourceQuota,
        ("scheduling.k8s.io", "PriorityClass") => P::PriorityClass,
        ("storage.k8s.io", "VolumeAttachment") => P::VolumeAttachment,
        ("discovery.k8s.io", "EndpointSlice") => P::EndpointSlice,
        ("storage.k8s.io", "CSINode") => P::CsiNode,
        ("storage.k8s.io", "CSIDriver") => P::CsiDriver,
        (
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration",
        ) => P::WebhookConfiguration,
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") => {
            P::ValidatingAdmissionPolicy
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding") => {
            P::ValidatingAdmissionPolicyBinding
        }
        _ => P::Default,
    }
}

/// Whether upstream has a dedicated printer for the resource (otherwise the default
/// `Name`/`Created At` convertor applies).
pub fn has_printer(res: &ResourceInfo) -> bool {
    printer(res) != Printer::Default
}

/// The columns of a resource's table, wide ones included (priority 1).
pub fn columns(res: &ResourceInfo) -> &'static [ColumnDefinition] {
    use Printer as P;
    use columns as c;
    match printer(res) {
        P::Default => c::DEFAULT,
        P::Pod => c::POD,
        P::PodTemplate => c::POD_TEMPLATE,
        P::Pdb => c::PDB,
        P::ReplicationController => c::REPLICATION_CONTROLLER,
        P::ReplicaSet => c::REPLICA_SET,
        P::DaemonSet => c::DAEMON_SET,
        P::Job => c::JOB,
        P::CronJob => c::CRON_JOB,
        P::Service => c::SERVICE,
        P::Ingress => c::INGRESS,
        P::IngressClass => c::INGRESS_CLASS,
        P::StatefulSet => c::STATEFUL_SET,
        P::Endpoints => c::ENDPOINTS,
        P::Node => c::NODE,
        P::Event => c::EVENT,
        P::Namespace => c::NAMESPACE,
        P::Secret => c::SECRET,
        P::ServiceAccount => c::SERVICE_ACCOUNT,
        P::PersistentVolume => c::PERSISTENT_VOLUME,
        P::PersistentVolumeClaim => c::PERSISTENT_VOLUME_CLAIM,
        P::Deployment => c::DEPLOYMENT,
        P::Hpa => c::HPA,
        P::ConfigMap => c::CONFIG_MAP,
        P::NetworkPolicy => c::NETWORK_POLICY,
        P::RoleBinding => c::ROLE_BINDING,
        P::ClusterRoleBinding => c::CLUSTER_ROLE_BINDING,
        P::Csr => c::CSR,
        P::Lease => c::LEASE,
        P::StorageClass => c::STORAGE_CLASS,
        P::ControllerRevision => c::CONTROLLER_REVISION,
        P::ResourceQuota => c::RESOURCE_QUOTA,
        P::PriorityClass => c::PRIORITY_CLASS,
        P::VolumeAttachment => c::VOLUME_ATTACHMENT,
        P::EndpointSlice => c::ENDPOINT_SLICE,
        P::CsiNode => c::CSI_NODE,
        P::CsiDriver => c::CSI_DRIVER,
        P::WebhookConfiguration => c::WEBHOOK_CONFIGURATION,
        P::ValidatingAdmissionPolicy => c::VALIDATING_ADMISSION_POLICY,
        P::ValidatingAdmissionPolicyBinding => c::VALIDATING_ADMISSION_POLICY_BINDING,
    }
}

/// The cells of one object's row (one per column of [`columns`]), printed at `now`.
pub fn row(res: &ResourceInfo, obj: &Value, now: OffsetDateTime) -> Vec<Value> {
    use Printer as P;
    use printers as p;
    let ctx = p::Ctx { obj, now };
    match printer(res) {
        P::Default => p::default_row(&ctx),
        P::Pod => p::pod(&ctx),
        P::PodTemplate => p::pod_template(&ctx),
        P::Pdb => p::pdb(&ctx),
        P::ReplicationController => p::replication_controller(&ctx),
        P::ReplicaSet => p::replica_set(&ctx),
        P::DaemonSet => p::daemon_set(&ctx),
        P::Job => p::job(&ctx),
        P::CronJob => p::cron_job(&ctx),
        P::Service => p::service(&ctx),
        P::Ingress => p::ingress(&ctx),
        P::IngressClass => p::ingress_class(&ctx),
        P::StatefulSet => p::stateful_set(&ctx),
        P::Endpoints => p::endpoints(&ctx),
        P::Node => p::node(&ctx),
        P::Event => p::event(&ctx, res.group == "events.k8s.io"),
        P::Namespace => p::namespace(&ctx),
        P::Secret => p::secret(&ctx),
        P::ServiceAccount => p::service_account(&ctx),
        P::PersistentVolume => p::persistent_volume(&ctx),
        P::PersistentVolumeClaim => p::persistent_volume_claim(&ctx),
        P::Deployment => p::deployment(&ctx),
        P::Hpa => p::hpa(&ctx),
        P::ConfigMap => p::config_map(&ctx),
        P::NetworkPolicy => p::network_policy(&ctx),
        P::RoleBinding | P::ClusterRoleBinding => p::role_binding(&ctx),
        P::Csr => p::csr(&ctx),
        P::Lease => p::lease(&ctx),
        P::StorageClass => p::storage_class(&ctx),
        P::ControllerRevision => p::controller_revision(&ctx),
        P::ResourceQuota => p::resource_quota(&ctx),
        P::PriorityClass => p::priority_class(&ctx),
        P::VolumeAttachment => p::volume_attachment(&ctx),
        P::EndpointSlice => p::endpoint_slice(&ctx),
        P::CsiNode => p::csi_node(&ctx),
        P::CsiDriver => p::csi_driver(&ctx),
        P::WebhookConfiguration => p::webhook_configuration(&ctx),
        P::ValidatingAdmissionPolicy => p::validating_admission_policy(&ctx),
        P::ValidatingAdmissionPolicyBinding => p::validating_admission_policy_binding(&ctx),
    }
}

/// The row's `conditions` (`TableRowCondition`s), if any: upstream marks pods that
/// succeeded or failed as `Completed`, which kubectl uses to hide them with
/// `--show-all=false`-style filters.
pub fn row_conditions(res: &ResourceInfo, obj: &Value) -> Option<Value> {
    if printer(res) != Printer::Pod {
        return None;
    }
    let (reason, message) = match obj.pointer("/status/phase").and_then(Value::as_str)? {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!([{
        "type": "Completed",
        "status": "True",
        "reason": reason,
        "message": message,
    }]))
}

/// The `PartialObjectMetadata` of an object, in `meta.k8s.io/<version>`: its whole
/// `metadata` and nothing else (upstream `meta.AsPartialObjectMetadata`).
pub fn partial_object_metadata(obj: &Value, version: &str) -> Value {
    let mut out = Map::new();
    out.insert("kind".into(), Value::from("PartialObjectMetadata"));
    out.insert(
        "apiVersion".into(),
        Value::from(format!("meta.k8s.io/{version}")),
    );
    out.insert(
        "metadata".into(),
        obj.get("metadata")
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new())),
    );
    Value::Object(out)
}

/// Upstream `duration.HumanDuration`: a succinct duration with ~2-3 significant figures
/// (`45s`, `3m20s`, `15m`, `5h3m`, `2d3h`, `400d`, `3y12d`, …); more than a second in the
/// future is `<invalid>`.
pub fn human_duration(d: time::Duration) -> String {
    let seconds = d.whole_seconds();
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// Parse an RFC 3339 timestamp (`metav1.Time` or `metav1.MicroTime`).
pub fn parse_timestamp(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// Upstream `translateTimestampSince`: the age of a timestamp, `<unknown>` when unset.
pub fn since(timestamp: Option<&Value>, now: OffsetDateTime) -> String {
    match timestamp.and_then(Value::as_str).and_then(parse_timestamp) {
        Some(t) => human_duration(now - t),
        None => "<unknown>".into(),
    }
}

/// A time as upstream serializes `metav1.Time`: `2006-01-02T15:04:05Z` in UTC.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests;
