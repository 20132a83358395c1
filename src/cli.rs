//! The command line of the `k3rs` binary: `k3rs server`, `k3rs agent`, `k3rs --version`.
//!
//! Every flag can also come from the environment (`K3RS_<FLAG_IN_CAPS>`, e.g. `K3RS_DATA_DIR`,
//! plus the k3s aliases such as `K3RS_URL` and `K3RS_KUBECONFIG_MODE`) and from the YAML config
//! file (`--config`, `K3RS_CONFIG_FILE`, default `/etc/k3rs/config.yaml`) whose keys are flag
//! names without dashes (`tls-san: [a, b]`). Precedence: flag, then environment, then config
//! file, then default. The result is a typed, validated [`Command`].

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches};
use k3rs_api::alloc::Ipv4Cidr;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};

/// The default data directory.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/k3rs";
/// The default config file (may be missing).
pub const DEFAULT_CONFIG_FILE: &str = "/etc/k3rs/config.yaml";
/// The default admin kubeconfig path.
pub const DEFAULT_KUBECONFIG: &str = "/etc/k3rs/k3rs.yaml";

/// What the user asked the binary to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `k3rs server`: control plane (and by default a node).
    Server(ServerConfig),
    /// `k3rs agent`: join a cluster as a node.
    Agent(AgentConfig),
    /// `k3rs images import|ls`: manage the node's images by hand.
    Images(ImagesCommand),
}

/// Validated configuration of `k3rs server`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// `--data-dir`: state lives under here (`server/`, `agent/`).
    pub data_dir: PathBuf,
    /// `--bind-address`: address the API server listens on.
    pub bind_address: IpAddr,
    /// `--https-listen-port`: API server port.
    pub https_listen_port: u16,
    /// `--advertise-address`: address other nodes use to reach the API server.
    pub advertise_address: Option<IpAddr>,
    /// `--tls-san`: extra names/addresses for the serving certificate (IPs or DNS names).
    pub tls_san: Vec<String>,
    /// `--write-kubeconfig`: where the admin kubeconfig is written.
    pub write_kubeconfig: PathBuf,
    /// `--write-kubeconfig-mode`: permission bits of the admin kubeconfig.
    pub write_kubeconfig_mode: u32,
    /// `--token`, or the content of `--token-file`: shared secret or full `K10…` token.
    pub token: Option<String>,
    /// `--cluster-cidr`: pod network.
    pub cluster_cidr: Ipv4Cidr,
    /// `--service-cidr`: service ClusterIP network.
    pub service_cidr: Ipv4Cidr,
    /// `--cluster-dns`: cluster DNS service IP (default: the 10th address of the service CIDR).
    pub cluster_dns: Ipv4Addr,
    /// `--cluster-domain`: cluster DNS domain.
    pub cluster_domain: String,
    /// `--service-node-port-range`: inclusive NodePort range.
    pub node_port_range: (u16, u16),
    /// `--disable-agent`: run only the control plane.
    /// `--datastore-compact-interval`: how often history is compacted (None: never).
    pub datastore_compact_interval: Option<std::time::Duration>,
    pub disable_agent: bool,
    /// The node flags (the server runs a node too unless `--disable-agent`).
    pub node: NodeConfig,
    /// `--node-monitor-grace-period`: how long a node's Lease may go unrenewed before the node
    /// lifecycle controller marks it Ready=Unknown (default 40s).
    pub node_monitor_grace_period: std::time::Duration,
    /// `--simulate-*`: simulated nodes (boxed: rarely used, and keeps `Command` small).
    pub simulate: Box<SimulateConfig>,
    /// `--debug` / `-v`: log level.
    pub log_level: LogLevel,
    /// The config file that was read, if any.
    pub config_file: Option<PathBuf>,
}

/// The `--simulate-*` flags of `k3rs server`: simulated nodes (like kwok).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimulateConfig {
    /// `--simulate-nodes`: how many simulated nodes to register (0: none).
    pub nodes: u32,
    /// `--simulate-node-cpu`: cpu capacity of each (a quantity such as `8` or `7500m`).
    pub cpu: String,
    /// `--simulate-node-memory`: memory capacity of each (a quantity such as `32Gi`).
    pub memory: String,
    /// `--simulate-node-pods`: pod capacity of each.
    pub pods: u32,
    /// `--simulate-node-label`: extra labels of the simulated nodes.
    pub labels: Vec<(String, String)>,
    /// `--simulate-node-taint`: taints of the simulated nodes.
    pub taints: Vec<Taint>,
    /// `--simulate-pod-completion`: how long pods whose restartPolicy is not Always run on a
    /// simulated node before they succeed.
    pub pod_completion: std::time::Duration,
}

/// Validated configuration of `k3rs agent`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentConfig {
    /// `--server` (`K3RS_URL`): the server to join, `https://host:port`.
    pub server: String,
    /// `--token`, or the content of `--token-file`.
    pub token: String,
    /// `--data-dir`.
    pub data_dir: PathBuf,
    /// The node flags.
    pub node: NodeConfig,
    /// `--debug` / `-v`.
    pub log_level: LogLevel,
    /// The config file that was read, if any.
    pub config_file: Option<PathBuf>,
}

/// The flags of a node, shared by `k3rs agent` and `k3rs server` (which runs a node too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    /// `--node-name`: name of this node (default: the host name, decided by the caller).
    pub name: Option<String>,
    /// `--node-ip`: IP address of this node.
    pub ip: Option<IpAddr>,
    /// `--node-label`: labels registered with the node.
    pub labels: Vec<(String, String)>,
    /// `--node-taint`: taints registered with the node.
    pub taints: Vec<Taint>,
    /// `--container-runtime-endpoint`: use this CRI socket instead of starting containerd.
    pub container_runtime_endpoint: Option<PathBuf>,
    /// `--kubelet-arg`: kubelet settings, `name=value` (repeatable; values may hold commas).
    pub kubelet_args: Vec<(String, String)>,
    /// `--pause-image`: the sandbox image (default: k3rs's own, built locally).
    pub pause_image: Option<String>,
    /// `--run-dir`: runtime state (containerd socket and state).
    pub run_dir: PathBuf,
}

/// A node taint, `key=value:Effect` (value optional).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taint {
    /// Taint key (label-key syntax).
    pub key: String,
    /// Taint value, empty when not given.
    pub value: String,
    /// What the taint does to pods that do not tolerate it.
    pub effect: TaintEffect,
}

/// The effect of a taint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaintEffect {
    /// Do not schedule new pods.
    NoSchedule,
    /// Avoid scheduling new pods.
    PreferNoSchedule,
    /// Evict running pods.
    NoExecute,
}

impl TaintEffect {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoSchedule => "NoSchedule",
            Self::PreferNoSchedule => "PreferNoSchedule",
            Self::NoExecute => "NoExecute",
        }
    }
}

impl fmt::Display for TaintEffect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Taint {
    /// `key=value:Effect`, or `key:Effect` without a value (the `--node-taint` syntax).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            write!(f, "{}:{}", self.key, self.effect)
        } else {
            write!(f, "{}={}:{}", self.key, self.value, self.effect)
        }
    }
}

/// How much to log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Default.
    Info,
    /// `--debug` or `-v 1`..`-v 4`.
    Debug,
    /// `-v 5` and above.
    Trace,
}

impl LogLevel {
    /// A `tracing_subscriber::EnvFilter` directive for this level.
    pub fn as_filter(self) -> &'static str {
        match self {
            // kube's client builder logs every failed connection attempt as an error; the
            // agent's join retries say the same once, with the back-off.
            Self::Info => "info,kube_client::client::builder=off",
            Self::Debug => "debug",
            Self::Trace => "trace",
        }
    }
}

/// Why the command line could not be turned into a [`Command`].
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// clap's own outcome: a usage error, or `--help` / `--version` output to print.
    #[error("{0}")]
    Usage(#[from] clap::Error),
    /// A flag value (from any source) is invalid.
    #[error("invalid value {value:?} for --{flag}{origin}: {reason}")]
    InvalidValue {
        /// The flag's long name.
        flag: &'static str,
        /// The offending value.
        value: String,
        /// Where it came from (empty for the command line).
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// The config file is missing, unreadable, malformed or has unknown keys.
    #[error("config file {}: {reason}", .path.display())]
    ConfigFile {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A required flag is missing, or flags contradict each other.
    #[error("{0}")]
    Invalid(String),
}

impl CliError {
    /// The process exit code for this outcome: 0 for `--help`/`--version`, else 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Usage(err) if !err.use_stderr() => 0,
            _ => 1,
        }
    }

    /// Prints the outcome like clap does: help/version to stdout, errors to stderr.
    pub fn print(&self) {
        match self {
            Self::Usage(err) => {
                let _ = err.print();
            }
            other => eprintln!("error: {other}"),
        }
    }
}

/// Parses the process's arguments and environment; on error or `--help`/`--version` prints
/// and exits (0 for help/version, 1 for errors).
pub fn run_cli() -> Command {
    let env = |name: &str| std::env::var(name).ok();
    match parse_from(std::env::args_os(), &env) {
        Ok(command) => command,
        Err(err) => {
            err.print();
            std::process::exit(err.exit_code());
        }
    }
}

/// Parses `args` (including the program name) with `env` as the environment.
pub fn parse_from<I, T>(args: I, env: &dyn Fn(&str) -> Option<String>) -> Result<Command, CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = clap_command().try_get_matches_from(args)?;
    match matches.subcommand() {
        Some(("server", sub)) => {
            let resolved = resolve(server_flags(), sub, env)?;
            Ok(Command::Server(server_config(&resolved)?))
        }
        Some(("agent", sub)) => {
            let resolved = resolve(agent_flags(), sub, env)?;
            Ok(Command::Agent(agent_config(&resolved)?))
        }
        Some(("images", sub)) => images_command(sub, env),
        _ => Err(CliError::Usage(clap_command().error(
            clap::error::ErrorKind::MissingSubcommand,
            "a subcommand is required (server or agent)",
        ))),
    }
}

/// The version line printed by `k3rs --version` (after the program name).
fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        format!(
            "version v{} ({})",
            env!("CARGO_PKG_VERSION"),
            option_env!("K3RS_GIT_COMMIT").unwrap_or("lightweight Kubernetes in one binary")
        )
    })
}

/// The clap definition of the whole command line.
pub fn clap_command() -> clap::Command {
    clap::Command::new("k3rs")
        .version(version())
        .about("k3rs: a lightweight Kubernetes distribution in one binary")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(flags_to_args(
            clap::Command::new("server").about("Run the Kubernetes control plane (and a node)"),
            server_flags(),
        ))
        .subcommand(flags_to_args(
            clap::Command::new("agent").about("Run a node that joins a cluster"),
            agent_flags(),
        ))
        .subcommand(images_clap_command())
}

/// How a flag takes values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FlagKind {
    /// One value (`--flag value`); the last one wins.
    Value,
    /// Repeatable, and each value is also split on commas.
    List,
    /// Repeatable; values are kept whole (they may contain commas).
    Repeated,
    /// Boolean: `--flag`, `--flag=false`.
    Switch,
}

/// One flag of a subcommand.
#[derive(Clone, Copy)]
struct FlagSpec {
    /// Long name, also the config file key.
    name: &'static str,
    short: Option<char>,
    kind: FlagKind,
    default: Option<&'static str>,
    /// Environment variables read besides `K3RS_<NAME>` (k3s aliases), first match wins.
    env_aliases: &'static [&'static str],
    help: &'static str,
}

const fn flag(name: &'static str, kind: FlagKind, help: &'static str) -> FlagSpec {
    FlagSpec {
        name,
        short: None,
        kind,
        default: None,
        env_aliases: &[],
        help,
    }
}

impl FlagSpec {
    const fn short(mut self, short: char) -> Self {
        self.short = Some(short);
        self
    }
    const fn default(mut self, default: &'static str) -> Self {
        self.default = Some(default);
        self
    }
    const fn env_aliases(mut self, aliases: &'static [&'static str]) -> Self {
        self.env_aliases = aliases;
        self
    }

    /// `K3RS_DATA_DIR` for `data-dir`.
    fn env_name(&self) -> String {
        format!("K3RS_{}", self.name.to_ascii_uppercase().replace('-', "_"))
    }
}

use FlagKind::{List, Repeated, Switch, Value};

/// The flag naming the config file.
const CONFIG_FLAG: &str = "config";

const COMMON_FLAGS_HELP_CONFIG: &str = "(config) Load configuration from FILE";

/// Flags of every subcommand.
const COMMON_FLAGS: &[FlagSpec] = &[
    flag(CONFIG_FLAG, Value, COMMON_FLAGS_HELP_CONFIG)
        .short('c')
        .default(DEFAULT_CONFIG_FILE)
        .env_aliases(&["K3RS_CONFIG_FILE"]),
    flag("debug", Switch, "(logging) Turn on debug logs"),
    flag("v", Value, "(logging) Number for the log level verbosity")
        .short('v')
        .default("0"),
];

/// The flags of a node, shared by `k3rs server` (which runs a node too) and `k3rs agent`.
const NODE_FLAGS: &[FlagSpec] = &[
    flag("node-name", Value, "(agent/node) Node name"),
    flag(
        "node-ip",
        Value,
        "(agent/networking) IPv4/IPv6 address to advertise for the node",
    ),
    flag(
        "node-label",
        List,
        "(agent/node) Registering and starting kubelet with a set of labels (key=value)",
    ),
    flag(
        "node-taint",
        List,
        "(agent/node) Registering kubelet with a set of taints (key=value:Effect)",
    ),
    flag(
        "container-runtime-endpoint",
        Value,
        "(agent/runtime) Use this CRI socket instead of starting containerd",
    ),
    flag(
        "kubelet-arg",
        Repeated,
        "(agent/flags) Customized flag for kubelet process (name=value)",
    ),
    flag(
        "pause-image",
        Value,
        "(agent/runtime) Customized pause image for containerd sandbox [default: k3rs's own]",
    ),
    flag(
        "run-dir",
        Value,
        "(agent/runtime) Folder for runtime state: the containerd socket and state",
    )
    .default("/run/k3rs"),
];

const SERVER_ONLY_FLAGS: &[FlagSpec] = &[
    flag("data-dir", Value, "(data) Folder to hold state")
        .short('d')
        .default(DEFAULT_DATA_DIR),
    flag("bind-address", Value, "(listener) k3rs bind address").default("0.0.0.0"),
    flag("https-listen-port", Value, "(listener) HTTPS listen port").default("6443"),
    flag(
        "advertise-address",
        Value,
        "(listener) IPv4/IPv6 address that the API server advertises to members of the cluster",
    ),
    flag(
        "tls-san",
        List,
        "(listener) Add additional hostnames or IPv4/IPv6 addresses as Subject Alternative Names on the server TLS cert",
    ),
    flag(
        "write-kubeconfig",
        Value,
        "(client) Write kubeconfig for admin client to this file",
    )
    .short('o')
    .default(DEFAULT_KUBECONFIG)
    .env_aliases(&["K3RS_KUBECONFIG_OUTPUT"]),
    flag(
        "write-kubeconfig-mode",
        Value,
        "(client) Write kubeconfig with this mode (octal)",
    )
    .default("0600")
    .env_aliases(&["K3RS_KUBECONFIG_MODE"]),
    flag(
        "token",
        Value,
        "(cluster) Shared secret used to join a server or agent to a cluster",
    )
    .short('t'),
    flag("token-file", Value, "(cluster) File containing the token"),
    flag(
        "cluster-cidr",
        Value,
        "(networking) IPv4 network CIDR to use for pod IPs",
    )
    .default("10.42.0.0/16"),
    flag(
        "service-cidr",
        Value,
        "(networking) IPv4 network CIDR to use for service IPs",
    )
    .default("10.43.0.0/16"),
    flag(
        "cluster-dns",
        Value,
        "(networking) IPv4 cluster IP for the DNS service [default: 10th address of --service-cidr]",
    ),
    flag("cluster-domain", Value, "(networking) Cluster domain").default("cluster.local"),
    flag(
        "service-node-port-range",
        Value,
        "(networking) Port range to reserve for services with NodePort visibility",
    )
    .default("30000-32767"),
    flag(
        "datastore-compact-interval",
        Value,
        "(db) How often old datastore revisions are compacted, e.g. 5m, 30s (0 disables)",
    )
    .default("5m"),
    flag(
        "node-monitor-grace-period",
        Value,
        "(controllers) How long a node may go without renewing its Lease before it is marked Ready=Unknown, e.g. 40s",
    )
    .default("40s"),
    flag(
        "disable-agent",
        Switch,
        "Do not run a local agent and register a local kubelet",
    ),
    flag(
        "simulate-nodes",
        Value,
        "(simulation) Register this many simulated nodes (sim-node-0…) whose fake kubelets run pods only as API data",
    )
    .default("0"),
    flag(
        "simulate-node-cpu",
        Value,
        "(simulation) CPU capacity of each simulated node",
    )
    .default("8"),
    flag(
        "simulate-node-memory",
        Value,
        "(simulation) Memory capacity of each simulated node",
    )
    .default("32Gi"),
    flag(
        "simulate-node-pods",
        Value,
        "(simulation) Pod capacity of each simulated node",
    )
    .default("110"),
    flag(
        "simulate-node-label",
        List,
        "(simulation) Labels of the simulated nodes (key=value)",
    ),
    flag(
        "simulate-node-taint",
        List,
        "(simulation) Taints of the simulated nodes (key=value:Effect)",
    ),
    flag(
        "simulate-pod-completion",
        Value,
        "(simulation) How long pods with restartPolicy OnFailure/Never run on simulated nodes before they succeed, e.g. 5s",
    )
    .default("5s"),
];

const AGENT_ONLY_FLAGS: &[FlagSpec] = &[
    flag(
        "server",
        Value,
        "(cluster) Server to connect to, https://host:6443",
    )
    .short('s')
    .env_aliases(&["K3RS_URL"]),
    flag("token", Value, "(cluster) Token to use for authentication").short('t'),
    flag(
        "token-file",
        Value,
        "(cluster) Token file to use for authentication",
    ),
    flag("data-dir", Value, "(agent/data) Folder to hold state")
        .short('d')
        .default(DEFAULT_DATA_DIR),
];

/// Every flag of `k3rs server`.
fn server_flags() -> &'static [FlagSpec] {
    static FLAGS: OnceLock<Vec<FlagSpec>> = OnceLock::new();
    FLAGS.get_or_init(|| [COMMON_FLAGS, SERVER_ONLY_FLAGS, NODE_FLAGS].concat())
}

/// Every flag of `k3rs agent`.
fn agent_flags() -> &'static [FlagSpec] {
    static FLAGS: OnceLock<Vec<FlagSpec>> = OnceLock::new();
    FLAGS.get_or_init(|| [COMMON_FLAGS, AGENT_ONLY_FLAGS, NODE_FLAGS].concat())
}

fn flags_to_args(mut command: clap::Command, flags: &'static [FlagSpec]) -> clap::Command {
    for spec in flags {
        let mut arg = Arg::new(spec.name).long(spec.name).help(spec.help);
        if let Some(short) = spec.short {
            arg = arg.short(short);
        }
        if let Some(default) = spec.default {
            arg = arg.default_value(default);
        }
        arg = match spec.kind {
            Value => arg.action(ArgAction::Set).num_args(1),
            List | Repeated => arg.action(ArgAction::Append).num_args(1),
            Switch => arg
                .action(ArgAction::Set)
                .num_args(0..=1)
                .require_equals(true)
                .default_missing_value("true"),
        };
        command = command.arg(arg);
    }
    command.after_help("Every flag can also be set as K3RS_<FLAG> in the environment or as a key of the config file.")
}

/// Where a resolved value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Origin {
    CommandLine,
    Env(String),
    File(PathBuf),
    Default,
}

impl fmt::Display for Origin {
    /// Empty for the command line, else ` (from …)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CommandLine => Ok(()),
            Self::Env(name) => write!(f, " (from environment variable {name})"),
            Self::File(path) => write!(f, " (from config file {})", path.display()),
            Self::Default => write!(f, " (default)"),
        }
    }
}

/// The raw values of one flag after applying precedence.
#[derive(Clone, Debug)]
struct ResolvedFlag {
    values: Vec<String>,
    origin: Origin,
}

/// All flags of a subcommand after applying precedence, still as strings.
struct Resolved {
    flags: BTreeMap<&'static str, ResolvedFlag>,
    config_file: Option<PathBuf>,
}

/// A config file value: a scalar or a list of scalars.
enum FileValue {
    Scalar(String),
    List(Vec<String>),
}

/// Applies flag > environment > config file > default for every flag of a subcommand.
fn resolve(
    flags: &'static [FlagSpec],
    matches: &ArgMatches,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Resolved, CliError> {
    let mut resolved = BTreeMap::new();
    let from_flag_or_env = |spec: &'static FlagSpec| -> Option<ResolvedFlag> {
        if matches.value_source(spec.name) == Some(ValueSource::CommandLine) {
            let values: Vec<String> = matches
                .get_many::<String>(spec.name)
                .into_iter()
                .flatten()
                .cloned()
                .collect();
            return Some(ResolvedFlag {
                values: split_list(spec, values),
                origin: Origin::CommandLine,
            });
        }
        let env_names =
            std::iter::once(spec.env_name()).chain(spec.env_aliases.iter().map(|s| s.to_string()));
        for name in env_names {
            if let Some(value) = env(&name).filter(|v| !v.is_empty()) {
                return Some(ResolvedFlag {
                    values: split_list(spec, vec![value]),
                    origin: Origin::Env(name),
                });
            }
        }
        None
    };

    // The config file location itself: flag or environment, else the default (may be missing).
    let config_spec = flags.iter().find(|spec| spec.name == CONFIG_FLAG);
    let (config_path, explicit) = match config_spec.and_then(&from_flag_or_env) {
        Some(flag) => (flag.values.last().map(PathBuf::from), Some(flag.origin)),
        None => (Some(PathBuf::from(DEFAULT_CONFIG_FILE)), None),
    };
    let (file_values, config_file) = match config_path {
        Some(path) => match load_config_file(&path, explicit.as_ref(), flags)? {
            Some(values) => (values, Some(path)),
            None => (BTreeMap::new(), None),
        },
        None => (BTreeMap::new(), None),
    };

    for spec in flags.iter().filter(|spec| spec.name != CONFIG_FLAG) {
        let value = match from_flag_or_env(spec) {
            Some(value) => Some(value),
            None => match (file_values.get(spec.name), &config_file) {
                (Some(file_value), Some(path)) => Some(file_flag(spec, file_value, path)?),
                _ => spec.default.map(|d| ResolvedFlag {
                    values: vec![d.to_string()],
                    origin: Origin::Default,
                }),
            },
        };
        if let Some(value) = value {
            resolved.insert(spec.name, value);
        }
    }
    Ok(Resolved {
        flags: resolved,
        config_file,
    })
}

/// Splits every value of a list flag on commas (k3s string-slice semantics).
fn split_list(spec: &FlagSpec, values: Vec<String>) -> Vec<String> {
    if spec.kind != List {
        return values;
    }
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

/// Turns a config file value into a flag's values.
fn file_flag(
    spec: &'static FlagSpec,
    value: &FileValue,
    path: &Path,
) -> Result<ResolvedFlag, CliError> {
    let origin = Origin::File(path.to_path_buf());
    let values = match (value, spec.kind) {
        (FileValue::Scalar(s), _) => split_list(spec, vec![s.clone()]),
        (FileValue::List(items), List | Repeated) => split_list(spec, items.clone()),
        (FileValue::List(items), _) if items.len() == 1 => items.clone(),
        (FileValue::List(_), _) => {
            return Err(CliError::ConfigFile {
                path: path.to_path_buf(),
                reason: format!("key {:?} takes a single value, not a list", spec.name),
            });
        }
    };
    Ok(ResolvedFlag { values, origin })
}

/// Reads the YAML config file. A missing default file is not an error; a missing file that
/// was asked for (`explicit` is its origin) is.
fn load_config_file(
    path: &Path,
    explicit: Option<&Origin>,
    flags: &[FlagSpec],
) -> Result<Option<BTreeMap<String, FileValue>>, CliError> {
    let config_error = |reason: String| CliError::ConfigFile {
        path: path.to_path_buf(),
        reason,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return match explicit {
                None => Ok(None),
                Some(origin) => Err(config_error(format!(
                    "does not exist (given by --config{origin})"
                ))),
            };
        }
        Err(err) => return Err(config_error(format!("cannot read: {err}"))),
    };
    if text.trim().is_empty() {
        return Ok(Some(BTreeMap::new()));
    }
    let document: serde_json::Value = serde_saphyr::from_str(&text)
        .map_err(|err| config_error(format!("invalid YAML: {err}")))?;
    let mapping = match document {
        serde_json::Value::Null => return Ok(Some(BTreeMap::new())),
        serde_json::Value::Object(mapping) => mapping,
        _ => {
            return Err(config_error(
                "must be a YAML mapping of flag names to values".into(),
            ));
        }
    };
    // Pass 1 (above): the shape. Check keys and remember which values are lists.
    let mut list_keys = BTreeSet::new();
    for (key, value) in &mapping {
        if key == CONFIG_FLAG || !flags.iter().any(|spec| spec.name == key) {
            return Err(config_error(format!("unknown key {key:?}")));
        }
        let nested = |v: &serde_json::Value| v.is_object() || v.is_array();
        match value {
            serde_json::Value::Array(items) if !items.iter().any(nested) => {
                list_keys.insert(key.clone());
            }
            v if nested(v) => {
                return Err(config_error(format!(
                    "key {key:?} must be a scalar or a list of scalars"
                )));
            }
            _ => {}
        }
    }
    // Pass 2: the scalars as written (`0644` stays "0644", not the number 644).
    let values = serde_saphyr::with_deserializer_from_str(&text, |deserializer| {
        RawConfigSeed {
            list_keys: &list_keys,
        }
        .deserialize(deserializer)
    })
    .map_err(|err| config_error(format!("invalid YAML: {err}")))?;
    Ok(Some(values))
}

/// Deserializes the config mapping keeping every scalar's text; keys in `list_keys` hold lists.
struct RawConfigSeed<'a> {
    list_keys: &'a BTreeSet<String>,
}

impl<'de> DeserializeSeed<'de> for RawConfigSeed<'_> {
    type Value = BTreeMap<String, FileValue>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RawConfigSeed<'_> {
    type Value = BTreeMap<String, FileValue>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a mapping of flag names to values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            if self.list_keys.contains(&key) {
                let items: Vec<Option<String>> = map.next_value()?;
                values.insert(key, FileValue::List(items.into_iter().flatten().collect()));
            } else if let Some(value) = map.next_value::<Option<String>>()? {
                values.insert(key, FileValue::Scalar(value));
            }
        }
        Ok(values)
    }
}

impl Resolved {
    fn flag(&self, name: &'static str) -> Option<&ResolvedFlag> {
        self.flags.get(name)
    }

    fn invalid(&self, name: &'static str, value: &str, reason: impl Into<String>) -> CliError {
        CliError::InvalidValue {
            flag: name,
            value: value.to_string(),
            origin: self
                .flag(name)
                .map(|f| f.origin.to_string())
                .unwrap_or_default(),
            reason: reason.into(),
        }
    }

    /// The last value of a single-valued flag, parsed.
    fn parse<T>(
        &self,
        name: &'static str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, CliError> {
        let Some(raw) = self.flag(name).and_then(|f| f.values.last()) else {
            return Ok(None);
        };
        parse(raw.trim())
            .map(Some)
            .map_err(|reason| self.invalid(name, raw, reason))
    }

    /// Like [`Resolved::parse`] for flags that have a default.
    fn parse_required<T>(
        &self,
        name: &'static str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, CliError> {
        self.parse(name, parse)?
            .ok_or_else(|| CliError::Invalid(format!("--{name} is required")))
    }

    /// Every value of a list flag, parsed.
    fn parse_list<T>(
        &self,
        name: &'static str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Vec<T>, CliError> {
        let Some(flag) = self.flag(name) else {
            return Ok(Vec::new());
        };
        flag.values
            .iter()
            .map(|raw| parse(raw.trim()).map_err(|reason| self.invalid(name, raw, reason)))
            .collect()
    }

    fn switch(&self, name: &'static str) -> Result<bool, CliError> {
        Ok(self.parse(name, parse_bool)?.unwrap_or(false))
    }

    fn log_level(&self) -> Result<LogLevel, CliError> {
        let verbosity = self.parse_required("v", |s| {
            s.parse::<u8>()
                .map_err(|_| "must be a number 0-255".to_string())
        })?;
        let from_verbosity = match verbosity {
            0 => LogLevel::Info,
            1..=4 => LogLevel::Debug,
            _ => LogLevel::Trace,
        };
        let from_debug = if self.switch("debug")? {
            LogLevel::Debug
        } else {
            LogLevel::Info
        };
        Ok(from_verbosity.max(from_debug))
    }

    /// `--token`, else the trimmed content of `--token-file`.
    fn token(&self) -> Result<Option<String>, CliError> {
        if let Some(token) = self.parse("token", non_empty)? {
            return Ok(Some(token));
        }
        let Some(path) = self.parse("token-file", non_empty)? else {
            return Ok(None);
        };
        let content = std::fs::read_to_string(&path).map_err(|err| {
            self.invalid("token-file", &path, format!("cannot read the file: {err}"))
        })?;
        let token = content.trim();
        if token.is_empty() {
            return Err(self.invalid("token-file", &path, "the file is empty"));
        }
        Ok(Some(token.to_string()))
    }
}

fn server_config(resolved: &Resolved) -> Result<ServerConfig, CliError> {
    let service_cidr = resolved.parse_required("service-cidr", parse_cidr)?;
    let cluster_cidr = resolved.parse_required("cluster-cidr", parse_cidr)?;
    let cluster_dns = match resolved.parse("cluster-dns", parse_ipv4)? {
        Some(ip) => ip,
        None => service_cidr.nth(10).ok_or_else(|| {
            resolved.invalid(
                "service-cidr",
                &service_cidr.to_string(),
                "too small to hold the cluster DNS address (10th address); set --cluster-dns",
            )
        })?,
    };
    if !service_cidr.contains(cluster_dns) {
        let value = cluster_dns.to_string();
        return Err(resolved.invalid(
            "cluster-dns",
            &value,
            format!("not inside --service-cidr {service_cidr}"),
        ));
    }
    if service_cidr.size() < 4 {
        return Err(resolved.invalid(
            "service-cidr",
            &service_cidr.to_string(),
            "prefix must be at most /30",
        ));
    }
    Ok(ServerConfig {
        data_dir: resolved.parse_required("data-dir", parse_path)?,
        bind_address: resolved.parse_required("bind-address", parse_ip)?,
        https_listen_port: resolved.parse_required("https-listen-port", parse_port)?,
        advertise_address: resolved.parse("advertise-address", parse_ip)?,
        tls_san: resolved.parse_list("tls-san", parse_tls_san)?,
        write_kubeconfig: resolved.parse_required("write-kubeconfig", parse_path)?,
        write_kubeconfig_mode: resolved.parse_required("write-kubeconfig-mode", parse_mode)?,
        token: resolved.token()?,
        cluster_cidr,
        service_cidr,
        cluster_dns,
        cluster_domain: resolved.parse_required("cluster-domain", parse_dns_subdomain)?,
        node_port_range: resolved.parse_required("service-node-port-range", parse_port_range)?,
        datastore_compact_interval: resolved
            .parse_required("datastore-compact-interval", parse_duration)?,
        disable_agent: resolved.switch("disable-agent")?,
        node: node_config(resolved)?,
        node_monitor_grace_period: resolved
            .parse_required("node-monitor-grace-period", parse_duration)?
            .ok_or_else(|| {
                resolved.invalid(
                    "node-monitor-grace-period",
                    "0",
                    "must be greater than zero",
                )
            })?,
        simulate: Box::new(simulate_config(resolved)?),
        log_level: resolved.log_level()?,
        config_file: resolved.config_file.clone(),
    })
}

fn simulate_config(resolved: &Resolved) -> Result<SimulateConfig, CliError> {
    let count = |s: &str| {
        s.parse::<u32>()
            .map_err(|_| "must be a whole number".to_string())
    };
    Ok(SimulateConfig {
        nodes: resolved.parse_required("simulate-nodes", count)?,
        cpu: resolved.parse_required("simulate-node-cpu", parse_quantity)?,
        memory: resolved.parse_required("simulate-node-memory", parse_quantity)?,
        pods: resolved.parse_required("simulate-node-pods", count)?,
        labels: resolved.parse_list("simulate-node-label", parse_label)?,
        taints: resolved.parse_list("simulate-node-taint", parse_taint)?,
        pod_completion: resolved
            .parse_required("simulate-pod-completion", parse_duration)?
            .unwrap_or_default(),
    })
}

fn agent_config(resolved: &Resolved) -> Result<AgentConfig, CliError> {
    let server = resolved.parse("server", parse_server_url)?.ok_or_else(|| {
        CliError::Invalid("--server (or K3RS_URL) is required to join a cluster".into())
    })?;
    let token = resolved.token()?.ok_or_else(|| {
        CliError::Invalid(
            "--token or --token-file (or K3RS_TOKEN) is required to join a cluster".into(),
        )
    })?;
    Ok(AgentConfig {
        server,
        token,
        data_dir: resolved.parse_required("data-dir", parse_path)?,
        node: node_config(resolved)?,
        log_level: resolved.log_level()?,
        config_file: resolved.config_file.clone(),
    })
}

fn node_config(resolved: &Resolved) -> Result<NodeConfig, CliError> {
    Ok(NodeConfig {
        name: resolved.parse("node-name", parse_dns_subdomain)?,
        ip: resolved.parse("node-ip", parse_ip)?,
        labels: resolved.parse_list("node-label", parse_label)?,
        taints: resolved.parse_list("node-taint", parse_taint)?,
        container_runtime_endpoint: resolved
            .parse("container-runtime-endpoint", parse_socket_path)?,
        kubelet_args: resolved.parse_list("kubelet-arg", parse_kubelet_arg)?,
        pause_image: resolved.parse("pause-image", non_empty)?,
        run_dir: resolved.parse_required("run-dir", parse_path)?,
    })
}

// ---- value parsers: each returns the reason a value is wrong ----

/// A CRI endpoint: a unix socket path, with or without the `unix://` scheme.
fn parse_socket_path(s: &str) -> Result<PathBuf, String> {
    let path = s.strip_prefix("unix://").unwrap_or(s);
    if !path.starts_with('/') {
        return Err(
            "must be an absolute unix socket path, e.g. unix:///run/containerd/containerd.sock"
                .into(),
        );
    }
    Ok(PathBuf::from(path))
}

/// `name=value`, as k3s passes `--kubelet-arg` to the kubelet (a leading `--` is allowed).
fn parse_kubelet_arg(s: &str) -> Result<(String, String), String> {
    let s = s.trim_start_matches("--");
    match s.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err("must be name=value, e.g. max-pods=50".into()),
    }
}

fn non_empty(s: &str) -> Result<String, String> {
    if s.is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(s.to_string())
    }
}

fn parse_path(s: &str) -> Result<PathBuf, String> {
    non_empty(s).map(PathBuf::from)
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("must be true or false".into()),
    }
}

fn parse_ip(s: &str) -> Result<IpAddr, String> {
    s.parse()
        .map_err(|_| "not an IPv4 or IPv6 address".to_string())
}

fn parse_ipv4(s: &str) -> Result<Ipv4Addr, String> {
    s.parse().map_err(|_| "not an IPv4 address".to_string())
}

fn parse_cidr(s: &str) -> Result<Ipv4Cidr, String> {
    s.parse::<Ipv4Cidr>()
        .map_err(|err| match err.split_once("\": ") {
            Some((_, reason)) => reason.to_string(),
            None => err,
        })
}

/// `300`, `300s`, `5m`, `1h`, `500ms`; `0` means off.
fn parse_duration(s: &str) -> Result<Option<std::time::Duration>, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 30s, 5m, 1h)"))?;
    let millis = match unit {
        "ms" => n,
        "" | "s" => n.saturating_mul(1000),
        "m" => n.saturating_mul(60_000),
        "h" => n.saturating_mul(3_600_000),
        _ => return Err(format!("{s:?} has an unknown unit (use ms, s, m or h)")),
    };
    Ok((millis > 0).then(|| std::time::Duration::from_millis(millis)))
}

/// A resource quantity such as `8`, `7500m`, `32Gi`, `1e3` (the shapes upstream's
/// `resource.ParseQuantity` accepts: a decimal number and an optional suffix).
fn parse_quantity(s: &str) -> Result<String, String> {
    let invalid = || format!("{s:?} is not a quantity (e.g. 8, 500m, 32Gi)");
    let number_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(number_end);
    let number = number.strip_prefix('+').unwrap_or(number);
    if number.is_empty() || number.starts_with('-') || number.parse::<f64>().is_err() {
        return Err(invalid());
    }
    let suffix_ok = matches!(
        suffix,
        "" | "Ki"
            | "Mi"
            | "Gi"
            | "Ti"
            | "Pi"
            | "Ei"
            | "n"
            | "u"
            | "m"
            | "k"
            | "M"
            | "G"
            | "T"
            | "P"
            | "E"
    ) || suffix
        .strip_prefix(['e', 'E'])
        .is_some_and(|e| e.trim_start_matches(['+', '-']).parse::<u32>().is_ok());
    if suffix_ok {
        Ok(s.to_string())
    } else {
        Err(invalid())
    }
}

fn parse_port(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(0) | Err(_) => Err("must be a port number 1-65535".into()),
        Ok(port) => Ok(port),
    }
}

fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
    let (lo, hi) = s
        .split_once('-')
        .ok_or("must be a range LOW-HIGH such as 30000-32767")?;
    let lo = parse_port(lo.trim()).map_err(|e| format!("low end: {e}"))?;
    let hi = parse_port(hi.trim()).map_err(|e| format!("high end: {e}"))?;
    if lo > hi {
        return Err(format!("low end {lo} is above high end {hi}"));
    }
    Ok((lo, hi))
}

fn parse_mode(s: &str) -> Result<u32, String> {
    let digits = s.strip_prefix("0o").unwrap_or(s);
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if !digits.is_empty() && mode <= 0o777 => Ok(mode),
        _ => Err("must be an octal file mode 0000-0777 such as 0600 or 0644".into()),
    }
}

fn parse_tls_san(s: &str) -> Result<String, String> {
    let host = s
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(s);
    if host.parse::<IpAddr>().is_ok() {
        return Ok(host.to_string());
    }
    let valid = !host.is_empty()
        && host.len() <= 253
        && host.split('.').enumerate().all(|(i, label)| {
            (i == 0 && label == "*")
                || (!label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-'))
        });
    if valid {
        Ok(host.to_ascii_lowercase())
    } else {
        Err("must be an IP address or a DNS name".into())
    }
}

/// A DNS-1123 subdomain: lower-case alphanumerics, `-` and `.`, at most 253 characters.
fn parse_dns_subdomain(s: &str) -> Result<String, String> {
    let valid = !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if valid {
        Ok(s.to_string())
    } else {
        Err(
            "must be a lower-case DNS name (letters, digits, '-' and '.', at most 253 characters)"
                .into(),
        )
    }
}

/// A label name or value segment: at most 63 of `[A-Za-z0-9_.-]`, alphanumeric at both ends.
fn is_label_segment(s: &str) -> bool {
    s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
}

fn check_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        parse_dns_subdomain(prefix).map_err(|e| format!("key prefix {prefix:?} {e}"))?;
    }
    if !is_label_segment(name) {
        return Err(format!(
            "key {key:?} must be [prefix/]name with name at most 63 characters of [A-Za-z0-9_.-], alphanumeric at both ends"
        ));
    }
    Ok(())
}

fn check_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_label_segment(value) {
        Ok(())
    } else {
        Err(format!(
            "value {value:?} must be at most 63 characters of [A-Za-z0-9_.-], alphanumeric at both ends"
        ))
    }
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    let (key, value) = s.split_once('=').ok_or("must be key=value")?;
    check_label_key(key)?;
    check_label_value(value)?;
    Ok((key.to_string(), value.to_string()))
}

fn parse_taint(s: &str) -> Result<Taint, String> {
    let (key_value, effect) = s
        .rsplit_once(':')
        .ok_or("must be key=value:Effect with Effect NoSchedule, PreferNoSchedule or NoExecute")?;
    let effect = match effect {
        "NoSchedule" => TaintEffect::NoSchedule,
        "PreferNoSchedule" => TaintEffect::PreferNoSchedule,
        "NoExecute" => TaintEffect::NoExecute,
        other => {
            return Err(format!(
                "effect {other:?} must be NoSchedule, PreferNoSchedule or NoExecute"
            ));
        }
    };
    let (key, value) = key_value.split_once('=').unwrap_or((key_value, ""));
    check_label_key(key)?;
    check_label_value(value)?;
    Ok(Taint {
        key: key.to_string(),
        value: value.to_string(),
        effect,
    })
}

fn parse_server_url(s: &str) -> Result<String, String> {
    let rest = s
        .strip_prefix("https://")
        .ok_or("must be an https:// URL such as https://server:6443")?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err("must name a host, such as https://server:6443".into());
    }
    Ok(s.trim_end_matches('/').to_string())
}

/// `k3rs images …`: which images to act on, and the containerd to talk to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImagesCommand {
    /// What to do.
    pub action: ImagesAction,
    /// containerd's socket: `--container-runtime-endpoint`, else `<run-dir>/containerd/containerd.sock`.
    pub endpoint: PathBuf,
}

/// The verbs of `k3rs images`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImagesAction {
    /// `import FILE…`: import image archives (OCI layout or docker save).
    Import(Vec<PathBuf>),
    /// `ls`: list the images.
    List,
}

fn images_clap_command() -> clap::Command {
    let endpoint_flags = |command: clap::Command| {
        command
            .arg(Arg::new("container-runtime-endpoint").long("container-runtime-endpoint").value_name("SOCKET").help(
                "containerd socket [default: <run-dir>/containerd/containerd.sock] (env K3RS_CONTAINER_RUNTIME_ENDPOINT)",
            ))
            .arg(Arg::new("run-dir").long("run-dir").value_name("DIR").help(
                "Folder for runtime state of the agent [default: /run/k3rs] (env K3RS_RUN_DIR)",
            ))
    };
    clap::Command::new("images")
        .about("Import and list the node's container images (no registry needed)")
        .subcommand_required(true)
        .subcommand(endpoint_flags(
            clap::Command::new("import")
                .about("Import image archives (OCI layout or docker save tar) into containerd")
                .arg(
                    Arg::new("files")
                        .value_name("FILE")
                        .num_args(1..)
                        .required(true),
                ),
        ))
        .subcommand(endpoint_flags(
            clap::Command::new("ls").about("List the images containerd has for Kubernetes"),
        ))
}

fn images_command(
    matches: &ArgMatches,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Command, CliError> {
    let (verb, sub) = matches
        .subcommand()
        .ok_or_else(|| CliError::Invalid("`k3rs images` needs `import FILE…` or `ls`".into()))?;
    // Flag, else environment, with where the value came from for error messages.
    let value = |name: &'static str, env_name: &str| -> Option<(String, String)> {
        match sub.get_one::<String>(name) {
            Some(value) => Some((value.clone(), String::new())),
            None => env(env_name)
                .filter(|v| !v.is_empty())
                .map(|v| (v, format!(" (from environment variable {env_name})"))),
        }
    };
    let invalid = |flag: &'static str, (value, origin): (String, String), reason: String| {
        CliError::InvalidValue {
            flag,
            value,
            origin,
            reason,
        }
    };
    let endpoint = match value(
        "container-runtime-endpoint",
        "K3RS_CONTAINER_RUNTIME_ENDPOINT",
    ) {
        Some(given) => parse_socket_path(&given.0)
            .map_err(|reason| invalid("container-runtime-endpoint", given, reason))?,
        None => {
            let run_dir = value("run-dir", "K3RS_RUN_DIR")
                .unwrap_or_else(|| ("/run/k3rs".into(), " (default)".into()));
            let dir = parse_path(&run_dir.0)
                .map_err(|reason| invalid("run-dir", run_dir.clone(), reason))?;
            k3rs_cri::containerd::socket_path(&dir)
        }
    };
    let action = match verb {
        "import" => ImagesAction::Import(
            sub.get_many::<String>("files")
                .into_iter()
                .flatten()
                .map(PathBuf::from)
                .collect(),
        ),
        _ => ImagesAction::List,
    };
    Ok(Command::Images(ImagesCommand { action, endpoint }))
}

#[cfg(test)]
mod tests;
