//! Pod networking on one node: the CNI network list the agent writes for containerd's CRI
//! plugin (bridge `cni0` + host-local IPAM on the node's podCIDR, outbound masquerade, portmap
//! for hostPort). containerd watches the directory and sets up each sandbox with it.

use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// The file the agent writes into the CNI config directory.
pub const CONFLIST_FILE: &str = "10-k3rs.conflist";
/// The network's name (also the host-local IPAM's subdirectory).
pub const NETWORK_NAME: &str = "k3rs";
/// The Linux bridge pods attach to.
pub const BRIDGE: &str = "cni0";

/// The CNI network of one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodNetwork {
    /// The node's podCIDR(s), e.g. `10.42.0.0/24`.
    pub pod_cidrs: Vec<String>,
    /// Where host-local keeps its allocations (under the agent's directory, so that two agents
    /// on one machine never share them).
    pub ipam_dir: PathBuf,
}

/// The CNI network list (cniVersion 1.0.0) for `net`.
pub fn conflist(net: &PodNetwork) -> Value {
    let ranges: Vec<Value> = net
        .pod_cidrs
        .iter()
        .map(|cidr| json!([{"subnet": cidr}]))
        .collect();
    let routes: Vec<Value> = net
        .pod_cidrs
        .iter()
        .map(|cidr| {
            if cidr.contains(':') {
                json!({"dst": "::/0"})
            } else {
                json!({"dst": "0.0.0.0/0"})
            }
        })
        .collect();
    json!({
        "cniVersion": "1.0.0",
        "name": NETWORK_NAME,
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": true,
                // Traffic leaving the node is masqueraded to the node's address.
                "ipMasq": true,
                // A pod reaching itself through a Service comes back over the bridge.
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": ranges,
                    "routes": routes,
                    "dataDir": net.ipam_dir,
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true},
        ],
    })
}

/// Write the network list into `conf_dir` atomically; true when the file changed.
pub fn write_conflist(conf_dir: &Path, net: &PodNetwork) -> io::Result<bool> {
    let path = conf_dir.join(CONFLIST_FILE);
    let body = serde_json::to_vec_pretty(&conflist(net)).map_err(io::Error::other)?;
    if std::fs::read(&path).is_ok_and(|old| old == body) {
        return Ok(false);
    }
    std::fs::create_dir_all(conf_dir)?;
    let tmp = conf_dir.join(format!(".{CONFLIST_FILE}.tmp"));
    std::fs::write(&tmp, &body)?;
    std::fs::rename(&tmp, &path)?;
    Ok(true)
}

#[cfg(test)]
mod tests;
