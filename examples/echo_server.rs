//! An echo server on blocking std I/O, a thread per connection.
//!
//! ```text
//! cargo run --release --example echo_server -- 127.0.0.1:9001 [--deflate]
//! ```
//!
//! Every text message comes back as text, every binary message as binary,
//! until the client closes. A heartbeat Ping goes out after 30 s of silence.
//! With `--deflate`, offers of permessage-deflate are accepted.

#[path = "support/blocking.rs"]
mod blocking;

use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use wsmachine::{Accept, Config, Connection, Event};

fn serve(mut stream: TcpStream, deflate: bool) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let peer = stream.peer_addr()?;
    let mut config = Config::default();
    config.ping_interval = Some(Duration::from_secs(30));
    if deflate {
        config.deflate = Some(wsmachine::deflate::DeflateConfig::default());
    }
    let mut ws = Connection::server(config);
    blocking::drive(&mut stream, &mut ws, |ws| {
        loop {
            let Some((event, mut tx)) = ws.poll_event_with_sender() else {
                return Ok(());
            };
            let accept = match event {
                Event::Request(req) => {
                    eprintln!("{peer}: GET {}", req.target());
                    true
                }
                Event::Open(open) => {
                    eprintln!("{peer}: open, permessage-deflate: {:?}", open.deflate());
                    false
                }
                // The payload is borrowed from the receive buffer and written
                // straight into the output buffer: no intermediate copy.
                Event::Text(text) => {
                    let _ = tx.send_text(text);
                    false
                }
                Event::Binary(data) => {
                    let _ = tx.send_binary(data);
                    false
                }
                Event::Closed(closed) => {
                    eprintln!("{peer}: closed {} {:?} clean={}", closed.code, closed.reason, closed.clean);
                    if let Some(e) = &closed.error {
                        eprintln!("{peer}: {e}");
                    }
                    false
                }
                _ => false,
            };
            if accept {
                ws.accept(Accept::new()).map_err(std::io::Error::other)?;
            }
        }
    })
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
                eprintln!("connection error: {e}");
            }
        });
    }
    Ok(())
}
