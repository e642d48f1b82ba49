//! The Autobahn testsuite harness, on the mio adapter (`--features mio`).
//!
//! ```text
//! autobahn client ws://127.0.0.1:9001   # against `wstest -m fuzzingserver`
//! autobahn server 127.0.0.1:9002        # for `wstest -m fuzzingclient`
//! ```
//!
//! Both roles echo every message exactly: text as text, binary as binary.
//! `autobahn/run` builds this, runs both roles and summarizes the reports.

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use wsmachine::adapters::mio::{Driver, Handler, Token};
use wsmachine::{Accept, ClientRequest, Config, Connection, Event};

const AGENT: &str = "wsmachine";

/// Echoes every message; accepts every request; remembers the last text
/// message (the case count).
#[derive(Default)]
struct Echo {
    last_text: Option<String>,
}

impl Handler for Echo {
    fn handle(&mut self, _id: Token, ws: &mut Connection, now: Instant) {
        while let Some((event, mut tx)) = ws.poll_event_with_sender() {
            let accept = match event {
                Event::Request(_) => true,
                Event::Text(text) => {
                    let _ = tx.send_text(text);
                    self.last_text = Some(text.to_owned());
                    false
                }
                Event::Binary(data) => {
                    let _ = tx.send_binary(data);
                    false
                }
                _ => false,
            };
            if accept {
                let _ = ws.accept(now, Accept::new());
            }
        }
    }
}

fn config() -> Config {
    // The defaults pass the whole suite (16 MiB messages in 9.x included),
    // with permessage-deflate turned on for 12.x and 13.x.
    let mut config = Config::default();
    config.deflate = Some(wsmachine::deflate::DeflateConfig::default());
    config
}

/// Runs one client connection to `base` + `path` until its transport closes.
fn run_one(driver: &mut Driver<Echo>, addr: SocketAddr, base: &str, path: &str) -> Result<(), String> {
    let url = format!("{base}{path}");
    let request = ClientRequest::new(&url).map_err(|e| format!("{url}: {e}"))?;
    let ws = Connection::client(std::time::Instant::now(), request, config()).map_err(|e| e.to_string())?;
    let id = driver.connect(addr, ws).map_err(|e| format!("connect {addr}: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(300);
    while !driver.is_empty() {
        if Instant::now() > deadline {
            let state = driver
                .connection(id)
                .map(|ws| format!("{:?}, {} bytes unwritten", ws.state(), ws.output_buffer().len()));
            driver.remove(id);
            return Err(format!("{url}: transport still open after 300 s ({})", state.unwrap_or_default()));
        }
        driver.turn(Some(Duration::from_secs(1))).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn client(base: &str) -> Result<(), String> {
    let base = base.trim_end_matches('/');
    let request = ClientRequest::new(base).map_err(|e| e.to_string())?;
    let addr =
        (request.host(), request.port()).to_socket_addrs().map_err(|e| e.to_string())?.next().ok_or("no address")?;
    let mut driver = Driver::new(Echo::default()).map_err(|e| e.to_string())?;
    run_one(&mut driver, addr, base, "/getCaseCount")?;
    let count: u32 = driver
        .handler()
        .last_text
        .take()
        .and_then(|t| t.trim().parse().ok())
        .ok_or("no case count from the fuzzing server")?;
    eprintln!("running {count} cases");
    // A case that goes wrong is logged and the run goes on, so that one
    // report shows every problem; the harness still fails at the end.
    let mut failed = Vec::new();
    let mut slowest = (Duration::ZERO, 0);
    for case in 1..=count {
        let started = Instant::now();
        if let Err(e) = run_one(&mut driver, addr, base, &format!("/runCase?case={case}&agent={AGENT}")) {
            eprintln!("  case {case}: {e}");
            failed.push(case);
        }
        slowest = slowest.max((started.elapsed(), case));
        if case % 50 == 0 {
            eprintln!("  {case}/{count}");
        }
    }
    eprintln!("slowest case: {} ({:.1} s)", slowest.1, slowest.0.as_secs_f64());
    run_one(&mut driver, addr, base, &format!("/updateReports?agent={AGENT}"))?;
    eprintln!("reports updated");
    if failed.is_empty() { Ok(()) } else { Err(format!("{} case(s) went wrong: {failed:?}", failed.len())) }
}

fn server(addr: &str) -> Result<(), String> {
    let addr: SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let listener = mio::net::TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
    let mut driver = Driver::new(Echo::default()).map_err(|e| e.to_string())?;
    // An echo server: a client that sends without reading must not grow our memory.
    driver.set_max_buffered(Some(4 << 20));
    driver.listen(listener, config()).map_err(|e| e.to_string())?;
    eprintln!("autobahn echo server on ws://{addr}");
    loop {
        driver.turn(None).map_err(|e| e.to_string())?;
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["client", url] => client(url),
        ["server", addr] => server(addr),
        _ => Err("usage: autobahn client ws://HOST:PORT | autobahn server HOST:PORT".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("autobahn: {e}");
            ExitCode::FAILURE
        }
    }
}
