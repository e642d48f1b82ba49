//! The opening handshake (RFC 6455 §4), both sides, for wsmachine, the peer
//! crates and a minimal baseline, in the same run.
//!
//! ```text
//! cargo bench --manifest-path benches/Cargo.toml --bench handshake
//! ```
//!
//! `handshake/server/<who>/browser`: a server-side connection is created,
//! reads a browser's upgrade request (Chrome's headers, with a user agent,
//! cookies and an extension offer, 600 bytes) from an in-memory transport,
//! checks it, accepts it and writes the 101 response back; it ends open.
//!
//! - `wsmachine`: `Connection::server`, `read_from`, `poll_event` (the
//!   request), `accept`, `poll_event` (open), `write_to`.
//! - `tungstenite`: `tungstenite::accept` over a blocking stream.
//! - `tokio-websockets`: `ServerBuilder::accept` over an async stream.
//! - `baseline`: `httparse` of the request, the `Sec-WebSocket-Key` looked
//!   up, `Sec-WebSocket-Accept` computed (sha1, base64) and a fixed response
//!   written: no other header checked, no connection state. The least a
//!   server does.
//!
//! `handshake/client/<who>/browser`: a client-side connection to
//! `ws://example.com/chat` is created, writes its request, reads the
//! server's 101 response from the transport and checks it (status,
//! `Upgrade`, `Connection`, `Sec-WebSocket-Accept` against its key); it
//! ends open. Each client's key comes from a generator seeded the same way
//! on every iteration (wsmachine: `SeededRandom`; tokio-websockets: the
//! thread's `fastrand`, reseeded; tungstenite: the key is given in the
//! request), so a response computed once, for the request each one writes,
//! is valid on every iteration.
//!
//! - `baseline`: the request written with `write!`, the response parsed with
//!   `httparse`, its status and accept value checked: no URI parsing, no
//!   connection state.
//!
//! fastwebsockets is not measured here: its handshake is hyper's HTTP stack
//! plus a few header checks, not code of its own.
//!
//! Every implementation is run once and its result checked before it is
//! measured. Throughput is in handshakes.

use std::hint::black_box;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sha1::{Digest, Sha1};
use wsmachine::SeededRandom;
use wsmachine::{Accept, ClientRequest, Config, Connection, Event};

/// A browser's upgrade request (Chrome on Linux), with the RFC's sample key.
const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
Host: example.com\r\n\
Connection: Upgrade\r\n\
Pragma: no-cache\r\n\
Cache-Control: no-cache\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n\
Upgrade: websocket\r\n\
Origin: https://example.com\r\n\
Sec-WebSocket-Version: 13\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n\
Cookie: session=4f2a9c1e7b3d4a5f8e6c2b1a0d9f8e7c; theme=dark; _ga=GA1.1.123456789.1700000000\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
\r\n";

/// `Sec-WebSocket-Accept` for [`REQUEST`]'s key (RFC 6455 §1.3).
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// What every client connects to.
const URI: &str = "ws://example.com/chat";

/// The RFC's GUID, appended to the key before hashing (§4.2.2).
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The seed of wsmachine's and tokio-websockets' key generators.
const SEED: u64 = 0x5eed;

/// An in-memory transport for one handshake: reads return `input` (then
/// end of stream), writes are kept.
struct Canned {
    input: Rc<[u8]>,
    pos: usize,
    written: Vec<u8>,
}

impl Canned {
    fn new(input: &Rc<[u8]>) -> Self {
        Canned { input: input.clone(), pos: 0, written: Vec::new() }
    }

    fn read_into(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.input.len() - self.pos);
        buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        n
    }
}

impl Read for Canned {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.read_into(buf))
    }
}

impl Write for Canned {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl tokio::io::AsyncRead for Canned {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let n = buf.remaining().min(this.input.len() - this.pos);
        buf.put_slice(&this.input[this.pos..this.pos + n]);
        this.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for Canned {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().written.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// `Sec-WebSocket-Accept` for `key`, computed here (independently of the
/// crates measured).
fn accept_for(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(GUID);
    BASE64.encode(sha.finalize())
}

/// A server's 101 response to a request with `key`.
fn response_for(key: &[u8]) -> Rc<[u8]> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept_for(key)
    )
    .into_bytes()
    .into()
}

/// The `Sec-WebSocket-Key` of a request a client wrote.
fn key_of(request: &[u8]) -> Vec<u8> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    assert!(req.parse(request).expect("a valid request").is_complete(), "a whole request");
    let key = req.headers.iter().find(|h| h.name.eq_ignore_ascii_case("sec-websocket-key")).expect("a key");
    key.value.to_vec()
}

/// Checks that `written` is a 101 response with the accept value for [`REQUEST`].
fn check_accepted(who: &str, written: &[u8]) {
    let text = String::from_utf8_lossy(written);
    assert!(text.starts_with("HTTP/1.1 101"), "{who} did not accept: {text}");
    assert!(text.contains(ACCEPT), "{who} sent the wrong accept value: {text}");
}

// ---- server side ----

fn wsmachine_server(input: &Rc<[u8]>) -> Canned {
    let mut io = Canned::new(input);
    let mut ws = Connection::server(std::time::Instant::now(), Config::default());
    ws.read_from(&mut io).expect("in-memory read");
    match ws.poll_event() {
        Some(Event::Request(req)) => {
            black_box(req.path());
        }
        other => panic!("wsmachine: expected the request, got {other:?}"),
    }
    ws.accept(std::time::Instant::now(), Accept::new()).expect("accept");
    assert!(matches!(ws.poll_event(), Some(Event::Open(_))), "wsmachine: not open");
    ws.write_to(&mut io).expect("in-memory write");
    black_box(&ws);
    io
}

fn tungstenite_server(input: &Rc<[u8]>) -> Canned {
    let ws = tungstenite::accept(Canned::new(input)).expect("tungstenite accept");
    ws.into_inner()
}

fn tokio_websockets_server(rt: &tokio::runtime::Runtime, input: &Rc<[u8]>) -> Canned {
    rt.block_on(async {
        let (req, ws) =
            tokio_websockets::ServerBuilder::new().accept(Canned::new(input)).await.expect("tokio-websockets accept");
        black_box(req.uri());
        ws.into_inner()
    })
}

/// The least a server does: parse, find the key, hash, answer.
fn baseline_server(input: &[u8], out: &mut Vec<u8>) {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    assert!(req.parse(input).expect("a valid request").is_complete());
    let key = req.headers.iter().find(|h| h.name.eq_ignore_ascii_case("sec-websocket-key")).expect("a key");
    out.clear();
    write!(
        out,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept_for(key.value)
    )
    .expect("write to a Vec");
}

// ---- client side ----

fn wsmachine_client(input: &Rc<[u8]>) -> Canned {
    let mut io = Canned::new(input);
    let request = ClientRequest::new(URI).expect("a valid URI");
    let random = SeededRandom::from_seed([SEED as u8; 32]);
    let mut ws = Connection::client_with_random(std::time::Instant::now(), request, Config::default(), random);
    ws.write_to(&mut io).expect("in-memory write");
    ws.read_from(&mut io).expect("in-memory read");
    match ws.poll_event() {
        Some(Event::Open(open)) => {
            black_box(open.protocol());
        }
        other => panic!("wsmachine: expected open, got {other:?}"),
    }
    black_box(&ws);
    io
}

fn tungstenite_client(input: &Rc<[u8]>) -> Canned {
    let request = tungstenite::http::Request::builder()
        .uri(URI)
        .header("Host", "example.com")
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .body(())
        .expect("a valid request");
    let (ws, response) = tungstenite::client(request, Canned::new(input)).expect("tungstenite connect");
    black_box(response.status());
    ws.into_inner()
}

fn tokio_websockets_client(rt: &tokio::runtime::Runtime, input: &Rc<[u8]>) -> Option<Canned> {
    fastrand::seed(SEED);
    rt.block_on(async {
        let builder = tokio_websockets::ClientBuilder::new().uri(URI).expect("a valid URI");
        let (ws, response) = builder.connect_on(Canned::new(input)).await.ok()?;
        black_box(response.status());
        Some(ws.into_inner())
    })
}

/// The least a client does: write the request, parse the response, check
/// its status and accept value.
fn baseline_client(input: &[u8], key: &str, out: &mut Vec<u8>) {
    out.clear();
    write!(
        out,
        "GET /chat HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n"
    )
    .expect("write to a Vec");
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    assert!(resp.parse(input).expect("a valid response").is_complete());
    assert_eq!(resp.code, Some(101));
    let accept = resp.headers.iter().find(|h| h.name.eq_ignore_ascii_case("sec-websocket-accept")).expect("accept");
    assert_eq!(accept.value, accept_for(key.as_bytes()).as_bytes());
}

fn handshake(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");

    let request: Rc<[u8]> = REQUEST.into();
    let mut group = c.benchmark_group("handshake/server");
    group.throughput(Throughput::Elements(1));
    check_accepted("wsmachine", &wsmachine_server(&request).written);
    group.bench_function(BenchmarkId::new("wsmachine", "browser"), |b| b.iter(|| wsmachine_server(&request)));
    check_accepted("tungstenite", &tungstenite_server(&request).written);
    group.bench_function(BenchmarkId::new("tungstenite", "browser"), |b| b.iter(|| tungstenite_server(&request)));
    check_accepted("tokio-websockets", &tokio_websockets_server(&rt, &request).written);
    group.bench_function(BenchmarkId::new("tokio-websockets", "browser"), |b| {
        b.iter(|| tokio_websockets_server(&rt, &request))
    });
    let mut out = Vec::new();
    baseline_server(REQUEST, &mut out);
    check_accepted("baseline", &out);
    group.bench_function(BenchmarkId::new("baseline", "browser"), |b| {
        b.iter(|| {
            baseline_server(black_box(REQUEST), &mut out);
            black_box(&out);
        })
    });
    group.finish();

    // Each client's response answers the request it writes (its key comes
    // from a generator seeded the same way every time).
    let mut group = c.benchmark_group("handshake/client");
    group.throughput(Throughput::Elements(1));
    let empty: Rc<[u8]> = Rc::from(&[][..]);

    let mut probe = Canned::new(&empty);
    let random = SeededRandom::from_seed([SEED as u8; 32]);
    let mut ws = Connection::client_with_random(
        std::time::Instant::now(),
        ClientRequest::new(URI).expect("URI"),
        Config::default(),
        random,
    );
    ws.write_to(&mut probe).expect("in-memory write");
    let response = response_for(&key_of(&probe.written));
    assert_eq!(wsmachine_client(&response).pos, response.len(), "wsmachine read the whole response");
    group.bench_function(BenchmarkId::new("wsmachine", "browser"), |b| b.iter(|| wsmachine_client(&response)));

    let response = response_for(b"dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(key_of(&tungstenite_client(&response).written), b"dGhlIHNhbXBsZSBub25jZQ==");
    group.bench_function(BenchmarkId::new("tungstenite", "browser"), |b| b.iter(|| tungstenite_client(&response)));

    // A connect that finds no response fails after writing its request.
    fastrand::seed(SEED);
    let mut written = Vec::new();
    rt.block_on(async {
        let builder = tokio_websockets::ClientBuilder::new().uri(URI).expect("a valid URI");
        let mut probe = Canned::new(&empty);
        assert!(builder.connect_on(&mut probe).await.is_err(), "no response, no connection");
        written = probe.written;
    });
    let response = response_for(&key_of(&written));
    assert!(tokio_websockets_client(&rt, &response).is_some(), "tokio-websockets accepted the response");
    group.bench_function(BenchmarkId::new("tokio-websockets", "browser"), |b| {
        b.iter(|| tokio_websockets_client(&rt, &response).expect("tokio-websockets connect"))
    });

    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let response = response_for(key.as_bytes());
    let mut out = Vec::new();
    baseline_client(&response, key, &mut out);
    assert_eq!(key_of(&out), key.as_bytes());
    group.bench_function(BenchmarkId::new("baseline", "browser"), |b| {
        b.iter(|| {
            baseline_client(black_box(&response), key, &mut out);
            black_box(&out);
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(1));
    targets = handshake
}
criterion_main!(benches);
