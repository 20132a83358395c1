//! Strategic merge patch on a 200-container pod: p50/p99 over 1,000 runs.
//!
//! `cargo run --release -p k3rs-api --example smp_bench`

use std::time::{Duration, Instant};

use k3rs_api::strategic::{FieldRef, MergeInfo, MergeSchema, Strategy, apply, apply_owned};
use serde_json::{Value, json};

const POD: &str = "io.k8s.api.core.v1.Pod";
const CONTAINERS: usize = 200;
const RUNS: usize = 1_000;

/// The few Pod fields the patches touch, with upstream's merge keys.
struct PodSchema;

impl MergeSchema for PodSchema {
    fn field<'a>(&'a self, ty: &str, name: &str) -> Option<FieldRef<'a>> {
        let merge = |key, ty| FieldRef {
            ty,
            merge: MergeInfo {
                strategy: Strategy::Merge { key },
                retain_keys: false,
            },
        };
        let plain = |ty| FieldRef {
            ty,
            merge: MergeInfo::default(),
        };
        Some(match (ty, name) {
            (POD, "metadata") => plain(Some("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            (POD, "spec") => plain(Some("io.k8s.api.core.v1.PodSpec")),
            ("io.k8s.api.core.v1.PodSpec", "containers") => {
                merge(Some("name"), Some("io.k8s.api.core.v1.Container"))
            }
            ("io.k8s.api.core.v1.Container", "env") => merge(Some("name"), None),
            ("io.k8s.api.core.v1.Container", "ports") => merge(Some("containerPort"), None),
            ("io.k8s.api.core.v1.Container", "volumeMounts") => merge(Some("mountPath"), None),
            _ => return None,
        })
    }
}

fn pod() -> Value {
    let containers: Vec<Value> = (0..CONTAINERS)
        .map(|i| {
            json!({
                "name": format!("c{i}"), "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "ports": [{"containerPort": 8000 + i, "protocol": "TCP"}],
                "volumeMounts": [{"mountPath": "/data", "name": "data"}],
                "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}},
            })
        })
        .collect();
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "big", "namespace": "default", "labels": {"app": "big"}},
        "spec": {"containers": containers, "restartPolicy": "Always"},
    })
}

/// `kubectl apply` after changing every image and dropping env `B` everywhere.
fn apply_every_container() -> Value {
    let order: Vec<Value> = (0..CONTAINERS)
        .map(|i| json!({"name": format!("c{i}")}))
        .collect();
    let containers: Vec<Value> = (0..CONTAINERS)
        .map(|i| {
            json!({
                "name": format!("c{i}"), "image": "nginx:1.26",
                "$setElementOrder/env": [{"name": "A"}],
                "env": [{"$patch": "delete", "name": "B"}],
            })
        })
        .collect();
    json!({"spec": {"$setElementOrder/containers": order, "containers": containers}})
}

/// `kubectl apply` after changing one image.
fn apply_one_container() -> Value {
    let order: Vec<Value> = (0..CONTAINERS)
        .map(|i| json!({"name": format!("c{i}")}))
        .collect();
    json!({"spec": {"$setElementOrder/containers": order,
        "containers": [{"name": "c100", "image": "nginx:1.26"}]}})
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "{label:<52} p50 {:>7.1} µs   p99 {:>7.1} µs",
        at(0.50).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6
    );
}

fn main() {
    let original = pod();
    for (name, patch) in [
        (
            "every container (image + env delete)",
            apply_every_container(),
        ),
        ("one container (image)", apply_one_container()),
    ] {
        // Warm up, and check the result once.
        let out = apply(&original, &patch, POD, &PodSchema).expect("patch applies");
        assert_eq!(
            out["spec"]["containers"].as_array().map(Vec::len),
            Some(CONTAINERS)
        );

        let timed = (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                let out = apply(&original, &patch, POD, &PodSchema);
                let took = start.elapsed();
                assert!(out.is_ok());
                took
            })
            .collect();
        report(&format!("{CONTAINERS} containers, {name}, apply"), timed);

        let timed = (0..RUNS)
            .map(|_| {
                let copy = original.clone();
                let start = Instant::now();
                let out = apply_owned(copy, &patch, POD, &PodSchema);
                let took = start.elapsed();
                assert!(out.is_ok());
                took
            })
            .collect();
        report(
            &format!("{CONTAINERS} containers, {name}, apply_owned"),
            timed,
        );
    }
}
