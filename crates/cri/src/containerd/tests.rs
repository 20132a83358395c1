use std::path::{Path, PathBuf};

use super::config::{ConfigValues, may_lower_oom_score, render_config, render_template};
use super::started_with_config;

fn values() -> ConfigValues {
    ConfigValues {
        root: PathBuf::from("/data/agent/containerd"),
        state: PathBuf::from("/run/k3rs/containerd/state"),
        address: PathBuf::from("/run/k3rs/containerd/containerd.sock"),
        sandbox_image: "k3rs.local/pause:0.1.0".to_owned(),
        cni_bin_dir: PathBuf::from("/usr/lib/cni"),
        cni_conf_dir: PathBuf::from("/data/agent/etc/cni/net.d"),
        snapshotter: "overlayfs".to_owned(),
        restrict_oom_score_adj: true,
    }
}

/// The value of `key` in the TOML section `section` of `text` (a line-based reading that is
/// enough for the flat configuration we generate).
fn setting(text: &str, section: &str, key: &str) -> Option<String> {
    let mut current = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.to_owned();
        } else if current == section
            && let Some((k, v)) = line.split_once(" = ")
            && k == key
        {
            return Some(v.to_owned());
        }
    }
    None
}

const CRI: &str = r#"plugins."io.containerd.grpc.v1.cri""#;

#[test]
fn generated_config_places_everything_where_the_agent_expects() {
    let text = render_config(&values());
    assert_eq!(setting(&text, "", "version").as_deref(), Some("2"));
    assert_eq!(
        setting(&text, "", "root").as_deref(),
        Some(r#""/data/agent/containerd""#)
    );
    assert_eq!(
        setting(&text, "", "state").as_deref(),
        Some(r#""/run/k3rs/containerd/state""#)
    );
    assert_eq!(
        setting(&text, "grpc", "address").as_deref(),
        Some(r#""/run/k3rs/containerd/containerd.sock""#)
    );
    assert_eq!(
        setting(&text, CRI, "sandbox_image").as_deref(),
        Some(r#""k3rs.local/pause:0.1.0""#)
    );
    assert_eq!(
        setting(&text, CRI, "stream_server_address").as_deref(),
        Some(r#""127.0.0.1""#)
    );
    assert_eq!(
        setting(&text, CRI, "stream_server_port").as_deref(),
        Some(r#""0""#)
    );
    assert_eq!(
        setting(&text, CRI, "restrict_oom_score_adj").as_deref(),
        Some("true")
    );
    let runc = format!("{CRI}.containerd.runtimes.runc");
    assert_eq!(
        setting(&text, &runc, "runtime_type").as_deref(),
        Some(r#""io.containerd.runc.v2""#)
    );
    assert_eq!(
        setting(&text, &format!("{runc}.options"), "SystemdCgroup").as_deref(),
        Some("false")
    );
    let containerd = format!("{CRI}.containerd");
    assert_eq!(
        setting(&text, &containerd, "snapshotter").as_deref(),
        Some(r#""overlayfs""#)
    );
    let cni = format!("{CRI}.cni");
    assert_eq!(
        setting(&text, &cni, "bin_dir").as_deref(),
        Some(r#""/usr/lib/cni""#)
    );
    assert_eq!(
        setting(&text, &cni, "conf_dir").as_deref(),
        Some(r#""/data/agent/etc/cni/net.d""#)
    );
}

#[test]
fn oom_score_restriction_and_snapshotter_follow_the_values() {
    let text = render_config(&ConfigValues {
        restrict_oom_score_adj: false,
        snapshotter: "native".to_owned(),
        ..values()
    });
    assert_eq!(
        setting(&text, CRI, "restrict_oom_score_adj").as_deref(),
        Some("false")
    );
    assert_eq!(
        setting(&text, &format!("{CRI}.containerd"), "snapshotter").as_deref(),
        Some(r#""native""#)
    );
}

#[test]
fn paths_are_escaped_as_toml_strings() {
    let text = render_config(&ConfigValues {
        root: PathBuf::from(r#"/data/a "quoted" \ dir"#),
        ..values()
    });
    assert_eq!(
        setting(&text, "", "root").as_deref(),
        Some(r#""/data/a \"quoted\" \\ dir""#)
    );
}

#[test]
fn template_inserts_the_base_config_and_values() {
    let template = "{{ template \"base\" . }}\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"{{ .Root }}/certs.d\"\n# sandbox {{- .SandboxImage -}} on {{.Address}}\n";
    let text = render_template(template, &values()).expect("renders");
    assert!(text.starts_with(&render_config(&values())));
    assert!(text.contains("config_path = \"/data/agent/containerd/certs.d\""));
    assert!(
        text.contains("# sandboxk3rs.local/pause:0.1.0on /run/k3rs/containerd/containerd.sock")
    );
}

#[test]
fn template_names_every_supported_value() {
    let template =
        "{{.State}} {{.CNIBinDir}} {{.CNIConfDir}} {{.Snapshotter}} {{.RestrictOOMScoreAdj}}";
    assert_eq!(
        render_template(template, &values()).expect("renders"),
        "/run/k3rs/containerd/state /usr/lib/cni /data/agent/etc/cni/net.d overlayfs true"
    );
}

#[test]
fn template_with_an_unknown_action_is_refused_with_the_supported_list() {
    let err = render_template("x = {{ .NodeConfig.AgentConfig.Snapshotter }}", &values())
        .expect_err("unknown action");
    assert_eq!(err.action, ".NodeConfig.AgentConfig.Snapshotter");
    assert!(err.to_string().contains("{{ .SandboxImage }}"), "{err}");
    let err = render_template("x = {{ .Root", &values()).expect_err("unterminated action");
    assert_eq!(err.action, " .Root");
}

#[test]
fn oom_score_capability_is_read_from_the_effective_set() {
    let without = "Name:\tk3rs\nCapPrm:\t000001fffeffffff\nCapEff:\t000001fffeffffff\nCapBnd:\t000001fffeffffff\n";
    let with = "CapEff:\t000001ffffffffff\n";
    assert!(!may_lower_oom_score(without));
    assert!(may_lower_oom_score(with));
    assert!(!may_lower_oom_score("CapEff:\tnot-hex\n"));
    assert!(!may_lower_oom_score(""));
}

#[test]
fn a_running_containerd_is_ours_only_with_our_config() {
    let config = Path::new("/data/agent/etc/containerd/config.toml");
    assert!(started_with_config(
        b"/usr/bin/containerd\0--config\0/data/agent/etc/containerd/config.toml\0",
        config
    ));
    assert!(started_with_config(
        b"containerd\0--config\0/data/agent/etc/containerd/config.toml\0",
        config
    ));
    assert!(!started_with_config(
        b"/usr/bin/containerd\0--config\0/other/config.toml\0",
        config
    ));
    assert!(!started_with_config(
        b"/usr/bin/sleep\0--config\0/data/agent/etc/containerd/config.toml\0",
        config
    ));
    assert!(!started_with_config(b"", config));
}
