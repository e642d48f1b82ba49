//! An echo server on the blocking adapter, a thread per connection.
//!
//! ```text
//! cargo run --release --features blocking --example echo_server -- 127.0.0.1:9001 [--deflate]
//! ```
//!
//! Every text message comes back as text, every binary message as binary,
//! until the client closes. A heartbeat Ping goes out after 30 s of silence
//! (answered Pongs keep the connection; none within 20 s drops it). With
//! `--deflate`, offers of permessage-deflate are accepted.

use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use wsmachine::adapters::blocking::WebSocket;
use wsmachine::adapters::{AdapterError, Message};
use wsmachine::{Accept, Config, Request};

fn serve(stream: TcpStream, deflate: bool) -> Result<(), AdapterError> {
    stream.set_nodelay(true)?;
    let peer = stream.peer_addr()?;
    let mut config = Config::default();
    config.ping_interval = Some(Duration::from_secs(30));
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

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let deflate = args.iter().any(|a| a == "--deflate");
    let addr = args.iter().find(|a| !a.starts_with("--")).cloned().unwrap_or_else(|| "127.0.0.1:9001".to_owned());
    let listener = TcpListener::bind(&addr)?;
    eprintln!("echo server listening on ws://{}", listener.local_addr()?);
    for stream in listener.incoming() {
        let stream = stream?;
        std::thread::spawn(move || {
            if let Err(e) = serve(stream, deflate) {
                eprintln!("connection ended: {e}");
            }
        });
    }
    Ok(())
}
