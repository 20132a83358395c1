//! One module per CLI verb.

pub mod agent;
pub mod images;
pub mod kubectl;
pub mod server;
