//! The node side of the kubelet: register the Node, renew its Lease every 10 s, post its status
//! when it changes (or every 5 minutes), and follow the podCIDR the node IPAM controller gives it.

mod heartbeat;
pub mod host;
pub mod status;

pub use heartbeat::{NodeSpec, RuntimeCondition, RuntimeHealth, renew_lease, run};

#[cfg(test)]
mod tests;
