//! Client side of the opening handshake (RFC 6455 §4.1).
//!
//! A [`ClientRequest`] is built from a `ws://` or `wss://` URI (RFC 6455 §3)
//! plus optional subprotocols, extension offers and extra headers
//! (`Authorization`, `Cookie`, `Origin`...). For `wss` the connection does not
//! do TLS: [`ClientRequest::is_secure`] tells the caller to wrap the transport.
//!
//! The server's response is checked by [`check_response`]: status 101, the
//! `Upgrade` and `Connection` tokens, `Sec-WebSocket-Accept` against our key,
//! and that the chosen subprotocol and extensions were offered. Any other
//! status is reported with the whole response (a redirect's `Location`, a
//! 401's `WWW-Authenticate`).

use super::{ExtensionOffer, Head, Headers, check_extra_header, is_header_value, is_token};
use crate::error::{HandshakeError, RequestError};

/// What a client asks for in its opening handshake.
///
/// ```
/// use wsmachine::ClientRequest;
/// let req = ClientRequest::new("wss://example.com:8443/chat?room=7")?
///     .protocol("chat.v2")?
///     .header("Authorization", "Bearer abc")?;
/// assert!(req.is_secure());
/// assert_eq!((req.host(), req.port(), req.target()), ("example.com", 8443, "/chat?room=7"));
/// # Ok::<(), wsmachine::RequestError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRequest {
    secure: bool,
    host: String,
    port: u16,
    host_header: String,
    target: String,
    protocols: Vec<String>,
    extensions: Vec<String>,
    headers: Vec<(String, String)>,
}

fn is_uri_char(c: char) -> bool {
    c.is_ascii_graphic() && c != '#'
}

impl ClientRequest {
    /// A request for a `ws://` or `wss://` URI.
    ///
    /// The URI may not contain a fragment (RFC 6455 §3) or user information;
    /// the path defaults to `/`, the port to 80 (`ws`) or 443 (`wss`).
    pub fn new(uri: &str) -> Result<Self, RequestError> {
        let (scheme, rest) = uri.split_once("://").ok_or(RequestError::InvalidUri("no scheme"))?;
        let secure = if scheme.eq_ignore_ascii_case("ws") {
            false
        } else if scheme.eq_ignore_ascii_case("wss") {
            true
        } else {
            return Err(RequestError::UnsupportedScheme);
        };
        if rest.contains('#') {
            return Err(RequestError::InvalidUri("fragments are not allowed"));
        }
        if !rest.chars().all(is_uri_char) {
            return Err(RequestError::InvalidUri("characters that must be percent-encoded"));
        }
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(split);
        if authority.contains('@') {
            return Err(RequestError::InvalidUri("user information is not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (addr, after) = v6.split_once(']').ok_or(RequestError::InvalidUri("unclosed IPv6 literal"))?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or(RequestError::InvalidUri("garbage after IPv6 literal"))?),
            };
            if addr.is_empty() || !addr.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.') {
                return Err(RequestError::InvalidUri("invalid IPv6 literal"));
            }
            (addr, port)
        } else {
            match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(RequestError::InvalidUri("empty host"));
        }
        let default_port = if secure { 443 } else { 80 };
        let port = match port {
            None | Some("") => default_port,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => return Err(RequestError::InvalidUri("invalid port")),
            },
        };
        let bracketed = if host.contains(':') { format!("[{host}]") } else { host.to_owned() };
        let host_header = if port == default_port { bracketed } else { format!("{bracketed}:{port}") };
        let target = if target.starts_with('/') { target.to_owned() } else { format!("/{target}") };
        Ok(ClientRequest {
            secure,
            host: host.to_owned(),
            port,
            host_header,
            target,
            protocols: Vec::new(),
            extensions: Vec::new(),
            headers: Vec::new(),
        })
    }

    /// Offer a subprotocol; call again to offer more, in order of preference.
    pub fn protocol(mut self, protocol: &str) -> Result<Self, RequestError> {
        if !is_token(protocol) {
            return Err(RequestError::InvalidProtocol(protocol.to_owned()));
        }
        self.protocols.push(protocol.to_owned());
        Ok(self)
    }

    /// Offer an extension, written as in `Sec-WebSocket-Extensions` (for
    /// example `x-custom; param=1`).
    ///
    /// The core implements no extension's framing: frames with RSV bits still
    /// fail the connection. An offer lets you see which extensions a server
    /// accepts (in [`Event::Open`](crate::Event::Open)); the server may only
    /// accept extensions that were offered.
    pub fn extension(mut self, offer: &str) -> Result<Self, RequestError> {
        if !is_token(ExtensionOffer::new(offer).name()) || !is_header_value(offer) {
            return Err(RequestError::InvalidHeader(offer.to_owned()));
        }
        self.extensions.push(offer.trim().to_owned());
        Ok(self)
    }

    /// Add a header such as `Origin`, `Authorization` or `Cookie`.
    ///
    /// Headers the handshake sets itself (`Upgrade`, `Connection`,
    /// `Sec-WebSocket-*`, `Content-Length`) are refused; `Host` replaces the
    /// one derived from the URI.
    pub fn header(mut self, name: &str, value: &str) -> Result<Self, RequestError> {
        if !check_extra_header(name, value) {
            return Err(RequestError::InvalidHeader(name.to_owned()));
        }
        if name.eq_ignore_ascii_case("host") {
            self.host_header = value.to_owned();
        } else {
            self.headers.push((name.to_owned(), value.to_owned()));
        }
        Ok(self)
    }

    /// Adds an extension offer the connection itself negotiates (`extension.rs`).
    pub(crate) fn push_offer(&mut self, offer: String) {
        self.extensions.push(offer);
    }

    /// Whether the URI was `wss://`: the caller must run the connection over TLS.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The host to connect to (an IPv6 address without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The request target: path and query.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The offered subprotocols.
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// Appends the request head with `key` (16 random bytes) to `out`.
    pub(crate) fn write(&self, out: &mut Vec<u8>, key: &[u8; 16]) {
        let line = |out: &mut Vec<u8>, name: &str, value: &[u8]| {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        };
        // The fixed lines take 138 bytes: one allocation, not six.
        out.reserve(160 + self.target.len() + self.host_header.len());
        out.extend_from_slice(b"GET ");
        out.extend_from_slice(self.target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        line(out, "Host", self.host_header.as_bytes());
        line(out, "Upgrade", b"websocket");
        line(out, "Connection", b"Upgrade");
        line(out, "Sec-WebSocket-Key", &super::key_value(key));
        line(out, "Sec-WebSocket-Version", b"13");
        if !self.protocols.is_empty() {
            line(out, "Sec-WebSocket-Protocol", self.protocols.join(", ").as_bytes());
        }
        if !self.extensions.is_empty() {
            line(out, "Sec-WebSocket-Extensions", self.extensions.join(", ").as_bytes());
        }
        for (name, value) in &self.headers {
            line(out, name, value.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// A handshake response, borrowed from the connection that received it.
#[derive(Clone, Copy, Debug)]
pub struct Response<'a> {
    head: &'a Head,
}

impl<'a> Response<'a> {
    pub(crate) fn new(head: &'a Head) -> Self {
        Response { head }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.head.status
    }

    /// The reason phrase.
    pub fn reason(&self) -> &'a str {
        self.head.str_at(&self.head.first)
    }

    /// Every header field.
    pub fn headers(&self) -> Headers<'a> {
        self.head.headers()
    }

    /// The first value of a header, if present and UTF-8 (e.g. `Location`).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers().get(name)
    }

    /// The raw bytes of the response head.
    pub fn raw(&self) -> &'a [u8] {
        self.head.raw()
    }
}

/// Checks a server's response to a request with `key` (RFC 6455 §4.1, the
/// client's checks 1–6). Returns the chosen subprotocol.
pub fn check_response(
    resp: &Response<'_>,
    key: &[u8; 16],
    request: &ClientRequest,
) -> Result<Option<String>, HandshakeError> {
    if resp.status() != 101 {
        return Err(HandshakeError::Rejected { status: resp.status() });
    }
    // §4.1 item 1 of the client's checks: HTTP/1.1 or later; HTTP/1.0 has
    // no 101.
    if resp.head.version < 1 {
        return Err(HandshakeError::HttpVersion);
    }
    let h = resp.headers();
    if !h.has_token("upgrade", "websocket") {
        return Err(HandshakeError::MissingUpgrade);
    }
    if !h.has_token("connection", "upgrade") {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    let expected = super::accept_value(&super::key_value(key));
    let mut accepts = h.get_all("sec-websocket-accept");
    match (accepts.next(), accepts.next()) {
        (Some(a), None) if a.trim_ascii() == expected => {}
        _ => return Err(HandshakeError::InvalidAccept),
    }
    for ext in h.tokens("sec-websocket-extensions").map(ExtensionOffer::new) {
        let offered = request.extensions.iter().any(|o| ExtensionOffer::new(o).name().eq_ignore_ascii_case(ext.name()));
        if !offered {
            return Err(HandshakeError::UnofferedExtension(ext.as_str().to_owned()));
        }
    }
    let mut protocols = h.tokens("sec-websocket-protocol");
    match (protocols.next(), protocols.next()) {
        (None, _) => Ok(None),
        (Some(p), None) if request.protocols.iter().any(|o| o == p) => Ok(Some(p.to_owned())),
        _ => {
            let all: Vec<&str> = h.tokens("sec-websocket-protocol").collect();
            Err(HandshakeError::UnofferedProtocol(all.join(", ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 §3: ws/wss URIs, default ports, no fragment.
    #[test]
    fn rfc6455_3_uris() {
        let r = ClientRequest::new("ws://example.com").unwrap();
        assert_eq!((r.host(), r.port(), r.target(), r.is_secure()), ("example.com", 80, "/", false));
        assert_eq!(r.host_header, "example.com");
        let r = ClientRequest::new("WSS://[::1]:9001?x=1").unwrap();
        assert_eq!((r.host(), r.port(), r.target(), r.is_secure()), ("::1", 9001, "/?x=1", true));
        assert_eq!(r.host_header, "[::1]:9001");
        let r = ClientRequest::new("ws://h:80/a/b?c").unwrap();
        assert_eq!(r.host_header, "h");
        assert_eq!(ClientRequest::new("http://h/"), Err(RequestError::UnsupportedScheme));
        assert!(matches!(ClientRequest::new("ws://h/#frag"), Err(RequestError::InvalidUri(_))));
        assert!(matches!(ClientRequest::new("ws://h:0/"), Err(RequestError::InvalidUri(_))));
        assert!(matches!(ClientRequest::new("ws://h:99999/"), Err(RequestError::InvalidUri(_))));
        assert!(matches!(ClientRequest::new("ws:///x"), Err(RequestError::InvalidUri(_))));
        assert!(matches!(ClientRequest::new("ws://u@h/"), Err(RequestError::InvalidUri(_))));
        assert!(matches!(ClientRequest::new("ws://h/a b"), Err(RequestError::InvalidUri(_))));
    }

    #[test]
    fn header_injection_refused() {
        let r = ClientRequest::new("ws://h/").unwrap();
        assert!(r.clone().header("X", "a\r\nEvil: 1").is_err());
        assert!(r.clone().header("Bad Name", "v").is_err());
        assert!(r.clone().header("Sec-WebSocket-Key", "v").is_err());
        assert!(r.clone().protocol("a b").is_err());
        assert!(r.header("Cookie", "a=b").is_ok());
    }

    #[test]
    fn request_bytes() {
        let r = ClientRequest::new("ws://server.example.com/chat")
            .unwrap()
            .protocol("chat")
            .unwrap()
            .protocol("superchat")
            .unwrap()
            .header("Origin", "http://example.com")
            .unwrap();
        let mut out = Vec::new();
        r.write(&mut out, b"the sample nonce");
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: chat, superchat\r\nOrigin: http://example.com\r\n\r\n"
        );
    }
}
