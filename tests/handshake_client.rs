//! RFC 6455 §4.1: the client side of the opening handshake.

mod common;
use common::*;
use wsmachine::handshake::accept_key;
use wsmachine::{ClientRequest, Config, Connection, Event, Failure, HandshakeError, SendError, State};

/// A client with a fixed key, and the accept value a server must answer.
fn client(req: ClientRequest) -> (Connection, String) {
    let mut c = Connection::client_with_random(t0(), req, Config::default(), seeded(1));
    let request = String::from_utf8(take_output(&mut c)).unwrap();
    let key = request.lines().find_map(|l| l.strip_prefix("Sec-WebSocket-Key: ")).unwrap().to_owned();
    (c, accept_key(key.as_bytes()))
}

fn basic() -> (Connection, String) {
    client(
        ClientRequest::new("ws://example.com/chat").unwrap().protocol("chat").unwrap().extension("x-foo; a=1").unwrap(),
    )
}

fn response(accept: &str, extra: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n{extra}\r\n"
    )
}

fn handshake_error(c: &mut Connection) -> HandshakeError {
    match events(c).as_slice() {
        [Ev::Closed { failure: Some(Failure::Handshake(e)), clean: false, .. }] => e.clone(),
        other => panic!("{other:?}"),
    }
}

/// §4.1: the request carries a fresh 16-byte key from the CSPRNG.
#[test]
fn rfc6455_4_1_request_and_random_key() {
    let req = ClientRequest::new("ws://example.com:8080/a?b=c").unwrap().header("Origin", "http://x").unwrap();
    let mut a = Connection::client(t0(), req.clone(), Config::default()).unwrap();
    let mut b = Connection::client(t0(), req, Config::default()).unwrap();
    let (ra, rb) = (String::from_utf8(take_output(&mut a)).unwrap(), String::from_utf8(take_output(&mut b)).unwrap());
    assert!(
        ra.starts_with(
            "GET /a?b=c HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        ),
        "{ra}"
    );
    assert!(ra.contains("Sec-WebSocket-Version: 13\r\nOrigin: http://x\r\n\r\n"));
    let key = |r: &str| r.lines().find_map(|l| l.strip_prefix("Sec-WebSocket-Key: ")).unwrap().to_owned();
    assert_ne!(key(&ra), key(&rb), "keys are random per connection");
    use base64::Engine as _;
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(key(&ra)).unwrap().len(), 16);
    assert_eq!(a.state(), State::Connecting);
    assert_eq!(a.sender().send_text("early"), Err(SendError::NotOpen));
}

#[test]
fn rfc6455_4_1_valid_response_opens_and_keeps_following_frames() {
    let bytes_for = |accept: &str| {
        let mut bytes = response(accept, "Sec-WebSocket-Protocol: chat\r\nSet-Cookie: a=b\r\n").into_bytes();
        bytes.extend_from_slice(&server_frame(0x81, b"first"));
        bytes
    };
    let (mut c, accept) = basic();
    let bytes = bytes_for(&accept);
    for split in 1..bytes.len() {
        let (mut c, accept) = basic();
        let bytes = bytes_for(&accept);
        c.receive(&bytes[..split]);
        let mut evs = events(&mut c);
        c.receive(&bytes[split..]);
        evs.extend(events(&mut c));
        assert_eq!(evs, [Ev::Open(Some("chat".into())), Ev::Text("first".into())], "split {split}");
    }
    c.receive(&bytes);
    match c.poll_event() {
        Some(Event::Open(open)) => {
            assert_eq!(open.protocol(), Some("chat"));
            assert_eq!(open.response().unwrap().header("set-cookie"), Some("a=b"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.state(), State::Open);
    assert_eq!(c.protocol(), Some("chat"));
}

/// A non-101 answer is reported whole (for redirects and auth), then closed.
#[test]
fn non_101_reported_with_status_and_headers() {
    let (mut c, _) = basic();
    c.receive(b"HTTP/1.1 302 Found\r\nLocation: ws://elsewhere/\r\nContent-Length: 0\r\n\r\n");
    match c.poll_event() {
        Some(Event::Rejected(r)) => {
            assert_eq!((r.status(), r.reason()), (302, "Found"));
            assert_eq!(r.header("location"), Some("ws://elsewhere/"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(handshake_error(&mut c), HandshakeError::Rejected { status: 302 });
    assert!(c.should_close_transport());
    assert_eq!(c.state(), State::Closed);
}

#[test]
fn rfc6455_4_1_accept_must_match() {
    let (mut c, _) = basic();
    c.receive(response("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "").as_bytes());
    assert_eq!(handshake_error(&mut c), HandshakeError::InvalidAccept);
    let (mut c, _) = basic();
    c.receive(b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    assert_eq!(handshake_error(&mut c), HandshakeError::InvalidAccept);
}

/// §4.1: the response is HTTP/1.1 or later; a `101` in HTTP/1.0, which has
/// no such status, fails the handshake.
#[test]
fn rfc6455_4_1_a_101_from_http_1_0_fails() {
    let (mut c, accept) = basic();
    c.receive(response(&accept, "Sec-WebSocket-Protocol: chat\r\n").replacen("HTTP/1.1", "HTTP/1.0", 1).as_bytes());
    assert_eq!(handshake_error(&mut c), HandshakeError::HttpVersion);
}

#[test]
fn rfc6455_4_1_upgrade_and_connection_tokens_required() {
    let (mut c, accept) = basic();
    c.receive(response(&accept, "").replace("Upgrade: websocket\r\n", "").as_bytes());
    assert_eq!(handshake_error(&mut c), HandshakeError::MissingUpgrade);
    let (mut c, accept) = basic();
    c.receive(response(&accept, "").replace("Connection: Upgrade", "Connection: close").as_bytes());
    assert_eq!(handshake_error(&mut c), HandshakeError::MissingConnectionUpgrade);
}

#[test]
fn rfc6455_4_1_protocol_must_have_been_offered() {
    let (mut c, accept) = basic();
    c.receive(response(&accept, "Sec-WebSocket-Protocol: other\r\n").as_bytes());
    assert_eq!(handshake_error(&mut c), HandshakeError::UnofferedProtocol("other".into()));
    let (mut c, accept) = client(ClientRequest::new("ws://h/").unwrap());
    c.receive(response(&accept, "Sec-WebSocket-Protocol: chat\r\n").as_bytes());
    assert_eq!(handshake_error(&mut c), HandshakeError::UnofferedProtocol("chat".into()));
    // Offered but not chosen: fine.
    let (mut c, accept) = basic();
    c.receive(response(&accept, "").as_bytes());
    assert_eq!(events(&mut c), [Ev::Open(None)]);
}

#[test]
fn rfc6455_4_1_extensions_must_have_been_offered() {
    let (mut c, accept) = basic();
    c.receive(response(&accept, "Sec-WebSocket-Extensions: permessage-deflate\r\n").as_bytes());
    assert_eq!(handshake_error(&mut c), HandshakeError::UnofferedExtension("permessage-deflate".into()));
    let (mut c, accept) = basic();
    c.receive(response(&accept, "Sec-WebSocket-Extensions: x-foo\r\n").as_bytes());
    match c.poll_event() {
        Some(Event::Open(o)) => assert_eq!(o.response().unwrap().header("sec-websocket-extensions"), Some("x-foo")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn response_limits_and_eof() {
    let (mut c, _) = basic();
    c.receive(&vec![b'X'; Config::default().max_head_size + 1]);
    assert!(matches!(handshake_error(&mut c), HandshakeError::HeadTooLarge { .. }));
    let (mut c, _) = basic();
    c.receive(b"HTTP/1.1 101 Switching");
    c.receive_eof();
    assert_eq!(handshake_error(&mut c), HandshakeError::Eof);
    let (mut c, _) = basic();
    c.receive(b"NOT HTTP\r\n\r\n");
    assert!(matches!(handshake_error(&mut c), HandshakeError::Malformed(_)));

    // Header fields past the 64 the parser keeps on the stack: counted
    // against `max_headers` all the same.
    let extra: String = (0..70).map(|i| format!("X-Extra-{i}: {i}\r\n")).collect();
    for (max_headers, opens) in [(73, true), (72, false)] {
        let mut config = Config::default();
        config.max_headers = max_headers;
        let req = ClientRequest::new("ws://example.com/chat").unwrap();
        let mut c = Connection::client_with_random(t0(), req, config, seeded(1));
        let request = String::from_utf8(take_output(&mut c)).unwrap();
        let key = request.lines().find_map(|l| l.strip_prefix("Sec-WebSocket-Key: ")).unwrap().to_owned();
        // Upgrade, Connection, Sec-WebSocket-Accept and 70 more: 73 fields.
        c.receive(response(&accept_key(key.as_bytes()), &extra).as_bytes());
        if opens {
            assert!(matches!(events(&mut c).as_slice(), [Ev::Open(None)]));
        } else {
            assert_eq!(handshake_error(&mut c), HandshakeError::TooManyHeaders { limit: 72 });
        }
    }
}

#[test]
fn rfc6455_4_1_server_request_roundtrip() {
    // Our client's request passes our server's checks, subprotocol included.
    let req = ClientRequest::new("ws://localhost:9001/x").unwrap().protocol("p1").unwrap().protocol("p2").unwrap();
    let mut c = Connection::client_with_random(t0(), req, Config::default(), seeded(2));
    let mut s = Connection::server(t0(), Config::default());
    transfer(&mut c, &mut s);
    match s.poll_event() {
        Some(Event::Request(r)) => {
            assert_eq!(r.host(), Some("localhost:9001"));
            assert_eq!(r.protocols().collect::<Vec<_>>(), ["p1", "p2"]);
        }
        other => panic!("{other:?}"),
    }
    s.accept(t0(), wsmachine::Accept::new().protocol("p2")).unwrap();
    transfer(&mut s, &mut c);
    assert_eq!(events(&mut c), [Ev::Open(Some("p2".into()))]);
}

/// Found by fuzzing (handshake_client): a status line without a reason
/// phrase panicked while locating the reason in the head.
#[test]
fn regression_status_line_without_reason_phrase() {
    let (mut c, accept) = basic();
    c.receive(response(&accept, "").replace("101 Switching Protocols", "101").as_bytes());
    assert_eq!(events(&mut c), [Ev::Open(None)]);
    let (mut c, _) = basic();
    c.receive(b"HTTP/1.1 404\r\n\r\n");
    match c.poll_event() {
        Some(Event::Rejected(r)) => assert_eq!((r.status(), r.reason()), (404, "")),
        other => panic!("{other:?}"),
    }
}
