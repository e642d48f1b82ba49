//! Timeouts and the heartbeat, driven by time the caller passes in.
//!
//! The connection never reads a clock. Time enters as an argument: the
//! constructors, [`accept`](crate::Connection::accept),
//! [`reject`](crate::Connection::reject) and
//! [`close`](crate::Sender::close) take `now` and arm the timer they start
//! at that instant; [`handle_timeout(now)`](crate::Connection::handle_timeout)
//! runs the timers that are due, and
//! [`poll_timeout`](crate::Connection::poll_timeout) says when to call it
//! next. So every deadline is a real one: `poll_timeout` never answers with
//! a time already past to ask for the current one.
//!
//! Timers that start on something *received* (a client's handshake
//! completing, the peer's Close) start at the latest `now` the connection
//! was given, which an adapter that calls `handle_timeout` on every wakeup
//! keeps current (the three adapters do).
//!
//! Idleness for the heartbeat is measured between calls: bytes received
//! since the previous call count as activity at the time of the call. An
//! adapter that calls `handle_timeout` on every wakeup gets exact idle times;
//! one that calls it only at deadlines sends a heartbeat Ping after between
//! one and two idle intervals.

use std::time::Instant;

use crate::Config;

/// What the connection is waiting for, as far as timers are concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The opening handshake.
    Handshake,
    /// Open: the heartbeat runs.
    Open,
    /// We sent a Close at this time and wait for the peer's.
    AwaitingClose(Instant),
    /// A client after the closing handshake, waiting for the server to close the transport.
    AwaitingEof,
    /// Over since this time, with output the peer has not taken yet: it has
    /// the close timeout to drain, then it is dropped.
    Draining(Instant),
    /// Nothing: the connection is over.
    Done,
}

/// A timer that ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expired {
    Handshake,
    /// Time to send a heartbeat Ping.
    Ping,
    Pong,
    Close,
    Eof,
    /// The output's grace to drain ran out.
    Drain,
}

/// The connection's timers. The phases come one after the other, and each
/// waits for at most one deadline (the handshake's; in the open phase the
/// Pong's, while one is awaited; the server's end of file), so one slot
/// holds it: a transition replaces it. The wait for the peer's Close counts
/// from the time the phase carries (`Sender::close` records it where the
/// sender can reach, so that a `Sender` is one pointer).
#[derive(Clone, Debug)]
pub(crate) struct Timers {
    /// The latest time the connection was given.
    now: Instant,
    /// The current phase's deadline, if it has one armed.
    deadline: Option<Instant>,
    /// When the connection was last seen active (heartbeat base).
    active_at: Option<Instant>,
    /// Bytes were received since the last call.
    activity: bool,
    /// `deadline` is a heartbeat Ping's wait for its Pong.
    awaiting_pong: bool,
    /// While open with output waiting: since when the transport has taken
    /// none of it (the write timeout).
    stall: Option<Instant>,
    /// While open with a message partly received: since when no message
    /// was completed (the message timeout).
    receiving: Option<Instant>,
}

impl Timers {
    /// Timers of a connection created at `now`, its handshake timer armed if
    /// `handshake` (a connection created open has none).
    pub(crate) fn new(now: Instant, handshake: bool, config: &Config) -> Self {
        Timers {
            now,
            deadline: config.handshake_timeout.filter(|_| handshake).map(|t| now + t),
            active_at: None,
            activity: false,
            awaiting_pong: false,
            stall: None,
            receiving: None,
        }
    }

    /// The latest time the connection was given.
    pub(crate) fn now(&self) -> Instant {
        self.now
    }

    /// Takes `now` as the latest time (time never moves back).
    fn advance(&mut self, now: Instant) -> Instant {
        self.now = self.now.max(now);
        self.now
    }

    pub(crate) fn on_activity(&mut self) {
        self.activity = true;
    }

    /// A Pong arrived: a heartbeat's wait for it is over.
    pub(crate) fn on_pong(&mut self) {
        if self.awaiting_pong {
            self.awaiting_pong = false;
            self.deadline = None;
        }
    }

    /// The connection opened at `now`: the heartbeat counts from here (the
    /// handshake's bytes are not activity after it).
    pub(crate) fn on_open(&mut self, now: Instant) {
        let now = self.advance(now);
        self.deadline = None;
        self.active_at = Some(now);
        self.activity = false;
    }

    /// A client finished the closing handshake: the server should close the
    /// transport within the close timeout, from the latest time given
    /// (`close_sent_at`, when we closed first, is one: `Sender::close` took it).
    pub(crate) fn on_awaiting_eof(&mut self, close_sent_at: Option<Instant>, config: &Config) {
        let now = close_sent_at.map_or(self.now, |t| self.advance(t));
        self.awaiting_pong = false;
        self.deadline = config.close_timeout.map(|t| now + t);
    }

    /// Records `now` and returns the timer of `phase` that expired, if any.
    /// `Expired::Ping` also arms the Pong deadline.
    pub(crate) fn tick(&mut self, now: Instant, phase: Phase, config: &Config) -> Option<Expired> {
        let now = self.advance(now);
        let due = self.deadline.is_some_and(|d| now >= d);
        match phase {
            Phase::Handshake => due.then_some(Expired::Handshake),
            Phase::Open => {
                let interval = config.ping_interval?;
                if self.activity || self.active_at.is_none() {
                    self.activity = false;
                    self.active_at = Some(now);
                }
                if self.awaiting_pong {
                    return due.then_some(Expired::Pong);
                }
                if now < self.active_at? + interval {
                    return None;
                }
                self.deadline = Some(now + config.pong_timeout);
                self.awaiting_pong = true;
                self.active_at = Some(now);
                Some(Expired::Ping)
            }
            Phase::AwaitingClose(since) => (now >= since + config.close_timeout?).then_some(Expired::Close),
            Phase::AwaitingEof => due.then_some(Expired::Eof),
            Phase::Draining(since) => (now >= since + config.close_timeout?).then_some(Expired::Drain),
            Phase::Done => None,
        }
    }

    /// The write timeout, at `now`, for an open connection: `waiting`
    /// says whether output waits, `progressed` whether the transport took
    /// any since the previous call. Returns whether it took none for the
    /// whole timeout.
    pub(crate) fn watch_writes(&mut self, now: Instant, waiting: bool, progressed: bool, config: &Config) -> bool {
        let now = self.advance(now);
        watch(&mut self.stall, now, config.write_timeout.filter(|_| waiting), progressed)
    }

    /// When [`watch_writes`](Self::watch_writes) should next be called, if
    /// output waits.
    pub(crate) fn write_deadline(&self, waiting: bool, config: &Config) -> Option<Instant> {
        Some(self.stall.unwrap_or(self.now) + config.write_timeout.filter(|_| waiting)?)
    }

    /// The message timeout, at `now`, for an open connection: `partial`
    /// says whether a message is partly received, `delivered` whether one
    /// was completed since the previous call. Returns whether the one in
    /// progress took the whole timeout.
    pub(crate) fn watch_message(&mut self, now: Instant, partial: bool, delivered: bool, config: &Config) -> bool {
        let now = self.advance(now);
        watch(&mut self.receiving, now, config.message_timeout.filter(|_| partial), delivered)
    }

    /// When [`watch_message`](Self::watch_message) should next be called,
    /// if a message is partly received.
    pub(crate) fn message_deadline(&self, partial: bool, config: &Config) -> Option<Instant> {
        Some(self.receiving.unwrap_or(self.now) + config.message_timeout.filter(|_| partial)?)
    }

    /// When [`tick`](Self::tick) should next be called in `phase`: the
    /// armed deadline, never a stand-in for "now".
    pub(crate) fn deadline(&self, phase: Phase, config: &Config) -> Option<Instant> {
        match phase {
            Phase::Open if !self.awaiting_pong => {
                let interval = config.ping_interval?;
                // Bytes received since the last call are activity at the
                // next call, which is no earlier than the latest time: the
                // idle interval counts from there (not from an older base,
                // which would be a deadline in the past; found by fuzzing).
                let base = if self.activity { self.now } else { self.active_at.unwrap_or(self.now) };
                Some(base + interval)
            }
            Phase::AwaitingClose(since) | Phase::Draining(since) => config.close_timeout.map(|t| since + t),
            Phase::Done => None,
            _ => self.deadline,
        }
    }
}

/// A wait for progress (the write and message timeouts), seen between
/// calls as activity is for the heartbeat: it starts at the first call that
/// finds something waiting (`limit` is `Some` only then) and no progress
/// since the previous call, and each call that sees progress starts it
/// again. Returns whether `limit` passed without progress. With a caller
/// that comes only at deadlines, that is between one and two limits.
fn watch(since: &mut Option<Instant>, now: Instant, limit: Option<std::time::Duration>, progressed: bool) -> bool {
    let Some(limit) = limit else {
        *since = None;
        return false;
    };
    match *since {
        Some(at) if !progressed => now >= at + limit,
        _ => {
            *since = Some(now);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn heartbeat_waits_for_idleness_then_pings_then_times_out() {
        let config = Config {
            ping_interval: Some(Duration::from_secs(10)),
            pong_timeout: Duration::from_secs(5),
            ..Config::default()
        };
        let t0 = Instant::now();
        let mut t = Timers::new(t0, false, &config);
        t.on_open(t0);
        assert_eq!(t.deadline(Phase::Open, &config), Some(t0 + Duration::from_secs(10)));
        assert_eq!(t.tick(t0, Phase::Open, &config), None);
        t.on_activity();
        assert_eq!(t.tick(t0 + Duration::from_secs(6), Phase::Open, &config), None);
        assert_eq!(t.deadline(Phase::Open, &config), Some(t0 + Duration::from_secs(16)));
        assert_eq!(t.tick(t0 + Duration::from_secs(16), Phase::Open, &config), Some(Expired::Ping));
        assert_eq!(t.deadline(Phase::Open, &config), Some(t0 + Duration::from_secs(21)));
        assert_eq!(t.tick(t0 + Duration::from_secs(21), Phase::Open, &config), Some(Expired::Pong));
    }

    /// A Pong that arrives after the heartbeat's interval has passed since
    /// its Ping: the next deadline counts from the latest time given, never
    /// from the Ping's (which is in the past). Found by the connection
    /// fuzzers' "no deadline in the past" invariant.
    #[test]
    fn after_a_late_pong_the_next_ping_is_not_in_the_past() {
        let config = Config {
            ping_interval: Some(Duration::from_millis(100)),
            pong_timeout: Duration::from_millis(766),
            ..Config::default()
        };
        let t0 = Instant::now();
        let mut t = Timers::new(t0, false, &config);
        t.on_open(t0);
        let ping_at = t0 + Duration::from_millis(804);
        assert_eq!(t.tick(ping_at, Phase::Open, &config), Some(Expired::Ping));
        let later = t0 + Duration::from_millis(1490);
        assert_eq!(t.tick(later, Phase::Open, &config), None);
        t.on_activity();
        t.on_pong();
        let next = t.deadline(Phase::Open, &config).unwrap();
        assert!(next >= later, "{:?} before the latest time", later - next);
    }

    /// Every deadline is armed when its timer starts, at the time given
    /// then: none is reported as "due now" to ask for the time.
    #[test]
    fn deadlines_are_armed_when_their_timer_starts() {
        let config = Config::default();
        let t0 = Instant::now();
        let mut t = Timers::new(t0, true, &config);
        assert_eq!(t.deadline(Phase::Handshake, &config), Some(t0 + Duration::from_secs(10)));
        assert_eq!(Timers::new(t0, false, &config).deadline(Phase::Handshake, &config), None);
        assert_eq!(t.deadline(Phase::Open, &config), Some(t0 + Duration::from_secs(30)), "the heartbeat, by default");
        let quiet = Config { ping_interval: None, ..Config::default() };
        assert_eq!(
            Timers::new(t0, true, &quiet).deadline(Phase::Open, &quiet),
            None,
            "no heartbeat: nothing to wait for"
        );
        let t1 = t0 + Duration::from_secs(3);
        let closing = Phase::AwaitingClose(t1);
        assert_eq!(t.deadline(closing, &config), Some(t1 + Duration::from_secs(10)));
        assert_eq!(t.tick(t1 + Duration::from_secs(9), closing, &config), None);
        assert_eq!(t.tick(t1 + Duration::from_secs(10), closing, &config), Some(Expired::Close));
        t.on_awaiting_eof(None, &config);
        assert_eq!(t.deadline(Phase::AwaitingEof, &config), Some(t1 + Duration::from_secs(20)), "from the latest time");
    }
}
