//! Well-behaved clients: wsmachine's own tokio client, sending messages of
//! many sizes (text and binary, some connections compressed), a few in
//! flight at a time, and checking that every echo comes back intact and in
//! order. Each connection ends with a clean close after a while and a new
//! one is opened, so the servers keep accepting throughout.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};

use crate::failures::Failures;
use tokio::time::{Instant, sleep, timeout};
use wsmachine::adapters::Message;
use wsmachine::adapters::tokio::WebSocket;
use wsmachine::{CloseCode, Config};

/// The largest message a well-behaved client sends, a little below the
/// 1 MiB that `Config::public_server` takes: a text message may overshoot
/// its planned size by one character.
pub const MAX_MESSAGE: usize = (1 << 20) - (4 << 10);
/// How long an echo may take before the soak calls it lost. Far above
/// any queueing on a loaded two-core machine, far below the servers' own
/// 30 s deadlines.
const ECHO_TIMEOUT: Duration = Duration::from_secs(20);

/// What the well-behaved clients of one server saw.
#[derive(Default)]
pub struct Stats {
    /// Echoes received and checked byte for byte.
    pub echoes: AtomicU64,
    pub bytes: AtomicU64,
    /// Connections opened, and closed with a clean closing handshake.
    pub opened: AtomicU64,
    pub closed_cleanly: AtomicU64,
    /// Attempts to connect that failed (while the fd hog had the server
    /// out of descriptors); retried, not failures.
    pub refused: AtomicU64,
    /// Connections open now, and at most.
    pub open: AtomicUsize,
    pub peak_open: AtomicUsize,
    /// Bytes sent and not yet echoed, now and at most.
    pub in_flight: AtomicUsize,
    pub peak_in_flight: AtomicUsize,
    /// Everything that went wrong on an open connection.
    pub failures: Failures,
}

/// How one well-behaved client behaves.
#[derive(Clone)]
pub struct Plan {
    /// Stop opening connections and sending at this time.
    pub until: Instant,
    /// The mean pause between windows of messages.
    pub think: Duration,
    /// Offer permessage-deflate.
    pub deflate: bool,
    /// How many clients run this plan against the server.
    pub slots: u64,
    /// Connection failures count as failures (the last phase, after the
    /// hostile peers stopped: the server must take every connection).
    pub strict: bool,
    pub seed: u64,
}

/// A small, seeded generator (xorshift64*): the same seed gives the same run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// In `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A message's size: mostly small, some large, a few near the limit.
fn size(rng: &mut Rng) -> usize {
    match rng.below(100) {
        0..60 => rng.below(126) as usize,
        60..90 => 126 + rng.below(16 << 10) as usize,
        90..99 => (16 << 10) + rng.below(48 << 10) as usize,
        _ => (64 << 10) + rng.below((MAX_MESSAGE - (64 << 10)) as u64) as usize,
    }
}

/// A message numbered `seq` on connection `conn`: the numbers first, then
/// bytes from the generator, so a swapped, cut or corrupted echo differs.
/// Text is valid UTF-8 mixing one- to four-byte characters.
fn message(rng: &mut Rng, conn: u64, seq: u64) -> Message {
    let len = size(rng);
    let text = rng.below(2) == 0;
    let mut bytes = format!("{conn}:{seq}:").into_bytes();
    let numbers = bytes.len();
    if text {
        const CHARS: [&str; 6] = ["a", "z", "é", "κ", "€", "😀"];
        while bytes.len() < len {
            bytes.extend_from_slice(CHARS[rng.below(6) as usize].as_bytes());
        }
        Message::Text(String::from_utf8(bytes).expect("built from chars"))
    } else {
        while bytes.len() < len {
            bytes.extend_from_slice(&rng.next().to_le_bytes());
        }
        bytes.truncate(len.max(numbers));
        Message::Binary(bytes)
    }
}

fn len(message: &Message) -> usize {
    match message {
        Message::Text(t) => t.len(),
        Message::Binary(b) => b.len(),
        _ => 0,
    }
}

/// One client slot: connects, exchanges, closes cleanly, reconnects, until
/// `plan.until`.
pub async fn run(slot: u64, addr: SocketAddr, plan: Plan, stats: Arc<Stats>) {
    let mut rng = Rng::new(plan.seed ^ slot);
    let mut conn = slot << 20;
    // Spread the first connections over the first seconds (a second per
    // 1,000 slots, at least two).
    sleep(Duration::from_millis(rng.below(plan.slots.max(2000)))).await;
    while Instant::now() < plan.until {
        conn += 1;
        let mut config = Config::default();
        if plan.deflate {
            config.deflate = Some(wsmachine::deflate::DeflateConfig::default());
        }
        let url = format!("ws://{addr}/honest/{conn}");
        let mut ws = match timeout(Duration::from_secs(15), WebSocket::connect(url.as_str(), config)).await {
            Ok(Ok(ws)) => ws,
            outcome => {
                let why = match outcome {
                    Ok(Err(e)) => e.to_string(),
                    _ => "no 101 within 15 s".into(),
                };
                if plan.strict {
                    stats.failures.push(format!("connection {conn}: could not open: {why}"));
                    return;
                }
                stats.refused.fetch_add(1, Ordering::Relaxed);
                sleep(Duration::from_millis(500 + rng.below(1000))).await;
                continue;
            }
        };
        stats.opened.fetch_add(1, Ordering::Relaxed);
        let open = stats.open.fetch_add(1, Ordering::Relaxed) + 1;
        stats.peak_open.fetch_max(open, Ordering::Relaxed);
        let result = session(&mut ws, &mut rng, conn, &plan, &stats).await;
        stats.open.fetch_sub(1, Ordering::Relaxed);
        if let Err(e) = result {
            let deflate = if plan.deflate { ", compressed" } else { "" };
            stats.failures.push(format!("connection {conn}{deflate}: {e}"));
            return;
        }
        stats.closed_cleanly.fetch_add(1, Ordering::Relaxed);
    }
}

/// Exchanges windows of messages, then closes with 1000 and waits for the
/// server's Close.
async fn session(
    ws: &mut WebSocket<tokio::net::TcpStream>,
    rng: &mut Rng,
    conn: u64,
    plan: &Plan,
    stats: &Stats,
) -> Result<(), String> {
    let messages = 10 + rng.below(100);
    let mut seq = 0;
    let mut window = VecDeque::new();
    while seq < messages && Instant::now() < plan.until {
        for _ in 0..1 + rng.below(3) {
            let m = message(rng, conn, seq);
            seq += 1;
            let n = len(&m);
            let now = stats.in_flight.fetch_add(n, Ordering::Relaxed) + n;
            stats.peak_in_flight.fetch_max(now, Ordering::Relaxed);
            ws.feed(m.clone()).await.map_err(|e| format!("send: {e}"))?;
            window.push_back(m);
        }
        let sizes = || {
            window
                .iter()
                .map(|m| format!("{} {}", if matches!(m, Message::Text(_)) { "text" } else { "binary" }, len(m)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        ws.flush().await.map_err(|e| format!("flush of [{}]: {e}", sizes()))?;
        while let Some(sent) = window.pop_front() {
            let echo = next_data(ws).await.map_err(|e| format!("echo of {} {}: {e}", len(&sent), seq))?;
            let n = len(&sent);
            stats.in_flight.fetch_sub(n, Ordering::Relaxed);
            if echo != sent {
                return Err(format!(
                    "echo {} differs: sent {} bytes, got {} ({:?}…)",
                    seq,
                    n,
                    len(&echo),
                    prefix(&echo)
                ));
            }
            stats.echoes.fetch_add(1, Ordering::Relaxed);
            stats.bytes.fetch_add(n as u64, Ordering::Relaxed);
        }
        let mean = plan.think.as_millis() as u64;
        sleep(Duration::from_millis(rng.below(2 * mean + 1))).await;
    }
    ws.close(CloseCode(1000), "").await.map_err(|e| format!("close: {e}"))?;
    match timeout(ECHO_TIMEOUT, ws.next()).await {
        Ok(Some(Ok(Message::Close(Some(frame))))) if frame.code == CloseCode(1000) => Ok(()),
        other => Err(format!("after our Close: {other:?}")),
    }
}

/// The next text or binary message (Pings are answered by the library).
async fn next_data(ws: &mut WebSocket<tokio::net::TcpStream>) -> Result<Message, String> {
    loop {
        match timeout(ECHO_TIMEOUT, ws.next()).await {
            Err(_) => return Err(format!("no echo within {ECHO_TIMEOUT:?}")),
            Ok(None) => return Err("the server ended the stream".into()),
            Ok(Some(Err(e))) => return Err(format!("receive: {e}")),
            Ok(Some(Ok(m @ (Message::Text(_) | Message::Binary(_))))) => return Ok(m),
            Ok(Some(Ok(Message::Close(frame)))) => return Err(format!("the server closed: {frame:?}")),
            Ok(Some(Ok(_))) => {}
        }
    }
}

fn prefix(m: &Message) -> String {
    match m {
        Message::Text(t) => t.chars().take(16).collect(),
        Message::Binary(b) => format!("{:02x?}", &b[..b.len().min(16)]),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_the_planned_sizes_and_kinds() {
        let mut rng = Rng::new(7);
        let (mut text, mut large) = (0, 0);
        for seq in 0..2000 {
            let m = message(&mut rng, 1, seq);
            assert!(len(&m) <= MAX_MESSAGE, "{}", len(&m));
            text += matches!(m, Message::Text(_)) as u32;
            large += (len(&m) > 64 << 10) as u32;
        }
        assert!((800..1200).contains(&text), "{text}");
        assert!((5..60).contains(&large), "{large}");
    }
}
