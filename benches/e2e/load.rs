//! The end-to-end load generator: C client connections over loopback TCP,
//! each keeping W binary messages of S bytes in flight against an echo
//! server; after a warm-up it prints `measuring`, counts echoes for a fixed time
//! and prints one JSON line (messages/s, MB/s each way, round-trip p50/p99).
//!
//! ```text
//! e2e_load --addr 127.0.0.1:PORT --conns C --window W --size S [--seconds 5] [--warmup 1]
//! e2e_load --addr 127.0.0.1:PORT --idle N [--hold 3]     # N idle connections, held open
//! ```
//!
//! It is one thread on wsmachine's mio adapter, the same for every server
//! measured; the runner (`e2e/run.py`) pins it to its own core. Round trips
//! are timed from the write of a message's batch to the read of its echo,
//! with the clock read once per batch, in 1 µs buckets up to 100 ms.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use wsmachine::adapters::mio::{Driver, Handler, Token};
use wsmachine::{ClientRequest, Config, Connection, Event};

/// Round-trip times in 1 µs buckets, up to 100 ms (the last bucket holds the rest).
struct Histogram {
    buckets: Vec<u64>,
    count: u64,
}

impl Histogram {
    fn new() -> Self {
        Histogram { buckets: vec![0; 100_001], count: 0 }
    }

    fn record(&mut self, d: Duration) {
        let us = (d.as_micros() as usize).min(self.buckets.len() - 1);
        self.buckets[us] += 1;
        self.count += 1;
    }

    fn percentile(&self, p: f64) -> usize {
        let want = ((self.count as f64) * p).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (us, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= want {
                return us;
            }
        }
        self.buckets.len() - 1
    }
}

struct Load {
    window: usize,
    payload: Vec<u8>,
    /// When each message in flight was written, per connection, oldest first.
    in_flight: HashMap<Token, VecDeque<Instant>>,
    measuring: bool,
    messages: u64,
    rtt: Histogram,
    open: usize,
    failed: usize,
}

impl Handler for Load {
    fn handle(&mut self, id: Token, ws: &mut Connection, _now: Instant) {
        let now = Instant::now();
        let queue = self.in_flight.entry(id).or_default();
        while let Some((event, mut tx)) = ws.poll_event_with_sender() {
            match event {
                Event::Open(_) => {
                    self.open += 1;
                    for _ in 0..self.window {
                        tx.send_binary(&self.payload).expect("open");
                        queue.push_back(now);
                    }
                }
                Event::Binary(echo) => {
                    assert_eq!(echo.len(), self.payload.len(), "echo of another size");
                    let sent = queue.pop_front().expect("an echo of a message in flight");
                    if self.measuring {
                        self.messages += 1;
                        self.rtt.record(now - sent);
                    }
                    tx.send_binary(&self.payload).expect("open");
                    queue.push_back(now);
                }
                Event::Closed(closed) => {
                    self.failed += 1;
                    eprintln!("connection closed: {closed:?}");
                }
                _ => {}
            }
        }
    }
}

fn arg(args: &[String], name: &str) -> Option<u64> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).and_then(|v| v.parse().ok())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = args.iter().position(|a| a == "--addr").and_then(|i| args.get(i + 1)).expect("--addr").clone();
    let idle = arg(&args, "--idle");
    let conns = idle.unwrap_or_else(|| arg(&args, "--conns").unwrap_or(1)) as usize;
    let window = if idle.is_some() { 0 } else { arg(&args, "--window").unwrap_or(1) as usize };
    let size = arg(&args, "--size").unwrap_or(16) as usize;
    let seconds = arg(&args, "--seconds").unwrap_or(5);
    let warmup = arg(&args, "--warmup").unwrap_or(1);

    let mut config = Config::default();
    config.deflate = None;
    config.max_message_size = size.max(1 << 20);
    // Thousands of handshakes queue up at a one-thread server: let them wait.
    config.handshake_timeout = Some(Duration::from_secs(60));
    let load = Load {
        window,
        payload: (0..size).map(|i| (i * 131 + 7) as u8).collect(),
        in_flight: HashMap::new(),
        measuring: false,
        messages: 0,
        rtt: Histogram::new(),
        open: 0,
        failed: 0,
    };
    let mut driver = Driver::new(load).expect("poll");
    let socket: std::net::SocketAddr = addr.parse().expect("--addr host:port");
    for _ in 0..conns {
        let request = ClientRequest::new(&format!("ws://{addr}/")).expect("url");
        driver
            .connect(socket, Connection::client(std::time::Instant::now(), request, config.clone()).expect("random"))
            .expect("connect");
    }
    let opening = Instant::now();
    while driver.handler().open < conns {
        assert!(
            opening.elapsed() < Duration::from_secs(60),
            "only {} of {conns} connections opened",
            driver.handler().open
        );
        assert_eq!(driver.handler().failed, 0, "a connection failed while opening");
        driver.turn(Some(Duration::from_millis(10))).expect("turn");
    }
    let opened_in = opening.elapsed();

    if idle.is_some() {
        println!("{{\"idle\":{conns},\"open_ms\":{}}}", opened_in.as_millis());
        let hold = Instant::now() + Duration::from_secs(arg(&args, "--hold").unwrap_or(3));
        while Instant::now() < hold {
            driver.turn(Some(Duration::from_millis(100))).expect("turn");
        }
        return;
    }

    let until = Instant::now() + Duration::from_secs(warmup);
    while Instant::now() < until {
        driver.turn(Some(Duration::from_millis(10))).expect("turn");
    }
    driver.handler().measuring = true;
    // The runner samples the server's CPU time between this line and the result.
    println!("measuring");
    std::io::Write::flush(&mut std::io::stdout()).expect("stdout");
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    while Instant::now() < until {
        driver.turn(Some(Duration::from_millis(10))).expect("turn");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let load = driver.handler();
    let per_s = load.messages as f64 / elapsed;
    println!(
        "{{\"conns\":{conns},\"window\":{window},\"size\":{size},\"seconds\":{elapsed:.3},\"messages\":{},\"msgs_per_s\":{per_s:.0},\"mb_per_s\":{:.1},\"p50_us\":{},\"p99_us\":{},\"failed\":{}}}",
        load.messages,
        per_s * size as f64 / 1e6,
        load.rtt.percentile(0.50),
        load.rtt.percentile(0.99),
        load.failed,
    );
}
