//! A container's environment, command and args as upstream's kubelet computes them
//! (`makeEnvironmentVariables`, `ExpandContainerCommandAndArgs`): envFrom first, then env in
//! order, each later definition replacing an earlier one of the same name; `$(VAR)` in an
//! env value sees only what was defined before it, command and args see the whole result.
//!
//! Service link variables (`enableServiceLinks`) are not made yet.

pub mod expand;
pub mod fields;

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Container, EnvFromSource, EnvVarSource, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

pub use expand::expand;
pub use fields::FieldError;

use crate::objects::ObjectSource;

/// What the environment needs to know about this node.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeFacts {
    /// The Node's name (`spec.nodeName` of its pods).
    pub name: String,
    /// The node's IPs, primary first (`status.hostIP`, `status.hostIPs`).
    pub host_ips: Vec<String>,
    /// The Node's allocatable resources: the value of an unset limit in `resourceFieldRef`.
    pub allocatable: BTreeMap<String, Quantity>,
}

/// One environment variable handed to the runtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvVar {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// The inputs of [`container_env`] other than the container.
#[derive(Clone, Copy)]
pub struct EnvInput<'a> {
    /// The pod.
    pub pod: &'a Pod,
    /// The pod's IPs, primary first, as the sandbox has them (the pod's status may not have
    /// them yet). Empty for a pod without a sandbox address.
    pub pod_ips: &'a [String],
    /// This node.
    pub node: &'a NodeFacts,
    /// ConfigMaps and Secrets.
    pub objects: &'a dyn ObjectSource,
}

/// A container's environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerEnv {
    /// The variables, in order of first definition.
    pub vars: Vec<EnvVar>,
    /// Messages for Warning Events (reason [`INVALID_ENV_NAMES_REASON`]): envFrom keys skipped
    /// because they are not valid variable names.
    pub warnings: Vec<String>,
}

/// The Event reason upstream gives when envFrom keys are skipped.
pub const INVALID_ENV_NAMES_REASON: &str = "InvalidEnvironmentVariableNames";

/// Why a container's environment cannot be made: the message of the container's
/// `CreateContainerConfigError` (upstream's wording).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// A referenced ConfigMap that does not exist (and is not optional).
    #[error("configmap {0:?} not found")]
    ConfigMapNotFound(String),
    /// A referenced Secret that does not exist (and is not optional).
    #[error("secret {0:?} not found")]
    SecretNotFound(String),
    /// A key missing from a ConfigMap.
    #[error("couldn't find key {key} in ConfigMap {namespace}/{name}")]
    ConfigMapKey {
        /// The key.
        key: String,
        /// The ConfigMap's namespace.
        namespace: String,
        /// The ConfigMap's name.
        name: String,
    },
    /// A key missing from a Secret.
    #[error("couldn't find key {key} in Secret {namespace}/{name}")]
    SecretKey {
        /// The key.
        key: String,
        /// The Secret's namespace.
        namespace: String,
        /// The Secret's name.
        name: String,
    },
    /// A fieldRef or resourceFieldRef that cannot be resolved.
    #[error(transparent)]
    Field(#[from] FieldError),
}

/// The environment of `container` in `input.pod`.
pub fn container_env(
    input: &EnvInput<'_>,
    container: &Container,
) -> Result<ContainerEnv, EnvError> {
    let mut env = EnvBuilder::default();
    let mut warnings = Vec::new();
    for source in container.env_from.iter().flatten() {
        if let Some(warning) = add_env_from(input, source, &mut env)? {
            warnings.push(warning);
        }
    }
    for var in container.env.iter().flatten() {
        let value = match (&var.value, &var.value_from) {
            (Some(v), _) if !v.is_empty() => expand(v, |name| env.get(name)),
            (_, Some(from)) => match value_from(input, container, from)? {
                Some(v) => v,
                // An optional reference to something missing defines nothing.
                None => continue,
            },
            _ => String::new(),
        };
        env.set(var.name.clone(), value);
    }
    Ok(ContainerEnv {
        vars: env.vars,
        warnings,
    })
}

/// Variables in order of first definition; a redefinition replaces the value in place.
#[derive(Default)]
struct EnvBuilder {
    vars: Vec<EnvVar>,
    index: HashMap<String, usize>,
}

impl EnvBuilder {
    fn set(&mut self, name: String, value: String) {
        match self.index.get(&name) {
            Some(&i) => self.vars[i].value = value,
            None => {
                self.index.insert(name.clone(), self.vars.len());
                self.vars.push(EnvVar { name, value });
            }
        }
    }
    fn get(&self, name: &str) -> Option<&str> {
        self.index.get(name).map(|&i| self.vars[i].value.as_str())
    }
}

/// Add one envFrom source; returns the warning about skipped keys, if any.
fn add_env_from(
    input: &EnvInput<'_>,
    source: &EnvFromSource,
    env: &mut EnvBuilder,
) -> Result<Option<String>, EnvError> {
    let ns = namespace(input.pod);
    let prefix = source.prefix.as_deref().unwrap_or_default();
    let (kind, name, entries): (&str, &str, Vec<(String, String)>) =
        if let Some(r) = &source.config_map_ref {
            match input.objects.config_map(ns, &r.name) {
                Some(cm) => (
                    "configMap",
                    r.name.as_str(),
                    cm.data.clone().unwrap_or_default().into_iter().collect(),
                ),
                None if r.optional == Some(true) => return Ok(None),
                None => return Err(EnvError::ConfigMapNotFound(r.name.clone())),
            }
        } else if let Some(r) = &source.secret_ref {
            match input.objects.secret(ns, &r.name) {
                Some(secret) => (
                    "secret",
                    r.name.as_str(),
                    secret
                        .data
                        .iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()))
                        .collect(),
                ),
                None if r.optional == Some(true) => return Ok(None),
                None => return Err(EnvError::SecretNotFound(r.name.clone())),
            }
        } else {
            return Ok(None);
        };
    let mut invalid = Vec::new();
    for (key, value) in entries {
        let key = format!("{prefix}{key}");
        if is_env_var_name(&key) {
            env.set(key, value);
        } else {
            invalid.push(key);
        }
    }
    if invalid.is_empty() {
        return Ok(None);
    }
    invalid.sort();
    Ok(Some(format!(
        "Keys [{}] from the EnvFrom {kind} {ns}/{name} were skipped since they are considered invalid environment variable names.",
        invalid.join(", ")
    )))
}

/// Upstream 1.33's rule for variable names (RelaxedEnvironmentVariableValidation, on by
/// default): printable ASCII other than `=`, not empty.
fn is_env_var_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'=')
}

/// The value of a `valueFrom`; `None` for an optional reference to something missing.
fn value_from(
    input: &EnvInput<'_>,
    container: &Container,
    from: &EnvVarSource,
) -> Result<Option<String>, EnvError> {
    let ns = namespace(input.pod);
    if let Some(r) = &from.config_map_key_ref {
        let optional = r.optional == Some(true);
        let Some(cm) = input.objects.config_map(ns, &r.name) else {
            return if optional {
                Ok(None)
            } else {
                Err(EnvError::ConfigMapNotFound(r.name.clone()))
            };
        };
        return match cm.data.as_ref().and_then(|d| d.get(&r.key)) {
            Some(v) => Ok(Some(v.clone())),
            None if optional => Ok(None),
            None => Err(EnvError::ConfigMapKey {
                key: r.key.clone(),
                namespace: ns.to_string(),
                name: r.name.clone(),
            }),
        };
    }
    if let Some(r) = &from.secret_key_ref {
        let optional = r.optional == Some(true);
        let Some(secret) = input.objects.secret(ns, &r.name) else {
            return if optional {
                Ok(None)
            } else {
                Err(EnvError::SecretNotFound(r.name.clone()))
            };
        };
        return match secret.data.as_ref().and_then(|d| d.get(&r.key)) {
            Some(v) => Ok(Some(String::from_utf8_lossy(&v.0).into_owned())),
            None if optional => Ok(None),
            None => Err(EnvError::SecretKey {
                key: r.key.clone(),
                namespace: ns.to_string(),
                name: r.name.clone(),
            }),
        };
    }
    if let Some(r) = &from.field_ref {
        return Ok(Some(pod_field(input, &r.field_path)?));
    }
    if let Some(r) = &from.resource_field_ref {
        let value = fields::resource_value(r, input.pod, Some(container), &input.node.allocatable)?;
        return Ok(Some(value));
    }
    Ok(Some(String::new()))
}

/// A `fieldRef` in env: the metadata fields of the downward API plus the spec and status
/// fields only env offers.
fn pod_field(input: &EnvInput<'_>, path: &str) -> Result<String, FieldError> {
    let spec = input.pod.spec.as_ref();
    Ok(match path {
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.hostIP" => input.node.host_ips.first().cloned().unwrap_or_default(),
        "status.hostIPs" => input.node.host_ips.join(","),
        "status.podIP" => input.pod_ips.first().cloned().unwrap_or_default(),
        "status.podIPs" => input.pod_ips.join(","),
        _ => fields::metadata_field(input.pod, path)?,
    })
}

fn namespace(pod: &Pod) -> &str {
    pod.metadata.namespace.as_deref().unwrap_or("default")
}

/// The container's command and args with `$(VAR)` expanded from its whole environment
/// `env` (as upstream's `ExpandContainerCommandAndArgs`).
pub fn expand_command_and_args(
    container: &Container,
    env: &[EnvVar],
) -> (Vec<String>, Vec<String>) {
    let map: HashMap<&str, &str> = env
        .iter()
        .map(|v| (v.name.as_str(), v.value.as_str()))
        .collect();
    let expand_all = |list: Option<&Vec<String>>| -> Vec<String> {
        list.into_iter()
            .flatten()
            .map(|s| expand(s, |name| map.get(name).copied()))
            .collect()
    };
    (
        expand_all(container.command.as_ref()),
        expand_all(container.args.as_ref()),
    )
}

#[cfg(test)]
mod tests;
