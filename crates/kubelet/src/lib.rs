//! The node agent of k3rs: a kubelet that registers the Node, keeps its Lease and status, and
//! runs the pods bound to it on containerd over CRI.
//!
//! Pure cores (what to do with a pod, its status, env, volume contents, DNS files) take values and
//! return values; the outer layers (CRI, the API, the file system) do the IO.

pub mod agent;
pub mod cni;
pub mod dns;
pub mod env;
pub mod image_gc;
pub mod join;
pub mod node;
pub mod objects;
pub mod pod;
pub mod pods;
pub mod probe;
pub mod server;
pub mod settings;
pub mod static_pods;
pub mod volumes;
