//! An echo server on the mio adapter: one thread, every connection.
//!
//! ```text
//! cargo run --release --features mio --example echo_server_mio -- 127.0.0.1:9001 [--deflate]
//! ```
//!
//! The handler polls the borrowed events and echoes each payload straight
//! from the receive buffer into the output buffer (no copy in between); the
//! driver writes everything once per wakeup. Reading from a connection
//! pauses while more than 1 MiB of its echoes are unwritten. Connections
//! beyond 16,000 are answered `503`; a failed accept (out of descriptors)
//! is retried after 100 ms while the others are served.

use std::time::Instant;

use wsmachine::adapters::mio::{Driver, Handler, Token};
use wsmachine::{Accept, Config, Connection, Event};

struct Echo;

impl Handler for Echo {
    fn accept_failed(&mut self, error: &std::io::Error) {
        eprintln!("accept failed: {error}");
    }

    fn handle(&mut self, _id: Token, ws: &mut Connection, now: Instant) {
        while let Some((event, mut tx)) = ws.poll_event_with_sender() {
            match event {
                Event::Request(_) => {
                    let _ = ws.accept(now, Accept::new());
                }
                Event::Text(text) => {
                    let _ = tx.send_text(text);
                }
                Event::Binary(data) => {
                    let _ = tx.send_binary(data);
                }
                _ => {}
            }
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = args.iter().find(|a| !a.starts_with("--")).cloned().unwrap_or_else(|| "127.0.0.1:9001".to_owned());
    // Open to anyone: messages up to 1 MiB, a heartbeat, deadlines for
    // every wait (the limits table in `Config::public_server`'s docs).
    let mut config = Config::public_server();
    if args.iter().any(|a| a == "--deflate") {
        config.deflate = Some(wsmachine::deflate::DeflateConfig::default());
    }
    let listener = mio::net::TcpListener::bind(addr.parse()?)?;
    eprintln!("echo server (mio) listening on ws://{}", listener.local_addr()?);
    let mut driver = Driver::new(Echo)?;
    driver.set_max_buffered(Some(1 << 20));
    // Beyond this, connections are answered 503 before the upgrade; a
    // failed accept (out of descriptors) is retried, not the server's end.
    driver.set_max_connections(Some(16_000));
    driver.listen(listener, config)?;
    loop {
        driver.turn(None)?;
    }
}
