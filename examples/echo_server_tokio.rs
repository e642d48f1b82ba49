//! An echo server on the tokio adapter, a task per connection.
//!
//! ```text
//! cargo run --release --features tokio --example echo_server_tokio -- 127.0.0.1:9001 [--deflate]
//! ```
//!
//! Echoes text and binary messages until the client closes; stops on
//! Ctrl-C. Incoming messages are echoed with `feed` (queued) and written
//! with one `flush` once no more input is ready, so a burst of small
//! messages costs one write, not one per message.
//!
//! It keeps serving when `accept` fails (out of descriptors: it waits
//! 100 ms and tries again), and answers connections beyond
//! `MAX_CONNECTIONS` with `503` before the upgrade.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use futures_util::{SinkExt, StreamExt};
use wsmachine::Config;
use wsmachine::adapters::tokio::WebSocket;
use wsmachine::adapters::{AdapterError, Message};

async fn serve(tcp: tokio::net::TcpStream, config: Config) -> Result<(), AdapterError> {
    tcp.set_nodelay(true)?;
    let mut ws = WebSocket::accept(tcp, config).await?;
    while let Some(message) = ws.next().await {
        match message? {
            m @ (Message::Text(_) | Message::Binary(_)) => {
                ws.feed(m).await?;
                // Echo what else has already arrived before writing.
                while let Some(Some(more)) = futures_util::FutureExt::now_or_never(ws.next()) {
                    if let m @ (Message::Text(_) | Message::Binary(_)) = more? {
                        ws.feed(m).await?;
                    }
                }
                ws.flush().await?;
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    Ok(())
}

/// Connections served at once; more are answered `503`.
const MAX_CONNECTIONS: usize = 16_000;

/// Answers a connection beyond the limit: reads the request (briefly, so
/// that closing does not reset the socket under the answer), then `503`.
async fn refuse(mut tcp: tokio::net::TcpStream) {
    let _ = tokio::time::timeout(Duration::from_millis(200), tcp.read(&mut [0; 4096])).await;
    let answer = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let _ = tokio::time::timeout(Duration::from_millis(200), tcp.write_all(answer)).await;
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = args.iter().find(|a| !a.starts_with("--")).cloned().unwrap_or_else(|| "127.0.0.1:9001".to_owned());
    // Open to anyone: messages up to 1 MiB, a heartbeat, deadlines for
    // every wait (the limits table in `Config::public_server`'s docs).
    let mut config = Config::public_server();
    if args.iter().any(|a| a == "--deflate") {
        config.deflate = Some(wsmachine::deflate::DeflateConfig::default());
    }
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("echo server (tokio) listening on ws://{}", listener.local_addr()?);
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of descriptors or memory: keep the connections
                        // we have, try again shortly.
                        eprintln!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                if open.fetch_add(1, Ordering::Relaxed) >= MAX_CONNECTIONS {
                    open.fetch_sub(1, Ordering::Relaxed);
                    tokio::spawn(refuse(tcp));
                    continue;
                }
                let (config, open) = (config.clone(), open.clone());
                tokio::spawn(async move {
                    if let Err(e) = serve(tcp, config).await {
                        eprintln!("{peer}: {e}");
                    }
                    open.fetch_sub(1, Ordering::Relaxed);
                });
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}
