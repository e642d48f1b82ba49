//! permessage-deflate (RFC 7692): negotiation and per-message compression
//! (cargo feature `deflate`, on by default).
//!
//! **Negotiation** (§5, §7.1). A client offers the extension with the
//! parameters of its [`DeflateConfig`]; a server accepts the first offer it
//! can honour and declines the invalid ones (an unknown or repeated
//! parameter, a value out of range). A client fails the handshake on an
//! invalid response or one that asks for what it did not offer. What was
//! agreed is a [`DeflateParams`], visible in [`Event::Open`](crate::Event::Open).
//!
//! **Compression** (§6, §7.2). A compressed message has RSV1 on its first
//! frame; its payload is raw DEFLATE ending in an empty block whose
//! `00 00 ff ff` trailer is removed by the sender and put back by the
//! receiver. Each side keeps its compression context (the last 2^bits bytes)
//! across messages unless `*_no_context_takeover` was agreed.
//!
//! **Bombs.** Inflated bytes count against `max_message_size` as they are
//! produced: output is inflated in bounded steps and the message fails with
//! 1009 as soon as it passes the limit, without allocating beyond it.
//!
//! **An 8-bit window.** zlib (and so zlib-rs) cannot compress with a window
//! below 9 bits. When the peer limits our window to 8 bits, we compress with
//! 9 bits and a full flush every 256 input bytes, so that no back-reference
//! reaches further than 256 bytes: the output is valid for an 8-bit window.
//! Inflating needs no such care: a 9-bit window decodes 8-bit streams.
//!
//! **Memory** (measured by `tests/deflate_memory.rs`, a counting allocator,
//! flate2 on zlib-rs, x86_64): a connection that compressed and inflated a
//! message holds about 417 KiB of contexts with 15-bit windows, with or
//! without context takeover, and about 291 KiB with 9-bit windows: most of a
//! compressor is its hash tables and pending buffer, which flate2 sizes for
//! zlib's default `memLevel` 8 whatever the window. Contexts are created on
//! the first compressed message, not at the handshake. With
//! [`DeflateConfig::release_idle_contexts`] (part of
//! [`DeflateConfig::low_memory`]) a context without history is freed after
//! each message, so an idle connection holds none.

use core::fmt;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::error::ProtocolError;
use crate::extension::{Decoder, Encoder};
use crate::handshake::ExtensionOffer;
use crate::message::MessageKind;

/// The extension's registered name.
pub const EXTENSION_NAME: &str = "permessage-deflate";

/// The trailer every sync flush ends with, removed from compressed messages (§7.2.1).
const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Our permessage-deflate policy: what a client offers, what a server accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// Compression level 0–9. Default: 1 (fast; most of the ratio on text).
    pub level: u32,
    /// Messages shorter than this many bytes are sent uncompressed. Default: 64.
    /// (A longer message that does not compress smaller, such as random or
    /// already compressed data, is sent uncompressed too.)
    pub threshold: usize,
    /// Ask that the server reset its context after each message. Client:
    /// offered as `server_no_context_takeover`; server: always agreed to when
    /// offered, and required by us when set. Default: false.
    pub server_no_context_takeover: bool,
    /// Ask that the client reset its context after each message
    /// (`client_no_context_takeover`). Default: false.
    pub client_no_context_takeover: bool,
    /// The largest window the server may use, 8–15 (`server_max_window_bits`).
    /// Default: 15 (no limit).
    pub server_max_window_bits: u8,
    /// The largest window the client may use, 8–15 (`client_max_window_bits`).
    /// Default: 15 (no limit).
    pub client_max_window_bits: u8,
    /// Free a compression or decompression context after each message when
    /// it keeps no history (no context takeover in that direction), so an
    /// idle connection holds no compression memory. Costs creating the
    /// contexts again for each message. Default: false.
    pub release_idle_contexts: bool,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            level: 1,
            threshold: 64,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            release_idle_contexts: false,
        }
    }
}

impl DeflateConfig {
    /// A policy under which an idle connection holds no compression memory:
    /// no context takeover in either direction, contexts freed after each
    /// message, 9-bit windows. While a message is compressed or inflated its
    /// context takes about 290 KiB (see the module docs).
    pub fn low_memory() -> Self {
        DeflateConfig {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 9,
            client_max_window_bits: 9,
            release_idle_contexts: true,
            ..DeflateConfig::default()
        }
    }

    /// The offer a client sends (§7.1).
    pub fn offer(&self) -> String {
        let mut offer = String::from(EXTENSION_NAME);
        if self.server_no_context_takeover {
            offer.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            offer.push_str("; client_no_context_takeover");
        }
        if self.server_max_window_bits < 15 {
            offer.push_str(&format!("; server_max_window_bits={}", self.server_max_window_bits));
        }
        // Without a value: the server may limit our window.
        if self.client_max_window_bits < 15 {
            offer.push_str(&format!("; client_max_window_bits={}", self.client_max_window_bits));
        } else {
            offer.push_str("; client_max_window_bits");
        }
        offer
    }
}

/// What both sides agreed to (§7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its context after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its context after each message.
    pub client_no_context_takeover: bool,
    /// The server's window, 8–15.
    pub server_max_window_bits: u8,
    /// The client's window, 8–15.
    pub client_max_window_bits: u8,
}

/// Why an offer or a response is not valid permessage-deflate (§7.1).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NegotiationError {
    /// A parameter this extension does not define.
    UnknownParameter(String),
    /// A parameter given twice.
    DuplicateParameter(String),
    /// A missing, extra or out-of-range value.
    InvalidValue(String),
    /// Client: the response agrees to something we did not offer (a
    /// `client_max_window_bits` we did not offer, a window above our limit).
    NotOffered(String),
}

impl fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NegotiationError::UnknownParameter(p) => write!(f, "unknown permessage-deflate parameter {p:?}"),
            NegotiationError::DuplicateParameter(p) => write!(f, "repeated permessage-deflate parameter {p:?}"),
            NegotiationError::InvalidValue(p) => write!(f, "invalid value for permessage-deflate parameter {p:?}"),
            NegotiationError::NotOffered(p) => {
                write!(f, "permessage-deflate response with {p:?}, which was not offered")
            }
        }
    }
}

impl std::error::Error for NegotiationError {}

/// The parameters of one offer or response, checked for syntax.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Parsed {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value.
    client_max_window_bits: Option<Option<u8>>,
}

fn window_bits(name: &str, value: Option<&str>) -> Result<u8, NegotiationError> {
    // RFC 7692 §7.1.2: a decimal integer 8–15 without leading zeros.
    match value {
        Some(v) if !v.starts_with('0') && v.bytes().all(|b| b.is_ascii_digit()) => match v.parse::<u8>() {
            Ok(n @ 8..=15) => Ok(n),
            _ => Err(NegotiationError::InvalidValue(name.to_owned())),
        },
        _ => Err(NegotiationError::InvalidValue(name.to_owned())),
    }
}

fn parse(ext: &ExtensionOffer<'_>) -> Result<Parsed, NegotiationError> {
    let mut p = Parsed::default();
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in ext.params() {
        let key = name.to_ascii_lowercase();
        if seen.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            return Err(NegotiationError::DuplicateParameter(key));
        }
        seen.push(name);
        match (key.as_str(), value) {
            ("server_no_context_takeover", None) => p.server_no_context_takeover = true,
            ("client_no_context_takeover", None) => p.client_no_context_takeover = true,
            ("server_max_window_bits", v) => p.server_max_window_bits = Some(window_bits(&key, v)?),
            ("client_max_window_bits", None) => p.client_max_window_bits = Some(None),
            ("client_max_window_bits", v) => p.client_max_window_bits = Some(Some(window_bits(&key, v)?)),
            ("server_no_context_takeover" | "client_no_context_takeover", Some(_)) => {
                return Err(NegotiationError::InvalidValue(key));
            }
            _ => return Err(NegotiationError::UnknownParameter(key)),
        }
    }
    Ok(p)
}

/// An accepted offer: the agreed parameters and the response that says so.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Accepted {
    /// What both sides agreed to.
    pub params: DeflateParams,
    /// The `Sec-WebSocket-Extensions` value of the server's response.
    pub response: String,
}

/// Server: the parameters to accept `offer` with under `config`, or why it
/// is declined (§7.1: a server declines an offer it cannot accept).
pub fn accept_offer(offer: &ExtensionOffer<'_>, config: &DeflateConfig) -> Result<Accepted, NegotiationError> {
    let p = parse(offer)?;
    let server_bits = p.server_max_window_bits.unwrap_or(15).min(config.server_max_window_bits.clamp(8, 15));
    // We may limit the client's window only if it said it supports that.
    let client_bits = match p.client_max_window_bits {
        None => 15,
        Some(offered) => offered.unwrap_or(15).min(config.client_max_window_bits.clamp(8, 15)),
    };
    let params = DeflateParams {
        server_no_context_takeover: p.server_no_context_takeover || config.server_no_context_takeover,
        client_no_context_takeover: p.client_no_context_takeover || config.client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    };
    let mut response = String::from(EXTENSION_NAME);
    if params.server_no_context_takeover {
        response.push_str("; server_no_context_takeover");
    }
    if params.client_no_context_takeover {
        response.push_str("; client_no_context_takeover");
    }
    // §7.1.2.1: an offered server_max_window_bits is accepted by echoing it.
    if p.server_max_window_bits.is_some() || server_bits < 15 {
        response.push_str(&format!("; server_max_window_bits={server_bits}"));
    }
    if client_bits < 15 {
        response.push_str(&format!("; client_max_window_bits={client_bits}"));
    }
    Ok(Accepted { params, response })
}

/// Server: the first acceptable permessage-deflate offer, in the client's
/// order of preference.
pub fn accept_first<'a>(offers: impl Iterator<Item = ExtensionOffer<'a>>, config: &DeflateConfig) -> Option<Accepted> {
    offers.filter(|o| o.name().eq_ignore_ascii_case(EXTENSION_NAME)).find_map(|o| accept_offer(&o, config).ok())
}

/// Client: checks the server's response to our offer (`config.offer()`).
pub fn check_response(
    response: &ExtensionOffer<'_>,
    config: &DeflateConfig,
) -> Result<DeflateParams, NegotiationError> {
    let p = parse(response)?;
    let limit = config.server_max_window_bits.clamp(8, 15);
    // §7.1.2.1: a server accepts our server_max_window_bits by echoing it
    // with the same or a smaller value.
    let server_bits = match p.server_max_window_bits {
        None if limit < 15 => return Err(NegotiationError::NotOffered("no server_max_window_bits".into())),
        None => 15,
        Some(n) if n > limit => return Err(NegotiationError::NotOffered("server_max_window_bits".into())),
        Some(n) => n,
    };
    let client_bits = match p.client_max_window_bits {
        None => config.client_max_window_bits.clamp(8, 15),
        // A server must give a value (§7.1.2.2).
        Some(None) => return Err(NegotiationError::InvalidValue("client_max_window_bits".into())),
        Some(Some(n)) if n > config.client_max_window_bits.clamp(8, 15) => {
            return Err(NegotiationError::NotOffered("client_max_window_bits".into()));
        }
        Some(Some(n)) => n,
    };
    Ok(DeflateParams {
        server_no_context_takeover: p.server_no_context_takeover,
        client_no_context_takeover: p.client_no_context_takeover || config.client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    })
}

/// The transforms that carry out `params` for one side (`client` or
/// server) under our `policy` (its level, threshold and memory release):
/// our compressor uses our window and takeover, the decompressor the peer's.
pub(crate) fn transforms(
    params: &DeflateParams,
    policy: &DeflateConfig,
    client: bool,
) -> (Box<dyn Encoder>, Box<dyn Decoder>) {
    let server = (params.server_max_window_bits, params.server_no_context_takeover);
    let client_side = (params.client_max_window_bits, params.client_no_context_takeover);
    let (ours, theirs) = if client { (client_side, server) } else { (server, client_side) };
    let encoder = DeflateEncoder {
        level: policy.level,
        threshold: policy.threshold,
        window_bits: ours.0,
        no_context_takeover: ours.1,
        release: policy.release_idle_contexts && ours.1,
        deflater: None,
        scratch: Vec::new(),
    };
    let decoder = InflateDecoder {
        window_bits: theirs.0,
        no_context_takeover: theirs.1,
        release: policy.release_idle_contexts && theirs.1,
        inflater: None,
    };
    (Box::new(encoder), Box::new(decoder))
}

/// The RSV1 bit as in a frame header's `rsv`: a compressed message (§6).
const RSV1: u8 = 0b100;

/// Compresses this side's messages (§7.2.1).
#[derive(Debug)]
struct DeflateEncoder {
    level: u32,
    /// Messages shorter than this are sent as they are.
    threshold: usize,
    window_bits: u8,
    no_context_takeover: bool,
    /// Free the compressor after each message (it keeps no history).
    release: bool,
    /// Created on the first compressed message.
    deflater: Option<Box<Deflater>>,
    /// The last compressed message, its buffer reused.
    scratch: Vec<u8>,
}

impl Encoder for DeflateEncoder {
    #[inline]
    fn encodes(&self, _kind: MessageKind, len: usize) -> bool {
        len >= self.threshold
    }

    fn encode(&mut self, message: &[u8]) -> Option<(&[u8], u8)> {
        let (level, bits, reset) = (self.level, self.window_bits, self.no_context_takeover);
        let deflater = self.deflater.get_or_insert_with(|| Box::new(Deflater::new(level, bits, reset)));
        self.scratch.clear();
        deflater.compress(message, &mut self.scratch);
        // Incompressible data (random, already compressed) comes out larger:
        // by 6% at level 1, whose fixed Huffman codes spend 9 bits on half
        // the byte values. Such a message goes out uncompressed (§6.1 lets
        // each message choose), so it is never larger on the wire than
        // itself and a peer's `max_frame_size` sized for its messages takes
        // it (found by the soak, `tests/soak`). The peer's window never sees
        // it, so ours must forget it: the next message starts afresh.
        let smaller = self.scratch.len() < message.len();
        if !smaller {
            deflater.forget();
        }
        if self.release {
            self.deflater = None;
        }
        smaller.then_some((&self.scratch[..], RSV1))
    }

    fn shrink(&mut self) {
        self.scratch = Vec::new();
    }

    fn capacity(&self) -> usize {
        self.scratch.capacity()
    }
}

/// Inflates the peer's compressed messages (§7.2.2).
#[derive(Debug)]
struct InflateDecoder {
    /// The peer's window.
    window_bits: u8,
    /// The peer resets its context after each message.
    no_context_takeover: bool,
    /// Free the decompressor after each message (it keeps no history).
    release: bool,
    /// Created on the first compressed message.
    inflater: Option<Box<Inflater>>,
}

impl Decoder for InflateDecoder {
    fn rsv(&self) -> u8 {
        RSV1
    }

    fn decode(
        &mut self,
        piece: &[u8],
        end: bool,
        empty: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), ProtocolError> {
        let (bits, reset) = (self.window_bits, self.no_context_takeover);
        let inflater = self.inflater.get_or_insert_with(|| Box::new(Inflater::new(bits, reset)));
        inflater.inflate(piece, end, empty, out, limit).map_err(|e| match e {
            InflateError::TooBig { len } => ProtocolError::MessageTooLarge { len, limit },
            InflateError::Corrupt => ProtocolError::InvalidCompressedData,
        })?;
        if end && self.release {
            self.inflater = None;
        }
        Ok(())
    }
}

/// Compresses messages for one direction.
pub(crate) struct Deflater {
    inner: Compress,
    /// Reset after each message.
    reset: bool,
    /// Full-flush every 256 input bytes (an 8-bit window, see the module docs).
    chunked: bool,
}

impl fmt::Debug for Deflater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deflater").field("reset", &self.reset).field("chunked", &self.chunked).finish()
    }
}

impl Deflater {
    pub(crate) fn new(level: u32, window_bits: u8, no_context_takeover: bool) -> Self {
        Deflater {
            inner: Compress::new_with_window_bits(Compression::new(level.min(9)), false, window_bits.clamp(9, 15)),
            reset: no_context_takeover,
            chunked: window_bits <= 8,
        }
    }

    /// Appends the compressed form of a whole message to `out`, without the
    /// trailing `00 00 ff ff` (§7.2.1).
    pub(crate) fn compress(&mut self, message: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        if self.chunked {
            for chunk in message.chunks(256) {
                self.run(chunk, out, FlushCompress::Full);
            }
            if message.is_empty() {
                self.run(&[], out, FlushCompress::Sync);
            }
        } else {
            self.run(message, out, FlushCompress::Sync);
        }
        // §7.2.1: the data must end with an empty stored block, minus its
        // last four bytes. zlib's flush emits one, except when nothing was
        // pending (an empty message right after a flush): then the block is
        // appended here, and after removing four bytes its header byte remains.
        if out[start..].ends_with(&TRAILER) {
            out.truncate(out.len() - TRAILER.len());
        } else {
            out.push(0x00);
        }
        if self.reset {
            self.inner.reset();
        }
    }

    /// Drops the history (the last message was not sent compressed, so
    /// the peer's window does not hold it).
    pub(crate) fn forget(&mut self) {
        self.inner.reset();
    }

    fn run(&mut self, input: &[u8], out: &mut Vec<u8>, flush: FlushCompress) {
        let mut pos = 0;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve((input.len() - pos) / 2 + 256);
            }
            let before = self.inner.total_in();
            // Errors only come from misuse (a stream in a bad state), which
            // this type does not allow; stop rather than loop.
            if self.inner.compress_vec(&input[pos..], out, flush).is_err() {
                return;
            }
            pos += (self.inner.total_in() - before) as usize;
            // Done when all input is in and the flush left room unused.
            if pos == input.len() && out.len() < out.capacity() {
                return;
            }
        }
    }
}

/// Inflating a message would exceed the limit, or its data is not valid DEFLATE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InflateError {
    TooBig { len: u64 },
    Corrupt,
}

/// Decompresses messages for one direction.
pub(crate) struct Inflater {
    inner: Decompress,
    reset: bool,
}

impl fmt::Debug for Inflater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inflater").field("reset", &self.reset).finish()
    }
}

impl Inflater {
    pub(crate) fn new(window_bits: u8, no_context_takeover: bool) -> Self {
        Inflater {
            inner: Decompress::new_with_window_bits(false, window_bits.clamp(9, 15)),
            reset: no_context_takeover,
        }
    }

    /// Inflates the next piece of a message's payload (`end`: the last piece,
    /// after which the trailer is added back), appending to `out`, which may
    /// not grow beyond `limit` bytes.
    /// `empty`: the message's compressed payload was empty, which a correct
    /// peer never sends (§7.2.1 leaves at least one byte); it is taken as an
    /// empty message rather than reading the trailer as block data.
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        end: bool,
        empty: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        self.run(input, out, limit)?;
        if end && !empty {
            self.run(&TRAILER, out, limit)?;
        }
        if end && self.reset {
            self.inner.reset(false);
        }
        Ok(())
    }

    fn run(&mut self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), InflateError> {
        let mut pos = 0;
        loop {
            if out.len() > limit {
                return Err(InflateError::TooBig { len: out.len() as u64 });
            }
            if out.len() == out.capacity() {
                // Grow geometrically, but never past one byte over the limit:
                // a bomb costs at most `limit + 1` bytes of memory.
                let target = (out.len() * 2).max(out.len() + 1024).min(limit.saturating_add(1));
                out.reserve_exact(target - out.len());
            }
            let (before_in, before_out) = (self.inner.total_in(), out.len());
            let status = self
                .inner
                .decompress_vec(&input[pos..], out, FlushDecompress::Sync)
                .map_err(|_| InflateError::Corrupt)?;
            pos += (self.inner.total_in() - before_in) as usize;
            if out.len() > limit {
                return Err(InflateError::TooBig { len: out.len() as u64 });
            }
            // A final block (BFINAL) ends a DEFLATE stream; a peer may send one
            // at the end of a message (§7.2.3.3 allows it). Start afresh.
            if status == Status::StreamEnd {
                self.inner.reset(false);
            }
            // Done when all input is in and the decoder left room unused.
            if pos == input.len() && out.len() < out.capacity() {
                return Ok(());
            }
            let stalled = self.inner.total_in() == before_in && out.len() == before_out;
            if stalled && out.len() < out.capacity() {
                return Err(InflateError::Corrupt);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(s: &str) -> ExtensionOffer<'_> {
        ExtensionOffer::new(s)
    }

    /// RFC 7692 §7.1: parameters and their values.
    #[test]
    fn rfc7692_7_1_server_accepts_valid_offers() {
        let c = DeflateConfig::default();
        let a = accept_offer(&offer("permessage-deflate"), &c).unwrap();
        assert_eq!(a.response, "permessage-deflate");
        let a =
            accept_offer(&offer("permessage-deflate; client_max_window_bits; server_max_window_bits=10"), &c).unwrap();
        assert_eq!((a.params.server_max_window_bits, a.params.client_max_window_bits), (10, 15));
        assert_eq!(a.response, "permessage-deflate; server_max_window_bits=10");
        // §7.1.2.1: echoed even at 15.
        let a = accept_offer(&offer("permessage-deflate; server_max_window_bits=15"), &c).unwrap();
        assert_eq!(a.response, "permessage-deflate; server_max_window_bits=15");
        let a = accept_offer(&offer("permessage-deflate; server_no_context_takeover; client_max_window_bits=9"), &c)
            .unwrap();
        assert!(a.params.server_no_context_takeover);
        assert_eq!(a.params.client_max_window_bits, 9);
        assert_eq!(a.response, "permessage-deflate; server_no_context_takeover; client_max_window_bits=9");
        // Our own limits apply.
        let low = DeflateConfig::low_memory();
        let a = accept_offer(&offer("permessage-deflate; client_max_window_bits"), &low).unwrap();
        assert_eq!(
            a.response,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9"
        );
        // Without client_max_window_bits in the offer we cannot limit the client.
        let a = accept_offer(&offer("permessage-deflate"), &low).unwrap();
        assert_eq!(a.params.client_max_window_bits, 15);
    }

    /// §7.1: unknown or repeated parameters and bad values make an offer invalid.
    #[test]
    fn rfc7692_7_1_server_declines_invalid_offers() {
        let c = DeflateConfig::default();
        for bad in [
            "permessage-deflate; foo",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; client_max_window_bits=abc",
            "permessage-deflate; server_no_context_takeover=1",
        ] {
            assert!(accept_offer(&offer(bad), &c).is_err(), "{bad}");
        }
        let offers = "permessage-deflate; foo, permessage-deflate; server_max_window_bits=12, x-other";
        let first = accept_first(offers.split(',').map(|s| ExtensionOffer::new(s.trim())), &c).unwrap();
        assert_eq!(first.params.server_max_window_bits, 12);
    }

    /// §7.1: a client checks that the response agrees to what it offered.
    #[test]
    fn rfc7692_7_1_client_checks_the_response() {
        let c = DeflateConfig::default();
        assert_eq!(c.offer(), "permessage-deflate; client_max_window_bits");
        let p = check_response(&offer("permessage-deflate; client_max_window_bits=10; server_no_context_takeover"), &c)
            .unwrap();
        assert_eq!((p.client_max_window_bits, p.server_no_context_takeover), (10, true));
        let limited = DeflateConfig { server_max_window_bits: 10, client_max_window_bits: 12, ..c.clone() };
        assert_eq!(limited.offer(), "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12");
        assert!(check_response(&offer("permessage-deflate; server_max_window_bits=11"), &limited).is_err());
        assert!(check_response(&offer("permessage-deflate; client_max_window_bits=13"), &limited).is_err());
        assert!(check_response(&offer("permessage-deflate; client_max_window_bits"), &c).is_err());
        assert!(check_response(&offer("permessage-deflate; bogus"), &c).is_err());
        // §7.1.2.1: our server_max_window_bits must be echoed.
        assert!(check_response(&offer("permessage-deflate"), &limited).is_err());
        let p = check_response(&offer("permessage-deflate; server_max_window_bits=9"), &limited).unwrap();
        assert_eq!((p.server_max_window_bits, p.client_max_window_bits), (9, 12));
    }

    fn roundtrip(level: u32, bits: u8, no_takeover: bool, messages: &[Vec<u8>]) {
        let mut d = Deflater::new(level, bits, no_takeover);
        let mut i = Inflater::new(bits, no_takeover);
        for m in messages {
            let mut compressed = Vec::new();
            d.compress(m, &mut compressed);
            assert!(!compressed.ends_with(&TRAILER) || m.is_empty());
            let mut out = Vec::new();
            // In pieces, as frames would bring it.
            let pieces: Vec<&[u8]> = compressed.chunks(7).collect();
            assert!(!compressed.is_empty(), "§7.2.1 leaves at least one byte");
            for (k, piece) in pieces.iter().enumerate() {
                i.inflate(piece, k + 1 == pieces.len(), false, &mut out, usize::MAX / 2)
                    .unwrap_or_else(|e| panic!("{e:?}: level {level} bits {bits} no_takeover {no_takeover}"));
            }
            assert_eq!(&out, m, "level {level} bits {bits} no_takeover {no_takeover}");
        }
    }

    /// §7.2: compress, strip the trailer, inflate with it put back; with and
    /// without context takeover, at every window size.
    #[test]
    fn rfc7692_7_2_roundtrip() {
        let text: Vec<u8> = "Hello, permessage-deflate! ".repeat(200).into_bytes();
        let noise: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        let messages = vec![text.clone(), vec![], noise, text.clone(), b"x".to_vec(), text];
        for bits in 8..=15 {
            for no_takeover in [false, true] {
                roundtrip(1, bits, no_takeover, &messages);
                roundtrip(9, bits, no_takeover, &messages);
            }
        }
    }

    /// §6.1: a message that compresses no smaller goes out uncompressed
    /// (RSV1 clear), and the next compressed message does not refer back to
    /// it: a decompressor that never saw it inflates the rest, at every
    /// level, with context takeover. Random bytes come out 6% larger at
    /// level 1 (fixed Huffman codes), which a peer's frame limit sized for
    /// its messages would refuse (found by `tests/soak`).
    #[test]
    fn rfc7692_6_1_incompressible_messages_go_out_uncompressed() {
        let random = wsmachine_testkit::noise(0x2545_f491, 100_000);
        let mut plain = Vec::new();
        Deflater::new(1, 15, false).compress(&random, &mut plain);
        assert!(plain.len() > random.len() * 105 / 100, "level 1 inflates random data: {}", plain.len());
        let text = "a message that compresses well, with its history ".repeat(40).into_bytes();
        for level in [1, 6, 9] {
            let policy = DeflateConfig { level, ..DeflateConfig::default() };
            let params = DeflateParams {
                server_no_context_takeover: false,
                client_no_context_takeover: false,
                server_max_window_bits: 15,
                client_max_window_bits: 15,
            };
            let (mut encoder, _) = transforms(&params, &policy, false);
            let mut inflater = Inflater::new(15, false);
            for (i, message) in [&text, &random, &text, &random[..300], &text].into_iter().enumerate() {
                match encoder.encode(message) {
                    None => assert!(i % 2 == 1, "message {i} was not compressed at level {level}"),
                    Some((body, rsv)) => {
                        assert!(i % 2 == 0 && rsv == RSV1 && body.len() < message.len(), "message {i}, level {level}");
                        let mut out = Vec::new();
                        inflater.inflate(body, true, false, &mut out, 1 << 20).unwrap();
                        assert_eq!(&out, message, "message {i}, level {level}");
                    }
                }
            }
        }
    }

    /// RFC 7692 §7.2.3.1: the example "Hello" compressed without context takeover.
    #[test]
    fn rfc7692_7_2_3_1_hello() {
        let mut i = Inflater::new(15, true);
        let mut out = Vec::new();
        i.inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], true, false, &mut out, 100).unwrap();
        assert_eq!(out, b"Hello");
        // §7.2.3.2: the second "Hello" with context takeover reuses the first.
        let mut i = Inflater::new(15, false);
        let mut out = Vec::new();
        i.inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], true, false, &mut out, 100).unwrap();
        out.clear();
        i.inflate(&[0xf2, 0x00, 0x11, 0x00, 0x00], true, false, &mut out, 100).unwrap();
        assert_eq!(out, b"Hello");
    }

    /// A compression bomb stops at the limit, without allocating far beyond it.
    #[test]
    fn bomb_stops_at_the_limit() {
        let mut d = Deflater::new(9, 15, false);
        let mut bomb = Vec::new();
        d.compress(&vec![0u8; 10 << 20], &mut bomb);
        assert!(bomb.len() < 20 << 10, "{} bytes", bomb.len());
        let mut i = Inflater::new(15, false);
        let mut out = Vec::new();
        let err = i.inflate(&bomb, true, false, &mut out, 1 << 20).unwrap_err();
        assert!(matches!(err, InflateError::TooBig { len } if len == (1 << 20) + 1));
        assert!(out.capacity() <= (1 << 20) + 1, "capacity {}", out.capacity());
    }

    /// §7.2.3.6 / §7.2.1: an empty message compresses to a single 0x00,
    /// also right after another message (when zlib has nothing to flush).
    #[test]
    fn rfc7692_7_2_1_empty_message_is_one_byte() {
        for bits in [8, 15] {
            let mut d = Deflater::new(1, bits, false);
            let mut out = Vec::new();
            d.compress(b"", &mut out);
            assert_eq!(out, [0x00]);
            out.clear();
            d.compress(b"abc", &mut out);
            out.clear();
            d.compress(b"", &mut out);
            assert_eq!(out, [0x00]);
        }
        let mut i = Inflater::new(15, false);
        let mut out = Vec::new();
        i.inflate(&[0x00], true, false, &mut out, 10).unwrap();
        i.inflate(&[], true, true, &mut out, 10).unwrap();
        i.inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], true, false, &mut out, 10).unwrap();
        assert_eq!(out, b"Hello");
    }

    #[test]
    fn corrupt_data_is_an_error() {
        let mut i = Inflater::new(15, false);
        let mut out = Vec::new();
        assert_eq!(i.inflate(&[0xff; 16], true, false, &mut out, 1000), Err(InflateError::Corrupt));
    }
}
