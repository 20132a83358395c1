use std::os::unix::fs::PermissionsExt;

use base64::Engine;

use super::*;

#[test]
fn kubeconfig_has_k3s_layout() {
    let yaml = kubeconfig_yaml("https://127.0.0.1:6443", "CA PEM", "CERT PEM", "KEY PEM");
    let doc: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
    let decode = |v: &serde_json::Value| {
        String::from_utf8(STANDARD.decode(v.as_str().unwrap()).unwrap()).unwrap()
    };
    assert_eq!(doc["apiVersion"], "v1");
    assert_eq!(doc["kind"], "Config");
    assert_eq!(doc["current-context"], "default");
    let cluster = &doc["clusters"][0];
    assert_eq!(cluster["name"], "default");
    assert_eq!(cluster["cluster"]["server"], "https://127.0.0.1:6443");
    assert_eq!(
        decode(&cluster["cluster"]["certificate-authority-data"]),
        "CA PEM"
    );
    let context = &doc["contexts"][0];
    assert_eq!(context["name"], "default");
    assert_eq!(context["context"]["cluster"], "default");
    assert_eq!(context["context"]["user"], "default");
    let user = &doc["users"][0];
    assert_eq!(user["name"], "default");
    assert_eq!(decode(&user["user"]["client-certificate-data"]), "CERT PEM");
    assert_eq!(decode(&user["user"]["client-key-data"]), "KEY PEM");
}

#[test]
fn write_kubeconfig_uses_exact_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("etc/k3rs/k3rs.yaml");
    write_kubeconfig(&path, "a: b\n", 0o600).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
        0o600
    );
    write_kubeconfig(&path, "a: c\n", 0o644).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
        0o644
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a: c\n");
}
