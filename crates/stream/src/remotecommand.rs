//! The Kubernetes protocols carried over SPDY and WebSocket: remote command (exec/attach) and
//! port-forward.
//!
//! - Remote command over SPDY: one SPDY stream per channel, named by the `streamtype` header
//!   (`error`, `stdin`, `stdout`, `stderr`, `resize`); `X-Stream-Protocol-Version` picks the
//!   dialect (`v4.channel.k8s.io`: the error stream carries a JSON `Status`, a non-zero exit code
//!   as `details.causes[{reason: "ExitCode", message: "3"}]`).
//! - Remote command over WebSocket (`v4`/`v5.channel.k8s.io`): each binary message starts with a
//!   channel byte (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize); v5 adds channel 255,
//!   "close the channel named by the next byte" (how a client ends stdin).
//! - Port-forward over SPDY (`portforward.k8s.io`): per connection a pair of streams,
//!   `streamtype` `data` and `error`, with headers `port` and `requestid`. kubectl ≥ 1.31 tunnels
//!   exactly that SPDY byte stream inside WebSocket binary messages (`SPDY/3.1+portforward.k8s.io`).
//! - Port-forward over WebSocket channels (client libraries): ports from the `ports` query
//!   parameter; port i uses data channel 2i and error channel 2i+1, and the first message the
//!   server sends on each is the port number, 2 bytes little-endian.

/// WebSocket remote command, with stream close (Kubernetes ≥ 1.30).
pub const V5_CHANNEL: &str = "v5.channel.k8s.io";
/// WebSocket or SPDY remote command with resize and a JSON Status on the error channel.
pub const V4_CHANNEL: &str = "v4.channel.k8s.io";
/// SPDY port-forward, and the WebSocket channel port-forward of client libraries.
pub const PORT_FORWARD: &str = "portforward.k8s.io";
/// SPDY port-forward tunnelled inside WebSocket binary messages (kubectl ≥ 1.31).
pub const SPDY_TUNNEL: &str = "SPDY/3.1+portforward.k8s.io";

/// The SPDY upgrade token.
pub const SPDY_UPGRADE: &str = "SPDY/3.1";
/// Header naming the sub-protocols a client offers over SPDY (and the one the server chose).
pub const STREAM_PROTOCOL_HEADER: &str = "X-Stream-Protocol-Version";
/// SPDY header naming a stream's role.
pub const STREAM_TYPE: &str = "streamtype";
/// SPDY port-forward headers.
pub const PORT_HEADER: &str = "port";
pub const REQUEST_ID_HEADER: &str = "requestid";

/// WebSocket channel numbers of remote command.
pub mod channel {
    pub const STDIN: u8 = 0;
    pub const STDOUT: u8 = 1;
    pub const STDERR: u8 = 2;
    pub const ERROR: u8 = 3;
    pub const RESIZE: u8 = 4;
    /// v5: "the channel in the next byte is closed".
    pub const CLOSE: u8 = 255;
}

/// The role of a remote-command stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StreamType {
    Error,
    Stdin,
    Stdout,
    Stderr,
    Resize,
}

impl StreamType {
    /// The `streamtype` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Stdin => "stdin",
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
            Self::Resize => "resize",
        }
    }

    /// The WebSocket channel carrying this stream.
    pub fn channel(self) -> u8 {
        match self {
            Self::Stdin => channel::STDIN,
            Self::Stdout => channel::STDOUT,
            Self::Stderr => channel::STDERR,
            Self::Error => channel::ERROR,
            Self::Resize => channel::RESIZE,
        }
    }

    /// The stream a WebSocket channel carries.
    pub fn from_channel(ch: u8) -> Option<Self> {
        [
            Self::Stdin,
            Self::Stdout,
            Self::Stderr,
            Self::Error,
            Self::Resize,
        ]
        .into_iter()
        .find(|s| s.channel() == ch)
    }
}

/// Which standard streams a remote command has (the `stdin`, `stdout`, `stderr`, `tty` query
/// parameters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamOptions {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

impl StreamOptions {
    /// The SPDY streams a v4 server waits for, error first, as client-go opens them. With a
    /// terminal stderr is merged into stdout and a resize stream is added.
    pub fn spdy_streams(self) -> Vec<StreamType> {
        let mut streams = vec![StreamType::Error];
        if self.stdin {
            streams.push(StreamType::Stdin);
        }
        if self.stdout {
            streams.push(StreamType::Stdout);
        }
        if self.stderr && !self.tty {
            streams.push(StreamType::Stderr);
        }
        if self.tty {
            streams.push(StreamType::Resize);
        }
        streams
    }
}

/// The WebSocket dialect a remote-command client offered that we speak, best first.
pub fn choose_remote_command_protocol(offered: &str) -> Option<&'static str> {
    choose(offered, &[V5_CHANNEL, V4_CHANNEL])
}

/// The WebSocket port-forward dialect offered: the SPDY tunnel (kubectl) or the channel
/// protocol (libraries).
pub fn choose_port_forward_protocol(offered: &str) -> Option<&'static str> {
    choose(offered, &[SPDY_TUNNEL, V4_CHANNEL, PORT_FORWARD])
}

fn choose(offered: &str, ours: &[&'static str]) -> Option<&'static str> {
    let offered: Vec<&str> = offered.split(',').map(str::trim).collect();
    ours.iter().copied().find(|p| offered.contains(p))
}

/// Split a channel message into its channel and data.
pub fn split_channel(message: &[u8]) -> Option<(u8, &[u8])> {
    message.split_first().map(|(ch, data)| (*ch, data))
}

/// A channel message: the channel byte, then the data.
pub fn channel_message(ch: u8, data: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(data.len() + 1);
    m.push(ch);
    m.extend_from_slice(data);
    m
}

/// The v5 "close channel" signal's target, when `message` is one.
pub fn closed_channel(message: &[u8]) -> Option<u8> {
    match message {
        [channel::CLOSE, ch, ..] => Some(*ch),
        _ => None,
    }
}

/// The ports of a WebSocket channel port-forward request (`?ports=80,8080` or repeated
/// `ports=`), in order.
pub fn parse_ports(values: &[&str]) -> Result<Vec<u16>, String> {
    let mut ports = Vec::new();
    for v in values.iter().flat_map(|v| v.split(',')) {
        let v = v.trim();
        match v.parse::<u16>() {
            Ok(p) if p > 0 => ports.push(p),
            _ => return Err(format!("invalid port {v:?}: must be between 1 and 65535")),
        }
    }
    if ports.is_empty() {
        return Err("query parameter \"port\" is required".into());
    }
    Ok(ports)
}

/// The first message of a channel port-forward data or error channel: the port, little endian.
pub fn port_prefix(ch: u8, port: u16) -> Vec<u8> {
    channel_message(ch, &port.to_le_bytes())
}

#[cfg(test)]
mod tests;
