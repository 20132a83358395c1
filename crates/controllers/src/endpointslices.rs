//! The EndpointSlice controller's planner (upstream `pkg/controller/endpointslice`). Its loop
//! is shared with the Endpoints controller in [`crate::endpoints`] (one set of Service and Pod
//! caches for both); this module holds the pure slice planning.

pub mod core;
#[cfg(test)]
mod tests;
