//! A client that sends each argument as a text message, prints each echo,
//! and closes cleanly.
//!
//! ```text
//! cargo run --release --example echo_client -- [--deflate] ws://127.0.0.1:9001/ hello world
//! ```
//!
//! Exits non-zero if the handshake fails, an echo differs, the closing
//! handshake is not clean, or the whole exchange takes more than 30 s. With
//! `--deflate`, permessage-deflate is offered and must be accepted.

#[path = "support/blocking.rs"]
mod blocking;

use std::io::{Error, ErrorKind};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use wsmachine::{ClientRequest, CloseCode, Config, Connection, Event, State};

fn run(url: &str, messages: &[String], deflate: bool) -> Result<(), Box<dyn std::error::Error>> {
    let request = ClientRequest::new(url)?;
    if request.is_secure() {
        return Err("wss:// needs TLS around the TCP stream, which this example does not do".into());
    }
    let mut stream = TcpStream::connect((request.host(), request.port()))?;
    stream.set_nodelay(true)?;
    let mut config = Config::default();
    if deflate {
        config.deflate = Some(wsmachine::deflate::DeflateConfig::default());
    }
    let mut ws = Connection::client(request, config)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut sent, mut echoed) = (false, 0);
    let mut failure: Option<String> = None;
    blocking::drive(&mut stream, &mut ws, |ws| {
        if Instant::now() > deadline {
            return Err(Error::new(ErrorKind::TimedOut, "no answer within 30 s"));
        }
        while let Some(event) = ws.poll_event() {
            match event {
                Event::Open(open) if deflate && open.deflate().is_none() => {
                    failure = Some("the server did not accept permessage-deflate".to_owned());
                }
                Event::Rejected(resp) => failure = Some(format!("server answered {} {}", resp.status(), resp.reason())),
                Event::Text(text) => {
                    println!("{text}");
                    if messages.get(echoed).map(String::as_str) != Some(text) {
                        failure.get_or_insert_with(|| format!("unexpected echo {text:?}"));
                    }
                    echoed += 1;
                }
                Event::Binary(data) => failure = Some(format!("unexpected binary message of {} bytes", data.len())),
                Event::Closed(closed) if !closed.clean || closed.code != CloseCode::NORMAL => {
                    let why = closed.error.as_ref().map(|e| e.to_string()).unwrap_or_default();
                    failure.get_or_insert_with(|| format!("closed with {} {}", closed.code, why));
                }
                _ => {}
            }
        }
        if ws.state() == State::Open && !sent {
            for m in messages {
                ws.send_text(m).map_err(Error::other)?;
            }
            sent = true;
        }
        if ws.state() == State::Open && echoed >= messages.len() {
            ws.close(CloseCode::NORMAL, "done").map_err(Error::other)?;
        }
        Ok(())
    })?;
    match failure {
        Some(f) => Err(f.into()),
        None if echoed == messages.len() && ws.closed().is_some_and(|c| c.clean) => Ok(()),
        None => Err(format!("{echoed} of {} messages echoed", messages.len()).into()),
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
