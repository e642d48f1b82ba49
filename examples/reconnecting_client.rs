//! A client that stays connected: it reconnects with exponential backoff
//! and jitter, and keeps a heartbeat (tokio adapter).
//!
//! ```text
//! cargo run --release --features tokio --example reconnecting_client -- ws://127.0.0.1:9001/
//!     [--initial-ms 100] [--max-ms 10000] [--every-ms 1000] [--seconds N]
//! ```
//!
//! Start it before the server (`echo_server_tokio`), stop and restart the
//! server, and watch it wait and come back. It sends `tick <n>` every
//! `--every-ms` and prints what comes back. It stops on Ctrl-C or after
//! `--seconds`.
//!
//! - **Backoff**: after the k-th failure in a row it waits a random time
//!   between half and all of `min(max, initial × 2^k)` ("equal jitter": the
//!   delay grows, and clients that lost the same server do not all return
//!   at the same instant). The jitter comes from std's `RandomState`, whose
//!   keys the OS seeds: no cryptographic strength is needed here.
//! - **Reset**: once a connection opens, the next failure starts again from
//!   `initial`.
//! - **Heartbeat**: the client Pings after 5 s of silence and gives up on a
//!   server that does not answer within 5 s, which is how a dead server
//!   behind a live network (no FIN, no RST) is noticed.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use wsmachine::adapters::Message;
use wsmachine::adapters::tokio::WebSocket;
use wsmachine::{ClientRequest, Config};

/// Exponential backoff with equal jitter.
struct Backoff {
    initial: Duration,
    max: Duration,
    failures: u32,
    random: RandomState,
}

impl Backoff {
    fn new(initial: Duration, max: Duration) -> Self {
        Backoff { initial, max, failures: 0, random: RandomState::new() }
    }

    /// The delay before the next attempt, after one more failure.
    fn next_delay(&mut self) -> Duration {
        let ceiling = self.initial.saturating_mul(1u32 << self.failures.min(20)).min(self.max);
        self.failures = self.failures.saturating_add(1);
        let mut hasher = self.random.build_hasher();
        hasher.write_u32(self.failures);
        let fraction = f64::from(hasher.finish() as u32) / f64::from(u32::MAX);
        ceiling.mul_f64(0.5 + 0.5 * fraction)
    }

    /// A connection opened: start again from `initial`.
    fn reset(&mut self) {
        self.failures = 0;
    }
}

/// What the client reports.
#[derive(Debug)]
enum Report {
    Connected(u32),
    Received(String),
    Disconnected(String),
    Waiting(Duration),
}

struct Options {
    url: String,
    initial: Duration,
    max: Duration,
    every: Duration,
}

/// Connects, runs a session, and reconnects, forever (the caller bounds it).
async fn run(options: Options, reports: mpsc::UnboundedSender<Report>) {
    let mut config = Config::default();
    config.ping_interval = Some(Duration::from_secs(5));
    config.pong_timeout = Duration::from_secs(5);
    config.handshake_timeout = Some(Duration::from_secs(5));
    let mut backoff = Backoff::new(options.initial, options.max);
    let mut connections = 0;
    loop {
        let request = ClientRequest::new(&options.url).expect("a valid ws:// URL");
        match WebSocket::connect(request, config.clone()).await {
            Ok(mut ws) => {
                connections += 1;
                backoff.reset();
                let _ = reports.send(Report::Connected(connections));
                let why = session(&mut ws, options.every, &reports).await;
                let _ = reports.send(Report::Disconnected(why));
            }
            Err(e) => {
                let _ = reports.send(Report::Disconnected(e.to_string()));
            }
        }
        let delay = backoff.next_delay();
        let _ = reports.send(Report::Waiting(delay));
        tokio::time::sleep(delay).await;
    }
}

/// Sends a tick every `every` and reports what arrives, until the connection ends.
async fn session<S>(
    ws: &mut wsmachine::adapters::tokio::WebSocket<S>,
    every: Duration,
    reports: &mpsc::UnboundedSender<Report>,
) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut ticks = tokio::time::interval(every);
    let mut n = 0u64;
    loop {
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(Message::Text(text))) => { let _ = reports.send(Report::Received(text)); }
                Some(Ok(Message::Close(frame))) => return format!("closed by the server: {frame:?}"),
                Some(Ok(_)) => {}
                Some(Err(e)) => return e.to_string(),
                None => return "ended".to_owned(),
            },
            _ = ticks.tick() => {
                n += 1;
                if let Err(e) = ws.send(Message::text(format!("tick {n}"))).await {
                    return e.to_string();
                }
            }
        }
    }
}

fn flag(args: &[String], name: &str) -> Option<u64> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).and_then(|v| v.parse().ok())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(url) = args.first().filter(|a| !a.starts_with("--")).cloned() else {
        eprintln!(
            "usage: reconnecting_client ws://host:port/path [--initial-ms N] [--max-ms N] [--every-ms N] [--seconds N]"
        );
        std::process::exit(2);
    };
    let options = Options {
        url,
        initial: Duration::from_millis(flag(&args, "--initial-ms").unwrap_or(100)),
        max: Duration::from_millis(flag(&args, "--max-ms").unwrap_or(10_000)),
        every: Duration::from_millis(flag(&args, "--every-ms").unwrap_or(1000)),
    };
    let seconds = flag(&args, "--seconds");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let client = tokio::spawn(run(options, tx));
    let printer = async {
        while let Some(report) = rx.recv().await {
            match report {
                Report::Connected(n) => println!("connected (connection {n})"),
                Report::Received(text) => println!("< {text}"),
                Report::Disconnected(why) => println!("disconnected: {why}"),
                Report::Waiting(delay) => println!("reconnecting in {} ms", delay.as_millis()),
            }
        }
    };
    let stop = async {
        match seconds {
            Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = printer => {}
        _ = stop => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    client.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_stay_within_half_and_all_of_the_ceiling_and_are_capped() {
        let (initial, max) = (Duration::from_millis(100), Duration::from_millis(1600));
        let mut backoff = Backoff::new(initial, max);
        for k in 0..12u32 {
            let ceiling = (initial * 2u32.pow(k.min(10))).min(max);
            let d = backoff.next_delay();
            assert!(d >= ceiling / 2 && d <= ceiling, "failure {k}: {d:?} outside [{:?}, {ceiling:?}]", ceiling / 2);
        }
        // Jitter: the delays at the cap are not all the same.
        let capped: Vec<Duration> = (0..8).map(|_| backoff.next_delay()).collect();
        assert!(capped.iter().any(|d| *d != capped[0]), "{capped:?}");
        backoff.reset();
        assert!(backoff.next_delay() <= initial);
    }

    /// An echo server on `addr` until the task is aborted (its connections with it).
    async fn echo_server(listener: tokio::net::TcpListener) {
        let mut connections = tokio::task::JoinSet::new();
        while let Ok((tcp, _)) = listener.accept().await {
            connections.spawn(async move {
                let mut ws = wsmachine::adapters::tokio::WebSocket::accept(tcp, Config::default()).await?;
                while let Some(m) = ws.next().await {
                    if let m @ Message::Text(_) = m? {
                        ws.send(m).await?;
                    }
                }
                Ok::<_, wsmachine::adapters::AdapterError>(())
            });
        }
    }

    async fn expect(
        rx: &mut mpsc::UnboundedReceiver<Report>,
        what: &str,
        mut want: impl FnMut(&Report) -> bool,
    ) -> Vec<Report> {
        let mut seen = Vec::new();
        loop {
            let report = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
            let report = report.unwrap_or_else(|_| panic!("no {what} within 10 s; saw {seen:?}")).unwrap();
            let done = want(&report);
            seen.push(report);
            if done {
                return seen;
            }
        }
    }

    #[tokio::test]
    async fn waits_for_the_server_reconnects_after_it_restarts_and_resets_the_backoff() {
        // A free port, with nothing listening yet.
        let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let options = Options {
            url: format!("ws://{addr}/"),
            initial: Duration::from_millis(20),
            max: Duration::from_millis(200),
            every: Duration::from_millis(20),
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let client = tokio::spawn(run(options, tx));

        // Refused attempts, with growing waits up to the cap.
        let seen = expect(&mut rx, "six waits", {
            let mut waits = 0;
            move |r| {
                waits += matches!(r, Report::Waiting(_)) as u32;
                waits == 6
            }
        })
        .await;
        let waits: Vec<Duration> =
            seen.iter().filter_map(|r| if let Report::Waiting(d) = r { Some(*d) } else { None }).collect();
        assert!(waits[0] <= Duration::from_millis(20) && waits[5] >= Duration::from_millis(100), "{waits:?}");
        assert!(waits.iter().all(|d| *d <= Duration::from_millis(200)), "{waits:?}");

        // The server comes up: connected, ticks echoed.
        let server = tokio::spawn(echo_server(tokio::net::TcpListener::bind(addr).await.unwrap()));
        expect(&mut rx, "a connection", |r| matches!(r, Report::Connected(1))).await;
        expect(&mut rx, "an echo", |r| matches!(r, Report::Received(t) if t.starts_with("tick"))).await;

        // The server goes away: disconnected, and the first wait starts again from `initial`.
        server.abort();
        let _ = server.await;
        expect(&mut rx, "a disconnection", |r| matches!(r, Report::Disconnected(_))).await;
        match expect(&mut rx, "a wait", |r| matches!(r, Report::Waiting(_))).await.last() {
            Some(Report::Waiting(d)) => assert!(*d <= Duration::from_millis(20), "{d:?}"),
            other => panic!("{other:?}"),
        }

        // It comes back: connected again.
        let server = tokio::spawn(echo_server(tokio::net::TcpListener::bind(addr).await.unwrap()));
        expect(&mut rx, "a second connection", |r| matches!(r, Report::Connected(2))).await;
        expect(&mut rx, "an echo", |r| matches!(r, Report::Received(_))).await;
        client.abort();
        server.abort();
    }
}
