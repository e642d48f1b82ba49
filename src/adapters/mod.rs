//! Thin adapters that move bytes between a transport and [`Connection`]s.
//!
//! An adapter holds no protocol logic: it reads, calls
//! [`Connection::receive`], lets the application poll events, writes
//! [`Connection::output_buffer`], and turns [`Connection::poll_timeout`]
//! into its own wakeups.
//!
//! | module | feature | for |
//! |---|---|---|
//! | [`tokio`] | `tokio` | a `Stream` + `Sink` of [`Message`]s over any `AsyncRead + AsyncWrite`, split into halves |
//! | [`blocking`] | `blocking` | `read` / `send` / `close` over any `Read + Write`, with timeouts |
//! | [`mio`] | `mio` | one thread driving many connections; you poll the borrowed events |
//!
//! The tokio and blocking adapters deliver owned [`Message`]s, share one
//! [`AdapterError`] type and have the same constructors
//! (`WebSocket::connect`, `client`, `accept`, `accept_with`,
//! `accept_connection`, `from_connection`) and the same `close(code, reason)`. Read `adapters/mio.rs` (one file) to learn how to write an
//! adapter for any other runtime.
//!
//! [`Connection`]: crate::Connection
//! [`Connection::receive`]: crate::Connection::receive
//! [`Connection::output_buffer`]: crate::Connection::output_buffer
//! [`Connection::poll_timeout`]: crate::Connection::poll_timeout

/// The default for `set_shrink_after` on every adapter: a
/// connection on which nothing arrived for this long releases its empty
/// buffers ([`Connection::shrink_buffers`](crate::Connection::shrink_buffers)),
/// so that idle connections cost only their state. Not at once: a busy
/// connection would free and allocate its buffers on every wakeup, which
/// for large messages costs more than the messages.
pub const DEFAULT_SHRINK_AFTER: core::time::Duration = core::time::Duration::from_secs(1);

/// The default for `set_max_buffered` on every adapter: above this many
/// unwritten bytes, sending waits (tokio) or writes (blocking) first, and
/// the mio driver stops reading a server connection.
pub const DEFAULT_MAX_BUFFERED: usize = 128 << 10;

#[cfg(feature = "blocking")]
pub mod blocking;
#[cfg(any(feature = "tokio", feature = "mio", feature = "blocking"))]
mod idle;
#[cfg(any(feature = "tokio", feature = "blocking"))]
mod message;
#[cfg(feature = "mio")]
pub mod mio;
#[cfg(feature = "tokio")]
pub mod tokio;

#[cfg(any(feature = "tokio", feature = "blocking"))]
pub use message::{AdapterError, CloseFrame, Decide, Decision, IntoClientRequest, Message, Rejection, accept_all};
