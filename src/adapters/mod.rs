//! Thin adapters that move bytes between a transport and [`Connection`]s.
//!
//! An adapter holds no protocol logic: it reads, calls
//! [`Connection::receive`], lets the application poll events, writes
//! [`Connection::pending_output`], and turns [`Connection::poll_timeout`]
//! into its own wakeups. Read `adapters/mio.rs` (one file, feature `mio`) to learn how to
//! write one for any other runtime.
//!
//! [`Connection`]: crate::Connection
//! [`Connection::receive`]: crate::Connection::receive
//! [`Connection::pending_output`]: crate::Connection::pending_output
//! [`Connection::poll_timeout`]: crate::Connection::poll_timeout

#[cfg(feature = "mio")]
pub mod mio;
