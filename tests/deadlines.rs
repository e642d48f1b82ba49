//! No wait without a deadline: once a connection is over, output the peer
//! does not take (its receive window closed) has the close timeout to be
//! written, then it is dropped and the transport may be closed, so a peer
//! that stops reading cannot hold a connection, its socket or its buffers.

mod common;
use common::*;
use std::time::Duration;
use wsmachine::{CloseCode, Config, Connection, Failure, Reject};

/// Each test arms the timer it checks: no heartbeat unless it says so.
fn config() -> Config {
    let mut config = Config::default();
    config.close_timeout = Some(Duration::from_secs(3));
    config.ping_interval = None;
    config
}

/// The reported case: a client sends, then stops reading and sending; the
/// heartbeat fails the server's connection, whose Close (and the echoes
/// before it) the client never takes. The server gives the transport up
/// the close timeout after the failure.
#[test]
fn a_failed_connection_with_unread_output_is_given_up() {
    let mut server_config = config();
    server_config.ping_interval = Some(Duration::from_secs(30));
    server_config.pong_timeout = Duration::from_secs(20);
    // The write timeout would catch it first (see below): this is the
    // grace after a failure, whatever caused it.
    server_config.write_timeout = None;
    let mut pair = Pair::new(config(), server_config);
    pair.deafen(Side::Client);
    pair.block(Side::Server);
    pair.server.sender().send_binary(&[7; 4096]).unwrap();
    pair.advance(Duration::from_secs(50));
    assert!(matches!(pair.events(Side::Server).as_slice(), [Ev::Closed { failure: Some(Failure::PongTimeout), .. }]));
    assert!(!pair.server.output_buffer().is_empty(), "the echo, the Ping: unwritten");
    assert!(!pair.server.should_close_transport(), "the output has its grace");
    assert_eq!(pair.server.poll_timeout(), Some(pair.at(Duration::from_secs(53))), "the grace's end is a deadline");
    pair.advance(Duration::from_millis(2999));
    assert!(!pair.server.should_close_transport());
    pair.advance(Duration::from_millis(1));
    assert!(pair.server.should_close_transport(), "given up at the close timeout");
    assert!(pair.server.output_buffer().is_empty());
    assert_eq!(pair.server.buffer_capacity(), 0, "the output's memory is released");
    assert_eq!(pair.server.poll_timeout(), None, "nothing left to wait for");
}

/// RFC 6455 §7.1.1: a server that answered the peer's Close closes the
/// transport once its Close is written; a peer that sends its Close and
/// then never reads gets the same bound.
#[test]
fn rfc6455_7_1_1_a_close_reply_never_taken_is_given_up() {
    let mut pair = Pair::new(config(), config());
    pair.block(Side::Server);
    let now = pair.now;
    pair.client.sender().close(now, CloseCode::NORMAL, "").unwrap();
    pair.drive();
    assert_eq!(pair.events(Side::Server).len(), 1, "the peer's Close");
    assert!(!pair.server.should_close_transport(), "its reply is unwritten");
    pair.advance(Duration::from_secs(3));
    assert!(pair.server.should_close_transport());
}

/// Without a close timeout (`None`, the caller's choice) the output waits
/// as long as it takes: the documented exception.
#[test]
fn without_a_close_timeout_the_output_waits() {
    let mut config = config();
    config.close_timeout = None;
    let mut pair = Pair::new(config.clone(), config);
    pair.block(Side::Server);
    let now = pair.now;
    pair.client.sender().close(now, CloseCode::NORMAL, "").unwrap();
    pair.advance(Duration::from_secs(3600));
    assert!(!pair.server.should_close_transport());
    assert_eq!(pair.server.poll_timeout(), None);
}

const REQUEST: &str = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// RFC 6455 §4.2.2: a rejection counts its grace from the `now` given to
/// `reject`; a client that never reads it does not keep the socket.
#[test]
fn rfc6455_4_2_2_an_unread_rejection_is_given_up() {
    let mut server = Connection::server(t0(), config());
    server.receive(REQUEST.as_bytes());
    assert_eq!(events(&mut server).len(), 1, "the request");
    let decided = t0() + Duration::from_secs(1);
    server.reject(decided, Reject::status(403)).unwrap();
    assert!(!server.should_close_transport(), "the 403 is unwritten");
    assert_eq!(server.poll_timeout(), Some(decided + Duration::from_secs(3)));
    server.handle_timeout(decided + Duration::from_millis(2999));
    assert!(!server.should_close_transport());
    server.handle_timeout(decided + Duration::from_secs(3));
    assert!(server.should_close_transport());
    assert!(server.output_buffer().is_empty());
}

/// The handshake timeout's 408 gets the same grace, from the timeout.
#[test]
fn an_unread_408_is_given_up() {
    let mut server = Connection::server(t0(), config());
    server.receive(&REQUEST.as_bytes()[..10]);
    assert!(events(&mut server).is_empty());
    let timeout = t0() + Duration::from_secs(10);
    server.handle_timeout(timeout);
    assert!(matches!(events(&mut server).as_slice(), [Ev::Closed { failure: Some(Failure::HandshakeTimeout), .. }]));
    assert!(String::from_utf8_lossy(server.output_buffer()).starts_with("HTTP/1.1 408 "));
    assert!(!server.should_close_transport());
    server.handle_timeout(timeout + Duration::from_secs(3));
    assert!(server.should_close_transport());
}

/// A peer that stops reading but keeps sending (its Pongs would keep a
/// heartbeat happy) is caught by the write timeout: output waits and the
/// transport takes none of it for `write_timeout`. Nothing more is sent,
/// the output is dropped, the transport may be closed at once.
#[test]
fn a_peer_that_sends_but_never_reads_fails_the_write_timeout() {
    let mut server_config = config();
    server_config.write_timeout = Some(Duration::from_secs(5));
    server_config.ping_interval = Some(Duration::from_secs(2));
    let mut pair = Pair::new(config(), server_config);
    pair.block(Side::Server);
    pair.server.sender().send_binary(&[7; 4096]).unwrap();
    for _ in 0..4 {
        pair.advance(Duration::from_secs(1));
        pair.client.sender().send_text("still here").unwrap();
        assert!(pair.events(Side::Server).iter().all(|e| matches!(e, Ev::Text(_))));
    }
    pair.advance(Duration::from_secs(1));
    assert!(matches!(
        pair.events(Side::Server).as_slice(),
        [Ev::Text(_), Ev::Closed { failure: Some(Failure::WriteTimeout), clean: false, .. }]
    ));
    assert!(pair.server.output_buffer().is_empty(), "dropped, no Close added");
    assert!(pair.server.should_close_transport());
}

/// A slow reader is not a stalled one: a transport that takes a byte a
/// second never trips the write timeout; when it stops taking, the
/// timeout counts from the last progress seen.
#[test]
fn progress_resets_the_write_timeout() {
    let mut config = config();
    config.write_timeout = Some(Duration::from_secs(5));
    let mut server = open_server(config);
    server.sender().send_binary(&[1; 100]).unwrap();
    let mut now = t0();
    server.handle_timeout(now);
    assert_eq!(server.poll_timeout(), Some(now + Duration::from_secs(5)), "the write deadline");
    for _ in 0..60 {
        now += Duration::from_secs(1);
        server.advance_output(1);
        server.handle_timeout(now);
    }
    assert!(server.closed().is_none(), "slow, not stalled");
    let last = now;
    for _ in 0..4 {
        now += Duration::from_secs(1);
        server.handle_timeout(now);
    }
    assert!(server.closed().is_none());
    server.handle_timeout(last + Duration::from_secs(5));
    assert_eq!(server.closed().and_then(|c| c.failure.clone()), Some(Failure::WriteTimeout));
    // With nothing waiting (and no heartbeat) there is no deadline at all.
    let mut idle = open_server(self::config());
    idle.handle_timeout(t0());
    assert_eq!(idle.poll_timeout(), None);
}

/// A peer that trickles a message (every byte is activity, so no heartbeat
/// notices) is failed with 1008 once the message has taken
/// `message_timeout`; the Close says so and the memory it held goes.
#[test]
fn a_trickled_message_fails_the_message_timeout() {
    let mut config = config();
    config.message_timeout = Some(Duration::from_secs(60));
    let mut server = open_server(config);
    let frame = client_frame(0x82, &vec![1; 1 << 20]);
    let mut now = t0();
    server.receive(&frame[..64 << 10]);
    assert!(events(&mut server).is_empty());
    server.handle_timeout(now);
    assert_eq!(server.poll_timeout(), Some(now + Duration::from_secs(60)));
    for i in 0..5 {
        now += Duration::from_secs(10);
        server.receive(&frame[(64 << 10) + i..(64 << 10) + i + 1]);
        assert!(events(&mut server).is_empty());
        server.handle_timeout(now);
        assert!(server.closed().is_none());
    }
    server.handle_timeout(t0() + Duration::from_secs(60));
    match events(&mut server).as_slice() {
        [Ev::Closed { code, failure: Some(Failure::MessageTimeout), .. }] => {
            assert_eq!(*code, CloseCode::POLICY_VIOLATION)
        }
        other => panic!("{other:?}"),
    }
    let close = decode_all(&take_output(&mut server));
    assert_eq!(close_payload(close.last().unwrap()).0, 1008);
    assert!(server.buffer_capacity() < 64 << 10, "{}", server.buffer_capacity());
}

/// A steady stream whose reads cut frames, so that part of a message is
/// always buffered, never trips the message timeout: each message that
/// completes starts it again.
#[test]
fn a_steady_stream_never_trips_the_message_timeout() {
    let mut config = Config::default();
    config.message_timeout = Some(Duration::from_secs(5));
    let mut server = open_server(config);
    let stream: Vec<u8> = (0..400).flat_map(|i| client_frame(0x82, &[i as u8; 1000])).collect();
    let mut now = t0();
    let mut got = 0;
    for chunk in stream.chunks(1500) {
        now += Duration::from_secs(2);
        server.receive(chunk);
        got += events(&mut server).len();
        server.handle_timeout(now);
        assert!(server.closed().is_none(), "after {got} messages");
    }
    assert_eq!(got, 400);
}

/// In streaming mode messages are not buffered: no message timeout.
#[test]
fn streaming_has_no_message_timeout() {
    let mut config = Config::default();
    config.streaming = true;
    config.message_timeout = Some(Duration::from_secs(5));
    let mut server = open_server(config);
    server.receive(&client_frame(0x02, &[1; 100]));
    assert_eq!(events(&mut server).len(), 1, "the first fragment");
    server.handle_timeout(t0() + Duration::from_secs(3600));
    assert!(server.closed().is_none());
}
