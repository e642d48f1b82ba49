//! A client on the blocking adapter that sends each argument as a text
//! message, prints each echo, and closes cleanly.
//!
//! ```text
//! cargo run --release --features blocking --example echo_client -- [--deflate] ws://127.0.0.1:9001/ hello world
//! ```
//!
//! Exits non-zero if the handshake fails, an echo differs, the closing
//! handshake is not clean, or nothing arrives for 30 s. With `--deflate`,
//! permessage-deflate is offered and must be accepted.

use std::process::ExitCode;
use std::time::Duration;

use wsmachine::adapters::Message;
use wsmachine::adapters::blocking::WebSocket;
use wsmachine::{ClientRequest, CloseCode, Config};

fn run(url: &str, messages: &[String], deflate: bool) -> Result<(), Box<dyn std::error::Error>> {
    let mut config = Config::default();
    if deflate {
        config.deflate = Some(wsmachine::deflate::DeflateConfig::default());
    }
    let mut ws = WebSocket::connect(ClientRequest::new(url)?, config)?;
    if deflate && ws.connection().deflate().is_none() {
        return Err("the server did not accept permessage-deflate".into());
    }
    ws.set_read_timeout(Some(Duration::from_secs(30)));
    // Everything in one write, then the echoes.
    for m in messages {
        ws.write(Message::text(m.as_str()))?;
    }
    ws.flush()?;
    for expected in messages {
        // Pings and Pongs may come at any time (the connection answers
        // Pings itself, RFC 6455 §5.5.2): only data messages are echoes.
        let text = loop {
            match ws.read()? {
                Message::Ping(_) | Message::Pong(_) => continue,
                Message::Text(text) => break text,
                other => return Err(format!("unexpected {other:?}").into()),
            }
        };
        if &text != expected {
            return Err(format!("echo {text:?} differs from {expected:?}").into());
        }
        println!("{text}");
    }
    ws.close(CloseCode::NORMAL, "done")?;
    loop {
        match ws.read()? {
            Message::Close(Some(frame)) if frame.code == CloseCode::NORMAL => return Ok(()),
            Message::Close(other) => return Err(format!("closed with {other:?}").into()),
            _ => {}
        }
    }
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let deflate = args.first().is_some_and(|a| a == "--deflate");
    if deflate {
        args.remove(0);
    }
    let mut args = args.into_iter();
    let Some(url) = args.next() else {
        eprintln!("usage: echo_client [--deflate] ws://host:port/path message...");
        return ExitCode::from(2);
    };
    let messages: Vec<String> = args.collect();
    match run(&url, &messages, deflate) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_client: {e}");
            ExitCode::FAILURE
        }
    }
}
