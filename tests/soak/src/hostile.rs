//! Hostile and faulty peers, each a loop of one misbehaviour against one
//! server, with the outcome the server's documented limits promise
//! (`Config::public_server`, which the example servers run).
//!
//! Peers that keep reading see the server's Close code and the moment the
//! transport closes; for peers that stop reading, the soak watches the
//! server's end of the connection in `/proc/net/tcp` until no process
//! holds it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::time::{Instant, sleep, sleep_until, timeout};

use crate::failures::Failures;
use crate::wire::{self, BINARY, CONTINUATION, Closed, FIN, PING, RSV1, TEXT};

/// One misbehaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Handshakes, then sends nothing and answers nothing: a peer that
    /// vanished without a FIN (half-open). It keeps reading only to see
    /// the heartbeat Ping and the close.
    Silent,
    /// Sends echo traffic without reading until its writes stall, then
    /// stops all traffic: its receive window is closed.
    StalledReader,
    /// Resets the transport (RST) in the middle of a frame.
    ResetMidFrame,
    /// Trickles its request head a byte every 300 ms.
    TrickleHead,
    /// Announces a 64 KiB message and trickles it a byte a second.
    TrickleMessage,
    /// Floods Pings and never reads the Pongs.
    PingFlood,
    /// Floods one-byte continuation frames of a message that never ends.
    FragmentFlood,
    /// One compressed message that inflates to 8 MiB (from 8 KiB).
    CompressionBomb,
    /// A frame header announcing a terabyte.
    OversizedFrame,
    /// A text message that is not UTF-8.
    BadUtf8,
    /// Frames RFC 6455 forbids: a reserved opcode, an unmasked frame, RSV2 set.
    ProtocolError,
}

/// The outcome the server's documented limits promise for a kind, measured
/// from the start of the misbehaviour.
pub struct Expect {
    /// The server must not have closed before this (0: any time).
    pub earliest: Duration,
    /// The transport must be closed by this (plus the run's slack).
    pub latest: Duration,
    /// The close codes allowed (empty: none checked, the peer does not read).
    pub codes: &'static [u16],
    /// The limit that gives this outcome.
    pub why: &'static str,
}

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

impl Kind {
    pub const ALL: [Kind; 11] = [
        Kind::Silent,
        Kind::StalledReader,
        Kind::ResetMidFrame,
        Kind::TrickleHead,
        Kind::TrickleMessage,
        Kind::PingFlood,
        Kind::FragmentFlood,
        Kind::CompressionBomb,
        Kind::OversizedFrame,
        Kind::BadUtf8,
        Kind::ProtocolError,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Silent => "silent (half-open)",
            Kind::StalledReader => "stops reading",
            Kind::ResetMidFrame => "reset mid-frame",
            Kind::TrickleHead => "trickled head",
            Kind::TrickleMessage => "trickled message",
            Kind::PingFlood => "ping flood",
            Kind::FragmentFlood => "fragment flood",
            Kind::CompressionBomb => "compression bomb",
            Kind::OversizedFrame => "oversized frame",
            Kind::BadUtf8 => "invalid UTF-8",
            Kind::ProtocolError => "protocol error",
        }
    }

    pub fn expect(self) -> Expect {
        let (earliest, latest, codes, why) = match self {
            // Pong timeout 20 s after a Ping sent after 30 s of silence.
            Kind::Silent => (secs(48), secs(50), &[][..], "ping_interval 30 s + pong_timeout 20 s"),
            // The write timeout (30 s, seen within two), or the heartbeat
            // (50 s after the last byte), whichever comes first; the server's
            // stall may begin before ours.
            Kind::StalledReader => (secs(0), secs(60), &[][..], "write_timeout 30 s, seen within 60 s"),
            Kind::ResetMidFrame => (secs(0), secs(0), &[][..], "a reset ends the connection"),
            Kind::TrickleHead => (secs(9), secs(10), &[][..], "handshake_timeout 10 s, answered 408"),
            Kind::TrickleMessage => (secs(29), secs(60), &[1008][..], "message_timeout 30 s, seen within 60 s"),
            // Once our receive window is full (a few seconds of Pongs), the
            // write timeout.
            Kind::PingFlood => {
                (secs(25), secs(70), &[][..], "write_timeout 30 s, seen within 60 s, after the window fills")
            }
            // 1 MiB of fragments takes about 10 s to send; the message
            // timeout if the flood is slower.
            Kind::FragmentFlood => (secs(0), secs(60), &[1009, 1008][..], "max_message_size 1 MiB or message_timeout"),
            Kind::CompressionBomb => (secs(0), secs(10), &[1009][..], "max_message_size 1 MiB, inflated"),
            Kind::OversizedFrame => (secs(0), secs(10), &[1009][..], "max_frame_size 1.125 MiB"),
            Kind::BadUtf8 => (secs(0), secs(10), &[1007][..], "RFC 6455 §8.1"),
            Kind::ProtocolError => (secs(0), secs(10), &[1002][..], "RFC 6455 §5.2"),
        };
        Expect { earliest, latest, codes, why }
    }
}

/// What the hostile peers of one kind against one server saw.
#[derive(Default)]
pub struct KindStats {
    /// Misbehaviours completed and checked.
    pub cycles: AtomicU64,
    /// Attempts that could not start (no 101: the server was out of
    /// descriptors); retried.
    pub unavailable: AtomicU64,
    /// The longest time to the close, ms.
    pub slowest_ms: AtomicU64,
    /// The close codes seen (bit `code - 1000`).
    pub codes: AtomicU64,
    pub failures: Failures,
}

/// The hostile connections open against one server now and at most.
#[derive(Default)]
pub struct Open {
    pub now: AtomicUsize,
    pub peak: AtomicUsize,
}

impl Open {
    fn enter(&self) {
        let n = self.now.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(n, Ordering::Relaxed);
    }

    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What one misbehaviour observed.
struct Observed {
    /// From the start of the misbehaviour to the close (or to the moment
    /// it was found closed, for a peer that does not read).
    elapsed: Duration,
    closed: Closed,
}

/// Runs misbehaviours of `kind` one after another until no more can
/// finish before `until`; `slack` is added to every deadline.
pub async fn run(
    kind: Kind,
    addr: SocketAddr,
    until: Instant,
    slack: Duration,
    stats: Arc<KindStats>,
    open: Arc<Open>,
    hog: Arc<crate::hog::Stats>,
) {
    let expect = kind.expect();
    while Instant::now() + expect.latest + slack + secs(5) < until {
        let deflate = kind == Kind::CompressionBomb;
        let started = if kind == Kind::TrickleHead {
            TcpStream::connect(addr).await.map(|tcp| Ok((tcp, Vec::new()))).map_err(|_| wire::Unavailable)
        } else {
            wire::open(addr, deflate).await
        };
        let (tcp, rest) = match started {
            Err(_) => {
                stats.unavailable.fetch_add(1, Ordering::Relaxed);
                sleep(secs(1)).await;
                continue;
            }
            Ok(Err(e)) => {
                stats.failures.push(format!("handshake: {e}"));
                sleep(secs(1)).await;
                continue;
            }
            Ok(Ok(opened)) => opened,
        };
        open.enter();
        let start = Instant::now();
        let result = misbehave(kind, tcp, rest, addr, &expect, slack).await;
        open.leave();
        match result {
            // A bare connection waits in the backlog while the server is out
            // of descriptors: its handshake timeout starts only when it is
            // accepted, which this peer cannot see.
            Err(_) if kind == Kind::TrickleHead && hog.busy_between(start, Instant::now()) => {
                stats.unavailable.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            Ok(seen) => check(kind, &expect, seen, &stats),
            Err(e) => stats.failures.push(e),
        }
        stats.cycles.fetch_add(1, Ordering::Relaxed);
        sleep(secs(1)).await;
    }
}

/// Compares what was seen with what was promised.
fn check(kind: Kind, expect: &Expect, seen: Observed, stats: &KindStats) {
    stats.slowest_ms.fetch_max(seen.elapsed.as_millis() as u64, Ordering::Relaxed);
    if let Some(code) = seen.closed.code.filter(|c| (1000..1064).contains(c)) {
        stats.codes.fetch_or(1 << (code - 1000), Ordering::Relaxed);
    }
    let at = format!("{:.1} s", seen.elapsed.as_secs_f64());
    if seen.elapsed < expect.earliest {
        stats.failures.push(format!("closed after {at}, before {:?} ({})", expect.earliest, expect.why));
    }
    if !expect.codes.is_empty() && !seen.closed.code.is_some_and(|c| expect.codes.contains(&c)) {
        stats.failures.push(format!(
            "close code {:?} after {at}, expected one of {:?} ({})",
            seen.closed.code, expect.codes, expect.why
        ));
    }
    match kind {
        Kind::Silent if seen.closed.pings.is_empty() => {
            stats.failures.push(format!("closed after {at} with no heartbeat Ping"))
        }
        Kind::TrickleHead if !seen.closed.status.as_deref().is_some_and(|s| s.starts_with("HTTP/1.1 408")) => {
            stats.failures.push(format!("answered {:?} after {at}, expected 408", seen.closed.status))
        }
        _ => {}
    }
}

/// Runs one misbehaviour on an open connection (for `TrickleHead`, a bare
/// TCP connection) and waits for the server to close it.
async fn misbehave(
    kind: Kind,
    mut tcp: TcpStream,
    rest: Vec<u8>,
    addr: SocketAddr,
    expect: &Expect,
    slack: Duration,
) -> Result<Observed, String> {
    let start = Instant::now();
    let deadline = start + expect.latest + slack;
    match kind {
        Kind::Silent => read_closed(tcp, rest, false, None, start, deadline).await,
        Kind::ResetMidFrame => {
            let frame = wire::frame(FIN | BINARY, &[0x5a; 64 << 10]);
            let _ = tcp.write_all(&frame[..frame.len() / 2]).await;
            sleep(Duration::from_millis(100)).await;
            tcp.set_zero_linger().map_err(|e| e.to_string())?;
            drop(tcp);
            Ok(Observed { elapsed: start.elapsed(), closed: Closed::default() })
        }
        Kind::TrickleHead => {
            let pieces = wire::request(addr, false).into_iter().map(|b| vec![b]);
            let (read, write) = tcp.into_split();
            let writer = trickle(write, pieces, Duration::from_millis(300));
            read_closed(read, rest, true, Some(writer), start, deadline).await
        }
        Kind::TrickleMessage => {
            let mut head = wire::frame(FIN | BINARY, &[0x33; 64 << 10]);
            let payload = head.split_off(head.len() - (64 << 10));
            tcp.write_all(&head).await.map_err(|e| format!("write: {e}"))?;
            let (read, write) = tcp.into_split();
            let writer = trickle(write, payload.into_iter().map(|b| vec![b]), secs(1));
            read_closed(read, rest, false, Some(writer), start, deadline).await
        }
        Kind::FragmentFlood => {
            let mut first = wire::frame(BINARY, b"x");
            let mut batch = Vec::with_capacity(7 << 10);
            for _ in 0..1000 {
                wire::append_frame(&mut batch, CONTINUATION, b"x");
            }
            first.extend_from_slice(&batch);
            let batches = std::iter::once(first).chain(std::iter::repeat(batch));
            let (read, write) = tcp.into_split();
            let writer = trickle(write, batches, Duration::from_millis(10));
            read_closed(read, rest, false, Some(writer), start, deadline).await
        }
        Kind::CompressionBomb => {
            static BOMB: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
            let body = BOMB.get_or_init(|| wire::deflate(&vec![0u8; 8 << 20]));
            tcp.write_all(&wire::frame(FIN | RSV1 | BINARY, body)).await.map_err(|e| format!("write: {e}"))?;
            read_closed(tcp, rest, false, None, start, deadline).await
        }
        Kind::OversizedFrame => {
            // FIN + binary, masked, 64-bit length 2^40, a mask key, no payload.
            let mut header = vec![FIN | BINARY, 0x80 | 127];
            header.extend_from_slice(&(1u64 << 40).to_be_bytes());
            header.extend_from_slice(&[1, 2, 3, 4]);
            tcp.write_all(&header).await.map_err(|e| format!("write: {e}"))?;
            read_closed(tcp, rest, false, None, start, deadline).await
        }
        Kind::BadUtf8 => {
            tcp.write_all(&wire::frame(FIN | TEXT, b"valid, then \xc3\x28 not"))
                .await
                .map_err(|e| format!("write: {e}"))?;
            read_closed(tcp, rest, false, None, start, deadline).await
        }
        Kind::ProtocolError => {
            // A different violation each time: a reserved opcode, an
            // unmasked client frame (§5.1), RSV2 with no extension.
            static TURN: AtomicU64 = AtomicU64::new(0);
            let frame = match TURN.fetch_add(1, Ordering::Relaxed) % 3 {
                0 => wire::frame(FIN | 0x3, b"reserved"),
                1 => wsmachine_testkit::frame(FIN | BINARY, b"unmasked", None),
                _ => wire::frame(FIN | 0x20 | BINARY, b"rsv2"),
            };
            tcp.write_all(&frame).await.map_err(|e| format!("write: {e}"))?;
            read_closed(tcp, rest, false, None, start, deadline).await
        }
        Kind::StalledReader => {
            // Echo traffic, never read, until no write progresses for 2 s.
            let frame = wire::frame(FIN | BINARY, &[0x42; 64 << 10]);
            let mut stalled = start;
            loop {
                match timeout(secs(2), tcp.write_all(&frame)).await {
                    Ok(Ok(())) => stalled = Instant::now(),
                    Ok(Err(e)) => return Err(format!("closed before the stall: {e}")),
                    Err(_) => break,
                }
                if stalled - start > secs(60) {
                    return Err("never stalled: the server read 60 s of echo traffic it could not write".into());
                }
            }
            found_closed(&tcp, stalled, stalled + expect.latest + slack).await
        }
        Kind::PingFlood => {
            let mut batch = Vec::with_capacity(64 << 10);
            while batch.len() < 60 << 10 {
                wire::append_frame(&mut batch, FIN | PING, &[0x70; 125]);
            }
            let (server, peer) =
                (tcp.peer_addr().map_err(|e| e.to_string())?, tcp.local_addr().map_err(|e| e.to_string())?);
            let mut next = Instant::now();
            let mut looked = next;
            loop {
                if looked.elapsed() > Duration::from_millis(500) {
                    looked = Instant::now();
                    if !wire::held_by_server(server, peer) {
                        return Ok(Observed { elapsed: start.elapsed(), closed: Closed::default() });
                    }
                }
                // Whole batches only: a frame cut by a full buffer would end the flood.
                let mut sent = 0;
                while sent < batch.len() {
                    match tcp.try_write(&batch[sent..]) {
                        Ok(n) => sent += n,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && sent == 0 => break,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            tcp.writable().await.map_err(|e| e.to_string())?
                        }
                        Err(_) => return Ok(Observed { elapsed: start.elapsed(), closed: Closed::default() }),
                    }
                }
                if Instant::now() > deadline {
                    return Err("still held by the server at its deadline".into());
                }
                next += Duration::from_millis(10);
                sleep_until(next).await;
            }
        }
    }
}

/// Writes `pieces` one per `every` from a task of its own, until a write
/// fails (the server closed) or the task is aborted.
fn trickle(
    write: OwnedWriteHalf,
    pieces: impl Iterator<Item = Vec<u8>> + Send + 'static,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut next = Instant::now();
        for piece in pieces {
            next += every;
            sleep_until(next).await;
            let mut sent = 0;
            while sent < piece.len() {
                match write.try_write(&piece[sent..]) {
                    Ok(n) => sent += n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if write.writable().await.is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
        }
    })
}

/// Reads until the server closes the transport; stops `writer` then.
async fn read_closed(
    mut tcp: impl AsyncRead + Unpin,
    rest: Vec<u8>,
    http: bool,
    writer: Option<tokio::task::JoinHandle<()>>,
    start: Instant,
    deadline: Instant,
) -> Result<Observed, String> {
    let closed = wire::read_until_closed(&mut tcp, rest, http, deadline).await;
    if let Some(writer) = writer {
        writer.abort();
    }
    closed.map(|closed| Observed { elapsed: start.elapsed(), closed })
}

/// For a peer that does not read: waits until the server no longer holds
/// its end of the connection.
async fn found_closed(tcp: &TcpStream, start: Instant, deadline: Instant) -> Result<Observed, String> {
    let (server, peer) = (tcp.peer_addr().map_err(|e| e.to_string())?, tcp.local_addr().map_err(|e| e.to_string())?);
    loop {
        if !wire::held_by_server(server, peer) {
            return Ok(Observed { elapsed: start.elapsed(), closed: Closed::default() });
        }
        if Instant::now() > deadline {
            return Err("still held by the server at its deadline".into());
        }
        sleep(Duration::from_millis(500)).await;
    }
}
