//! WebSocket (RFC 6455) framing: the opening handshake's accept key, frames, and messages put
//! back together from fragments. Servers send unmasked frames; clients mask theirs.

use base64::Engine;
use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Messages larger than this are refused (Kubernetes clients send at most a few tens of KiB).
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// The key-derivation GUID of RFC 6455 section 1.3.
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Frame opcodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl Opcode {
    fn from_bits(bits: u8) -> Option<Self> {
        Some(match bits {
            0 => Self::Continuation,
            1 => Self::Text,
            2 => Self::Binary,
            8 => Self::Close,
            9 => Self::Ping,
            10 => Self::Pong,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            Self::Continuation => 0,
            Self::Text => 1,
            Self::Binary => 2,
            Self::Close => 8,
            Self::Ping => 9,
            Self::Pong => 10,
        }
    }

    fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }
}

/// One frame, payload already unmasked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub opcode: Opcode,
    pub payload: Bytes,
}

/// A whole message (data messages reassembled; control frames as they come).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub opcode: Opcode,
    pub payload: Bytes,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WsError {
    #[error("WebSocket frame with reserved bits or unknown opcode {0:#x}")]
    Protocol(u8),
    #[error("WebSocket message larger than {MAX_MESSAGE} bytes")]
    TooLarge,
    #[error("WebSocket continuation frame without a message to continue")]
    StrayContinuation,
    #[error("WebSocket control frame fragmented or longer than 125 bytes")]
    BadControl,
}

/// `Sec-WebSocket-Accept` for a request's `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(key.trim().as_bytes());
    ctx.update(ACCEPT_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(ctx.finish())
}

/// Append one frame. `mask` is `Some` for frames a client sends.
pub fn encode(
    out: &mut BytesMut,
    fin: bool,
    opcode: Opcode,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) {
    out.put_u8(if fin { 0x80 } else { 0 } | opcode.bits());
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.put_u8(mask_bit | n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.put_u8(mask_bit | 126);
            out.put_u16(n as u16);
        }
        n => {
            out.put_u8(mask_bit | 127);
            out.put_u64(n as u64);
        }
    }
    match mask {
        Some(key) => {
            out.put_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.put_slice(payload),
    }
}

/// A close frame's payload: status code and reason.
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    p
}

/// Take one whole frame off the front of `buf`; `None` when more bytes are needed.
pub fn decode_frame(buf: &mut BytesMut) -> Result<Option<Frame>, WsError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let (b0, b1) = (buf[0], buf[1]);
    if b0 & 0x70 != 0 {
        return Err(WsError::Protocol(b0));
    }
    let opcode = Opcode::from_bits(b0 & 0x0F).ok_or(WsError::Protocol(b0 & 0x0F))?;
    let fin = b0 & 0x80 != 0;
    let masked = b1 & 0x80 != 0;
    let (len, mut at) = match b1 & 0x7F {
        126 => {
            if buf.len() < 4 {
                return Ok(None);
            }
            (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4)
        }
        127 => {
            if buf.len() < 10 {
                return Ok(None);
            }
            let mut eight = [0u8; 8];
            eight.copy_from_slice(&buf[2..10]);
            (u64::from_be_bytes(eight), 10)
        }
        n => (u64::from(n), 2),
    };
    if len > MAX_MESSAGE as u64 {
        return Err(WsError::TooLarge);
    }
    if opcode.is_control() && (!fin || len > 125) {
        return Err(WsError::BadControl);
    }
    let len = len as usize;
    let key = if masked {
        if buf.len() < at + 4 {
            return Ok(None);
        }
        let k = [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]];
        at += 4;
        Some(k)
    } else {
        None
    };
    if buf.len() < at + len {
        return Ok(None);
    }
    buf.advance(at);
    let mut payload = buf.split_to(len);
    if let Some(key) = key {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= key[i % 4];
        }
    }
    Ok(Some(Frame {
        fin,
        opcode,
        payload: payload.freeze(),
    }))
}

/// Puts fragmented data messages back together; control frames pass straight through
/// (they may arrive between fragments).
#[derive(Default)]
pub struct Reassembler {
    partial: Option<(Opcode, BytesMut)>,
}

impl Reassembler {
    /// Feed one frame; a message comes out when one is complete.
    pub fn push(&mut self, frame: Frame) -> Result<Option<Message>, WsError> {
        if frame.opcode.is_control() {
            return Ok(Some(Message {
                opcode: frame.opcode,
                payload: frame.payload,
            }));
        }
        let (opcode, mut data) = match (frame.opcode, self.partial.take()) {
            (Opcode::Continuation, Some((op, mut data))) => {
                if data.len() + frame.payload.len() > MAX_MESSAGE {
                    return Err(WsError::TooLarge);
                }
                data.extend_from_slice(&frame.payload);
                (op, data)
            }
            (Opcode::Continuation, None) => return Err(WsError::StrayContinuation),
            (op, _) => (op, BytesMut::from(&frame.payload[..])),
        };
        if frame.fin {
            Ok(Some(Message {
                opcode,
                payload: data.split().freeze(),
            }))
        } else {
            self.partial = Some((opcode, data));
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests;
