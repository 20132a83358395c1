//! Protobuf bodies built by hand (the way gogo-protobuf writes them) and the JSON we expect.

use super::*;
use serde_json::json;

/// A tiny protobuf encoder for tests.
#[derive(Default, Clone)]
struct Enc(Vec<u8>);

impl Enc {
    fn new() -> Self {
        Enc::default()
    }
    fn varint_raw(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn key(&mut self, field: u64, wt: u64) {
        self.varint_raw(field << 3 | wt);
    }
    fn varint(mut self, field: u64, v: i64) -> Self {
        self.key(field, 0);
        self.varint_raw(v as u64);
        self
    }
    fn bool(self, field: u64, v: bool) -> Self {
        self.varint(field, i64::from(v))
    }
    fn bytes(mut self, field: u64, v: &[u8]) -> Self {
        self.key(field, 2);
        self.varint_raw(v.len() as u64);
        self.0.extend_from_slice(v);
        self
    }
    fn str(self, field: u64, v: &str) -> Self {
        self.bytes(field, v.as_bytes())
    }
    fn msg(self, field: u64, m: Enc) -> Self {
        self.bytes(field, &m.0)
    }
    fn map_ss(self, field: u64, k: &str, v: &str) -> Self {
        self.msg(field, Enc::new().str(1, k).str(2, v))
    }
}

/// `k8s\0` + runtime.Unknown{typeMeta, raw, contentEncoding: "", contentType: ""} as the Go
/// serializer writes it.
fn body(api_version: &str, kind: &str, obj: Enc) -> Vec<u8> {
    let unknown = Enc::new()
        .msg(1, Enc::new().str(1, api_version).str(2, kind))
        .msg(2, obj)
        .str(3, "")
        .str(4, "");
    let mut out = MAGIC.to_vec();
    out.extend(unknown.0);
    out
}

/// meta.v1.ObjectMeta as gogo writes a freshly built one: every non-pointer scalar, zero or not,
/// and the zero creationTimestamp as an empty message.
fn object_meta(name: &str, namespace: &str) -> Enc {
    Enc::new()
        .str(1, name)
        .str(2, "")
        .str(3, namespace)
        .str(4, "")
        .str(5, "")
        .str(6, "")
        .varint(7, 0)
        .msg(8, Enc::new())
}

fn time(secs: i64, nanos: i64) -> Enc {
    Enc::new().varint(1, secs).varint(2, nanos)
}

#[test]
fn schema_parses_and_covers_the_listed_groups() {
    for name in [
        "core.v1.ConfigMap",
        "core.v1.Pod",
        "apps.v1.Deployment",
        "apps.v1.StatefulSet",
        "batch.v1.CronJob",
        "rbac.v1.ClusterRoleBinding",
        "policy.v1.Eviction",
        "policy.v1.PodDisruptionBudget",
        "scheduling.v1.PriorityClass",
        "networking.v1.Ingress",
        "autoscaling.v1.Scale",
        "autoscaling.v2.HorizontalPodAutoscaler",
        "authentication.v1.TokenRequest",
        "authentication.v1.SelfSubjectReview",
        "authorization.v1.SelfSubjectAccessReview",
        "coordination.v1.Lease",
        "discovery.v1.EndpointSlice",
        "storage.v1.StorageClass",
        "certificates.v1.CertificateSigningRequest",
        "events.v1.Event",
        "meta.v1.DeleteOptions",
        "meta.v1.Status",
        "runtime.Unknown",
    ] {
        assert!(SCHEMA.messages.contains_key(name), "{name} missing");
    }
    // every referenced message type resolves
    for (name, msg) in &SCHEMA.messages {
        for f in &msg.fields {
            let mut tys = vec![&f.ty];
            if let Ty::Map(k, v) = &f.ty {
                tys = vec![k.as_ref(), v.as_ref()];
            }
            for ty in tys {
                if let Ty::Msg(m) = ty {
                    assert!(
                        SCHEMA.messages.contains_key(m),
                        "{name}.{}: {m} unresolved",
                        f.json
                    );
                }
            }
        }
    }
}

#[test]
fn kind_mapping() {
    assert_eq!(
        message_for("v1", "ConfigMap").as_deref(),
        Some("core.v1.ConfigMap")
    );
    assert_eq!(
        message_for("apps/v1", "Deployment").as_deref(),
        Some("apps.v1.Deployment")
    );
    assert_eq!(
        message_for("v1", "DeleteOptions").as_deref(),
        Some("meta.v1.DeleteOptions")
    );
    assert_eq!(
        message_for("meta.k8s.io/v1", "DeleteOptions").as_deref(),
        Some("meta.v1.DeleteOptions")
    );
    assert_eq!(
        message_for("policy/v1", "Eviction").as_deref(),
        Some("policy.v1.Eviction")
    );
    assert_eq!(
        message_for("storage.k8s.io/v1", "CSIDriver").as_deref(),
        Some("storage.v1.CSIDriver")
    );
    assert_eq!(message_for("example.com/v1", "Widget"), None);
    assert_eq!(message_for("v1", "ObjectMetaNope"), None);
    assert!(is_protobuf_content_type(
        "application/vnd.kubernetes.protobuf"
    ));
    assert!(is_protobuf_content_type(
        "application/vnd.kubernetes.protobuf; charset=utf-8"
    ));
    assert!(!is_protobuf_content_type("application/json"));
}

#[test]
fn configmap_with_data_and_labels() {
    let cm = Enc::new()
        .msg(
            1,
            object_meta("cfg", "default")
                .map_ss(11, "app", "web")
                .map_ss(11, "tier", "fe"),
        )
        .map_ss(2, "a", "1")
        .map_ss(2, "b", "");
    let v = decode_object(&body("v1", "ConfigMap", cm)).unwrap();
    assert_eq!(
        v,
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "cfg",
                "namespace": "default",
                "creationTimestamp": null,
                "labels": {"app": "web", "tier": "fe"}
            },
            "data": {"a": "1", "b": ""}
        })
    );
}

#[test]
fn secret_bytes_are_base64() {
    let secret = Enc::new()
        .msg(1, object_meta("s", "default"))
        .msg(2, Enc::new().str(1, "password").bytes(2, b"hunter2"))
        .msg(2, Enc::new().str(1, "bin").bytes(2, &[0, 255, 1]))
        .msg(2, Enc::new().str(1, "empty"))
        .str(3, "Opaque")
        .bool(5, false); // Immutable *bool explicitly false
    let v = decode_object(&body("v1", "Secret", secret)).unwrap();
    assert_eq!(
        v["data"],
        json!({"password": "aHVudGVyMg==", "bin": "AP8B", "empty": ""})
    );
    assert_eq!(v["type"], "Opaque");
    assert_eq!(v["immutable"], false);
}

/// `kubectl create deployment web --image=nginx --replicas=0`, encoded as gogo would encode the
/// Go object kubectl builds (every non-pointer field written, zero or not).
#[test]
fn deployment_from_kubectl_create() {
    let labels = |e: Enc| e.map_ss(11, "app", "web");
    let container = Enc::new()
        .str(1, "nginx")
        .str(2, "nginx")
        .str(5, "") // workingDir
        .msg(8, Enc::new()) // resources {}
        .str(13, "") // terminationMessagePath
        .str(14, "") // imagePullPolicy
        .bool(16, false) // stdin
        .bool(17, false) // stdinOnce
        .bool(18, false) // tty
        .str(20, ""); // terminationMessagePolicy
    let pod_spec = Enc::new()
        .msg(2, container)
        .str(3, "") // restartPolicy
        .str(6, "") // dnsPolicy
        .str(8, "") // serviceAccountName
        .str(9, "") // nodeName
        .bool(11, false) // hostNetwork
        .bool(12, false) // hostPID
        .bool(13, false) // hostIPC
        .str(16, "") // hostname
        .str(17, "") // subdomain
        .str(19, "") // schedulerName
        .str(24, ""); // priorityClassName
    let template = Enc::new()
        .msg(1, labels(object_meta("", "")))
        .msg(2, pod_spec);
    let spec = Enc::new()
        .varint(1, 0) // replicas: *int32 set to 0
        .msg(2, Enc::new().map_ss(1, "app", "web")) // selector.matchLabels
        .msg(3, template)
        .msg(4, Enc::new().str(1, "")) // strategy {type: ""}
        .varint(5, 0) // minReadySeconds
        .bool(7, false); // paused
    let status = Enc::new()
        .varint(1, 0)
        .varint(2, 0)
        .varint(3, 0)
        .varint(4, 0)
        .varint(5, 0)
        .varint(7, 0);
    let dep = Enc::new()
        .msg(1, labels(object_meta("web", "")))
        .msg(2, spec)
        .msg(3, status);
    let v = decode_object(&body("apps/v1", "Deployment", dep)).unwrap();
    assert_eq!(
        v,
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "creationTimestamp": null, "labels": {"app": "web"}},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
                    "spec": {
                        "containers": [{"name": "nginx", "image": "nginx", "resources": {}}]
                    }
                },
                "strategy": {}
            },
            "status": {}
        })
    );
}

#[test]
fn service_with_int_and_string_target_ports() {
    let int_port = Enc::new()
        .str(1, "http")
        .str(2, "TCP")
        .varint(3, 80)
        .msg(4, Enc::new().varint(1, 0).varint(2, 8080).str(3, ""))
        .varint(5, 0);
    let named_port = Enc::new()
        .str(1, "metrics")
        .str(2, "TCP")
        .varint(3, 9090)
        .msg(4, Enc::new().varint(1, 1).varint(2, 0).str(3, "metrics"))
        .varint(5, 0);
    let zero_port = Enc::new()
        .str(1, "")
        .str(2, "UDP")
        .varint(3, 0)
        .msg(4, Enc::new())
        .varint(5, 0);
    let spec = Enc::new()
        .msg(1, int_port)
        .msg(1, named_port)
        .msg(1, zero_port)
        .map_ss(2, "app", "web")
        .str(3, "") // clusterIP
        .str(4, "ClusterIP")
        .str(7, "") // sessionAffinity
        .bool(13, false); // publishNotReadyAddresses
    let svc = Enc::new()
        .msg(1, object_meta("web", ""))
        .msg(2, spec)
        .msg(3, Enc::new().msg(1, Enc::new()));
    let v = decode_object(&body("v1", "Service", svc)).unwrap();
    assert_eq!(
        v["spec"],
        json!({
            "ports": [
                {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": "metrics"},
                {"protocol": "UDP", "port": 0, "targetPort": 0}
            ],
            "selector": {"app": "web"},
            "type": "ClusterIP"
        })
    );
    assert_eq!(v["status"], json!({"loadBalancer": {}}));
}

#[test]
fn namespace() {
    let ns = Enc::new()
        .msg(1, object_meta("team-a", ""))
        .msg(2, Enc::new())
        .msg(3, Enc::new().str(1, ""));
    let v = decode_object(&body("v1", "Namespace", ns)).unwrap();
    assert_eq!(
        v,
        json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "team-a", "creationTimestamp": null},
            "spec": {},
            "status": {}
        })
    );
}

#[test]
fn time_micro_time_and_duration() {
    // 2026-01-02T03:04:05Z = 1767323045
    let meta = Enc::new()
        .str(1, "x")
        .msg(8, time(1_767_323_045, 0))
        .msg(9, time(1_767_323_045, 999));
    let cond = Enc::new()
        .str(1, "Ready")
        .str(2, "True")
        .msg(3, time(0, 0)) // lastProbeTime at the epoch (non-empty message)
        .msg(4, Enc::new()); // zero lastTransitionTime
    let pod = Enc::new().msg(1, meta).msg(3, Enc::new().msg(2, cond));
    let v = decode_object(&body("v1", "Pod", pod)).unwrap();
    assert_eq!(v["metadata"]["creationTimestamp"], "2026-01-02T03:04:05Z");
    assert_eq!(v["metadata"]["deletionTimestamp"], "2026-01-02T03:04:05Z");
    assert_eq!(
        v["status"]["conditions"],
        json!([{"type": "Ready", "status": "True", "lastProbeTime": "1970-01-01T00:00:00Z", "lastTransitionTime": null}])
    );

    // coordination.v1.Lease: acquireTime is a MicroTime
    let spec = Enc::new()
        .str(1, "holder")
        .varint(2, 15)
        .msg(3, time(1_767_323_045, 123_456_789))
        .varint(5, 0); // leaseTransitions *int32 = 0
    let lease = Enc::new()
        .msg(1, object_meta("l", "kube-system"))
        .msg(2, spec);
    let v = decode_object(&body("coordination.k8s.io/v1", "Lease", lease)).unwrap();
    assert_eq!(
        v["spec"],
        json!({
            "holderIdentity": "holder",
            "leaseDurationSeconds": 15,
            "acquireTime": "2026-01-02T03:04:05.123456Z",
            "leaseTransitions": 0
        })
    );

    assert_eq!(format_duration(0), "0s");
    assert_eq!(format_duration(30_000_000_000), "30s");
    assert_eq!(format_duration(3_600_000_000_000), "1h0m0s");
    assert_eq!(format_duration(90_500_000_000), "1m30.5s");
    assert_eq!(format_duration(250_000_000), "250ms");
    assert_eq!(format_duration(1_500), "1.5µs");
    assert_eq!(format_duration(-2_000_000_000), "-2s");
    assert_eq!(
        format_time(-62_135_596_800, 0, false),
        "0001-01-01T00:00:00Z"
    );
    assert_eq!(format_time(951_782_400, 0, false), "2000-02-29T00:00:00Z");
}

#[test]
fn eviction_with_zero_grace_period() {
    let opts = Enc::new()
        .varint(1, 0)
        .msg(2, Enc::new().str(1, "uid-1"))
        .str(5, "All");
    let ev = Enc::new()
        .msg(1, object_meta("pod-1", "default"))
        .msg(2, opts);
    let v = decode_object(&body("policy/v1", "Eviction", ev)).unwrap();
    assert_eq!(
        v["deleteOptions"],
        json!({"gracePeriodSeconds": 0, "preconditions": {"uid": "uid-1"}, "dryRun": ["All"]})
    );
}

#[test]
fn inline_embedded_structs_packed_repeated_and_special_types() {
    // Volume{name, volumeSource(inline){configMap{localObjectReference(inline){name}, defaultMode}}}
    let cm_source = Enc::new().msg(1, Enc::new().str(1, "cfg")).varint(3, 420);
    let volume = Enc::new()
        .str(1, "config")
        .msg(2, Enc::new().msg(19, cm_source));
    // Probe{handler(inline){exec{command}}, initialDelaySeconds 0 (dropped)}
    let probe = Enc::new()
        .msg(1, Enc::new().msg(1, Enc::new().str(1, "true")))
        .varint(2, 0);
    let container = Enc::new()
        .str(1, "c")
        .msg(10, probe)
        .msg(
            8,
            Enc::new().msg(
                2,
                Enc::new().str(1, "cpu").msg(2, Enc::new().str(1, "100m")),
            ),
        )
        .msg(15, Enc::new().varint(4, 0).bool(6, false)); // runAsUser 0, readOnlyRootFilesystem false
    let mut spec = Enc::new().msg(1, volume).msg(2, container);
    // supplementalGroups in securityContext: packed int64 [1000, 2000]
    let mut packed = Enc::new();
    packed.varint_raw(1000);
    packed.varint_raw(2000);
    spec = spec.msg(14, Enc::new().bytes(4, &packed.0).varint(5, 3000));
    let pod = Enc::new().msg(1, object_meta("p", "default")).msg(2, spec);
    let v = decode_object(&body("v1", "Pod", pod)).unwrap();
    assert_eq!(
        v["spec"],
        json!({
            "volumes": [{"name": "config", "configMap": {"name": "cfg", "defaultMode": 420}}],
            "containers": [{
                "name": "c",
                "livenessProbe": {"exec": {"command": ["true"]}},
                "resources": {"requests": {"cpu": "100m"}},
                "securityContext": {"runAsUser": 0, "readOnlyRootFilesystem": false}
            }],
            "securityContext": {"supplementalGroups": [1000, 2000], "fsGroup": 3000}
        })
    );

    // ControllerRevision.data is a RawExtension holding JSON.
    let cr = Enc::new()
        .msg(1, object_meta("rev", "default"))
        .msg(2, Enc::new().bytes(1, br#"{"spec":{"x":1}}"#))
        .varint(3, 2);
    let v = decode_object(&body("apps/v1", "ControllerRevision", cr)).unwrap();
    assert_eq!(v["data"], json!({"spec": {"x": 1}}));
    assert_eq!(v["revision"], 2);

    // TokenReview status.user.extra is map<string, ExtraValue> -> {key: [..]}
    let user = Enc::new().str(1, "alice").str(3, "dev").msg(
        4,
        Enc::new()
            .str(1, "scopes")
            .msg(2, Enc::new().str(1, "a").str(1, "b")),
    );
    let tr = Enc::new()
        .msg(1, object_meta("", ""))
        .msg(2, Enc::new().str(1, "tok"))
        .msg(3, Enc::new().bool(1, true).msg(2, user));
    let v = decode_object(&body("authentication.k8s.io/v1", "TokenReview", tr)).unwrap();
    assert_eq!(
        v["status"],
        json!({"authenticated": true, "user": {"username": "alice", "groups": ["dev"], "extra": {"scopes": ["a", "b"]}}})
    );
}

#[test]
fn token_request_and_priority_class() {
    let tr = Enc::new()
        .msg(1, object_meta("sa", "default"))
        .msg(2, Enc::new().varint(4, 3600));
    let v = decode_object(&body("authentication.k8s.io/v1", "TokenRequest", tr)).unwrap();
    assert_eq!(v["spec"], json!({"expirationSeconds": 3600}));

    let pc = Enc::new()
        .msg(1, object_meta("low", ""))
        .varint(2, 0)
        .bool(3, false)
        .str(4, "");
    let v = decode_object(&body("scheduling.k8s.io/v1", "PriorityClass", pc)).unwrap();
    assert_eq!(v["value"], 0);
    assert!(v.get("globalDefault").is_none());
    assert!(v.get("description").is_none());
}

#[test]
fn unknown_fields_are_skipped() {
    let mut cm = Enc::new()
        .msg(1, object_meta("cfg", "default"))
        .map_ss(2, "k", "v");
    cm = cm.varint(99, 7).str(100, "future").bytes(101, b"\x01\x02");
    cm.key(102, 5);
    cm.0.extend_from_slice(&[1, 2, 3, 4]);
    cm.key(103, 1);
    cm.0.extend_from_slice(&[0; 8]);
    let v = decode_object(&body("v1", "ConfigMap", cm)).unwrap();
    assert_eq!(v["data"], json!({"k": "v"}));
}

#[test]
fn errors() {
    assert_eq!(
        decode_object(b"{\"kind\":\"ConfigMap\"}"),
        Err(ProtobufError::MissingMagic)
    );

    let err = decode_object(&body("example.com/v1", "Widget", Enc::new())).unwrap_err();
    assert!(matches!(err, ProtobufError::UnknownKind { .. }), "{err}");
    assert!(err.to_string().contains("Widget"));

    let mut full = body(
        "v1",
        "ConfigMap",
        Enc::new().msg(1, object_meta("cfg", "default")),
    );
    full.truncate(full.len() - 3);
    let err = decode_object(&full).unwrap_err();
    assert!(matches!(err, ProtobufError::Truncated(_)), "{err}");

    // wire type mismatch: metadata (message) sent as a varint
    let err = decode_object(&body("v1", "ConfigMap", Enc::new().varint(1, 5))).unwrap_err();
    assert!(matches!(err, ProtobufError::Invalid { .. }), "{err}");

    let mut gz = MAGIC.to_vec();
    gz.extend(
        Enc::new()
            .msg(1, Enc::new().str(1, "v1").str(2, "ConfigMap"))
            .str(3, "gzip")
            .0,
    );
    assert_eq!(
        decode_object(&gz),
        Err(ProtobufError::UnsupportedEncoding("gzip".into()))
    );

    // RawExtensions nesting protobuf objects without end must not overflow the stack
    let mut inner = body("apps/v1", "ControllerRevision", Enc::new());
    for _ in 0..100 {
        let cr = Enc::new().msg(2, Enc::new().bytes(1, &inner));
        inner = body("apps/v1", "ControllerRevision", cr);
    }
    assert_eq!(decode_object(&inner), Err(ProtobufError::TooDeep));
}

#[test]
fn base64_matches_std_alphabet() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
}
