//! `k3rs kubectl …`: the system kubectl with the admin kubeconfig, as `k3s kubectl` does.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Where the server writes the admin kubeconfig by default.
const ADMIN_KUBECONFIG: &str = "/etc/k3rs/k3rs.yaml";

/// Replace this process with kubectl; returns only if that fails.
pub fn exec(args: Vec<std::ffi::OsString>) -> anyhow::Error {
    let mut cmd = Command::new("kubectl");
    cmd.args(args);
    if std::env::var_os("KUBECONFIG").is_none() {
        cmd.env("KUBECONFIG", ADMIN_KUBECONFIG);
    }
    let err = cmd.exec();
    anyhow::anyhow!("cannot run kubectl ({err}); install kubectl or put it on PATH")
}
