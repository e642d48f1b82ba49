//! Arbitrary bytes as the server's response to a client connection, cut at
//! arbitrary points (RFC 6455 §4.1).
//!
//! The outcome is exactly one of: Open (then frames may follow), Rejected
//! followed by Closed, Closed with a handshake error, or still waiting with
//! no more than the head limit received. Feeding the bytes whole gives the
//! same outcome, and a valid 101 for our key always opens.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsmachine::SeededRandom;
use wsmachine::{ClientRequest, Config, Connection, Event, Failure, State};

#[derive(Debug, PartialEq)]
enum Outcome {
    Open,
    Rejected(u16),
    Failed,
    Waiting,
}

fn client(config: &Config) -> Connection {
    let req = ClientRequest::new("ws://fuzz.example/").unwrap().protocol("p").unwrap();
    let mut ws = Connection::client_with_random(
        std::time::Instant::now(),
        req,
        config.clone(),
        SeededRandom::from_seed([2; 32]),
    );
    let n = ws.output_buffer().len();
    ws.advance_output(n);
    ws
}

fn run(data: &[u8], points: &[usize], config: &Config) -> Outcome {
    let mut ws = client(config);
    let mut first: Option<Outcome> = None;
    let mut closed = false;
    for w in points.windows(2) {
        ws.receive(&data[w[0]..w[1]]);
        while let Some(e) = ws.poll_event() {
            assert!(!closed, "an event after Closed");
            match (&first, e) {
                (None, Event::Open(_)) => first = Some(Outcome::Open),
                (None, Event::Rejected(r)) => first = Some(Outcome::Rejected(r.status())),
                (None, Event::Closed(c)) => {
                    assert!(matches!(c.failure, Some(Failure::Handshake(_))), "{c:?}");
                    first = Some(Outcome::Failed);
                    closed = true;
                }
                (Some(Outcome::Rejected(_)), Event::Closed(_)) => closed = true,
                (Some(Outcome::Open), Event::Closed(_)) => closed = true,
                (Some(Outcome::Open), _) => {}
                (f, e) => panic!("{e:?} after {f:?}"),
            }
        }
    }
    match first {
        Some(Outcome::Rejected(s)) => assert!(closed && ws.state() == State::Closed, "rejected {s} but not closed"),
        Some(Outcome::Open) => assert!(ws.state() >= State::Open),
        Some(Outcome::Failed) => assert_eq!(ws.state(), State::Closed),
        None | Some(Outcome::Waiting) => {
            assert_eq!(ws.state(), State::Connecting);
            assert!(data.len() <= config.max_head_size);
        }
    }
    first.unwrap_or(Outcome::Waiting)
}

// Input: a flag byte (bit 0: start with a valid 101 for our key), a cut
// count, the cuts, then the response bytes.
fuzz_target!(|input: &[u8]| {
    let Some((&flags, rest)) = input.split_first() else { return };
    let valid_prefix = flags & 1 == 1;
    let (_, tail) = wsmachine_fuzz::cuts_and_data(rest);
    let cut_bytes = &rest[..rest.len() - tail.len()];
    let mut config = Config::default();
    config.max_head_size = 2048;
    config.max_headers = 16;
    // Half the time, a correct 101 for our key comes first: the tail is then frames.
    let mut data = Vec::new();
    if valid_prefix {
        let key = {
            let req = ClientRequest::new("ws://fuzz.example/").unwrap().protocol("p").unwrap();
            let ws = Connection::client_with_random(
                std::time::Instant::now(),
                req,
                config.clone(),
                SeededRandom::from_seed([2; 32]),
            );
            let text = String::from_utf8(ws.output_buffer().to_vec()).unwrap();
            text.lines().find_map(|l| l.strip_prefix("Sec-WebSocket-Key: ")).unwrap().to_owned()
        };
        let accept = wsmachine::handshake::accept_key(key.as_bytes());
        data.extend_from_slice(
            format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n").as_bytes(),
        );
    }
    data.extend_from_slice(tail);
    // The same cuts, scaled to the response including the valid prefix.
    let mut points: Vec<usize> = cut_bytes.iter().skip(1).map(|&c| c as usize * data.len() / 255).collect();
    points.extend([0, data.len()]);
    points.sort_unstable();
    let outcome = run(&data, &points, &config);
    assert_eq!(outcome, run(&data, &[0, data.len()], &config), "cutting the input changed the outcome");
    if valid_prefix {
        assert_eq!(outcome, Outcome::Open);
    }
});
