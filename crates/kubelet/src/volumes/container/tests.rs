use super::*;
use crate::volumes::VolumePath;
use serde_json::{Value, json};

fn container(v: Value) -> Container {
    serde_json::from_value(v).expect("container")
}

fn volumes(root: &Path) -> PodVolumes {
    let data = root.join("data");
    fs::create_dir_all(&data).expect("mkdir");
    fs::set_permissions(&data, fs::Permissions::from_mode(0o777)).expect("chmod");
    let cfg = root.join("cfg");
    fs::create_dir_all(&cfg).expect("mkdir");
    PodVolumes {
        volumes: [
            (
                "data".to_string(),
                VolumePath {
                    host_path: data,
                    read_only: false,
                },
            ),
            (
                "cfg".to_string(),
                VolumePath {
                    host_path: cfg,
                    read_only: true,
                },
            ),
        ]
        .into_iter()
        .collect(),
        warnings: vec![],
    }
}

fn env(pairs: &[(&str, &str)]) -> Vec<EnvVar> {
    pairs
        .iter()
        .map(|(n, v)| EnvVar {
            name: n.to_string(),
            value: v.to_string(),
        })
        .collect()
}

#[test]
fn plain_mounts_with_read_only_and_propagation() {
    let tmp = tempfile::tempdir().expect("tmp");
    let vols = volumes(tmp.path());
    let c = container(json!({"name": "c", "volumeMounts": [
        {"name": "data", "mountPath": "/data"},
        {"name": "data", "mountPath": "/ro", "readOnly": true, "mountPropagation": "HostToContainer"},
        {"name": "cfg", "mountPath": "/etc/cfg"}
    ]}));
    let mounts = container_mounts(&c, &vols, &[]).expect("mounts");
    assert_eq!(
        mounts,
        vec![
            Mount {
                container_path: "/data".into(),
                host_path: tmp.path().join("data"),
                readonly: false,
                propagation: Propagation::Private
            },
            Mount {
                container_path: "/ro".into(),
                host_path: tmp.path().join("data"),
                readonly: true,
                propagation: Propagation::HostToContainer
            },
            Mount {
                container_path: "/etc/cfg".into(),
                host_path: tmp.path().join("cfg"),
                readonly: true,
                propagation: Propagation::Private
            },
        ]
    );
}

#[test]
fn sub_paths_are_created_inside_the_volume() {
    let tmp = tempfile::tempdir().expect("tmp");
    let vols = volumes(tmp.path());
    let c = container(json!({"name": "c", "volumeMounts": [
        {"name": "data", "mountPath": "/a", "subPath": "x/y"},
        {"name": "data", "mountPath": "/b", "subPathExpr": "pods/$(POD_NAME)"}
    ]}));
    let mounts = container_mounts(&c, &vols, &env(&[("POD_NAME", "web-1")])).expect("mounts");
    let root = fs::canonicalize(tmp.path()).expect("canon");
    assert_eq!(mounts[0].host_path, root.join("data/x/y"));
    assert_eq!(mounts[1].host_path, root.join("data/pods/web-1"));
    assert!(root.join("data/x/y").is_dir());
    let mode = fs::metadata(root.join("data/x/y"))
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o777, "subdirectories take the volume's mode");
}

#[test]
fn sub_path_errors() {
    let tmp = tempfile::tempdir().expect("tmp");
    let vols = volumes(tmp.path());
    let err = |m: Value, e: &[(&str, &str)]| {
        container_mounts(
            &container(json!({"name": "c", "volumeMounts": [m]})),
            &vols,
            &env(e),
        )
        .expect_err("must fail")
        .to_string()
    };
    assert_eq!(
        err(
            json!({"name": "data", "mountPath": "/a", "subPath": "/etc"}),
            &[]
        ),
        "error SubPath `/etc` must not be an absolute path"
    );
    assert_eq!(
        err(
            json!({"name": "data", "mountPath": "/a", "subPath": "x/../../etc"}),
            &[]
        ),
        "unable to provision SubPath `x/../../etc`: must not contain '..'"
    );
    assert_eq!(
        err(
            json!({"name": "data", "mountPath": "/a", "subPathExpr": "$(B)/$(A)/$(OK)"}),
            &[("OK", "1"), ("A", "")]
        ),
        "missing value for A, B"
    );
    assert_eq!(
        err(json!({"name": "nope", "mountPath": "/a"}), &[]),
        "cannot find volume \"nope\" to mount into container \"c\""
    );
    assert_eq!(
        err(
            json!({"name": "data", "mountPath": "/a", "mountPropagation": "Bidirectional"}),
            &[]
        ),
        "Bidirectional mount propagation is available only to privileged containers"
    );
    assert_eq!(
        err(
            json!({"name": "data", "mountPath": "/a", "mountPropagation": "Sideways"}),
            &[]
        ),
        "invalid MountPropagation mode: \"Sideways\""
    );
    // A symlink inside the volume pointing out of it is refused, and nothing is created
    // outside.
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).expect("mkdir");
    std::os::unix::fs::symlink(&outside, tmp.path().join("data/escape")).expect("symlink");
    let e = err(
        json!({"name": "data", "mountPath": "/a", "subPath": "escape/new"}),
        &[],
    );
    assert!(
        e.starts_with("subpath \"escape/new\" not within volume path"),
        "{e}"
    );
    assert!(!outside.join("new").exists());
    let e = err(
        json!({"name": "data", "mountPath": "/a", "subPath": "escape"}),
        &[],
    );
    assert!(
        e.starts_with("subpath \"escape\" not within volume path"),
        "{e}"
    );
}

#[test]
fn privileged_containers_may_use_bidirectional() {
    let tmp = tempfile::tempdir().expect("tmp");
    let vols = volumes(tmp.path());
    let c = container(
        json!({"name": "c", "securityContext": {"privileged": true}, "volumeMounts": [
            {"name": "data", "mountPath": "/a", "mountPropagation": "Bidirectional"}
        ]}),
    );
    let mounts = container_mounts(&c, &vols, &[]).expect("mounts");
    assert_eq!(mounts[0].propagation, Propagation::Bidirectional);
}

#[test]
fn a_sub_path_to_a_configmap_key_resolves_to_its_file() {
    let tmp = tempfile::tempdir().expect("tmp");
    let vols = volumes(tmp.path());
    let cfg = tmp.path().join("cfg");
    let payload = crate::volumes::payload::Payload::from([(
        "app.conf".to_string(),
        crate::volumes::payload::FileProjection {
            data: b"x".to_vec(),
            mode: 0o644,
        },
    )]);
    crate::volumes::atomic_writer::write_payload(&cfg, &payload, None).expect("write");
    let c = container(json!({"name": "c", "volumeMounts": [
        {"name": "cfg", "mountPath": "/etc/app.conf", "subPath": "app.conf"}
    ]}));
    let mounts = container_mounts(&c, &vols, &[]).expect("mounts");
    assert!(
        mounts[0]
            .host_path
            .starts_with(fs::canonicalize(&cfg).expect("canon"))
    );
    assert_eq!(fs::read(&mounts[0].host_path).expect("read"), b"x");
    assert!(mounts[0].readonly);
}
