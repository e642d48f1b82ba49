//! The idle-memory policy every adapter shares: an idle
//! connection costs its state, not its buffers.
//!
//! - **Release**: once nothing has arrived for `shrink_after` (1 s by
//!   default, [`DEFAULT_SHRINK_AFTER`](super::DEFAULT_SHRINK_AFTER)), a
//!   connection that holds buffer memory and no output releases it
//!   ([`Connection::shrink_buffers`]). Not at once: a busy connection would
//!   free and allocate its buffers on every wakeup, which for large
//!   messages costs more than the messages.
//! - **Cold reads**: a connection with little traffic (new, or back from
//!   idle) reads into a small buffer of the adapter's ([`IDLE_READ`] bytes:
//!   the tokio task's or blocking thread's stack, the mio driver's scratch buffer) and
//!   `receive` copies what came, so it holds a receive buffer of the size of
//!   what is pending (a handshake head, a chat message), not the read room,
//!   and a read that finds nothing allocates nothing. Once a read fills the
//!   small buffer, reads go straight into the connection's receive buffer
//!   (no copy), whose room grows with the traffic, until the connection is
//!   idle again.
//! - **Release before reading**: an adapter checks the release before it
//!   reads, so the wakeup at the release deadline reads through the small
//!   buffer instead of taking the room it is about to free (which, over
//!   many connections, fragments the heap).

use std::time::{Duration, Instant};

use crate::Connection;

/// The small buffer cold connections read through.
pub(crate) const IDLE_READ: usize = 4 << 10;

/// Where a connection is in the policy.
#[derive(Debug)]
pub(crate) struct Idle {
    /// When bytes last arrived.
    last_read: Instant,
    /// The buffers were released since then.
    shrunk: bool,
    /// Reads go through the small buffer: since the connection started or
    /// released its buffers, no read filled it.
    cold: bool,
}

impl Idle {
    /// A connection that starts at `now`.
    pub(crate) fn new(now: Instant) -> Self {
        Idle { last_read: now, shrunk: false, cold: true }
    }

    /// Whether the next read goes through the small buffer.
    pub(crate) fn cold(&self) -> bool {
        self.cold
    }

    /// A read of `n` bytes (not the end of file) at `now`; `through_small`:
    /// it went through the small buffer.
    pub(crate) fn on_read(&mut self, n: usize, through_small: bool, now: Instant) {
        if through_small {
            self.cold = n < IDLE_READ;
        }
        if n > 0 {
            self.last_read = now;
            self.shrunk = false;
        }
    }

    /// When `ws`'s buffers are to be released, if they hold memory and no
    /// output (`None`: never, or nothing to release).
    pub(crate) fn release_at(&self, ws: &Connection, shrink_after: Option<Duration>) -> Option<Instant> {
        let idle = shrink_after?;
        let holding = !self.shrunk && ws.buffer_capacity() != 0 && ws.output_buffer().is_empty();
        holding.then(|| self.last_read + idle)
    }

    /// Releases `ws`'s buffers if their time has come by `now`.
    pub(crate) fn release_if_due(&mut self, ws: &mut Connection, shrink_after: Option<Duration>, now: Instant) {
        if self.release_at(ws, shrink_after).is_some_and(|at| at <= now) {
            ws.shrink_buffers();
            self.shrunk = true;
            self.cold = true;
        }
    }

    /// When bytes last arrived (tests).
    #[cfg(test)]
    pub(crate) fn last_read(&self) -> Instant {
        self.last_read
    }
}
