//! Wire formats of Kubernetes streaming (exec, attach, port-forward), as pure framing:
//! bytes in, frames out, and back. No IO here; the kubelet server drives these over sockets.
//!
//! - [`spdy`]: SPDY/3.1 frames and the zlib-compressed name/value header blocks
//!   (what kubectl ≤ 1.29 and containerd's streaming server speak).
//! - [`websocket`]: RFC 6455 frames and the opening handshake's accept key.
//! - [`remotecommand`]: the Kubernetes channel protocols on top (`v4`/`v5.channel.k8s.io`,
//!   SPDY stream types, port-forward headers and channels).

pub mod remotecommand;
pub mod spdy;
pub mod websocket;
