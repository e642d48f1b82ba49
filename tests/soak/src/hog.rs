//! The descriptor hog: opens connections to a server, sending nothing,
//! until the server is out of descriptors (its `ulimit -n` is lowered for
//! the soak) and its listen backlog is full, holds them, then lets them go.
//! Meanwhile the server must keep serving the connections it has, and take
//! new ones again afterwards.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, sleep_until, timeout};

/// How long the hog holds its connections: longer than the servers'
/// handshake timeout (10 s), so those the server accepted are answered
/// 408 and closed by it while the rest wait in the backlog.
pub const HOLD: Duration = Duration::from_secs(15);

#[derive(Default)]
pub struct Stats {
    pub rounds: AtomicU64,
    /// The most connections held at once.
    pub peak: AtomicUsize,
    /// Rounds that stopped because connections were no longer completed
    /// (the server took no more and its backlog was full), not at the cap.
    pub filled: AtomicU64,
    /// When the server may have been unable to accept: from the start of
    /// each round to the handshake timeout after its release (connections
    /// left in the backlog are accepted then).
    pub busy: Mutex<Vec<(Instant, Instant)>>,
}

impl Stats {
    /// The server may have been out of descriptors at some time between
    /// `from` and `to`.
    pub fn busy_between(&self, from: Instant, to: Instant) -> bool {
        self.busy.lock().unwrap().iter().any(|&(a, b)| a <= to && from <= b)
    }
}

/// Rounds every `period` from `first`, each opening up to `cap`
/// connections, while a round can end before `until`.
pub async fn run(addr: SocketAddr, cap: usize, first: Instant, period: Duration, until: Instant, stats: &Stats) {
    let mut round = first;
    while round + HOLD + Duration::from_secs(10) < until {
        sleep_until(round).await;
        let far = round + Duration::from_secs(3600);
        self_busy(stats, round, far);
        let mut held = Vec::new();
        let mut misses = 0;
        while held.len() < cap && misses < 3 {
            match timeout(Duration::from_secs(1), TcpStream::connect(addr)).await {
                Ok(Ok(tcp)) => held.push(tcp),
                // Out of descriptors here, or the SYN went unanswered.
                _ => misses += 1,
            }
        }
        stats.peak.fetch_max(held.len(), Ordering::Relaxed);
        if held.len() < cap {
            stats.filled.fetch_add(1, Ordering::Relaxed);
        }
        sleep(HOLD).await;
        drop(held);
        self_busy(stats, round, Instant::now() + Duration::from_secs(12));
        stats.rounds.fetch_add(1, Ordering::Relaxed);
        round += period;
    }
}

/// Records (or updates) the busy window of the round that began at `from`.
fn self_busy(stats: &Stats, from: Instant, to: Instant) {
    let mut busy = stats.busy.lock().unwrap();
    match busy.last_mut() {
        Some(last) if last.0 == from => last.1 = to,
        _ => busy.push((from, to)),
    }
}
