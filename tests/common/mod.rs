//! Shared helpers: an in-memory client/server pair, owned events, raw frames.
#![allow(dead_code)]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

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
/// `key` if given, minimal length encoding (the shared reference encoder).
pub fn raw_frame(b0: u8, payload: &[u8], key: Option<[u8; 4]>) -> Vec<u8> {
    wsmachine_testkit::frame(b0, payload, key)
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

/// Which end of a [`Pair`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// A client and a server joined by an in-memory network and a virtual
/// clock, after quinn-proto's test `Pair`: bytes take `latency` to cross,
/// time moves only when the test moves it, and the pair polls every event
/// as an adapter would (answers to Pings and Closes happen), keeping them
/// for the test to read.
pub struct Pair {
    pub client: Connection,
    pub server: Connection,
    /// The virtual clock.
    pub now: Instant,
    /// How long bytes take from one side to the other.
    pub latency: Duration,
    /// Bytes on the wire: when they arrive, to which side, what.
    wire: std::collections::VecDeque<(Instant, Side, Vec<u8>)>,
    /// Sides whose incoming bytes are lost (a peer that stopped reading, a
    /// dead network).
    deaf: Vec<Side>,
    /// Sides whose transport takes nothing: their output stays queued (the
    /// peer stopped reading and its receive window closed).
    blocked: Vec<Side>,
    client_events: Vec<Ev>,
    server_events: Vec<Ev>,
}

impl Pair {
    /// A pair that completed the opening handshake at [`t0`], no latency.
    pub fn new(client_config: Config, server_config: Config) -> Self {
        let (client, server) = pair_with(client_config, server_config);
        Pair {
            client,
            server,
            now: t0(),
            latency: Duration::ZERO,
            wire: Default::default(),
            deaf: Vec::new(),
            blocked: Vec::new(),
            client_events: Vec::new(),
            server_events: Vec::new(),
        }
    }

    pub fn conn(&mut self, side: Side) -> &mut Connection {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }

    /// From now on `side` receives nothing: what is sent to it is lost.
    pub fn deafen(&mut self, side: Side) {
        self.deaf.push(side);
    }

    /// From now on `side`'s transport takes none of its output (the peer's
    /// receive window is closed): it stays in `output_buffer`.
    pub fn block(&mut self, side: Side) {
        self.blocked.push(side);
    }

    /// One round, as an adapter's wakeup: what has arrived by `now` is
    /// received and its events polled, both sides get the time (and their
    /// events are polled again), and what each side wrote goes on the wire.
    /// Returns whether any byte moved.
    pub fn step(&mut self) -> bool {
        let mut moved = false;
        while let Some((at, _, _)) = self.wire.front()
            && *at <= self.now
        {
            let (_, to, bytes) = self.wire.pop_front().unwrap();
            if !self.deaf.contains(&to) {
                self.conn(to).receive(&bytes);
            }
            moved = true;
        }
        let now = self.now;
        for side in [Side::Client, Side::Server] {
            let mut evs = events(self.conn(side));
            self.conn(side).handle_timeout(now);
            evs.extend(events(self.conn(side)));
            match side {
                Side::Client => self.client_events.extend(evs),
                Side::Server => self.server_events.extend(evs),
            }
        }
        for (from, to) in [(Side::Client, Side::Server), (Side::Server, Side::Client)] {
            if self.blocked.contains(&from) {
                continue;
            }
            let out = take_output(self.conn(from));
            if !out.is_empty() {
                moved = true;
                let at = self.now + self.latency;
                // In order of arrival, also if the latency was lowered.
                let i = self.wire.partition_point(|(t, _, _)| *t <= at);
                self.wire.insert(i, (at, to, out));
            }
        }
        moved
    }

    /// Steps until nothing moves at this instant.
    pub fn drive(&mut self) {
        for _ in 0..1000 {
            if !self.step() {
                return;
            }
        }
        panic!("the pair never settled");
    }

    /// Moves the clock on by `d` (to every wire arrival and timer deadline
    /// on the way, in order), driving the pair at each.
    pub fn advance(&mut self, d: Duration) {
        let until = self.now + d;
        self.drive();
        while let Some(next) = self.next_instant().filter(|&t| t > self.now && t <= until) {
            self.now = next;
            self.drive();
        }
        self.now = until;
        self.drive();
    }

    /// The next time something happens: a timer of either side or an arrival.
    fn next_instant(&self) -> Option<Instant> {
        let arrivals = self.wire.front().map(|(at, _, _)| *at);
        [self.client.poll_timeout(), self.server.poll_timeout(), arrivals].into_iter().flatten().min()
    }

    /// The events `side` reported since the last call.
    pub fn events(&mut self, side: Side) -> Vec<Ev> {
        match side {
            Side::Client => std::mem::take(&mut self.client_events),
            Side::Server => std::mem::take(&mut self.server_events),
        }
    }

    /// The instant the pair was made at plus `d`, for the checks.
    pub fn at(&self, d: Duration) -> Instant {
        t0() + d
    }
}
