//! What goes into a container besides its image, end to end on `k3rs server` with its
//! in-process agent (real containerd, runc, CNI) and stock kubectl 1.33: ConfigMap and
//! Secret values as env and files, a ConfigMap change reaching the file within 60 s, a
//! downwardAPI labels file, an emptyDir shared by two containers, the pod's
//! /etc/resolv.conf and /etc/hosts.
//!
//! The containers copy what they see into a hostPath directory the test reads, so the
//! checks see the containers' view without needing exec. Root and containerd are required;
//! the test skips with a clear message without them.

mod common;

use std::path::Path;

use common::{Server, wait_for};

const POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: config-pod
  labels: {app: cfg, tier: backend}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: IMAGE
    resources:
      limits: {memory: 64Mi}
    command: ["sh", "-c"]
    args:
    - |
      env > /out/env.tmp && mv /out/env.tmp /out/env
      while true; do
        for f in greeting mode; do cat /etc/config/$f > /out/$f.tmp 2>/dev/null && mv /out/$f.tmp /out/$f; done
        cat /etc/secret/password > /out/password.tmp && mv /out/password.tmp /out/password
        cat /etc/podinfo/labels > /out/labels.tmp && mv /out/labels.tmp /out/labels
        cat /shared/msg > /out/shared.tmp 2>/dev/null && mv /out/shared.tmp /out/shared
        cp /etc/resolv.conf /out/resolv.conf
        cp /etc/hosts /out/hosts
        sleep 1
      done
    env:
    - name: GREETING
      valueFrom: {configMapKeyRef: {name: app-config, key: greeting}}
    - name: PASSWORD
      valueFrom: {secretKeyRef: {name: app-secret, key: password}}
    - name: COMBINED
      value: "$(GREETING)-$(PASSWORD)-$$(GREETING)"
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    - name: POD_IP
      valueFrom: {fieldRef: {fieldPath: status.podIP}}
    - name: MEM_LIMIT_MI
      valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}
    envFrom:
    - configMapRef: {name: app-config}
      prefix: CFG_
    volumeMounts:
    - {name: config, mountPath: /etc/config}
    - {name: secret, mountPath: /etc/secret}
    - {name: podinfo, mountPath: /etc/podinfo}
    - {name: shared, mountPath: /shared}
    - {name: out, mountPath: /out}
  - name: writer
    image: IMAGE
    command: ["sh", "-c", "echo from-writer > /data/msg && exec sleep 3600"]
    volumeMounts:
    - {name: shared, mountPath: /data}
  volumes:
  - name: config
    configMap: {name: app-config}
  - name: secret
    secret: {secretName: app-secret}
  - name: podinfo
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
  - name: shared
    emptyDir: {}
  - name: out
    hostPath: {path: OUT_DIR, type: DirectoryOrCreate}
"#;

fn read(dir: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(name)).ok()
}

/// [sig-node] ConfigMap should be consumable via environment variable [NodeConformance] [Conformance]
/// [sig-node] Secrets should be consumable from pods in env vars [NodeConformance] [Conformance]
/// [sig-node] Variable Expansion should allow composing env vars into new env vars [NodeConformance] [Conformance]
/// [sig-storage] ConfigMap updates should be reflected in volume [NodeConformance] [Conformance]
/// [sig-storage] EmptyDir volumes pod should support shared volumes between containers [Conformance]
#[test]
fn config_maps_secrets_downward_api_empty_dir_and_dns_reach_the_container() {
    require_node_parts!();
    let server = Server::start_with_agent(&[]);
    let out = server.data_dir.join("pod-out");
    server.ok(
        "1.33",
        &[
            "create",
            "configmap",
            "app-config",
            "--from-literal=greeting=hello",
            "--from-literal=mode=fast",
        ],
    );
    server.ok(
        "1.33",
        &[
            "create",
            "secret",
            "generic",
            "app-secret",
            "--from-literal=password=s3cr3t",
        ],
    );
    let manifest = POD
        .replace("IMAGE", common::images::BUSYBOX_IMAGE)
        .replace("OUT_DIR", &out.display().to_string());
    server.ok_stdin("1.33", &["apply", "-f", "-"], &manifest);

    let env = wait_for(120, "the container to write its environment", || {
        read(&out, "env")
    });
    let var = |name: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
    };
    assert_eq!(var("GREETING").as_deref(), Some("hello"), "{env}");
    assert_eq!(var("PASSWORD").as_deref(), Some("s3cr3t"), "{env}");
    assert_eq!(
        var("COMBINED").as_deref(),
        Some("hello-s3cr3t-$(GREETING)"),
        "{env}"
    );
    assert_eq!(var("CFG_greeting").as_deref(), Some("hello"), "{env}");
    assert_eq!(var("CFG_mode").as_deref(), Some("fast"), "{env}");
    assert_eq!(var("POD_NAME").as_deref(), Some("config-pod"), "{env}");
    assert_eq!(var("MEM_LIMIT_MI").as_deref(), Some("64"), "{env}");
    // The status reaches the API a moment after the container has started.
    let pod_ip = wait_for(30, "the pod's IP in its status", || {
        let ip = server.ok(
            "1.33",
            &["get", "pod", "config-pod", "-o", "jsonpath={.status.podIP}"],
        );
        (!ip.is_empty()).then_some(ip)
    });
    assert_eq!(var("POD_IP").as_deref(), Some(pod_ip.as_str()), "{env}");

    let file = |name: &str| wait_for(30, &format!("/out/{name}"), || read(&out, name));
    assert_eq!(file("greeting"), "hello");
    assert_eq!(file("mode"), "fast");
    assert_eq!(file("password"), "s3cr3t");
    assert_eq!(file("labels"), "app=\"cfg\"\ntier=\"backend\"");
    assert_eq!(
        file("shared"),
        "from-writer\n",
        "emptyDir shared by two containers"
    );

    let resolv = file("resolv.conf");
    assert!(resolv.contains("nameserver 10.43.0.10"), "{resolv}");
    assert!(
        resolv.contains("search default.svc.cluster.local svc.cluster.local cluster.local"),
        "{resolv}"
    );
    assert!(resolv.contains("options ndots:5"), "{resolv}");
    let hosts = file("hosts");
    assert!(
        hosts.starts_with("# Kubernetes-managed hosts file."),
        "{hosts}"
    );
    assert!(
        hosts.contains(&format!("{pod_ip}\tconfig-pod\n")),
        "{hosts}"
    );

    // A ConfigMap change reaches the mounted file within 60 s; the env var keeps its value
    // (env is fixed at container start).
    server.ok(
        "1.33",
        &[
            "patch",
            "configmap",
            "app-config",
            "--type=merge",
            "-p",
            r#"{"data":{"greeting":"bonjour"}}"#,
        ],
    );
    wait_for(60, "the configMap file to show the new value", || {
        (read(&out, "greeting").as_deref() == Some("bonjour")).then_some(())
    });
    assert_eq!(read(&out, "mode").as_deref(), Some("fast"));

    server.ok("1.33", &["delete", "pod", "config-pod", "--wait=true"]);
}

const RECLAIMED_PV: &str = r#"
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pvc-gone-uid
  annotations: {pv.kubernetes.io/provisioned-by: rancher.io/local-path}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: local-path
  persistentVolumeReclaimPolicy: Delete
  hostPath: {path: DIR, type: DirectoryOrCreate}
  claimRef: {namespace: default, name: gone, uid: gone-uid}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: kubernetes.io/hostname, operator: In, values: [reclaim-node]}
"#;

/// The agent's object source against a real API server: a new ConfigMap is announced and
/// served from the cache, and when the PV binder deletes a local-path volume whose claim is
/// gone (reclaim policy Delete), the volume's directory on its node is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_source_follows_the_api_and_reclaims_local_path_directories() {
    use k3rs_kubelet::objects::{KubeObjects, ObjectChange, ObjectKind, ObjectSource};
    use std::time::Duration;

    let server = Server::start(&[]);
    let objects = KubeObjects::start(server.client().await, Some("reclaim-node".into()));
    let mut changes = objects.subscribe();
    tokio::time::timeout(Duration::from_secs(30), objects.wait_until_ready())
        .await
        .expect("the watches list within 30 s")
        .expect("the watches run");
    assert!(objects.config_map("default", "watched").is_none());

    server.ok(
        "1.33",
        &["create", "configmap", "watched", "--from-literal=k=v1"],
    );
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match changes.recv().await {
                Ok(ObjectChange::Changed(key))
                    if key.kind == ObjectKind::ConfigMap && key.name == "watched" =>
                {
                    assert_eq!(key.namespace, "default");
                    return;
                }
                Ok(_) => continue,
                Err(e) => panic!("change notifications stopped: {e}"),
            }
        }
    })
    .await
    .expect("the ConfigMap's creation is announced within 10 s");
    let cm = objects
        .config_map("default", "watched")
        .expect("the ConfigMap is cached");
    assert_eq!(cm.data.as_ref().expect("data")["k"], "v1");
    assert!(
        cm.metadata.managed_fields.is_none(),
        "managedFields are not kept"
    );

    let dir = server.data_dir.join("storage/pvc-gone-uid_default_gone");
    std::fs::create_dir_all(dir.join("sub")).expect("volume dir");
    std::fs::write(dir.join("sub/data"), "x").expect("volume data");
    let manifest = RECLAIMED_PV.replace("DIR", &dir.display().to_string());
    server.ok_stdin("1.33", &["apply", "-f", "-"], &manifest);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while dir.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the reclaimed volume's directory was not removed within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let gone = server.kubectl("1.33", &["get", "pv", "pvc-gone-uid"]);
    assert!(!gone.status.success(), "the binder deleted the volume");
}

const CLAIM_POD: &str = r#"
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  # Named explicitly: the API server has no DefaultStorageClass admission yet.
  storageClassName: local-path
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: claim-pod}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: IMAGE
    command: ["sh", "-c", "echo persisted > /data/file && grep -q persisted /data/file"]
    volumeMounts:
    - {name: data, mountPath: /data, subPath: nested/dir}
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: data}
"#;

/// A claim of the default local-path class: the node makes the volume's directory under
/// `<data-dir>/storage`, the container writes through a subPath, and deleting the claim
/// (reclaim policy Delete) removes the directory from the node.
#[test]
fn local_path_claims_get_a_node_directory_that_goes_with_the_claim() {
    require_node_parts!();
    let server = Server::start_with_agent(&[]);
    let manifest = CLAIM_POD.replace("IMAGE", common::images::BUSYBOX_IMAGE);
    server.ok_stdin("1.33", &["apply", "-f", "-"], &manifest);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let out = server.kubectl(
            "1.33",
            &["get", "pod", "claim-pod", "-o", "jsonpath={.status.phase}"],
        );
        match String::from_utf8_lossy(&out.stdout).as_ref() {
            "Succeeded" => break,
            "Failed" => panic!("the container could not write to its claim"),
            _ if std::time::Instant::now() > deadline => {
                let state = server.kubectl("1.33", &["describe", "pod,pvc,pv"]);
                panic!(
                    "the claim pod did not finish within 120 s:\n{}",
                    String::from_utf8_lossy(&state.stdout)
                );
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(500)),
        }
    }
    let volume = server.ok(
        "1.33",
        &["get", "pvc", "data", "-o", "jsonpath={.spec.volumeName}"],
    );
    let path = server.ok(
        "1.33",
        &["get", "pv", &volume, "-o", "jsonpath={.spec.hostPath.path}"],
    );
    let dir = Path::new(&path);
    assert!(
        dir.starts_with(server.data_dir.join("storage")),
        "{path} is under the data dir's storage"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("nested/dir/file")).expect("the file on the node"),
        "persisted\n"
    );
    server.ok("1.33", &["delete", "pod", "claim-pod", "--wait=true"]);
    server.ok("1.33", &["delete", "pvc", "data", "--wait=true"]);
    wait_for(60, "the volume's directory to be removed", || {
        (!dir.exists()).then_some(())
    });
}
