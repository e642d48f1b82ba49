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

use std::time::Duration;

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

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = args.iter().find(|a| !a.starts_with("--")).cloned().unwrap_or_else(|| "127.0.0.1:9001".to_owned());
    let mut config = Config::default();
    config.ping_interval = Some(Duration::from_secs(30));
    if args.iter().any(|a| a == "--deflate") {
        config.deflate = Some(wsmachine::deflate::DeflateConfig::default());
    }
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("echo server (tokio) listening on ws://{}", listener.local_addr()?);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, peer) = accepted?;
                let config = config.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve(tcp, config).await {
                        eprintln!("{peer}: {e}");
                    }
                });
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}
