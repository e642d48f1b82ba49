//! An echo server on the blocking adapter, a thread per connection.
//!
//! ```text
//! cargo run --release --features blocking --example echo_server -- 127.0.0.1:9001 [--deflate]
//! ```
//!
//! Every text message comes back as text, every binary message as binary,
//! until the client closes. It runs `Config::public_server()`: messages of
//! up to 1 MiB, a heartbeat Ping after 30 s of silence (answered Pongs keep
//! the connection; none within 20 s drops it), and a deadline on every wait.
//! With `--deflate`, offers of permessage-deflate are accepted.
//!
//! It keeps serving when `accept` fails (out of descriptors: it waits
//! 100 ms and tries again), and answers connections beyond
//! `MAX_CONNECTIONS` with `503` before the upgrade.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wsmachine::adapters::blocking::WebSocket;
use wsmachine::adapters::{AdapterError, Message};
use wsmachine::{Accept, Config, Request};

fn serve(stream: TcpStream, deflate: bool) -> Result<(), AdapterError> {
    stream.set_nodelay(true)?;
    let peer = stream.peer_addr()?;
    // Open to anyone: messages up to 1 MiB, a heartbeat, deadlines for
    // every wait (the limits table in `Config::public_server`'s docs).
    let mut config = Config::public_server();
    if deflate {
        config.deflate = Some(wsmachine::deflate::DeflateConfig::default());
    }
    let mut ws = WebSocket::accept_with(stream, config, |req: &Request<'_>| {
        eprintln!("{peer}: GET {}", req.target());
        Ok(Accept::new())
    })?;
    eprintln!("{peer}: open, permessage-deflate: {:?}", ws.connection().deflate());
    loop {
        match ws.read()? {
            message @ (Message::Text(_) | Message::Binary(_)) => ws.send(message)?,
            Message::Close(frame) => {
                eprintln!("{peer}: closed cleanly {frame:?}");
                return Ok(());
            }
            _ => {}
        }
    }
}

/// Connections served at once (a thread each); more are answered `503`.
const MAX_CONNECTIONS: usize = 4096;

/// Answers a connection beyond the limit: reads the request (briefly, so
/// that closing does not reset the socket under the answer), then `503`.
fn refuse(mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = stream.read(&mut [0; 4096]);
    let _ = stream.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let deflate = args.iter().any(|a| a == "--deflate");
    let addr = args.iter().find(|a| !a.starts_with("--")).cloned().unwrap_or_else(|| "127.0.0.1:9001".to_owned());
    let listener = TcpListener::bind(&addr)?;
    eprintln!("echo server listening on ws://{}", listener.local_addr()?);
    let open = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                // Out of descriptors or memory: keep the connections we
                // have, try again shortly.
                eprintln!("accept failed: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if open.fetch_add(1, Ordering::Relaxed) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::Relaxed);
            std::thread::spawn(move || refuse(stream));
            continue;
        }
        let open = open.clone();
        std::thread::spawn(move || {
            if let Err(e) = serve(stream, deflate) {
                eprintln!("connection ended: {e}");
            }
            open.fetch_sub(1, Ordering::Relaxed);
        });
    }
    Ok(())
}
