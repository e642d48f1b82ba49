//! RFC 6455 §5.5.1 and §7: the closing handshake, failures and end of file.

mod common;
use common::*;
use std::time::Duration;
use wsmachine::ClosePayloadError;
use wsmachine::{CloseCode, Config, Failure, Initiator, ProtocolError, SendError, State};

fn clean(code: u16, reason: &str, initiator: Initiator) -> Ev {
    Ev::Closed { code: CloseCode(code), reason: reason.into(), clean: true, initiator, failure: None }
}

/// §7.1.2: the client closes; the server echoes the code and closes the
/// transport; the client waits for the server's EOF.
#[test]
fn rfc6455_7_client_initiated_close() {
    let (mut client, mut server) = pair();
    client.sender().close(t0(), CloseCode::NORMAL, "done").unwrap();
    assert_eq!(client.state(), State::Closing);
    assert_eq!(client.sender().send_text("x"), Err(SendError::Closed(Initiator::Local)));
    transfer(&mut client, &mut server);
    assert_eq!(events(&mut server), [clean(1000, "done", Initiator::Peer)]);
    assert_eq!(server.state(), State::Closed);
    assert_eq!(server.sender().send_text("x"), Err(SendError::Closed(Initiator::Peer)));
    let reply = decode_all(server.output_buffer());
    assert_eq!(close_payload(&reply[0]), (1000, String::new()), "§5.5.1: the code is echoed");
    assert!(!server.should_close_transport(), "the reply must be written first");
    transfer(&mut server, &mut client);
    assert!(server.should_close_transport());
    assert_eq!(events(&mut client), [clean(1000, "", Initiator::Local)]);
    assert_eq!(client.state(), State::Closed);
    assert!(!client.should_close_transport(), "§7.1.1: the client waits for the server to close");
    client.receive_eof();
    assert!(client.should_close_transport());
    assert!(events(&mut client).is_empty(), "Closed is the last event");
}

#[test]
fn rfc6455_7_server_initiated_close() {
    let (mut client, mut server) = pair();
    server.sender().close(t0(), CloseCode(4000), "bye").unwrap();
    transfer(&mut server, &mut client);
    assert_eq!(events(&mut client), [clean(4000, "bye", Initiator::Peer)]);
    let reply = decode_all(client.output_buffer());
    assert!(reply[0].mask.is_some());
    assert_eq!(close_payload(&reply[0]).0, 4000);
    transfer(&mut client, &mut server);
    assert_eq!(events(&mut server), [clean(4000, "", Initiator::Local)]);
    assert!(server.should_close_transport());
}

/// §7.1.3: both close at once; each sees the other's Close as the reply.
#[test]
fn rfc6455_7_simultaneous_close() {
    let (mut client, mut server) = pair();
    client.sender().close(t0(), CloseCode::NORMAL, "c").unwrap();
    server.sender().close(t0(), CloseCode::GOING_AWAY, "s").unwrap();
    transfer(&mut client, &mut server);
    transfer(&mut server, &mut client);
    assert_eq!(events(&mut server), [clean(1000, "c", Initiator::Local)]);
    assert_eq!(events(&mut client), [clean(1001, "s", Initiator::Local)]);
    assert!(server.output_buffer().is_empty() && client.output_buffer().is_empty(), "no third close frame");
    assert!(server.should_close_transport());
}

/// §7.1.2: after sending Close, messages still arrive until the peer's Close.
#[test]
fn messages_before_the_peers_close_are_delivered() {
    let (mut client, mut server) = pair();
    server.sender().close(t0(), CloseCode::NORMAL, "").unwrap();
    client.sender().send_text("in flight").unwrap();
    transfer(&mut client, &mut server);
    assert_eq!(events(&mut server), [Ev::Text("in flight".into())]);
    assert_eq!(server.state(), State::Closing);
}

/// §5.5.1: data after a Close is discarded.
#[test]
fn rfc6455_5_5_1_data_after_close_is_discarded() {
    let mut server = open_server(Config::default());
    let mut bytes = client_frame(0x88, &[0x03, 0xe8]);
    bytes.extend(client_frame(0x81, b"late"));
    server.receive(&bytes);
    server.receive(&client_frame(0x81, b"later"));
    assert_eq!(events(&mut server), [clean(1000, "", Initiator::Peer)]);
    assert_eq!(decode_all(&take_output(&mut server)).len(), 1);
}

/// §5.5.1 / §7.4: an empty Close is reported as 1005 and answered empty.
#[test]
fn rfc6455_7_4_empty_close_is_1005_and_echoed_empty() {
    let mut server = open_server(Config::default());
    server.receive(&client_frame(0x88, b""));
    assert_eq!(events(&mut server), [clean(1005, "", Initiator::Peer)]);
    let reply = decode_all(&take_output(&mut server));
    assert!(reply[0].payload.is_empty());
}

/// §7.4.1, Autobahn 7.3/7.9: invalid close payloads get 1002, bad UTF-8 in the reason 1007.
#[test]
fn rfc6455_7_4_invalid_close_payloads() {
    let cases: [(&[u8], ClosePayloadError); 5] = [
        (&[0x03], ClosePayloadError::TooShort),
        (&[0x03, 0xec], ClosePayloadError::InvalidCode(1004)),
        (&[0x03, 0xee], ClosePayloadError::InvalidCode(1006)),
        (&[0x00, 0x00], ClosePayloadError::InvalidCode(0)),
        (&[0x03, 0xe8, 0xff], ClosePayloadError::InvalidUtf8),
    ];
    for (payload, err) in cases {
        let mut server = open_server(Config::default());
        server.receive(&client_frame(0x88, payload));
        let error = ProtocolError::InvalidClose(err);
        assert_eq!(events(&mut server), [failed(error)]);
        let out = decode_all(&take_output(&mut server));
        let expected = if err == ClosePayloadError::InvalidUtf8 { 1007 } else { 1002 };
        assert_eq!(close_payload(&out[0]).0, expected);
        assert!(server.should_close_transport());
    }
}

/// §7.4: which codes we may send, and the reason's length.
#[test]
fn rfc6455_7_4_close_arguments_are_validated() {
    let (mut client, _) = pair();
    for bad in [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
        assert_eq!(
            client.sender().close(t0(), CloseCode(bad), ""),
            Err(SendError::InvalidClose(ClosePayloadError::InvalidCode(bad)))
        );
    }
    assert_eq!(
        client.sender().close(t0(), CloseCode::NORMAL, &"r".repeat(124)),
        Err(SendError::InvalidClose(ClosePayloadError::ReasonTooLong(124)))
    );
    assert_eq!(client.state(), State::Open, "rejected arguments change nothing");
    client.sender().close(t0(), CloseCode::NORMAL, &"r".repeat(123)).unwrap();
    assert_eq!(client.sender().close(t0(), CloseCode::NORMAL, ""), Err(SendError::Closed(Initiator::Local)));
}

/// §7.4.2 and the IANA registry (§11.7): 1012 (service restart), 1013 (try
/// again later) and 1014 (bad gateway) are sent and accepted, as browsers do.
#[test]
fn rfc6455_7_4_2_iana_codes_1012_to_1014_are_sent_and_received() {
    for code in [CloseCode::SERVICE_RESTART, CloseCode::TRY_AGAIN_LATER, CloseCode::BAD_GATEWAY] {
        let (mut client, mut server) = pair();
        server.sender().close(t0(), code, "later").unwrap();
        transfer(&mut server, &mut client);
        assert_eq!(events(&mut client), [clean(code.0, "later", Initiator::Peer)]);
        assert_eq!(close_payload(&decode_all(client.output_buffer())[0]).0, code.0, "echoed");
    }
}

/// §7.1.1 and the close timeout: a client that closed at `now` and got the
/// server's reply waits for the server's EOF the close timeout from the
/// latest time it was given, here the `now` of its `close` (no
/// `handle_timeout` since it was created).
#[test]
fn client_eof_wait_counts_from_the_time_given_to_close() {
    let (mut client, mut server) = pair();
    let t5 = t0() + Duration::from_secs(5);
    client.sender().close(t5, CloseCode::NORMAL, "").unwrap();
    transfer(&mut client, &mut server);
    events(&mut server);
    transfer(&mut server, &mut client);
    assert!(matches!(events(&mut client).as_slice(), [Ev::Closed { clean: true, .. }]));
    assert_eq!(client.poll_timeout(), Some(t5 + Duration::from_secs(10)), "not from t0");
}

/// §7.1.5: EOF without a Close is 1006, not clean; complete frames before it still count.
#[test]
fn rfc6455_7_1_5_eof_without_close_is_1006() {
    let (mut client, mut server) = pair();
    client.sender().send_text("last words").unwrap();
    transfer(&mut client, &mut server);
    server.receive(&[0x81]); // a partial frame
    server.receive_eof();
    let evs = events(&mut server);
    assert_eq!(evs[0], Ev::Text("last words".into()));
    assert_eq!(
        evs[1],
        Ev::Closed {
            code: CloseCode::ABNORMAL,
            reason: String::new(),
            clean: false,
            initiator: Initiator::Failure,
            failure: Some(Failure::UnexpectedEof)
        }
    );
    assert!(server.output_buffer().is_empty(), "nothing is sent to a gone peer");
    assert!(server.should_close_transport());
    assert_eq!(server.sender().send_text("x"), Err(SendError::Closed(Initiator::Failure)));
}

/// A failure reports the code we sent, and sending says the connection failed.
#[test]
fn failure_states_say_what_happened() {
    let mut server = open_server(Config::default());
    server.receive(&server_frame(0x81, b"unmasked"));
    assert_eq!(events(&mut server), [failed(ProtocolError::UnmaskedFrame)]);
    assert_eq!(server.state(), State::Closed);
    assert_eq!(server.closed().unwrap().code, CloseCode::PROTOCOL_ERROR);
    assert_eq!(server.sender().send_binary(b""), Err(SendError::Closed(Initiator::Failure)));
    let out = decode_all(&take_output(&mut server));
    assert_eq!(close_payload(&out[0]), (1002, "client frame not masked".into()));
}

/// §7.1.2 and the close timeout: the wait for the peer's Close is bounded,
/// and counts from the `now` given to `close`, armed at once (no call to
/// `handle_timeout` is needed to start it).
#[test]
fn close_timeout_when_peer_never_answers() {
    let mut config = Config::default();
    config.close_timeout = Some(Duration::from_secs(3));
    let mut pair = Pair::new(config.clone(), config);
    pair.deafen(Side::Server); // a server that stopped reading
    pair.advance(Duration::from_secs(1));
    let now = pair.now;
    pair.client.sender().close(now, CloseCode::NORMAL, "").unwrap();
    assert_eq!(pair.client.poll_timeout(), Some(now + Duration::from_secs(3)), "armed by close, at its `now`");
    pair.advance(Duration::from_millis(2999));
    assert!(pair.events(Side::Client).is_empty());
    pair.advance(Duration::from_millis(1));
    assert!(matches!(
        pair.events(Side::Client).as_slice(),
        [Ev::Closed { code: CloseCode::ABNORMAL, clean: false, failure: Some(Failure::CloseTimeout), .. }]
    ));
    assert!(pair.client.should_close_transport(), "its Close was written (and lost)");
}

/// §7.1.1: a client that completed the closing handshake waits for the
/// server's EOF at most the close timeout, from the time it was last given.
#[test]
fn client_waits_for_server_eof_bounded_by_close_timeout() {
    let mut config = Config::default();
    config.close_timeout = Some(Duration::from_secs(3));
    let mut pair = Pair::new(config.clone(), config);
    let now = pair.now;
    pair.server.sender().close(now, CloseCode::NORMAL, "").unwrap();
    pair.drive();
    assert_eq!(pair.events(Side::Client).len(), 1, "the server's Close");
    assert!(pair.server.should_close_transport(), "the server closes first");
    assert!(!pair.client.should_close_transport(), "the client waits for the server's EOF");
    pair.advance(Duration::from_millis(2999));
    assert!(!pair.client.should_close_transport());
    pair.advance(Duration::from_millis(1));
    assert!(pair.client.should_close_transport());
    assert!(pair.events(Side::Client).is_empty());
}
