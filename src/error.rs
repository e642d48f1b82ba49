//! Error types.
//!
//! Two kinds of failure are kept apart, as RFC 6455 §7.1.7 suggests:
//!
//! - What the **peer** did wrong, or what happened to the connection
//!   ([`Failure`], with [`ProtocolError`] and [`HandshakeError`]). These never
//!   come back as an `Err` from `receive`: the connection fails itself, sends
//!   the right close code or HTTP status, and reports the failure in
//!   [`Event::Closed`](crate::Event::Closed).
//! - What the **caller** asked for that cannot be done ([`SendError`],
//!   [`DecisionError`], [`RequestError`]): sending in the wrong state, invalid
//!   arguments. These are returned as `Err`, and the connection is unchanged.
//!
//! [`RandomError`] is the one thing outside both: the operating system could
//! not seed a client's random source.

use core::fmt;

use crate::close::{CloseCode, ClosePayloadError};
use crate::frame::OpCode;

/// Why a connection ended other than by a clean closing handshake: it
/// *failed* (RFC 6455 §7.1.7), timed out, or the transport ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The peer broke the framing rules (RFC 6455 §5, §7.1.7).
    Protocol(ProtocolError),
    /// The opening handshake failed (RFC 6455 §4).
    Handshake(HandshakeError),
    /// The opening handshake did not complete within
    /// [`Config::handshake_timeout`](crate::Config::handshake_timeout).
    HandshakeTimeout,
    /// No Pong answered a heartbeat Ping within
    /// [`Config::pong_timeout`](crate::Config::pong_timeout).
    PongTimeout,
    /// The peer did not answer our Close within
    /// [`Config::close_timeout`](crate::Config::close_timeout).
    CloseTimeout,
    /// The transport reached end of file before the closing handshake.
    UnexpectedEof,
    /// A received message was still incomplete
    /// [`Config::message_timeout`](crate::Config::message_timeout) after
    /// its first byte arrived (a peer trickling a large message to hold
    /// its memory). Close code 1008, sent in our Close.
    MessageTimeout,
    /// Output waited and the transport took none of it for
    /// [`Config::write_timeout`](crate::Config::write_timeout): the peer
    /// stopped reading. Nothing more is sent (not even a Close).
    WriteTimeout,
}

impl Failure {
    /// The close code reported for this failure, which is also the code sent
    /// in our Close frame when one could be sent.
    pub fn close_code(&self) -> CloseCode {
        match self {
            Failure::Protocol(e) => e.close_code(),
            Failure::MessageTimeout => CloseCode::POLICY_VIOLATION,
            _ => CloseCode::ABNORMAL,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Protocol(_) => f.write_str("the peer broke the protocol"),
            Failure::Handshake(_) => f.write_str("the opening handshake failed"),
            Failure::HandshakeTimeout => f.write_str("opening handshake timed out"),
            Failure::PongTimeout => f.write_str("no pong received in time"),
            Failure::CloseTimeout => f.write_str("closing handshake timed out"),
            Failure::UnexpectedEof => f.write_str("transport closed without a close frame"),
            Failure::WriteTimeout => f.write_str("the peer took none of our output in time"),
            Failure::MessageTimeout => f.write_str("a message was not received in time"),
        }
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Failure::Protocol(e) => Some(e),
            Failure::Handshake(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ProtocolError> for Failure {
    fn from(e: ProtocolError) -> Self {
        Failure::Protocol(e)
    }
}

impl From<HandshakeError> for Failure {
    fn from(e: HandshakeError) -> Self {
        Failure::Handshake(e)
    }
}

/// The operating system could not seed a client's random source (for the
/// handshake key and the masking keys, RFC 6455 §4.1, §5.3).
#[derive(Debug)]
pub struct RandomError(pub(crate) getrandom::Error);

impl fmt::Display for RandomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot seed the random source from the operating system")
    }
}

impl std::error::Error for RandomError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// A frame-level violation by the peer; each maps to the close code we send
/// (RFC 6455 §7.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A reserved opcode (§5.2: "reserved for further ... frames").
    ReservedOpcode(u8),
    /// A 64-bit payload length with its most significant bit set (§5.2).
    InvalidLength,
    /// RSV bits set that no negotiated extension defines (§5.2). The value
    /// holds the bits as in [`FrameHeader::rsv`](crate::frame::FrameHeader::rsv).
    ReservedBits(u8),
    /// A client sent an unmasked frame (§5.1).
    UnmaskedFrame,
    /// A server sent a masked frame (§5.1).
    MaskedFrame,
    /// A control frame without FIN (§5.5).
    FragmentedControl(OpCode),
    /// A control frame with more than 125 bytes of payload (§5.5).
    ControlTooLong {
        /// The frame's opcode.
        opcode: OpCode,
        /// Its announced payload length.
        len: u64,
    },
    /// A continuation frame with no message to continue (§5.4).
    UnexpectedContinuation,
    /// A new Text or Binary frame while a fragmented message is incomplete (§5.4).
    ExpectedContinuation(OpCode),
    /// The payload of a Close frame is invalid (§5.5.1, §7.4).
    InvalidClose(ClosePayloadError),
    /// A text message is not valid UTF-8 (§8.1). `valid_up_to` is the offset
    /// in the message of the first byte of the invalid sequence.
    InvalidUtf8 {
        /// Offset of the invalid sequence within the message.
        valid_up_to: u64,
    },
    /// A frame larger than [`Config::max_frame_size`](crate::Config::max_frame_size).
    FrameTooLarge {
        /// The frame's announced payload length.
        len: u64,
        /// The configured limit.
        limit: usize,
    },
    /// A compressed message whose data is not valid DEFLATE (RFC 7692 §7.2.2).
    InvalidCompressedData,
    /// A message larger than [`Config::max_message_size`](crate::Config::max_message_size)
    /// (for a compressed message: once inflated).
    MessageTooLarge {
        /// The message length reached with this frame.
        len: u64,
        /// The configured limit.
        limit: usize,
    },
}

impl ProtocolError {
    /// The close code sent for this error: 1007 for invalid UTF-8, 1009 for
    /// sizes over the limits, 1002 for everything else.
    pub fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::InvalidUtf8 { .. }
            | ProtocolError::InvalidClose(ClosePayloadError::InvalidUtf8)
            | ProtocolError::InvalidCompressedData => CloseCode::INVALID_PAYLOAD,
            ProtocolError::FrameTooLarge { .. } | ProtocolError::MessageTooLarge { .. } => CloseCode::MESSAGE_TOO_BIG,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// A short reason sent in our Close frame (always under 123 bytes).
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            ProtocolError::ReservedOpcode(_) => "reserved opcode",
            ProtocolError::InvalidLength => "invalid payload length",
            ProtocolError::ReservedBits(_) => "reserved bits set",
            ProtocolError::UnmaskedFrame => "client frame not masked",
            ProtocolError::MaskedFrame => "server frame masked",
            ProtocolError::FragmentedControl(_) => "fragmented control frame",
            ProtocolError::ControlTooLong { .. } => "control frame too long",
            ProtocolError::UnexpectedContinuation => "unexpected continuation frame",
            ProtocolError::ExpectedContinuation(_) => "expected continuation frame",
            ProtocolError::InvalidClose(_) => "invalid close frame",
            ProtocolError::InvalidUtf8 { .. } => "invalid UTF-8",
            ProtocolError::InvalidCompressedData => "invalid compressed data",
            ProtocolError::FrameTooLarge { .. } => "frame too large",
            ProtocolError::MessageTooLarge { .. } => "message too large",
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            ProtocolError::InvalidLength => f.write_str("64-bit payload length with the high bit set"),
            ProtocolError::ReservedBits(bits) => write!(f, "RSV bits {bits:#05b} set without an extension"),
            ProtocolError::UnmaskedFrame => f.write_str("client sent an unmasked frame"),
            ProtocolError::MaskedFrame => f.write_str("server sent a masked frame"),
            ProtocolError::FragmentedControl(op) => write!(f, "{op:?} control frame without FIN"),
            ProtocolError::ControlTooLong { opcode, len } => {
                write!(f, "{opcode:?} control frame of {len} bytes (max 125)")
            }
            ProtocolError::UnexpectedContinuation => f.write_str("continuation frame outside a message"),
            ProtocolError::ExpectedContinuation(op) => {
                write!(f, "{op:?} frame inside a fragmented message")
            }
            ProtocolError::InvalidClose(e) => write!(f, "invalid close frame: {e}"),
            ProtocolError::InvalidUtf8 { valid_up_to } => {
                write!(f, "invalid UTF-8 in text message at byte {valid_up_to}")
            }
            ProtocolError::InvalidCompressedData => f.write_str("compressed message is not valid DEFLATE data"),
            ProtocolError::FrameTooLarge { len, limit } => {
                write!(f, "frame of {len} bytes exceeds the limit of {limit}")
            }
            ProtocolError::MessageTooLarge { len, limit } => {
                write!(f, "message of at least {len} bytes exceeds the limit of {limit}")
            }
        }
    }
}

impl std::error::Error for ProtocolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProtocolError::InvalidClose(e) => Some(e),
            _ => None,
        }
    }
}

/// A failed opening handshake (RFC 6455 §4).
///
/// On the server side, each variant has the HTTP status the connection
/// answered with ([`status`](Self::status)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The head exceeded [`Config::max_head_size`](crate::Config::max_head_size). Server: 431.
    HeadTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// More header fields than [`Config::max_headers`](crate::Config::max_headers). Server: 431.
    TooManyHeaders {
        /// The configured limit.
        limit: usize,
    },
    /// The head is not valid HTTP/1.x. Server: 400.
    Malformed(&'static str),
    /// The request method is not GET (§4.2.1). Server: 405 with `Allow: GET`.
    MethodNotGet,
    /// The request target is neither a resource name (`/chat`) nor an
    /// absolute http(s) or ws(s) URI (§4.2.1, §3). Server: 400.
    InvalidTarget,
    /// The request is HTTP/1.0; RFC 6455 needs HTTP/1.1 or later (§4.2.1).
    /// Server: 400. Client: the server's `101` was HTTP/1.0.
    HttpVersion,
    /// No `Host` header, an empty one, or more than one (§4.2.1). Server: 400.
    InvalidHost,
    /// `Upgrade` is missing or does not contain the `websocket` token (§4.2.1, §4.1). Server: 400.
    MissingUpgrade,
    /// `Connection` is missing or does not contain the `upgrade` token (§4.2.1, §4.1). Server: 400.
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Key` is missing, repeated, or not 16 bytes in base64 (§4.2.1). Server: 400.
    InvalidKey,
    /// `Sec-WebSocket-Version` is missing (§4.2.1). Server: 400.
    MissingVersion,
    /// `Sec-WebSocket-Version` is not 13 (§4.4). Server: 426 with `Sec-WebSocket-Version: 13`.
    UnsupportedVersion,
    /// Client: the server answered with a status other than 101. The full
    /// response was reported in [`Event::Rejected`](crate::Event::Rejected).
    Rejected {
        /// The HTTP status code.
        status: u16,
    },
    /// Client: `Sec-WebSocket-Accept` is missing or does not match our key (§4.1).
    InvalidAccept,
    /// Client: the server chose a subprotocol we did not offer (§4.1).
    UnofferedProtocol(String),
    /// Client: the server accepted an extension we did not offer (§4.1).
    UnofferedExtension(String),
    /// Client: the server's permessage-deflate parameters are invalid or not
    /// what we offered (RFC 7692 §7.1).
    InvalidExtension(String),
    /// The transport ended before the handshake completed.
    Eof,
    /// Server: the client sent more than `limit` bytes
    /// ([`Config::max_head_size`](crate::Config::max_head_size)) after its
    /// request while the application had not yet answered it (a client
    /// waits for the response before it sends data, RFC 6455 §4.1). Server: 400.
    EarlyData {
        /// The configured limit in bytes.
        limit: usize,
    },
}

impl HandshakeError {
    /// The HTTP status a server answers this error with.
    pub fn status(&self) -> u16 {
        match self {
            HandshakeError::HeadTooLarge { .. } | HandshakeError::TooManyHeaders { .. } => 431,
            HandshakeError::MethodNotGet => 405,
            HandshakeError::UnsupportedVersion => 426,
            HandshakeError::Rejected { status } => *status,
            _ => 400,
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::HeadTooLarge { limit } => write!(f, "HTTP head larger than {limit} bytes"),
            HandshakeError::TooManyHeaders { limit } => write!(f, "more than {limit} header fields"),
            HandshakeError::Malformed(what) => write!(f, "malformed HTTP head: {what}"),
            HandshakeError::MethodNotGet => f.write_str("request method is not GET"),
            HandshakeError::InvalidTarget => f.write_str("request target is not a resource name or absolute URI"),
            HandshakeError::HttpVersion => f.write_str("HTTP/1.1 or later is required"),
            HandshakeError::InvalidHost => f.write_str("missing or repeated Host header"),
            HandshakeError::MissingUpgrade => f.write_str("missing 'Upgrade: websocket' header"),
            HandshakeError::MissingConnectionUpgrade => f.write_str("missing 'Connection: Upgrade' header"),
            HandshakeError::InvalidKey => f.write_str("missing or invalid Sec-WebSocket-Key header"),
            HandshakeError::MissingVersion => f.write_str("missing Sec-WebSocket-Version header"),
            HandshakeError::UnsupportedVersion => f.write_str("unsupported WebSocket version (13 is supported)"),
            HandshakeError::Rejected { status } => write!(f, "server answered with status {status}"),
            HandshakeError::InvalidAccept => f.write_str("missing or wrong Sec-WebSocket-Accept"),
            HandshakeError::UnofferedProtocol(p) => write!(f, "server chose subprotocol {p:?}, which was not offered"),
            HandshakeError::UnofferedExtension(e) => {
                write!(f, "server accepted extension {e:?}, which was not offered")
            }
            HandshakeError::InvalidExtension(e) => write!(f, "invalid extension response: {e}"),
            HandshakeError::Eof => f.write_str("transport closed during the opening handshake"),
            HandshakeError::EarlyData { limit } => {
                write!(f, "more than {limit} bytes sent after the request before the response")
            }
        }
    }
}

impl std::error::Error for HandshakeError {}

/// Who ended a connection's ability to send, for [`SendError::Closed`] and
/// [`Closed::initiator`](crate::Closed::initiator).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Initiator {
    /// We called [`close`](crate::Sender::close).
    Local,
    /// The peer sent a Close frame (which was answered automatically).
    Peer,
    /// The connection failed: a protocol error, a timeout, or end of file.
    Failure,
}

/// A send that cannot be done. The connection is unchanged.
///
/// (Compression never fails a send: a message that cannot be compressed is
/// sent as it is.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The opening handshake has not completed.
    NotOpen,
    /// No more frames can be sent: a Close was sent, for the reason given.
    Closed(Initiator),
    /// A streamed message is in progress: finish it before sending another message.
    MessageInProgress,
    /// [`send_fragment`](crate::Sender::send_fragment) or
    /// [`finish_message`](crate::Sender::finish_message) without
    /// [`begin_message`](crate::Sender::begin_message).
    NoMessageInProgress,
    /// A Ping or Pong payload over 125 bytes.
    ControlTooLong(usize),
    /// A text fragment that is not valid UTF-8 (checked across fragments).
    InvalidUtf8,
    /// An invalid close code or reason.
    InvalidClose(ClosePayloadError),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::NotOpen => f.write_str("the connection is not open yet"),
            SendError::Closed(Initiator::Local) => f.write_str("the connection is closing: we sent a close frame"),
            SendError::Closed(Initiator::Peer) => f.write_str("the connection is closing: the peer sent a close frame"),
            SendError::Closed(Initiator::Failure) => f.write_str("the connection has failed"),
            SendError::MessageInProgress => f.write_str("a streamed message is in progress"),
            SendError::NoMessageInProgress => f.write_str("no streamed message is in progress"),
            SendError::ControlTooLong(n) => write!(f, "control payload of {n} bytes (max 125)"),
            SendError::InvalidUtf8 => f.write_str("text is not valid UTF-8"),
            SendError::InvalidClose(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SendError::InvalidClose(e) => Some(e),
            _ => None,
        }
    }
}

/// Why [`Sender::send_binary_to`](crate::Sender::send_binary_to) or
/// [`Sender::send_text_to`](crate::Sender::send_text_to) stopped.
#[derive(Debug)]
#[non_exhaustive]
pub enum SendToError {
    /// The message cannot be sent; nothing was queued or written.
    Send(SendError),
    /// The transport failed. The message was accepted: what the transport
    /// did not take is queued in [`output_buffer`](crate::Connection::output_buffer),
    /// nothing is lost.
    Io(std::io::Error),
}

impl fmt::Display for SendToError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendToError::Send(e) => fmt::Display::fmt(e, f),
            SendToError::Io(_) => f.write_str("writing to the transport failed"),
        }
    }
}

impl std::error::Error for SendToError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // Transparent: the send error is this error.
            SendToError::Send(e) => e.source(),
            SendToError::Io(e) => Some(e),
        }
    }
}

impl From<SendError> for SendToError {
    fn from(e: SendError) -> Self {
        SendToError::Send(e)
    }
}

impl From<std::io::Error> for SendToError {
    fn from(e: std::io::Error) -> Self {
        SendToError::Io(e)
    }
}

/// A server's accept or reject that cannot be done. The connection is unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecisionError {
    /// There is no request waiting for a decision (none yet, or already decided).
    NoRequest,
    /// The chosen subprotocol is not one the client offered (RFC 6455 §4.2.2).
    ProtocolNotOffered(String),
    /// A header name or value that is not valid HTTP, or one the handshake
    /// sets itself (`Upgrade`, `Connection`, `Sec-WebSocket-*`, `Content-Length`).
    InvalidHeader(String),
    /// A rejection status outside 200–599, or 101.
    InvalidStatus(u16),
}

impl fmt::Display for DecisionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecisionError::NoRequest => f.write_str("no handshake request awaits a decision"),
            DecisionError::ProtocolNotOffered(p) => write!(f, "subprotocol {p:?} was not offered by the client"),
            DecisionError::InvalidHeader(h) => write!(f, "invalid or reserved header {h:?}"),
            DecisionError::InvalidStatus(s) => write!(f, "status {s} cannot reject a handshake"),
        }
    }
}

impl std::error::Error for DecisionError {}

/// A client request that cannot be built.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// The URI's scheme is not `ws` or `wss`.
    UnsupportedScheme,
    /// The URI is not valid, for the reason given.
    InvalidUri(&'static str),
    /// A header name or value that is not valid HTTP, or one the handshake sets itself.
    InvalidHeader(String),
    /// A subprotocol that is not an HTTP token.
    InvalidProtocol(String),
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::UnsupportedScheme => f.write_str("URI scheme must be ws or wss"),
            RequestError::InvalidUri(why) => write!(f, "invalid URI: {why}"),
            RequestError::InvalidHeader(h) => write!(f, "invalid or reserved header {h:?}"),
            RequestError::InvalidProtocol(p) => write!(f, "invalid subprotocol {p:?}"),
        }
    }
}

impl std::error::Error for RequestError {}
