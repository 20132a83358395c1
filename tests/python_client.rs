//! Acceptance: the official Kubernetes Python client (pip package `kubernetes`) can create from
//! YAML, server-side apply, patch and watch against a real `k3rs server`.
//! `scripts/test.sh` provides the client in a virtualenv and names its python in
//! `K3RS_TEST_PYTHON`.

mod common;

use common::Server;

#[test]
fn official_python_client_creates_applies_patches_and_watches() {
    let python = std::env::var("K3RS_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = std::process::Command::new(&python)
        .args(["-c", "import kubernetes"])
        .output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "the Python client is missing: run ./scripts/test.sh (it installs it in a virtualenv) or set K3RS_TEST_PYTHON"
    );
    let server = Server::start(&[]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/client_check.py");
    let out = std::process::Command::new(&python)
        .arg(script)
        .arg(&server.kubeconfig)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python client checks failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
