//! # wsmachine
//!
//! A sans-IO implementation of the WebSocket protocol ([RFC 6455]): a
//! [`Connection`] state machine, client or server, that consumes bytes,
//! produces [`Event`]s and output bytes, and is told the time. It does no
//! I/O, reads no clock and spawns nothing, so it runs under mio, tokio,
//! blocking std, an HTTP/2 stream or a test harness alike.
//!
//! ```
//! use wsmachine::{Accept, ClientRequest, CloseCode, Config, Connection, Event};
//!
//! let request = ClientRequest::new("ws://example.com/chat")?.protocol("chat")?;
//! let mut client = Connection::client(request, Config::default())?;
//! let mut server = Connection::server(Config::default());
//!
//! // The "network": move what one side wrote to the other.
//! fn transfer(from: &mut Connection, to: &mut Connection) {
//!     let n = from.pending_output().len();
//!     to.receive(from.pending_output());
//!     from.advance_output(n);
//! }
//!
//! transfer(&mut client, &mut server);
//! match server.poll_event() {
//!     Some(Event::Request(req)) => assert_eq!((req.path(), req.protocols().next()), ("/chat", Some("chat"))),
//!     other => panic!("unexpected {other:?}"),
//! }
//! server.accept(Accept::new().protocol("chat"))?;
//! assert!(matches!(server.poll_event(), Some(Event::Open(_))));
//!
//! transfer(&mut server, &mut client);
//! match client.poll_event() {
//!     Some(Event::Open(open)) => assert_eq!(open.protocol(), Some("chat")),
//!     other => panic!("unexpected {other:?}"),
//! }
//!
//! client.send_text("hello")?;
//! transfer(&mut client, &mut server);
//! // An echo: the event borrows the receive buffer, the sender writes the reply.
//! if let Some((Event::Text(text), mut tx)) = server.poll_event_with_sender() {
//!     tx.send_text(text)?;
//! }
//! transfer(&mut server, &mut client);
//! assert!(matches!(client.poll_event(), Some(Event::Text("hello"))));
//!
//! // The closing handshake: the server answers the client's Close by itself.
//! client.close(CloseCode::NORMAL, "bye")?;
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
//! In: [`Connection::receive`] copies a slice the caller read; or the
//! transport reads straight into the receive buffer, with
//! [`Connection::receive_buffer`] and [`Connection::received`] (any runtime)
//! or [`Connection::read_from`] (an [`std::io::Read`]). Out:
//! [`Connection::pending_output`] and [`Connection::advance_output`]; or
//! [`Connection::write_to`] an [`std::io::Write`]; [`Sender::send_to`] sends
//! a server's message straight to the transport, with no copy of the payload
//! into the output buffer.
//!
//! ## Where things are
//!
//! Each RFC concept has its own module:
//!
//! | module | RFC 6455 | what |
//! |---|---|---|
//! | [`connection`] | §4, §5, §7 | the state machine and the caller's loop |
//! | [`handshake`] | §4 | client request and response check, server request check and decision |
//! | [`frame`] | §5.2 | frame header encode/decode |
//! | [`mask`] | §5.3 | word-at-a-time masking (widest SIMD chosen at run time with feature `simd-mask`, default) |
//! | `receive` | §5.4–§5.6 | frames into messages, in place |
//! | `send` | §5 | frames out, fragmentation, [`Sender`] |
//! | [`utf8`] | §8.1 | streaming UTF-8 validation (SIMD with feature `simd-utf8`, default) |
//! | [`close`] | §5.5.1, §7.4 | close codes and payloads |
//! | `timers` | | handshake, heartbeat, pong and close timeouts |
//! | [`config`] | | limits and their defaults |
//! | [`random`] | §5.3 | masking keys from a CSPRNG |
//! | `deflate` | RFC 7692 | permessage-deflate negotiation and compression (feature `deflate`, default) |
//! | [`adapters`] | | thin runtime adapters: `tokio`, `blocking`, `mio` (features of the same names) |
//!
//! [RFC 6455]: https://www.rfc-editor.org/rfc/rfc6455

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod adapters;
pub mod close;
pub mod config;
pub mod connection;
#[cfg(feature = "deflate")]
pub mod deflate;
pub mod error;
pub mod event;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod message;
mod output;
pub mod random;
mod receive;
mod send;
mod timers;
pub mod utf8;

pub use close::CloseCode;
pub use config::Config;
pub use connection::{Connection, Role, State};
pub use error::{DecisionError, Error, HandshakeError, Initiator, ProtocolError, RequestError, SendError, SendToError};
pub use event::{Closed, Event, Fragment, Open};
pub use handshake::client::{ClientRequest, Response};
pub use handshake::server::{Accept, Reject, Request};
pub use message::{MessageKind, PreparedMessage};
pub use random::RandomSource;
pub use send::Sender;

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
