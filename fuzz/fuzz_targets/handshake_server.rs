//! Arbitrary bytes as a handshake request to a server connection, cut at
//! arbitrary points (RFC 6455 §4.2).
//!
//! The outcome is exactly one of: a Request event (and nothing written yet;
//! accepting it writes a valid 101), an HTTP error response with a valid
//! status line and a Closed event, or still waiting with no more than the
//! head limit received. A Request may be followed by a 400 only when more
//! than the head limit arrived after the head while the decision was
//! pending (issue 22: that input is bounded). Feeding the bytes whole gives
//! the same outcome.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsmachine::handshake::HeadScanner;
use wsmachine::{Accept, Config, Connection, Event, Failure, State};

#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Request(String),
    Refused(u16),
    Waiting,
}

fn run(data: &[u8], points: &[usize], config: &Config) -> (Vec<Outcome>, Connection) {
    let mut ws = Connection::server(std::time::Instant::now(), config.clone());
    let mut events = Vec::new();
    for w in points.windows(2) {
        ws.receive(&data[w[0]..w[1]]);
        while let Some(e) = ws.poll_event() {
            events.push(match e {
                Event::Request(r) => Outcome::Request(r.target().to_owned()),
                Event::Closed(c) => match &c.failure {
                    Some(Failure::Handshake(h)) => Outcome::Refused(h.status()),
                    other => panic!("closed with {other:?}"),
                },
                other => panic!("unexpected {other:?}"),
            });
        }
    }
    (events, ws)
}

// Input: a cut count, the cuts, then the request bytes.
fuzz_target!(|input: &[u8]| {
    let (points, data) = wsmachine_fuzz::cuts_and_data(input);
    let mut config = Config::default();
    config.max_head_size = 2048;
    config.max_headers = 16;
    let (events, mut ws) = run(data, &points, &config);
    let (whole, _) = run(data, &[0, data.len()], &config);
    assert_eq!(events, whole, "cutting the input changed the outcome");
    let outcome = match &events[..] {
        [] => Outcome::Waiting,
        [one] => one.clone(),
        [Outcome::Request(_), Outcome::Refused(400)] => {
            let head = HeadScanner::default().find_end(data).expect("a request has a head");
            assert!(
                data.len() - head > config.max_head_size,
                "refused after the request with {} bytes after it",
                data.len() - head
            );
            Outcome::Refused(400)
        }
        more => panic!("{more:?}"),
    };
    match outcome {
        Outcome::Request(_) => {
            assert!(ws.output_buffer().is_empty());
            assert_eq!(ws.state(), State::Connecting);
            ws.accept(std::time::Instant::now(), Accept::new()).unwrap();
            let out = String::from_utf8(ws.output_buffer().to_vec()).unwrap();
            assert!(out.starts_with("HTTP/1.1 101 Switching Protocols\r\n") && out.ends_with("\r\n\r\n"));
            assert_eq!(ws.state(), State::Open);
        }
        Outcome::Refused(status) => {
            assert!([400, 405, 426, 431].contains(&status), "status {status}");
            let out = ws.output_buffer();
            assert!(out.starts_with(format!("HTTP/1.1 {status} ").as_bytes()));
            assert!(out.windows(4).any(|w| w == b"\r\n\r\n"));
            assert_eq!(ws.state(), State::Closed);
            let n = out.len();
            ws.advance_output(n);
            assert!(ws.should_close_transport());
        }
        Outcome::Waiting => {
            assert!(ws.output_buffer().is_empty());
            assert_eq!(ws.state(), State::Connecting);
            assert!(data.len() <= config.max_head_size, "{} bytes without a head end or a 431", data.len());
        }
    }
});
