//! Upstream conformance behaviours that the API server alone can satisfy, reproduced against a
//! real `k3rs server` (no kubelet, controllers or scheduler exist yet).
//!
//! Each test carries the upstream codename (the Ginkgo name in `/work/shared/conformance.tsv`,
//! also the key of `docs/conformance-map.tsv`) in its doc comment, and makes the assertions the
//! upstream test makes, adapted to Rust. Two adaptations hold throughout:
//! - Upstream's framework creates a fresh namespace per test and waits for its `default`
//!   ServiceAccount (made by a controller). Here each test creates its own namespace and does
//!   not wait: there is no ServiceAccount controller yet.
//! - "Expect no event" windows are 1 s instead of upstream's 10 s, to keep the file fast.

mod common;

use std::time::{Duration, Instant};

use common::Server;
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use kube::Api;
use kube::api::{WatchEvent, WatchParams};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

const JSON: &str = "application/json";
const MERGE: &str = "application/merge-patch+json";
const STRATEGIC: &str = "application/strategic-merge-patch+json";

/// A server and an admin client, one per test.
struct Api2 {
    _server: Server,
    client: kube::Client,
}

impl Api2 {
    async fn call(&self, method: &str, path: &str, ct: &str, body: Option<Value>) -> (u16, Value) {
        let bytes = body
            .map(|b| serde_json::to_vec(&b).unwrap())
            .unwrap_or_default();
        common::raw(&self.client, method, path, ct, bytes).await
    }

    /// A request that must answer `code`; returns the body.
    async fn must(&self, code: u16, method: &str, path: &str, body: Option<Value>) -> Value {
        let ct = if method == "PATCH" { MERGE } else { JSON };
        self.must_ct(code, method, path, ct, body).await
    }

    async fn must_ct(
        &self,
        code: u16,
        method: &str,
        path: &str,
        ct: &str,
        body: Option<Value>,
    ) -> Value {
        let (got, out) = self.call(method, path, ct, body).await;
        assert_eq!(got, code, "{method} {path}: {out}");
        out
    }

    async fn get(&self, path: &str) -> Value {
        self.must(200, "GET", path, None).await
    }

    async fn create_namespace(&self, name: &str) -> Value {
        self.must(
            201,
            "POST",
            "/api/v1/namespaces",
            Some(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})),
        )
        .await
    }
}

fn with_api<F, Fut>(f: F)
where
    F: FnOnce(Api2) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let server = Server::start(&[]);
    runtime().block_on(async {
        let client = server.client().await;
        f(Api2 {
            _server: server,
            client,
        })
        .await;
    });
}

fn items(list: &Value) -> &Vec<Value> {
    list["items"].as_array().expect("list items")
}

fn names_in(list: &Value) -> Vec<(String, String)> {
    items(list)
        .iter()
        .map(|o| {
            (
                o["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                o["metadata"]["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn rv(obj: &Value) -> u64 {
    obj["metadata"]["resourceVersion"]
        .as_str()
        .expect("resourceVersion")
        .parse()
        .expect("numeric resourceVersion")
}

/// Poll `check` every 100 ms for up to `secs` seconds.
async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

// ---------------------------------------------------------------------------------------------
// [sig-api-machinery] Watchers
// ---------------------------------------------------------------------------------------------

const WATCH_LABEL: &str = "watch-this-configmap";

type Watch = futures_util::stream::BoxStream<'static, kube::Result<WatchEvent<ConfigMap>>>;

/// upstream `watchConfigMaps`: a watch on configmaps whose label is in `values`, from `rv`.
async fn watch_configmaps(api: &Api<ConfigMap>, rv: &str, values: &[&str]) -> Watch {
    let wp = WatchParams::default()
        .labels(&format!("{WATCH_LABEL} in ({})", values.join(",")))
        .timeout(290);
    api.watch(&wp, rv).await.expect("watch").boxed()
}

/// The next non-bookmark event within `within`.
async fn next_event(w: &mut Watch, within: Duration) -> Option<WatchEvent<ConfigMap>> {
    loop {
        match tokio::time::timeout(within, w.next()).await {
            Err(_) => return None,
            Ok(None) => panic!("watch closed unexpectedly"),
            Ok(Some(ev)) => match ev.expect("watch event") {
                WatchEvent::Bookmark(_) => continue,
                WatchEvent::Error(e) => panic!("watch error: {e:?}"),
                ev => return Some(ev),
            },
        }
    }
}

fn kind(ev: &WatchEvent<ConfigMap>) -> &'static str {
    match ev {
        WatchEvent::Added(_) => "ADDED",
        WatchEvent::Modified(_) => "MODIFIED",
        WatchEvent::Deleted(_) => "DELETED",
        WatchEvent::Bookmark(_) => "BOOKMARK",
        WatchEvent::Error(_) => "ERROR",
    }
}

fn object(ev: WatchEvent<ConfigMap>) -> ConfigMap {
    match ev {
        WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) => o,
        other => panic!("no object in {other:?}"),
    }
}

/// upstream `expectEvent`/`waitForEvent`: skip events until one of `want` type (and, when
/// given, semantically equal to `expect`) arrives; returns it.
async fn expect_event(w: &mut Watch, want: &str, expect: Option<&ConfigMap>) -> ConfigMap {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(ev) = next_event(w, left).await else {
            panic!("timed out waiting for {want} {expect:?}");
        };
        let k = kind(&ev);
        let obj = object(ev);
        if k == want && expect.is_none_or(|e| *e == obj) {
            return obj;
        }
    }
}

/// upstream `expectNoEvent`: no event of that type (and object) arrives within the window.
async fn expect_no_event(w: &mut Watch, want: &str, expect: Option<&ConfigMap>) {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(ev) = next_event(w, left).await else {
            return;
        };
        let k = kind(&ev);
        let obj = object(ev);
        if k == want && expect.is_none_or(|e| *e == obj) {
            panic!("unexpected watch notification: {k} {obj:?}");
        }
    }
}

fn labelled_configmap(name: &str, value: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": {WATCH_LABEL: value}}}))
        .unwrap()
}

/// upstream `updateConfigMap` + `setConfigMapData`: get, mutate, update (retrying conflicts).
async fn update_configmap(
    api: &Api<ConfigMap>,
    name: &str,
    mutate: impl Fn(&mut ConfigMap),
) -> ConfigMap {
    for _ in 0..5 {
        let mut cm = api.get(name).await.expect("get configmap");
        mutate(&mut cm);
        match api.replace(name, &Default::default(), &cm).await {
            Ok(cm) => return cm,
            Err(kube::Error::Api(e)) if e.code == 409 => continue,
            Err(e) => panic!("update configmap {name}: {e}"),
        }
    }
    panic!("update configmap {name}: too many conflicts");
}

fn set_data(key: &'static str, value: &'static str) -> impl Fn(&mut ConfigMap) {
    move |cm| {
        cm.data
            .get_or_insert_with(Default::default)
            .insert(key.to_string(), value.to_string());
    }
}

fn set_label(value: &'static str) -> impl Fn(&mut ConfigMap) {
    move |cm| {
        cm.metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert(WATCH_LABEL.to_string(), value.to_string());
    }
}

/// [sig-api-machinery] Watchers should observe add, update, and delete watch notifications on configmaps [Conformance]
#[test]
fn watchers_observe_add_update_and_delete_watch_notifications_on_configmaps() {
    with_api(|t| async move {
        t.create_namespace("watch-1").await;
        let api: Api<ConfigMap> = Api::namespaced(t.client.clone(), "watch-1");
        let (a, b) = ("multiple-watchers-A", "multiple-watchers-B");
        let mut watch_a = watch_configmaps(&api, "", &[a]).await;
        let mut watch_b = watch_configmaps(&api, "", &[b]).await;
        let mut watch_ab = watch_configmaps(&api, "", &[a, b]).await;

        let pp = Default::default();
        let cm_a = api
            .create(&pp, &labelled_configmap("e2e-watch-test-configmap-a", a))
            .await
            .unwrap();
        expect_event(&mut watch_a, "ADDED", Some(&cm_a)).await;
        expect_event(&mut watch_ab, "ADDED", Some(&cm_a)).await;
        expect_no_event(&mut watch_b, "ADDED", Some(&cm_a)).await;

        for value in ["1", "2"] {
            let value: &'static str = value;
            let cm_a = update_configmap(
                &api,
                "e2e-watch-test-configmap-a",
                set_data("mutation", value),
            )
            .await;
            expect_event(&mut watch_a, "MODIFIED", Some(&cm_a)).await;
            expect_event(&mut watch_ab, "MODIFIED", Some(&cm_a)).await;
            expect_no_event(&mut watch_b, "MODIFIED", Some(&cm_a)).await;
        }

        api.delete("e2e-watch-test-configmap-a", &Default::default())
            .await
            .unwrap();
        expect_event(&mut watch_a, "DELETED", None).await;
        expect_event(&mut watch_ab, "DELETED", None).await;
        expect_no_event(&mut watch_b, "DELETED", None).await;

        let cm_b = api
            .create(&pp, &labelled_configmap("e2e-watch-test-configmap-b", b))
            .await
            .unwrap();
        expect_event(&mut watch_b, "ADDED", Some(&cm_b)).await;
        expect_event(&mut watch_ab, "ADDED", Some(&cm_b)).await;
        expect_no_event(&mut watch_a, "ADDED", Some(&cm_b)).await;

        api.delete("e2e-watch-test-configmap-b", &Default::default())
            .await
            .unwrap();
        expect_event(&mut watch_b, "DELETED", None).await;
        expect_event(&mut watch_ab, "DELETED", None).await;
        expect_no_event(&mut watch_a, "DELETED", None).await;
    });
}

/// [sig-api-machinery] Watchers should be able to start watching from a specific resource version [Conformance]
#[test]
fn watchers_start_watching_from_a_specific_resource_version() {
    with_api(|t| async move {
        t.create_namespace("watch-2").await;
        let api: Api<ConfigMap> = Api::namespaced(t.client.clone(), "watch-2");
        let label = "from-resource-version";
        let name = "e2e-watch-test-resource-version";
        api.create(&Default::default(), &labelled_configmap(name, label))
            .await
            .unwrap();
        let first = update_configmap(&api, name, set_data("mutation", "1")).await;
        let second = update_configmap(&api, name, set_data("mutation", "2")).await;
        api.delete(name, &Default::default()).await.unwrap();

        let from = first.metadata.resource_version.clone().unwrap();
        let mut w = watch_configmaps(&api, &from, &[label]).await;
        // Only what happened after the first update: the second update, then the delete.
        let ev = next_event(&mut w, Duration::from_secs(30)).await.unwrap();
        assert_eq!(kind(&ev), "MODIFIED");
        assert_eq!(object(ev), second);
        let ev = next_event(&mut w, Duration::from_secs(30)).await.unwrap();
        assert_eq!(kind(&ev), "DELETED");
    });
}

/// [sig-api-machinery] Watchers should be able to restart watching from the last resource version observed by the previous watch [Conformance]
#[test]
fn watchers_restart_watching_from_the_last_resource_version_observed() {
    with_api(|t| async move {
        t.create_namespace("watch-3").await;
        let api: Api<ConfigMap> = Api::namespaced(t.client.clone(), "watch-3");
        let label = "watch-closed-and-restarted";
        let name = "e2e-watch-test-watch-closed";
        let mut broken = watch_configmaps(&api, "", &[label]).await;
        let created = api
            .create(&Default::default(), &labelled_configmap(name, label))
            .await
            .unwrap();
        update_configmap(&api, name, set_data("mutation", "1")).await;

        expect_event(&mut broken, "ADDED", Some(&created)).await;
        let last = expect_event(&mut broken, "MODIFIED", None).await;
        drop(broken);

        let second = update_configmap(&api, name, set_data("mutation", "2")).await;
        let from = last.metadata.resource_version.clone().unwrap();
        let mut restarted = watch_configmaps(&api, &from, &[label]).await;
        api.delete(name, &Default::default()).await.unwrap();

        expect_event(&mut restarted, "MODIFIED", Some(&second)).await;
        expect_event(&mut restarted, "DELETED", None).await;
    });
}

/// [sig-api-machinery] Watchers should observe an object deletion if it stops meeting the requirements of the selector [Conformance]
#[test]
fn watchers_observe_deletion_when_object_stops_meeting_the_selector() {
    with_api(|t| async move {
        t.create_namespace("watch-4").await;
        let api: Api<ConfigMap> = Api::namespaced(t.client.clone(), "watch-4");
        let label = "label-changed-and-restored";
        let name = "e2e-watch-test-label-changed";
        let mut w = watch_configmaps(&api, "", &[label]).await;
        let created = api
            .create(&Default::default(), &labelled_configmap(name, label))
            .await
            .unwrap();
        let first = update_configmap(&api, name, set_data("mutation", "1")).await;
        update_configmap(&api, name, set_label("wrong-value")).await;

        expect_event(&mut w, "ADDED", Some(&created)).await;
        expect_event(&mut w, "MODIFIED", Some(&first)).await;
        expect_event(&mut w, "DELETED", None).await;

        let second = update_configmap(&api, name, set_data("mutation", "2")).await;
        expect_no_event(&mut w, "MODIFIED", Some(&second)).await;

        let restored = update_configmap(&api, name, set_label(label)).await;
        let third = update_configmap(&api, name, set_data("mutation", "3")).await;
        api.delete(name, &Default::default()).await.unwrap();

        expect_event(&mut w, "ADDED", Some(&restored)).await;
        expect_event(&mut w, "MODIFIED", Some(&third)).await;
        expect_event(&mut w, "DELETED", None).await;
    });
}

/// [sig-api-machinery] Watchers should receive events on concurrent watches in same order [Conformance]
#[test]
fn watchers_receive_events_on_concurrent_watches_in_same_order() {
    with_api(|t| async move {
        t.create_namespace("watch-5").await;
        let api: Api<ConfigMap> = Api::namespaced(t.client.clone(), "watch-5");
        let list = api.list(&Default::default()).await.unwrap();
        let mut resource_version = list.metadata.resource_version.unwrap();

        // upstream `produceConfigMapEvents`: random create/update/delete every 5 ms.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let producer = {
            let api = api.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut existing: Vec<usize> = Vec::new();
                let mut next = 0usize;
                let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
                let mut rand = move |n: usize| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (seed % n as u64) as usize
                };
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let op = if existing.is_empty() { 0 } else { rand(3) };
                    match op {
                        0 => {
                            let cm: ConfigMap = serde_json::from_value(
                                json!({"metadata": {"name": format!("cm-{next}")}}),
                            )
                            .unwrap();
                            api.create(&Default::default(), &cm).await.unwrap();
                            existing.push(next);
                            next += 1;
                        }
                        1 => {
                            let i = existing[rand(existing.len())];
                            // An unconditional update (no resourceVersion), as upstream's.
                            let cm: ConfigMap = serde_json::from_value(
                                json!({"metadata": {"name": format!("cm-{i}")}}),
                            )
                            .unwrap();
                            api.replace(&format!("cm-{i}"), &Default::default(), &cm)
                                .await
                                .unwrap();
                        }
                        _ => {
                            let idx = rand(existing.len());
                            let i = existing.remove(idx);
                            api.delete(&format!("cm-{i}"), &Default::default())
                                .await
                                .unwrap();
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        };

        // upstream uses 100 iterations; 30 watches cover the same property in a fraction
        // of the time.
        let mut watches: Vec<Watch> = Vec::new();
        for _ in 0..30 {
            let wp = WatchParams::default().timeout(290);
            watches.push(api.watch(&wp, &resource_version).await.unwrap().boxed());
            let first = object(
                next_event(&mut watches[0], Duration::from_secs(10))
                    .await
                    .unwrap(),
            );
            resource_version = first.metadata.resource_version.clone().unwrap();
            for w in &mut watches[1..] {
                let e = object(next_event(w, Duration::from_secs(10)).await.unwrap());
                assert_eq!(
                    e.metadata.resource_version.as_deref(),
                    Some(resource_version.as_str()),
                    "resource version mismatch"
                );
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        producer.await.unwrap();
    });
}

// ---------------------------------------------------------------------------------------------
// [sig-api-machinery] Discovery
// ---------------------------------------------------------------------------------------------

/// [sig-api-machinery] Discovery should validate PreferredVersion for each APIGroup [Conformance]
#[test]
fn discovery_validates_preferred_version_for_each_api_group() {
    with_api(|t| async move {
        let list = t.get("/apis/").await;
        let groups = list["groups"].as_array().unwrap();
        assert!(!groups.is_empty(), "Missing APIGroups");
        for group in groups {
            let name = group["name"].as_str().unwrap();
            if name.ends_with(".example.com") {
                continue;
            }
            let check = t.get(&format!("/apis/{name}/")).await;
            let versions = check["versions"].as_array().unwrap();
            assert!(!versions.is_empty(), "No version found for {name}");
            let preferred = &check["preferredVersion"]["groupVersion"];
            assert!(
                versions.iter().any(|v| v["groupVersion"] == *preferred),
                "Failed to find a valid version for PreferredVersion {preferred} in {versions:?}"
            );
        }
    });
}

// ---------------------------------------------------------------------------------------------
// [sig-api-machinery] Namespaces [Serial]
// ---------------------------------------------------------------------------------------------

/// [sig-api-machinery] Namespaces [Serial] should patch a Namespace [Conformance]
#[test]
fn namespaces_patch_a_namespace() {
    with_api(|t| async move {
        let ns = t.create_namespace("nspatchtest-5b0c2e4e").await;
        let patched = t
            .must_ct(
                200,
                "PATCH",
                "/api/v1/namespaces/nspatchtest-5b0c2e4e",
                STRATEGIC,
                Some(json!({"metadata": {"labels": {"testLabel": "testValue"}}})),
            )
            .await;
        assert!(
            rv(&ns) < rv(&patched),
            "patched object should have a larger resource version"
        );
        let got = t.get("/api/v1/namespaces/nspatchtest-5b0c2e4e").await;
        assert_eq!(
            got["metadata"]["labels"]["testLabel"], "testValue",
            "namespace not patched"
        );
    });
}

/// [sig-api-machinery] Namespaces [Serial] should apply changes to a namespace status [Conformance]
#[test]
fn namespaces_apply_changes_to_a_namespace_status() {
    with_api(|t| async move {
        let ns = "namespaces-status";
        t.create_namespace(ns).await;
        let path = format!("/api/v1/namespaces/{ns}/status");
        let status = t.get(&path).await;
        assert_eq!(status["status"]["phase"], "Active");

        let condition = json!({"type": "StatusPatch", "status": "True", "reason": "E2E", "message": "Patched by an e2e test"});
        let patched = t
            .must(
                200,
                "PATCH",
                &path,
                Some(json!({"metadata": {"annotations": {"e2e-patched-ns-status": ns}}, "status": {"conditions": [condition]}})),
            )
            .await;
        assert_eq!(
            patched["metadata"]["annotations"]["e2e-patched-ns-status"], ns,
            "patched object should have the applied annotation"
        );
        let conds = patched["status"]["conditions"].as_array().unwrap();
        let last = conds.last().unwrap();
        assert_eq!(last["reason"], "E2E");
        assert_eq!(last["message"], "Patched by an e2e test");

        let mut to_update = t.get(&path).await;
        to_update["status"]["conditions"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "StatusUpdate", "status": "True", "reason": "E2E", "message": "Updated by an e2e test"}));
        let updated = t.must(200, "PUT", &path, Some(to_update)).await;
        let conds = updated["status"]["conditions"].as_array().unwrap();
        let last = conds.last().unwrap();
        assert_eq!(last["type"], "StatusUpdate");
        assert_eq!(last["message"], "Updated by an e2e test");
    });
}

/// [sig-api-machinery] Namespaces [Serial] should apply an update to a Namespace [Conformance]
#[test]
fn namespaces_apply_an_update_to_a_namespace() {
    with_api(|t| async move {
        let ns = "namespaces-update";
        t.create_namespace(ns).await;
        let path = format!("/api/v1/namespaces/{ns}");
        let mut obj = t.get(&path).await;
        obj["metadata"]["labels"][ns] = json!("updated");
        let updated = t.must(200, "PUT", &path, Some(obj)).await;
        assert_eq!(updated["metadata"]["labels"][ns], "updated");
    });
}

/// [sig-api-machinery] Namespaces [Serial] should apply a finalizer to a Namespace [Conformance]
#[test]
fn namespaces_apply_a_finalizer_to_a_namespace() {
    with_api(|t| async move {
        let fake = "e2e.example.com/fakeFinalizer";
        let ns = "e2e-ns-x7k2q";
        t.create_namespace(ns).await;
        let path = format!("/api/v1/namespaces/{ns}");

        let mut obj = t.get(&path).await;
        let mut finalizers = obj["spec"]["finalizers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        finalizers.push(json!(fake));
        obj["spec"]["finalizers"] = json!(finalizers);
        let updated = t
            .must(200, "PUT", &format!("{path}/finalize"), Some(obj))
            .await;
        let has = |o: &Value| {
            o["spec"]["finalizers"]
                .as_array()
                .is_some_and(|f| f.iter().any(|x| x == fake))
        };
        assert!(has(&updated), "Finalizer {fake} was not found: {updated}");

        let mut obj = t.get(&path).await;
        let kept: Vec<Value> = obj["spec"]["finalizers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| *x != fake)
            .cloned()
            .collect();
        obj["spec"]["finalizers"] = json!(kept);
        let updated = t
            .must(200, "PUT", &format!("{path}/finalize"), Some(obj))
            .await;
        assert!(!has(&updated), "Finalizer {fake} was found: {updated}");
    });
}

/// [sig-api-machinery] Namespaces [Serial] should ensure that all services are removed when a namespace is deleted [Conformance]
#[test]
fn namespaces_ensure_all_services_are_removed_when_a_namespace_is_deleted() {
    with_api(|t| async move {
        let ns = "nsdeletetest";
        t.create_namespace(ns).await;
        t.must(
            201,
            "POST",
            &format!("/api/v1/namespaces/{ns}/services"),
            Some(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "test-service"},
                "spec": {"selector": {"foo": "bar", "baz": "blah"}, "ports": [{"port": 80, "targetPort": 80}]}})),
        )
        .await;
        t.must(200, "DELETE", &format!("/api/v1/namespaces/{ns}"), None)
            .await;
        eventually(60, "the namespace to be removed", || async {
            t.call("GET", &format!("/api/v1/namespaces/{ns}"), JSON, None)
                .await
                .0
                == 404
        })
        .await;
        t.create_namespace(ns).await;
        let (code, _) = t
            .call(
                "GET",
                &format!("/api/v1/namespaces/{ns}/services/test-service"),
                JSON,
                None,
            )
            .await;
        assert_eq!(code, 404, "the service survived its namespace");
    });
}

// ---------------------------------------------------------------------------------------------
// [sig-node] / [sig-storage] ConfigMap, Secrets
// ---------------------------------------------------------------------------------------------

/// [sig-node] ConfigMap should fail to create ConfigMap with empty key [Conformance]
#[test]
fn configmap_fails_to_create_with_empty_key() {
    with_api(|t| async move {
        t.create_namespace("configmap-1").await;
        let (code, out) = t
            .call(
                "POST",
                "/api/v1/namespaces/configmap-1/configmaps",
                JSON,
                Some(json!({"metadata": {"name": "configmap-test-emptykey-1"}, "data": {"": "value-1"}})),
            )
            .await;
        assert!(code >= 400, "created configMap with empty key: {out}");
        assert_eq!(out["reason"], "Invalid", "{out}");
    });
}

/// [sig-node] ConfigMap should run through a ConfigMap lifecycle [Conformance]
#[test]
fn configmap_runs_through_a_lifecycle() {
    with_api(|t| async move {
        let ns = "configmap-2";
        t.create_namespace(ns).await;
        let name = "test-configmap-1f9a";
        let base = format!("/api/v1/namespaces/{ns}/configmaps");
        t.must(
            201,
            "POST",
            &base,
            Some(json!({"metadata": {"name": name, "labels": {"test-configmap-static": "true"}}, "data": {"valueName": "value"}})),
        )
        .await;
        let cm = t.get(&format!("{base}/{name}")).await;
        assert_eq!(cm["data"]["valueName"], "value");
        assert_eq!(cm["metadata"]["labels"]["test-configmap-static"], "true");

        t.must_ct(
            200,
            "PATCH",
            &format!("{base}/{name}"),
            STRATEGIC,
            Some(json!({"metadata": {"labels": {"test-configmap": "patched"}}, "data": {"valueName": "value1"}})),
        )
        .await;

        let list = t
            .get("/api/v1/configmaps?labelSelector=test-configmap%3Dpatched")
            .await;
        let found = items(&list).iter().any(|cm| {
            cm["metadata"]["name"] == name
                && cm["metadata"]["namespace"] == ns
                && cm["metadata"]["labels"]["test-configmap-static"] == "true"
                && cm["metadata"]["labels"]["test-configmap"] == "patched"
                && cm["data"]["valueName"] == "value1"
        });
        assert!(
            found,
            "failed to find ConfigMap {ns}/{name} by label selector"
        );

        t.must(
            200,
            "DELETE",
            &format!("{base}?labelSelector=test-configmap-static%3Dtrue"),
            None,
        )
        .await;
        let list = t
            .get(&format!(
                "{base}?labelSelector=test-configmap-static%3Dtrue"
            ))
            .await;
        assert_eq!(
            items(&list).len(),
            0,
            "ConfigMap is still present after being deleted by collection"
        );
    });
}

/// The immutability sequence shared by ConfigMaps and Secrets: `add` adds a data key.
async fn immutable_sequence(t: &Api2, path: &str, add: impl Fn(&mut Value, &str)) {
    let mut current = t.get(path).await;
    add(&mut current, "data-4");
    let mut current = t.must(200, "PUT", path, Some(current)).await;

    current["immutable"] = json!(true);
    let mut current = t.must(200, "PUT", path, Some(current)).await;

    add(&mut current, "data-5");
    let (code, out) = t.call("PUT", path, JSON, Some(current)).await;
    assert_eq!(
        (code, out["reason"].as_str()),
        (422, Some("Invalid")),
        "{out}"
    );

    let mut current = t.get(path).await;
    assert_eq!(
        current["immutable"], true,
        "can be switched from immutable to mutable"
    );
    current["immutable"] = json!(false);
    let (code, out) = t.call("PUT", path, JSON, Some(current)).await;
    assert_eq!(
        (code, out["reason"].as_str()),
        (422, Some("Invalid")),
        "{out}"
    );

    let mut current = t.get(path).await;
    current["metadata"]["labels"] = json!({"label1": "value1"});
    t.must(200, "PUT", path, Some(current)).await;

    t.must(200, "DELETE", path, None).await;
}

/// [sig-storage] ConfigMap should be immutable if `immutable` field is set [Conformance]
#[test]
fn configmap_is_immutable_if_immutable_field_is_set() {
    with_api(|t| async move {
        t.create_namespace("configmap-3").await;
        t.must(
            201,
            "POST",
            "/api/v1/namespaces/configmap-3/configmaps",
            Some(json!({"metadata": {"name": "immutable"}, "data": {"data-1": "value-1", "data-2": "value-2", "data-3": "value-3"}})),
        )
        .await;
        immutable_sequence(
            &t,
            "/api/v1/namespaces/configmap-3/configmaps/immutable",
            |cm, key| cm["data"][key] = json!(format!("value-{}", &key[5..])),
        )
        .await;
    });
}

/// [sig-storage] Secrets should be immutable if `immutable` field is set [Conformance]
#[test]
fn secret_is_immutable_if_immutable_field_is_set() {
    with_api(|t| async move {
        t.create_namespace("secrets-1").await;
        // base64 of "value-N\n"
        t.must(
            201,
            "POST",
            "/api/v1/namespaces/secrets-1/secrets",
            Some(json!({"metadata": {"name": "immutable"}, "data": {"data-1": "dmFsdWUtMQo=", "data-2": "dmFsdWUtMgo=", "data-3": "dmFsdWUtMwo="}})),
        )
        .await;
        immutable_sequence(
            &t,
            "/api/v1/namespaces/secrets-1/secrets/immutable",
            |s, key| {
                s["data"][key] = json!(if key == "data-4" {
                    "dmFsdWUtNAo="
                } else {
                    "dmFsdWUtNQo="
                })
            },
        )
        .await;
    });
}

/// [sig-node] Secrets should fail to create secret due to empty secret key [Conformance]
#[test]
fn secrets_fail_to_create_secret_with_empty_key() {
    with_api(|t| async move {
        t.create_namespace("secrets-2").await;
        let (code, out) = t
            .call(
                "POST",
                "/api/v1/namespaces/secrets-2/secrets",
                JSON,
                Some(json!({"metadata": {"name": "secret-emptykey-test"}, "data": {"": "dmFsdWUtMQo="}})),
            )
            .await;
        assert!(code >= 400, "created secret with empty key: {out}");
        assert_eq!(out["reason"], "Invalid", "{out}");
    });
}

/// [sig-node] Secrets should patch a secret [Conformance]
#[test]
fn secrets_patch_a_secret() {
    with_api(|t| async move {
        let ns = "secrets-3";
        t.create_namespace(ns).await;
        let name = "test-secret-8d1e";
        let base = format!("/api/v1/namespaces/{ns}/secrets");
        t.must(
            201,
            "POST",
            &base,
            Some(
                json!({"metadata": {"name": name, "labels": {"testsecret-constant": "true"}},
                "data": {"key": "dmFsdWU="}, "type": "Opaque"}),
            ),
        )
        .await;
        let list = t
            .get("/api/v1/secrets?labelSelector=testsecret-constant%3Dtrue")
            .await;
        assert_ne!(items(&list).len(), 0, "no secrets found");
        assert!(names_in(&list).contains(&(ns.to_string(), name.to_string())));

        // upstream marshals []byte(base64("value1")), so the stored bytes are base64 text.
        t.must_ct(
            200,
            "PATCH",
            &format!("{base}/{name}"),
            STRATEGIC,
            Some(json!({"metadata": {"labels": {"testsecret": "true"}}, "data": {"key": "ZG1Gc2RXVXg="}})),
        )
        .await;
        let secret = t.get(&format!("{base}/{name}")).await;
        // data.key = base64(base64("value1")); decoding twice yields "value1".
        assert_eq!(secret["data"]["key"], "ZG1Gc2RXVXg=");
        assert_eq!(secret["type"], "Opaque");

        t.must(
            200,
            "DELETE",
            &format!("{base}?labelSelector=testsecret%3Dtrue"),
            None,
        )
        .await;
        let list = t
            .get("/api/v1/secrets?labelSelector=testsecret-constant%3Dtrue")
            .await;
        assert!(
            !names_in(&list).contains(&(ns.to_string(), name.to_string())),
            "secret {ns}/{name} was not deleted successfully"
        );
    });
}

// ---------------------------------------------------------------------------------------------
// [sig-node] PodTemplates
// ---------------------------------------------------------------------------------------------

fn pod_template(name: &str, labels: Value, image: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": name, "labels": labels},
        "template": {"spec": {"containers": [{"name": "nginx", "image": image}]}}})
}

/// [sig-node] PodTemplates should run the lifecycle of PodTemplates [Conformance]
#[test]
fn podtemplates_run_the_lifecycle() {
    with_api(|t| async move {
        let ns = "podtemplate-1";
        t.create_namespace(ns).await;
        let all = "/api/v1/podtemplates?labelSelector=podtemplate-static%3Dtrue";
        assert_eq!(items(&t.get(all).await).len(), 0);
        let name = "nginx-pod-template-3c1d";
        let base = format!("/api/v1/namespaces/{ns}/podtemplates");
        t.must(
            201,
            "POST",
            &base,
            Some(pod_template(
                name,
                json!({"podtemplate-static": "true"}),
                "nginx",
            )),
        )
        .await;
        let read = t.get(&format!("{base}/{name}")).await;
        assert_eq!(read["metadata"]["name"], name);
        t.must_ct(
            200,
            "PATCH",
            &format!("{base}/{name}"),
            STRATEGIC,
            Some(json!({"metadata": {"labels": {"podtemplate": "patched"}}})),
        )
        .await;
        let read = t.get(&format!("{base}/{name}")).await;
        assert_eq!(read["metadata"]["labels"]["podtemplate"], "patched");
        t.must(200, "DELETE", &format!("{base}/{name}"), None).await;
        assert_eq!(items(&t.get(all).await).len(), 0);
    });
}

/// [sig-node] PodTemplates should delete a collection of pod templates [Conformance]
#[test]
fn podtemplates_delete_a_collection() {
    with_api(|t| async move {
        let ns = "podtemplate-2";
        t.create_namespace(ns).await;
        let base = format!("/api/v1/namespaces/{ns}/podtemplates");
        let names = [
            "test-podtemplate-1",
            "test-podtemplate-2",
            "test-podtemplate-3",
        ];
        for name in names {
            t.must(
                201,
                "POST",
                &base,
                Some(pod_template(
                    name,
                    json!({"podtemplate-set": "true"}),
                    "registry.k8s.io/e2e-test-images/agnhost:2.53",
                )),
            )
            .await;
        }
        let sel = format!("{base}?labelSelector=podtemplate-set%3Dtrue");
        assert_eq!(items(&t.get(&sel).await).len(), names.len());
        t.must(200, "DELETE", &sel, None).await;
        eventually(60, "the pod templates to be gone", || async {
            items(&t.get(&sel).await).is_empty()
        })
        .await;
    });
}

/// [sig-node] PodTemplates should replace a pod template [Conformance]
#[test]
fn podtemplates_replace_a_pod_template() {
    with_api(|t| async move {
        let ns = "podtemplate-3";
        t.create_namespace(ns).await;
        let base = format!("/api/v1/namespaces/{ns}/podtemplates");
        let name = "podtemplate-4b7e";
        t.must(
            201,
            "POST",
            &base,
            Some(json!({"metadata": {"name": name}, "template": {"spec": {
                "containers": [{"name": "e2e-test", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53"}],
                "terminationGracePeriodSeconds": 1}}})),
        )
        .await;
        let mut pt = t.get(&format!("{base}/{name}")).await;
        pt["metadata"]["labels"] = json!({"podtemplate": "replaced"});
        let updated = t
            .must(200, "PUT", &format!("{base}/{name}"), Some(pt))
            .await;
        assert_eq!(updated["metadata"]["labels"]["podtemplate"], "replaced");
    });
}

// ---------------------------------------------------------------------------------------------
// [sig-instrumentation] Events
// ---------------------------------------------------------------------------------------------

fn core_event(name: &str, ns: &str, labels: Value, message: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "labels": labels},
        "message": message, "reason": "Test", "type": "Normal", "count": 1,
        "involvedObject": {"namespace": ns}})
}

/// [sig-instrumentation] Events should manage the lifecycle of an event [Conformance]
#[test]
fn events_manage_the_lifecycle_of_an_event() {
    with_api(|t| async move {
        let ns = "events-1";
        t.create_namespace(ns).await;
        let base = format!("/api/v1/namespaces/{ns}/events");
        let name = "event-test";
        t.must(
            201,
            "POST",
            &base,
            Some(core_event(
                name,
                ns,
                json!({"testevent-constant": "true"}),
                "This is a test event",
            )),
        )
        .await;
        let all = "/api/v1/events?labelSelector=testevent-constant%3Dtrue";
        assert!(names_in(&t.get(all).await).contains(&(ns.into(), name.into())));

        let patched_message = "This is a test event - patched";
        t.must_ct(
            200,
            "PATCH",
            &format!("{base}/{name}"),
            STRATEGIC,
            Some(json!({"message": patched_message})),
        )
        .await;
        let event = t.get(&format!("{base}/{name}")).await;
        assert_eq!(event["message"], patched_message);

        // Update with a series; the stored event must equal what was sent (RV aside).
        let mut test_event = event.clone();
        test_event["series"] =
            json!({"count": 100, "lastObservedTime": "2017-09-19T13:49:16.000000Z"});
        test_event["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("resourceVersion");
        t.must(
            200,
            "PUT",
            &format!("{base}/{name}"),
            Some(test_event.clone()),
        )
        .await;
        let mut event = t.get(&format!("{base}/{name}")).await;
        // As upstream's test, ignore what the control plane sets: resourceVersion and
        // managedFields (the PUT is a new Update operation).
        for e in [&mut event, &mut test_event] {
            let meta = e["metadata"].as_object_mut().unwrap();
            meta.remove("resourceVersion");
            meta.remove("managedFields");
        }
        let typed = |v: &Value| -> k8s_openapi::api::core::v1::Event {
            serde_json::from_value(v.clone()).unwrap()
        };
        assert_eq!(
            typed(&event),
            typed(&test_event),
            "test event wasn't properly updated"
        );

        t.must(200, "DELETE", &format!("{base}/{name}"), None).await;
        assert!(!names_in(&t.get(all).await).contains(&(ns.into(), name.into())));
    });
}

/// [sig-instrumentation] Events should delete a collection of events [Conformance]
#[test]
fn events_delete_a_collection_of_events() {
    with_api(|t| async move {
        let ns = "events-2";
        t.create_namespace(ns).await;
        let base = format!("/api/v1/namespaces/{ns}/events");
        let names = ["test-event-1", "test-event-2", "test-event-3"];
        for name in names {
            t.must(
                201,
                "POST",
                &base,
                Some(core_event(
                    name,
                    ns,
                    json!({"testevent-set": "true"}),
                    &format!("This is {name}"),
                )),
            )
            .await;
        }
        let sel = format!("{base}?labelSelector=testevent-set%3Dtrue");
        assert_eq!(items(&t.get(&sel).await).len(), names.len());
        t.must(200, "DELETE", &sel, None).await;
        eventually(60, "the events to be gone", || async {
            items(&t.get(&sel).await).is_empty()
        })
        .await;
    });
}

/// [sig-instrumentation] Events API should delete a collection of events [Conformance]
#[test]
fn events_api_delete_a_collection_of_events() {
    with_api(|t| async move {
        let ns = "events-3";
        t.create_namespace(ns).await;
        let base = format!("/apis/events.k8s.io/v1/namespaces/{ns}/events");
        let names = ["test-event-1", "test-event-2", "test-event-3"];
        for name in names {
            t.must(
                201,
                "POST",
                &base,
                Some(json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
                    "metadata": {"name": name, "labels": {"testevent-set": "true"}},
                    "regarding": {"namespace": ns}, "eventTime": "2017-09-19T13:49:16.000000Z",
                    "note": format!("This is {name}"), "action": "Do", "reason": "Test", "type": "Normal",
                    "reportingController": "test-controller", "reportingInstance": "test-node"})),
            )
            .await;
        }
        let sel = format!("{base}?labelSelector=testevent-set%3Dtrue");
        assert_eq!(items(&t.get(&sel).await).len(), names.len());
        t.must(200, "DELETE", &sel, None).await;
        assert_eq!(items(&t.get(&sel).await).len(), 0);
    });
}

// ---------------------------------------------------------------------------------------------
// [sig-network] Ingress, IngressClass, EndpointSlice, Services
// ---------------------------------------------------------------------------------------------

/// The discovery checks shared by upstream's "API operations" tests: the group is in `/apis`,
/// the version in `/apis/<group>`, and `resources` in `/apis/<group>/<version>`.
async fn expect_discovered(t: &Api2, group: &str, version: &str, resources: &[&str]) {
    let groups = t.get("/apis").await;
    assert!(
        groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == group
                && g["versions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|v| v["version"] == version)),
        "expected {group}/{version} in /apis: {groups}"
    );
    let g = t.get(&format!("/apis/{group}")).await;
    assert!(
        g["versions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["version"] == version),
        "expected {version} in /apis/{group}: {g}"
    );
    let list = t.get(&format!("/apis/{group}/{version}")).await;
    for r in resources {
        assert!(
            list["resources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["name"] == *r),
            "expected {r} in /apis/{group}/{version}: {list}"
        );
    }
}

/// Wait on a typed watch for a MODIFIED event whose object satisfies `done`; every event seen
/// must be MODIFIED, as upstream asserts.
async fn await_modified<K>(
    w: &mut futures_util::stream::BoxStream<'static, kube::Result<WatchEvent<K>>>,
    done: impl Fn(&K) -> bool,
) where
    K: std::fmt::Debug,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ev = tokio::time::timeout(left, w.next())
            .await
            .expect("timed out waiting for watch event")
            .expect("watch channel should not close")
            .expect("watch event");
        match ev {
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Modified(o) => {
                if done(&o) {
                    return;
                }
            }
            other => panic!("expected MODIFIED, got {other:?}"),
        }
    }
}

fn annotation<'a>(meta: &'a kube::api::ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

/// [sig-network] Ingress API should support creating Ingress API operations [Conformance]
#[test]
fn ingress_api_supports_creating_ingress_api_operations() {
    with_api(|t| async move {
        let ns = "ingress-1";
        let unique = "ingress-1-unique";
        t.create_namespace(ns).await;
        expect_discovered(&t, "networking.k8s.io", "v1", &["ingresses"]).await;

        let template = |host: &str| {
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"generateName": "e2e-example-ing", "labels": {"special-label": unique}},
                "spec": {"defaultBackend": {"service": {"name": "default-backend", "port": {"number": 8080}}},
                    "rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "ImplementationSpecific",
                        "backend": {"service": {"name": "test-backend", "port": {"number": 8080}}}}]}}]},
                "status": {"loadBalancer": {}}})
        };
        let base = format!("/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses");
        t.must(201, "POST", &base, Some(template("host1.bar.com")))
            .await;
        t.must(201, "POST", &base, Some(template("host2.bar.com")))
            .await;
        let created = t
            .must(201, "POST", &base, Some(template("host3.bar.com")))
            .await;
        let name = created["metadata"]["name"].as_str().unwrap().to_string();
        let one = format!("{base}/{name}");

        let got = t.get(&one).await;
        assert_eq!(got["metadata"]["uid"], created["metadata"]["uid"]);

        let sel = format!("labelSelector=special-label%3D{unique}");
        let ings = t.get(&format!("{base}?{sel}")).await;
        assert_eq!(items(&ings).len(), 3, "filtered list should have 3 items");

        let api: Api<Ingress> = Api::namespaced(t.client.clone(), ns);
        let list_rv = ings["metadata"]["resourceVersion"].as_str().unwrap();
        let wp = WatchParams::default().labels(&format!("special-label={unique}"));
        let mut ing_watch = api.watch(&wp, list_rv).await.unwrap().boxed();

        let cluster = t
            .get(&format!("/apis/networking.k8s.io/v1/ingresses?{sel}"))
            .await;
        assert_eq!(
            items(&cluster).len(),
            3,
            "filtered list should have 3 items"
        );
        let cluster_api: Api<Ingress> = Api::all(t.client.clone());
        let _cluster_watch = cluster_api.watch(&wp, list_rv).await.unwrap().boxed();

        let patched = t
            .must(
                200,
                "PATCH",
                &one,
                Some(json!({"metadata": {"annotations": {"patched": "true"}}})),
            )
            .await;
        assert_eq!(patched["metadata"]["annotations"]["patched"], "true");

        let mut to_update = t.get(&one).await;
        to_update["metadata"]["annotations"]["updated"] = json!("true");
        let updated = t.must(200, "PUT", &one, Some(to_update)).await;
        assert_eq!(updated["metadata"]["annotations"]["updated"], "true");

        await_modified(&mut ing_watch, |i: &Ingress| {
            annotation(&i.metadata, "patched") == Some("true")
        })
        .await;

        // /status
        let lb = json!({"ingress": [{"ip": "169.1.1.1"}]});
        let patched_status = t
            .must(
                200,
                "PATCH",
                &format!("{one}/status"),
                Some(json!({"metadata": {"annotations": {"patchedstatus": "true"}}, "status": {"loadBalancer": lb}})),
            )
            .await;
        assert_eq!(patched_status["status"]["loadBalancer"], lb);
        assert_eq!(
            patched_status["metadata"]["annotations"]["patchedstatus"],
            "true"
        );

        let mut status_to_update = t.get(&one).await;
        let lb2 = json!({"ingress": [{"ip": "169.1.1.2"}]});
        status_to_update["status"]["loadBalancer"] = lb2.clone();
        let updated_status = t
            .must(200, "PUT", &format!("{one}/status"), Some(status_to_update))
            .await;
        assert_eq!(updated_status["status"]["loadBalancer"], lb2);

        let gotten_status = t.get(&format!("{one}/status")).await;
        assert_eq!(gotten_status["metadata"]["uid"], created["metadata"]["uid"]);

        // Delete: either gone (404) or held by a finalizer with a deletionTimestamp.
        t.must(200, "DELETE", &one, None).await;
        let (code, ing) = t.call("GET", &one, JSON, None).await;
        if code == 200 {
            assert!(!ing["metadata"]["deletionTimestamp"].is_null());
            assert!(
                ing["metadata"]["finalizers"]
                    .as_array()
                    .is_some_and(|f| !f.is_empty())
            );
        } else {
            assert_eq!(code, 404, "expected 404, got {ing}");
        }
        let ings = t.get(&format!("{base}?{sel}")).await;
        assert!(
            items(&ings).len() <= 3,
            "filtered list should have <= 3 items"
        );

        t.must(200, "DELETE", &format!("{base}?{sel}"), None).await;
        let ings = t.get(&format!("{base}?{sel}")).await;
        for ing in items(&ings) {
            assert!(!ing["metadata"]["deletionTimestamp"].is_null(), "{ing}");
            assert!(
                ing["metadata"]["finalizers"]
                    .as_array()
                    .is_some_and(|f| !f.is_empty()),
                "{ing}"
            );
        }
    });
}

/// [sig-network] IngressClass API should support creating IngressClass API operations [Conformance]
#[test]
fn ingressclass_api_supports_creating_ingressclass_api_operations() {
    with_api(|t| async move {
        let unique = "ingressclass-unique";
        expect_discovered(&t, "networking.k8s.io", "v1", &["ingressclasses"]).await;
        let base = "/apis/networking.k8s.io/v1/ingressclasses";
        let template = || {
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                "metadata": {"generateName": "e2e-example-ingressclass-", "labels": {"ingressclass": unique, "special-label": unique}},
                "spec": {"controller": "example.com/controller",
                    "parameters": {"kind": "IngressParameters", "name": "example", "apiGroup": "k8s.example.com", "scope": "Cluster"}}})
        };
        t.must(201, "POST", base, Some(template())).await;
        t.must(201, "POST", base, Some(template())).await;
        let created = t.must(201, "POST", base, Some(template())).await;
        let name = created["metadata"]["name"].as_str().unwrap().to_string();
        let one = format!("{base}/{name}");

        let got = t.get(&one).await;
        assert_eq!(got["metadata"]["uid"], created["metadata"]["uid"]);

        let sel = format!("labelSelector=ingressclass%3D{unique}");
        let list = t.get(&format!("{base}?{sel}")).await;
        assert_eq!(items(&list).len(), 3, "filtered list should have 3 items");

        let api: Api<k8s_openapi::api::networking::v1::IngressClass> = Api::all(t.client.clone());
        let wp = WatchParams::default().labels(&format!("ingressclass={unique}"));
        let mut w = api
            .watch(&wp, list["metadata"]["resourceVersion"].as_str().unwrap())
            .await
            .unwrap()
            .boxed();

        let patched = t
            .must(
                200,
                "PATCH",
                &one,
                Some(json!({"metadata": {"annotations": {"patched": "true"}}})),
            )
            .await;
        assert_eq!(patched["metadata"]["annotations"]["patched"], "true");

        let mut to_update = t.get(&one).await;
        to_update["metadata"]["annotations"]["updated"] = json!("true");
        let updated = t.must(200, "PUT", &one, Some(to_update)).await;
        assert_eq!(updated["metadata"]["annotations"]["updated"], "true");

        await_modified(
            &mut w,
            |i: &k8s_openapi::api::networking::v1::IngressClass| {
                annotation(&i.metadata, "patched") == Some("true")
                    && annotation(&i.metadata, "updated") == Some("true")
            },
        )
        .await;

        t.must(200, "DELETE", &one, None).await;
        let (code, _) = t.call("GET", &one, JSON, None).await;
        assert_eq!(code, 404);
        assert_eq!(items(&t.get(&format!("{base}?{sel}")).await).len(), 2);

        t.must(200, "DELETE", &format!("{base}?{sel}"), None).await;
        assert_eq!(items(&t.get(&format!("{base}?{sel}")).await).len(), 0);
    });
}

/// [sig-network] EndpointSlice should support creating EndpointSlice API operations [Conformance]
#[test]
fn endpointslice_supports_creating_endpointslice_api_operations() {
    with_api(|t| async move {
        let ns = "endpointslice-1";
        let unique = "endpointslice-1-unique";
        t.create_namespace(ns).await;
        expect_discovered(&t, "discovery.k8s.io", "v1", &["endpointslices"]).await;
        let template = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"generateName": "e2e-example-ing", "labels": {"special-label": unique}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["1.2.3.4", "5.6.7.8"]}, {"addresses": ["2.2.3.4", "6.6.7.8"]}]});
        let base = format!("/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices");
        t.must(201, "POST", &base, Some(template.clone())).await;
        t.must(201, "POST", &base, Some(template.clone())).await;
        let created = t.must(201, "POST", &base, Some(template)).await;
        let name = created["metadata"]["name"].as_str().unwrap().to_string();
        let one = format!("{base}/{name}");
        assert_eq!(
            t.get(&one).await["metadata"]["uid"],
            created["metadata"]["uid"]
        );

        let sel = format!("labelSelector=special-label%3D{unique}");
        let list = t.get(&format!("{base}?{sel}")).await;
        assert_eq!(items(&list).len(), 3, "filtered list should have 3 items");
        let list_rv = list["metadata"]["resourceVersion"].as_str().unwrap();
        let wp = WatchParams::default().labels(&format!("special-label={unique}"));
        let api: Api<EndpointSlice> = Api::namespaced(t.client.clone(), ns);
        let mut w = api.watch(&wp, list_rv).await.unwrap().boxed();

        let cluster = t
            .get(&format!("/apis/discovery.k8s.io/v1/endpointslices?{sel}"))
            .await;
        assert_eq!(
            items(&cluster).len(),
            3,
            "filtered list should have 3 items"
        );
        let cluster_api: Api<EndpointSlice> = Api::all(t.client.clone());
        let _cw = cluster_api.watch(&wp, list_rv).await.unwrap().boxed();

        let patched = t
            .must(
                200,
                "PATCH",
                &one,
                Some(json!({"metadata": {"annotations": {"patched": "true"}}})),
            )
            .await;
        assert_eq!(patched["metadata"]["annotations"]["patched"], "true");
        let mut to_update = t.get(&one).await;
        to_update["metadata"]["annotations"]["updated"] = json!("true");
        let updated = t.must(200, "PUT", &one, Some(to_update)).await;
        assert_eq!(updated["metadata"]["annotations"]["updated"], "true");

        await_modified(&mut w, |e: &EndpointSlice| {
            annotation(&e.metadata, "patched") == Some("true")
        })
        .await;

        t.must(200, "DELETE", &one, None).await;
        let (code, _) = t.call("GET", &one, JSON, None).await;
        assert_eq!(code, 404, "expected 404");
        assert_eq!(items(&t.get(&format!("{base}?{sel}")).await).len(), 2);
        t.must(200, "DELETE", &format!("{base}?{sel}"), None).await;
        assert_eq!(items(&t.get(&format!("{base}?{sel}")).await).len(), 0);
    });
}

/// [sig-network] EndpointSlice should have Endpoints and EndpointSlices pointing to API Server [Conformance]
#[test]
fn endpointslice_has_endpoints_and_endpointslices_pointing_to_api_server() {
    with_api(|t| async move {
        t.get("/api/v1/namespaces/default/services/kubernetes")
            .await;
        let endpoints = t
            .get("/api/v1/namespaces/default/endpoints/kubernetes")
            .await;
        let subsets = endpoints["subsets"].as_array().cloned().unwrap_or_default();
        assert!(
            !subsets.is_empty(),
            "Expected at least 1 subset in endpoints"
        );
        let slices = t
            .get("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dkubernetes")
            .await;
        assert!(
            !items(&slices).is_empty(),
            "Expected at least 1 EndpointSlice"
        );

        // upstream `endpointSlicesEqual`: same addresses and the same port.
        let mut ep_addrs: Vec<String> = Vec::new();
        let mut ep_ports: Vec<i64> = Vec::new();
        for s in &subsets {
            for a in s["addresses"].as_array().into_iter().flatten() {
                ep_addrs.push(a["ip"].as_str().unwrap().to_string());
            }
            for p in s["ports"].as_array().into_iter().flatten() {
                ep_ports.push(p["port"].as_i64().unwrap());
            }
        }
        let mut es_addrs: Vec<String> = Vec::new();
        let mut es_ports: Vec<i64> = Vec::new();
        for slice in items(&slices) {
            for e in slice["endpoints"].as_array().into_iter().flatten() {
                for a in e["addresses"].as_array().into_iter().flatten() {
                    es_addrs.push(a.as_str().unwrap().to_string());
                }
            }
            for p in slice["ports"].as_array().into_iter().flatten() {
                es_ports.push(p["port"].as_i64().unwrap());
            }
        }
        ep_addrs.sort();
        es_addrs.sort();
        ep_ports.sort();
        es_ports.sort();
        assert_eq!(ep_addrs, es_addrs, "addresses differ: {endpoints} {slices}");
        assert_eq!(ep_ports, es_ports, "ports differ: {endpoints} {slices}");
    });
}

/// [sig-network] Services should find a service from listing all namespaces [Conformance]
#[test]
fn services_find_a_service_from_listing_all_namespaces() {
    with_api(|t| async move {
        let list = t.get("/api/v1/services").await;
        assert!(
            names_in(&list).contains(&("default".into(), "kubernetes".into())),
            "failed to find service kubernetes in namespace default: {list}"
        );
    });
}
