use axum::http::{HeaderMap, HeaderValue, header};
use k3rs_api::registry;
use serde_json::{Value, json};

use super::*;

fn accept(v: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::ACCEPT, HeaderValue::from_str(v).expect("header"));
    h
}

const KUBECTL: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

#[test]
fn negotiates_kubectl_table_accept() {
    let c = negotiate(&accept(KUBECTL), Some("limit=500"))
        .expect("ok")
        .expect("conversion");
    assert_eq!(
        c,
        Conversion {
            kind: Kind::Table,
            version: "v1",
            include_object: IncludeObject::Metadata,
            printer_columns: None,
        }
    );
    let c = negotiate(
        &accept("application/json;as=Table;v=v1beta1;g=meta.k8s.io"),
        Some("includeObject=Object"),
    )
    .expect("ok")
    .expect("conversion");
    assert_eq!(
        (c.version, c.include_object),
        ("v1beta1", IncludeObject::Object)
    );
}

#[test]
fn plain_or_missing_accept_is_the_object() {
    assert_eq!(negotiate(&HeaderMap::new(), None).expect("ok"), None);
    assert_eq!(
        negotiate(&accept("application/json"), None).expect("ok"),
        None
    );
    assert_eq!(negotiate(&accept("*/*"), None).expect("ok"), None);
    // Quality puts the plain clause first.
    assert_eq!(
        negotiate(
            &accept("application/json;as=Table;v=v1;g=meta.k8s.io;q=0.5,application/json"),
            None
        )
        .expect("ok"),
        None
    );
}

#[test]
fn unknown_conversions_fall_back_or_are_not_acceptable() {
    // Protobuf tables are not served; the JSON fallback answers.
    let c = negotiate(
        &accept("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json"),
        None,
    )
    .expect("ok");
    assert_eq!(c, None);
    let err =
        negotiate(&accept("application/json;as=Foo;v=v1;g=meta.k8s.io"), None).expect_err("406");
    assert_eq!(err.code(), 406);
    let err = negotiate(
        &accept("application/json;as=Table;v=v2;g=meta.k8s.io"),
        None,
    )
    .expect_err("406");
    assert_eq!(err.code(), 406);
}

#[test]
fn partial_object_metadata_kinds() {
    let c = negotiate(
        &accept(
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json",
        ),
        None,
    )
    .expect("ok")
    .expect("conversion");
    assert_eq!(c.kind, Kind::PartialObjectMetadataList);
    let c = negotiate(
        &accept("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1beta1"),
        Some("includeObject=bogus"),
    )
    .expect("includeObject only matters for tables")
    .expect("conversion");
    assert_eq!(
        (c.kind, c.version),
        (Kind::PartialObjectMetadata, "v1beta1")
    );
}

#[test]
fn invalid_include_object_is_a_bad_request() {
    let err = negotiate(&accept(KUBECTL), Some("includeObject=All")).expect_err("400");
    assert_eq!(err.code(), 400);
    assert!(
        err.to_status()
            .message
            .contains(r#"includeObject: Unsupported value: "All""#),
        "{}",
        err.to_status().message
    );
}

fn pod_json(name: &str) -> Value {
    json!({"kind": "Pod", "apiVersion": "v1",
           "metadata": {"name": name, "namespace": "default", "resourceVersion": "7",
                        "creationTimestamp": "2025-01-10T11:00:00Z"},
           "spec": {"containers": [{"name": "c", "image": "i"}]},
           "status": {"phase": "Pending"}})
}

#[test]
fn table_json_shapes() {
    let res = registry::lookup("", "v1", "pods").expect("pods");
    let now = k3rs_api::table::parse_timestamp("2025-01-10T12:00:00Z").expect("t");
    let conv = Conversion {
        kind: Kind::Table,
        version: "v1",
        include_object: IncludeObject::Metadata,
        printer_columns: None,
    };
    let t = table_json(res, &conv, &[pod_json("a")], "9", Some("tok"), true, now);
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(
        t["metadata"],
        json!({"resourceVersion": "9", "continue": "tok"})
    );
    assert_eq!(t["columnDefinitions"][0]["name"], "Name");
    assert_eq!(t["columnDefinitions"][5]["priority"], 1);
    assert_eq!(
        t["rows"][0]["cells"],
        json!([
            "a", "0/1", "Pending", "0", "60m", "<none>", "<none>", "<none>", "<none>"
        ])
    );
    assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(t["rows"][0]["object"]["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(t["rows"][0]["object"]["metadata"]["name"], "a");
    assert!(t["rows"][0]["object"].get("spec").is_none());
    // Without headers (later watch events) and with includeObject=None/Object.
    let none = Conversion {
        include_object: IncludeObject::None,
        printer_columns: None,
        ..conv
    };
    let t = table_json(res, &none, &[pod_json("a")], "", None, false, now);
    assert_eq!(t["columnDefinitions"], Value::Null);
    assert_eq!(t["rows"][0]["object"], Value::Null);
    assert_eq!(t["metadata"], json!({}));
    let full = Conversion {
        include_object: IncludeObject::Object,
        printer_columns: None,
        ..conv
    };
    let t = table_json(res, &full, &[pod_json("a")], "", None, true, now);
    assert_eq!(t["rows"][0]["object"], pod_json("a"));
    // An empty list: rows [] for printers, null for the default convertor (as upstream).
    assert_eq!(
        table_json(res, &conv, &[], "1", None, true, now)["rows"],
        json!([])
    );
    let crd =
        registry::lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions").expect("crds");
    assert_eq!(
        table_json(crd, &conv, &[], "1", None, true, now)["rows"],
        Value::Null
    );
}

#[test]
fn watch_lines_become_one_row_tables_with_headers_once() {
    let res = registry::lookup("", "v1", "pods").expect("pods");
    let mut w = WatchConverter {
        res,
        conv: Conversion {
            kind: Kind::Table,
            version: "v1",
            include_object: IncludeObject::Metadata,
            printer_columns: None,
        },
        headers_sent: false,
        pending: Vec::new(),
    };
    let line = |t: &str, o: Value| format!("{}\n", json!({"type": t, "object": o}));
    // Split across chunks on purpose.
    let first = line("ADDED", pod_json("a"));
    let (x, y) = first.split_at(10);
    assert!(w.push(x.as_bytes()).is_empty());
    let out = w.push(y.as_bytes());
    let ev: Value = serde_json::from_slice(&out).expect("json line");
    assert_eq!(ev["type"], "ADDED");
    assert_eq!(ev["object"]["kind"], "Table");
    assert_eq!(ev["object"]["metadata"]["resourceVersion"], "7");
    assert!(ev["object"]["columnDefinitions"].is_array());
    assert_eq!(ev["object"]["rows"][0]["cells"][0], "a");
    let out = w.push(line("MODIFIED", pod_json("a")).as_bytes());
    let ev: Value = serde_json::from_slice(&out).expect("json line");
    assert_eq!(ev["object"]["columnDefinitions"], Value::Null);
    // Status objects (ERROR events) pass unchanged.
    let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410});
    let out = w.push(line("ERROR", status.clone()).as_bytes());
    let ev: Value = serde_json::from_slice(&out).expect("json line");
    assert_eq!(ev["object"], status);
}
