//! What the blocking and tokio adapters share: owned [`Message`]s, their
//! [`AdapterError`] type, and the sans-IO steps both run (the opening handshake,
//! turning events into messages, queueing a message to send). Neither
//! adapter has protocol logic of its own: everything here is a call into
//! [`Connection`].

use core::fmt;
use std::io;
use std::time::Instant;

use crate::error::{DecisionError, RandomError, RequestError, SendError};
use crate::event::{Closed, Event};
use crate::handshake::client::Response;
use crate::handshake::server::{Accept, Reject, Request};
use crate::message::MessageKind;
use crate::{ClientRequest, CloseCode, Connection};

/// A whole message (or, in [streaming](crate::Config::streaming) mode, a
/// piece of one), owned, as the adapters deliver and send them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// A text message, checked as UTF-8.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// A Ping. Received: the Pong is already queued (with
    /// [`Config::auto_pong`](crate::Config::auto_pong), the default). Sent:
    /// at most 125 bytes.
    Ping(Vec<u8>),
    /// A Pong. Sent: an unsolicited Pong (a heartbeat the peer does not answer).
    Pong(Vec<u8>),
    /// A piece of a message. Received in streaming mode only. Sent: the first
    /// piece starts a message of `kind` (later pieces' `kind` is ignored),
    /// `fin` ends it; other messages cannot be sent in between.
    Fragment {
        /// Text or binary (the same for all pieces of a message).
        kind: MessageKind,
        /// The bytes of this piece.
        data: Vec<u8>,
        /// This is the message's last piece.
        fin: bool,
    },
    /// Received: the closing handshake completed (RFC 6455 §7.1.4), with
    /// the peer's code and reason (`None` if its Close had no code). This is
    /// the last message; the transport is already shut down. Sent: starts
    /// the closing handshake (`None` sends 1000 without a reason); keep
    /// reading until the peer's Close arrives.
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Self {
        Message::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Vec<u8>>) -> Self {
        Message::Binary(data.into())
    }
}

/// The code and reason of a Close frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// The close code.
    pub code: CloseCode,
    /// The reason, at most 123 bytes of UTF-8.
    pub reason: String,
}

/// Client: the server answered the opening handshake with a status other
/// than 101 (RFC 6455 §4.1: a redirect, 401, 403, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejection {
    /// The HTTP status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// The response's header fields, in order (values as bytes, as sent).
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Rejection {
    fn new(response: &Response<'_>) -> Self {
        Rejection {
            status: response.status(),
            reason: response.reason().to_owned(),
            headers: response.headers().iter().map(|(name, value)| (name.to_owned(), value.to_owned())).collect(),
        }
    }

    /// The first value of the header `name` (case-insensitive), if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).and_then(|(_, v)| core::str::from_utf8(v).ok())
    }
}

/// What went wrong in the tokio or blocking adapter (the mio driver reports
/// only [`io::Error`]s: its connections' ends are events).
#[derive(Debug)]
#[non_exhaustive]
pub enum AdapterError {
    /// The transport failed (or a read or write timed out, as
    /// `ErrorKind::TimedOut` / `WouldBlock`).
    Io(io::Error),
    /// The connection ended other than by a clean closing handshake: it
    /// failed on a protocol error (we sent 1002, 1007 or 1009), timed out,
    /// the peer vanished without a Close frame, or the handshake failed.
    /// [`Closed::failure`] says which.
    Closed(Box<Closed>),
    /// Client: the server answered with a status other than 101.
    Rejected(Box<Rejection>),
    /// Server: the application rejected the request; this response status was sent.
    Refused(u16),
    /// Client: the URL cannot be used (or, for `connect`, it is `wss://`:
    /// connect TLS yourself and use `client`).
    Request(RequestError),
    /// The message cannot be sent now (not open, closing, a streamed
    /// message in progress, an over-long control payload).
    Send(SendError),
    /// Server: the decision could not be applied (an invalid header or subprotocol).
    Decision(DecisionError),
    /// The connection already ended and its last message was delivered.
    AlreadyClosed,
}

impl fmt::Display for AdapterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdapterError::Io(e) => write!(f, "transport error: {e}"),
            AdapterError::Closed(c) => match &c.failure {
                Some(e) => write!(f, "connection failed (code {}): {e}", c.code.0),
                None => write!(f, "connection closed without a clean closing handshake (code {})", c.code.0),
            },
            AdapterError::Rejected(r) => write!(f, "the server rejected the handshake: {} {}", r.status, r.reason),
            AdapterError::Refused(status) => write!(f, "the handshake request was refused with status {status}"),
            AdapterError::Request(e) => write!(f, "invalid request: {e}"),
            AdapterError::Send(e) => write!(f, "cannot send: {e}"),
            AdapterError::Decision(e) => write!(f, "cannot apply the decision: {e}"),
            AdapterError::AlreadyClosed => f.write_str("the connection already ended"),
        }
    }
}

impl std::error::Error for AdapterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AdapterError::Io(e) => Some(e),
            AdapterError::Closed(c) => c.failure.as_ref().map(|e| e as _),
            AdapterError::Request(e) => Some(e),
            AdapterError::Send(e) => Some(e),
            AdapterError::Decision(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for AdapterError {
    fn from(e: io::Error) -> Self {
        AdapterError::Io(e)
    }
}

impl From<SendError> for AdapterError {
    fn from(e: SendError) -> Self {
        AdapterError::Send(e)
    }
}

impl From<RequestError> for AdapterError {
    fn from(e: RequestError) -> Self {
        AdapterError::Request(e)
    }
}

impl From<RandomError> for AdapterError {
    fn from(e: RandomError) -> Self {
        AdapterError::Io(io::Error::other(e))
    }
}

/// What `connect` and `client` take: a URL (`"ws://host:port/path"`) or a
/// [`ClientRequest`] built with subprotocols, extensions and headers.
pub trait IntoClientRequest {
    /// The request.
    fn into_client_request(self) -> Result<ClientRequest, RequestError>;
}

impl IntoClientRequest for ClientRequest {
    fn into_client_request(self) -> Result<ClientRequest, RequestError> {
        Ok(self)
    }
}

impl IntoClientRequest for &str {
    fn into_client_request(self) -> Result<ClientRequest, RequestError> {
        ClientRequest::new(self)
    }
}

impl IntoClientRequest for &String {
    fn into_client_request(self) -> Result<ClientRequest, RequestError> {
        ClientRequest::new(self)
    }
}

impl IntoClientRequest for String {
    fn into_client_request(self) -> Result<ClientRequest, RequestError> {
        ClientRequest::new(&self)
    }
}

/// A server's decision on a handshake request.
pub type Decision = Result<Accept, Reject>;

/// A server's decision, made on the request as the connection reports it.
/// Every `FnMut(&Request<'_>) -> Decision` is one; [`accept_all`] accepts
/// every valid request without a subprotocol.
pub trait Decide {
    /// Accept (with a subprotocol, extra headers) or reject (any status).
    fn decide(&mut self, request: &Request<'_>) -> Decision;
}

impl<F: FnMut(&Request<'_>) -> Decision> Decide for F {
    fn decide(&mut self, request: &Request<'_>) -> Decision {
        self(request)
    }
}

/// Accepts every valid request, without a subprotocol.
pub fn accept_all(_: &Request<'_>) -> Decision {
    Ok(Accept::new())
}

/// One step of the opening handshake, either role: `None` while more input
/// is needed, then how it ended. The caller writes the pending output in
/// both cases (a 101, a rejection, an error response).
pub(crate) fn handshake_step(
    ws: &mut Connection,
    rejection: &mut Option<Rejection>,
    decide: &mut dyn Decide,
    now: Instant,
) -> Option<Result<(), AdapterError>> {
    loop {
        let decision = match ws.poll_event()? {
            Event::Open(_) => return Some(Ok(())),
            Event::Rejected(response) => {
                *rejection = Some(Rejection::new(&response));
                continue;
            }
            Event::Closed(closed) => {
                return Some(Err(match rejection.take() {
                    Some(r) => AdapterError::Rejected(Box::new(r)),
                    None => AdapterError::Closed(Box::new(closed.clone())),
                }));
            }
            Event::Request(request) => decide.decide(&request),
            // Nothing else comes before Open.
            _ => continue,
        };
        let (applied, refused) = match decision {
            Ok(accept) => (ws.accept(now, accept), None),
            Err(reject) => {
                let status = reject.status_code();
                (ws.reject(now, reject), Some(status))
            }
        };
        if let (Ok(()), Some(status)) = (&applied, refused) {
            // The Closed event that follows is the rejection.
            while ws.poll_event().is_some() {}
            return Some(Err(AdapterError::Refused(status)));
        }
        if let Err(e) = applied {
            // An invalid decision: answer 500 so that the client is not left waiting.
            let _ = ws.reject(now, Reject::status(500));
            while ws.poll_event().is_some() {}
            return Some(Err(AdapterError::Decision(e)));
        }
    }
}

/// What the next event means to an adapter's reader.
pub(crate) enum Next {
    /// A message to deliver.
    Message(Message),
    /// The connection ended: the last item to deliver.
    End(Result<Message, AdapterError>),
}

/// The next event as an owned message; `None` when more input is needed.
pub(crate) fn next_message(ws: &mut Connection) -> Option<Next> {
    loop {
        let message = match ws.poll_event()? {
            Event::Text(text) => Message::Text(text.to_owned()),
            Event::Binary(data) => Message::Binary(data.to_vec()),
            Event::Ping(data) => Message::Ping(data.to_vec()),
            Event::Pong(data) => Message::Pong(data.to_vec()),
            Event::Fragment(f) => Message::Fragment { kind: f.kind, data: f.data.to_vec(), fin: f.fin },
            Event::Closed(closed) => return Some(Next::End(end_of(closed))),
            // Handshake events are handled before messages flow.
            Event::Request(_) | Event::Open(_) | Event::Rejected(_) => continue,
        };
        return Some(Next::Message(message));
    }
}

/// How an adapter reports a connection's end: a clean closing handshake is
/// the last message, anything else an error.
fn end_of(closed: &Closed) -> Result<Message, AdapterError> {
    if closed.clean {
        let frame = (closed.code != CloseCode::NO_STATUS)
            .then(|| CloseFrame { code: closed.code, reason: closed.reason.clone() });
        Ok(Message::Close(frame))
    } else {
        Err(AdapterError::Closed(Box::new(closed.clone())))
    }
}

/// Queues `message` on the connection (a Close at `now`).
pub(crate) fn queue(ws: &mut Connection, message: &Message, now: Instant) -> Result<(), SendError> {
    let mut tx = ws.sender();
    match message {
        Message::Text(text) => tx.send_text(text),
        Message::Binary(data) => tx.send_binary(data),
        Message::Ping(data) => tx.ping(data),
        Message::Pong(data) => tx.pong(data),
        Message::Fragment { kind, data, fin } => {
            match tx.begin_message(*kind) {
                Ok(()) | Err(SendError::MessageInProgress) => {}
                Err(e) => return Err(e),
            }
            if *fin { tx.finish_message(data) } else { tx.send_fragment(data) }
        }
        Message::Close(None) => tx.close(now, CloseCode::NORMAL, ""),
        Message::Close(Some(frame)) => tx.close(now, frame.code, &frame.reason),
    }
}

/// Starts the closing handshake at `now` unless a Close was already sent
/// (or the connection ended): `close` means the same on both adapters.
pub(crate) fn close(ws: &mut Connection, now: Instant, code: CloseCode, reason: &str) -> Result<(), SendError> {
    match ws.sender().close(now, code, reason) {
        Err(SendError::Closed(_)) => Ok(()),
        other => other,
    }
}
