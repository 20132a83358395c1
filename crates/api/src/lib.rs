//! The pure core of the Kubernetes API: which resources exist ([`registry`]), how
//! objects are defaulted ([`defaults`]) and validated ([`validation`]), label and
//! field selectors ([`selector`], [`fields`]), address/port allocation ([`alloc`]) and the
//! `Status` errors clients receive ([`status`]), and server-side printing ([`table`]).
//!
//! **Architecture invariant:** nothing here does IO. Functions take values and return values.

pub mod alloc;
pub mod crd;
pub mod defaults;
pub mod disruption;
pub mod fields;
pub mod managed;
pub mod names;
pub mod openapi;
pub mod protobuf;
pub mod registry;
pub mod resources;
pub mod schema;
pub mod selector;
pub mod status;
pub mod strategic;
pub mod table;
pub mod validation;
