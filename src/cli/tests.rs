use std::collections::HashMap;

use super::*;

/// Parses `k3rs <args>` with `env` as the whole environment.
fn parse_with_env(args: &[&str], env: &[(&str, &str)]) -> Result<Command, CliError> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = move |name: &str| env.get(name).cloned();
    parse_from(std::iter::once("k3rs").chain(args.iter().copied()), &lookup)
}

/// A config file in a fresh directory; `--config` pointing at it.
struct ConfigFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn config_file(yaml: &str) -> ConfigFile {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, yaml).unwrap();
    ConfigFile { _dir: dir, path }
}

/// A config path that does not exist, so the real /etc/k3rs/config.yaml never leaks into tests.
fn no_config() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.yaml").display().to_string();
    (dir, path)
}

fn server(args: &[&str], env: &[(&str, &str)]) -> ServerConfig {
    match parse_with_env(args, env).unwrap_or_else(|err| panic!("{err}")) {
        Command::Server(config) => config,
        other => panic!("expected server, got {other:?}"),
    }
}

fn server_error(args: &[&str], env: &[(&str, &str)]) -> String {
    match parse_with_env(args, env) {
        Ok(command) => panic!("expected an error, got {command:?}"),
        Err(err) => {
            assert_eq!(err.exit_code(), 1, "{err}");
            err.to_string()
        }
    }
}

#[test]
fn server_defaults() {
    // An empty config file isolates the test from a real /etc/k3rs/config.yaml.
    let empty = config_file("");
    let config = server(
        &["server"],
        &[("K3RS_CONFIG_FILE", empty.path.to_str().unwrap())],
    );
    assert_eq!(config.data_dir, PathBuf::from("/var/lib/k3rs"));
    assert_eq!(config.bind_address, "0.0.0.0".parse::<IpAddr>().unwrap());
    assert_eq!(config.https_listen_port, 6443);
    assert_eq!(config.advertise_address, None);
    assert!(config.tls_san.is_empty());
    assert_eq!(
        config.write_kubeconfig,
        PathBuf::from("/etc/k3rs/k3rs.yaml")
    );
    assert_eq!(config.write_kubeconfig_mode, 0o600);
    assert_eq!(config.token, None);
    assert_eq!(config.cluster_cidr.to_string(), "10.42.0.0/16");
    assert_eq!(config.service_cidr.to_string(), "10.43.0.0/16");
    assert_eq!(config.cluster_dns, Ipv4Addr::new(10, 43, 0, 10));
    assert_eq!(config.cluster_domain, "cluster.local");
    assert_eq!(config.node_port_range, (30000, 32767));
    assert!(!config.disable_agent);
    assert_eq!(config.node.name, None);
    assert_eq!(config.node.ip, None);
    assert!(config.node.labels.is_empty());
    assert!(config.node.taints.is_empty());
    assert_eq!(config.log_level, LogLevel::Info);
    assert_eq!(config.config_file.as_deref(), Some(empty.path.as_path()));
}

#[test]
fn missing_default_config_file_is_fine() {
    // The default path is only read when neither --config nor K3RS_CONFIG_FILE is given; on a
    // machine without /etc/k3rs/config.yaml this must succeed.
    if Path::new(DEFAULT_CONFIG_FILE).exists() {
        return;
    }
    let config = server(&["server"], &[]);
    assert_eq!(config.config_file, None);
}

#[test]
fn flags_and_short_flags() {
    let file = config_file("");
    let config = server(
        &[
            "server",
            "-c",
            file.path.to_str().unwrap(),
            "-d",
            "/tmp/k3rs-data",
            "--bind-address=127.0.0.1",
            "--https-listen-port",
            "7443",
            "--advertise-address",
            "192.0.2.1",
            "-o",
            "/tmp/kc.yaml",
            "--write-kubeconfig-mode",
            "644",
            "-t",
            "secret",
            "--cluster-cidr",
            "10.52.0.0/16",
            "--service-cidr",
            "10.53.0.0/16",
            "--cluster-domain",
            "example.internal",
            "--service-node-port-range",
            "31000-31010",
            "--disable-agent",
            "--node-name",
            "node-a",
            "--node-ip",
            "192.0.2.2",
            "--node-label",
            "tier=edge",
            "--node-label",
            "example.com/role=db,empty=",
            "--node-taint",
            "dedicated=db:NoSchedule",
            "--node-taint",
            "example.com/gpu:NoExecute",
            "--debug",
        ],
        &[],
    );
    assert_eq!(config.data_dir, PathBuf::from("/tmp/k3rs-data"));
    assert_eq!(config.bind_address, "127.0.0.1".parse::<IpAddr>().unwrap());
    assert_eq!(config.https_listen_port, 7443);
    assert_eq!(config.advertise_address, Some("192.0.2.1".parse().unwrap()));
    assert_eq!(config.write_kubeconfig, PathBuf::from("/tmp/kc.yaml"));
    assert_eq!(config.write_kubeconfig_mode, 0o644);
    assert_eq!(config.token.as_deref(), Some("secret"));
    assert_eq!(config.cluster_cidr.to_string(), "10.52.0.0/16");
    assert_eq!(config.service_cidr.to_string(), "10.53.0.0/16");
    assert_eq!(
        config.cluster_dns,
        Ipv4Addr::new(10, 53, 0, 10),
        "derived from the service CIDR"
    );
    assert_eq!(config.cluster_domain, "example.internal");
    assert_eq!(config.node_port_range, (31000, 31010));
    assert!(config.disable_agent);
    assert_eq!(config.node.name.as_deref(), Some("node-a"));
    assert_eq!(config.node.ip, Some("192.0.2.2".parse().unwrap()));
    assert_eq!(
        config.node.labels,
        vec![
            ("tier".to_string(), "edge".to_string()),
            ("example.com/role".to_string(), "db".to_string()),
            ("empty".to_string(), String::new())
        ]
    );
    assert_eq!(
        config.node.taints,
        vec![
            Taint {
                key: "dedicated".into(),
                value: "db".into(),
                effect: TaintEffect::NoSchedule
            },
            Taint {
                key: "example.com/gpu".into(),
                value: String::new(),
                effect: TaintEffect::NoExecute
            },
        ]
    );
    assert_eq!(config.log_level, LogLevel::Debug);
    let taints: Vec<String> = config.node.taints.iter().map(ToString::to_string).collect();
    assert_eq!(
        taints,
        vec!["dedicated=db:NoSchedule", "example.com/gpu:NoExecute"]
    );
}

#[test]
fn flag_beats_env_beats_file_beats_default() {
    let file = config_file(
        "data-dir: /from/file\n\
         https-listen-port: 1111\n\
         cluster-domain: file.local\n\
         node-name: file-node\n",
    );
    let config_path = file.path.to_str().unwrap();
    let env = [
        ("K3RS_CONFIG_FILE", config_path),
        ("K3RS_DATA_DIR", "/from/env"),
        ("K3RS_HTTPS_LISTEN_PORT", "2222"),
        ("K3RS_NODE_NAME", "env-node"),
    ];
    let config = server(&["server", "--data-dir", "/from/flag"], &env);
    assert_eq!(
        config.data_dir,
        PathBuf::from("/from/flag"),
        "flag beats env and file"
    );
    assert_eq!(config.https_listen_port, 2222, "env beats file");
    assert_eq!(
        config.node.name.as_deref(),
        Some("env-node"),
        "env beats file"
    );
    assert_eq!(config.cluster_domain, "file.local", "file beats default");
    assert_eq!(
        config.bind_address,
        "0.0.0.0".parse::<IpAddr>().unwrap(),
        "default"
    );
    // A flag equal to the default still beats env and file.
    let config = server(&["server", "--https-listen-port", "6443"], &env);
    assert_eq!(config.https_listen_port, 6443);
}

#[test]
fn config_flag_beats_config_env() {
    let from_flag = config_file("cluster-domain: flag.local\n");
    let from_env = config_file("cluster-domain: env.local\n");
    let config = server(
        &["server", "--config", from_flag.path.to_str().unwrap()],
        &[("K3RS_CONFIG_FILE", from_env.path.to_str().unwrap())],
    );
    assert_eq!(config.cluster_domain, "flag.local");
}

#[test]
fn config_file_types_and_k3s_aliases() {
    let file = config_file(
        "tls-san:\n  - a.example.com\n  - 192.0.2.9\n\
         write-kubeconfig-mode: \"0644\"\n\
         disable-agent: true\n\
         node-label: [\"a=1\", \"b=2\"]\n\
         node-taint: key=v:PreferNoSchedule\n\
         v: 5\n\
         node-ip:\n",
    );
    let config = server(&["server", "-c", file.path.to_str().unwrap()], &[]);
    assert_eq!(
        config.tls_san,
        vec!["a.example.com".to_string(), "192.0.2.9".to_string()]
    );
    assert_eq!(config.write_kubeconfig_mode, 0o644);
    assert!(config.disable_agent);
    assert_eq!(config.node.labels.len(), 2);
    assert_eq!(config.node.taints[0].effect, TaintEffect::PreferNoSchedule);
    assert_eq!(config.log_level, LogLevel::Trace);
    assert_eq!(config.node.ip, None, "null means unset");

    let unquoted_mode = config_file("write-kubeconfig-mode: 0644\n");
    let config = server(&["server", "-c", unquoted_mode.path.to_str().unwrap()], &[]);
    assert_eq!(
        config.write_kubeconfig_mode, 0o644,
        "an unquoted YAML 0644 still means octal 644"
    );
    let yaml_octal = config_file("write-kubeconfig-mode: 0o640\n");
    let config = server(&["server", "-c", yaml_octal.path.to_str().unwrap()], &[]);
    assert_eq!(config.write_kubeconfig_mode, 0o640);

    let empty = config_file("");
    let env = [
        ("K3RS_CONFIG_FILE", empty.path.to_str().unwrap()),
        ("K3RS_KUBECONFIG_MODE", "0640"),
        ("K3RS_KUBECONFIG_OUTPUT", "/tmp/out.yaml"),
        ("K3RS_DISABLE_AGENT", "true"),
    ];
    let config = server(&["server"], &env);
    assert_eq!(config.write_kubeconfig_mode, 0o640);
    assert_eq!(config.write_kubeconfig, PathBuf::from("/tmp/out.yaml"));
    assert!(config.disable_agent);
    // `--disable-agent=false` on the command line beats the environment.
    assert!(!server(&["server", "--disable-agent=false"], &env).disable_agent);
}

#[test]
fn tls_san_is_repeatable_and_comma_separated() {
    let empty = config_file("tls-san: from-file.example\n");
    let config = server(
        &[
            "server",
            "-c",
            empty.path.to_str().unwrap(),
            "--tls-san",
            "a.example,10.0.0.1",
            "--tls-san=b.example",
        ],
        &[("K3RS_TLS_SAN", "from-env.example")],
    );
    assert_eq!(config.tls_san, vec!["a.example", "10.0.0.1", "b.example"]);
    let config = server(
        &["server", "-c", empty.path.to_str().unwrap()],
        &[("K3RS_TLS_SAN", "x.example, y.example")],
    );
    assert_eq!(config.tls_san, vec!["x.example", "y.example"]);
    let config = server(&["server", "-c", empty.path.to_str().unwrap()], &[]);
    assert_eq!(config.tls_san, vec!["from-file.example"]);
}

#[test]
fn bad_values_name_the_flag_and_the_problem() {
    let empty = config_file("");
    let c = empty.path.to_str().unwrap();
    let err = server_error(&["server", "-c", c, "--service-cidr", "10.43.0.0/99"], &[]);
    assert_eq!(
        err,
        "invalid value \"10.43.0.0/99\" for --service-cidr: prefix must be 0-32"
    );
    let err = server_error(&["server", "-c", c, "--cluster-cidr", "banana"], &[]);
    assert!(
        err.contains("--cluster-cidr") && err.contains("banana"),
        "{err}"
    );
    let err = server_error(
        &[
            "server",
            "-c",
            c,
            "--service-node-port-range",
            "32767-30000",
        ],
        &[],
    );
    assert!(
        err.contains("--service-node-port-range") && err.contains("above"),
        "{err}"
    );
    let err = server_error(
        &["server", "-c", c, "--service-node-port-range", "30000"],
        &[],
    );
    assert!(err.contains("LOW-HIGH"), "{err}");
    let err = server_error(
        &["server", "-c", c, "--node-taint", "key=value:Sometimes"],
        &[],
    );
    assert!(
        err.contains("--node-taint") && err.contains("NoSchedule"),
        "{err}"
    );
    let err = server_error(&["server", "-c", c, "--node-taint", "novalue"], &[]);
    assert!(err.contains("--node-taint"), "{err}");
    let err = server_error(&["server", "-c", c, "--write-kubeconfig-mode", "0999"], &[]);
    assert!(
        err.contains("--write-kubeconfig-mode") && err.contains("octal"),
        "{err}"
    );
    let err = server_error(
        &["server", "-c", c, "--write-kubeconfig-mode", "01777"],
        &[],
    );
    assert!(err.contains("--write-kubeconfig-mode"), "{err}");
    let err = server_error(&["server", "-c", c, "--https-listen-port", "70000"], &[]);
    assert!(err.contains("--https-listen-port"), "{err}");
    let err = server_error(&["server", "-c", c, "--node-label", "no-equals"], &[]);
    assert!(
        err.contains("--node-label") && err.contains("key=value"),
        "{err}"
    );
    let err = server_error(&["server", "-c", c, "--node-name", "Upper_Case"], &[]);
    assert!(err.contains("--node-name"), "{err}");
    let err = server_error(&["server", "-c", c, "--cluster-dns", "10.44.0.10"], &[]);
    assert!(
        err.contains("--cluster-dns") && err.contains("not inside"),
        "{err}"
    );
    let err = server_error(&["server", "-c", c, "--tls-san", "bad name"], &[]);
    assert!(err.contains("--tls-san"), "{err}");
    let err = server_error(&["server", "-c", c, "--bind-address", "nowhere"], &[]);
    assert!(err.contains("--bind-address"), "{err}");
    // The origin of a bad value is named.
    let err = server_error(
        &["server", "-c", c],
        &[("K3RS_SERVICE_CIDR", "10.43.0.0/99")],
    );
    assert!(err.contains("K3RS_SERVICE_CIDR"), "{err}");
    let bad_file = config_file("cluster-cidr: 10.42.0.0/40\n");
    let err = server_error(&["server", "-c", bad_file.path.to_str().unwrap()], &[]);
    assert!(
        err.contains("--cluster-cidr") && err.contains(bad_file.path.to_str().unwrap()),
        "{err}"
    );
}

#[test]
fn unknown_config_key_is_an_error() {
    let file = config_file("data-dir: /x\nno-such-flag: 1\n");
    let err = server_error(&["server", "-c", file.path.to_str().unwrap()], &[]);
    assert!(
        err.contains("\"no-such-flag\"") && err.contains(file.path.to_str().unwrap()),
        "{err}"
    );
    // Flag spellings with underscores are not config keys.
    let file = config_file("data_dir: /x\n");
    assert!(server_error(&["server", "-c", file.path.to_str().unwrap()], &[]).contains("data_dir"));
    // A single-valued flag does not take a list.
    let file = config_file("data-dir: [/a, /b]\n");
    assert!(
        server_error(&["server", "-c", file.path.to_str().unwrap()], &[]).contains("single value")
    );
    // Not a mapping.
    let file = config_file("- a\n- b\n");
    assert!(server_error(&["server", "-c", file.path.to_str().unwrap()], &[]).contains("mapping"));
}

#[test]
fn missing_explicit_config_file_is_an_error() {
    let (_dir, absent) = no_config();
    let err = server_error(&["server", "--config", &absent], &[]);
    assert!(
        err.contains(&absent) && err.contains("does not exist"),
        "{err}"
    );
    let err = server_error(&["server"], &[("K3RS_CONFIG_FILE", &absent)]);
    assert!(
        err.contains(&absent) && err.contains("K3RS_CONFIG_FILE"),
        "{err}"
    );
}

#[test]
fn token_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let token_path = dir.path().join("token");
    std::fs::write(&token_path, "  file-secret\n").unwrap();
    let empty = config_file("");
    let c = empty.path.to_str().unwrap();
    let config = server(
        &[
            "server",
            "-c",
            c,
            "--token-file",
            token_path.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(config.token.as_deref(), Some("file-secret"));
    let config = server(
        &[
            "server",
            "-c",
            c,
            "--token-file",
            token_path.to_str().unwrap(),
        ],
        &[("K3RS_TOKEN", "env-secret")],
    );
    assert_eq!(
        config.token.as_deref(),
        Some("env-secret"),
        "--token (here from env) wins over --token-file"
    );
    let missing = dir.path().join("missing");
    let err = server_error(
        &["server", "-c", c, "--token-file", missing.to_str().unwrap()],
        &[],
    );
    assert!(
        err.contains("--token-file") && err.contains("cannot read"),
        "{err}"
    );
}

#[test]
fn usage_errors_help_and_version() {
    let err = parse_with_env(&["server", "--no-such-flag"], &[]).unwrap_err();
    assert_eq!(err.exit_code(), 1);
    assert!(err.to_string().contains("--no-such-flag"), "{err}");
    let err = parse_with_env(&["--version"], &[]).unwrap_err();
    assert_eq!(err.exit_code(), 0);
    assert!(
        err.to_string().starts_with("k3rs version v0.1.0 ("),
        "{err}"
    );
    let err = parse_with_env(&["server", "--help"], &[]).unwrap_err();
    assert_eq!(err.exit_code(), 0);
    let help = err.to_string();
    assert!(
        help.contains("--tls-san") && help.contains("--write-kubeconfig-mode"),
        "{help}"
    );
    assert_eq!(parse_with_env(&[], &[]).unwrap_err().exit_code(), 1);
    assert_eq!(
        parse_with_env(&["frobnicate"], &[])
            .unwrap_err()
            .exit_code(),
        1
    );
    let err = parse_with_env(&["server", "--https-listen-port"], &[]).unwrap_err();
    assert_eq!(err.exit_code(), 1);
}

#[test]
fn agent_flags() {
    let empty = config_file("");
    let c = empty.path.to_str().unwrap();
    let command = parse_with_env(
        &[
            "agent",
            "-c",
            c,
            "-s",
            "https://10.0.0.1:6443/",
            "-t",
            "K10abc::server:x",
            "-d",
            "/data",
            "--node-name",
            "worker-1",
            "--node-ip",
            "10.0.0.2",
            "--node-label",
            "a=b",
            "--node-taint",
            "k:NoSchedule",
        ],
        &[],
    )
    .unwrap();
    let Command::Agent(agent) = command else {
        panic!("expected agent")
    };
    assert_eq!(agent.server, "https://10.0.0.1:6443");
    assert_eq!(agent.token, "K10abc::server:x");
    assert_eq!(agent.data_dir, PathBuf::from("/data"));
    assert_eq!(agent.node.name.as_deref(), Some("worker-1"));
    assert_eq!(agent.node.ip, Some("10.0.0.2".parse().unwrap()));
    assert_eq!(agent.node.labels, vec![("a".to_string(), "b".to_string())]);
    assert_eq!(agent.node.taints[0].key, "k");

    // K3RS_URL (k3s: K3S_URL) and K3RS_TOKEN.
    let command = parse_with_env(
        &["agent", "-c", c],
        &[("K3RS_URL", "https://server:6443"), ("K3RS_TOKEN", "t")],
    )
    .unwrap();
    let Command::Agent(agent) = command else {
        panic!("expected agent")
    };
    assert_eq!(agent.server, "https://server:6443");
    assert_eq!(agent.data_dir, PathBuf::from(DEFAULT_DATA_DIR));

    let err = parse_with_env(&["agent", "-c", c, "-t", "x"], &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("--server"), "{err}");
    let err = parse_with_env(&["agent", "-c", c, "-s", "https://s:6443"], &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("--token"), "{err}");
    let err = parse_with_env(&["agent", "-c", c, "-s", "http://s:6443", "-t", "x"], &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--server") && err.contains("https://"),
        "{err}"
    );
    // Server-only flags are not agent flags.
    assert!(parse_with_env(&["agent", "--tls-san", "x"], &[]).is_err());
}

#[test]
fn simulate_flags_defaults_and_sources() {
    let empty = config_file("");
    let c = empty.path.to_str().unwrap();
    let config = server(&["server", "-c", c], &[]);
    assert_eq!(
        *config.simulate,
        SimulateConfig {
            nodes: 0,
            cpu: "8".into(),
            memory: "32Gi".into(),
            pods: 110,
            labels: Vec::new(),
            taints: Vec::new(),
            pod_completion: std::time::Duration::from_secs(5),
        }
    );

    let config = server(
        &[
            "server",
            "-c",
            c,
            "--simulate-nodes",
            "3",
            "--simulate-node-cpu=7500m",
            "--simulate-node-label",
            "zone=a,rack=r1",
            "--simulate-node-taint",
            "sim=true:NoSchedule",
            "--simulate-pod-completion",
            "500ms",
        ],
        &[("K3RS_SIMULATE_NODE_MEMORY", "64Gi")],
    );
    assert_eq!(config.simulate.nodes, 3);
    assert_eq!(config.simulate.cpu, "7500m");
    assert_eq!(config.simulate.memory, "64Gi");
    assert_eq!(
        config.simulate.labels,
        vec![("zone".into(), "a".into()), ("rack".into(), "r1".into())]
    );
    assert_eq!(config.simulate.taints[0].to_string(), "sim=true:NoSchedule");
    assert_eq!(
        config.simulate.pod_completion,
        std::time::Duration::from_millis(500)
    );

    let file = config_file("simulate-nodes: 1000\nsimulate-node-pods: 250\n");
    let config = server(&["server", "-c", file.path.to_str().unwrap()], &[]);
    assert_eq!(config.simulate.nodes, 1000);
    assert_eq!(config.simulate.pods, 250);
}

#[test]
fn simulate_flags_errors_name_the_flag() {
    let empty = config_file("");
    let c = empty.path.to_str().unwrap();
    for (args, flag) in [
        (&["--simulate-nodes=-1"][..], "--simulate-nodes"),
        (&["--simulate-node-cpu", "lots"][..], "--simulate-node-cpu"),
        (
            &["--simulate-node-memory", "32GB"][..],
            "--simulate-node-memory",
        ),
        (&["--simulate-node-pods", "x"][..], "--simulate-node-pods"),
        (
            &["--simulate-node-label", "novalue"][..],
            "--simulate-node-label",
        ),
        (
            &["--simulate-node-taint", "k=v"][..],
            "--simulate-node-taint",
        ),
        (
            &["--simulate-pod-completion", "soon"][..],
            "--simulate-pod-completion",
        ),
    ] {
        let mut all = vec!["server", "-c", c];
        all.extend_from_slice(args);
        let err = server_error(&all, &[]);
        assert!(err.contains(flag), "{args:?}: {err}");
    }
    for ok in ["8", "7500m", "32Gi", "1e3", "0.5", "100M"] {
        assert_eq!(parse_quantity(ok).as_deref(), Ok(ok));
    }
}

fn images(args: &[&str], env: &[(&str, &str)]) -> ImagesCommand {
    let args: Vec<&str> = std::iter::once("images")
        .chain(args.iter().copied())
        .collect();
    match parse_with_env(&args, env).unwrap_or_else(|err| panic!("{err}")) {
        Command::Images(command) => command,
        other => panic!("expected images, got {other:?}"),
    }
}

#[test]
fn images_talk_to_the_agents_containerd_by_default() {
    let command = images(&["ls"], &[]);
    assert_eq!(command.action, ImagesAction::List);
    assert_eq!(
        command.endpoint,
        PathBuf::from("/run/k3rs/containerd/containerd.sock")
    );
    let command = images(&["ls", "--run-dir", "/tmp/run"], &[]);
    assert_eq!(
        command.endpoint,
        PathBuf::from("/tmp/run/containerd/containerd.sock")
    );
    let command = images(&["ls"], &[("K3RS_RUN_DIR", "/srv/run")]);
    assert_eq!(
        command.endpoint,
        PathBuf::from("/srv/run/containerd/containerd.sock")
    );
}

#[test]
fn images_endpoint_flag_beats_environment_and_run_dir() {
    let env = [("K3RS_CONTAINER_RUNTIME_ENDPOINT", "/env.sock")];
    let command = images(&["import", "a.tar", "b.tar"], &env);
    assert_eq!(command.endpoint, PathBuf::from("/env.sock"));
    assert_eq!(
        command.action,
        ImagesAction::Import(vec![PathBuf::from("a.tar"), PathBuf::from("b.tar")])
    );
    let command = images(
        &[
            "import",
            "--container-runtime-endpoint",
            "unix:///flag.sock",
            "--run-dir",
            "/ignored",
            "a.tar",
        ],
        &env,
    );
    assert_eq!(command.endpoint, PathBuf::from("/flag.sock"));
}

#[test]
fn images_refuse_bad_input_with_clear_errors() {
    let err = parse_with_env(&["images", "import"], &[]).unwrap_err();
    assert!(matches!(err, CliError::Usage(_)), "{err}");
    let err = parse_with_env(&["images"], &[]).unwrap_err();
    assert!(matches!(err, CliError::Usage(_)), "{err}");
    let env = [("K3RS_CONTAINER_RUNTIME_ENDPOINT", "relative.sock")];
    let err = parse_with_env(&["images", "ls"], &env).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("--container-runtime-endpoint")
            && message.contains("K3RS_CONTAINER_RUNTIME_ENDPOINT")
            && message.contains("absolute unix socket path"),
        "{message}"
    );
}
