use super::*;
use serde_json::json;

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

fn check(f: fn(&str) -> Vec<String>, input: &str, expected: &[&str]) {
    assert_eq!(f(input), expected, "input {input:?}");
}

#[test]
fn dns1123_subdomain() {
    let f = is_dns1123_subdomain;
    check(f, "example.com", &[]);
    check(f, "a", &[]);
    check(f, "0-0.a1", &[]);
    check(f, &"a".repeat(253), &[]);
    check(
        f,
        &"a".repeat(254),
        &["must be no more than 253 characters"],
    );
    check(f, "", &[SUBDOMAIN_MSG]);
    check(f, "Nginx", &[SUBDOMAIN_MSG]);
    check(f, "a..b", &[SUBDOMAIN_MSG]);
    check(f, "-a", &[SUBDOMAIN_MSG]);
    check(f, "a-", &[SUBDOMAIN_MSG]);
    check(f, "a_b", &[SUBDOMAIN_MSG]);
    check(f, ".a", &[SUBDOMAIN_MSG]);
}

#[test]
fn dns1123_label() {
    let f = is_dns1123_label;
    check(f, "my-name", &[]);
    check(f, "123-abc", &[]);
    check(f, &"a".repeat(63), &[]);
    check(f, &"a".repeat(64), &["must be no more than 63 characters"]);
    check(f, "a.b", &["must not contain dots"]);
    check(f, "A", &[LABEL_MSG]);
    check(f, "", &[LABEL_MSG]);
}

#[test]
fn dns1035_label() {
    let f = is_dns1035_label;
    check(f, "my-svc", &[]);
    check(f, "1abc", &[DNS1035_MSG]);
    check(f, "a.b", &[DNS1035_MSG]);
    check(f, &"a".repeat(64), &["must be no more than 63 characters"]);
}

#[test]
fn qualified_name() {
    let f = is_qualified_name;
    let name_regex = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    check(f, "app", &[]);
    check(f, "app.kubernetes.io/name", &[]);
    check(f, "My_Key.1", &[]);
    check(
        f,
        "a/b/c",
        &[
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
        ],
    );
    check(f, "/a", &["prefix part must be non-empty"]);
    check(f, "a/", &["name part must be non-empty", name_regex]);
    check(
        f,
        "Bad.Prefix/a",
        &[&format!("prefix part {SUBDOMAIN_MSG}")],
    );
    check(f, "-a", &[name_regex]);
    check(
        f,
        &"a".repeat(64),
        &["name part must be no more than 63 characters"],
    );
}

#[test]
fn label_value() {
    let f = is_label_value;
    check(f, "", &[]);
    check(f, "v1.2_x-Y", &[]);
    check(
        f,
        "-x",
        &[
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        ],
    );
    check(f, &"a".repeat(64), &["must be no more than 63 characters"]);
}

#[test]
fn config_map_key() {
    let f = is_config_map_key;
    let re = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
    check(f, "app.properties", &[]);
    check(f, ".env", &[]);
    check(f, "a/b", &[re]);
    check(f, "", &[re]);
    check(f, ".", &["must not be '.'"]);
    check(f, "..", &["must not be '..'"]);
    check(f, "..a", &["must not start with '..'"]);
}

#[test]
fn port_names_and_numbers() {
    check(is_valid_port_name, "http", &[]);
    check(is_valid_port_name, "http-alt2", &[]);
    check(
        is_valid_port_name,
        "8080",
        &["must contain at least one letter (a-z)"],
    );
    check(
        is_valid_port_name,
        "a--b",
        &["must not contain consecutive hyphens"],
    );
    check(
        is_valid_port_name,
        "Http",
        &["must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"],
    );
    assert!(is_valid_port_num(65535).is_empty());
    assert_eq!(
        is_valid_port_num(0),
        ["must be between 1 and 65535, inclusive"]
    );
}

#[test]
fn path_segment() {
    check(is_path_segment_name, "system:controller:x", &[]);
    check(is_path_segment_name, "..", &["may not be '..'"]);
    check(
        is_path_segment_name,
        "a/b%",
        &["may not contain '/'", "may not contain '%'"],
    );
    assert!(NameRule::PathSegment.check("..", true).is_empty());
}

#[test]
fn name_rules_per_kind() {
    assert_eq!(NameRule::for_kind("", "Namespace"), NameRule::Dns1123Label);
    assert_eq!(NameRule::for_kind("", "Service"), NameRule::Dns1035Label);
    assert_eq!(NameRule::for_kind("", "Pod"), NameRule::Dns1123Subdomain);
    assert_eq!(
        NameRule::for_kind("rbac.authorization.k8s.io", "ClusterRole"),
        NameRule::PathSegment
    );
    // generateName may end in '-'.
    assert!(NameRule::Dns1123Subdomain.check("web-", true).is_empty());
    assert!(!NameRule::Dns1123Subdomain.check("web-", false).is_empty());
}

fn meta_errors(meta: serde_json::Value, namespaced: bool, rule: NameRule) -> Vec<String> {
    validate_object_meta(Some(&meta), namespaced, rule, "metadata")
        .iter()
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn object_meta() {
    let cases: Vec<(serde_json::Value, bool, NameRule, Vec<String>)> = vec![
        (json!({"name": "web", "namespace": "default"}), true, NameRule::Dns1123Subdomain, vec![]),
        (json!({"generateName": "web-", "name": "web-abcde", "namespace": "default"}), true, NameRule::Dns1123Subdomain, vec![]),
        (
            json!({"namespace": "default"}),
            true,
            NameRule::Dns1123Subdomain,
            vec!["metadata.name: Required value: name or generateName is required".into()],
        ),
        (json!({"name": "web"}), true, NameRule::Dns1123Subdomain, vec!["metadata.namespace: Required value".into()]),
        (
            json!({"name": "web", "namespace": "x"}),
            false,
            NameRule::Dns1123Subdomain,
            vec!["metadata.namespace: Forbidden: not allowed on this type".into()],
        ),
        (
            json!({"name": "a".repeat(64), "namespace": "default"}),
            true,
            NameRule::Dns1123Subdomain,
            vec![],
        ),
        (
            json!({"name": "a".repeat(64)}),
            false,
            NameRule::Dns1123Label,
            vec![format!("metadata.name: Invalid value: \"{}\": must be no more than 63 characters", "a".repeat(64))],
        ),
        (
            json!({"name": "Web", "namespace": "default"}),
            true,
            NameRule::Dns1123Subdomain,
            vec![format!("metadata.name: Invalid value: \"Web\": {SUBDOMAIN_MSG}")],
        ),
        (
            json!({"name": "web", "namespace": "default", "labels": {"app": "-x"}}),
            true,
            NameRule::Dns1123Subdomain,
            vec!["metadata.labels: Invalid value: \"-x\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".into()],
        ),
        (
            json!({"name": "web", "namespace": "default", "annotations": {"Example.COM/Key": "v"}}),
            true,
            NameRule::Dns1123Subdomain,
            vec![],
        ),
        (
            json!({"name": "web", "namespace": "default", "annotations": {"k": "x".repeat(262_144)}}),
            true,
            NameRule::Dns1123Subdomain,
            vec!["metadata.annotations: Too long: may not be more than 262144 bytes".into()],
        ),
    ];
    for (meta, namespaced, rule, expected) in cases {
        assert_eq!(
            meta_errors(meta.clone(), namespaced, rule),
            expected,
            "meta {meta}"
        );
    }
    // A missing metadata object is reported like an empty one.
    let errs = validate_object_meta(None, false, NameRule::Dns1123Subdomain, "metadata");
    assert_eq!(errs.len(), 1);
}
