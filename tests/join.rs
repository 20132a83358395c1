//! Joining a real `k3rs server` (no in-process agent): the agent's join function and the
//! `k3rs agent` binary against the server's join endpoints, with stock kubectl checking who the
//! issued certificate authenticates as.

mod common;

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Server, free_port, raw, require_kubectl};
use k3rs_kubelet::join::{self, JoinError, NodeCredentials};

fn node_token(server: &Server) -> String {
    std::fs::read_to_string(server.data_dir.join("server/node-token"))
        .expect("node-token")
        .trim()
        .to_string()
}

fn server_url(server: &Server) -> String {
    format!("https://127.0.0.1:{}", server.port)
}

fn agent_dir(server: &Server, name: &str) -> PathBuf {
    server.data_dir.join(name).join("agent")
}

fn node_ips() -> Vec<IpAddr> {
    vec!["127.0.0.1".parse().unwrap(), "10.99.0.7".parse().unwrap()]
}

async fn join_as(
    server: &Server,
    token: &str,
    node: &str,
    dir: &Path,
) -> Result<NodeCredentials, JoinError> {
    tokio::time::timeout(
        Duration::from_secs(60),
        join::join(&server_url(server), token, node, &node_ips(), dir),
    )
    .await
    .expect("join neither finished nor failed within 60 s")
}

/// `kubectl auth whoami -o json` (kubectl 1.33) with the node's kubeconfig.
fn whoami(kubeconfig: &Path) -> serde_json::Value {
    let out = Command::new(require_kubectl("1.33"))
        .args(["auth", "whoami", "-o", "json"])
        .env("KUBECONFIG", kubeconfig)
        .stdin(Stdio::null())
        .output()
        .expect("run kubectl");
    assert!(
        out.status.success(),
        "kubectl auth whoami failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("whoami json")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_joins_with_the_token_and_acts_as_itself() {
    let server = Server::start(&[]);
    let dir = agent_dir(&server, "worker-1");
    let credentials = join_as(&server, &node_token(&server), "worker-1", &dir)
        .await
        .expect("join");

    // Files: certificates, keys 0600, the CA exactly as the server serves it, a kubeconfig.
    let ca = read(&server.data_dir, "server/tls/server-ca.crt");
    assert_eq!(credentials.ca_pem, ca);
    assert_eq!(read(&dir, "server-ca.crt"), ca);
    assert_eq!(read(&dir, "client-ca.crt"), ca);
    assert_eq!(
        read(&dir, "client-kubelet.crt"),
        credentials.client_cert_pem
    );
    assert_eq!(
        read(&dir, "serving-kubelet.key"),
        credentials.serving_key_pem
    );
    for secret in [
        "client-kubelet.key",
        "serving-kubelet.key",
        "node-password",
        "kubelet.kubeconfig",
    ] {
        assert_eq!(mode(&dir.join(secret)), 0o600, "{secret}");
    }

    // The serving certificate names the node and its addresses; both chain to the cluster CA.
    let serving = k3rs_pki::inspect_cert(Path::new("serving"), &credentials.serving_cert_pem, &ca)
        .expect("serving cert");
    assert!(serving.signed_by_ca && serving.server_auth && !serving.client_auth);
    assert_eq!(serving.names.dns_names, vec!["worker-1".to_string()]);
    assert_eq!(serving.names.ips, node_ips());
    let client_cert =
        k3rs_pki::inspect_cert(Path::new("client"), &credentials.client_cert_pem, &ca)
            .expect("client cert");
    assert!(client_cert.signed_by_ca && client_cert.client_auth && !client_cert.server_auth);

    // Stock kubectl with the node's kubeconfig is system:node:worker-1 in system:nodes.
    let me = whoami(&dir.join("kubelet.kubeconfig"));
    assert_eq!(me["status"]["userInfo"]["username"], "system:node:worker-1");
    let groups = me["status"]["userInfo"]["groups"]
        .as_array()
        .expect("groups");
    assert!(groups.iter().any(|g| g == "system:nodes"), "{groups:?}");

    // The node client can register its Node.
    let nodes: kube::Api<k8s_openapi::api::core::v1::Node> =
        kube::Api::all(credentials.kube_client().expect("node client"));
    let node: k8s_openapi::api::core::v1::Node =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "worker-1"}})).unwrap();
    nodes
        .create(&Default::default(), &node)
        .await
        .expect("create own Node");

    // …but is no administrator: upstream's system:node rules apply.
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
        kube::Api::all(credentials.kube_client().expect("node client"));
    let namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": "taken"}}))
        .expect("namespace");
    match namespaces.create(&Default::default(), &namespace).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403, "{status:?}"),
        other => panic!("a node created a namespace: {other:?}"),
    }

    // The server keeps only a hash of the node password.
    let secret = server
        .get_json(
            "1.33",
            &["secret", "-n", "kube-system", "worker-1.node-password.k3rs"],
        )
        .expect("node password secret");
    assert_eq!(secret["type"], "k3rs.io/node-password");
    let password = read(&dir, "node-password");
    assert!(!secret.to_string().contains(password.trim()));

    // A restart with the same agent dir reuses everything.
    let again = join_as(&server, &node_token(&server), "worker-1", &dir)
        .await
        .expect("second join");
    assert_eq!(again, credentials);
    assert_eq!(
        read(&dir, "client-kubelet.crt"),
        credentials.client_cert_pem
    );

    // New addresses: a new serving certificate, the client certificate stays.
    let moved = tokio::time::timeout(
        Duration::from_secs(60),
        join::join(
            &server_url(&server),
            &node_token(&server),
            "worker-1",
            &["10.99.0.8".parse().unwrap()],
            &dir,
        ),
    )
    .await
    .expect("join in time")
    .expect("join with new address");
    assert_eq!(moved.client_cert_pem, credentials.client_cert_pem);
    assert_ne!(moved.serving_cert_pem, credentials.serving_cert_pem);
    let names = k3rs_pki::inspect_cert(Path::new("serving"), &moved.serving_cert_pem, &ca)
        .expect("serving cert")
        .names;
    assert_eq!(names.ips, vec!["10.99.0.8".parse::<IpAddr>().unwrap()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_secret_wrong_ca_hash_and_a_taken_node_name_are_refused() {
    let server = Server::start(&[]);
    let token = node_token(&server);
    let (hash, secret) = token
        .strip_prefix("K10")
        .and_then(|rest| rest.split_once("::server:"))
        .expect("full token");

    let wrong_secret = format!("K10{hash}::server:not-{secret}");
    let err = join_as(&server, &wrong_secret, "n1", &agent_dir(&server, "a"))
        .await
        .expect_err("wrong secret must be refused");
    assert!(matches!(err, JoinError::TokenRejected { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("the token is not accepted by the server"),
        "{err}"
    );

    let wrong_hash = format!("K10{}::server:{secret}", "0".repeat(64));
    let err = join_as(&server, &wrong_hash, "n1", &agent_dir(&server, "b"))
        .await
        .expect_err("wrong CA hash must be refused");
    assert!(matches!(err, JoinError::CaMismatch { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("the CA hash in the token does not match"),
        "{message}"
    );
    assert!(message.contains(hash), "{message}");
    // Nothing was sent or written before the CA was checked.
    assert!(!agent_dir(&server, "b").join("server-ca.crt").exists());

    // The first machine takes "n1"; a second machine (own password) cannot.
    join_as(&server, &token, "n1", &agent_dir(&server, "c"))
        .await
        .expect("first join of n1");
    let err = join_as(&server, &token, "n1", &agent_dir(&server, "d"))
        .await
        .expect_err("a second machine must not take n1");
    assert!(matches!(err, JoinError::NodeRejected { .. }), "{err:?}");
    assert!(err.to_string().contains("Node password rejected"), "{err}");
    assert!(err.to_string().contains("node-password"), "{err}");
    // Deleting the Node forgets its password (as k3s): a wiped machine can join again.
    server.ok_stdin(
        "1.33",
        &["create", "-f", "-"],
        "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n",
    );
    server.ok("1.33", &["delete", "node", "n1"]);
    common::wait_for(30, "the node password Secret to go with its Node", || {
        let out = server.kubectl(
            "1.33",
            &[
                "get",
                "secret",
                "-n",
                "kube-system",
                "n1.node-password.k3rs",
            ],
        );
        (!out.status.success()).then_some(())
    });
    join_as(&server, &token, "n1", &agent_dir(&server, "d"))
        .await
        .expect("a new machine takes n1 once its Node is deleted");

    // A bare secret works (trust on first use, as k3s) and pins the CA it saw.
    let bare_dir = agent_dir(&server, "e");
    join_as(&server, secret, "n2", &bare_dir)
        .await
        .expect("bare secret joins");
    assert_eq!(
        read(&bare_dir, "server-ca.crt"),
        read(&server.data_dir, "server/tls/server-ca.crt")
    );
    std::fs::write(bare_dir.join("server-ca.crt"), "another CA\n").unwrap();
    let err = join_as(&server, secret, "n2", &bare_dir)
        .await
        .expect_err("a bare secret must not accept a CA other than the saved one");
    assert!(matches!(err, JoinError::SavedCaMismatch { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn join_endpoints_answer_bad_requests_with_a_status() {
    let server = Server::start(&[]);
    let client = server.client().await;
    let secret = node_token(&server)
        .rsplit_once(':')
        .map(|(_, s)| s.to_string())
        .expect("secret");
    let basic = |credentials: &str| {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        )
    };
    let post = |auth: String, csr: &str| {
        let request = http::Request::post("/v1-k3rs/client-kubelet")
            .header("authorization", auth)
            .header("k3rs-node-name", "n1")
            .header("k3rs-node-password", "pw")
            .body(kube::client::Body::from(csr.as_bytes().to_vec()))
            .expect("request");
        let client = client.clone();
        async move {
            use http_body_util::BodyExt;
            let response = client.send(request).await.expect("send");
            let code = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            (
                code,
                serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_default(),
            )
        }
    };
    let (code, status) = post(basic("node:nope"), "").await;
    assert_eq!(code, 401, "{status}");
    assert_eq!(status["reason"], "Unauthorized");
    let (code, status) = post(basic(&format!("node:{secret}")), "not a CSR").await;
    assert_eq!(code, 400, "{status}");
    assert_eq!(status["kind"], "Status");
    assert!(
        status["message"]
            .as_str()
            .is_some_and(|m| m.contains("invalid certificate signing request")),
        "{status}"
    );
    // Nothing was stored for the malformed request.
    let (code, _) = raw(
        &client,
        "GET",
        "/api/v1/namespaces/kube-system/secrets/n1.node-password.k3rs",
        "application/json",
        Vec::new(),
    )
    .await;
    assert_eq!(code, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_server_is_retried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let pending = tokio::time::timeout(
        Duration::from_secs(4),
        join::join(
            &format!("https://127.0.0.1:{port}"),
            &format!("K10{}::server:secret", "0".repeat(64)),
            "n1",
            &node_ips(),
            dir.path(),
        ),
    )
    .await;
    assert!(
        pending.is_err(),
        "join gave up on a server that is down: {pending:?}"
    );
}

/// `k3rs agent` exits non-zero saying which credential is wrong, before starting anything.
#[test]
fn the_agent_command_says_which_credential_is_wrong() {
    let server = Server::start(&[]);
    let token = node_token(&server);
    let (hash, secret) = token
        .strip_prefix("K10")
        .and_then(|rest| rest.split_once("::server:"))
        .expect("full token");
    for (bad_token, expected) in [
        (
            format!("K10{hash}::server:wrong"),
            "the token is not accepted by the server",
        ),
        (
            format!("K10{}::server:{secret}", "1".repeat(64)),
            "the CA hash in the token does not match",
        ),
    ] {
        let data_dir = tempfile::tempdir().expect("tempdir");
        let config = data_dir.path().join("config.yaml");
        std::fs::write(&config, "{}\n").expect("config file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_k3rs"))
            .arg("agent")
            .arg(format!("--server={}", server_url(&server)))
            .arg(format!("--token={bad_token}"))
            .arg("--data-dir")
            .arg(data_dir.path())
            .args(["--node-name=agent-1", "--node-ip=127.0.0.1"])
            .arg("--config")
            .arg(&config)
            .env_remove("K3RS_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start k3rs agent");
        let status = common::wait_for(30, "k3rs agent to exit", || child.try_wait().ok().flatten());
        let mut stderr = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().expect("stderr"), &mut stderr)
            .expect("stderr");
        assert!(
            !status.success(),
            "agent succeeded with a bad token: {stderr}"
        );
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in: {stderr}"
        );
    }
}
