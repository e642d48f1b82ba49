//! What a connection reports: [`Event`]s, polled one at a time.
//!
//! Events borrow from the connection: a message's payload is a slice of the
//! receive buffer (or of the reassembly buffer for a fragmented message), so
//! receiving costs no copy. An event must be dropped before the connection
//! is used again; [`Connection::poll_event_with_sender`] also lends the
//! sending half, so a payload can be sent back while it is borrowed.
//!
//! [`Connection::poll_event_with_sender`]: crate::Connection::poll_event_with_sender

use crate::close::CloseCode;
use crate::error::{Failure, Initiator};
use crate::handshake::Head;
use crate::handshake::client::Response;
use crate::handshake::server::Request;
use crate::message::MessageKind;

/// Something that happened on a connection.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// Server: a valid handshake request. Decide with
    /// [`Connection::accept`](crate::Connection::accept) or
    /// [`Connection::reject`](crate::Connection::reject); until then the
    /// connection reports nothing more.
    Request(Request<'a>),
    /// The connection is open (both roles).
    Open(Open<'a>),
    /// Client: the server answered with a status other than 101. The
    /// response is here (a redirect's `Location`, a 401's
    /// `WWW-Authenticate`); an [`Event::Closed`] follows.
    Rejected(Response<'a>),
    /// A whole text message, checked as UTF-8.
    Text(&'a str),
    /// A whole binary message.
    Binary(&'a [u8]),
    /// A piece of a message, in [streaming](crate::Config::streaming) mode.
    Fragment(Fragment<'a>),
    /// A Ping and its payload. With [`Config::auto_pong`](crate::Config::auto_pong)
    /// (the default) the Pong is already queued.
    Ping(&'a [u8]),
    /// A Pong and its payload.
    Pong(&'a [u8]),
    /// The connection is closed. This is the last event.
    Closed(&'a Closed),
}

/// A piece of a data message delivered in streaming mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fragment<'a> {
    /// The message's kind (the same for all its pieces).
    pub kind: MessageKind,
    /// The payload bytes. For text, the concatenation of a message's pieces
    /// is valid UTF-8 (checked as it arrived); one piece may end inside a
    /// code point.
    pub data: &'a [u8],
    /// This is the message's last piece.
    pub fin: bool,
}

/// Details of an opened connection.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Open<'a> {
    pub(crate) protocol: Option<&'a str>,
    pub(crate) head: Option<&'a Head>,
    pub(crate) client: bool,
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    pub(crate) agreement: crate::extension::Agreement,
}

impl<'a> Open<'a> {
    /// The negotiated subprotocol.
    pub fn protocol(&self) -> Option<&'a str> {
        self.protocol
    }

    /// Client: the server's `101` response (its headers, e.g. `Set-Cookie`,
    /// and the extensions it accepted in `Sec-WebSocket-Extensions`).
    pub fn response(&self) -> Option<Response<'a>> {
        self.head.filter(|_| self.client).map(Response::new)
    }

    /// Server: the request that was accepted.
    pub fn request(&self) -> Option<Request<'a>> {
        self.head.filter(|_| !self.client).map(Request::new)
    }

    /// The permessage-deflate parameters, if it was negotiated.
    #[cfg(feature = "deflate")]
    pub fn deflate(&self) -> Option<crate::deflate::DeflateParams> {
        self.agreement.deflate
    }
}

/// How a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Closed {
    /// The peer's close code after a closing handshake (1005 if its Close had
    /// none); the code we sent when the connection failed on a protocol
    /// error; 1006 when it ended without a Close frame (end of file,
    /// timeout, failed or rejected handshake).
    pub code: CloseCode,
    /// The peer's close reason (empty if none).
    pub reason: String,
    /// Whether the closing handshake completed (RFC 6455 §7.1.4: "cleanly").
    pub clean: bool,
    /// Who started the close.
    pub initiator: Initiator,
    /// What went wrong, when the connection failed.
    pub failure: Option<Failure>,
}
