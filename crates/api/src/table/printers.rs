//! The row printers, one per built-in kind, following upstream's `print<Kind>` functions
//! (with `Wide: true`, as the server always prints) on the JSON of the served version.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use time::OffsetDateTime;

use super::{human_duration, parse_timestamp, since};
use crate::selector::LabelSelector;

/// What every printer gets: the object and the time of printing.
pub struct Ctx<'a> {
    pub obj: &'a Value,
    pub now: OffsetDateTime,
}

impl Ctx<'_> {
    fn get(&self, pointer: &str) -> Option<&Value> {
        self.obj.pointer(pointer).filter(|v| !v.is_null())
    }
    fn str(&self, pointer: &str) -> &str {
        self.get(pointer).and_then(Value::as_str).unwrap_or("")
    }
    fn int(&self, pointer: &str) -> i64 {
        self.get(pointer).and_then(Value::as_i64).unwrap_or(0)
    }
    fn arr(&self, pointer: &str) -> &[Value] {
        self.get(pointer)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
    fn len(&self, pointer: &str) -> i64 {
        match self.get(pointer) {
            Some(Value::Object(m)) => m.len() as i64,
            Some(Value::Array(a)) => a.len() as i64,
            _ => 0,
        }
    }
    fn name(&self) -> Value {
        Value::from(self.str("/metadata/name"))
    }
    fn age(&self) -> Value {
        Value::from(since(self.get("/metadata/creationTimestamp"), self.now))
    }
    fn since(&self, pointer: &str) -> String {
        since(self.get(pointer), self.now)
    }
    fn deleting(&self) -> bool {
        self.get("/metadata/deletionTimestamp").is_some()
    }
}

fn s(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

fn or_none(v: &str) -> String {
    if v.is_empty() {
        "<none>".into()
    } else {
        v.into()
    }
}

/// `printBool`: `True`/`False`.
fn print_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// Upstream `labels.FormatLabels`: `k=v,…` sorted by key, `<none>` when empty.
fn format_labels(v: Option<&Value>) -> String {
    let mut pairs: Vec<String> = v
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    pairs.sort();
    if pairs.is_empty() {
        "<none>".into()
    } else {
        pairs.join(",")
    }
}

/// `metav1.LabelSelectorAsSelector(sel).String()` (`<invalid>` when it does not convert).
fn selector_string(v: Option<&Value>) -> String {
    match LabelSelector::from_object(v.unwrap_or(&Value::Null)) {
        Ok(sel) => sel.to_string(),
        Err(_) => "<invalid>".into(),
    }
}

/// Upstream `metav1.FormatLabelSelector`: the selector string, `<none>` when empty.
fn format_label_selector(v: Option<&Value>) -> String {
    match LabelSelector::from_object(v.unwrap_or(&Value::Null)) {
        Ok(sel) => or_none(&sel.to_string()),
        Err(_) => "<error>".into(),
    }
}

/// `layoutContainerCells`: the comma-joined names and images of the containers.
fn container_cells(containers: &[Value]) -> [Value; 2] {
    let names: Vec<&str> = containers
        .iter()
        .map(|c| c.get("name").and_then(Value::as_str).unwrap_or(""))
        .collect();
    let images: Vec<&str> = containers
        .iter()
        .map(|c| c.get("image").and_then(Value::as_str).unwrap_or(""))
        .collect();
    [s(names.join(",")), s(images.join(","))]
}

/// An int-or-string as upstream's `IntOrString.String()`.
fn int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The upstream default table convertor: name and RFC 3339 creation time.
pub fn default_row(c: &Ctx) -> Vec<Value> {
    let created = c
        .get("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(parse_timestamp)
        .map(super::rfc3339)
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".into());
    vec![c.name(), s(created)]
}

fn is_restartable_init(container: Option<&Value>) -> bool {
    container
        .and_then(|c| c.get("restartPolicy"))
        .and_then(Value::as_str)
        == Some("Always")
}

fn condition_true(conditions: &[Value], type_: &str) -> bool {
    conditions.iter().any(|c| {
        c.get("type").and_then(Value::as_str) == Some(type_)
            && c.get("status").and_then(Value::as_str) == Some("True")
    })
}

/// The first condition of a type decides (upstream `isPodInitializedConditionTrue`).
fn first_condition_true(conditions: &[Value], type_: &str) -> bool {
    conditions
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
        .is_some_and(|c| c.get("status").and_then(Value::as_str) == Some("True"))
}

/// The later of a restart date and a container's last termination.
fn later_termination(last: Option<OffsetDateTime>, status: &Value) -> Option<OffsetDateTime> {
    let finished = status
        .pointer("/lastState/terminated/finishedAt")
        .and_then(Value::as_str)
        .and_then(parse_timestamp);
    match (last, finished) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn terminated_reason(state: &Value, prefix: &str) -> Option<String> {
    let t = state.get("terminated").filter(|t| t.is_object())?;
    let reason = t.get("reason").and_then(Value::as_str).unwrap_or("");
    Some(if !reason.is_empty() {
        format!("{prefix}{reason}")
    } else {
        let signal = t.get("signal").and_then(Value::as_i64).unwrap_or(0);
        if signal != 0 {
            format!("{prefix}Signal:{signal}")
        } else {
            let code = t.get("exitCode").and_then(Value::as_i64).unwrap_or(0);
            format!("{prefix}ExitCode:{code}")
        }
    })
}

/// `printPod`: NAME READY STATUS RESTARTS AGE IP NODE NOMINATED-NODE READINESS-GATES.
pub fn pod(c: &Ctx) -> Vec<Value> {
    let conditions = c.arr("/status/conditions");
    let init_specs = c.arr("/spec/initContainers");
    let mut total = c.arr("/spec/containers").len();
    let mut ready = 0usize;
    let mut restarts = 0i64;
    let mut restartable_restarts = 0i64;
    let mut last_restart: Option<OffsetDateTime> = None;
    let mut last_restartable_restart: Option<OffsetDateTime> = None;

    let phase = c.str("/status/phase");
    let mut reason = match c.str("/status/reason") {
        "" => phase.to_string(),
        r => r.to_string(),
    };
    for cond in conditions {
        if cond.get("type").and_then(Value::as_str) == Some("PodScheduled")
            && cond.get("reason").and_then(Value::as_str) == Some("SchedulingGated")
        {
            reason = "SchedulingGated".into();
        }
    }
    let init_spec = |name: &str| {
        init_specs
            .iter()
            .find(|s| s.get("name").and_then(Value::as_str) == Some(name))
    };
    total += init_specs
        .iter()
        .filter(|s| is_restartable_init(Some(s)))
        .count();

    let mut initializing = false;
    for (i, st) in c.arr("/status/initContainerStatuses").iter().enumerate() {
        let name = st.get("name").and_then(Value::as_str).unwrap_or("");
        let restartable = is_restartable_init(init_spec(name));
        let count = st.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
        restarts += count;
        last_restart = later_termination(last_restart, st);
        if restartable {
            restartable_restarts += count;
            last_restartable_restart = later_termination(last_restartable_restart, st);
        }
        let state = st.get("state").unwrap_or(&Value::Null);
        let terminated = state.get("terminated").filter(|t| t.is_object());
        let exit_code = terminated
            .and_then(|t| t.get("exitCode"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let waiting_reason = state
            .pointer("/waiting/reason")
            .and_then(Value::as_str)
            .unwrap_or("");
        if terminated.is_some() && exit_code == 0 {
            continue;
        }
        if restartable && st.get("started").and_then(Value::as_bool) == Some(true) {
            if st.get("ready").and_then(Value::as_bool) == Some(true) {
                ready += 1;
            }
            continue;
        }
        if let Some(r) = terminated_reason(state, "Init:") {
            reason = r;
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }

    if !initializing || first_condition_true(conditions, "Initialized") {
        restarts = restartable_restarts;
        last_restart = last_restartable_restart;
        let mut has_running = false;
        for st in c.arr("/status/containerStatuses").iter().rev() {
            restarts += st.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
            last_restart = later_termination(last_restart, st);
            let state = st.get("state").unwrap_or(&Value::Null);
            let waiting_reason = state
                .pointer("/waiting/reason")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(r) = terminated_reason(state, "") {
                reason = r;
            } else if st.get("ready").and_then(Value::as_bool) == Some(true)
                && state.get("running").is_some_and(Value::is_object)
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_true(conditions, "Ready") {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }

    if c.deleting() && c.str("/status/reason") == "NodeLost" {
        reason = "Unknown".into();
    } else if c.deleting() && !matches!(phase, "Succeeded" | "Failed") {
        reason = "Terminating".into();
    }

    let restarts_cell = match last_restart {
        Some(t) if restarts != 0 => {
            format!("{restarts} ({} ago)", human_duration(c.now - t))
        }
        _ => restarts.to_string(),
    };

    let pod_ip = c
        .arr("/status/podIPs")
        .first()
        .and_then(|ip| ip.get("ip"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let gates = c.arr("/spec/readinessGates");
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_count = gates
            .iter()
            .filter(|g| {
                let t = g.get("conditionType").and_then(Value::as_str);
                conditions
                    .iter()
                    .find(|cond| cond.get("type").and_then(Value::as_str) == t)
                    .is_some_and(|cond| cond.get("status").and_then(Value::as_str) == Some("True"))
            })
            .count();
        format!("{true_count}/{}", gates.len())
    };
    vec![
        c.name(),
        s(format!("{ready}/{total}")),
        s(reason),
        s(restarts_cell),
        c.age(),
        s(or_none(pod_ip)),
        s(or_none(c.str("/spec/nodeName"))),
        s(or_none(c.str("/status/nominatedNodeName"))),
        s(readiness_gates),
    ]
}

/// Upstream `printPodTemplate`: one cell per column of the kind.
pub fn pod_template(c: &Ctx) -> Vec<Value> {
    let [names, images] = container_cells(c.arr("/template/spec/containers"));
    vec![
        c.name(),
        names,
        images,
        s(format_labels(c.get("/template/metadata/labels"))),
    ]
}

/// Upstream `printPodDisruptionBudget`: one cell per column of the kind.
pub fn pdb(c: &Ctx) -> Vec<Value> {
    let min = c
        .get("/spec/minAvailable")
        .map(int_or_string)
        .unwrap_or_else(|| "N/A".into());
    let max = c
        .get("/spec/maxUnavailable")
        .map(int_or_string)
        .unwrap_or_else(|| "N/A".into());
    vec![
        c.name(),
        s(min),
        s(max),
        Value::from(c.int("/status/disruptionsAllowed")),
        c.age(),
    ]
}

/// Desired replicas: `spec.replicas`, 1 when unset (the v1 default).
fn desired_replicas(c: &Ctx) -> i64 {
    c.get("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)
}

/// Upstream `printReplicationController`: one cell per column of the kind.
pub fn replication_controller(c: &Ctx) -> Vec<Value> {
    let [names, images] = container_cells(c.arr("/spec/template/spec/containers"));
    vec![
        c.name(),
        Value::from(desired_replicas(c)),
        Value::from(c.int("/status/replicas")),
        Value::from(c.int("/status/readyReplicas")),
        c.age(),
        names,
        images,
        s(format_labels(c.get("/spec/selector"))),
    ]
}

/// Upstream `printReplicaSet`: one cell per column of the kind.
pub fn replica_set(c: &Ctx) -> Vec<Value> {
    let [names, images] = container_cells(c.arr("/spec/template/spec/containers"));
    vec![
        c.name(),
        Value::from(desired_replicas(c)),
        Value::from(c.int("/status/replicas")),
        Value::from(c.int("/status/readyReplicas")),
        c.age(),
        names,
        images,
        s(format_label_selector(c.get("/spec/selector"))),
    ]
}

/// Upstream `printDaemonSet`: one cell per column of the kind.
pub fn daemon_set(c: &Ctx) -> Vec<Value> {
    let [names, images] = container_cells(c.arr("/spec/template/spec/containers"));
    vec![
        c.name(),
        Value::from(c.int("/status/desiredNumberScheduled")),
        Value::from(c.int("/status/currentNumberScheduled")),
        Value::from(c.int("/status/numberReady")),
        Value::from(c.int("/status/updatedNumberScheduled")),
        Value::from(c.int("/status/numberAvailable")),
        s(format_labels(c.get("/spec/template/spec/nodeSelector"))),
        c.age(),
        names,
        images,
        s(format_label_selector(c.get("/spec/selector"))),
    ]
}

/// Upstream `printJob`: one cell per column of the kind.
pub fn job(c: &Ctx) -> Vec<Value> {
    let succeeded = c.int("/status/succeeded");
    let completions = match c.get("/spec/completions").and_then(Value::as_i64) {
        Some(n) => format!("{succeeded}/{n}"),
        None => {
            let parallelism = c.int("/spec/parallelism");
            if parallelism > 1 {
                format!("{succeeded}/1 of {parallelism}")
            } else {
                format!("{succeeded}/1")
            }
        }
    };
    let start = c
        .get("/status/startTime")
        .and_then(Value::as_str)
        .and_then(parse_timestamp);
    let end = c
        .get("/status/completionTime")
        .and_then(Value::as_str)
        .and_then(parse_timestamp);
    let duration = match (start, end) {
        (None, _) => String::new(),
        (Some(st), None) => human_duration(c.now - st),
        (Some(st), Some(en)) => human_duration(en - st),
    };
    let conditions = c.arr("/status/conditions");
    let has = |t: &str| {
        conditions
            .iter()
            .find(|cond| cond.get("type").and_then(Value::as_str) == Some(t))
            .is_some_and(|cond| cond.get("status").and_then(Value::as_str) == Some("True"))
    };
    let status = if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else if c.deleting() {
        "Terminating"
    } else if has("Suspended") {
        "Suspended"
    } else if has("FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let [names, images] = container_cells(c.arr("/spec/template/spec/containers"));
    vec![
        c.name(),
        s(status),
        s(completions),
        s(duration),
        c.age(),
        names,
        images,
        s(format_label_selector(c.get("/spec/selector"))),
    ]
}

/// Upstream `printCronJob`: one cell per column of the kind.
pub fn cron_job(c: &Ctx) -> Vec<Value> {
    let last = if c.get("/status/lastScheduleTime").is_some() {
        c.since("/status/lastScheduleTime")
    } else {
        "<none>".into()
    };
    let suspend = match c.get("/spec/suspend").and_then(Value::as_bool) {
        Some(b) => print_bool(b),
        None => "<unset>",
    };
    let [names, images] = container_cells(c.arr("/spec/jobTemplate/spec/template/spec/containers"));
    vec![
        c.name(),
        s(c.str("/spec/schedule")),
        s(or_none(c.str("/spec/timeZone"))),
        s(suspend),
        Value::from(c.len("/status/active")),
        s(last),
        c.age(),
        names,
        images,
        s(format_label_selector(
            c.get("/spec/jobTemplate/spec/selector"),
        )),
    ]
}

/// `loadBalancerStatusStringer`: sorted unique IPs (or host names), clipped to 16
/// characters unless wide (the server prints wide).
fn load_balancer_status(ingress: &[Value]) -> String {
    let set: BTreeSet<&str> = ingress
        .iter()
        .filter_map(|i| {
            let ip = i.get("ip").and_then(Value::as_str).unwrap_or("");
            let host = i.get("hostname").and_then(Value::as_str).unwrap_or("");
            if !ip.is_empty() {
                Some(ip)
            } else if !host.is_empty() {
                Some(host)
            } else {
                None
            }
        })
        .collect();
    set.into_iter().collect::<Vec<_>>().join(",")
}

fn service_external_ip(c: &Ctx) -> String {
    let external: Vec<&str> = c
        .arr("/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match c.str("/spec/type") {
        "ClusterIP" | "" | "NodePort" => {
            if external.is_empty() {
                "<none>".into()
            } else {
                external.join(",")
            }
        }
        "LoadBalancer" => {
            let lb = load_balancer_status(c.arr("/status/loadBalancer/ingress"));
            if !external.is_empty() {
                let mut all: Vec<&str> = Vec::new();
                if !lb.is_empty() {
                    all.extend(lb.split(','));
                }
                all.extend(external);
                all.join(",")
            } else if !lb.is_empty() {
                lb
            } else {
                "<pending>".into()
            }
        }
        "ExternalName" => c.str("/spec/externalName").to_string(),
        _ => "<unknown>".into(),
    }
}

/// `makePortString`: `80/TCP,443:30443/TCP`.
fn service_ports(ports: &[Value]) -> String {
    ports
        .iter()
        .map(|p| {
            let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
            let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
            match p.get("nodePort").and_then(Value::as_i64) {
                Some(np) if np > 0 => format!("{port}:{np}/{proto}"),
                _ => format!("{port}/{proto}"),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Upstream `printService`: one cell per column of the kind.
pub fn service(c: &Ctx) -> Vec<Value> {
    let cluster_ip = c
        .arr("/spec/clusterIPs")
        .first()
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    let ports = service_ports(c.arr("/spec/ports"));
    vec![
        c.name(),
        s(c.str("/spec/type")),
        s(cluster_ip),
        s(service_external_ip(c)),
        s(or_none(&ports)),
        c.age(),
        s(format_labels(c.get("/spec/selector"))),
    ]
}

/// Upstream `printIngress`: one cell per column of the kind.
pub fn ingress(c: &Ctx) -> Vec<Value> {
    let rules = c.arr("/spec/rules");
    let mut hosts: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if hosts.len() == 3 {
            more = true;
        }
        let host = rule.get("host").and_then(Value::as_str).unwrap_or("");
        if !more && !host.is_empty() {
            hosts.push(host);
        }
    }
    let hosts = if hosts.is_empty() {
        "*".to_string()
    } else if more {
        format!("{} + {} more...", hosts.join(","), rules.len() - 3)
    } else {
        hosts.join(",")
    };
    let ports = if c.arr("/spec/tls").is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        c.name(),
        s(or_none(c.str("/spec/ingressClassName"))),
        s(hosts),
        s(load_balancer_status(c.arr("/status/loadBalancer/ingress"))),
        s(ports),
        c.age(),
    ]
}

/// Upstream `printIngressClass`: one cell per column of the kind.
pub fn ingress_class(c: &Ctx) -> Vec<Value> {
    let params = match c.get("/spec/parameters") {
        Some(p) => {
            let kind = p.get("kind").and_then(Value::as_str).unwrap_or("");
            let name = p.get("name").and_then(Value::as_str).unwrap_or("");
            match p.get("apiGroup").and_then(Value::as_str) {
                Some(g) => format!("{kind}.{g}/{name}"),
                None => format!("{kind}/{name}"),
            }
        }
        None => "<none>".into(),
    };
    vec![c.name(), s(c.str("/spec/controller")), s(params), c.age()]
}

/// Upstream `printStatefulSet`: one cell per column of the kind.
pub fn stateful_set(c: &Ctx) -> Vec<Value> {
    let [names, images] = container_cells(c.arr("/spec/template/spec/containers"));
    vec![
        c.name(),
        s(format!(
            "{}/{}",
            c.int("/status/readyReplicas"),
            desired_replicas(c)
        )),
        c.age(),
        names,
        images,
    ]
}

/// `formatEndpoints` with all ports: up to three `ip:port`, then `+ N more...`.
pub fn endpoints(c: &Ctx) -> Vec<Value> {
    let subsets = c.arr("/subsets");
    let text = if subsets.is_empty() {
        "<none>".to_string()
    } else {
        let max = 3;
        let mut list: Vec<String> = Vec::new();
        let mut more = false;
        let mut count = 0;
        for ss in subsets {
            let addresses = ss
                .get("addresses")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let ports = ss
                .get("ports")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let ip = |a: &Value| {
                a.get("ip")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            if ports.is_empty() {
                count += addresses.len();
                for a in addresses {
                    if list.len() == max {
                        more = true;
                        break;
                    }
                    list.push(ip(a));
                }
                continue;
            }
            for port in ports {
                count += addresses.len();
                let p = port.get("port").and_then(Value::as_i64).unwrap_or(0);
                for a in addresses {
                    if list.len() == max {
                        more = true;
                        break;
                    }
                    let ip = ip(a);
                    list.push(if ip.contains(':') {
                        format!("[{ip}]:{p}")
                    } else {
                        format!("{ip}:{p}")
                    });
                }
            }
        }
        let joined = list.join(",");
        if more {
            format!("{joined} + {} more...", count - max)
        } else {
            joined
        }
    };
    vec![c.name(), s(text), c.age()]
}

/// `listWithMoreString`.
fn list_with_more(list: &[String], more: bool, count: usize, max: usize) -> String {
    let joined = list.join(",");
    if more {
        format!("{joined} + {} more...", count - max)
    } else if joined.is_empty() {
        "<unset>".into()
    } else {
        joined
    }
}

/// Upstream `printEndpointSlice`: one cell per column of the kind.
pub fn endpoint_slice(c: &Ctx) -> Vec<Value> {
    let max = 3;
    let (mut ports, mut more, mut count) = (Vec::new(), false, 0);
    for p in c.arr("/ports") {
        if ports.len() < max {
            let num = match (p.get("port").and_then(Value::as_i64), p.get("name")) {
                (Some(n), _) => n.to_string(),
                (None, Some(Value::String(name))) => name.clone(),
                _ => "*".into(),
            };
            ports.push(num);
        } else if ports.len() == max {
            more = true;
        }
        count += 1;
    }
    let ports = list_with_more(&ports, more, count, max);
    let (mut eps, mut more, mut count) = (Vec::new(), false, 0);
    for ep in c.arr("/endpoints") {
        for a in ep
            .get("addresses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if eps.len() < max {
                eps.push(a.as_str().unwrap_or("").to_string());
            } else if eps.len() == max {
                more = true;
            }
            count += 1;
        }
    }
    let eps = list_with_more(&eps, more, count, max);
    vec![
        c.name(),
        s(c.str("/addressType")),
        s(ports),
        s(eps),
        c.age(),
    ]
}

fn node_address(c: &Ctx, type_: &str) -> String {
    c.arr("/status/addresses")
        .iter()
        .find(|a| a.get("type").and_then(Value::as_str) == Some(type_))
        .and_then(|a| a.get("address"))
        .and_then(Value::as_str)
        .unwrap_or("<none>")
        .to_string()
}

fn or_unknown(v: &str) -> String {
    if v.is_empty() {
        "<unknown>".into()
    } else {
        v.into()
    }
}

/// `printNode`: STATUS from the Ready condition (`Ready`, `NotReady`, `Unknown`) plus
/// `SchedulingDisabled`; ROLES from `node-role.kubernetes.io/<role>` and `kubernetes.io/role`.
pub fn node(c: &Ctx) -> Vec<Value> {
    let mut status: Vec<String> = Vec::new();
    let conditions: BTreeMap<&str, &Value> = c
        .arr("/status/conditions")
        .iter()
        .filter_map(|cond| Some((cond.get("type")?.as_str()?, cond)))
        .collect();
    if let Some(ready) = conditions.get("Ready") {
        if ready.get("status").and_then(Value::as_str) == Some("True") {
            status.push("Ready".into());
        } else {
            status.push("NotReady".into());
        }
    }
    if status.is_empty() {
        status.push("Unknown".into());
    }
    if c.get("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled".into());
    }
    let mut roles: BTreeSet<&str> = BTreeSet::new();
    if let Some(labels) = c.get("/metadata/labels").and_then(Value::as_object) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.insert(role);
                }
            } else if k == "kubernetes.io/role"
                && let Some(v) = v.as_str().filter(|v| !v.is_empty())
            {
                roles.insert(v);
            }
        }
    }
    let roles = roles.into_iter().collect::<Vec<_>>().join(",");
    vec![
        c.name(),
        s(status.join(",")),
        s(or_none(&roles)),
        c.age(),
        s(c.str("/status/nodeInfo/kubeletVersion")),
        s(node_address(c, "InternalIP")),
        s(node_address(c, "ExternalIP")),
        s(or_unknown(c.str("/status/nodeInfo/osImage"))),
        s(or_unknown(c.str("/status/nodeInfo/kernelVersion"))),
        s(or_unknown(
            c.str("/status/nodeInfo/containerRuntimeVersion"),
        )),
    ]
}

/// `printEvent` on a core/v1 Event or (`events_v1`) an events.k8s.io/v1 Event, whose fields
/// carry other names (`note`, `regarding`, `deprecated*`).
pub fn event(c: &Ctx, events_v1: bool) -> Vec<Value> {
    let f = |core: &'static str, v1: &'static str| if events_v1 { v1 } else { core };
    let first = if c
        .get(f("/firstTimestamp", "/deprecatedFirstTimestamp"))
        .is_some()
    {
        c.since(f("/firstTimestamp", "/deprecatedFirstTimestamp"))
    } else {
        c.since("/eventTime")
    };
    let mut last = if c
        .get(f("/lastTimestamp", "/deprecatedLastTimestamp"))
        .is_some()
    {
        c.since(f("/lastTimestamp", "/deprecatedLastTimestamp"))
    } else {
        first.clone()
    };
    let mut count = c.int(f("/count", "/deprecatedCount"));
    if c.get("/series").is_some() {
        last = c.since("/series/lastObservedTime");
        count = c.int("/series/count");
    } else if count == 0 {
        count = 1;
    }
    let regarding = f("/involvedObject", "/regarding");
    let kind = c.str(&format!("{regarding}/kind")).to_lowercase();
    let name = c.str(&format!("{regarding}/name"));
    let target = if name.is_empty() {
        kind
    } else {
        format!("{kind}/{name}")
    };
    let component = match c.str(f("/source/component", "/deprecatedSource/component")) {
        "" => c.str(f("/reportingComponent", "/reportingController")),
        comp => comp,
    };
    let host = match c.str(f("/source/host", "/deprecatedSource/host")) {
        "" => c.str("/reportingInstance"),
        h => h,
    };
    let source = if host.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {host}")
    };
    vec![
        s(last),
        s(c.str("/type")),
        s(c.str("/reason")),
        s(target),
        s(c.str(&format!("{regarding}/fieldPath"))),
        s(source),
        s(c.str(f("/message", "/note")).trim()),
        s(first),
        Value::from(count),
        c.name(),
    ]
}

/// Upstream `printNamespace`: one cell per column of the kind.
pub fn namespace(c: &Ctx) -> Vec<Value> {
    vec![c.name(), s(c.str("/status/phase")), c.age()]
}

/// Upstream `printSecret`: one cell per column of the kind.
pub fn secret(c: &Ctx) -> Vec<Value> {
    vec![
        c.name(),
        s(c.str("/type")),
        Value::from(c.len("/data")),
        c.age(),
    ]
}

/// Upstream `printServiceAccount`: one cell per column of the kind.
pub fn service_account(c: &Ctx) -> Vec<Value> {
    vec![c.name(), Value::from(c.len("/secrets")), c.age()]
}

/// `helper.GetAccessModesAsString`: RWO, ROX, RWX, RWOP in that order.
fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(m, _)| has(m))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

fn storage_class_of(c: &Ctx) -> String {
    let beta = c
        .get("/metadata/annotations")
        .and_then(|a| a.get("volume.beta.kubernetes.io/storage-class"))
        .and_then(Value::as_str);
    match beta {
        Some(b) => b.to_string(),
        None => c.str("/spec/storageClassName").to_string(),
    }
}

fn or_unset(v: &str) -> String {
    if v.is_empty() {
        "<unset>".into()
    } else {
        v.into()
    }
}

/// Upstream `printPersistentVolume`: one cell per column of the kind.
pub fn persistent_volume(c: &Ctx) -> Vec<Value> {
    let claim = match c.get("/spec/claimRef") {
        Some(r) => format!(
            "{}/{}",
            r.get("namespace").and_then(Value::as_str).unwrap_or(""),
            r.get("name").and_then(Value::as_str).unwrap_or("")
        ),
        None => String::new(),
    };
    let phase = if c.deleting() {
        "Terminating"
    } else {
        c.str("/status/phase")
    };
    vec![
        c.name(),
        s(quantity_or_zero(c.get("/spec/capacity/storage"))),
        s(access_modes(c.arr("/spec/accessModes"))),
        s(c.str("/spec/persistentVolumeReclaimPolicy")),
        s(phase),
        s(claim),
        s(storage_class_of(c)),
        s(or_unset(c.str("/spec/volumeAttributesClassName"))),
        s(c.str("/status/reason")),
        c.age(),
        s(or_unset(c.str("/spec/volumeMode"))),
    ]
}

/// A quantity as stored; `0` when absent (upstream prints the zero `Quantity`).
fn quantity_or_zero(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(q)) => q.clone(),
        Some(other) => other.to_string(),
        None => "0".into(),
    }
}

/// Upstream `printPersistentVolumeClaim`: one cell per column of the kind.
pub fn persistent_volume_claim(c: &Ctx) -> Vec<Value> {
    let phase = if c.deleting() {
        "Terminating"
    } else {
        c.str("/status/phase")
    };
    let bound = !c.str("/spec/volumeName").is_empty();
    let (capacity, modes) = if bound {
        (
            quantity_or_zero(c.get("/status/capacity/storage")),
            access_modes(c.arr("/status/accessModes")),
        )
    } else {
        (String::new(), String::new())
    };
    vec![
        c.name(),
        s(phase),
        s(c.str("/spec/volumeName")),
        s(capacity),
        s(modes),
        s(storage_class_of(c)),
        s(or_unset(c.str("/spec/volumeAttributesClassName"))),
        c.age(),
        s(or_unset(c.str("/spec/volumeMode"))),
    ]
}

/// `printDeployment`: READY `ready/desired`, UP-TO-DATE, AVAILABLE, AGE, and the wide
/// CONTAINERS IMAGES SELECTOR.
pub fn deployment(c: &Ctx) -> Vec<Value> {
    let [names, images] = container_cells(c.arr("/spec/template/spec/containers"));
    vec![
        c.name(),
        s(format!(
            "{}/{}",
            c.int("/status/readyReplicas"),
            desired_replicas(c)
        )),
        Value::from(c.int("/status/updatedReplicas")),
        Value::from(c.int("/status/availableReplicas")),
        c.age(),
        names,
        images,
        s(selector_string(c.get("/spec/selector"))),
    ]
}

/// `formatHPAMetrics` for the metric kinds of autoscaling/v2 (and v1's CPU target).
fn hpa_metrics(c: &Ctx) -> String {
    let mut specs: Vec<Value> = c.arr("/spec/metrics").to_vec();
    let mut statuses: Vec<Value> = c.arr("/status/currentMetrics").to_vec();
    if let Some(target) = c
        .get("/spec/targetCPUUtilizationPercentage")
        .and_then(Value::as_i64)
    {
        // autoscaling/v1: one CPU utilization target.
        specs = vec![
            serde_json::json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}}),
        ];
        statuses = match c
            .get("/status/currentCPUUtilizationPercentage")
            .and_then(Value::as_i64)
        {
            Some(cur) => vec![
                serde_json::json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": cur}}}),
            ],
            None => Vec::new(),
        };
    }
    if specs.is_empty() {
        return "<none>".into();
    }
    let q = |v: Option<&Value>| v.map(int_or_string).unwrap_or_else(|| "0".into());
    let mut list: Vec<String> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let status = statuses.get(i);
        let typ = spec.get("type").and_then(Value::as_str).unwrap_or("");
        let source = match typ {
            "External" => "external",
            "Pods" => "pods",
            "Object" => "object",
            "Resource" => "resource",
            "ContainerResource" => "containerResource",
            _ => {
                list.push("<unknown type>".into());
                continue;
            }
        };
        let target = spec.pointer(&format!("/{source}/target"));
        let current = status
            .filter(|st| st.get("type").and_then(Value::as_str) == Some(typ))
            .and_then(|st| st.pointer(&format!("/{source}/current")));
        let avg_value = target.and_then(|t| t.get("averageValue"));
        let entry = if typ == "Pods" {
            let cur = current
                .map(|cur| q(cur.get("averageValue")))
                .unwrap_or_else(|| "<unknown>".into());
            format!("{cur}/{}", q(avg_value))
        } else if let Some(avg) = avg_value {
            let cur = current
                .and_then(|cur| cur.get("averageValue"))
                .map(int_or_string)
                .unwrap_or_else(|| "<unknown>".into());
            if matches!(typ, "External" | "Object") {
                format!("{cur}/{} (avg)", int_or_string(avg))
            } else {
                format!("{cur}/{}", int_or_string(avg))
            }
        } else if matches!(typ, "External" | "Object") {
            let cur = current
                .map(|cur| q(cur.get("value")))
                .unwrap_or_else(|| "<unknown>".into());
            format!("{cur}/{}", q(target.and_then(|t| t.get("value"))))
        } else {
            let cur = current
                .and_then(|cur| cur.get("averageUtilization"))
                .and_then(Value::as_i64)
                .map(|u| format!("{u}%"))
                .unwrap_or_else(|| "<unknown>".into());
            let tgt = target
                .and_then(|t| t.get("averageUtilization"))
                .and_then(Value::as_i64)
                .map(|u| format!("{u}%"))
                .unwrap_or_else(|| "<auto>".into());
            format!("{cur}/{tgt}")
        };
        list.push(entry);
    }
    let max = 2;
    let count = specs.len();
    if count > max {
        list.truncate(max);
        format!("{} + {} more...", list.join(", "), count - max)
    } else {
        list.join(", ")
    }
}

/// Upstream `printHorizontalPodAutoscaler`: one cell per column of the kind.
pub fn hpa(c: &Ctx) -> Vec<Value> {
    let reference = format!(
        "{}/{}",
        c.str("/spec/scaleTargetRef/kind"),
        c.str("/spec/scaleTargetRef/name")
    );
    let min = c
        .get("/spec/minReplicas")
        .and_then(Value::as_i64)
        .map(|n| n.to_string())
        .unwrap_or_else(|| "<unset>".into());
    vec![
        c.name(),
        s(reference),
        s(hpa_metrics(c)),
        s(min),
        Value::from(c.int("/spec/maxReplicas")),
        Value::from(c.int("/status/currentReplicas")),
        c.age(),
    ]
}

/// Upstream `printConfigMap`: one cell per column of the kind.
pub fn config_map(c: &Ctx) -> Vec<Value> {
    vec![
        c.name(),
        Value::from(c.len("/data") + c.len("/binaryData")),
        c.age(),
    ]
}

/// Upstream `printNetworkPolicy`: one cell per column of the kind.
pub fn network_policy(c: &Ctx) -> Vec<Value> {
    let sel = c
        .get("/spec/podSelector")
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    vec![c.name(), s(format_label_selector(Some(&sel))), c.age()]
}

/// `printRoleBinding` / `printClusterRoleBinding`: ROLE `Kind/name`; wide USERS, GROUPS,
/// SERVICEACCOUNTS (`namespace/name`).
pub fn role_binding(c: &Ctx) -> Vec<Value> {
    let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
    for subject in c.arr("/subjects") {
        let name = subject.get("name").and_then(Value::as_str).unwrap_or("");
        match subject.get("kind").and_then(Value::as_str) {
            Some("User") => users.push(name.to_string()),
            Some("Group") => groups.push(name.to_string()),
            Some("ServiceAccount") => sas.push(format!(
                "{}/{name}",
                subject
                    .get("namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            )),
            _ => {}
        }
    }
    vec![
        c.name(),
        s(format!(
            "{}/{}",
            c.str("/roleRef/kind"),
            c.str("/roleRef/name")
        )),
        c.age(),
        s(users.join(", ")),
        s(groups.join(", ")),
        s(sas.join(", ")),
    ]
}

/// Upstream `printCertificateSigningRequest`: one cell per column of the kind.
pub fn csr(c: &Ctx) -> Vec<Value> {
    let conditions = c.arr("/status/conditions");
    let has = |t: &str| {
        conditions
            .iter()
            .any(|cond| cond.get("type").and_then(Value::as_str) == Some(t))
    };
    let mut status = if has("Denied") {
        "Denied".to_string()
    } else if has("Approved") {
        "Approved".to_string()
    } else {
        "Pending".to_string()
    };
    if has("Failed") {
        status.push_str(",Failed");
    }
    if !c.str("/status/certificate").is_empty() {
        status.push_str(",Issued");
    }
    let duration = c
        .get("/spec/expirationSeconds")
        .and_then(Value::as_i64)
        .map(|secs| human_duration(time::Duration::seconds(secs)))
        .unwrap_or_else(|| "<none>".into());
    vec![
        c.name(),
        c.age(),
        s(or_none(c.str("/spec/signerName"))),
        s(c.str("/spec/username")),
        s(duration),
        s(status),
    ]
}

/// Upstream `printLease`: one cell per column of the kind.
pub fn lease(c: &Ctx) -> Vec<Value> {
    vec![c.name(), s(c.str("/spec/holderIdentity")), c.age()]
}

/// Upstream `printStorageClass`: one cell per column of the kind.
pub fn storage_class(c: &Ctx) -> Vec<Value> {
    let annotations = c.get("/metadata/annotations");
    let is_default = [
        "storageclass.kubernetes.io/is-default-class",
        "storageclass.beta.kubernetes.io/is-default-class",
    ]
    .iter()
    .any(|k| annotations.and_then(|a| a.get(*k)).and_then(Value::as_str) == Some("true"));
    let mut name = c.str("/metadata/name").to_string();
    if is_default {
        name.push_str(" (default)");
    }
    let reclaim = match c.str("/reclaimPolicy") {
        "" => "Delete",
        r => r,
    };
    let binding = match c.str("/volumeBindingMode") {
        "" => "Immediate",
        b => b,
    };
    vec![
        s(name),
        s(c.str("/provisioner")),
        s(reclaim),
        s(binding),
        Value::from(
            c.get("/allowVolumeExpansion")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ),
        c.age(),
    ]
}

/// Upstream `printControllerRevision`: one cell per column of the kind.
pub fn controller_revision(c: &Ctx) -> Vec<Value> {
    let controller = c
        .arr("/metadata/ownerReferences")
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .map(|r| {
            let api_version = r.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
            let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
            let name = r.get("name").and_then(Value::as_str).unwrap_or("");
            if kind.is_empty() && group.is_empty() {
                name.to_string()
            } else if group.is_empty() {
                format!("{}/{name}", kind.to_lowercase())
            } else {
                format!("{}.{group}/{name}", kind.to_lowercase())
            }
        })
        .unwrap_or_else(|| "<none>".into());
    vec![
        c.name(),
        s(controller),
        Value::from(c.int("/revision")),
        c.age(),
    ]
}

/// Upstream `printResourceQuota`: one cell per column of the kind.
pub fn resource_quota(c: &Ctx) -> Vec<Value> {
    let hard = c.get("/status/hard").and_then(Value::as_object);
    let used = c.get("/status/used");
    let mut names: Vec<&String> = hard.map(|h| h.keys().collect()).unwrap_or_default();
    names.sort();
    let (mut requests, mut limits) = (Vec::new(), Vec::new());
    for name in names {
        let hard_q = hard
            .and_then(|h| h.get(name))
            .map(int_or_string)
            .unwrap_or_else(|| "0".into());
        let used_q = used
            .and_then(|u| u.get(name))
            .map(int_or_string)
            .unwrap_or_else(|| "0".into());
        let entry = format!("{name}: {used_q}/{hard_q}");
        if name.split('.').count() > 1 && name.starts_with("limits.") {
            limits.push(entry);
        } else {
            requests.push(entry);
        }
    }
    vec![
        c.name(),
        c.age(),
        s(requests.join(", ")),
        s(limits.join(", ")),
    ]
}

/// Upstream `printPriorityClass`: one cell per column of the kind.
pub fn priority_class(c: &Ctx) -> Vec<Value> {
    vec![
        c.name(),
        Value::from(c.int("/value")),
        Value::from(
            c.get("/globalDefault")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ),
        c.age(),
    ]
}

/// Upstream `printVolumeAttachment`: one cell per column of the kind.
pub fn volume_attachment(c: &Ctx) -> Vec<Value> {
    vec![
        c.name(),
        s(c.str("/spec/attacher")),
        s(c.str("/spec/source/persistentVolumeName")),
        s(c.str("/spec/nodeName")),
        Value::from(
            c.get("/status/attached")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ),
        c.age(),
    ]
}

/// Upstream `printCSINode`: one cell per column of the kind.
pub fn csi_node(c: &Ctx) -> Vec<Value> {
    vec![c.name(), Value::from(c.len("/spec/drivers")), c.age()]
}

/// Upstream `printCSIDriver`: one cell per column of the kind.
pub fn csi_driver(c: &Ctx) -> Vec<Value> {
    let flag =
        |p: &str, default: bool| Value::from(c.get(p).and_then(Value::as_bool).unwrap_or(default));
    let tokens = match c.get("/spec/tokenRequests").and_then(Value::as_array) {
        Some(t) => t
            .iter()
            .map(|r| r.get("audience").and_then(Value::as_str).unwrap_or(""))
            .collect::<Vec<_>>()
            .join(","),
        None => "<unset>".into(),
    };
    let modes: Vec<&str> = c
        .arr("/spec/volumeLifecycleModes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    vec![
        c.name(),
        flag("/spec/attachRequired", true),
        flag("/spec/podInfoOnMount", false),
        flag("/spec/storageCapacity", false),
        s(tokens),
        flag("/spec/requiresRepublish", false),
        s(or_none(&modes.join(","))),
        c.age(),
    ]
}

/// Upstream `printMutatingWebhook` / `printValidatingWebhook`: one cell per column of the kind.
pub fn webhook_configuration(c: &Ctx) -> Vec<Value> {
    vec![c.name(), Value::from(c.len("/webhooks")), c.age()]
}

/// Upstream `printValidatingAdmissionPolicy`: one cell per column of the kind.
pub fn validating_admission_policy(c: &Ctx) -> Vec<Value> {
    let param_kind = match c.get("/spec/paramKind") {
        Some(p) => format!(
            "{}/{}",
            p.get("apiVersion").and_then(Value::as_str).unwrap_or(""),
            p.get("kind").and_then(Value::as_str).unwrap_or("")
        ),
        None => "<unset>".into(),
    };
    vec![
        c.name(),
        Value::from(c.len("/spec/validations")),
        s(param_kind),
        c.age(),
    ]
}

/// Upstream `printValidatingAdmissionPolicyBinding`: one cell per column of the kind.
pub fn validating_admission_policy_binding(c: &Ctx) -> Vec<Value> {
    let param = match c.get("/spec/paramRef") {
        Some(p) => {
            let ns = p.get("namespace").and_then(Value::as_str).unwrap_or("");
            let name = p.get("name").and_then(Value::as_str).unwrap_or("");
            if ns.is_empty() {
                name.to_string()
            } else {
                format!("{ns}/{name}")
            }
        }
        None => "<unset>".into(),
    };
    vec![c.name(), s(c.str("/spec/policyName")), s(param), c.age()]
}
