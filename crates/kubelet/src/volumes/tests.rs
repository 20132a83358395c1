use super::*;
use crate::objects::ObjectSnapshot;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde_json::{Value, json};
use std::os::unix::fs::MetadataExt;

fn is_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn cm(name: &str, data: Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "namespace": "ns"}, "data": data}))
        .expect("cm")
}

fn pod(volumes: Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "p", "namespace": "ns", "uid": "pod-uid", "labels": {"app": "a"}},
        "spec": {"containers": [{"name": "c", "resources": {"limits": {"memory": "32Mi"}}}], "volumes": volumes}
    }))
    .expect("pod")
}

fn node() -> NodeFacts {
    NodeFacts {
        name: "n1".into(),
        allocatable: BTreeMap::from([("memory".into(), Quantity("1Gi".into()))]),
        ..NodeFacts::default()
    }
}

/// Unmounts and removes the pod directories a test made, also when it fails.
struct PodsDir(tempfile::TempDir);

impl PodsDir {
    fn new() -> Self {
        PodsDir(tempfile::tempdir().expect("tmp"))
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for PodsDir {
    fn drop(&mut self) {
        let _ = mounts::unmount_all_under(self.0.path());
    }
}

#[test]
fn sets_up_disk_volumes_in_the_upstream_layout() {
    let pods = PodsDir::new();
    let mut objects = ObjectSnapshot::default();
    objects.insert_config_map(cm("cfg", json!({"app.conf": "v1"})));
    let host_dir = pods.path().join("host-data");
    let node = node();
    let host = VolumeHost {
        pods_dir: pods.path(),
        node: &node,
        objects: &objects,
    };
    let p = pod(json!([
        {"name": "scratch", "emptyDir": {}},
        {"name": "config", "configMap": {"name": "cfg"}},
        {"name": "info", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
        {"name": "host", "hostPath": {"path": host_dir.to_str().expect("utf8"), "type": "DirectoryOrCreate"}}
    ]));
    let vols = setup_pod_volumes(&host, &p).expect("setup");
    let base = pods.path().join("pod-uid/volumes");
    assert_eq!(
        vols.volumes["scratch"],
        VolumePath {
            host_path: base.join("kubernetes.io~empty-dir/scratch"),
            read_only: false
        }
    );
    assert_eq!(
        fs::metadata(base.join("kubernetes.io~empty-dir/scratch"))
            .expect("meta")
            .permissions()
            .mode()
            & 0o777,
        0o777
    );
    assert_eq!(
        vols.volumes["config"],
        VolumePath {
            host_path: base.join("kubernetes.io~configmap/config"),
            read_only: true
        }
    );
    assert_eq!(
        fs::read_to_string(base.join("kubernetes.io~configmap/config/app.conf")).expect("read"),
        "v1"
    );
    assert_eq!(
        fs::read_to_string(base.join("kubernetes.io~downward-api/info/labels")).expect("read"),
        "app=\"a\""
    );
    assert_eq!(
        vols.volumes["host"],
        VolumePath {
            host_path: host_dir.clone(),
            read_only: false
        }
    );
    assert!(host_dir.is_dir());

    // Again: idempotent.
    assert_eq!(setup_pod_volumes(&host, &p).expect("again"), vols);
}

#[test]
fn refresh_follows_config_map_changes_and_keeps_files_on_errors() {
    let pods = PodsDir::new();
    let mut objects = ObjectSnapshot::default();
    objects.insert_config_map(cm("cfg", json!({"k": "v1"})));
    let node = node();
    let p = pod(json!([
        {"name": "config", "configMap": {"name": "cfg"}},
        {"name": "pinned", "configMap": {"name": "cfg", "items": [{"key": "k", "path": "only-k"}]}}
    ]));
    setup_pod_volumes(
        &VolumeHost {
            pods_dir: pods.path(),
            node: &node,
            objects: &objects,
        },
        &p,
    )
    .expect("setup");
    let file = pods
        .path()
        .join("pod-uid/volumes/kubernetes.io~configmap/config/k");

    let same = refresh_pod_volumes(
        &VolumeHost {
            pods_dir: pods.path(),
            node: &node,
            objects: &objects,
        },
        &p,
    );
    assert_eq!(same, RefreshReport::default());

    objects.insert_config_map(cm("cfg", json!({"k": "v2"})));
    let report = refresh_pod_volumes(
        &VolumeHost {
            pods_dir: pods.path(),
            node: &node,
            objects: &objects,
        },
        &p,
    );
    assert_eq!(
        report.updated,
        vec!["config".to_string(), "pinned".to_string()]
    );
    assert_eq!(fs::read_to_string(&file).expect("read"), "v2");

    // The ConfigMap goes away: errors, the last content stays.
    let empty = ObjectSnapshot::default();
    let report = refresh_pod_volumes(
        &VolumeHost {
            pods_dir: pods.path(),
            node: &node,
            objects: &empty,
        },
        &p,
    );
    assert_eq!(report.errors.len(), 2);
    assert_eq!(
        report.errors[0].to_string(),
        "MountVolume.SetUp failed for volume \"config\" : configmap \"cfg\" not found"
    );
    assert_eq!(fs::read_to_string(&file).expect("read"), "v2");
}

#[test]
fn setup_errors_name_the_volume() {
    let pods = PodsDir::new();
    let objects = ObjectSnapshot::default();
    let node = node();
    let host = VolumeHost {
        pods_dir: pods.path(),
        node: &node,
        objects: &objects,
    };
    let err = |v: Value| {
        setup_pod_volumes(&host, &pod(json!([v])))
            .expect_err("must fail")
            .to_string()
    };
    assert_eq!(
        err(json!({"name": "config", "configMap": {"name": "ghost"}})),
        "MountVolume.SetUp failed for volume \"config\" : configmap \"ghost\" not found"
    );
    assert_eq!(
        err(
            json!({"name": "h", "hostPath": {"path": "/nonexistent/k3rs-test", "type": "Directory"}})
        ),
        "MountVolume.SetUp failed for volume \"h\" : hostPath type check failed: /nonexistent/k3rs-test is not a directory"
    );
    assert_eq!(
        err(json!({"name": "d", "persistentVolumeClaim": {"claimName": "data"}})),
        "MountVolume.SetUp failed for volume \"d\" : persistentvolumeclaim \"data\" not found"
    );
    assert!(
        err(json!({"name": "n", "nfs": {"server": "x", "path": "/"}})).contains("not supported")
    );
    assert!(
        err(json!({"name": "e", "emptyDir": {"medium": "HugePages"}})).contains("not supported")
    );
}

fn claim(phase: &str, volume: &str) -> PersistentVolumeClaim {
    serde_json::from_value(json!({
        "metadata": {"name": "data", "namespace": "ns", "uid": "claim-uid"},
        "spec": {"volumeName": volume},
        "status": {"phase": phase}
    }))
    .expect("claim")
}

fn local_path_pv(path: &Path, node: &str, claim_uid: &str) -> PersistentVolume {
    serde_json::from_value(json!({
        "metadata": {"name": "pvc-claim-uid", "annotations": {"pv.kubernetes.io/provisioned-by": "rancher.io/local-path"}},
        "spec": {
            "hostPath": {"path": path.to_str().expect("utf8"), "type": "DirectoryOrCreate"},
            "claimRef": {"name": "data", "namespace": "ns", "uid": claim_uid},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}
            ]}]}}
        }
    }))
    .expect("pv")
}

#[test]
fn claims_resolve_to_their_local_path_directory() {
    let pods = PodsDir::new();
    let storage = pods.path().join("storage");
    let dir = storage.join("pvc-claim-uid_ns_data");
    let node = node();
    let p = pod(
        json!([{"name": "d", "persistentVolumeClaim": {"claimName": "data", "readOnly": true}}]),
    );

    let mut objects = ObjectSnapshot::default();
    objects.insert_claim(claim("Pending", ""));
    let host = VolumeHost {
        pods_dir: pods.path(),
        node: &node,
        objects: &objects,
    };
    assert_eq!(
        setup_pod_volumes(&host, &p).expect_err("pending").reason,
        "PVC ns/data has non-bound phase (\"Pending\") or empty pvc.Spec.VolumeName (\"\")"
    );

    objects.insert_claim(claim("Bound", "pvc-claim-uid"));
    let host = VolumeHost {
        pods_dir: pods.path(),
        node: &node,
        objects: &objects,
    };
    assert!(
        setup_pod_volumes(&host, &p)
            .expect_err("no pv")
            .reason
            .starts_with("failed to fetch PV pvc-claim-uid")
    );

    objects.insert_volume(local_path_pv(&dir, "n1", "other-uid"));
    let host = VolumeHost {
        pods_dir: pods.path(),
        node: &node,
        objects: &objects,
    };
    assert_eq!(
        setup_pod_volumes(&host, &p)
            .expect_err("wrong claim")
            .reason,
        "found PV object pvc-claim-uid but its pv.Spec.ClaimRef.UID (other-uid) does not point to claim.UID (claim-uid)"
    );

    objects.insert_volume(local_path_pv(&dir, "n1", "claim-uid"));
    let host = VolumeHost {
        pods_dir: pods.path(),
        node: &node,
        objects: &objects,
    };
    let vols = setup_pod_volumes(&host, &p).expect("setup");
    assert_eq!(
        vols.volumes["d"],
        VolumePath {
            host_path: dir.clone(),
            read_only: true
        }
    );
    assert_eq!(
        fs::metadata(&dir).expect("made").permissions().mode() & 0o777,
        0o777
    );
}

#[test]
fn reclaimed_local_path_directories_are_removed_only_when_ours() {
    let tmp = PodsDir::new();
    let storage = tmp.path().join("storage");
    let dir = storage.join("pvc-claim-uid_ns_data");
    fs::create_dir_all(dir.join("sub")).expect("mkdir");
    fs::write(dir.join("sub/file"), "x").expect("write");
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).expect("mkdir");
    std::os::unix::fs::symlink(&outside, dir.join("link")).expect("symlink");

    // Another node's volume: untouched.
    let other = local_path_pv(&dir, "n2", "claim-uid");
    assert_eq!(
        remove_reclaimed_local_path(&other, "n1").expect("other"),
        None
    );
    assert!(dir.exists());
    // Not provisioned by local-path: untouched.
    let mut manual = local_path_pv(&dir, "n1", "claim-uid");
    manual.metadata.annotations = None;
    assert_eq!(
        remove_reclaimed_local_path(&manual, "n1").expect("manual"),
        None
    );
    // A path outside the provisioner's layout: untouched.
    let odd = local_path_pv(tmp.path(), "n1", "claim-uid");
    assert_eq!(remove_reclaimed_local_path(&odd, "n1").expect("odd"), None);
    assert!(tmp.path().exists());

    let ours = local_path_pv(&dir, "n1", "claim-uid");
    assert_eq!(
        remove_reclaimed_local_path(&ours, "n1").expect("ours"),
        Some(dir.clone())
    );
    assert!(!dir.exists());
    assert!(outside.exists());
    assert_eq!(
        remove_reclaimed_local_path(&ours, "n1").expect("gone"),
        None
    );
}

#[test]
fn cleanup_removes_the_pod_directory_but_not_what_links_point_to() {
    let pods = PodsDir::new();
    let objects = ObjectSnapshot::default();
    let node = node();
    let host = VolumeHost {
        pods_dir: pods.path(),
        node: &node,
        objects: &objects,
    };
    let p = pod(json!([{"name": "scratch", "emptyDir": {}}]));
    let vols = setup_pod_volumes(&host, &p).expect("setup");
    let outside = pods.path().join("precious");
    fs::write(&outside, "keep").expect("write");
    std::os::unix::fs::symlink(&outside, vols.volumes["scratch"].host_path.join("link"))
        .expect("symlink");
    fs::write(pods.path().join("pod-uid/etc-hosts"), "hosts").expect("write");

    cleanup_pod(pods.path(), "pod-uid").expect("cleanup");
    assert!(!pods.path().join("pod-uid").exists());
    assert_eq!(fs::read_to_string(&outside).expect("read"), "keep");
    cleanup_pod(pods.path(), "pod-uid").expect("idempotent");
    cleanup_pod(pods.path(), "..").expect("ignored");
    assert!(pods.path().exists());

    // A pod directory that is a symlink is refused.
    let elsewhere = pods.path().join("elsewhere");
    fs::create_dir(&elsewhere).expect("mkdir");
    std::os::unix::fs::symlink(&elsewhere, pods.path().join("evil")).expect("symlink");
    assert!(matches!(
        cleanup_pod(pods.path(), "evil"),
        Err(CleanupError::Symlink(_))
    ));
    assert!(elsewhere.exists());
}

#[test]
fn memory_volumes_are_sized_tmpfs_and_unmounted_on_cleanup() {
    if !is_root() {
        eprintln!(
            "skipping memory_volumes_are_sized_tmpfs_and_unmounted_on_cleanup: needs root to mount"
        );
        return;
    }
    let pods = PodsDir::new();
    let mut objects = ObjectSnapshot::default();
    objects.insert_secret(
        serde_json::from_value::<Secret>(
            json!({"metadata": {"name": "s", "namespace": "ns"}, "data": {"pw": "aHVudGVyMg=="}}),
        )
        .expect("secret"),
    );
    let node = node();
    let host = VolumeHost {
        pods_dir: pods.path(),
        node: &node,
        objects: &objects,
    };
    let p = pod(json!([
        {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
        {"name": "creds", "secret": {"secretName": "s", "defaultMode": 0o400}}
    ]));
    let vols = setup_pod_volumes(&host, &p).expect("setup");
    let mem = &vols.volumes["mem"].host_path;
    let creds = &vols.volumes["creds"].host_path;
    assert!(mounts::is_mount_point(mem).expect("mem"));
    assert!(mounts::is_mount_point(creds).expect("creds"));
    assert_ne!(
        fs::metadata(mem).expect("meta").dev(),
        fs::metadata(pods.path()).expect("meta").dev()
    );
    assert!(
        fs::write(mem.join("big"), vec![0u8; 2 << 20]).is_err(),
        "1Mi limit applies"
    );
    assert_eq!(
        fs::read_to_string(creds.join("pw")).expect("read"),
        "hunter2"
    );
    assert_eq!(
        fs::metadata(creds.join("pw"))
            .expect("meta")
            .permissions()
            .mode()
            & 0o777,
        0o400
    );
    // Setup again does not stack mounts.
    setup_pod_volumes(&host, &p).expect("again");

    cleanup_pod(pods.path(), "pod-uid").expect("cleanup");
    assert!(!pods.path().join("pod-uid").exists());
}

#[test]
fn memory_volume_sizes() {
    let n = node();
    let limited = pod(json!([]));
    assert_eq!(memory_volume_size(Some("1Mi"), &limited, &n), Some(1 << 20));
    assert_eq!(
        memory_volume_size(Some("1Gi"), &limited, &n),
        Some(32 << 20)
    );
    assert_eq!(memory_volume_size(None, &limited, &n), Some(32 << 20));
    let unlimited: Pod =
        serde_json::from_value(json!({"spec": {"containers": [{"name": "a"}]}})).expect("pod");
    assert_eq!(memory_volume_size(None, &unlimited, &n), Some(1 << 30));
    assert_eq!(
        memory_volume_size(None, &unlimited, &NodeFacts::default()),
        None
    );
}

#[test]
fn fs_group_owns_content_and_empty_dir_volumes() {
    let pods = PodsDir::new();
    let mut objects = ObjectSnapshot::default();
    objects.insert_config_map(cm("cfg", json!({"k": "v"})));
    let node = node();
    let host = VolumeHost {
        pods_dir: pods.path(),
        node: &node,
        objects: &objects,
    };
    let mut p = pod(json!([
        {"name": "config", "configMap": {"name": "cfg", "defaultMode": 0o400}},
        {"name": "scratch", "emptyDir": {}}
    ]));
    p.spec.as_mut().expect("spec").security_context =
        Some(serde_json::from_value(json!({"fsGroup": 2000})).expect("security context"));
    let vols = setup_pod_volumes(&host, &p).expect("setup");
    let key = vols.volumes["config"].host_path.join("k");
    let meta = fs::metadata(&key).expect("meta");
    assert_eq!(meta.gid(), 2000);
    assert_eq!(meta.permissions().mode() & 0o777, 0o440);
    let scratch = fs::metadata(&vols.volumes["scratch"].host_path).expect("meta");
    assert_eq!(scratch.gid(), 2000);
    assert_eq!(scratch.permissions().mode() & 0o7777, 0o2777);
    // Refreshing an unchanged volume with the group applied is a no-op.
    assert_eq!(refresh_pod_volumes(&host, &p), RefreshReport::default());
}
