//! SPDY/3.1 framing (the subset of draft-mbelshe-httpbis-spdy-00 that Kubernetes streaming uses):
//! every frame type, and the name/value header blocks, which are one zlib stream per direction
//! and connection, primed with the SPDY/3 dictionary.
//!
//! Flow control: the Go implementation every Kubernetes peer uses (spdystream) neither sends
//! WINDOW_UPDATE nor honours windows, so [`Codec`] decodes the frame and leaves windows alone.

use std::sync::LazyLock;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The protocol version carried in control frames.
pub const VERSION: u16 = 3;
/// Last frame of the sender's half of a stream.
pub const FLAG_FIN: u8 = 0x01;
/// SYN_STREAM: the receiver may not send on this stream.
pub const FLAG_UNIDIRECTIONAL: u8 = 0x02;
/// RST_STREAM status: the stream was cancelled by its sender.
pub const RST_CANCEL: u32 = 5;
/// GOAWAY status: normal shutdown.
pub const GOAWAY_OK: u32 = 0;
/// The largest frame body the 24-bit length allows.
pub const MAX_FRAME_LEN: usize = 0x00FF_FFFF;

const HEADER_LEN: usize = 8;
/// Header blocks larger than this (uncompressed) are refused: Kubernetes sends a handful of
/// short headers, and an unbounded inflate would let a peer exhaust memory.
const MAX_HEADER_BLOCK: usize = 1024 * 1024;

mod kind {
    pub const SYN_STREAM: u16 = 1;
    pub const SYN_REPLY: u16 = 2;
    pub const RST_STREAM: u16 = 3;
    pub const SETTINGS: u16 = 4;
    pub const PING: u16 = 6;
    pub const GOAWAY: u16 = 7;
    pub const HEADERS: u16 = 8;
    pub const WINDOW_UPDATE: u16 = 9;
}

/// Header names and values; SPDY requires lower-case names. A value holding several values
/// separates them with NUL, as the protocol does.
pub type Headers = Vec<(String, String)>;

/// One SETTINGS entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    pub flags: u8,
    pub id: u32,
    pub value: u32,
}

/// A SPDY/3 frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    SynStream {
        stream_id: u32,
        associated_to: u32,
        priority: u8,
        flags: u8,
        headers: Headers,
    },
    SynReply {
        stream_id: u32,
        flags: u8,
        headers: Headers,
    },
    RstStream {
        stream_id: u32,
        status: u32,
    },
    Settings {
        flags: u8,
        entries: Vec<Setting>,
    },
    Ping {
        id: u32,
    },
    GoAway {
        last_good_stream_id: u32,
        status: u32,
    },
    Headers {
        stream_id: u32,
        flags: u8,
        headers: Headers,
    },
    WindowUpdate {
        stream_id: u32,
        delta: u32,
    },
    Data {
        stream_id: u32,
        flags: u8,
        data: Bytes,
    },
}

/// What went wrong reading or writing frames.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpdyError {
    #[error("SPDY frame of version {0}, only version 3 is spoken")]
    Version(u16),
    #[error("malformed SPDY {kind} frame: {why}")]
    Malformed { kind: &'static str, why: String },
    #[error("SPDY header block: {0}")]
    HeaderBlock(String),
    #[error("SPDY frame of {0} bytes is larger than the protocol allows")]
    TooLarge(usize),
}

fn malformed(kind: &'static str, why: impl Into<String>) -> SpdyError {
    SpdyError::Malformed {
        kind,
        why: why.into(),
    }
}

/// The SPDY/3 header compression dictionary (section 2.6.10.1 of the draft): length-prefixed
/// header names and values, then a run of common strings. Built from its parts so it stays
/// readable; a unit test pins its length and checksum.
pub static DICTIONARY: LazyLock<Vec<u8>> = LazyLock::new(|| {
    const WORDS: &[&str] = &[
        "options",
        "head",
        "post",
        "put",
        "delete",
        "trace",
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "accept-ranges",
        "age",
        "allow",
        "authorization",
        "cache-control",
        "connection",
        "content-base",
        "content-encoding",
        "content-language",
        "content-length",
        "content-location",
        "content-md5",
        "content-range",
        "content-type",
        "date",
        "etag",
        "expect",
        "expires",
        "from",
        "host",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "last-modified",
        "location",
        "max-forwards",
        "pragma",
        "proxy-authenticate",
        "proxy-authorization",
        "range",
        "referer",
        "retry-after",
        "server",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "vary",
        "via",
        "warning",
        "www-authenticate",
        "method",
        "get",
        "status",
        "200 OK",
        "version",
        "HTTP/1.1",
        "url",
        "public",
        "set-cookie",
        "keep-alive",
        "origin",
    ];
    const TAIL: &str = concat!(
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417",
        "502504505203 Non-Authoritative Information204 No Content301 Moved Permanently",
        "400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error",
        "501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct ",
        "Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,",
        "image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,",
        "publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.",
    );
    let mut dict = Vec::with_capacity(1424);
    for word in WORDS {
        dict.extend_from_slice(&(word.len() as u32).to_be_bytes());
        dict.extend_from_slice(word.as_bytes());
    }
    dict.extend_from_slice(TAIL.as_bytes());
    dict
});

/// Reads and writes frames of one connection. Holds the two zlib streams, so one codec per
/// connection, used in order.
pub struct Codec {
    deflate: Compress,
    inflate: Decompress,
}

impl Default for Codec {
    fn default() -> Self {
        Self::new()
    }
}

impl Codec {
    pub fn new() -> Self {
        let mut deflate = Compress::new(Compression::default(), true);
        // Setting the dictionary on a fresh stream cannot fail.
        let _ = deflate.set_dictionary(&DICTIONARY);
        Self {
            deflate,
            inflate: Decompress::new(true),
        }
    }

    /// Append the wire form of `frame` to `out`.
    pub fn encode(&mut self, frame: &Frame, out: &mut BytesMut) -> Result<(), SpdyError> {
        match frame {
            Frame::Data {
                stream_id,
                flags,
                data,
            } => {
                if data.len() > MAX_FRAME_LEN {
                    return Err(SpdyError::TooLarge(data.len()));
                }
                out.put_u32(stream_id & 0x7FFF_FFFF);
                put_flags_len(out, *flags, data.len());
                out.extend_from_slice(data);
            }
            Frame::SynStream {
                stream_id,
                associated_to,
                priority,
                flags,
                headers,
            } => {
                let block = self.compress(headers)?;
                let mut body = BytesMut::with_capacity(10 + block.len());
                body.put_u32(stream_id & 0x7FFF_FFFF);
                body.put_u32(associated_to & 0x7FFF_FFFF);
                body.put_u8((priority & 0x07) << 5);
                body.put_u8(0); // credential slot
                body.extend_from_slice(&block);
                control(out, kind::SYN_STREAM, *flags, &body)?;
            }
            Frame::SynReply {
                stream_id,
                flags,
                headers,
            }
            | Frame::Headers {
                stream_id,
                flags,
                headers,
            } => {
                let block = self.compress(headers)?;
                let mut body = BytesMut::with_capacity(4 + block.len());
                body.put_u32(stream_id & 0x7FFF_FFFF);
                body.extend_from_slice(&block);
                let kind = if matches!(frame, Frame::SynReply { .. }) {
                    kind::SYN_REPLY
                } else {
                    kind::HEADERS
                };
                control(out, kind, *flags, &body)?;
            }
            Frame::RstStream { stream_id, status } => {
                control(out, kind::RST_STREAM, 0, &two_words(*stream_id, *status))?;
            }
            Frame::Settings { flags, entries } => {
                let mut body = BytesMut::with_capacity(4 + 8 * entries.len());
                body.put_u32(entries.len() as u32);
                for e in entries {
                    body.put_u32((u32::from(e.flags) << 24) | (e.id & 0x00FF_FFFF));
                    body.put_u32(e.value);
                }
                control(out, kind::SETTINGS, *flags, &body)?;
            }
            Frame::Ping { id } => control(out, kind::PING, 0, &id.to_be_bytes())?,
            Frame::GoAway {
                last_good_stream_id,
                status,
            } => control(
                out,
                kind::GOAWAY,
                0,
                &two_words(*last_good_stream_id, *status),
            )?,
            Frame::WindowUpdate { stream_id, delta } => {
                control(out, kind::WINDOW_UPDATE, 0, &two_words(*stream_id, *delta))?
            }
        }
        Ok(())
    }

    /// Take one whole frame off the front of `buf`; `None` when more bytes are needed.
    /// Control frames of unknown types are skipped, as the protocol asks.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, SpdyError> {
        loop {
            if buf.len() < HEADER_LEN {
                return Ok(None);
            }
            let len = (u32::from_be_bytes([0, buf[5], buf[6], buf[7]])) as usize;
            if buf.len() < HEADER_LEN + len {
                return Ok(None);
            }
            let first = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
            let flags = buf[4];
            buf.advance(HEADER_LEN);
            let mut body = buf.split_to(len).freeze();
            if first & 0x8000_0000 == 0 {
                return Ok(Some(Frame::Data {
                    stream_id: first,
                    flags,
                    data: body,
                }));
            }
            let version = ((first >> 16) & 0x7FFF) as u16;
            if version != VERSION {
                return Err(SpdyError::Version(version));
            }
            let frame = match (first & 0xFFFF) as u16 {
                kind::SYN_STREAM => {
                    need(&body, 10, "SYN_STREAM")?;
                    let stream_id = body.get_u32() & 0x7FFF_FFFF;
                    let associated_to = body.get_u32() & 0x7FFF_FFFF;
                    let priority = body.get_u8() >> 5;
                    body.advance(1);
                    Frame::SynStream {
                        stream_id,
                        associated_to,
                        priority,
                        flags,
                        headers: self.decompress(&body)?,
                    }
                }
                kind::SYN_REPLY | kind::HEADERS => {
                    need(&body, 4, "SYN_REPLY/HEADERS")?;
                    let stream_id = body.get_u32() & 0x7FFF_FFFF;
                    let headers = self.decompress(&body)?;
                    if (first & 0xFFFF) as u16 == kind::SYN_REPLY {
                        Frame::SynReply {
                            stream_id,
                            flags,
                            headers,
                        }
                    } else {
                        Frame::Headers {
                            stream_id,
                            flags,
                            headers,
                        }
                    }
                }
                kind::RST_STREAM => {
                    need(&body, 8, "RST_STREAM")?;
                    Frame::RstStream {
                        stream_id: body.get_u32() & 0x7FFF_FFFF,
                        status: body.get_u32(),
                    }
                }
                kind::SETTINGS => {
                    need(&body, 4, "SETTINGS")?;
                    let count = body.get_u32() as usize;
                    if body.len() != count.saturating_mul(8) {
                        return Err(malformed("SETTINGS", "entry count does not match length"));
                    }
                    let entries = (0..count)
                        .map(|_| {
                            let head = body.get_u32();
                            Setting {
                                flags: (head >> 24) as u8,
                                id: head & 0x00FF_FFFF,
                                value: body.get_u32(),
                            }
                        })
                        .collect();
                    Frame::Settings { flags, entries }
                }
                kind::PING => {
                    need(&body, 4, "PING")?;
                    Frame::Ping { id: body.get_u32() }
                }
                kind::GOAWAY => {
                    need(&body, 4, "GOAWAY")?;
                    let last_good_stream_id = body.get_u32() & 0x7FFF_FFFF;
                    // SPDY/2 peers omit the status.
                    let status = if body.len() >= 4 { body.get_u32() } else { 0 };
                    Frame::GoAway {
                        last_good_stream_id,
                        status,
                    }
                }
                kind::WINDOW_UPDATE => {
                    need(&body, 8, "WINDOW_UPDATE")?;
                    Frame::WindowUpdate {
                        stream_id: body.get_u32() & 0x7FFF_FFFF,
                        delta: body.get_u32() & 0x7FFF_FFFF,
                    }
                }
                _ => continue,
            };
            return Ok(Some(frame));
        }
    }

    fn compress(&mut self, headers: &Headers) -> Result<Vec<u8>, SpdyError> {
        let mut plain = Vec::new();
        plain.extend_from_slice(&(headers.len() as u32).to_be_bytes());
        for (name, value) in headers {
            for s in [name.to_ascii_lowercase().as_str(), value.as_str()] {
                plain.extend_from_slice(&(s.len() as u32).to_be_bytes());
                plain.extend_from_slice(s.as_bytes());
            }
        }
        let mut out = Vec::with_capacity(plain.len() + 64);
        let start = self.deflate.total_in();
        loop {
            let consumed = (self.deflate.total_in() - start) as usize;
            out.reserve(64);
            self.deflate
                .compress_vec(&plain[consumed..], &mut out, FlushCompress::Sync)
                .map_err(|e| SpdyError::HeaderBlock(e.to_string()))?;
            // A sync flush is complete once all input is taken and output space is left over.
            if (self.deflate.total_in() - start) as usize == plain.len()
                && out.len() < out.capacity()
            {
                return Ok(out);
            }
        }
    }

    fn decompress(&mut self, block: &[u8]) -> Result<Headers, SpdyError> {
        let mut plain = Vec::with_capacity(block.len() * 4 + 64);
        let start = self.inflate.total_in();
        loop {
            let consumed = (self.inflate.total_in() - start) as usize;
            if plain.len() == plain.capacity() {
                plain.reserve(plain.len().max(256));
            }
            match self
                .inflate
                .decompress_vec(&block[consumed..], &mut plain, FlushDecompress::Sync)
            {
                Ok(Status::Ok | Status::BufError | Status::StreamEnd) => {}
                Err(e) if e.needs_dictionary().is_some() => {
                    self.inflate
                        .set_dictionary(&DICTIONARY)
                        .map_err(|e| SpdyError::HeaderBlock(e.to_string()))?;
                }
                Err(e) => return Err(SpdyError::HeaderBlock(e.to_string())),
            }
            if plain.len() > MAX_HEADER_BLOCK {
                return Err(SpdyError::HeaderBlock("header block too large".into()));
            }
            let done = (self.inflate.total_in() - start) as usize == block.len();
            if done && plain.len() < plain.capacity() {
                break;
            }
        }
        parse_header_block(&plain)
    }
}

fn parse_header_block(mut plain: &[u8]) -> Result<Headers, SpdyError> {
    fn take<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], SpdyError> {
        if buf.len() < 4 {
            return Err(SpdyError::HeaderBlock("truncated length".into()));
        }
        let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if buf.len() < 4 + len {
            return Err(SpdyError::HeaderBlock("truncated string".into()));
        }
        let s = &buf[4..4 + len];
        *buf = &buf[4 + len..];
        Ok(s)
    }
    let count = u32::from_be_bytes(
        take_array(&mut plain).ok_or_else(|| SpdyError::HeaderBlock("no pair count".into()))?,
    ) as usize;
    let mut headers = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let name = String::from_utf8_lossy(take(&mut plain)?).into_owned();
        let value = String::from_utf8_lossy(take(&mut plain)?).into_owned();
        headers.push((name, value));
    }
    Ok(headers)
}

fn take_array(buf: &mut &[u8]) -> Option<[u8; 4]> {
    let (head, rest) = buf.split_first_chunk::<4>()?;
    *buf = rest;
    Some(*head)
}

fn need(body: &Bytes, len: usize, kind: &'static str) -> Result<(), SpdyError> {
    if body.len() < len {
        return Err(malformed(
            kind,
            format!("{} bytes, at least {len} needed", body.len()),
        ));
    }
    Ok(())
}

fn two_words(a: u32, b: u32) -> [u8; 8] {
    let mut out = [0; 8];
    out[..4].copy_from_slice(&(a & 0x7FFF_FFFF).to_be_bytes());
    out[4..].copy_from_slice(&b.to_be_bytes());
    out
}

fn put_flags_len(out: &mut BytesMut, flags: u8, len: usize) {
    out.put_u8(flags);
    out.put_slice(&(len as u32).to_be_bytes()[1..]);
}

fn control(out: &mut BytesMut, kind: u16, flags: u8, body: &[u8]) -> Result<(), SpdyError> {
    if body.len() > MAX_FRAME_LEN {
        return Err(SpdyError::TooLarge(body.len()));
    }
    out.put_u16(0x8000 | VERSION);
    out.put_u16(kind);
    put_flags_len(out, flags, body.len());
    out.extend_from_slice(body);
    Ok(())
}

/// The value of header `name` (names compare case-insensitively).
pub fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests;
