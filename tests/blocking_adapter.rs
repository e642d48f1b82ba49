//! The blocking adapter (cargo feature `blocking`) over loopback TCP, both
//! roles: messages, ping/pong, the closing handshake (RFC 6455 §7), a
//! vanishing peer, read and write timeouts and the connection's timers.
#![cfg(feature = "blocking")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use wsmachine::adapters::blocking::WebSocket;
use wsmachine::adapters::{AdapterError, CloseFrame, Message};
use wsmachine::{Accept, ClientRequest, CloseCode, Config, MessageKind, Reject, Request};

const HANDSHAKE: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

fn config(f: impl FnOnce(&mut Config)) -> Config {
    let mut c = Config::default();
    f(&mut c);
    c
}

/// A server thread running `serve` on the first connection.
fn server<T: Send + 'static>(serve: impl FnOnce(TcpStream) -> T + Send + 'static) -> (String, thread::JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let handle = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        serve(tcp)
    });
    (url, handle)
}

/// Echoes data messages; returns how the connection ended.
fn echo(mut ws: WebSocket<TcpStream>) -> Result<Message, AdapterError> {
    loop {
        match ws.read()? {
            m @ (Message::Text(_) | Message::Binary(_)) => ws.send(m)?,
            end @ Message::Close(_) => return Ok(end),
            _ => {}
        }
    }
}

fn connect(url: &str) -> WebSocket<TcpStream> {
    let mut ws = WebSocket::connect(ClientRequest::new(url).unwrap(), Config::default()).unwrap();
    ws.set_read_timeout(Some(Duration::from_secs(10)));
    ws
}

#[test]
fn echo_text_binary_large_fragmented_then_client_closes_rfc6455_7_1_2() {
    let (url, handle) = server(|tcp| echo(WebSocket::accept(tcp, Config::default()).unwrap()));
    let mut ws = connect(&url);
    ws.send(Message::text("hello")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("hello"));
    ws.send_binary(&[1, 2, 3]).unwrap();
    assert_eq!(ws.read().unwrap(), Message::binary(vec![1, 2, 3]));
    let big: Vec<u8> = (0..3 << 20).map(|i| (i % 253) as u8).collect();
    ws.send(Message::Binary(big.clone())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Binary(big));
    // Streamed out in pieces, received whole (RFC 6455 §5.4).
    ws.write(Message::Fragment { kind: MessageKind::Binary, data: vec![1], fin: false }).unwrap();
    ws.write(Message::Fragment { kind: MessageKind::Binary, data: vec![2], fin: true }).unwrap();
    ws.flush().unwrap();
    assert_eq!(ws.read().unwrap(), Message::binary(vec![1, 2]));
    // Queued without writing, then one flush.
    for i in 0..500 {
        ws.write(Message::text(i.to_string())).unwrap();
    }
    ws.flush().unwrap();
    for i in 0..500 {
        assert_eq!(ws.read().unwrap(), Message::text(i.to_string()));
    }
    ws.close(CloseCode::NORMAL, "done").unwrap();
    // The server's reply, then the server closes the transport.
    let reply = ws.read().unwrap();
    assert_eq!(reply, Message::Close(Some(CloseFrame { code: CloseCode::NORMAL, reason: String::new() })));
    assert!(matches!(ws.read(), Err(AdapterError::AlreadyClosed)));
    let end = handle.join().unwrap().unwrap();
    assert_eq!(end, Message::Close(Some(CloseFrame { code: CloseCode::NORMAL, reason: "done".into() })));
}

#[test]
fn server_closes_and_client_answers_while_reading_rfc6455_5_5_1() {
    let (url, handle) = server(|tcp| {
        let mut ws = WebSocket::accept(tcp, Config::default()).unwrap();
        ws.close(CloseCode(4000), "bye").unwrap();
        ws.read()
    });
    let mut ws = connect(&url);
    assert_eq!(ws.read().unwrap(), Message::Close(Some(CloseFrame { code: CloseCode(4000), reason: "bye".into() })));
    assert_eq!(
        handle.join().unwrap().unwrap(),
        Message::Close(Some(CloseFrame { code: CloseCode(4000), reason: String::new() }))
    );
    // The server shut the transport down after the handshake (RFC 6455 §7.1.1): nothing more to read.
    let (mut tcp, _) = ws.into_parts();
    let mut rest = Vec::new();
    assert_eq!(tcp.read_to_end(&mut rest).unwrap(), 0);
}

#[test]
fn ping_gets_a_pong_and_is_reported_rfc6455_5_5_2() {
    let (url, handle) = server(|tcp| {
        let mut ws = WebSocket::accept(tcp, Config::default()).unwrap();
        let ping = ws.read().unwrap();
        (ping, echo(ws))
    });
    let mut ws = connect(&url);
    ws.send(Message::Ping(b"p".to_vec())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Pong(b"p".to_vec()));
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert!(matches!(ws.read().unwrap(), Message::Close(_)));
    let (ping, end) = handle.join().unwrap();
    assert_eq!(ping, Message::Ping(b"p".to_vec()));
    assert!(end.is_ok());
}

#[test]
fn vanished_peer_is_an_unclean_close_rfc6455_7_1_5() {
    let (url, handle) = server(|tcp| WebSocket::accept(tcp, Config::default()).unwrap().read());
    let ws = connect(&url);
    drop(ws);
    match handle.join().unwrap() {
        Err(AdapterError::Closed(closed)) => {
            assert!(!closed.clean);
            assert_eq!(closed.code, CloseCode::ABNORMAL);
            assert_eq!(closed.failure, Some(wsmachine::Failure::UnexpectedEof));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn read_timeout_returns_and_the_connection_stays_usable() {
    let (url, handle) = server(|tcp| {
        let mut ws = WebSocket::accept(tcp, Config::default()).unwrap();
        thread::sleep(Duration::from_millis(300));
        ws.send_text("late").unwrap();
        echo(ws)
    });
    let mut ws = connect(&url);
    ws.set_read_timeout(Some(Duration::from_millis(50)));
    let started = Instant::now();
    match ws.read() {
        Err(AdapterError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::TimedOut),
        other => panic!("unexpected {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_millis(250), "{:?}", started.elapsed());
    ws.set_read_timeout(Some(Duration::from_secs(10)));
    assert_eq!(ws.read().unwrap(), Message::text("late"));
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert!(matches!(ws.read().unwrap(), Message::Close(_)));
    handle.join().unwrap().unwrap();
}

#[test]
fn heartbeat_pings_while_blocked_in_read_and_drops_a_silent_peer() {
    let heartbeat = || {
        config(|c| {
            c.ping_interval = Some(Duration::from_millis(30));
            c.pong_timeout = Duration::from_millis(150);
        })
    };
    // A reading client answers by itself: the server reads through many
    // pong timeouts and sees only the Pongs.
    let (url, handle) = server(move |tcp| {
        let mut ws = WebSocket::accept(tcp, heartbeat()).unwrap();
        let started = Instant::now();
        let mut pongs = 0;
        while started.elapsed() < Duration::from_millis(600) {
            match ws.read().unwrap() {
                Message::Pong(_) => pongs += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        ws.send_text("done").unwrap();
        pongs
    });
    let mut ws = connect(&url);
    let mut pings = 0;
    loop {
        match ws.read().unwrap() {
            Message::Ping(_) => pings += 1,
            m => break assert_eq!(m, Message::text("done")),
        }
    }
    let pongs = handle.join().unwrap();
    assert!(pings >= 5 && pongs >= 5, "{pings} pings, {pongs} pongs");

    // A raw peer that never answers is dropped after the pong timeout.
    let (url, handle) = server(move |tcp| {
        let mut ws = WebSocket::accept(tcp, heartbeat()).unwrap();
        let started = Instant::now();
        (ws.read(), started.elapsed())
    });
    let mut raw = TcpStream::connect(url.trim_start_matches("ws://").trim_end_matches('/')).unwrap();
    raw.write_all(HANDSHAKE).unwrap();
    let (r, took) = handle.join().unwrap();
    match r {
        Err(AdapterError::Closed(closed)) => assert_eq!(closed.failure, Some(wsmachine::Failure::PongTimeout)),
        other => panic!("unexpected {other:?}"),
    }
    assert!(took >= Duration::from_millis(150) && took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn rejection_reaches_the_client_with_its_headers_rfc6455_4_1() {
    let (url, handle) = server(|tcp| {
        WebSocket::accept_with(tcp, Config::default(), |req: &Request<'_>| {
            if req.path() == "/allowed" { Ok(Accept::new()) } else { Err(Reject::status(403).header("X-Why", "path")) }
        })
        .map(|_| ())
    });
    let err =
        WebSocket::connect(ClientRequest::new(&format!("{url}denied")).unwrap(), Config::default()).err().unwrap();
    match err {
        AdapterError::Rejected(r) => assert_eq!((r.status, r.header("x-why")), (403, Some("path"))),
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(handle.join().unwrap(), Err(AdapterError::Refused(403))));
}

#[test]
fn invalid_request_is_answered_and_reported() {
    let (url, handle) = server(|tcp| WebSocket::accept(tcp, Config::default()).map(|_| ()));
    let mut raw = TcpStream::connect(url.trim_start_matches("ws://").trim_end_matches('/')).unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert!(
        matches!(handle.join().unwrap(), Err(AdapterError::Closed(c)) if matches!(c.failure, Some(wsmachine::Failure::Handshake(_))))
    );
    let mut got = Vec::new();
    raw.read_to_end(&mut got).unwrap();
    assert!(got.starts_with(b"HTTP/1.1 4"), "{}", String::from_utf8_lossy(&got));
}

#[test]
fn write_timeout_fails_a_send_to_a_peer_that_does_not_read() {
    let (url, handle) = server(|tcp| {
        let mut ws = WebSocket::accept(tcp, Config::default()).unwrap();
        ws.set_write_timeout(Some(Duration::from_millis(100)));
        let chunk = vec![0u8; 1 << 20];
        let started = Instant::now();
        loop {
            if let Err(e) = ws.send_binary(&chunk) {
                return (e, started.elapsed());
            }
            assert!(started.elapsed() < Duration::from_secs(10), "the peer's buffers never filled");
        }
    });
    let ws = connect(&url); // and never read
    let (err, took) = handle.join().unwrap();
    assert!(
        matches!(&err, AdapterError::Io(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
        "{err:?}"
    );
    assert!(took < Duration::from_secs(10));
    drop(ws);
}

#[test]
fn peer_reset_is_a_transport_error_then_already_closed() {
    let (url, handle) = server(|tcp| {
        let mut ws = WebSocket::accept(tcp, Config::default()).unwrap();
        let first = ws.read();
        (first, ws.read())
    });
    let ws = connect(&url);
    // SO_LINGER 0 (through tokio, which exposes it): dropping the socket sends a reset.
    let (tcp, _) = ws.into_parts();
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap();
    rt.block_on(async move {
        tcp.set_nonblocking(true).unwrap();
        let tcp = tokio::net::TcpStream::from_std(tcp).unwrap();
        tcp.set_zero_linger().unwrap();
    });
    let (first, second) = handle.join().unwrap();
    match first {
        Err(AdapterError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
        Err(AdapterError::Closed(c)) => assert_eq!(c.failure, Some(wsmachine::Failure::UnexpectedEof)),
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(second, Err(AdapterError::AlreadyClosed)), "{second:?}");
}

/// The idle-memory policy (as in the tokio and mio adapters): a connection
/// whose buffers a large message grew releases them once nothing has
/// arrived for `shrink_after`, while `read` waits.
#[test]
fn idle_connection_releases_its_buffers_while_read_waits() {
    let (url, handle) = server(|tcp| {
        let mut ws = WebSocket::accept(tcp, Config::default()).unwrap();
        ws.set_shrink_after(Some(Duration::from_millis(100)));
        let m = ws.read().unwrap();
        ws.send(m).unwrap();
        let grown = ws.connection().buffer_capacity();
        ws.set_read_timeout(Some(Duration::from_millis(500)));
        let idle = ws.read();
        let after = ws.connection().buffer_capacity();
        // Still usable after the release: the next message is read as before.
        ws.set_read_timeout(None);
        let next = ws.read().unwrap();
        (grown, idle.is_err(), after, next)
    });
    let mut ws = connect(&url);
    let big = vec![7u8; 1 << 20];
    ws.send_binary(&big).unwrap();
    assert_eq!(ws.read().unwrap(), Message::binary(big));
    thread::sleep(Duration::from_millis(700));
    ws.send(Message::text("after")).unwrap();
    let (grown, timed_out, after, next) = handle.join().unwrap();
    assert!(grown >= 1 << 20, "the message grew the buffers: {grown}");
    assert!(timed_out);
    assert_eq!(after, 0, "released after 100 ms of silence");
    assert_eq!(next, Message::text("after"));
}
