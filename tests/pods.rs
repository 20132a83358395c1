//! The pod lifecycle end to end: `k3rs server` with its in-process agent runs pods on the host's
//! containerd and reports them as the upstream kubelet does — phases, restarts with back-off,
//! probes, OOM kills, image pull errors, graceful deletion, removal of unknown pods' sandboxes
//! and adoption after a restart — checked through stock kubectl 1.33 (and CRI for what the
//! runtime holds). Root and containerd are required; the tests skip with a
//! clear message without them.

mod common;

use std::time::{Duration, Instant};

use common::node::NODE_NAME;
use common::{Server, wait_for};
use serde_json::Value;

fn busybox() -> &'static str {
    common::images::BUSYBOX_IMAGE
}

fn apply(server: &Server, manifest: &str) {
    server.ok_stdin(
        "1.33",
        &["apply", "-f", "-"],
        &manifest.replace("IMAGE", busybox()),
    );
}

fn pod(server: &Server, name: &str) -> Option<Value> {
    server.get_json("1.33", &["pod", name])
}

/// The ID and restart count of pod `name`'s container once it runs.
fn running(server: &Server, name: &str) -> (String, i64) {
    wait_pod(server, name, 60, "running", |p| {
        let s = p.pointer("/status/containerStatuses/0")?;
        s["state"]["running"].is_object().then(|| {
            (
                str_at(s, "/containerID").to_string(),
                s["restartCount"].as_i64().unwrap_or(-1),
            )
        })
    })
}

fn wait_pod<T>(
    server: &Server,
    name: &str,
    secs: u64,
    what: &str,
    f: impl Fn(&Value) -> Option<T>,
) -> T {
    let mut last = Value::Null;
    let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for(secs, &format!("pod {name}: {what}"), || {
            let p = pod(server, name)?;
            last = p.clone();
            f(&p)
        })
    }));
    match found {
        Ok(v) => v,
        Err(_) => panic!(
            "pod {name}: timed out waiting for {what}; last status: {}",
            serde_json::to_string_pretty(&last["status"]).unwrap_or_default()
        ),
    }
}

fn condition(p: &Value, ty: &str) -> String {
    p.pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == ty))
        .and_then(|c| c["status"].as_str())
        .unwrap_or("")
        .to_string()
}

fn time(rfc3339: &str) -> k8s_openapi::jiff::Timestamp {
    rfc3339
        .parse()
        .unwrap_or_else(|e| panic!("time {rfc3339:?}: {e}"))
}

fn str_at<'a>(v: &'a Value, path: &str) -> &'a str {
    v.pointer(path).and_then(Value::as_str).unwrap_or("")
}

const LIFECYCLE: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: done}
spec:
  restartPolicy: Never
  containers:
  - {name: main, image: IMAGE, command: ["sh", "-c", "echo finished"]}
---
apiVersion: v1
kind: Pod
metadata: {name: exit3}
spec:
  restartPolicy: OnFailure
  containers:
  - {name: main, image: IMAGE, command: ["sh", "-c", "echo -n exiting with 3 > /dev/termination-log; exit 3"]}
---
apiVersion: v1
kind: Pod
metadata: {name: liveness}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: IMAGE
    command: ["sh", "-c", "touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 3600"]
    livenessProbe:
      exec: {command: ["cat", "/tmp/healthy"]}
      periodSeconds: 1
      failureThreshold: 1
---
apiVersion: v1
kind: Pod
metadata: {name: readiness}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: IMAGE
    command: ["sleep", "3600"]
    readinessProbe:
      httpGet: {path: /, port: 8080}
      periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: IMAGE
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: [{name: http, containerPort: 8080}]
    readinessProbe:
      httpGet: {path: /index.html, port: http}
      periodSeconds: 1
    livenessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {name: startup}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: IMAGE
    command: ["sh", "-c", "sleep 6; touch /tmp/up; sleep 3600"]
    startupProbe:
      exec: {command: ["cat", "/tmp/up"]}
      periodSeconds: 1
      failureThreshold: 30
    livenessProbe:
      exec: {command: ["cat", "/tmp/up"]}
      periodSeconds: 1
      failureThreshold: 1
---
apiVersion: v1
kind: Pod
metadata: {name: oom}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: IMAGE
    command: ["sh", "-c", "x=0123456789; while true; do x=$x$x; done"]
    resources:
      limits: {memory: 16Mi}
---
apiVersion: v1
kind: Pod
metadata: {name: init}
spec:
  restartPolicy: Never
  volumes: [{name: work, emptyDir: {}}]
  initContainers:
  - name: first
    image: IMAGE
    command: ["sh", "-c", "echo one > /work/order"]
    volumeMounts: [{name: work, mountPath: /work}]
  - name: second
    image: IMAGE
    command: ["sh", "-c", "echo two >> /work/order"]
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: main
    image: IMAGE
    command: ["sh", "-c", "test \"$(cat /work/order)\" = \"$(printf 'one\\ntwo')\""]
    volumeMounts: [{name: work, mountPath: /work}]
---
apiVersion: v1
kind: Pod
metadata: {name: hostnet}
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: IMAGE, command: ["sleep", "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: badimage}
spec:
  containers:
  - {name: main, image: k3rs.local/does-not-exist:1}
"#;

/// [sig-node] InitContainer [NodeConformance] should invoke init containers on a RestartNever pod [Conformance]
/// [sig-node] Probing container should be restarted with a exec "cat /tmp/health" liveness probe [NodeConformance] [Conformance]
#[test]
fn pods_run_restart_probe_and_report_as_upstream() {
    require_node_parts!();
    let server = Server::start_with_agent(&[]);
    apply(&server, LIFECYCLE);
    // While its startup probe fails, the container runs but is neither started nor ready.
    wait_pod(&server, "startup", 60, "running, not started yet", |p| {
        let s = p.pointer("/status/containerStatuses/0")?;
        (s["state"]["running"].is_object() && s["started"] == false && s["ready"] == false)
            .then_some(())
    });

    // Exit 3 under OnFailure: restarted, CrashLoopBackOff in between, exit 3 in lastState.
    let first = wait_pod(&server, "exit3", 60, "the first restart in back-off", |p| {
        let s = p.pointer("/status/containerStatuses/0")?;
        (s["restartCount"] == 1 && str_at(s, "/state/waiting/reason") == "CrashLoopBackOff")
            .then(|| s.clone())
    });
    assert_eq!(first["lastState"]["terminated"]["exitCode"], 3);
    assert_eq!(first["lastState"]["terminated"]["reason"], "Error");
    assert_eq!(
        first["lastState"]["terminated"]["message"], "exiting with 3",
        "the termination message"
    );
    let message = str_at(&first, "/state/waiting/message");
    assert!(
        message.starts_with("back-off 10s restarting failed container=main pod=exit3_default("),
        "upstream's back-off message, got {message:?}"
    );
    let exit3 = pod(&server, "exit3").unwrap_or_default();
    assert_eq!(
        str_at(&exit3, "/status/phase"),
        "Running",
        "OnFailure restarting: Running"
    );
    // The next run starts only after the 10 s back-off.
    let second = wait_pod(&server, "exit3", 60, "the second restart", |p| {
        let s = p.pointer("/status/containerStatuses/0")?;
        (s["restartCount"] == 2 && str_at(s, "/state/waiting/reason") == "CrashLoopBackOff")
            .then(|| s.clone())
    });
    let first_end = time(str_at(&first, "/lastState/terminated/finishedAt"));
    let second_start = time(str_at(&second, "/lastState/terminated/startedAt"));
    let waited = second_start.duration_since(first_end).as_secs_f64();
    assert!(
        waited >= 9.0,
        "restarted {waited} s after the previous exit, before the back-off ended"
    );

    // A bad image: ErrImagePull, then ImagePullBackOff with the pull error.
    wait_pod(&server, "badimage", 60, "ErrImagePull", |p| {
        (str_at(p, "/status/containerStatuses/0/state/waiting/reason") == "ErrImagePull")
            .then_some(())
    });
    let waiting = wait_pod(&server, "badimage", 60, "ImagePullBackOff", |p| {
        let w = p.pointer("/status/containerStatuses/0/state/waiting")?;
        (w["reason"] == "ImagePullBackOff").then(|| w.clone())
    });
    let message = str_at(&waiting, "/message");
    assert!(
        message.starts_with("Back-off pulling image \"k3rs.local/does-not-exist:1\"")
            && message.contains("Failed to pull image"),
        "a clear message, got {message:?}"
    );
    // Exit 0 under restartPolicy Never: Succeeded, Completed, the sandbox released.
    let done = wait_pod(&server, "done", 60, "phase Succeeded", |p| {
        (str_at(p, "/status/phase") == "Succeeded").then(|| p.clone())
    });
    let term = &done["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(term["exitCode"], 0);
    assert_eq!(term["reason"], "Completed");
    assert!(str_at(term, "/containerID").starts_with("containerd://"));
    assert_eq!(condition(&done, "Ready"), "False");
    assert_eq!(condition(&done, "PodScheduled"), "True");
    assert_eq!(str_at(&done, "/status/hostIP"), "127.0.0.1");
    assert!(str_at(&done, "/status/podIP").starts_with("10.42."));
    assert!(done.pointer("/status/startTime").is_some());

    // A failing liveness probe restarts the container and fills lastState.
    let status = wait_pod(&server, "liveness", 60, "a liveness restart", |p| {
        let s = p.pointer("/status/containerStatuses/0")?;
        (s["restartCount"].as_i64()? >= 1 && s["lastState"]["terminated"].is_object())
            .then(|| s.clone())
    });
    assert_eq!(
        status["lastState"]["terminated"]["exitCode"], 137,
        "killed after its 1 s grace"
    );
    let events = server.ok(
        "1.33",
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=liveness",
            "-o",
            "json",
        ],
    );
    assert!(
        events.contains("Liveness probe failed: cat: can't open '/tmp/healthy'"),
        "{events}"
    );
    assert!(
        events.contains("Container main failed liveness probe, will be restarted"),
        "{events}"
    );

    // Readiness: a failing probe keeps the pod not Ready; a passing one makes it Ready.
    let web = wait_pod(&server, "web", 60, "Ready", |p| {
        (condition(p, "Ready") == "True").then(|| p.clone())
    });
    assert_eq!(web["status"]["containerStatuses"][0]["ready"], true);
    assert_eq!(web["status"]["phase"], "Running");
    let not_ready = wait_pod(&server, "readiness", 60, "Running", |p| {
        (str_at(p, "/status/phase") == "Running").then(|| p.clone())
    });
    std::thread::sleep(Duration::from_secs(3));
    let not_ready = pod(&server, "readiness").unwrap_or(not_ready);
    assert_eq!(condition(&not_ready, "Ready"), "False");
    assert_eq!(condition(&not_ready, "ContainersReady"), "False");
    assert_eq!(not_ready["status"]["containerStatuses"][0]["ready"], false);
    assert_eq!(
        not_ready
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|cs| cs
                .iter()
                .find(|c| c["type"] == "Ready")
                .map(|c| c["reason"].clone())),
        Some(Value::from("ContainersNotReady"))
    );

    // A startup probe holds the liveness probe back: no restart, started once it passes.
    let started = wait_pod(&server, "startup", 60, "started", |p| {
        let s = p.pointer("/status/containerStatuses/0")?;
        (s["started"] == true).then(|| s.clone())
    });
    assert_eq!(
        started["restartCount"], 0,
        "liveness did not run before startup passed"
    );
    assert_eq!(started["ready"], true);

    // Init containers run in order, each to completion, before the app container.
    let init = wait_pod(&server, "init", 60, "finished", |p| {
        matches!(str_at(p, "/status/phase"), "Succeeded" | "Failed").then(|| p.clone())
    });
    assert_eq!(
        str_at(&init, "/status/phase"),
        "Succeeded",
        "the app saw both init containers' output in order"
    );
    for n in 0..2 {
        let t = &init["status"]["initContainerStatuses"][n]["state"]["terminated"];
        assert_eq!(
            (t["exitCode"].clone(), t["reason"].clone()),
            (0.into(), "Completed".into())
        );
    }
    assert_eq!(condition(&init, "Initialized"), "True");

    // hostNetwork: the node's network, so the node's IP.
    let hostnet = wait_pod(&server, "hostnet", 60, "Running", |p| {
        (str_at(p, "/status/phase") == "Running").then(|| p.clone())
    });
    assert_eq!(str_at(&hostnet, "/status/podIP"), "127.0.0.1");
    assert_eq!(condition(&hostnet, "Ready"), "True");

    // Over its memory limit: OOMKilled.
    let oom = wait_pod(&server, "oom", 60, "terminated", |p| {
        let t = p.pointer("/status/containerStatuses/0/state/terminated")?;
        Some(t.clone())
    });
    assert_eq!(oom["reason"], "OOMKilled");
    assert_eq!(oom["exitCode"], 137);

    // The node stayed Ready through all of it.
    let node = server
        .get_json("1.33", &["node", NODE_NAME])
        .unwrap_or_default();
    let ready = node["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .map(|c| c["status"].clone());
    assert_eq!(ready, Some(Value::from("True")));
}

const GRACEFUL: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: traps}
spec:
  terminationGracePeriodSeconds: 4
  containers:
  - name: main
    image: IMAGE
    command: ["sh", "-c", "trap 'echo ignoring TERM' TERM; while true; do sleep 1; done"]
---
apiVersion: v1
kind: Pod
metadata: {name: exits}
spec:
  terminationGracePeriodSeconds: 30
  containers:
  - name: main
    image: IMAGE
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
---
apiVersion: v1
kind: Pod
metadata: {name: hooks}
spec:
  terminationGracePeriodSeconds: 10
  containers:
  - name: main
    image: IMAGE
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    lifecycle:
      postStart:
        exec: {command: ["sh", "-c", "echo started > /tmp/post-start"]}
      preStop:
        exec: {command: ["sh", "-c", "sleep 2"]}
    readinessProbe:
      exec: {command: ["cat", "/tmp/post-start"]}
      periodSeconds: 1
"#;

fn delete_seconds(server: &Server, name: &str) -> f64 {
    let started = Instant::now();
    server.ok(
        "1.33",
        &["delete", "pod", name, "--wait=true", "--timeout=60s"],
    );
    started.elapsed().as_secs_f64()
}

/// [sig-node] Container Lifecycle Hook when create a pod with lifecycle hook should execute poststart exec hook properly [NodeConformance] [Conformance]
#[test]
fn deletion_honours_sigterm_the_grace_period_and_hooks_and_leaves_nothing() {
    require_node_parts!();
    let server = Server::start_with_agent(&[]);
    apply(&server, GRACEFUL);
    for name in ["traps", "exits", "hooks"] {
        wait_pod(&server, name, 60, "Running", |p| {
            (str_at(p, "/status/phase") == "Running").then_some(())
        });
    }
    // The postStart hook ran in the container: its file makes the readiness probe pass.
    wait_pod(&server, "hooks", 30, "Ready", |p| {
        (condition(p, "Ready") == "True").then_some(())
    });

    let traps = delete_seconds(&server, "traps");
    assert!(
        (3.5..15.0).contains(&traps),
        "a container ignoring SIGTERM goes after its 4 s grace period, took {traps:.1} s"
    );
    let exits = delete_seconds(&server, "exits");
    assert!(
        exits < 3.0,
        "a container that exits on SIGTERM goes at once, took {exits:.1} s"
    );
    let hooks = delete_seconds(&server, "hooks");
    assert!(
        (1.8..9.0).contains(&hooks),
        "the 2 s preStop hook runs before SIGTERM, took {hooks:.1} s"
    );
    for name in ["traps", "exits", "hooks"] {
        assert!(pod(&server, name).is_none(), "pod {name} is gone");
    }

    let rt = runtime();
    rt.block_on(async {
        let cri = cri(&server).await;
        // Deleted pods leave no sandbox and no container behind.
        let (sandboxes, containers) = pod_names_in_runtime(&cri).await;
        for name in ["traps", "exits", "hooks"] {
            assert!(
                !sandboxes.contains(&name.to_string()) && !containers.contains(&name.to_string()),
                "pod {name} left {sandboxes:?} / {containers:?}"
            );
        }
        // A sandbox of a pod the API does not know is removed.
        let config = k3rs_cri::v1::PodSandboxConfig {
            metadata: Some(k3rs_cri::v1::PodSandboxMetadata {
                name: "orphan".into(),
                uid: "0f1e2d3c-orphan".into(),
                namespace: "default".into(),
                attempt: 0,
            }),
            hostname: "orphan".into(),
            log_directory: server.data_dir.join("orphan-logs").display().to_string(),
            labels: [
                ("io.kubernetes.pod.name", "orphan"),
                ("io.kubernetes.pod.namespace", "default"),
                ("io.kubernetes.pod.uid", "0f1e2d3c-orphan"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            ..Default::default()
        };
        cri.runtime()
            .run_pod_sandbox(k3rs_cri::v1::RunPodSandboxRequest {
                config: Some(config),
                runtime_handler: String::new(),
            })
            .await
            .expect("run an orphan sandbox");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (sandboxes, _) = pod_names_in_runtime(&cri).await;
            if !sandboxes.contains(&"orphan".to_string()) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the orphan sandbox is still there: {sandboxes:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The agent's containerd, as its CRI socket under the test's run dir.
async fn cri(server: &Server) -> k3rs_cri::CriClient {
    let socket = server.data_dir.join("run/containerd/containerd.sock");
    k3rs_cri::CriClient::connect(&socket)
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}", socket.display()))
}

/// The pod names on the runtime's sandboxes and containers.
async fn pod_names_in_runtime(cri: &k3rs_cri::CriClient) -> (Vec<String>, Vec<String>) {
    let name = |labels: &std::collections::HashMap<String, String>| {
        labels
            .get("io.kubernetes.pod.name")
            .cloned()
            .unwrap_or_default()
    };
    let sandboxes = cri
        .runtime()
        .list_pod_sandbox(k3rs_cri::v1::ListPodSandboxRequest { filter: None })
        .await
        .expect("list sandboxes")
        .into_inner()
        .items;
    let containers = cri
        .runtime()
        .list_containers(k3rs_cri::v1::ListContainersRequest { filter: None })
        .await
        .expect("list containers")
        .into_inner()
        .containers;
    (
        sandboxes.iter().map(|s| name(&s.labels)).collect(),
        containers.iter().map(|c| name(&c.labels)).collect(),
    )
}

#[test]
fn a_restarted_agent_adopts_running_containers() {
    require_node_parts!();
    let mut server = Server::start_with_agent(&[]);
    apply(
        &server,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: keeps}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: IMAGE, command: ["sleep", "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: restarted}
spec:
  restartPolicy: OnFailure
  terminationGracePeriodSeconds: 1
  volumes: [{name: data, emptyDir: {}}]
  containers:
  - name: main
    image: IMAGE
    command: ["sh", "-c", "if [ -e /data/ran ]; then exec sleep 3600; fi; touch /data/ran; exit 1"]
    volumeMounts: [{name: data, mountPath: /data}]
"#,
    );
    let keeps = running(&server, "keeps");
    assert_eq!(keeps.1, 0);
    // The first run exits 1 and leaves a mark in the emptyDir; the restarted one keeps running.
    let restarted = wait_pod(&server, "restarted", 60, "running after a restart", |p| {
        let s = p.pointer("/status/containerStatuses/0")?;
        (s["state"]["running"].is_object() && s["restartCount"] == 1)
            .then(|| (str_at(s, "/containerID").to_string(), 1))
    });

    server.restart();
    server.wait_node_ready(NODE_NAME, 90);
    // Give the new agent a few syncs; the containers must be the same ones.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        running(&server, "keeps"),
        keeps,
        "same container ID and restart count after the restart"
    );
    assert_eq!(running(&server, "restarted"), restarted);
}
