//! RFC 6455 §4.2: the server side of the opening handshake.

mod common;
use common::*;
use std::time::Duration;
use wsmachine::{Accept, Config, Connection, DecisionError, Event, HandshakeError, Reject, State};

const GOOD: &str = "GET /chat?room=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Extensions: x-foo; a=1, x-bar\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

fn respond(request: &str, config: Config) -> (String, Vec<Ev>) {
    let mut server = Connection::server(t0(), config);
    server.receive(request.as_bytes());
    let evs = events(&mut server);
    (String::from_utf8_lossy(&take_output(&mut server)).into_owned(), evs)
}

/// The request is answered by the connection with `status` and closed.
fn assert_refused(request: &str, status: u16, error: HandshakeError) -> String {
    let (response, evs) = respond(request, Config::default());
    assert!(response.starts_with(&format!("HTTP/1.1 {status} ")), "{response}");
    assert!(response.contains("Connection: close\r\n"), "{response}");
    match evs.as_slice() {
        [Ev::Closed { failure: Some(e), clean: false, .. }] => assert_eq!(e, &wsmachine::Failure::Handshake(error)),
        other => panic!("{other:?}"),
    }
    response
}

fn without(header: &str) -> String {
    GOOD.lines().filter(|l| !l.starts_with(header)).map(|l| format!("{l}\r\n")).collect()
}

fn replace(header: &str, value: &str) -> String {
    GOOD.replace(&GOOD[GOOD.find(header).unwrap()..].lines().next().unwrap().to_owned(), &format!("{header}: {value}"))
}

#[test]
fn rfc6455_4_2_1_valid_request_is_reported_with_its_parts() {
    let mut server = Connection::server(t0(), Config::default());
    server.receive(GOOD.as_bytes());
    match server.poll_event() {
        Some(Event::Request(req)) => {
            assert_eq!(req.method(), "GET");
            assert_eq!((req.path(), req.query()), ("/chat", Some("room=1")));
            assert_eq!(req.host(), Some("server.example.com"));
            assert_eq!(req.origin(), Some("http://example.com"));
            assert_eq!(req.protocols().collect::<Vec<_>>(), ["chat", "superchat"]);
            let ext: Vec<_> = req.extensions().map(|e| e.name()).collect();
            assert_eq!(ext, ["x-foo", "x-bar"]);
            assert_eq!(req.headers().len(), 8);
            assert_eq!(req.header("upgrade"), Some("websocket"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.state(), State::Connecting);
    assert!(server.poll_event().is_none(), "nothing more until the decision");
    assert!(server.pending_request().is_some());
}

/// §4.2.2: the 101 response with the accept key of the §1.3 example and the
/// chosen subprotocol.
#[test]
fn rfc6455_4_2_2_accept_response() {
    let mut server = Connection::server(t0(), Config::default());
    server.receive(GOOD.as_bytes());
    events(&mut server);
    server.accept(t0(), Accept::new().protocol("superchat").header("Set-Cookie", "id=1")).unwrap();
    let out = String::from_utf8(take_output(&mut server)).unwrap();
    assert_eq!(
        out,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: superchat\r\n\
         Set-Cookie: id=1\r\n\r\n"
    );
    assert_eq!(events(&mut server), [Ev::Open(Some("superchat".into()))]);
    assert_eq!(server.state(), State::Open);
    assert_eq!(server.protocol(), Some("superchat"));
    assert_eq!(server.accept(t0(), Accept::new()), Err(DecisionError::NoRequest));
}

#[test]
fn rfc6455_4_2_2_protocol_must_be_offered_and_headers_valid() {
    let mut server = Connection::server(t0(), Config::default());
    server.receive(GOOD.as_bytes());
    events(&mut server);
    assert_eq!(
        server.accept(t0(), Accept::new().protocol("other")),
        Err(DecisionError::ProtocolNotOffered("other".into()))
    );
    assert!(matches!(
        server.accept(t0(), Accept::new().header("Sec-WebSocket-Accept", "x")),
        Err(DecisionError::InvalidHeader(_))
    ));
    assert!(matches!(server.accept(t0(), Accept::new().header("X", "a\r\nb")), Err(DecisionError::InvalidHeader(_))));
    assert!(server.output_buffer().is_empty(), "failed decisions write nothing");
    server.accept(t0(), Accept::new()).unwrap();
}

#[test]
fn reject_with_any_status_headers_and_body() {
    let mut server = Connection::server(t0(), Config::default());
    server.receive(GOOD.as_bytes());
    events(&mut server);
    assert_eq!(server.reject(t0(), Reject::status(101)), Err(DecisionError::InvalidStatus(101)));
    server.reject(t0(), Reject::status(403).header("X-Why", "origin").body("no")).unwrap();
    let out = String::from_utf8(take_output(&mut server)).unwrap();
    assert_eq!(out, "HTTP/1.1 403 Forbidden\r\nX-Why: origin\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno");
    assert!(matches!(events(&mut server).as_slice(), [Ev::Closed { failure: None, clean: false, .. }]));
    assert!(server.should_close_transport());
    assert_eq!(server.sender().send_text("x"), Err(wsmachine::SendError::Closed(wsmachine::Initiator::Local)));
}

/// Requests cut into any pieces parse the same; bytes after the head are frames.
#[test]
fn request_split_anywhere_and_frames_after_head_kept() {
    let frame = client_frame(0x81, b"early");
    let mut bytes = GOOD.as_bytes().to_vec();
    bytes.extend_from_slice(&frame);
    for split in 1..bytes.len() {
        let mut server = Connection::server(t0(), Config::default());
        server.receive(&bytes[..split]);
        let mut evs = events(&mut server);
        server.receive(&bytes[split..]);
        evs.extend(events(&mut server));
        assert_eq!(evs, [Ev::Request("/chat?room=1".into())], "split {split}");
        server.accept(t0(), Accept::new()).unwrap();
        assert_eq!(events(&mut server), [Ev::Open(None), Ev::Text("early".into())], "split {split}");
    }
    // One byte at a time.
    let mut server = Connection::server(t0(), Config::default());
    let mut evs = Vec::new();
    for b in &bytes {
        server.receive(std::slice::from_ref(b));
        evs.extend(events(&mut server));
    }
    assert_eq!(evs, [Ev::Request("/chat?room=1".into())]);
}

#[test]
fn rfc6455_4_2_1_method_must_be_get_405() {
    let r = assert_refused(&GOOD.replacen("GET", "POST", 1), 405, HandshakeError::MethodNotGet);
    assert!(r.contains("Allow: GET\r\n"));
}

#[test]
fn rfc6455_4_2_1_http_1_1_required_400() {
    assert_refused(&GOOD.replacen("HTTP/1.1", "HTTP/1.0", 1), 400, HandshakeError::HttpVersion);
}

#[test]
fn rfc6455_4_2_1_host_required_400() {
    assert_refused(&without("Host"), 400, HandshakeError::InvalidHost);
    let twice = GOOD.replacen("Host: server.example.com\r\n", "Host: a\r\nHost: b\r\n", 1);
    assert_refused(&twice, 400, HandshakeError::InvalidHost);
}

/// §4.2.1 item 1 and §3: the target is a resource name or an absolute
/// http(s)/ws(s) URI, whose path and query are the resource's.
#[test]
fn rfc6455_4_2_1_target_is_a_resource_name_400() {
    for target in ["chat", "*", "ftp://server.example.com/chat", "server.example.com:80"] {
        let request = GOOD.replacen("/chat?room=1", target, 1);
        assert_refused(&request, 400, HandshakeError::InvalidTarget);
    }
    for (target, path, query) in [
        ("http://server.example.com/chat?room=1", "/chat", Some("room=1")),
        ("wss://server.example.com", "/", None),
        ("ws://server.example.com?x", "/", Some("x")),
    ] {
        let mut server = Connection::server(t0(), Config::default());
        server.receive(GOOD.replacen("/chat?room=1", target, 1).as_bytes());
        let Some(Event::Request(req)) = server.poll_event() else { panic!("{target} refused") };
        assert_eq!((req.path(), req.query()), (path, query), "{target}");
    }
}

/// §4.2.1 item 2: an empty `Host` is no host.
#[test]
fn rfc6455_4_2_1_empty_host_400() {
    assert_refused(&replace("Host", ""), 400, HandshakeError::InvalidHost);
    assert_refused(&replace("Host", "  "), 400, HandshakeError::InvalidHost);
}

/// A GET upgrade carries no body: one announced (its bytes would be read
/// as frames) is refused; `Content-Length: 0` is no body.
#[test]
fn rfc6455_4_1_request_with_a_body_400() {
    let with = |header: &str| GOOD.replacen("\r\n\r\n", &format!("\r\n{header}\r\n\r\n"), 1);
    assert_refused(&with("Content-Length: 5"), 400, HandshakeError::Malformed("request with a body"));
    assert_refused(&with("Transfer-Encoding: chunked"), 400, HandshakeError::Malformed("request with a body"));
    let (response, _) = respond(&with("Content-Length: 0"), Config::default());
    assert!(response.is_empty(), "no body: waits for the decision, {response}");
}

/// §4.2.1 item 6: one `Sec-WebSocket-Version`; a second field, even one
/// that is not UTF-8, is refused rather than skipped.
#[test]
fn rfc6455_4_2_1_repeated_version_400() {
    let mut request = GOOD.as_bytes().to_vec();
    let at = request.len() - 2;
    request.splice(at..at, b"Sec-WebSocket-Version: \xff\r\n".iter().copied());
    let mut server = Connection::server(t0(), Config::default());
    server.receive(&request);
    assert!(matches!(
        events(&mut server).as_slice(),
        [Ev::Closed { failure: Some(wsmachine::Failure::Handshake(HandshakeError::Malformed(_))), .. }]
    ));
    assert!(String::from_utf8_lossy(server.output_buffer()).starts_with("HTTP/1.1 400 "));
    assert_refused(
        &GOOD.replacen("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 13, 13", 1),
        426,
        HandshakeError::UnsupportedVersion,
    );
}

#[test]
fn rfc6455_4_2_1_upgrade_websocket_required_400() {
    assert_refused(&without("Upgrade"), 400, HandshakeError::MissingUpgrade);
    assert_refused(&replace("Upgrade", "h2c"), 400, HandshakeError::MissingUpgrade);
    // Tokens are case-insensitive.
    let (response, _) = respond(&replace("Upgrade", "WebSocket"), Config::default());
    assert!(response.is_empty());
}

#[test]
fn rfc6455_4_2_1_connection_upgrade_required_400() {
    assert_refused(&without("Connection"), 400, HandshakeError::MissingConnectionUpgrade);
    assert_refused(&replace("Connection", "keep-alive"), 400, HandshakeError::MissingConnectionUpgrade);
    let (response, evs) = respond(&replace("Connection", "keep-alive, upgrade"), Config::default());
    assert!(response.is_empty() && matches!(evs[0], Ev::Request(_)));
}

#[test]
fn rfc6455_4_2_1_key_must_be_16_bytes_base64_400() {
    assert_refused(&without("Sec-WebSocket-Key"), 400, HandshakeError::InvalidKey);
    assert_refused(&replace("Sec-WebSocket-Key", "c2hvcnQ="), 400, HandshakeError::InvalidKey);
    assert_refused(&replace("Sec-WebSocket-Key", "!!!!!!!!!!!!!!!!!!!!!!=="), 400, HandshakeError::InvalidKey);
    // 24 characters that are 18 and 17 bytes, not 16.
    assert_refused(&replace("Sec-WebSocket-Key", "QUFBQUFBQUFBQUFBQUFBQUFB"), 400, HandshakeError::InvalidKey);
    assert_refused(&replace("Sec-WebSocket-Key", "QUFBQUFBQUFBQUFBQUFBQUE="), 400, HandshakeError::InvalidKey);
    // 16 bytes: accepted.
    let (_, evs) = respond(&replace("Sec-WebSocket-Key", "QUFBQUFBQUFBQUFBQUFBQQ=="), Config::default());
    assert!(matches!(evs[0], Ev::Request(_)), "{evs:?}");
}

#[test]
fn rfc6455_4_2_1_version_missing_400() {
    assert_refused(&without("Sec-WebSocket-Version"), 400, HandshakeError::MissingVersion);
}

/// §4.4: another version gets 426 and the versions we support.
#[test]
fn rfc6455_4_4_other_version_426() {
    let r = assert_refused(&replace("Sec-WebSocket-Version", "8"), 426, HandshakeError::UnsupportedVersion);
    assert!(r.contains("Sec-WebSocket-Version: 13\r\n"), "{r}");
}

#[test]
fn malformed_request_400() {
    assert_refused("GET / HTTP/1.1\r\nBad Header\r\n\r\n", 400, HandshakeError::Malformed("invalid header name"));
    assert_refused("\x01\x02\x03\r\n\r\n", 400, HandshakeError::Malformed("invalid token"));
}

#[test]
fn head_size_and_header_count_limits_431() {
    let mut config = Config::default();
    config.max_head_size = 200;
    let long = GOOD.replacen("Origin: http://example.com", &format!("Origin: {}", "x".repeat(300)), 1);
    let (response, _) = respond(&long, config.clone());
    assert!(response.starts_with("HTTP/1.1 431 "), "{response}");
    // Without an end in sight, the limit still applies as bytes arrive.
    let (response, _) = respond(&"X".repeat(201), config);
    assert!(response.starts_with("HTTP/1.1 431 "), "{response}");

    let mut config = Config::default();
    config.max_headers = 4;
    let (response, evs) = respond(GOOD, config);
    assert!(response.starts_with("HTTP/1.1 431 "), "{response}");
    assert!(matches!(
        &evs[0],
        Ev::Closed { failure: Some(wsmachine::Failure::Handshake(HandshakeError::TooManyHeaders { limit: 4 })), .. }
    ));

    // More header fields than the parser keeps on the stack (64): allowed
    // up to the limit, 431 past it.
    let extra: String = (0..90).map(|i| format!("X-Extra-{i}: {i}\r\n")).collect();
    let many = GOOD.replacen("Origin:", &format!("{extra}Origin:"), 1);
    let mut config = Config::default();
    config.max_headers = 100;
    let mut server = Connection::server(t0(), config.clone());
    server.receive(many.as_bytes());
    assert_eq!(events(&mut server), [Ev::Request("/chat?room=1".into())]);
    assert_eq!(server.pending_request().unwrap().headers().len(), 98);
    assert_eq!(server.pending_request().unwrap().header("x-extra-89"), Some("89"));
    config.max_headers = 97; // the request has 98
    let (response, evs) = respond(&many, config);
    assert!(response.starts_with("HTTP/1.1 431 "), "{response}");
    assert!(matches!(
        &evs[0],
        Ev::Closed { failure: Some(wsmachine::Failure::Handshake(HandshakeError::TooManyHeaders { limit: 97 })), .. }
    ));
}

#[test]
fn eof_during_handshake_closes_without_response() {
    let mut server = Connection::server(t0(), Config::default());
    server.receive(&GOOD.as_bytes()[..20]);
    server.receive_eof();
    assert!(matches!(
        events(&mut server).as_slice(),
        [Ev::Closed { failure: Some(wsmachine::Failure::Handshake(HandshakeError::Eof)), .. }]
    ));
    assert!(server.output_buffer().is_empty());
    assert!(server.should_close_transport());
}

#[test]
fn eof_while_awaiting_the_decision_closes() {
    let mut server = Connection::server(t0(), Config::default());
    server.receive(GOOD.as_bytes());
    assert_eq!(events(&mut server).len(), 1);
    server.receive_eof();
    assert!(matches!(
        events(&mut server).as_slice(),
        [Ev::Closed { failure: Some(wsmachine::Failure::Handshake(HandshakeError::Eof)), .. }]
    ));
    assert_eq!(server.accept(t0(), Accept::new()), Err(DecisionError::NoRequest));
    assert!(server.should_close_transport());
}

/// §4.1 (a client waits for the response before it sends data): what
/// arrives while the decision is pending is kept for after it, up to
/// `max_head_size`; past that the connection answers 400 and fails, so a
/// client cannot grow the input while the application decides.
#[test]
fn rfc6455_4_1_data_before_the_decision_is_bounded() {
    let mut config = Config::default();
    config.max_head_size = 1024;
    let mut server = Connection::server(t0(), config);
    server.receive(GOOD.as_bytes());
    assert_eq!(events(&mut server).len(), 1, "the request");
    server.receive(&client_frame(0x82, &[1; 1000]));
    assert!(events(&mut server).is_empty(), "within the limit: kept");
    server.receive(&client_frame(0x82, &[2; 100]));
    assert!(matches!(
        events(&mut server).as_slice(),
        [Ev::Closed { failure: Some(wsmachine::Failure::Handshake(HandshakeError::EarlyData { limit: 1024 })), .. }]
    ));
    assert!(String::from_utf8_lossy(server.output_buffer()).starts_with("HTTP/1.1 400 "));
    assert_eq!(server.accept(t0(), Accept::new()), Err(DecisionError::NoRequest));
    assert!(server.buffer_capacity() <= 4096, "the input was dropped: {}", server.buffer_capacity());
}

/// §4.2.1 and the handshake timeout: it starts when the connection is
/// created (at the `now` its constructor is given); a request still
/// incomplete when it runs out is answered 408.
#[test]
fn handshake_timeout_408_when_request_incomplete() {
    let mut config = Config::default();
    config.handshake_timeout = Some(Duration::from_secs(5));
    let t0 = t0();
    let mut server = Connection::server(t0, config);
    assert_eq!(server.poll_timeout(), Some(t0 + Duration::from_secs(5)), "armed at creation");
    server.receive(b"GET / HT");
    server.handle_timeout(t0 + Duration::from_secs(4));
    assert!(events(&mut server).is_empty());
    server.handle_timeout(t0 + Duration::from_secs(5));
    assert!(matches!(
        events(&mut server).as_slice(),
        [Ev::Closed { failure: Some(wsmachine::Failure::HandshakeTimeout), .. }]
    ));
    assert!(String::from_utf8(take_output(&mut server)).unwrap().starts_with("HTTP/1.1 408 "));
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn handshake_timeout_covers_the_applications_decision() {
    let mut config = Config::default();
    config.handshake_timeout = Some(Duration::from_secs(5));
    let t0 = t0();
    let mut server = Connection::server(t0, config);
    server.handle_timeout(t0);
    server.receive(GOOD.as_bytes());
    assert_eq!(events(&mut server).len(), 1);
    server.handle_timeout(t0 + Duration::from_secs(6));
    assert!(matches!(
        events(&mut server).as_slice(),
        [Ev::Closed { failure: Some(wsmachine::Failure::HandshakeTimeout), .. }]
    ));
    assert!(server.output_buffer().is_empty(), "no response once a decision was pending");
    assert_eq!(server.accept(t0, Accept::new()), Err(DecisionError::NoRequest));
}

/// The standalone API: parse, check and answer without a Connection.
#[test]
fn standalone_request_parsing() {
    use wsmachine::handshake::{RequestHead, check_request, write_accept};
    assert!(RequestHead::parse(&GOOD.as_bytes()[..30], 64).unwrap().is_none());
    let (head, len) = RequestHead::parse(GOOD.as_bytes(), 64).unwrap().unwrap();
    assert_eq!(len, GOOD.len());
    check_request(&head.request()).unwrap();
    let mut out = Vec::new();
    write_accept(&mut out, &head.request(), &Accept::new()).unwrap();
    assert!(String::from_utf8(out).unwrap().contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
}
