//! Server side of the opening handshake (RFC 6455 §4.2).
//!
//! The connection parses the request and checks the rules every WebSocket
//! request must follow ([`check_request`]). A request that breaks them is
//! answered by the connection itself ([`write_error_response`]): `400 Bad Request`
//! for a malformed request or a missing or invalid header, `405` for a method
//! other than GET, `426 Upgrade Required` with `Sec-WebSocket-Version: 13`
//! for another protocol version, `431` for a head over the size or
//! header-count limit.
//!
//! A valid request is handed to the application as a [`Request`], which
//! decides: [`Accept`] (with a subprotocol and extra headers such as
//! `Set-Cookie`) or [`Reject`] (any status, headers and body: a 401 with
//! `WWW-Authenticate`, a 403 for a foreign `Origin`, a redirect).

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::{ExtensionOffer, Head, Headers, check_extra_header, reason_phrase};
use crate::error::{DecisionError, HandshakeError};

/// A handshake request, borrowed from the connection that received it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    head: &'a Head,
}

impl<'a> Request<'a> {
    pub(crate) fn new(head: &'a Head) -> Self {
        Request { head }
    }

    /// The method (always `GET` for a request the connection passed on).
    pub fn method(&self) -> &'a str {
        self.head.str_at(&self.head.first)
    }

    /// The request target: path and query, e.g. `/chat?room=1`.
    pub fn target(&self) -> &'a str {
        self.head.str_at(&self.head.target)
    }

    /// The path part of the target, without the query (of an absolute
    /// target, `http://host/chat?x`, the path after the authority).
    pub fn path(&self) -> &'a str {
        let t = self.resource();
        match t.split_once('?').map_or(t, |(p, _)| p) {
            // An absolute URI's empty path is `/` (RFC 3986 §6.2.3).
            "" => "/",
            p => p,
        }
    }

    /// The query part of the target, without the `?`.
    pub fn query(&self) -> Option<&'a str> {
        self.resource().split_once('?').map(|(_, q)| q)
    }

    /// The /resource name/ (RFC 6455 §3): the target in origin form
    /// (`/chat?x`), or what follows the authority of an absolute one.
    fn resource(&self) -> &'a str {
        let t = self.target();
        match absolute_rest(t) {
            Some(rest) => rest.find(['/', '?']).map_or("/", |i| &rest[i..]),
            None => t,
        }
    }

    /// The minor HTTP version: 1 for HTTP/1.1.
    pub fn http_minor_version(&self) -> u8 {
        self.head.version
    }

    /// The `Host` header.
    pub fn host(&self) -> Option<&'a str> {
        self.headers().get("host")
    }

    /// The `Origin` header, sent by browsers: check it to refuse cross-site
    /// connections (RFC 6455 §10.2).
    pub fn origin(&self) -> Option<&'a str> {
        self.headers().get("origin")
    }

    /// The `Sec-WebSocket-Key` header.
    pub fn key(&self) -> Option<&'a str> {
        self.headers().get("sec-websocket-key")
    }

    /// The subprotocols the client offers, in its order of preference.
    pub fn protocols(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.headers().tokens("sec-websocket-protocol")
    }

    /// The extensions the client offers, in its order of preference.
    pub fn extensions(&self) -> impl Iterator<Item = ExtensionOffer<'a>> + 'a {
        self.headers().tokens("sec-websocket-extensions").map(ExtensionOffer::new)
    }

    /// Every header field.
    pub fn headers(&self) -> Headers<'a> {
        self.head.headers()
    }

    /// The first value of a header, if present and UTF-8.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers().get(name)
    }

    /// The raw bytes of the request head.
    pub fn raw(&self) -> &'a [u8] {
        self.head.raw()
    }
}

/// An owned, parsed request head, for servers that use this module without a
/// [`Connection`](crate::Connection).
#[derive(Clone, Debug)]
pub struct RequestHead {
    head: Head,
}

impl RequestHead {
    /// Parses a request head at the start of `bytes`. Returns `Ok(None)` if
    /// the head is incomplete, or the head and its length (any bytes after it
    /// are WebSocket frames). Each call scans `bytes` from the start: for a
    /// head that arrives in pieces, find its end with a
    /// [`HeadScanner`](super::HeadScanner) and parse once.
    ///
    /// ```
    /// use wsmachine::handshake::{RequestHead, check_request};
    /// let bytes = b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\
    ///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    ///     Sec-WebSocket-Version: 13\r\n\r\n";
    /// let (head, len) = RequestHead::parse(bytes, 64).unwrap().unwrap();
    /// assert_eq!(len, bytes.len());
    /// assert_eq!(head.request().path(), "/chat");
    /// check_request(&head.request()).unwrap();
    /// ```
    pub fn parse(bytes: &[u8], max_headers: usize) -> Result<Option<(RequestHead, usize)>, HandshakeError> {
        let Some(end) = super::HeadScanner::default().find_end(bytes) else {
            return Ok(None);
        };
        let head = Head::parse_request(&bytes[..end], max_headers)?;
        Ok(Some((RequestHead { head }, end)))
    }

    /// The request.
    pub fn request(&self) -> Request<'_> {
        Request::new(&self.head)
    }
}

/// Checks the rules of RFC 6455 §4.2.1 that every opening handshake request
/// must follow. The error's [`status`](HandshakeError::status) is the answer.
pub fn check_request(req: &Request<'_>) -> Result<(), HandshakeError> {
    let h = req.headers();
    if req.method() != "GET" {
        return Err(HandshakeError::MethodNotGet);
    }
    if req.http_minor_version() < 1 {
        return Err(HandshakeError::HttpVersion);
    }
    // §4.2.1 item 1: the Request-URI is a /resource name/ (origin form) or
    // an absolute http, https, ws or wss URI; not `chat`, not `*`.
    let target = req.target();
    if !target.starts_with('/') && absolute_rest(target).is_none() {
        return Err(HandshakeError::InvalidTarget);
    }
    if h.count("host") != 1 || h.get("host").is_none_or(|host| host.trim().is_empty()) {
        return Err(HandshakeError::InvalidHost);
    }
    // A GET upgrade has no body (§4.1: the client sends nothing more until
    // the response); one announced would be read as frames.
    if h.count("transfer-encoding") > 0 || h.get_all("content-length").any(|v| v.trim_ascii() != b"0") {
        return Err(HandshakeError::Malformed("request with a body"));
    }
    if !h.has_token("upgrade", "websocket") {
        return Err(HandshakeError::MissingUpgrade);
    }
    if !h.has_token("connection", "upgrade") {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    let mut keys = h.get_all("sec-websocket-key");
    match (keys.next(), keys.next()) {
        (Some(key), None) if is_valid_key(key) => {}
        _ => return Err(HandshakeError::InvalidKey),
    }
    // One field with one value (§4.2.1 item 6), read as bytes: a second
    // field, even one that is not UTF-8, is not skipped.
    let mut versions = h.get_all("sec-websocket-version");
    match (versions.next(), versions.next()) {
        (None, _) => Err(HandshakeError::MissingVersion),
        (Some(v), None) if v.trim_ascii() == b"13" => Ok(()),
        (Some(_), None) => Err(HandshakeError::UnsupportedVersion),
        (Some(_), Some(_)) => Err(HandshakeError::Malformed("repeated Sec-WebSocket-Version")),
    }
}

/// What follows `scheme://` in an absolute http, https, ws or wss target.
fn absolute_rest(target: &str) -> Option<&str> {
    let (scheme, rest) = target.split_once("://")?;
    ["http", "https", "ws", "wss"].iter().any(|s| scheme.eq_ignore_ascii_case(s)).then_some(rest)
}

/// A key is the base64 encoding of 16 bytes (RFC 6455 §4.1, item 7).
fn is_valid_key(key: &[u8]) -> bool {
    let key = key.trim_ascii();
    // Decoded on the stack: 24 characters are at most 18 bytes.
    let mut decoded = [0u8; 18];
    key.len() == 24 && BASE64.decode_slice(key, &mut decoded).is_ok_and(|n| n == 16)
}

/// The application's acceptance of a request.
///
/// ```
/// use wsmachine::Accept;
/// let accept = Accept::new().protocol("chat").header("Set-Cookie", "session=1; HttpOnly");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Accept {
    protocol: Option<String>,
    headers: Vec<(String, String)>,
    extensions: Option<String>,
}

impl Accept {
    /// Accept without a subprotocol or extra headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Select one of the subprotocols the client offered.
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = Some(protocol.into());
        self
    }

    /// Add a header to the `101` response.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The selected subprotocol.
    pub fn selected_protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// Set the `Sec-WebSocket-Extensions` response, for servers that
    /// negotiate extensions themselves with [`write_accept`] (for example
    /// with [`deflate::accept_first`](crate::deflate::accept_first)) and then
    /// run a [`Connection::established`](crate::Connection::established).
    /// A [`Connection`](crate::Connection) negotiates permessage-deflate
    /// itself (see [`Config::deflate`](crate::Config)) and refuses this.
    pub fn extensions(mut self, response: impl Into<String>) -> Self {
        self.extensions = Some(response.into());
        self
    }

    pub(crate) fn extension_response(&self) -> Option<&str> {
        self.extensions.as_deref()
    }
}

/// The application's refusal of a request: an HTTP response with any status
/// (200–599 but 101), headers and body.
///
/// ```
/// use wsmachine::Reject;
/// let reject = Reject::status(401).header("WWW-Authenticate", "Bearer").body("log in first");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reject {
    /// Reject with this status code and an empty body.
    pub fn status(status: u16) -> Self {
        Reject { status, headers: Vec::new(), body: Vec::new() }
    }

    /// Add a header (`Content-Length` and `Connection: close` are added for you).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Set the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The status code.
    pub fn status_code(&self) -> u16 {
        self.status
    }
}

fn check_headers(headers: &[(String, String)]) -> Result<(), DecisionError> {
    match headers.iter().find(|(n, v)| !check_extra_header(n, v)) {
        Some((n, _)) => Err(DecisionError::InvalidHeader(n.clone())),
        None => Ok(()),
    }
}

fn write_headers(out: &mut Vec<u8>, headers: &[(String, String)]) {
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends the `101 Switching Protocols` response accepting `req` to `out`.
///
/// The subprotocol, if any, must be one the client offered (RFC 6455 §4.2.2).
pub fn write_accept(out: &mut Vec<u8>, req: &Request<'_>, accept: &Accept) -> Result<(), DecisionError> {
    if let Some(p) = &accept.protocol
        && !req.protocols().any(|offered| offered == p)
    {
        return Err(DecisionError::ProtocolNotOffered(p.clone()));
    }
    check_headers(&accept.headers)?;
    if accept.extensions.as_deref().is_some_and(|e| !super::is_header_value(e)) {
        return Err(DecisionError::InvalidHeader("Sec-WebSocket-Extensions".into()));
    }
    let key = req.key().unwrap_or("").trim();
    // The fixed part is 129 bytes: one allocation for the usual response.
    out.reserve(160);
    out.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
    out.extend_from_slice(b"Sec-WebSocket-Accept: ");
    out.extend_from_slice(&super::accept_value(key.as_bytes()));
    out.extend_from_slice(b"\r\n");
    if let Some(p) = &accept.protocol {
        out.extend_from_slice(b"Sec-WebSocket-Protocol: ");
        out.extend_from_slice(p.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(e) = &accept.extensions {
        out.extend_from_slice(b"Sec-WebSocket-Extensions: ");
        out.extend_from_slice(e.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    write_headers(out, &accept.headers);
    out.extend_from_slice(b"\r\n");
    Ok(())
}

fn write_plain_response(out: &mut Vec<u8>, status: u16, headers: &[(String, String)], body: &[u8]) {
    let mut head = String::new();
    let _ = write!(head, "HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    out.extend_from_slice(head.as_bytes());
    write_headers(out, headers);
    head.clear();
    let _ = write!(head, "Content-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(body);
}

/// Appends the response rejecting a request to `out`.
pub(crate) fn write_reject(out: &mut Vec<u8>, reject: &Reject) -> Result<(), DecisionError> {
    if !(200..=599).contains(&reject.status) {
        return Err(DecisionError::InvalidStatus(reject.status));
    }
    check_headers(&reject.headers)?;
    write_plain_response(out, reject.status, &reject.headers, &reject.body);
    Ok(())
}

/// Appends the response to a request that failed [`check_request`] (or
/// could not be parsed) to `out`: the error's status, a plain-text body that
/// explains it, and for 426 the version we speak.
pub(crate) fn write_error_response(out: &mut Vec<u8>, error: &HandshakeError) {
    let status = error.status();
    let mut headers = vec![("Content-Type".to_owned(), "text/plain; charset=utf-8".to_owned())];
    match status {
        405 => headers.push(("Allow".to_owned(), "GET".to_owned())),
        426 => {
            headers.push(("Upgrade".to_owned(), "websocket".to_owned()));
            headers.push(("Sec-WebSocket-Version".to_owned(), "13".to_owned()));
        }
        _ => {}
    }
    let body = format!("{error}\n");
    write_plain_response(out, status, &headers, body.as_bytes());
}
