//! Translating a WebSocket caller to containerd's SPDY streaming server.
//!
//! Channel protocols (remote command, port-forward channels) map each WebSocket channel to one
//! SPDY stream that this side opens: [`Plan`] lists the streams and their channels, and
//! [`run`] moves channel messages to stream data and back. The port-forward tunnel carries SPDY
//! itself inside WebSocket messages, so [`tunnel`] only unwraps and wraps bytes.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use k3rs_stream::remotecommand::{
    self, PORT_HEADER, REQUEST_ID_HEADER, STREAM_TYPE, StreamOptions, StreamType, V5_CHANNEL,
};
use k3rs_stream::spdy::{self, FLAG_FIN, Frame as SpdyFrame};
use k3rs_stream::websocket::{self, Opcode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

#[derive(Debug, thiserror::Error)]
pub(crate) enum BridgeError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Spdy(#[from] spdy::SpdyError),
    #[error(transparent)]
    WebSocket(#[from] websocket::WsError),
}

/// Which way data flows on a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Caller → container (stdin, resize).
    In,
    /// Container → caller (stdout, stderr, error).
    Out,
    Both,
}

/// One SPDY stream to open, and the WebSocket channel it is carried on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StreamPlan {
    pub headers: spdy::Headers,
    pub channel: u8,
    pub direction: Direction,
}

/// Everything the translation needs to know up front.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub streams: Vec<StreamPlan>,
    /// Channel messages sent to the caller first (the port prefixes of port-forward).
    pub greeting: Vec<Vec<u8>>,
    /// The caller may close a channel (v5 close signal).
    pub close_signals: bool,
}

/// The plan of a remote command: the v4 SPDY streams the options call for.
pub(crate) fn remote_command_plan(opts: StreamOptions, ws_protocol: &str) -> Plan {
    Plan {
        streams: opts
            .spdy_streams()
            .into_iter()
            .map(|s| StreamPlan {
                headers: vec![(STREAM_TYPE.to_string(), s.as_str().to_string())],
                channel: s.channel(),
                direction: match s {
                    StreamType::Stdin | StreamType::Resize => Direction::In,
                    _ => Direction::Out,
                },
            })
            .collect(),
        greeting: Vec::new(),
        close_signals: ws_protocol == V5_CHANNEL,
    }
}

/// The plan of a port-forward over WebSocket channels: per port an error and a data stream
/// (request id = the port's index), and the port-number greeting on both channels.
pub(crate) fn port_forward_plan(ports: &[u16]) -> Plan {
    let mut plan = Plan::default();
    for (i, port) in ports.iter().enumerate() {
        let data_channel = (2 * i) as u8;
        for (kind, channel, direction) in [
            ("error", data_channel + 1, Direction::Out),
            ("data", data_channel, Direction::Both),
        ] {
            plan.streams.push(StreamPlan {
                headers: vec![
                    (STREAM_TYPE.to_string(), kind.to_string()),
                    (PORT_HEADER.to_string(), port.to_string()),
                    (REQUEST_ID_HEADER.to_string(), i.to_string()),
                ],
                channel,
                direction,
            });
        }
        plan.greeting
            .push(remotecommand::port_prefix(data_channel, *port));
        plan.greeting
            .push(remotecommand::port_prefix(data_channel + 1, *port));
    }
    plan
}

pub(crate) async fn remote_command<C, B>(
    client: C,
    backend: B,
    opts: StreamOptions,
    ws_protocol: &str,
) -> Result<(), BridgeError>
where
    C: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    run(client, backend, &remote_command_plan(opts, ws_protocol)).await
}

pub(crate) async fn port_forward_channels<C, B>(
    client: C,
    backend: B,
    ports: &[u16],
) -> Result<(), BridgeError>
where
    C: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    run(client, backend, &port_forward_plan(ports)).await
}

/// The state of one translated connection, kept apart from the sockets so it can be driven
/// by bytes in tests.
pub(crate) struct Translator {
    spdy: spdy::Codec,
    /// Stream id → channel, for data from the container.
    channel_of: HashMap<u32, u8>,
    /// Channel → stream id, for data from the caller.
    stream_of: HashMap<u8, u32>,
    close_signals: bool,
    /// Streams that carry both ways (port-forward data) and are still open on containerd's
    /// side; when the last one ends, so does the session.
    open_duplex: std::collections::HashSet<u32>,
    reassembler: websocket::Reassembler,
    /// Bytes to write to the caller and to containerd.
    pub to_client: BytesMut,
    pub to_backend: BytesMut,
    /// The caller closed the WebSocket or containerd ended the session.
    pub finished: bool,
}

impl Translator {
    /// Open the plan's streams and queue the greeting.
    pub fn start(plan: &Plan) -> Result<Self, BridgeError> {
        let mut t = Self {
            spdy: spdy::Codec::new(),
            channel_of: HashMap::new(),
            stream_of: HashMap::new(),
            close_signals: plan.close_signals,
            open_duplex: Default::default(),
            reassembler: websocket::Reassembler::default(),
            to_client: BytesMut::new(),
            to_backend: BytesMut::new(),
            finished: false,
        };
        for (i, s) in plan.streams.iter().enumerate() {
            let id = 2 * i as u32 + 1;
            if s.direction != Direction::In {
                t.channel_of.insert(id, s.channel);
            }
            if s.direction != Direction::Out {
                t.stream_of.insert(s.channel, id);
            }
            if s.direction == Direction::Both {
                t.open_duplex.insert(id);
            }
            t.spdy.encode(
                &SpdyFrame::SynStream {
                    stream_id: id,
                    associated_to: 0,
                    priority: 0,
                    flags: 0,
                    headers: s.headers.clone(),
                },
                &mut t.to_backend,
            )?;
        }
        for g in &plan.greeting {
            websocket::encode(&mut t.to_client, true, Opcode::Binary, g, None);
        }
        Ok(t)
    }

    /// Bytes from the caller (WebSocket frames).
    pub fn feed_client(&mut self, buf: &mut BytesMut) -> Result<(), BridgeError> {
        while let Some(frame) = websocket::decode_frame(buf)? {
            let Some(msg) = self.reassembler.push(frame)? else {
                continue;
            };
            match msg.opcode {
                Opcode::Binary | Opcode::Text => self.client_message(&msg.payload)?,
                Opcode::Ping => {
                    websocket::encode(&mut self.to_client, true, Opcode::Pong, &msg.payload, None)
                }
                Opcode::Close => {
                    self.close_client();
                    return Ok(());
                }
                Opcode::Pong | Opcode::Continuation => {}
            }
        }
        Ok(())
    }

    fn client_message(&mut self, payload: &[u8]) -> Result<(), BridgeError> {
        if self.close_signals
            && let Some(ch) = remotecommand::closed_channel(payload)
        {
            if let Some(id) = self.stream_of.remove(&ch) {
                self.spdy.encode(
                    &SpdyFrame::Data {
                        stream_id: id,
                        flags: FLAG_FIN,
                        data: Bytes::new(),
                    },
                    &mut self.to_backend,
                )?;
            }
            return Ok(());
        }
        let Some((ch, data)) = remotecommand::split_channel(payload) else {
            return Ok(());
        };
        if let (Some(id), false) = (self.stream_of.get(&ch), data.is_empty()) {
            self.spdy.encode(
                &SpdyFrame::Data {
                    stream_id: *id,
                    flags: 0,
                    data: Bytes::copy_from_slice(data),
                },
                &mut self.to_backend,
            )?;
        }
        Ok(())
    }

    /// Bytes from containerd (SPDY frames).
    pub fn feed_backend(&mut self, buf: &mut BytesMut) -> Result<(), BridgeError> {
        while let Some(frame) = self.spdy.decode(buf)? {
            match frame {
                SpdyFrame::Data {
                    stream_id,
                    flags,
                    data,
                } => {
                    if let (Some(ch), false) = (self.channel_of.get(&stream_id), data.is_empty()) {
                        let msg = remotecommand::channel_message(*ch, &data);
                        websocket::encode(&mut self.to_client, true, Opcode::Binary, &msg, None);
                    }
                    if flags & FLAG_FIN != 0 {
                        self.stream_ended(stream_id);
                    }
                }
                SpdyFrame::RstStream { stream_id, .. } => self.stream_ended(stream_id),
                SpdyFrame::Ping { id } => self
                    .spdy
                    .encode(&SpdyFrame::Ping { id }, &mut self.to_backend)?,
                SpdyFrame::SynStream { stream_id, .. } => self.spdy.encode(
                    &SpdyFrame::RstStream {
                        stream_id,
                        status: spdy::RST_CANCEL,
                    },
                    &mut self.to_backend,
                )?,
                SpdyFrame::GoAway { .. } => self.end_session(),
                _ => {}
            }
        }
        Ok(())
    }

    /// A port-forward connection ends when containerd has closed every data stream (the
    /// channel protocol cannot close one channel, so the caller learns it from the close).
    fn stream_ended(&mut self, id: u32) {
        if self.open_duplex.remove(&id) && self.open_duplex.is_empty() {
            self.end_session();
        }
    }

    /// containerd ended the session: tell the caller, normally.
    pub fn end_session(&mut self) {
        if !self.finished {
            let close = websocket::close_payload(1000, "");
            websocket::encode(&mut self.to_client, true, Opcode::Close, &close, None);
            self.finished = true;
        }
    }

    fn close_client(&mut self) {
        if !self.finished {
            websocket::encode(&mut self.to_client, true, Opcode::Close, &[], None);
            self.finished = true;
        }
    }
}

/// Drive a [`Translator`] between the two connections until either side ends.
async fn run<C, B>(client: C, backend: B, plan: &Plan) -> Result<(), BridgeError>
where
    C: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let (mut client_rd, mut client_wr) = tokio::io::split(client);
    let (mut backend_rd, mut backend_wr) = tokio::io::split(backend);
    let mut t = Translator::start(plan)?;
    let (mut from_client, mut from_backend) = (BytesMut::new(), BytesMut::new());
    loop {
        if !t.to_backend.is_empty() {
            backend_wr.write_all(&t.to_backend.split()).await?;
        }
        if !t.to_client.is_empty() {
            client_wr.write_all(&t.to_client.split()).await?;
        }
        if t.finished {
            break;
        }
        tokio::select! {
            n = client_rd.read_buf(&mut from_client) => {
                if n? == 0 {
                    break;
                }
                t.feed_client(&mut from_client)?;
            }
            n = backend_rd.read_buf(&mut from_backend) => {
                if n? == 0 {
                    t.end_session();
                } else {
                    t.feed_backend(&mut from_backend)?;
                }
            }
        }
    }
    let _ = client_wr.shutdown().await;
    let _ = backend_wr.shutdown().await;
    Ok(())
}

/// The port-forward tunnel: the caller's WebSocket binary messages carry a SPDY session, which
/// goes to containerd unchanged; containerd's bytes go back as binary messages.
pub(crate) async fn tunnel<C, B>(client: C, backend: B) -> Result<(), BridgeError>
where
    C: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let (mut client_rd, mut client_wr) = tokio::io::split(client);
    let (mut backend_rd, mut backend_wr) = tokio::io::split(backend);
    let mut from_client = BytesMut::new();
    let mut from_backend = BytesMut::with_capacity(32 * 1024);
    let mut to_client = BytesMut::new();
    loop {
        tokio::select! {
            n = client_rd.read_buf(&mut from_client) => {
                if n? == 0 {
                    break;
                }
                let mut closed = false;
                while let Some(frame) = websocket::decode_frame(&mut from_client)? {
                    match frame.opcode {
                        Opcode::Binary | Opcode::Text | Opcode::Continuation => {
                            backend_wr.write_all(&frame.payload).await?;
                        }
                        Opcode::Ping => websocket::encode(
                            &mut to_client, true, Opcode::Pong, &frame.payload, None,
                        ),
                        Opcode::Close => {
                            websocket::encode(&mut to_client, true, Opcode::Close, &[], None);
                            closed = true;
                            break;
                        }
                        Opcode::Pong => {}
                    }
                }
                if !to_client.is_empty() {
                    client_wr.write_all(&to_client.split()).await?;
                }
                if closed {
                    break;
                }
            }
            n = backend_rd.read_buf(&mut from_backend) => {
                if n? == 0 {
                    let close = websocket::close_payload(1000, "");
                    websocket::encode(&mut to_client, true, Opcode::Close, &close, None);
                    client_wr.write_all(&to_client.split()).await?;
                    break;
                }
                websocket::encode(&mut to_client, true, Opcode::Binary, &from_backend.split(), None);
                client_wr.write_all(&to_client.split()).await?;
            }
        }
    }
    let _ = client_wr.shutdown().await;
    let _ = backend_wr.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests;
