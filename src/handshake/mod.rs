//! The opening handshake (RFC 6455 §4): an HTTP/1.1 Upgrade.
//!
//! - `client.rs`: build the request from a `ws://` / `wss://` URI
//!   ([`ClientRequest`](crate::ClientRequest)), check the server's
//!   `101 Switching Protocols` ([`Response`](crate::Response)).
//! - `server.rs`: parse and check the request ([`Request`](crate::Request)),
//!   then let the application accept or reject it
//!   ([`Accept`](crate::Accept), [`Reject`](crate::Reject)).
//! - `opening.rs`: the handshake as a [`Connection`](crate::Connection)
//!   drives it, from the first byte to OPEN (or the failure).
//!
//! This module's public items are for a server that does the handshake
//! without a [`Connection`](crate::Connection) and then runs a
//! [`Connection::established`](crate::Connection::established):
//! [`HeadScanner`] finds the end of a head as it arrives,
//! [`RequestHead::parse`] and [`check_request`] validate a request,
//! [`write_accept`] answers it, and [`accept_key`] computes
//! `Sec-WebSocket-Accept` for an HTTP stack that writes its own response.
//!
//! A head is parsed once, when its end has been received: the end is found
//! by scanning only the newly received bytes, so a head that trickles in one
//! byte at a time costs linear time, not quadratic (the 2023 tungstenite
//! re-parsing CVE).

pub(crate) mod client;
pub(crate) mod opening;
pub(crate) mod server;

pub use server::{RequestHead, check_request, write_accept};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use core::mem::MaybeUninit;
use core::ops::Range;
use sha1::{Digest, Sha1};

use crate::error::HandshakeError;

/// The GUID of RFC 6455 §1.3, appended to the key before hashing.
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` (RFC 6455 §4.2.2):
/// base64(SHA-1(key + GUID)).
///
/// ```
/// // The example of RFC 6455 §1.3.
/// assert_eq!(
///     wsmachine::handshake::accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
///     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
/// );
/// ```
pub fn accept_key(key: &[u8]) -> String {
    BASE64.encode(accept_hash(key))
}

/// SHA-1(key + GUID), the hash that [`accept_key`] encodes.
fn accept_hash(key: &[u8]) -> [u8; 20] {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(GUID.as_bytes());
    sha.finalize().into()
}

/// [`accept_key`]`(key)` on the stack: 20 bytes are 28 in base64.
pub(crate) fn accept_value(key: &[u8]) -> [u8; 28] {
    let mut encoded = [0u8; 28];
    // Exactly the room the encoding takes: it cannot fail.
    let _ = BASE64.encode_slice(accept_hash(key), &mut encoded);
    encoded
}

/// A `Sec-WebSocket-Key` value on the stack: 16 bytes are 24 in base64.
pub(crate) fn key_value(key: &[u8; 16]) -> [u8; 24] {
    let mut encoded = [0u8; 24];
    // Exactly the room the encoding takes: it cannot fail.
    let _ = BASE64.encode_slice(key, &mut encoded);
    encoded
}

/// Finds the end of an HTTP head (the empty line) as its bytes arrive,
/// looking at each byte once: for a router that reads a request head in
/// pieces before [`RequestHead::parse`], which would scan it from the start
/// on every call (quadratic time in a head trickled a byte at a time).
///
/// ```
/// use wsmachine::handshake::{HeadScanner, RequestHead};
/// let mut scanner = HeadScanner::default();
/// let mut head = Vec::new();
/// for piece in [&b"GET /chat HTTP/1.1\r\nHost: a\r"[..], b"\n\r", b"\n"] {
///     head.extend_from_slice(piece); // a read
///     if let Some(len) = scanner.find_end(&head) {
///         let (request, _) = RequestHead::parse(&head[..len], 64)?.expect("complete");
///         assert_eq!(request.request().path(), "/chat");
///     }
/// }
/// # Ok::<(), wsmachine::HandshakeError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct HeadScanner {
    scanned: usize,
}

impl HeadScanner {
    /// The length of the head (through the empty line) if `buf` holds all
    /// of it. `buf` is everything received so far, from the head's first
    /// byte: each call looks only at what the previous one had not seen.
    /// Accepts CRLF and bare LF line endings, as httparse does.
    pub fn find_end(&mut self, buf: &[u8]) -> Option<usize> {
        // Resume two bytes back: a line end may straddle two reads.
        let mut from = self.scanned.saturating_sub(2).min(buf.len());
        self.scanned = buf.len();
        while let Some(at) = find_newline(&buf[from..]) {
            let i = from + at;
            match buf.get(i + 1..) {
                Some([b'\n', ..]) => return Some(i + 2),
                Some([b'\r', b'\n', ..]) => return Some(i + 3),
                _ => from = i + 1,
            }
        }
        None
    }
}

/// The index of the first `\n` in `bytes`, eight bytes at a time: a word
/// XORed with eight newlines has a zero byte where a newline was, and the
/// lowest byte the zero-byte test flags is the first one (only a byte above a
/// true zero can be flagged falsely).
fn find_newline(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    const NEWLINES: u64 = u64::from_le_bytes([b'\n'; 8]);
    let mut words = bytes.chunks_exact(8);
    for (i, word) in (&mut words).enumerate() {
        let mut le = [0u8; 8];
        le.copy_from_slice(word);
        let x = u64::from_le_bytes(le) ^ NEWLINES;
        let zero = x.wrapping_sub(ONES) & !x & HIGH;
        if zero != 0 {
            return Some(i * 8 + zero.trailing_zeros() as usize / 8);
        }
    }
    let rest = words.remainder();
    rest.iter().position(|&b| b == b'\n').map(|i| bytes.len() - rest.len() + i)
}

/// A parsed HTTP head, owned, with its parts as ranges into the raw bytes.
#[derive(Clone, Debug)]
pub(crate) struct Head {
    bytes: Vec<u8>,
    /// Request: the method. Response: the reason phrase.
    first: Range<usize>,
    /// Request: the target (path and query). Response: empty.
    target: Range<usize>,
    status: u16,
    /// The minor HTTP version: 0 or 1.
    version: u8,
    headers: Vec<(Range<usize>, Range<usize>)>,
}

/// Where `part`, a slice httparse cut out of `base`, lies in `base`. A part
/// that is not inside `base` (an absent reason phrase is a static `""`) is
/// the empty range at 0.
fn offset_of(base: &[u8], part: &[u8]) -> Range<usize> {
    let start = (part.as_ptr() as usize).wrapping_sub(base.as_ptr() as usize);
    match start.checked_add(part.len()) {
        Some(end) if end <= base.len() => start..end,
        _ => 0..0,
    }
}

/// Up to this many header fields (the default `max_headers`), httparse's
/// slots for them are on the stack, left uninitialized until it fills them.
const STACK_HEADERS: usize = 64;

/// `max_headers` slots for httparse: part of `stack`, or `heap` when more
/// are allowed than `stack` has.
fn header_slots<'s, 'b>(
    stack: &'s mut [MaybeUninit<httparse::Header<'b>>; STACK_HEADERS],
    heap: &'s mut Vec<MaybeUninit<httparse::Header<'b>>>,
    max_headers: usize,
) -> &'s mut [MaybeUninit<httparse::Header<'b>>] {
    if max_headers <= STACK_HEADERS {
        &mut stack[..max_headers]
    } else {
        heap.resize(max_headers, MaybeUninit::uninit());
        heap
    }
}

fn parse_error(e: httparse::Error, max_headers: usize) -> HandshakeError {
    match e {
        httparse::Error::TooManyHeaders => HandshakeError::TooManyHeaders { limit: max_headers },
        httparse::Error::HeaderName => HandshakeError::Malformed("invalid header name"),
        httparse::Error::HeaderValue => HandshakeError::Malformed("invalid header value"),
        httparse::Error::NewLine => HandshakeError::Malformed("invalid line ending"),
        httparse::Error::Status => HandshakeError::Malformed("invalid status"),
        httparse::Error::Token => HandshakeError::Malformed("invalid token"),
        httparse::Error::Version => HandshakeError::Malformed("invalid HTTP version"),
    }
}

impl Head {
    /// Parses a complete request head (`bytes` ends with the empty line).
    pub(crate) fn parse_request(bytes: &[u8], max_headers: usize) -> Result<Head, HandshakeError> {
        let mut stack = [const { MaybeUninit::uninit() }; STACK_HEADERS];
        let mut heap = Vec::new();
        let slots = header_slots(&mut stack, &mut heap, max_headers);
        let mut req = httparse::Request::new(&mut []);
        match req.parse_with_uninit_headers(bytes, slots) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => return Err(HandshakeError::Malformed("incomplete head")),
            Err(e) => return Err(parse_error(e, max_headers)),
        }
        let (Some(method), Some(path), Some(version)) = (req.method, req.path, req.version) else {
            return Err(HandshakeError::Malformed("incomplete request line"));
        };
        Ok(Head {
            first: offset_of(bytes, method.as_bytes()),
            target: offset_of(bytes, path.as_bytes()),
            status: 0,
            version,
            headers: req
                .headers
                .iter()
                .map(|h| (offset_of(bytes, h.name.as_bytes()), offset_of(bytes, h.value)))
                .collect(),
            bytes: bytes.to_vec(),
        })
    }

    /// Parses a complete response head.
    pub(crate) fn parse_response(bytes: &[u8], max_headers: usize) -> Result<Head, HandshakeError> {
        let mut stack = [const { MaybeUninit::uninit() }; STACK_HEADERS];
        let mut heap = Vec::new();
        let slots = header_slots(&mut stack, &mut heap, max_headers);
        let mut resp = httparse::Response::new(&mut []);
        match httparse::ParserConfig::default().parse_response_with_uninit_headers(&mut resp, bytes, slots) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => return Err(HandshakeError::Malformed("incomplete head")),
            Err(e) => return Err(parse_error(e, max_headers)),
        }
        let (Some(status), Some(version)) = (resp.code, resp.version) else {
            return Err(HandshakeError::Malformed("incomplete status line"));
        };
        Ok(Head {
            first: offset_of(bytes, resp.reason.unwrap_or("").as_bytes()),
            target: 0..0,
            status,
            version,
            headers: resp
                .headers
                .iter()
                .map(|h| (offset_of(bytes, h.name.as_bytes()), offset_of(bytes, h.value)))
                .collect(),
            bytes: bytes.to_vec(),
        })
    }

    fn str_at(&self, r: &Range<usize>) -> &str {
        // httparse only yields tokens and paths made of visible ASCII.
        core::str::from_utf8(&self.bytes[r.clone()]).unwrap_or("")
    }

    pub(crate) fn headers(&self) -> Headers<'_> {
        Headers { head: self }
    }

    /// The raw bytes of the head.
    pub(crate) fn raw(&self) -> &[u8] {
        &self.bytes
    }

    /// Heap bytes held by a boxed head.
    pub(crate) fn heap_size(&self) -> usize {
        size_of::<Head>() + self.bytes.capacity() + self.headers.capacity() * size_of::<(Range<usize>, Range<usize>)>()
    }
}

/// The header fields of a handshake request or response, in order.
///
/// Names compare case-insensitively. Values are bytes because HTTP allows
/// non-ASCII (obs-text) in them; [`get`](Self::get) gives the ones that are UTF-8.
#[derive(Clone, Copy, Debug)]
pub struct Headers<'a> {
    head: &'a Head,
}

impl<'a> Headers<'a> {
    /// Every header field as (name, raw value), in the order received.
    pub fn iter(self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        let head = self.head;
        head.headers.iter().map(move |(n, v)| (head.str_at(n), &head.bytes[v.clone()]))
    }

    /// The number of header fields.
    pub fn len(&self) -> usize {
        self.head.headers.len()
    }

    /// Whether there are no header fields.
    pub fn is_empty(&self) -> bool {
        self.head.headers.is_empty()
    }

    /// The values of the fields named `name`. Names are compared as bytes:
    /// a lookup makes no `&str` of the names it passes over.
    fn named<'n>(self, name: &'n str) -> impl Iterator<Item = &'a [u8]> + 'n
    where
        'a: 'n,
    {
        let head = self.head;
        head.headers
            .iter()
            .filter(move |(n, _)| head.bytes[n.clone()].eq_ignore_ascii_case(name.as_bytes()))
            .map(move |(_, v)| &head.bytes[v.clone()])
    }

    /// Every value of the header `name`, in order.
    pub fn get_all(self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.named(name)
    }

    /// The first value of the header `name`, if present and valid UTF-8.
    pub fn get(self, name: &str) -> Option<&'a str> {
        self.named(name).next().and_then(|v| core::str::from_utf8(v).ok())
    }

    /// The number of fields named `name`.
    pub fn count(self, name: &str) -> usize {
        self.named(name).count()
    }

    /// The comma-separated elements of every `name` field, trimmed, empty ones
    /// skipped (the `#rule` list syntax of RFC 7230 §7).
    pub fn tokens(self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.get_all(name)
            .filter_map(|v| core::str::from_utf8(v).ok())
            .flat_map(|v| v.split(','))
            .map(|t| t.trim_matches(|c| c == ' ' || c == '\t'))
            .filter(|t| !t.is_empty())
    }

    /// Whether a token list header contains `token` (case-insensitively).
    pub fn has_token(self, name: &'a str, token: &str) -> bool {
        self.tokens(name).any(|t| t.eq_ignore_ascii_case(token))
    }
}

/// One element of a `Sec-WebSocket-Extensions` header: an extension name and
/// its parameters (RFC 6455 §9.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtensionOffer<'a> {
    raw: &'a str,
}

impl<'a> ExtensionOffer<'a> {
    pub(crate) fn new(raw: &'a str) -> Self {
        ExtensionOffer { raw }
    }

    /// The extension's name, e.g. `permessage-deflate`.
    pub fn name(&self) -> &'a str {
        self.raw.split(';').next().unwrap_or("").trim()
    }

    /// The parameters as (name, value) pairs; a quoted value is unquoted.
    pub fn params(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> + 'a {
        self.raw.split(';').skip(1).map(|p| match p.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim().trim_matches('"'))),
            None => (p.trim(), None),
        })
    }

    /// The element as written, trimmed.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }
}

/// Whether `s` is an HTTP token (RFC 7230 §3.2.6): header names, subprotocols.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Whether `v` can be a header value: no control characters except tab.
pub(crate) fn is_header_value(v: &str) -> bool {
    v.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// Headers that the handshake writes itself and callers may not add.
pub(crate) fn is_reserved_header(name: &str) -> bool {
    [
        "upgrade",
        "connection",
        "content-length",
        "transfer-encoding",
        "sec-websocket-key",
        "sec-websocket-accept",
        "sec-websocket-version",
        "sec-websocket-protocol",
        "sec-websocket-extensions",
    ]
    .iter()
    .any(|r| r.eq_ignore_ascii_case(name))
}

/// Checks an extra header a caller wants to send.
pub(crate) fn check_extra_header(name: &str, value: &str) -> bool {
    is_token(name) && is_header_value(value) && !is_reserved_header(name)
}

/// The standard reason phrase for a status code, or "" for unknown ones.
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 §1.3 / §4.2.2: the worked example of the accept key.
    #[test]
    fn rfc6455_1_3_accept_key_example() {
        assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn accept_and_key_values_on_the_stack() {
        // RFC 6455 §1.3: the key is base64 of "the sample nonce".
        assert_eq!(&key_value(b"the sample nonce"), b"dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(&accept_value(b"dGhlIHNhbXBsZSBub25jZQ=="), b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        for key in [&b""[..], b"x", b"0123456789abcdef0123456789"] {
            assert_eq!(accept_value(key).as_slice(), accept_key(key).as_bytes());
        }
    }

    #[test]
    fn scanner_finds_the_end_across_any_split() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nFRAME";
        for split in 0..head.len() {
            let mut s = HeadScanner::default();
            let first = s.find_end(&head[..split]);
            let end = first.or_else(|| s.find_end(head));
            assert_eq!(end, Some(27), "split {split}");
        }
        let mut s = HeadScanner::default();
        assert_eq!(s.find_end(b"GET / HTTP/1.1\nHost: a\n\nX"), Some(24));
    }

    #[test]
    fn find_newline_matches_a_byte_search() {
        // Bytes next to `\n` in value or bit pattern, which a zero-byte test
        // could mistake for it.
        let fill = [0x0b, 0x8a, 0x09, 0x0e, 0xff, 0x00, 0x0a ^ 0x80, b'\r'];
        for len in 0..40 {
            for first in (0..len).map(Some).chain([None]) {
                for (k, &f) in fill.iter().enumerate() {
                    let mut bytes: Vec<u8> = (0..len).map(|i| fill[(i + k) % fill.len()].max(f)).collect();
                    bytes.iter_mut().filter(|b| **b == b'\n').for_each(|b| *b = f.wrapping_add(1));
                    if let Some(p) = first {
                        bytes[p] = b'\n';
                        // A second newline later does not change the answer.
                        if p + 3 < len {
                            bytes[p + 3] = b'\n';
                        }
                    }
                    let expected = bytes.iter().position(|&b| b == b'\n');
                    assert_eq!(find_newline(&bytes), expected, "{bytes:02x?}");
                }
            }
        }
    }

    #[test]
    fn token_lists() {
        let bytes = b"GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nX: a\r\nconnection: ,x ,\r\n\r\n";
        let head = Head::parse_request(bytes, 8).unwrap();
        let h = head.headers();
        assert!(h.has_token("connection", "upgrade"));
        assert_eq!(h.tokens("Connection").collect::<Vec<_>>(), ["keep-alive", "Upgrade", "x"]);
        assert_eq!(h.count("CONNECTION"), 2);
        assert_eq!(h.get("x"), Some("a"));
    }

    #[test]
    fn extension_offer_params() {
        let e = ExtensionOffer::new("permessage-deflate; client_max_window_bits; server_max_window_bits=\"10\"");
        assert_eq!(e.name(), "permessage-deflate");
        let p: Vec<_> = e.params().collect();
        assert_eq!(p, [("client_max_window_bits", None), ("server_max_window_bits", Some("10"))]);
    }
}
