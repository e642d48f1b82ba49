//! RFC 6455 §5.5.2–§5.5.3: Ping and Pong, and the timers around them.

mod common;
use common::*;
use std::time::Duration;
use wsmachine::OpCode;
use wsmachine::{Accept, ClientRequest, Config, Connection, Failure, State};

/// §5.5.2: a Ping is answered with a Pong with the same payload, and reported.
#[test]
fn rfc6455_5_5_2_ping_is_answered_and_reported() {
    let (mut client, mut server) = pair();
    client.sender().ping(b"are you there").unwrap();
    transfer(&mut client, &mut server);
    assert_eq!(events(&mut server), [Ev::Ping(b"are you there".to_vec())]);
    let out = decode_all(server.output_buffer());
    assert_eq!((out[0].opcode, out[0].payload.as_slice()), (OpCode::Pong, &b"are you there"[..]));
    transfer(&mut server, &mut client);
    assert_eq!(events(&mut client), [Ev::Pong(b"are you there".to_vec())]);
}

#[test]
fn auto_pong_can_be_turned_off() {
    let mut config = Config::default();
    config.auto_pong = false;
    let mut server = open_server(config);
    server.receive(&client_frame(0x89, b"x"));
    assert_eq!(events(&mut server), [Ev::Ping(b"x".to_vec())]);
    assert!(server.output_buffer().is_empty());
    server.sender().pong(b"x").unwrap();
    assert_eq!(decode_all(server.output_buffer())[0].opcode, OpCode::Pong);
}

/// Autobahn 2.10: ten Pings arriving together get ten Pongs, in order.
#[test]
fn rfc6455_5_5_2_every_ping_is_answered() {
    let mut server = open_server(Config::default());
    let bytes: Vec<u8> = (0..10).flat_map(|i| client_frame(0x89, format!("payload-{i}").as_bytes())).collect();
    server.receive(&bytes);
    assert_eq!(events(&mut server).len(), 10);
    let payloads: Vec<_> = decode_all(server.output_buffer()).into_iter().map(|f| f.payload).collect();
    let expected: Vec<_> = (0..10).map(|i| format!("payload-{i}").into_bytes()).collect();
    assert_eq!(payloads, expected);
}

/// §5.5.3: only the latest Ping needs a Pong, so once the unwritten output
/// passes the backlog limit a Ping flood no longer grows it.
#[test]
fn rfc6455_5_5_3_ping_flood_keeps_output_bounded() {
    let mut server = open_server(Config::default());
    let backlog = server.config().auto_pong_backlog;
    for i in 0..100_000u32 {
        server.receive(&client_frame(0x89, &i.to_be_bytes()));
        assert_eq!(events(&mut server).len(), 1);
        assert!(server.output_buffer().len() <= backlog + 16);
    }
    let out = decode_all(server.output_buffer());
    assert_eq!(out.last().unwrap().payload, 99_999u32.to_be_bytes(), "the latest Ping is answered");
    let mut config = Config::default();
    config.auto_pong_backlog = 0;
    let mut server = open_server(config);
    for i in 0..3u32 {
        server.receive(&client_frame(0x89, &i.to_be_bytes()));
        events(&mut server);
    }
    assert_eq!(decode_all(server.output_buffer()).len(), 1, "backlog 0: only the latest Pong");
}

/// A Pong the user sends is never replaced by (or replaces) an automatic one,
/// and an automatic Pong already partly written is never cut.
#[test]
fn user_pong_and_partly_written_pong_are_kept() {
    // Backlog 0: coalescing would apply to every automatic Pong.
    let mut config = Config::default();
    config.auto_pong_backlog = 0;
    let mut server = open_server(config.clone());
    server.receive(&client_frame(0x89, b"a"));
    events(&mut server);
    server.sender().pong(b"mine").unwrap();
    server.receive(&client_frame(0x89, b"b"));
    events(&mut server);
    let payloads: Vec<_> = decode_all(server.output_buffer()).into_iter().map(|f| f.payload).collect();
    assert_eq!(payloads, [b"a".to_vec(), b"mine".to_vec(), b"b".to_vec()]);

    let mut server = open_server(config);
    server.receive(&client_frame(0x89, b"first"));
    events(&mut server);
    let mut written = server.output_buffer()[..2].to_vec();
    server.advance_output(2);
    server.receive(&client_frame(0x89, b"second"));
    events(&mut server);
    written.extend_from_slice(server.output_buffer());
    let payloads: Vec<_> = decode_all(&written).into_iter().map(|f| f.payload).collect();
    assert_eq!(payloads, [b"first".to_vec(), b"second".to_vec()]);
}

#[test]
fn no_pong_after_our_close() {
    let mut server = open_server(Config::default());
    server.sender().close(t0(), wsmachine::CloseCode::NORMAL, "").unwrap();
    take_output(&mut server);
    server.receive(&client_frame(0x89, b"x"));
    assert_eq!(events(&mut server), [Ev::Ping(b"x".to_vec())]);
    assert!(server.output_buffer().is_empty());
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn heartbeat_config() -> Config {
    let mut config = Config::default();
    config.ping_interval = Some(Duration::from_secs(10));
    config.pong_timeout = Duration::from_secs(5);
    config
}

/// §5.5.2 and the heartbeat: a Ping after an idle interval; the Pong keeps
/// the connection, and the next Ping comes an interval after it.
#[test]
fn heartbeat_ping_when_idle_and_pong_keeps_alive() {
    let mut pair = Pair::new(Config::default(), heartbeat_config());
    assert_eq!(pair.server.poll_timeout(), Some(pair.at(secs(10))));
    pair.advance(secs(9));
    assert!(pair.events(Side::Client).is_empty(), "no Ping before the interval");
    pair.latency = secs(1);
    pair.advance(secs(1)); // the Ping leaves at 10 s
    assert_eq!(pair.server.poll_timeout(), Some(pair.at(secs(15))), "the Pong is due within 5 s");
    pair.advance(secs(2)); // it arrives at 11 s, the Pong at 12 s
    assert_eq!(pair.events(Side::Client), [Ev::Ping(1u32.to_be_bytes().to_vec())]);
    assert!(matches!(pair.events(Side::Server).as_slice(), [Ev::Pong(_)]));
    assert_eq!(pair.server.poll_timeout(), Some(pair.at(secs(22))), "an interval after the Pong came");
    pair.advance(secs(30));
    assert_eq!(pair.server.state(), State::Open, "Pings answered every 10 s + 2 s round trip");
}

/// Received traffic postpones the heartbeat.
#[test]
fn heartbeat_waits_while_traffic_flows() {
    let mut pair = Pair::new(Config::default(), heartbeat_config());
    for _ in 1..30 {
        pair.client.sender().send_text("tick").unwrap();
        pair.advance(secs(1));
        assert_eq!(pair.events(Side::Server), [Ev::Text("tick".into())]);
        assert!(pair.events(Side::Client).is_empty(), "no Ping while the client talks");
    }
}

/// No Pong within the timeout: the connection fails, 1006-style, 15 s after
/// the last sign of life (a 10 s interval and a 5 s pong timeout).
#[test]
fn pong_timeout_fails_the_connection() {
    let mut pair = Pair::new(Config::default(), heartbeat_config());
    pair.deafen(Side::Client); // a client that stopped reading
    pair.advance(secs(14));
    assert!(pair.events(Side::Server).is_empty());
    pair.advance(secs(1));
    match pair.events(Side::Server).as_slice() {
        [Ev::Closed { code, clean: false, failure: Some(Failure::PongTimeout), .. }] => assert_eq!(code.0, 1006),
        other => panic!("{other:?}"),
    }
    assert!(pair.server.should_close_transport());
    assert_eq!(pair.server.poll_timeout(), None);
}

/// Time enters as arguments: the handshake timer runs from the server's
/// creation and the heartbeat from the `now` given to `accept`, each a real
/// deadline at once, with no call to `handle_timeout` needed to start it.
#[test]
fn timers_start_at_the_time_given_to_the_call_that_starts_them() {
    let mut config = heartbeat_config();
    config.handshake_timeout = Some(Duration::from_secs(60));
    let t0 = t0();
    let request = ClientRequest::new("ws://localhost/").unwrap();
    let mut client = Connection::client_with_random(t0, request, Config::default(), seeded(1));
    let mut server = Connection::server(t0, config);
    assert_eq!(server.poll_timeout(), Some(t0 + Duration::from_secs(60)), "the handshake timer");
    transfer(&mut client, &mut server);
    assert_eq!(events(&mut server), [Ev::Request("/".into())]);
    let t1 = t0 + Duration::from_secs(3);
    server.accept(t1, Accept::new()).unwrap();
    take_output(&mut server); // the 101
    assert_eq!(server.poll_timeout(), Some(t1 + Duration::from_secs(10)), "the heartbeat, from accept");
    server.handle_timeout(t1 + Duration::from_secs(10));
    assert_eq!(decode_all(server.output_buffer())[0].opcode, OpCode::Ping);
}
