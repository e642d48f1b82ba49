//! # wsmachine
//!
//! A sans-IO implementation of the WebSocket protocol ([RFC 6455]): a
//! [`Connection`] state machine, client or server, that consumes bytes,
//! produces [`Event`]s and output bytes, and is told the time. It does no
//! I/O, reads no clock and spawns nothing, so it runs under mio, tokio,
//! blocking std, an HTTP/2 stream or a test harness alike.
//!
//! ```
//! use std::time::Instant;
//! use wsmachine::{Accept, ClientRequest, CloseCode, Config, Connection, Event};
//!
//! let now = Instant::now();
//! let request = ClientRequest::new("ws://example.com/chat")?.protocol("chat")?;
//! let mut client = Connection::client(now, request, Config::default())?;
//! let mut server = Connection::server(now, Config::default());
//!
//! // The "network": move what one side wrote to the other.
//! fn transfer(from: &mut Connection, to: &mut Connection) {
//!     let n = from.output_buffer().len();
//!     to.receive(from.output_buffer());
//!     from.advance_output(n);
//! }
//!
//! transfer(&mut client, &mut server);
//! match server.poll_event() {
//!     Some(Event::Request(req)) => assert_eq!((req.path(), req.protocols().next()), ("/chat", Some("chat"))),
//!     other => panic!("unexpected {other:?}"),
//! }
//! server.accept(now, Accept::new().protocol("chat"))?;
//! assert!(matches!(server.poll_event(), Some(Event::Open(_))));
//!
//! transfer(&mut server, &mut client);
//! match client.poll_event() {
//!     Some(Event::Open(open)) => assert_eq!(open.protocol(), Some("chat")),
//!     other => panic!("unexpected {other:?}"),
//! }
//!
//! client.sender().send_text("hello")?;
//! transfer(&mut client, &mut server);
//! // An echo: the event borrows the receive buffer, the sender writes the reply.
//! if let Some((Event::Text(text), mut tx)) = server.poll_event_with_sender() {
//!     tx.send_text(text)?;
//! }
//! transfer(&mut server, &mut client);
//! assert!(matches!(client.poll_event(), Some(Event::Text("hello"))));
//!
//! // The closing handshake: the server answers the client's Close by itself.
//! client.sender().close(now, CloseCode::NORMAL, "bye")?;
//! transfer(&mut client, &mut server);
//! assert!(matches!(server.poll_event(), Some(Event::Closed(c)) if c.clean && c.reason == "bye"));
//! transfer(&mut server, &mut client);
//! assert!(matches!(client.poll_event(), Some(Event::Closed(c)) if c.clean));
//! assert!(server.should_close_transport());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Moving bytes
//!
//! Each direction has a copying call, a zero-copy pair, and a convenience
//! for `std::io`; pick the row that fits the transport:
//!
//! | | bytes in (from the transport) | bytes out (to the transport) |
//! |---|---|---|
//! | the transport has its own buffer | [`receive(&bytes)`](Connection::receive) copies them in | [`output_buffer()`](Connection::output_buffer), then [`advance_output(n)`](Connection::advance_output) |
//! | zero-copy, any runtime | read into [`input_buffer()`](Connection::input_buffer), then [`advance_input(n)`](Connection::advance_input) | the same pair as above (the output buffer *is* what to write) |
//! | an [`std::io::Read`] / [`std::io::Write`] | [`read_from(&mut reader)`](Connection::read_from) | [`write_to(&mut writer)`](Connection::write_to) |
//! | a large message, no copy into the output buffer | | [`Sender::send_binary_to`] / [`Sender::send_text_to`] write it straight to an `io::Write` |
//!
//! End of file is [`receive_eof`](Connection::receive_eof). Messages,
//! Pings and the Close are sent through one view, [`Connection::sender`]
//! (also lent beside an event by
//! [`poll_event_with_sender`](Connection::poll_event_with_sender)).
//!
//! ## Time
//!
//! Time is an argument. The calls that start a timer take `now` and arm it
//! at that instant: the constructors (the handshake timeout),
//! [`accept`](Connection::accept) (the heartbeat) and
//! [`Sender::close`] (the wait for the peer's Close) and
//! [`reject`](Connection::reject) (the response's grace to be written).
//! Timers that start on something received (a client's handshake
//! completing, the peer's Close, a protocol error) start at the latest
//! `now` the connection was given.
//!
//! No wait is without a deadline. Once a connection is over, output the
//! peer has not taken (our Close, a rejection) has
//! [`Config::close_timeout`] to be written; then it is dropped and
//! [`should_close_transport`](Connection::should_close_transport) says to
//! close the transport, so a peer that stops reading cannot make a
//! connection hold its socket and buffers.
//! [`handle_timeout(now)`](Connection::handle_timeout) runs what is due and
//! [`poll_timeout()`](Connection::poll_timeout) says when to call it next:
//! always a real deadline, never a time already past as a way to ask for
//! the current one.
//!
//! ## Errors
//!
//! What the peer did wrong is not an `Err`: the connection fails itself
//! (RFC 6455 §7.1.7) and reports a [`Failure`] in [`Event::Closed`]. What
//! the caller asked for that cannot be done is an `Err` of [`SendError`],
//! [`DecisionError`] or [`RequestError`], and changes nothing.
//!
//! ## Limits
//!
//! Every limit is a field of [`Config`] with a documented default. A
//! server open to anyone should start from [`Config::public_server`],
//! whose docs give what a hostile peer can make one connection hold under
//! it and under the defaults.
//!
//! ## What is public
//!
//! Everything a user needs is at the crate root; two modules hold the rest:
//! [`handshake`] (the handshake's views and the pieces to check a request
//! that something else parsed) and [`deflate`] (permessage-deflate's
//! policy, parameters and negotiation, for a handshake done elsewhere).
//! [`adapters`] has the runtime adapters (features `tokio`, `blocking`,
//! `mio`). The frame codec, masking and UTF-8 validation are private; a
//! hidden `__internals` module re-exports them for this project's
//! benchmarks and fuzzers and is not part of the API.
//!
//! ## Where things are
//!
//! Each RFC concept has its own source file:
//!
//! | file | RFC 6455 | what |
//! |---|---|---|
//! | `connection.rs` | §4, §5, §7 | the state machine and the caller's loop |
//! | `handshake/` | §4 | client request and response check, server request check and decision; `opening.rs` drives them for a connection |
//! | `extension.rs` | §9 | the interface extensions implement: negotiation, and a transform for each direction |
//! | `frame.rs` | §5.2 | frame header encode/decode |
//! | `mask.rs` | §5.3 | word-at-a-time masking (widest SIMD chosen at run time with feature `simd-mask`, default) |
//! | `input.rs` | §5.3 | the input buffer: room to read into, and a server's unmasking while copying in |
//! | `receive.rs` | §5.4–§5.6 | frames into messages, in place |
//! | `send.rs` | §5 | frames out, fragmentation, [`Sender`] |
//! | `output.rs` | | the output buffer `send.rs` writes frames into |
//! | `utf8.rs` | §8.1 | streaming UTF-8 validation (SIMD with feature `simd-utf8`, default) |
//! | `close.rs` | §5.5.1, §7.4 | close codes and payloads |
//! | `timers.rs` | | handshake, heartbeat, pong and close timeouts |
//! | `config.rs` | | limits and their defaults |
//! | `random.rs` | §5.3 | masking keys from a CSPRNG |
//! | `error.rs`, `event.rs` | §7.1.7 | what the peer did, what the caller did; what the connection reports |
//! | `deflate.rs` | RFC 7692 | permessage-deflate negotiation and compression, an extension (feature `deflate`, default) |
//! | `adapters/` | | thin runtime adapters: `tokio`, `blocking`, `mio` (features of the same names) |
//!
//! [RFC 6455]: https://www.rfc-editor.org/rfc/rfc6455

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod adapters;
mod close;
mod config;
mod connection;
#[cfg(feature = "deflate")]
pub mod deflate;
mod error;
mod event;
mod extension;
mod frame;
pub mod handshake;
mod input;
mod mask;
mod message;
mod output;
mod random;
mod receive;
mod send;
mod timers;
mod utf8;

pub use close::{CloseCode, ClosePayloadError, MAX_REASON_LEN};
pub use config::Config;
pub use connection::{Connection, Established, Role, State};
pub use error::{
    DecisionError, Failure, HandshakeError, Initiator, ProtocolError, RandomError, RequestError, SendError, SendToError,
};
pub use event::{Closed, Event, Fragment, Open};
pub use frame::OpCode;
pub use handshake::client::{ClientRequest, Response};
pub use handshake::server::{Accept, Reject, Request};
pub use message::{MessageKind, PreparedMessage};
pub use random::{RandomSource, SeededRandom};
pub use send::Sender;

/// The building blocks under the connection (frame codec, masking, UTF-8
/// validation), public for this project's benchmarks, fuzzers and tests.
/// Not part of the API: anything here may change in any release.
#[doc(hidden)]
pub mod __internals {
    pub use crate::close::{parse_close_payload, validate_outgoing};
    pub use crate::frame::{FrameError, FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
    pub use crate::mask::{apply_mask, apply_mask_bytewise};
    pub use crate::utf8::{Utf8Error, Utf8Validator, from_utf8};
}

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
