//! What a peer can make one connection hold, under the defaults and under
//! `Config::public_server()`: the figures in `Config::public_server`'s docs.

mod common;
use common::*;
use std::time::Duration;
use wsmachine::{CloseCode, Config, Failure};

const MIB: usize = 1 << 20;

/// A message in progress holds at most the message limit in the reassembly
/// and one frame in the input; a byte more fails with 1009. Once it is
/// delivered and a small frame follows, at most `max_retained_buffer` is
/// kept by each buffer.
fn message_memory(config: Config, message: usize, frame: usize, retain: usize) {
    let mut server = open_server(config);
    let fragments = message / frame;
    for i in 0..fragments {
        let opcode = if i == 0 { 0x02 } else { 0x00 };
        let fin = if i + 1 == fragments { 0x80 } else { 0 };
        server.receive(&client_frame(opcode | fin, &vec![7; frame]));
        if i + 1 < fragments {
            assert!(events(&mut server).is_empty());
            assert!(server.buffer_capacity() <= message + frame + 4096, "{}", server.buffer_capacity());
        }
    }
    assert!(matches!(events(&mut server).as_slice(), [Ev::Binary(b)] if b.len() == message));
    server.receive(&client_frame(0x82, b"small"));
    assert_eq!(events(&mut server).len(), 1);
    assert!(server.buffer_capacity() <= 2 * retain, "kept {}", server.buffer_capacity());
    // One byte over the message limit fails at once, on the header.
    server.receive(&client_frame(0x02, &vec![7; frame]));
    let mut header = vec![0x80, 0xff];
    header.extend_from_slice(&((message - frame + 1) as u64).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    server.receive(&header);
    assert!(matches!(events(&mut server).as_slice(), [Ev::Closed { code: CloseCode::MESSAGE_TOO_BIG, .. }]));
}

#[test]
fn public_server_message_memory() {
    message_memory(Config::public_server(), MIB, 64 << 10, 256 << 10);
}

#[test]
fn default_message_memory() {
    message_memory(Config::default(), 64 * MIB, 16 * MIB, 4 * MIB);
}

/// By default and under `public_server`, a silent (or vanished) peer is
/// dropped within 50 s: a Ping after 30 s of silence, 20 s to answer
/// (RFC 6455 §5.5.2, §5.5.3).
#[test]
fn a_silent_peer_is_dropped_within_50_s_by_default() {
    // A vanished peer: sends nothing, not even its own heartbeat, and reads nothing.
    let mut vanished = Config::default();
    vanished.ping_interval = None;
    for server in [Config::default(), Config::public_server()] {
        let mut pair = Pair::new(vanished.clone(), server);
        pair.deafen(Side::Client);
        pair.advance(Duration::from_secs(49));
        assert!(pair.events(Side::Server).is_empty());
        pair.advance(Duration::from_secs(1));
        assert!(matches!(
            pair.events(Side::Server).as_slice(),
            [Ev::Closed { failure: Some(Failure::PongTimeout), .. }]
        ));
    }
}

/// Under `public_server`, a started message must be finished within 30 s.
#[test]
fn public_server_bounds_a_trickled_message_to_30_s() {
    let mut server = open_server(Config::public_server());
    let frame = client_frame(0x82, &vec![1; 1000]);
    server.receive(&frame[..100]);
    assert!(events(&mut server).is_empty());
    server.handle_timeout(t0());
    for s in 1..30 {
        server.receive(&frame[99 + s..100 + s]);
        assert!(events(&mut server).is_empty());
        server.handle_timeout(t0() + Duration::from_secs(s as u64));
        assert!(server.closed().is_none(), "at {s} s");
    }
    server.handle_timeout(t0() + Duration::from_secs(30));
    assert_eq!(server.closed().and_then(|c| c.failure.clone()), Some(Failure::MessageTimeout));
}
