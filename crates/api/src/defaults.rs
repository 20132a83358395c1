//! Defaulting of built-in kinds as upstream's SetDefaults_* functions do, plus the
//! defaulting parts of a few admission plugins that every cluster runs (ServiceAccount,
//! Priority, DefaultTolerationSeconds) and of the create strategies (Job selectors,
//! Namespace finalizers, Service IP families).
//!
//! Objects are JSON as clients send them. A field the client set is never overwritten;
//! a string field counts as unset when absent, `null` or `""` (as in Go, where `""` is the
//! zero value), any other field when absent or `null`.

use crate::registry::ResourceInfo;
use serde_json::{Map, Value, json};

/// Fill in defaults on an object about to be created or updated.
pub fn apply(resource: &ResourceInfo, obj: &mut Value) {
    apply_kind(resource.group, resource.kind, obj);
}

/// [`apply`] by group and kind (for callers without a [`ResourceInfo`]).
pub fn apply_kind(group: &str, kind: &str, obj: &mut Value) {
    match (group, kind) {
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            crate::crd::apply_definition_defaults(obj);
            // The storage version is recorded as stored from the first write on.
            if let Some(storage) = crate::crd::storage_version(obj).map(str::to_string) {
                let stored = obj
                    .pointer_mut("/status/storedVersions")
                    .and_then(Value::as_array_mut);
                match stored {
                    Some(list) if !list.iter().any(|v| v.as_str() == Some(storage.as_str())) => {
                        list.push(json!(storage))
                    }
                    Some(_) => {}
                    None => {
                        if let Some(map) = obj.as_object_mut() {
                            let status = map.entry("status").or_insert_with(|| json!({}));
                            if let Some(status) = status.as_object_mut() {
                                status.insert("storedVersions".into(), json!([storage]));
                            }
                        }
                    }
                }
            }
        }
        ("", "Pod") => pod(obj),
        ("", "PodTemplate") => template_at(obj, &["template"]),
        ("", "ReplicationController") => replication_controller(obj),
        ("apps", "Deployment") => deployment(obj),
        ("apps", "ReplicaSet") => {
            with_spec(obj, |s| set(s, "replicas", json!(1)));
            template_at(obj, &["spec", "template"]);
        }
        ("apps", "StatefulSet") => stateful_set(obj),
        ("apps", "DaemonSet") => daemon_set(obj),
        ("batch", "Job") => job(obj),
        ("batch", "CronJob") => cron_job(obj),
        ("", "Service") => service(obj),
        ("", "Namespace") => namespace(obj),
        ("", "Node") => node(obj),
        ("", "PersistentVolumeClaim") => with_spec(obj, |s| set_str(s, "volumeMode", "Filesystem")),
        ("", "PersistentVolume") => with_spec(obj, |s| {
            set_str(s, "persistentVolumeReclaimPolicy", "Retain");
            set_str(s, "volumeMode", "Filesystem");
        }),
        ("", "Secret") => secret(obj),
        ("", "LimitRange") => crate::resources::limitrange::apply_defaults(obj),
        ("", "Endpoints") => {
            for subset in array_mut(obj, "subsets") {
                for port in array_mut(subset, "ports") {
                    if let Some(p) = port.as_object_mut() {
                        set_str(p, "protocol", "TCP");
                    }
                }
            }
        }
        ("discovery.k8s.io", "EndpointSlice") => {
            for port in array_mut(obj, "ports") {
                if let Some(p) = port.as_object_mut() {
                    set(p, "name", json!(""));
                    set_str(p, "protocol", "TCP");
                }
            }
        }
        ("storage.k8s.io", "StorageClass") => {
            if let Some(m) = obj.as_object_mut() {
                set_str(m, "reclaimPolicy", "Delete");
                set_str(m, "volumeBindingMode", "Immediate");
            }
        }
        ("scheduling.k8s.io", "PriorityClass") => {
            if let Some(m) = obj.as_object_mut() {
                set_str(m, "preemptionPolicy", "PreemptLowerPriority");
            }
        }
        ("networking.k8s.io", "NetworkPolicy") => network_policy(obj),
        ("autoscaling", "HorizontalPodAutoscaler") => hpa(obj),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            for subject in array_mut(obj, "subjects") {
                if let Some(s) = subject.as_object_mut() {
                    let group = match s.get("kind").and_then(Value::as_str) {
                        Some("User" | "Group") => "rbac.authorization.k8s.io",
                        _ => "",
                    };
                    if !group.is_empty() {
                        set_str(s, "apiGroup", group);
                    }
                }
            }
        }
        _ => {}
    }
}

// ---- JSON helpers ----

fn is_unset(v: Option<&Value>) -> bool {
    matches!(v, None | Some(Value::Null))
}

/// Set `key` to `value` when absent or null.
fn set(m: &mut Map<String, Value>, key: &str, value: Value) {
    if is_unset(m.get(key)) {
        m.insert(key.to_string(), value);
    }
}

/// Set a string field when absent, null or empty.
fn set_str(m: &mut Map<String, Value>, key: &str, value: &str) {
    if is_unset(m.get(key)) || m.get(key).and_then(Value::as_str) == Some("") {
        m.insert(key.to_string(), json!(value));
    }
}

/// The object at `key`, created as `{}` when absent or null; `None` if it is not an object.
fn obj_mut<'a>(m: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    set(m, key, json!({}));
    m.get_mut(key).and_then(Value::as_object_mut)
}

/// The existing object at `key` (not created).
fn existing_mut<'a>(
    m: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    m.get_mut(key).and_then(Value::as_object_mut)
}

/// The elements of the array at `key` of `v` (empty when absent).
fn array_mut<'a>(v: &'a mut Value, key: &str) -> std::slice::IterMut<'a, Value> {
    match v.get_mut(key).and_then(Value::as_array_mut) {
        Some(a) => a.iter_mut(),
        None => [].iter_mut(),
    }
}

fn with_spec(obj: &mut Value, f: impl FnOnce(&mut Map<String, Value>)) {
    if let Some(spec) = obj.as_object_mut().and_then(|m| obj_mut(m, "spec")) {
        f(spec);
    }
}

fn str_of<'a>(m: &'a Map<String, Value>, key: &str) -> &'a str {
    m.get(key).and_then(Value::as_str).unwrap_or("")
}

fn non_empty_map(v: Option<&Value>) -> Option<&Map<String, Value>> {
    v.and_then(Value::as_object).filter(|m| !m.is_empty())
}

/// Apply pod-template defaults to the template at `path` (e.g. `spec.template`), if present.
fn template_at(obj: &mut Value, path: &[&str]) {
    let mut cur = obj;
    for p in path {
        match cur.get_mut(*p) {
            Some(next) if next.is_object() => cur = next,
            _ => return,
        }
    }
    if let Some(spec) = cur.get_mut("spec").filter(|s| s.is_object()) {
        pod_spec(spec);
    }
}

// ---- Pods ----

/// Defaults of a pod spec shared by Pods and pod templates (`SetDefaults_PodSpec` and the
/// container, probe, port, env and volume defaulters it reaches).
pub fn pod_spec(spec: &mut Value) {
    let host_network = spec
        .get("hostNetwork")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let Some(m) = spec.as_object_mut() else {
        return;
    };
    set_str(m, "dnsPolicy", "ClusterFirst");
    set_str(m, "restartPolicy", "Always");
    set(m, "securityContext", json!({}));
    set(m, "terminationGracePeriodSeconds", json!(30));
    set_str(m, "schedulerName", "default-scheduler");
    for field in ["containers", "initContainers", "ephemeralContainers"] {
        for c in array_mut(spec, field) {
            container(c, host_network);
        }
    }
    for v in array_mut(spec, "volumes") {
        volume(v);
    }
}

/// The imagePullPolicy upstream picks: `Always` for `:latest` or an untagged image without a
/// digest, `IfNotPresent` otherwise.
pub fn image_pull_policy(image: &str) -> &'static str {
    let (name, digest) = match image.split_once('@') {
        Some((n, _)) => (n, true),
        None => (image, false),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    let tag = last.rsplit_once(':').map(|(_, t)| t);
    match tag {
        Some("latest") => "Always",
        None if !digest => "Always",
        _ => "IfNotPresent",
    }
}

fn container(c: &mut Value, host_network: bool) {
    let Some(m) = c.as_object_mut() else { return };
    let policy = image_pull_policy(str_of(m, "image"));
    set_str(m, "imagePullPolicy", policy);
    set_str(m, "terminationMessagePath", "/dev/termination-log");
    set_str(m, "terminationMessagePolicy", "File");
    set(m, "resources", json!({}));
    for p in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(probe) = existing_mut(m, p) {
            set(probe, "timeoutSeconds", json!(1));
            set(probe, "periodSeconds", json!(10));
            set(probe, "successThreshold", json!(1));
            set(probe, "failureThreshold", json!(3));
            http_get(probe);
        }
    }
    if let Some(lc) = existing_mut(m, "lifecycle") {
        for h in ["postStart", "preStop"] {
            if let Some(handler) = existing_mut(lc, h) {
                http_get(handler);
            }
        }
    }
    for port in array_mut(c, "ports") {
        if let Some(p) = port.as_object_mut() {
            set_str(p, "protocol", "TCP");
            if host_network
                && p.get("hostPort").and_then(Value::as_i64).unwrap_or(0) == 0
                && let Some(cp) = p.get("containerPort").cloned()
            {
                p.insert("hostPort".into(), cp);
            }
        }
    }
    for env in array_mut(c, "env") {
        if let Some(fr) = env
            .pointer_mut("/valueFrom/fieldRef")
            .and_then(Value::as_object_mut)
        {
            set_str(fr, "apiVersion", "v1");
        }
    }
}

fn http_get(handler: &mut Map<String, Value>) {
    if let Some(h) = existing_mut(handler, "httpGet") {
        set_str(h, "path", "/");
        set_str(h, "scheme", "HTTP");
    }
}

const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

/// The volume source keys upstream knows (`VolumeSource` fields).
pub fn volume_sources() -> &'static [&'static str] {
    VOLUME_SOURCES
}

fn field_ref_items(m: &mut Map<String, Value>) {
    if let Some(Value::Array(items)) = m.get_mut("items") {
        for item in items {
            if let Some(fr) = item.get_mut("fieldRef").and_then(Value::as_object_mut) {
                set_str(fr, "apiVersion", "v1");
            }
        }
    }
}

fn volume(v: &mut Value) {
    let Some(m) = v.as_object_mut() else { return };
    if !VOLUME_SOURCES.iter().any(|s| !is_unset(m.get(*s))) {
        m.insert("emptyDir".into(), json!({}));
    }
    for src in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(s) = existing_mut(m, src) {
            set(s, "defaultMode", json!(420));
        }
    }
    if let Some(d) = existing_mut(m, "downwardAPI") {
        field_ref_items(d);
    }
    if let Some(Value::Array(sources)) = m.get_mut("projected").and_then(|p| p.get_mut("sources")) {
        for s in sources.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(d) = existing_mut(s, "downwardAPI") {
                field_ref_items(d);
            }
            if let Some(t) = existing_mut(s, "serviceAccountToken") {
                set(t, "expirationSeconds", json!(3600));
            }
        }
    }
    if let Some(h) = existing_mut(m, "hostPath") {
        set(h, "type", json!(""));
    }
}

const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";

fn pod(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    // SetDefaults_Pod: requests default to limits (pods only, not templates).
    for field in ["containers", "initContainers"] {
        for c in array_mut(spec, field) {
            if let Some(res) = c.get_mut("resources").and_then(Value::as_object_mut)
                && let Some(limits) = res.get("limits").and_then(Value::as_object).cloned()
                && let Some(requests) = obj_mut(res, "requests")
            {
                for (k, v) in limits {
                    requests.entry(k).or_insert(v);
                }
            }
        }
    }
    pod_spec(spec);
    let Some(m) = spec.as_object_mut() else {
        return;
    };
    set(m, "enableServiceLinks", json!(true));
    // ServiceAccount admission (and v1 conversion of the deprecated serviceAccount field).
    let sa = match (str_of(m, "serviceAccountName"), str_of(m, "serviceAccount")) {
        ("", "") => "default".to_string(),
        ("", old) => old.to_string(),
        (name, _) => name.to_string(),
    };
    m.insert("serviceAccountName".into(), json!(sa));
    m.insert("serviceAccount".into(), json!(sa));
    // Priority admission: built-in classes; no class means priority 0.
    let priority = match str_of(m, "priorityClassName") {
        "" => Some(0),
        "system-cluster-critical" => Some(2_000_000_000),
        "system-node-critical" => Some(2_000_001_000),
        _ => None,
    };
    if let Some(p) = priority {
        set(m, "priority", json!(p));
        set_str(m, "preemptionPolicy", "PreemptLowerPriority");
    }
    // DefaultTolerationSeconds admission.
    set(m, "tolerations", json!([]));
    if let Some(Value::Array(tols)) = m.get_mut("tolerations") {
        let tolerates = |taint: &str| {
            tols.iter().any(|t| {
                let key = t.get("key").and_then(Value::as_str).unwrap_or("");
                let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
                (key == taint || key.is_empty()) && (effect == "NoExecute" || effect.is_empty())
            })
        };
        let missing: Vec<&str> = [NOT_READY_TAINT, UNREACHABLE_TAINT]
            .into_iter()
            .filter(|t| !tolerates(t))
            .collect();
        for taint in missing {
            tols.push(json!({"key": taint, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
        }
    }
}

// ---- Workloads ----

fn replication_controller(obj: &mut Value) {
    let labels = non_empty_map(obj.pointer("/spec/template/metadata/labels")).cloned();
    if let Some(labels) = labels {
        if non_empty_map(obj.pointer("/spec/selector")).is_none() {
            with_spec(obj, |s| {
                s.insert("selector".into(), Value::Object(labels.clone()));
            });
        }
        if non_empty_map(obj.pointer("/metadata/labels")).is_none()
            && let Some(meta) = obj.as_object_mut().and_then(|m| obj_mut(m, "metadata"))
        {
            meta.insert("labels".into(), Value::Object(labels));
        }
    }
    with_spec(obj, |s| set(s, "replicas", json!(1)));
    template_at(obj, &["spec", "template"]);
}

fn deployment(obj: &mut Value) {
    with_spec(obj, |s| {
        set(s, "replicas", json!(1));
        if let Some(strategy) = obj_mut(s, "strategy") {
            set_str(strategy, "type", "RollingUpdate");
            if str_of(strategy, "type") == "RollingUpdate"
                && let Some(ru) = obj_mut(strategy, "rollingUpdate")
            {
                set(ru, "maxUnavailable", json!("25%"));
                set(ru, "maxSurge", json!("25%"));
            }
        }
        set(s, "revisionHistoryLimit", json!(10));
        set(s, "progressDeadlineSeconds", json!(600));
    });
    template_at(obj, &["spec", "template"]);
}

fn stateful_set(obj: &mut Value) {
    with_spec(obj, |s| {
        set_str(s, "podManagementPolicy", "OrderedReady");
        if let Some(us) = obj_mut(s, "updateStrategy") {
            if str_of(us, "type").is_empty() {
                us.insert("type".into(), json!("RollingUpdate"));
                set(us, "rollingUpdate", json!({}));
            }
            if str_of(us, "type") == "RollingUpdate"
                && let Some(ru) = existing_mut(us, "rollingUpdate")
            {
                set(ru, "partition", json!(0));
            }
        }
        if let Some(p) = obj_mut(s, "persistentVolumeClaimRetentionPolicy") {
            set_str(p, "whenDeleted", "Retain");
            set_str(p, "whenScaled", "Retain");
        }
        set(s, "replicas", json!(1));
        set(s, "revisionHistoryLimit", json!(10));
    });
    for t in obj
        .pointer_mut("/spec/volumeClaimTemplates")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(spec) = t.get_mut("spec").and_then(Value::as_object_mut) {
            set_str(spec, "volumeMode", "Filesystem");
        }
        if let Some(m) = t.as_object_mut()
            && let Some(status) = obj_mut(m, "status")
        {
            set_str(status, "phase", "Pending");
        }
    }
    template_at(obj, &["spec", "template"]);
}

fn daemon_set(obj: &mut Value) {
    with_spec(obj, |s| {
        if let Some(us) = obj_mut(s, "updateStrategy") {
            set_str(us, "type", "RollingUpdate");
            if str_of(us, "type") == "RollingUpdate"
                && let Some(ru) = obj_mut(us, "rollingUpdate")
            {
                set(ru, "maxUnavailable", json!(1));
                set(ru, "maxSurge", json!(0));
            }
        }
        set(s, "revisionHistoryLimit", json!(10));
    });
    template_at(obj, &["spec", "template"]);
}

/// Label keys the Job controller puts on its pods and selects by.
const JOB_NAME_LABELS: [&str; 2] = ["batch.kubernetes.io/job-name", "job-name"];
const CONTROLLER_UID_LABELS: [&str; 2] = ["batch.kubernetes.io/controller-uid", "controller-uid"];

fn job(obj: &mut Value) {
    with_spec(obj, |s| {
        if is_unset(s.get("completions")) && is_unset(s.get("parallelism")) {
            s.insert("completions".into(), json!(1));
        }
        set(s, "parallelism", json!(1));
        let backoff = if is_unset(s.get("backoffLimitPerIndex")) {
            6
        } else {
            i64::from(i32::MAX)
        };
        set(s, "backoffLimit", json!(backoff));
        set_str(s, "completionMode", "NonIndexed");
        set(s, "suspend", json!(false));
        let replacement = if is_unset(s.get("podFailurePolicy")) {
            "TerminatingOrFailed"
        } else {
            "Failed"
        };
        set_str(s, "podReplacementPolicy", replacement);
        set(s, "manualSelector", json!(false));
    });
    let template_labels = non_empty_map(obj.pointer("/spec/template/metadata/labels")).cloned();
    if let Some(labels) = template_labels
        && non_empty_map(obj.pointer("/metadata/labels")).is_none()
        && let Some(meta) = obj.as_object_mut().and_then(|m| obj_mut(m, "metadata"))
    {
        meta.insert("labels".into(), Value::Object(labels));
    }
    generate_job_selector(obj);
    template_at(obj, &["spec", "template"]);
}

/// The Job strategy's generateSelector: unless `manualSelector` is true, select the pods by
/// `batch.kubernetes.io/controller-uid` and label the template with the job name and uid.
/// Needs `metadata.uid`; does nothing without it.
fn generate_job_selector(obj: &mut Value) {
    if obj.pointer("/spec/manualSelector").and_then(Value::as_bool) == Some(true) {
        return;
    }
    let uid = obj
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if uid.is_empty() {
        return;
    }
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(labels) = obj_mut(spec, "template")
        .and_then(|t| obj_mut(t, "metadata"))
        .and_then(|m| obj_mut(m, "labels"))
    {
        for k in JOB_NAME_LABELS {
            labels.entry(k).or_insert_with(|| json!(name));
        }
        for k in CONTROLLER_UID_LABELS {
            labels.entry(k).or_insert_with(|| json!(uid));
        }
    }
    if let Some(ml) = obj_mut(spec, "selector").and_then(|s| obj_mut(s, "matchLabels")) {
        ml.entry(CONTROLLER_UID_LABELS[0])
            .or_insert_with(|| json!(uid));
    }
}

fn cron_job(obj: &mut Value) {
    with_spec(obj, |s| {
        set_str(s, "concurrencyPolicy", "Allow");
        set(s, "suspend", json!(false));
        set(s, "successfulJobsHistoryLimit", json!(3));
        set(s, "failedJobsHistoryLimit", json!(1));
    });
    template_at(obj, &["spec", "jobTemplate", "spec", "template"]);
}

// ---- Services and networking ----

fn service(obj: &mut Value) {
    with_spec(obj, |s| {
        set_str(s, "sessionAffinity", "None");
        match str_of(s, "sessionAffinity") {
            "None" => {
                s.remove("sessionAffinityConfig");
            }
            "ClientIP" => {
                if let Some(c) =
                    obj_mut(s, "sessionAffinityConfig").and_then(|c| obj_mut(c, "clientIP"))
                {
                    set(c, "timeoutSeconds", json!(10800));
                }
            }
            _ => {}
        }
        set_str(s, "type", "ClusterIP");
        if let Some(Value::Array(ports)) = s.get_mut("ports") {
            for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                set_str(p, "protocol", "TCP");
                let target_unset = match p.get("targetPort") {
                    None | Some(Value::Null) => true,
                    Some(Value::Number(n)) => n.as_i64() == Some(0),
                    Some(Value::String(t)) => t.is_empty(),
                    _ => false,
                };
                if target_unset && let Some(port) = p.get("port").cloned() {
                    p.insert("targetPort".into(), port);
                }
            }
        }
        let ty = str_of(s, "type").to_string();
        let has_external_ips = s
            .get("externalIPs")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        if ty == "NodePort" || ty == "LoadBalancer" || (ty == "ClusterIP" && has_external_ips) {
            set_str(s, "externalTrafficPolicy", "Cluster");
        }
        if matches!(ty.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
            set_str(s, "internalTrafficPolicy", "Cluster");
        }
        if ty == "LoadBalancer" {
            set(s, "allocateLoadBalancerNodePorts", json!(true));
        }
        // v1 conversion keeps clusterIP and clusterIPs[0] in step.
        let ip = str_of(s, "clusterIP").to_string();
        let first = s
            .get("clusterIPs")
            .and_then(|a| a.get(0))
            .and_then(Value::as_str)
            .map(str::to_string);
        match (ip.is_empty(), first) {
            (false, None) => {
                s.insert("clusterIPs".into(), json!([ip]));
            }
            (true, Some(first)) => {
                s.insert("clusterIP".into(), json!(first));
            }
            _ => {}
        }
        // The Service REST strategy's IP family defaults (single-stack IPv4 cluster).
        if ty != "ExternalName" {
            let headless = str_of(s, "clusterIP") == "None";
            let selectorless = non_empty_map(s.get("selector")).is_none();
            let policy = if headless && selectorless {
                "RequireDualStack"
            } else {
                "SingleStack"
            };
            set_str(s, "ipFamilyPolicy", policy);
            if s.get("ipFamilies")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
            {
                s.insert("ipFamilies".into(), json!(["IPv4"]));
            }
        }
    });
}

fn network_policy(obj: &mut Value) {
    with_spec(obj, |s| {
        for dir in ["ingress", "egress"] {
            if let Some(Value::Array(rules)) = s.get_mut(dir) {
                for rule in rules.iter_mut() {
                    for port in array_mut(rule, "ports") {
                        if let Some(p) = port.as_object_mut() {
                            set_str(p, "protocol", "TCP");
                        }
                    }
                }
            }
        }
        if s.get("policyTypes")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
        {
            let egress = s
                .get("egress")
                .and_then(Value::as_array)
                .is_some_and(|e| !e.is_empty());
            let types = if egress {
                json!(["Ingress", "Egress"])
            } else {
                json!(["Ingress"])
            };
            s.insert("policyTypes".into(), types);
        }
    });
}

fn hpa(obj: &mut Value) {
    let v2 = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .is_some_and(|v| v.ends_with("/v2"));
    with_spec(obj, |s| {
        set(s, "minReplicas", json!(1));
        if v2
            && s.get("metrics")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
        {
            s.insert(
                "metrics".into(),
                json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]),
            );
        }
    });
}

// ---- Core cluster objects ----

fn namespace(obj: &mut Value) {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(m) = obj.as_object_mut() else { return };
    if !name.is_empty()
        && let Some(labels) = obj_mut(m, "metadata").and_then(|meta| obj_mut(meta, "labels"))
    {
        labels.insert("kubernetes.io/metadata.name".into(), json!(name));
    }
    if let Some(spec) = obj_mut(m, "spec") {
        set(spec, "finalizers", json!(["kubernetes"]));
    }
    if let Some(status) = obj_mut(m, "status") {
        set_str(status, "phase", "Active");
    }
}

fn node(obj: &mut Value) {
    if let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut)
        && let Some(capacity) = status.get("capacity").cloned()
    {
        set(status, "allocatable", capacity);
    }
}

fn secret(obj: &mut Value) {
    let Some(m) = obj.as_object_mut() else { return };
    set_str(m, "type", "Opaque");
    // v1 conversion: stringData is merged into data (base64) and never stored.
    if let Some(Value::Object(string_data)) = m.remove("stringData")
        && let Some(data) = obj_mut(m, "data")
    {
        for (k, v) in string_data {
            if let Some(s) = v.as_str() {
                data.insert(k, json!(base64_encode(s.as_bytes())));
            }
        }
    }
}

/// Standard base64 with padding (the encoding of Secret `data` values).
pub fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
