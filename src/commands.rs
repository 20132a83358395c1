//! One module per CLI verb.

pub mod kubectl;
pub mod server;
