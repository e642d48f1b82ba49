//! Shared helpers: an in-memory client/server pair, owned events, raw frames.
#![allow(dead_code)]

use std::sync::OnceLock;
use std::time::Instant;

use wsmachine::{
    Accept, ClientRequest, CloseCode, Config, Connection, Established, Event, Failure, Initiator, MessageKind, OpCode,
    Role, SeededRandom,
};

/// The time every test connection is created at (tests that run timers
/// count from it).
pub fn t0() -> Instant {
    static T0: OnceLock<Instant> = OnceLock::new();
    *T0.get_or_init(Instant::now)
}

/// An owned copy of an [`Event`], to compare in tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    Request(String),
    Open(Option<String>),
    Rejected(u16),
    Text(String),
    Binary(Vec<u8>),
    Fragment(MessageKind, Vec<u8>, bool),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Closed { code: CloseCode, reason: String, clean: bool, initiator: Initiator, failure: Option<Failure> },
}

impl From<Event<'_>> for Ev {
    fn from(e: Event<'_>) -> Ev {
        match e {
            Event::Request(r) => Ev::Request(r.target().to_owned()),
            Event::Open(o) => Ev::Open(o.protocol().map(str::to_owned)),
            Event::Rejected(r) => Ev::Rejected(r.status()),
            Event::Text(t) => Ev::Text(t.to_owned()),
            Event::Binary(b) => Ev::Binary(b.to_vec()),
            Event::Fragment(f) => Ev::Fragment(f.kind, f.data.to_vec(), f.fin),
            Event::Ping(p) => Ev::Ping(p.to_vec()),
            Event::Pong(p) => Ev::Pong(p.to_vec()),
            Event::Closed(c) => Ev::Closed {
                code: c.code,
                reason: c.reason.clone(),
                clean: c.clean,
                initiator: c.initiator,
                failure: c.failure.clone(),
            },
            other => panic!("an event this harness does not know: {other:?}"),
        }
    }
}

/// Every event the connection has now.
pub fn events(conn: &mut Connection) -> Vec<Ev> {
    let mut out = Vec::new();
    while let Some(e) = conn.poll_event() {
        out.push(Ev::from(e));
        assert!(out.len() < 1_000_000, "runaway events");
    }
    out
}

/// Moves all pending output of `from` into `to`.
pub fn transfer(from: &mut Connection, to: &mut Connection) {
    let n = from.output_buffer().len();
    to.receive(from.output_buffer());
    from.advance_output(n);
}

/// Takes all pending output.
pub fn take_output(conn: &mut Connection) -> Vec<u8> {
    let out = conn.output_buffer().to_vec();
    conn.advance_output(out.len());
    out
}

pub fn seeded(n: u8) -> SeededRandom {
    SeededRandom::from_seed([n; 32])
}

/// A client and a server that completed the opening handshake in memory,
/// with their Open events consumed.
pub fn pair_with(client_config: Config, server_config: Config) -> (Connection, Connection) {
    let req = ClientRequest::new("ws://localhost/test").unwrap();
    let mut client = Connection::client_with_random(t0(), req, client_config, seeded(7));
    let mut server = Connection::server(t0(), server_config);
    transfer(&mut client, &mut server);
    assert_eq!(events(&mut server), [Ev::Request("/test".into())]);
    server.accept(t0(), Accept::new()).unwrap();
    assert_eq!(events(&mut server), [Ev::Open(None)]);
    transfer(&mut server, &mut client);
    assert_eq!(events(&mut client), [Ev::Open(None)]);
    (client, server)
}

pub fn pair() -> (Connection, Connection) {
    pair_with(Config::default(), Config::default())
}

/// An open server (no handshake), to feed raw client frames.
pub fn open_server(config: Config) -> Connection {
    Connection::established(t0(), Established::new(Role::Server), config).unwrap()
}

/// An open client (no handshake), to feed raw server frames.
pub fn open_client(config: Config) -> Connection {
    Connection::established_with_random(t0(), Established::new(Role::Client), config, seeded(3))
}

/// A raw frame: first byte as given (FIN/RSV/opcode), payload masked with
/// `key` if given, minimal length encoding.
pub fn raw_frame(b0: u8, payload: &[u8], key: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![b0];
    let mask_bit = if key.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n @ 126..=0xffff => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let start = out.len();
    if let Some(k) = key {
        out.extend_from_slice(&k);
    }
    let body = out.len();
    out.extend_from_slice(payload);
    if let Some(k) = key {
        for (i, b) in out[body..].iter_mut().enumerate() {
            *b ^= k[i % 4];
        }
    }
    let _ = start;
    out
}

pub const KEY: [u8; 4] = [0x11, 0x22, 0x33, 0x44];

/// A masked client frame.
pub fn client_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    raw_frame(b0, payload, Some(KEY))
}

/// An unmasked server frame.
pub fn server_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    raw_frame(b0, payload, None)
}

/// A decoded frame from a byte stream: (fin, rsv, opcode, mask, payload unmasked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: OpCode,
    pub mask: Option<[u8; 4]>,
    pub payload: Vec<u8>,
}

/// Decodes every frame in `bytes`; panics on an incomplete tail.
pub fn decode_all(mut bytes: &[u8]) -> Vec<Decoded> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (h, n) = wsmachine::__internals::FrameHeader::decode(bytes).unwrap().expect("complete header");
        let len = h.payload_len as usize;
        let mut payload = bytes[n..n + len].to_vec();
        if let Some(k) = h.mask {
            wsmachine::__internals::apply_mask(&mut payload, k, 0);
        }
        out.push(Decoded { fin: h.fin, rsv: h.rsv, opcode: h.opcode, mask: h.mask, payload });
        bytes = &bytes[n + len..];
    }
    out
}

/// The Closed event a protocol failure produces.
pub fn failed(error: wsmachine::ProtocolError) -> Ev {
    Ev::Closed {
        code: error.close_code(),
        reason: String::new(),
        clean: false,
        initiator: Initiator::Failure,
        failure: Some(Failure::Protocol(error)),
    }
}

/// The close code and reason in a Close frame payload.
pub fn close_payload(frame: &Decoded) -> (u16, String) {
    assert_eq!(frame.opcode, OpCode::Close);
    let code = u16::from_be_bytes([frame.payload[0], frame.payload[1]]);
    (code, String::from_utf8(frame.payload[2..].to_vec()).unwrap())
}

/// Sends a message of either kind (text must be UTF-8): the tests' one call
/// for code generic over the kind.
pub fn send(conn: &mut Connection, kind: MessageKind, data: &[u8]) -> Result<(), wsmachine::SendError> {
    match kind {
        MessageKind::Text => conn.sender().send_text(core::str::from_utf8(data).expect("text is UTF-8")),
        MessageKind::Binary => conn.sender().send_binary(data),
    }
}

/// [`send`], written straight to `transport` (`send_text_to` / `send_binary_to`).
pub fn send_to<W: std::io::Write + ?Sized>(
    conn: &mut Connection,
    kind: MessageKind,
    data: &[u8],
    transport: &mut W,
) -> Result<usize, wsmachine::SendToError> {
    match kind {
        MessageKind::Text => conn.sender().send_text_to(core::str::from_utf8(data).expect("text is UTF-8"), transport),
        MessageKind::Binary => conn.sender().send_binary_to(data, transport),
    }
}
