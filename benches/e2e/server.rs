//! Echo servers for the end-to-end load test, one per implementation, each
//! on one thread (the runner pins it to one core):
//!
//! ```text
//! e2e_server <wsmachine-mio|wsmachine-tokio|tokio-tungstenite|fastwebsockets> 127.0.0.1:PORT
//! ```
//!
//! Each echoes text and binary messages the way a user of that crate who
//! cares about speed would write it:
//! - `wsmachine-mio`: the mio adapter; the handler echoes each borrowed
//!   payload into the output buffer, the driver writes once per wakeup.
//! - `wsmachine-tokio`: the tokio adapter on a current-thread runtime;
//!   echoes are queued with `feed` while more messages are ready, then one
//!   `flush`.
//! - `tokio-tungstenite` (0.30): the same `feed`-then-`flush` loop, current-thread runtime.
//! - `fastwebsockets` (0.10): `read_frame` / `write_frame` as in its echo
//!   example (auto pong and close), current-thread runtime. Its `read_frame`
//!   cannot be polled for "is more ready?" safely, so each echo is written
//!   when it is made.
//!
//! The server stops after `--seconds` (default 600) so that no run is unbounded.
//! `--max-read-size N` sets [`Config::max_read_size`] of the wsmachine
//! servers (default 64 KiB), for comparing read sizes on a socket.

use std::time::Duration;
use std::time::Instant;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wsmachine::adapters::mio::{Driver, Handler, Token};
use wsmachine::{Accept, Config, Connection, Event};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(which), Some(addr)) = (args.first(), args.get(1)) else {
        eprintln!(
            "usage: e2e_server <wsmachine-mio|wsmachine-tokio|tokio-tungstenite|fastwebsockets> ADDR [--seconds N] [--max-read-size N]"
        );
        std::process::exit(2);
    };
    let seconds = args.iter().position(|a| a == "--seconds").and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(600);
    let deadline = std::time::Instant::now() + Duration::from_secs(seconds);
    if let Some(n) = args.iter().position(|a| a == "--max-read-size").and_then(|i| args.get(i + 1)?.parse().ok()) {
        MAX_READ_SIZE.set(n).unwrap();
    }
    match which.as_str() {
        "wsmachine-mio" => mio_server(addr, deadline),
        other => {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let which = other.to_owned();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
                let serve = async {
                    loop {
                        let (tcp, _) = listener.accept().await.unwrap();
                        tcp.set_nodelay(true).unwrap();
                        match which.as_str() {
                            "wsmachine-tokio" => tokio::spawn(wsmachine_tokio(tcp)),
                            "tokio-tungstenite" => tokio::spawn(tokio_tungstenite(tcp)),
                            "fastwebsockets" => tokio::spawn(fastwebsockets(tcp)),
                            _ => panic!("unknown server {which}"),
                        };
                    }
                };
                tokio::select! {
                    _ = serve => {}
                    _ = tokio::time::sleep_until(deadline.into()) => {}
                }
            });
        }
    }
}

/// `--max-read-size`, when given.
static MAX_READ_SIZE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

fn config() -> Config {
    let mut config = Config::default();
    config.deflate = None;
    if let Some(&n) = MAX_READ_SIZE.get() {
        config.max_read_size = n;
    }
    config
}

struct Echo;

impl Handler for Echo {
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

fn mio_server(addr: &str, deadline: std::time::Instant) {
    let mut driver = Driver::new(Echo).unwrap();
    driver.set_max_buffered(Some(1 << 20));
    driver.listen(mio::net::TcpListener::bind(addr.parse().unwrap()).unwrap(), config()).unwrap();
    while std::time::Instant::now() < deadline {
        driver.turn(Some(Duration::from_secs(1))).unwrap();
    }
}

async fn wsmachine_tokio(tcp: tokio::net::TcpStream) {
    use wsmachine::adapters::Message;
    let Ok(mut ws) = wsmachine::adapters::tokio::WebSocket::accept(tcp, config()).await else { return };
    while let Some(Ok(message)) = ws.next().await {
        if let m @ (Message::Text(_) | Message::Binary(_)) = message {
            if ws.feed(m).await.is_err() {
                return;
            }
            while let Some(Some(Ok(more))) = ws.next().now_or_never() {
                if let m @ (Message::Text(_) | Message::Binary(_)) = more
                    && ws.feed(m).await.is_err()
                {
                    return;
                }
            }
            if ws.flush().await.is_err() {
                return;
            }
        }
    }
}

async fn tokio_tungstenite(tcp: tokio::net::TcpStream) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else { return };
    while let Some(Ok(message)) = ws.next().await {
        if message.is_text() || message.is_binary() {
            if ws.feed(message).await.is_err() {
                return;
            }
            while let Some(Some(Ok(more))) = ws.next().now_or_never() {
                if (more.is_text() || more.is_binary()) && ws.feed(more).await.is_err() {
                    return;
                }
            }
            if ws.flush().await.is_err() {
                return;
            }
        }
    }
}

/// The HTTP upgrade by hand (fastwebsockets leaves it to hyper); not measured.
async fn upgrade(tcp: &mut tokio::net::TcpStream) -> Option<()> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    let key = loop {
        let n = tcp.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(&chunk[..n]);
        if let Some((parsed, _)) = wsmachine::handshake::RequestHead::parse(&head, 64).ok()? {
            break parsed.request().key()?.to_owned();
        }
    };
    let accept = wsmachine::handshake::accept_key(key.as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    tcp.write_all(response.as_bytes()).await.ok()
}

async fn fastwebsockets(mut tcp: tokio::net::TcpStream) {
    if upgrade(&mut tcp).await.is_none() {
        return;
    }
    let mut ws = fastwebsockets::WebSocket::after_handshake(tcp, fastwebsockets::Role::Server);
    ws.set_auto_close(true);
    ws.set_auto_pong(true);
    while let Ok(frame) = ws.read_frame().await {
        match frame.opcode {
            fastwebsockets::OpCode::Close => return,
            fastwebsockets::OpCode::Text | fastwebsockets::OpCode::Binary => {
                // The frame as read keeps the client's mask bit; a server must not send it.
                let echo = fastwebsockets::Frame::new(true, frame.opcode, None, frame.payload);
                if ws.write_frame(echo).await.is_err() {
                    return;
                }
            }
            _ => {}
        }
    }
}
