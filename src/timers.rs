//! Timeouts and the heartbeat, driven by time the caller passes in.
//!
//! The connection never reads a clock. Time enters through
//! [`Connection::handle_timeout(now)`](crate::Connection::handle_timeout), and
//! [`Connection::poll_timeout`](crate::Connection::poll_timeout) says when to
//! call it next. A timer is armed relative to the latest `now` the connection
//! was given; when one needs arming, `poll_timeout` returns that latest
//! `now` (already due), so the caller hands in the current time at once.
//! A connection that is never given time never times out.
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
    /// We sent a Close and wait for the peer's.
    AwaitingClose,
    /// A client after the closing handshake, waiting for the server to close the transport.
    AwaitingEof,
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
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Timers {
    now: Option<Instant>,
    handshake: Option<Instant>,
    /// When the connection was last seen active (heartbeat base).
    active_at: Option<Instant>,
    /// Bytes were received since the last call.
    activity: bool,
    pong: Option<Instant>,
    close: Option<Instant>,
    eof: Option<Instant>,
}

impl Timers {
    pub(crate) fn on_activity(&mut self) {
        self.activity = true;
    }

    pub(crate) fn on_pong(&mut self) {
        self.pong = None;
    }

    /// Arms the timers `phase` needs at `now` and returns the first one that
    /// expired, if any. `Expired::Ping` also arms the Pong deadline.
    pub(crate) fn tick(&mut self, now: Instant, phase: Phase, config: &Config) -> Option<Expired> {
        let now = self.now.map_or(now, |prev| prev.max(now));
        self.now = Some(now);
        match phase {
            Phase::Handshake => {
                let deadline = *self.handshake.get_or_insert(now + config.handshake_timeout?);
                (now >= deadline).then_some(Expired::Handshake)
            }
            Phase::Open => {
                let interval = config.ping_interval?;
                if self.activity || self.active_at.is_none() {
                    self.activity = false;
                    self.active_at = Some(now);
                }
                if let Some(deadline) = self.pong {
                    return (now >= deadline).then_some(Expired::Pong);
                }
                let due = self.active_at? + interval;
                if now < due {
                    return None;
                }
                self.pong = Some(now + config.pong_timeout);
                self.active_at = Some(now);
                Some(Expired::Ping)
            }
            Phase::AwaitingClose => {
                let deadline = *self.close.get_or_insert(now + config.close_timeout?);
                (now >= deadline).then_some(Expired::Close)
            }
            Phase::AwaitingEof => {
                let deadline = *self.eof.get_or_insert(now + config.close_timeout?);
                (now >= deadline).then_some(Expired::Eof)
            }
            Phase::Done => None,
        }
    }

    /// When [`tick`](Self::tick) should next be called in `phase`.
    pub(crate) fn deadline(&self, phase: Phase, config: &Config) -> Option<Instant> {
        let now = self.now?;
        // A timer the phase needs but that is not armed yet is due now.
        match phase {
            Phase::Handshake => config.handshake_timeout.map(|_| self.handshake.unwrap_or(now)),
            Phase::Open => {
                let interval = config.ping_interval?;
                match (self.pong, self.active_at) {
                    (Some(pong), _) => Some(pong),
                    (None, Some(active)) => Some(active + interval),
                    (None, None) => Some(now),
                }
            }
            Phase::AwaitingClose => config.close_timeout.map(|_| self.close.unwrap_or(now)),
            Phase::AwaitingEof => config.close_timeout.map(|_| self.eof.unwrap_or(now)),
            Phase::Done => None,
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
        let mut t = Timers::default();
        assert_eq!(t.deadline(Phase::Open, &config), None, "no time given yet");
        assert_eq!(t.tick(t0, Phase::Open, &config), None);
        assert_eq!(t.deadline(Phase::Open, &config), Some(t0 + Duration::from_secs(10)));
        t.on_activity();
        assert_eq!(t.tick(t0 + Duration::from_secs(6), Phase::Open, &config), None);
        assert_eq!(t.deadline(Phase::Open, &config), Some(t0 + Duration::from_secs(16)));
        assert_eq!(t.tick(t0 + Duration::from_secs(16), Phase::Open, &config), Some(Expired::Ping));
        assert_eq!(t.deadline(Phase::Open, &config), Some(t0 + Duration::from_secs(21)));
        assert_eq!(t.tick(t0 + Duration::from_secs(21), Phase::Open, &config), Some(Expired::Pong));
    }

    #[test]
    fn unarmed_timer_is_due_now() {
        let config = Config::default();
        let t0 = Instant::now();
        let mut t = Timers::default();
        t.tick(t0, Phase::Open, &config);
        assert_eq!(t.deadline(Phase::AwaitingClose, &config), Some(t0));
        assert_eq!(t.tick(t0, Phase::AwaitingClose, &config), None);
        assert_eq!(t.deadline(Phase::AwaitingClose, &config), Some(t0 + Duration::from_secs(10)));
    }
}
