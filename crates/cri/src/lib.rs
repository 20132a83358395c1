//! The container runtime layer of the k3rs node agent: a CRI v1 client ([`CriClient`]), supervision
//! of the host's containerd ([`containerd`]) and images built and imported without a registry
//! ([`image`]).

mod client;
pub mod containerd;
pub mod image;
pub mod pause;

pub use client::{CriClient, CriError};

/// The CRI v1 protocol (`runtime.v1`): message types and the runtime and image service clients.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod v1 {
    tonic::include_proto!("runtime.v1");
}
