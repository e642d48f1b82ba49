//! One adapter conformance suite, run over the tokio, blocking and mio
//! adapters: the same echo server built on each, the same peer (a raw TCP
//! client driving a sans-IO client `Connection`, or raw bytes), the same
//! scenarios. Each checks what crosses the wire and how the server saw the
//! connection end.
//!
//! Scenarios: echo (RFC 6455 §5.6), Ping (§5.5.2), clean close (§7.1.2),
//! a protocol error (§7.1.7), a vanished peer (§7.1.5), a reset transport,
//! the handshake timeout (408), a rejected request (§4.2.2), the heartbeat
//! dropping a silent peer, backpressure from a peer that stops reading,
//! the write timeout dropping one that never reads again, a Ping flood
//! from one that never reads the Pongs.
#![cfg(all(feature = "tokio", feature = "blocking", feature = "mio"))]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Ev, events, raw_frame};
use wsmachine::adapters::{AdapterError, Decision, Message};
use wsmachine::{Accept, ClientRequest, Closed, Config, Connection, Failure, ProtocolError, Reject, Request};

/// How the server saw a connection end.
#[derive(Clone, Debug, PartialEq)]
enum End {
    /// The closing handshake completed, with this code.
    Clean(u16),
    /// The connection failed (the core's `Failure`; `None` for a clean
    /// close that was not, such as a rejected handshake).
    Failed(Option<Failure>),
    /// The server refused the request with this status.
    Refused(u16),
    /// The transport failed.
    Io(ErrorKind),
}

impl End {
    fn of(closed: &Closed) -> End {
        if closed.clean { End::Clean(closed.code.0) } else { End::Failed(closed.failure.clone()) }
    }

    fn of_error(e: AdapterError) -> End {
        match e {
            AdapterError::Closed(closed) => End::of(&closed),
            AdapterError::Refused(status) => End::Refused(status),
            AdapterError::Io(e) => End::Io(e.kind()),
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// The server's decision: `/forbidden` is refused with 403.
fn decide(req: &Request<'_>) -> Decision {
    if req.path() == "/forbidden" { Err(Reject::status(403)) } else { Ok(Accept::new()) }
}

/// An echo server on one adapter, reporting how each connection ended.
trait Adapter {
    fn start(config: Config) -> (SocketAddr, mpsc::Receiver<End>);
}

struct Blocking;

impl Adapter for Blocking {
    fn start(config: Config) -> (SocketAddr, mpsc::Receiver<End>) {
        use wsmachine::adapters::blocking::WebSocket;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (report, ends) = mpsc::channel();
        std::thread::spawn(move || {
            for tcp in listener.incoming() {
                let (config, report) = (config.clone(), report.clone());
                std::thread::spawn(move || {
                    let end = match WebSocket::accept_with(tcp.unwrap(), config, decide) {
                        Err(e) => End::of_error(e),
                        Ok(mut ws) => loop {
                            match ws.read() {
                                Ok(m @ (Message::Text(_) | Message::Binary(_))) => {
                                    if let Err(e) = ws.send(m) {
                                        break End::of_error(e);
                                    }
                                }
                                Ok(Message::Close(frame)) => break End::Clean(frame.map_or(1005, |f| f.code.0)),
                                Ok(_) => {}
                                Err(e) => break End::of_error(e),
                            }
                        },
                    };
                    let _ = report.send(end);
                });
            }
        });
        (addr, ends)
    }
}

struct Tokio;

impl Adapter for Tokio {
    fn start(config: Config) -> (SocketAddr, mpsc::Receiver<End>) {
        use futures_util::{SinkExt, StreamExt};
        use wsmachine::adapters::tokio::WebSocket;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let (report, ends) = mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let (tcp, _) = listener.accept().await.unwrap();
                    let (config, report) = (config.clone(), report.clone());
                    tokio::spawn(async move {
                        let end = match WebSocket::accept_with(tcp, config, decide).await {
                            Err(e) => End::of_error(e),
                            Ok(mut ws) => loop {
                                match ws.next().await {
                                    Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => {
                                        if let Err(e) = ws.send(m).await {
                                            break End::of_error(e);
                                        }
                                    }
                                    Some(Ok(Message::Close(frame))) => {
                                        break End::Clean(frame.map_or(1005, |f| f.code.0));
                                    }
                                    Some(Ok(_)) => {}
                                    Some(Err(e)) => break End::of_error(e),
                                    None => break End::Io(ErrorKind::UnexpectedEof),
                                }
                            },
                        };
                        let _ = report.send(end);
                    });
                }
            });
        });
        (addr, ends)
    }
}

struct Mio;

impl Adapter for Mio {
    fn start(config: Config) -> (SocketAddr, mpsc::Receiver<End>) {
        use wsmachine::Event;
        use wsmachine::adapters::mio::{Driver, Handler, Token};

        struct Echo {
            report: mpsc::Sender<End>,
            refused: Vec<(Token, u16)>,
        }
        impl Handler for Echo {
            fn handle(&mut self, id: Token, ws: &mut Connection, now: Instant) {
                while let Some((event, mut tx)) = ws.poll_event_with_sender() {
                    let decision = match event {
                        Event::Request(req) => Some(decide(&req)),
                        Event::Text(t) => {
                            let _ = tx.send_text(t);
                            None
                        }
                        Event::Binary(b) => {
                            let _ = tx.send_binary(b);
                            None
                        }
                        Event::Closed(closed) => {
                            let end = match self.refused.iter().position(|&(t, _)| t == id) {
                                Some(i) => End::Refused(self.refused.swap_remove(i).1),
                                None => End::of(closed),
                            };
                            let _ = self.report.send(end);
                            None
                        }
                        _ => None,
                    };
                    match decision {
                        Some(Ok(accept)) => ws.accept(now, accept).unwrap(),
                        Some(Err(reject)) => {
                            self.refused.push((id, reject.status_code()));
                            ws.reject(now, reject).unwrap();
                        }
                        None => {}
                    }
                }
            }
        }

        let listener = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let (report, ends) = mpsc::channel();
        std::thread::spawn(move || {
            let mut driver = Driver::new(Echo { report, refused: Vec::new() }).unwrap();
            driver.listen(listener, config).unwrap();
            loop {
                driver.turn(Some(Duration::from_millis(50))).unwrap();
            }
        });
        (addr, ends)
    }
}

/// The bound on every wait in the suite.
const LIMIT: Duration = Duration::from_secs(10);

/// A client `Connection` over a blocking socket, driven by hand.
struct Peer {
    tcp: TcpStream,
    ws: Connection,
}

impl Peer {
    /// Connects and completes the opening handshake to `path`.
    fn open(addr: SocketAddr, path: &str) -> Peer {
        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(LIMIT)).unwrap();
        let request = ClientRequest::new(&format!("ws://{addr}{path}")).unwrap();
        let ws = Connection::client_with_random(Instant::now(), request, Config::default(), common::seeded(5));
        let mut peer = Peer { tcp, ws };
        assert_eq!(peer.next(), vec![Ev::Open(None)]);
        peer
    }

    fn flush(&mut self) {
        let n = self.ws.output_buffer().len();
        self.tcp.write_all(self.ws.output_buffer()).unwrap();
        self.ws.advance_output(n);
    }

    /// Writes what is queued, then reads until there are events; the end of
    /// file is reported as such.
    fn next(&mut self) -> Vec<Ev> {
        let deadline = Instant::now() + LIMIT;
        loop {
            self.flush();
            let evs = events(&mut self.ws);
            if !evs.is_empty() {
                self.flush();
                return evs;
            }
            assert!(Instant::now() < deadline, "nothing arrived");
            self.ws.read_from(&mut self.tcp).unwrap();
        }
    }
}

/// Reads raw bytes until the server closes the transport.
fn read_to_end(tcp: &mut TcpStream) -> Vec<u8> {
    tcp.set_read_timeout(Some(LIMIT)).unwrap();
    let mut all = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match tcp.read(&mut buf) {
            Ok(0) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return all,
            Err(e) => panic!("the server did not close the transport: {e}"),
        }
    }
}

fn end(ends: &mpsc::Receiver<End>) -> End {
    ends.recv_timeout(LIMIT).expect("the server reported no end")
}

const REQUEST: &str = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// §5.6: text and binary messages come back as sent.
fn echo<A: Adapter>() {
    let (addr, _) = A::start(Config::default());
    let mut peer = Peer::open(addr, "/");
    peer.ws.sender().send_text("hello").unwrap();
    assert_eq!(peer.next(), [Ev::Text("hello".into())]);
    let big: Vec<u8> = (0..300_000).map(|i| (i % 251) as u8).collect();
    peer.ws.sender().send_binary(&big).unwrap();
    assert_eq!(peer.next(), [Ev::Binary(big)]);
}

/// §5.5.2: a Ping is answered with a Pong with the same payload.
fn ping<A: Adapter>() {
    let (addr, _) = A::start(Config::default());
    let mut peer = Peer::open(addr, "/");
    peer.ws.sender().ping(b"are you there").unwrap();
    assert_eq!(peer.next(), [Ev::Pong(b"are you there".to_vec())]);
}

/// §7.1.2: the client closes; the server answers, reports a clean end and
/// closes the transport first (§7.1.1).
fn clean_close<A: Adapter>() {
    let (addr, ends) = A::start(Config::default());
    let mut peer = Peer::open(addr, "/");
    peer.ws.sender().close(Instant::now(), wsmachine::CloseCode::NORMAL, "bye").unwrap();
    assert!(matches!(peer.next().as_slice(), [Ev::Closed { clean: true, .. }]));
    assert_eq!(end(&ends), End::Clean(1000));
    assert!(read_to_end(&mut peer.tcp).is_empty(), "then EOF");
}

/// §7.1.7: an unmasked client frame fails the connection with 1002.
fn protocol_error<A: Adapter>() {
    let (addr, ends) = A::start(Config::default());
    let mut peer = Peer::open(addr, "/");
    peer.tcp.write_all(&raw_frame(0x81, b"unmasked", None)).unwrap();
    let rest = read_to_end(&mut peer.tcp);
    assert_eq!(&rest[..4], b"\x88\x19\x03\xea", "a Close with 1002 and a reason");
    assert_eq!(end(&ends), End::Failed(Some(Failure::Protocol(ProtocolError::UnmaskedFrame))));
}

/// §7.1.5: a peer that vanishes without a Close ends the connection,
/// uncleanly, and the server serves the next one.
fn vanished_peer<A: Adapter>() {
    let (addr, ends) = A::start(Config::default());
    let peer = Peer::open(addr, "/");
    drop(peer);
    match end(&ends) {
        End::Failed(Some(Failure::UnexpectedEof)) | End::Io(_) => {}
        other => panic!("unexpected {other:?}"),
    }
    let mut next = Peer::open(addr, "/");
    next.ws.sender().send_text("still serving").unwrap();
    assert_eq!(next.next(), [Ev::Text("still serving".into())]);
}

/// A transport reset under an open connection (the peer closes its socket
/// with our echo unread, so its kernel answers with RST) ends the
/// connection, uncleanly, and the server serves the next one.
fn reset<A: Adapter>() {
    let (addr, ends) = A::start(Config::default());
    let mut peer = Peer::open(addr, "/");
    peer.ws.sender().send_text("unread").unwrap();
    peer.flush();
    // Wait until the echo is in our receive queue, unread.
    let mut byte = [0u8; 1];
    assert_eq!(peer.tcp.peek(&mut byte).unwrap(), 1);
    drop(peer);
    match end(&ends) {
        End::Failed(Some(Failure::UnexpectedEof)) | End::Io(ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {}
        other => panic!("unexpected {other:?}"),
    }
    let mut next = Peer::open(addr, "/");
    next.ws.sender().send_text("still serving").unwrap();
    assert_eq!(next.next(), [Ev::Text("still serving".into())]);
}

/// Backpressure: a peer that sends without reading the echoes makes the
/// server stop reading once its output is full, so the peer's writes stall
/// long before the server has buffered all it sent; when the peer reads
/// again, every echo arrives, in order.
fn backpressure<A: Adapter>() {
    let (addr, _ends) = A::start(Config::default());
    let mut peer = Peer::open(addr, "/");
    let sent = send_until_stalled(&mut peer);
    assert!(sent < CAP * 3 / 4, "the server kept reading: {sent} messages of {SIZE} bytes taken without a read");
    // Read again: every echo comes back, in order, and the rest gets through.
    let (mut echoed, deadline) = (0usize, Instant::now() + LIMIT);
    while echoed < sent {
        assert!(Instant::now() < deadline, "{echoed} of {sent} echoes");
        match peer.ws.write_to(&mut peer.tcp) {
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
        match peer.ws.read_from(&mut peer.tcp) {
            Ok(0) => panic!("the server closed after {echoed} echoes"),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => panic!("{e}"),
        }
        for ev in events(&mut peer.ws) {
            match ev {
                Ev::Binary(data) => {
                    assert_eq!(data.len(), SIZE);
                    assert_eq!(data[..8], (echoed as u64).to_be_bytes(), "echoes in order");
                    echoed += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}

/// The size of the messages a peer that stops reading sends.
const SIZE: usize = 16 << 10;
/// At most this many (64 MiB: more than every buffer on the way).
const CAP: usize = 4096;

/// Sends numbered `SIZE`-byte messages without reading until the server
/// takes nothing for 300 ms (or `CAP` were sent); returns how many.
fn send_until_stalled(peer: &mut Peer) -> usize {
    peer.tcp.set_nonblocking(true).unwrap();
    let message: Vec<u8> = (0..SIZE).map(|i| i as u8).collect();
    let (mut sent, mut stalled_since) = (0usize, Instant::now());
    while sent < CAP && stalled_since.elapsed() < Duration::from_millis(300) {
        if peer.ws.output_buffer().len() < SIZE {
            let mut m = message.clone();
            m[..8].copy_from_slice(&(sent as u64).to_be_bytes());
            peer.ws.sender().send_binary(&m).unwrap();
            sent += 1;
        }
        match peer.ws.write_to(&mut peer.tcp) {
            Ok(n) if n > 0 => stalled_since = Instant::now(),
            Ok(_) => std::thread::sleep(Duration::from_millis(1)),
            // The server may give up first (the write timeout scenario).
            Err(_) => break,
        }
    }
    sent
}

/// A peer that sends but never reads again: once the server's output has
/// waited `write_timeout` with nothing taken, the connection fails, the
/// server's writer (a thread, a task, the driver) is not held, and the
/// next peer is served.
fn stalled_reader<A: Adapter>() {
    let mut config = Config::default();
    config.write_timeout = Some(Duration::from_millis(300));
    let (addr, ends) = A::start(config);
    let started = Instant::now();
    let mut peer = Peer::open(addr, "/");
    send_until_stalled(&mut peer);
    match end(&ends) {
        End::Failed(Some(Failure::WriteTimeout)) | End::Io(ErrorKind::TimedOut) => {}
        other => panic!("unexpected {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
    let mut next = Peer::open(addr, "/");
    next.ws.sender().send_text("still serving").unwrap();
    assert_eq!(next.next(), [Ev::Text("still serving".into())]);
    drop(peer);
}

/// RFC 6455 §5.5.2 and §5.5.3: a Ping flood from a peer that never reads
/// the Pongs. The automatic Pongs replace each other once the output backs
/// up, and the write timeout ends the connection: the server is held
/// neither in memory nor in time.
fn ping_flood<A: Adapter>() {
    let mut config = Config::default();
    config.write_timeout = Some(Duration::from_millis(300));
    let (addr, ends) = A::start(config);
    let started = Instant::now();
    let mut peer = Peer::open(addr, "/");
    peer.tcp.set_nonblocking(true).unwrap();
    let end = loop {
        assert!(started.elapsed() < Duration::from_secs(8), "the flood was never stopped");
        if let Ok(end) = ends.try_recv() {
            break end;
        }
        if peer.ws.output_buffer().len() < 64 << 10 {
            peer.ws.sender().ping(&[0x55; 125]).unwrap();
            continue;
        }
        match peer.ws.write_to(&mut peer.tcp) {
            Ok(0) => std::thread::sleep(Duration::from_millis(1)),
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    };
    match end {
        End::Failed(Some(Failure::WriteTimeout)) | End::Io(ErrorKind::TimedOut) => {}
        other => panic!("unexpected {other:?}"),
    }
}

/// §4.2.1 and the handshake timeout: a request still incomplete when it
/// runs out is answered 408 and the transport closed.
fn handshake_timeout<A: Adapter>() {
    let mut config = Config::default();
    config.handshake_timeout = Some(Duration::from_millis(200));
    let (addr, ends) = A::start(config);
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.write_all(&REQUEST.as_bytes()[..20]).unwrap();
    let started = Instant::now();
    let answer = String::from_utf8(read_to_end(&mut tcp)).unwrap();
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(end(&ends), End::Failed(Some(Failure::HandshakeTimeout)));
}

/// §4.2.2: the application refuses a request with any status.
fn rejection<A: Adapter>() {
    let (addr, ends) = A::start(Config::default());
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.write_all(REQUEST.replace("GET / ", "GET /forbidden ").as_bytes()).unwrap();
    let answer = String::from_utf8(read_to_end(&mut tcp)).unwrap();
    assert!(answer.starts_with("HTTP/1.1 403 "), "{answer}");
    assert_eq!(end(&ends), End::Refused(403));
}

/// The heartbeat: a peer that opens and then never answers (nor reads) is
/// dropped after the ping interval and the pong timeout.
fn silent_peer<A: Adapter>() {
    let mut config = Config::default();
    config.ping_interval = Some(Duration::from_millis(100));
    config.pong_timeout = Duration::from_millis(100);
    let (addr, ends) = A::start(config);
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.write_all(REQUEST.as_bytes()).unwrap();
    let started = Instant::now();
    assert_eq!(end(&ends), End::Failed(Some(Failure::PongTimeout)));
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(200) && took < Duration::from_secs(5), "{took:?}");
    let wire = read_to_end(&mut tcp);
    assert!(wire.starts_with(b"HTTP/1.1 101 "), "the 101, a Ping, then EOF");
}

macro_rules! suite {
    ($module:ident, $adapter:ty) => {
        mod $module {
            use super::*;

            #[test]
            fn echo_rfc6455_5_6() {
                echo::<$adapter>();
            }

            #[test]
            fn ping_rfc6455_5_5_2() {
                ping::<$adapter>();
            }

            #[test]
            fn clean_close_rfc6455_7_1_2() {
                clean_close::<$adapter>();
            }

            #[test]
            fn protocol_error_rfc6455_7_1_7() {
                protocol_error::<$adapter>();
            }

            #[test]
            fn vanished_peer_rfc6455_7_1_5() {
                vanished_peer::<$adapter>();
            }

            #[test]
            fn reset_transport() {
                reset::<$adapter>();
            }

            #[test]
            fn handshake_timeout_408_rfc6455_4_2_1() {
                handshake_timeout::<$adapter>();
            }

            #[test]
            fn rejection_rfc6455_4_2_2() {
                rejection::<$adapter>();
            }

            #[test]
            fn silent_peer_dropped_by_the_heartbeat() {
                silent_peer::<$adapter>();
            }

            #[test]
            fn backpressure_from_a_peer_that_stops_reading() {
                backpressure::<$adapter>();
            }

            #[test]
            fn write_timeout_drops_a_peer_that_stopped_reading() {
                stalled_reader::<$adapter>();
            }

            #[test]
            fn ping_flood_from_a_peer_that_never_reads_rfc6455_5_5_3() {
                ping_flood::<$adapter>();
            }
        }
    };
}

suite!(over_blocking, Blocking);
suite!(over_tokio, Tokio);
suite!(over_mio, Mio);
