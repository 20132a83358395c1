//! Generates `crates/api/src/openapi/definitions.json.gz`: the OpenAPI definitions (with
//! descriptions) of every type reachable from the kinds k3rs serves, taken from k8s-openapi's
//! schemars output for Kubernetes 1.33.
//!
//! Run from the repository root: `cargo run --manifest-path tools/gen-openapi/Cargo.toml`.
//! The artifact is `{"kinds": [{"group","version","kind","definition"}], "definitions": {name: schema}}`
//! with Swagger-2.0-style references (`#/definitions/<name>`) and description siblings kept
//! beside `$ref`; k3rs-api renders v2 and v3 forms from it at runtime.

use std::io::Write;

use k8s_openapi::Resource;
use k8s_openapi::api;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use schemars::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

struct Gen {
    generator: SchemaGenerator,
    kinds: Vec<Value>,
    /// (item definition, list definition, kind) of each served kind.
    lists: Vec<(String, String, String)>,
}

impl Gen {
    /// A served kind and its list.
    fn kind<T: Resource + schemars::JsonSchema>(&mut self) {
        let name = T::schema_name().into_owned();
        let list = format!("{name}List");
        self.generator.subschema_for::<T>();
        self.generator.subschema_for::<meta::ListMeta>();
        self.lists.push((name.clone(), list.clone(), T::KIND.to_string()));
        self.kinds.push(json!({"group": T::GROUP, "version": T::VERSION, "kind": T::KIND, "definition": name}));
        self.kinds.push(json!({"group": T::GROUP, "version": T::VERSION, "kind": format!("{}List", T::KIND), "definition": list}));
    }
    /// A type used by operations (request or response bodies) but not served as a kind.
    fn other<T: schemars::JsonSchema>(&mut self) {
        self.generator.subschema_for::<T>();
    }
}

macro_rules! kinds {
    ($g:expr; $($t:ty),* $(,)?) => { $( $g.kind::<$t>(); )* };
}

fn main() {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/definitions".into();
    settings.meta_schema = None;
    let mut g = Gen { generator: settings.into_generator(), kinds: Vec::new(), lists: Vec::new() };
    kinds!(g;
        api::core::v1::ConfigMap,
        api::core::v1::Endpoints,
        api::core::v1::Event,
        api::core::v1::LimitRange,
        api::core::v1::Namespace,
        api::core::v1::Node,
        api::core::v1::PersistentVolumeClaim,
        api::core::v1::PersistentVolume,
        api::core::v1::Pod,
        api::core::v1::PodTemplate,
        api::core::v1::ReplicationController,
        api::core::v1::ResourceQuota,
        api::core::v1::Secret,
        api::core::v1::ServiceAccount,
        api::core::v1::Service,
        api::apps::v1::ControllerRevision,
        api::apps::v1::DaemonSet,
        api::apps::v1::Deployment,
        api::apps::v1::ReplicaSet,
        api::apps::v1::StatefulSet,
        api::events::v1::Event,
        api::authentication::v1::SelfSubjectReview,
        api::authentication::v1::TokenReview,
        api::authorization::v1::LocalSubjectAccessReview,
        api::authorization::v1::SelfSubjectAccessReview,
        api::authorization::v1::SelfSubjectRulesReview,
        api::authorization::v1::SubjectAccessReview,
        api::autoscaling::v2::HorizontalPodAutoscaler,
        api::autoscaling::v1::HorizontalPodAutoscaler,
        api::batch::v1::CronJob,
        api::batch::v1::Job,
        api::certificates::v1::CertificateSigningRequest,
        api::networking::v1::IngressClass,
        api::networking::v1::Ingress,
        api::networking::v1::NetworkPolicy,
        api::policy::v1::PodDisruptionBudget,
        api::rbac::v1::ClusterRoleBinding,
        api::rbac::v1::ClusterRole,
        api::rbac::v1::RoleBinding,
        api::rbac::v1::Role,
        api::storage::v1::CSIDriver,
        api::storage::v1::CSINode,
        api::storage::v1::StorageClass,
        api::storage::v1::VolumeAttachment,
        api::admissionregistration::v1::MutatingWebhookConfiguration,
        api::admissionregistration::v1::ValidatingAdmissionPolicy,
        api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
        api::admissionregistration::v1::ValidatingWebhookConfiguration,
        apiext::CustomResourceDefinition,
        api::scheduling::v1::PriorityClass,
        api::coordination::v1::Lease,
        api::discovery::v1::EndpointSlice,
    );
    g.other::<meta::DeleteOptions>();
    g.other::<meta::Status>();
    g.other::<meta::WatchEvent<api::core::v1::Pod>>();
    g.other::<meta::Patch>();
    g.other::<api::autoscaling::v1::Scale>();
    g.other::<api::core::v1::Binding>();

    // Every kind of the registry must be covered (and nothing the registry lacks).
    for r in k3rs_api::registry::all() {
        let found = g.kinds.iter().any(|k| k["group"] == r.group && k["version"] == r.version && k["kind"] == r.kind);
        assert!(found, "registry kind {}/{} {} has no schema", r.group, r.version, r.kind);
    }

    let mut definitions = g.generator.take_definitions(false);
    // List<T> is named `...List` by k8s-openapi already; WatchEvent<T> gets a generic name:
    // rename it to upstream's io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent.
    let watch = definitions.keys().find(|k| k.contains("WatchEvent")).cloned();
    if let Some(name) = watch {
        if let Some(mut v) = definitions.remove(&name) {
            if let Some(obj) = v.pointer_mut("/properties/object") {
                *obj = json!({"$ref": "#/definitions/io.k8s.apimachinery.pkg.runtime.RawExtension", "description": obj.get("description").cloned().unwrap_or(Value::Null)});
            }
            definitions.insert("io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent".into(), v);
        }
        g.other::<k8s_openapi::apimachinery::pkg::runtime::RawExtension>();
        definitions.extend(g.generator.take_definitions(false));
    }
    for (item, list, kind) in &g.lists {
        definitions.insert(list.clone(), list_schema(item, kind));
    }
    let mut sorted: Vec<_> = definitions.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let definitions: serde_json::Map<String, Value> = sorted.into_iter().collect();
    let doc = json!({"kinds": g.kinds, "definitions": definitions});
    let raw = serde_json::to_vec(&doc).expect("serialize");
    let out = std::env::args().nth(1).unwrap_or_else(|| "crates/api/src/openapi/definitions.json.gz".into());
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&raw).expect("compress");
    let gz = enc.finish().expect("compress");
    std::fs::write(&out, &gz).expect("write artifact");
    eprintln!("{} definitions, {} kinds, {} bytes JSON, {} bytes gzip -> {out}", doc["definitions"].as_object().map_or(0, |m| m.len()), g.kinds.len(), raw.len(), gz.len());
}

/// The schema of `<Kind>List`, as upstream's generated list types read.
fn list_schema(item: &str, kind: &str) -> Value {
    json!({
        "description": format!("{kind}List is a list of {kind} objects."),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources", "type": "string"},
            "items": {"description": format!("items is the list of {kind} objects."), "type": "array", "items": {"$ref": format!("#/definitions/{item}")}},
            "kind": {"description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds", "type": "string"},
            "metadata": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta", "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"}
        }
    })
}
