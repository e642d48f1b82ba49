//! The mio adapter over real loopback sockets (cargo feature `mio`).
#![cfg(feature = "mio")]

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wsmachine::adapters::mio::{Driver, Handler, Token};
use wsmachine::{Accept, ClientRequest, CloseCode, Config, Connection, Event, State};

struct Echo;

impl Handler for Echo {
    fn handle(&mut self, _id: Token, ws: &mut Connection, now: Instant) {
        while let Some((event, mut tx)) = ws.poll_event_with_sender() {
            let accept = match event {
                Event::Request(_) => true,
                Event::Text(t) => {
                    let _ = tx.send_text(t);
                    false
                }
                Event::Binary(b) => {
                    let _ = tx.send_binary(b);
                    false
                }
                _ => false,
            };
            if accept {
                ws.accept(now, Accept::new()).unwrap();
            }
        }
    }
}

/// An echo server on the adapter in a thread; stops when the guard drops.
struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(max_buffered: Option<usize>) -> Server {
        Self::start_with(max_buffered, None)
    }

    fn start_with(max_buffered: Option<usize>, max_connections: Option<usize>) -> Server {
        let listener = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut driver = Driver::new(Echo).unwrap();
            driver.set_max_buffered(max_buffered);
            driver.set_max_connections(max_connections);
            driver.listen(listener, Config::default()).unwrap();
            let deadline = Instant::now() + Duration::from_secs(60);
            while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                driver.turn(Some(Duration::from_millis(20))).unwrap();
            }
        });
        Server { addr, stop, thread: Some(thread) }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sends messages once open, collects the echoes, closes when all came back.
struct Client {
    to_send: Vec<Vec<u8>>,
    echoed: Vec<Vec<u8>>,
    closed_clean: Option<bool>,
}

impl Handler for Client {
    fn handle(&mut self, _id: Token, ws: &mut Connection, now: Instant) {
        while let Some(event) = ws.poll_event() {
            match event {
                Event::Open(_) => {}
                Event::Binary(b) => self.echoed.push(b.to_vec()),
                Event::Text(t) => self.echoed.push(t.as_bytes().to_vec()),
                Event::Closed(c) => self.closed_clean = Some(c.clean),
                _ => {}
            }
        }
        if ws.state() == State::Open && !self.to_send.is_empty() {
            for m in self.to_send.drain(..) {
                ws.sender().send_binary(&m).unwrap();
            }
        }
        if ws.state() == State::Open && self.to_send.is_empty() && self.echoed.len() == 5 {
            ws.sender().close(now, CloseCode::NORMAL, "").unwrap();
        }
    }
}

#[test]
fn echo_of_large_messages_with_backpressure() {
    let server = Server::start(Some(64 << 10));
    let messages: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 3 << 20]).collect();
    let mut driver = Driver::new(Client { to_send: messages.clone(), echoed: Vec::new(), closed_clean: None }).unwrap();
    let ws = Connection::client(
        Instant::now(),
        ClientRequest::new(&format!("ws://{}/", server.addr)).unwrap(),
        Config::default(),
    )
    .unwrap();
    driver.connect(server.addr, ws).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !driver.is_empty() {
        assert!(Instant::now() < deadline, "timed out");
        driver.turn(Some(Duration::from_millis(50))).unwrap();
    }
    let client = driver.handler();
    assert_eq!(client.echoed.len(), 5);
    assert!(client.echoed == messages);
    assert_eq!(client.closed_clean, Some(true));
}

/// The DESIGN's "pongs that never leave": an idle client's Ping is answered
/// at once, without any other traffic to carry the Pong out.
#[test]
fn pong_leaves_without_other_traffic() {
    let server = Server::start(None);
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut ws =
        Connection::client(Instant::now(), ClientRequest::new("ws://localhost/").unwrap(), Config::default()).unwrap();
    let mut buf = [0u8; 4096];
    let mut pump = |ws: &mut Connection, stream: &mut std::net::TcpStream| {
        stream.write_all(ws.output_buffer()).unwrap();
        let n = ws.output_buffer().len();
        ws.advance_output(n);
        let n = stream.read(&mut buf).unwrap();
        ws.receive(&buf[..n]);
    };
    pump(&mut ws, &mut stream);
    assert!(matches!(ws.poll_event(), Some(Event::Open(_))));
    ws.sender().ping(b"still there?").unwrap();
    let sent = Instant::now();
    pump(&mut ws, &mut stream);
    assert!(matches!(ws.poll_event(), Some(Event::Pong(b"still there?"))));
    assert!(sent.elapsed() < Duration::from_secs(1));
}

/// With a limit, an echo server stops reading from a peer that never reads
/// its echoes: the peer's writes block instead of our memory growing.
#[test]
fn peer_that_never_reads_is_held_back() {
    let server = Server::start(Some(1 << 20));
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut ws =
        Connection::client(Instant::now(), ClientRequest::new("ws://localhost/").unwrap(), Config::default()).unwrap();
    stream.write_all(ws.output_buffer()).unwrap();
    let n = ws.output_buffer().len();
    ws.advance_output(n);
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf).unwrap();
    ws.receive(&buf[..n]);
    assert!(matches!(ws.poll_event(), Some(Event::Open(_))));
    stream.set_write_timeout(Some(Duration::from_millis(500))).unwrap();
    let chunk = vec![7u8; 64 << 10];
    let mut written = 0usize;
    let limit = 256 << 20;
    while written < limit {
        ws.sender().send_binary(&chunk).unwrap();
        match stream.write(ws.output_buffer()) {
            Ok(n) => {
                ws.advance_output(n);
                written += n;
            }
            Err(_) => break, // blocked: the server stopped reading
        }
    }
    assert!(written < limit, "the server kept reading {written} bytes from a peer that never reads");
}

/// `Driver::remove` gives up on a connection at once: the driver forgets it,
/// hands back the connection as it was, and the peer sees the socket close.
#[test]
fn remove_drops_a_stuck_connection() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut driver = Driver::new(Echo).unwrap();
    let ws =
        Connection::client(Instant::now(), ClientRequest::new(&format!("ws://{addr}/")).unwrap(), Config::default())
            .unwrap();
    let id = driver.connect(addr, ws).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // The request arrives; the peer never answers it.
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.ends_with(b"\r\n\r\n") {
        driver.turn(Some(Duration::from_millis(10))).unwrap();
        let n = peer.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the request was complete");
        head.extend_from_slice(&buf[..n]);
    }
    assert_eq!(driver.len(), 1);
    let ws = driver.remove(id).expect("the connection");
    assert_eq!(ws.state(), State::Connecting);
    assert!(driver.is_empty() && driver.connection(id).is_none() && driver.remove(id).is_none());
    assert_eq!(peer.read(&mut buf).unwrap(), 0, "the socket is closed");
}

#[test]
fn an_idle_connection_holds_no_buffers() {
    let server = Server::start(None);
    let messages: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 1 << 20]).collect();
    // Four messages: the client closes only after five, so it stays open and idle.
    let mut driver = Driver::new(Client { to_send: messages.clone(), echoed: Vec::new(), closed_clean: None }).unwrap();
    let ws = Connection::client(
        Instant::now(),
        ClientRequest::new(&format!("ws://{}/", server.addr)).unwrap(),
        Config::default(),
    )
    .unwrap();
    let id = driver.connect(server.addr, ws).unwrap();
    driver.set_shrink_after(Some(Duration::from_millis(30)));
    let deadline = Instant::now() + Duration::from_secs(30);
    while driver.handler().echoed.len() < 4 {
        assert!(Instant::now() < deadline, "timed out");
        driver.turn(Some(Duration::from_millis(50))).unwrap();
    }
    assert!(driver.handler().echoed == messages);
    assert!(driver.connection(id).unwrap().buffer_capacity() > 0, "a busy connection keeps its buffers");
    // Nothing arrives for 30 ms: the driver wakes up by itself and releases them.
    let idle = Instant::now();
    while idle.elapsed() < Duration::from_millis(100) {
        driver.turn(Some(Duration::from_millis(100))).unwrap();
    }
    assert_eq!(driver.connection(id).unwrap().buffer_capacity(), 0);
}

/// Records when each connection first reported its end.
struct Watch {
    ended: Vec<(Token, Instant)>,
}

impl Handler for Watch {
    fn handle(&mut self, id: Token, ws: &mut Connection, now: Instant) {
        while let Some(event) = ws.poll_event() {
            if let Event::Closed(_) = event {
                self.ended.push((id, now));
            }
        }
    }
}

/// Fifty connections with fifty different deadlines (RFC 6455 §4.1: a
/// client gives up on a server that never answers): the driver's ordered
/// timers wake each one on time, in order, with nothing else to wake it.
#[test]
fn every_connection_gets_its_own_timer() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut driver = Driver::new(Watch { ended: Vec::new() }).unwrap();
    let start = Instant::now();
    let mut timeouts = std::collections::HashMap::new();
    for i in 0..50u64 {
        let mut config = Config::default();
        // Added in an order unrelated to when they are due.
        let timeout = Duration::from_millis(200 + (i * 37 % 50) * 10);
        config.handshake_timeout = Some(timeout);
        let ws =
            Connection::client(Instant::now(), ClientRequest::new(&format!("ws://{addr}/")).unwrap(), config).unwrap();
        timeouts.insert(driver.connect(addr, ws).unwrap(), timeout);
    }
    let deadline = start + Duration::from_secs(20);
    while driver.handler().ended.len() < 50 {
        assert!(Instant::now() < deadline, "timed out with {} ended", driver.handler().ended.len());
        driver.turn(Some(Duration::from_secs(5))).unwrap();
    }
    let ended = &driver.handler().ended;
    for (id, at) in ended {
        assert!(at.duration_since(start) >= timeouts[id], "{id:?} ended before its timeout");
    }
    let order: Vec<Duration> = ended.iter().map(|(id, _)| timeouts[id]).collect();
    assert!(order.windows(2).all(|w| w[0] <= w[1]), "ended out of order: {order:?}");
    drop(listener);
}

const REQUEST: &str = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// Beyond the connection limit, a connection is answered `503` before the
/// upgrade and closed; the ones within it are served, and a place that
/// frees up is taken again.
#[test]
fn connections_beyond_the_limit_are_refused_with_503() {
    let server = Server::start_with(None, Some(1));
    let read_all = |tcp: &mut std::net::TcpStream| {
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut all = Vec::new();
        let _ = tcp.read_to_end(&mut all);
        String::from_utf8_lossy(&all).into_owned()
    };
    let mut first = std::net::TcpStream::connect(server.addr).unwrap();
    first.write_all(REQUEST.as_bytes()).unwrap();
    let mut head = [0u8; 12];
    first.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    first.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 101");
    let mut second = std::net::TcpStream::connect(server.addr).unwrap();
    second.write_all(REQUEST.as_bytes()).unwrap();
    let answer = read_all(&mut second);
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    drop(first);
    // The first one's place frees up once the driver sees it gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut third = std::net::TcpStream::connect(server.addr).unwrap();
        third.write_all(REQUEST.as_bytes()).unwrap();
        third.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut head = [0u8; 12];
        third.read_exact(&mut head).unwrap();
        if &head == b"HTTP/1.1 101" {
            break;
        }
        assert!(Instant::now() < deadline, "the place never freed up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Counts the handler's calls and the bytes it was given, without echoing.
#[derive(Default)]
struct Count {
    calls: usize,
    bytes: usize,
}

impl Handler for Count {
    fn handle(&mut self, _id: Token, ws: &mut Connection, now: Instant) {
        self.calls += 1;
        let mut accept = false;
        while let Some(event) = ws.poll_event() {
            match event {
                Event::Request(_) => accept = true,
                Event::Binary(b) => self.bytes += b.len(),
                _ => {}
            }
        }
        if accept {
            ws.accept(now, Accept::new()).unwrap();
        }
    }
}

/// Fairness: a turn reads one connection at most `READ_BUDGET` times, so a
/// flooding peer does not starve the others; the rest of its input is read
/// in the next turns, which do not wait for readiness (edge-triggered
/// readiness would not report it again).
#[test]
fn a_turn_reads_one_connection_at_most_its_budget() {
    use wsmachine::adapters::mio::READ_BUDGET;
    let listener = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut driver = Driver::new(Count::default()).unwrap();
    driver.listen(listener, Config::default()).unwrap();
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.write_all(REQUEST.as_bytes()).unwrap();
    while driver.handler().calls == 0 {
        driver.turn(Some(Duration::from_millis(100))).unwrap();
    }
    // 8 MiB of masked binary frames, written while the driver reads.
    let frame = wsmachine_testkit::frame(0x82, &[7u8; 60 << 10], Some([1, 2, 3, 4]));
    let count = 140;
    let writer = std::thread::spawn(move || {
        for _ in 0..count {
            tcp.write_all(&frame).unwrap();
        }
        tcp
    });
    let expected = count * (60 << 10);
    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut most, mut turns) = (0, 0);
    while driver.handler().bytes < expected {
        assert!(Instant::now() < deadline, "{} of {expected} bytes", driver.handler().bytes);
        let before = driver.handler().calls;
        driver.turn(Some(Duration::from_secs(5))).unwrap();
        most = most.max(driver.handler().calls - before);
        turns += 1;
    }
    // One call per read, and one after the timers ran. (Without the
    // budget, a turn here read until the socket was empty: up to 103 reads
    // in three runs.)
    assert_eq!(READ_BUDGET, 16);
    assert!(most <= 17, "{most} handler calls in one turn");
    assert!(turns > 1);
    drop(writer.join().unwrap());
}
