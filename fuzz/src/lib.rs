//! Shared pieces of the fuzz targets: an independent checker of the frames a
//! connection emits, and a script of operations applied to an open
//! connection with the invariants checked after every step.

use std::time::{Duration, Instant};

use arbitrary::{Result, Unstructured};
use wsmachine::__internals::Utf8Validator;
use wsmachine::__internals::apply_mask;
use wsmachine::__internals::{FrameHeader, MAX_CONTROL_PAYLOAD};
use wsmachine::OpCode;
use wsmachine::{CloseCode as Code, Config, Connection, Event, MessageKind, Role, State};
use wsmachine::{CloseCode, MAX_REASON_LEN};

/// Checks, frame by frame, that a byte stream is valid output for `role`
/// (RFC 6455 §5): masked iff client, no RSV bits, control frames final and
/// at most 125 bytes, legal close codes and UTF-8 reasons, well-formed
/// fragmentation, text valid UTF-8, and nothing after a Close.
pub struct OutputChecker {
    role: Role,
    buf: Vec<u8>,
    message: Option<MessageKind>,
    utf8: Utf8Validator,
    close_sent: bool,
    /// Total bytes checked so far.
    pub total: usize,
    /// permessage-deflate is on: an independent decompressor for our
    /// compressed messages, and the compressed payload of the current one.
    inflate: Option<(flate2::Decompress, Option<Vec<u8>>)>,
}

impl OutputChecker {
    pub fn new(role: Role) -> Self {
        OutputChecker {
            role,
            buf: Vec::new(),
            message: None,
            utf8: Utf8Validator::new(),
            close_sent: false,
            total: 0,
            inflate: None,
        }
    }

    /// Our messages may be compressed (RFC 7692): RSV1 on a first frame.
    pub fn with_deflate(mut self) -> Self {
        self.inflate = Some((flate2::Decompress::new_with_window_bits(false, 15), None));
        self
    }

    /// Checks the next piece of output; panics on any violation.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.total += bytes.len();
        self.buf.extend_from_slice(bytes);
        loop {
            let (h, n) = match FrameHeader::decode(&self.buf).expect("our output has a valid header") {
                Some(x) => x,
                None => return,
            };
            let len = h.payload_len as usize;
            if self.buf.len() < n + len {
                return;
            }
            let mut payload = self.buf[n..n + len].to_vec();
            self.buf.drain(..n + len);
            self.check_frame(&h, &mut payload);
        }
    }

    fn check_frame(&mut self, h: &FrameHeader, payload: &mut [u8]) {
        assert!(!self.close_sent, "a frame after our Close");
        let first_data = matches!(h.opcode, OpCode::Text | OpCode::Binary);
        let rsv1_ok = self.inflate.is_some() && first_data;
        assert!(h.rsv == 0 || (h.rsv == 0b100 && rsv1_ok), "RSV bits {:#05b} on {:?}", h.rsv, h.opcode);
        assert_eq!(h.mask.is_some(), self.role == Role::Client, "masked iff client");
        if let Some(key) = h.mask {
            apply_mask(payload, key, 0);
        }
        if h.opcode.is_control() {
            assert!(h.fin, "fragmented control frame");
            assert!(payload.len() <= MAX_CONTROL_PAYLOAD, "control frame too long");
            if h.opcode == OpCode::Close {
                self.close_sent = true;
                if !payload.is_empty() {
                    assert!(payload.len() >= 2, "one-byte close payload");
                    let code = CloseCode(u16::from_be_bytes([payload[0], payload[1]]));
                    assert!(code.is_sendable(), "close code {code} on the wire");
                    assert!(payload.len() - 2 <= MAX_REASON_LEN);
                    assert!(core::str::from_utf8(&payload[2..]).is_ok(), "close reason not UTF-8");
                }
            }
            return;
        }
        let kind = match (h.opcode, self.message) {
            (OpCode::Continuation, Some(k)) => k,
            (OpCode::Text, None) => MessageKind::Text,
            (OpCode::Binary, None) => MessageKind::Binary,
            (op, m) => panic!("{op:?} frame while message is {m:?}"),
        };
        if self.message.is_none() {
            self.utf8.reset();
        }
        let starts_compressed = h.rsv & 0b100 != 0;
        let mut inflated = None;
        if let Some((decompress, current)) = self.inflate.as_mut() {
            if starts_compressed {
                *current = Some(Vec::new());
            }
            if let Some(data) = current.as_mut() {
                data.extend_from_slice(payload);
                if h.fin {
                    let mut data = current.take().unwrap_or_default();
                    data.extend_from_slice(&[0, 0, 0xff, 0xff]);
                    let mut out = Vec::with_capacity(data.len() * 8 + 1024);
                    loop {
                        let before = decompress.total_in();
                        decompress
                            .decompress_vec(&data, &mut out, flate2::FlushDecompress::Sync)
                            .expect("our compressed output is valid DEFLATE");
                        data.drain(..(decompress.total_in() - before) as usize);
                        if data.is_empty() && out.len() < out.capacity() {
                            break;
                        }
                        out.reserve(out.capacity().max(1024));
                    }
                    inflated = Some(out);
                }
            }
        }
        let compressed_message = self.inflate.as_ref().is_some_and(|(_, c)| c.is_some()) || inflated.is_some();
        if kind == MessageKind::Text {
            match &inflated {
                Some(text) => {
                    self.utf8.feed(text).expect("text we send is UTF-8");
                }
                None if !compressed_message => {
                    self.utf8.feed(payload).expect("text we send is UTF-8");
                }
                None => {}
            }
            if h.fin {
                self.utf8.finish().expect("text we send ends on a code point");
            }
        }
        self.message = if h.fin { None } else { Some(kind) };
    }
}

/// Reads fuzzer input field by field. Every read has a matching write in
/// [`Writer`], so seed inputs can be built from real traffic.
pub struct Reader<'a>(Unstructured<'a>);

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader(Unstructured::new(data))
    }
    /// An integer in `lo..=hi`: as many big-endian bytes as the range needs, modulo its size.
    pub fn int(&mut self, lo: u64, hi: u64) -> Result<u64> {
        self.0.int_in_range(lo..=hi)
    }
    pub fn bool(&mut self) -> Result<bool> {
        self.0.arbitrary()
    }
    pub fn bytes(&mut self, max: u64) -> Result<&'a [u8]> {
        let len = self.int(0, max)? as usize;
        self.0.bytes(len)
    }
    pub fn key(&mut self) -> Result<[u8; 4]> {
        self.0.arbitrary()
    }
}

/// Writes inputs that [`Reader`] reads back as the given values.
#[derive(Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    pub fn int(&mut self, v: u64, lo: u64, hi: u64) {
        assert!((lo..=hi).contains(&v));
        let delta = hi - lo;
        let width = (0..8).take_while(|i| delta >> (8 * i) > 0).count();
        let x = v - lo;
        for i in (0..width).rev() {
            self.0.push((x >> (8 * i)) as u8);
        }
    }
    pub fn bool(&mut self, b: bool) {
        self.0.push(b as u8);
    }
    pub fn bytes(&mut self, data: &[u8], max: u64) {
        self.int(data.len() as u64, 0, max);
        self.0.extend_from_slice(data);
    }
    pub fn key(&mut self, k: [u8; 4]) {
        self.0.extend_from_slice(&k);
    }
}

/// The knobs of [`Config`] the fuzzer chooses, with small limits.
#[derive(Clone, Debug, PartialEq)]
pub struct FuzzConfig {
    pub max_frame: u64,
    pub max_message: u64,
    pub streaming: bool,
    pub auto_pong: bool,
    pub backlog: u64,
    pub fragment: Option<u64>,
    pub ping_ms: Option<u64>,
    pub pong_ms: u64,
    pub close_ms: Option<u64>,
    /// `max_read_size`; `None` leaves the default (64 KiB). Small rooms cut
    /// frames into many raw reads.
    pub read_size: Option<u64>,
}

impl FuzzConfig {
    pub fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(FuzzConfig {
            max_frame: r.int(0, 4096)?,
            max_message: r.int(0, 16384)?,
            streaming: r.bool()?,
            auto_pong: r.bool()?,
            backlog: r.int(0, 512)?,
            fragment: if r.bool()? { Some(r.int(1, 64)?) } else { None },
            ping_ms: if r.bool()? { Some(r.int(1, 1000)?) } else { None },
            pong_ms: r.int(1, 1000)?,
            close_ms: if r.bool()? { Some(r.int(1, 1000)?) } else { None },
            read_size: if r.bool()? { Some(r.int(1, 8192)?) } else { None },
        })
    }

    pub fn write(&self, w: &mut Writer) {
        w.int(self.max_frame, 0, 4096);
        w.int(self.max_message, 0, 16384);
        w.bool(self.streaming);
        w.bool(self.auto_pong);
        w.int(self.backlog, 0, 512);
        let opt = |w: &mut Writer, v: Option<u64>, lo, hi| {
            w.bool(v.is_some());
            if let Some(v) = v {
                w.int(v, lo, hi);
            }
        };
        opt(w, self.fragment, 1, 64);
        opt(w, self.ping_ms, 1, 1000);
        w.int(self.pong_ms, 1, 1000);
        opt(w, self.close_ms, 1, 1000);
        opt(w, self.read_size, 1, 8192);
    }

    pub fn config(&self) -> Config {
        let mut c = Config::default();
        c.max_frame_size = self.max_frame as usize;
        c.max_message_size = self.max_message as usize;
        c.streaming = self.streaming;
        c.auto_pong = self.auto_pong;
        c.auto_pong_backlog = self.backlog as usize;
        c.fragment_size = self.fragment.map(|n| n as usize);
        c.ping_interval = self.ping_ms.map(Duration::from_millis);
        c.pong_timeout = Duration::from_millis(self.pong_ms);
        c.close_timeout = self.close_ms.map(Duration::from_millis);
        if let Some(n) = self.read_size {
            c.max_read_size = n as usize;
        }
        c
    }
}

/// One step of a script.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Raw bytes from the peer.
    Receive(Vec<u8>),
    /// One frame from the peer, masked as its role requires, with the first
    /// header byte (FIN, RSV, opcode) as given.
    PeerFrame {
        b0: u8,
        payload: Vec<u8>,
        key: [u8; 4],
    },
    Eof,
    Text(Vec<u8>),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close {
        code: u16,
        reason: Vec<u8>,
    },
    Begin {
        text: bool,
    },
    Fragment {
        fin: bool,
        data: Vec<u8>,
    },
    /// Advance the clock by this many milliseconds.
    Advance(u64),
    /// Write up to this many bytes of output.
    Drain(u64),
    /// A message from the peer, compressed by the peer's own compressor
    /// (RFC 7692), in one frame or two (cut at `split`).
    PeerCompressed {
        text: bool,
        split: u64,
        data: Vec<u8>,
    },
}

impl Op {
    pub fn read(r: &mut Reader<'_>) -> Result<Op> {
        Ok(match r.int(0, 12)? {
            0 => Op::Receive(r.bytes(2048)?.to_vec()),
            1 => Op::PeerFrame { b0: r.int(0, 255)? as u8, payload: r.bytes(300)?.to_vec(), key: r.key()? },
            2 => Op::Eof,
            3 => Op::Text(r.bytes(512)?.to_vec()),
            4 => Op::Binary(r.bytes(512)?.to_vec()),
            5 => Op::Ping(r.bytes(130)?.to_vec()),
            6 => Op::Pong(r.bytes(130)?.to_vec()),
            7 => Op::Close { code: r.int(0, 65535)? as u16, reason: r.bytes(130)?.to_vec() },
            8 => Op::Begin { text: r.bool()? },
            9 => Op::Fragment { fin: r.bool()?, data: r.bytes(256)?.to_vec() },
            10 => Op::Advance(r.int(0, 1500)?),
            11 => Op::Drain(r.int(0, 4096)?),
            _ => Op::PeerCompressed { text: r.bool()?, split: r.int(0, 1024)?, data: r.bytes(1024)?.to_vec() },
        })
    }

    pub fn write(&self, w: &mut Writer) {
        match self {
            Op::Receive(b) => {
                w.int(0, 0, 12);
                w.bytes(b, 2048);
            }
            Op::PeerFrame { b0, payload, key } => {
                w.int(1, 0, 12);
                w.int(*b0 as u64, 0, 255);
                w.bytes(payload, 300);
                w.key(*key);
            }
            Op::Eof => w.int(2, 0, 12),
            Op::Text(b) => {
                w.int(3, 0, 12);
                w.bytes(b, 512);
            }
            Op::Binary(b) => {
                w.int(4, 0, 12);
                w.bytes(b, 512);
            }
            Op::Ping(b) => {
                w.int(5, 0, 12);
                w.bytes(b, 130);
            }
            Op::Pong(b) => {
                w.int(6, 0, 12);
                w.bytes(b, 130);
            }
            Op::Close { code, reason } => {
                w.int(7, 0, 12);
                w.int(*code as u64, 0, 65535);
                w.bytes(reason, 130);
            }
            Op::Begin { text } => {
                w.int(8, 0, 12);
                w.bool(*text);
            }
            Op::Fragment { fin, data } => {
                w.int(9, 0, 12);
                w.bool(*fin);
                w.bytes(data, 256);
            }
            Op::Advance(ms) => {
                w.int(10, 0, 12);
                w.int(*ms, 0, 1500);
            }
            Op::Drain(n) => {
                w.int(11, 0, 12);
                w.int(*n, 0, 4096);
            }
            Op::PeerCompressed { text, split, data } => {
                w.int(12, 0, 12);
                w.bool(*text);
                w.int(*split, 0, 1024);
                w.bytes(data, 1024);
            }
        }
    }
}

/// A configuration and up to 64 operations.
#[derive(Clone, Debug, PartialEq)]
pub struct Script {
    pub config: FuzzConfig,
    pub ops: Vec<Op>,
}

impl Script {
    /// Reads a script; a truncated input ends the list of operations.
    pub fn read(data: &[u8]) -> Result<Script> {
        let mut r = Reader::new(data);
        let config = FuzzConfig::read(&mut r)?;
        let count = r.int(1, 64)?;
        let mut ops = Vec::new();
        for _ in 0..count {
            match Op::read(&mut r) {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
        Ok(Script { config, ops })
    }

    pub fn write(&self) -> Vec<u8> {
        let mut w = Writer::default();
        self.config.write(&mut w);
        w.int(self.ops.len() as u64, 1, 64);
        for op in &self.ops {
            op.write(&mut w);
        }
        w.0
    }
}

/// The permessage-deflate agreement and policy for the `deflate` target.
#[derive(Clone, Debug, PartialEq)]
pub struct DeflateSetup {
    pub params: wsmachine::deflate::DeflateParams,
    pub level: u32,
    pub threshold: u64,
    pub release: bool,
}

impl DeflateSetup {
    pub fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(DeflateSetup {
            params: wsmachine::deflate::DeflateParams {
                server_no_context_takeover: r.bool()?,
                client_no_context_takeover: r.bool()?,
                server_max_window_bits: r.int(8, 15)? as u8,
                client_max_window_bits: r.int(8, 15)? as u8,
            },
            level: r.int(0, 9)? as u32,
            threshold: r.int(0, 64)?,
            release: r.bool()?,
        })
    }

    pub fn write(&self, w: &mut Writer) {
        w.bool(self.params.server_no_context_takeover);
        w.bool(self.params.client_no_context_takeover);
        w.int(self.params.server_max_window_bits as u64, 8, 15);
        w.int(self.params.client_max_window_bits as u64, 8, 15);
        w.int(self.level as u64, 0, 9);
        w.int(self.threshold, 0, 64);
        w.bool(self.release);
    }
}

/// The peer's compressor, for [`Op::PeerCompressed`].
struct PeerCompressor {
    inner: flate2::Compress,
    reset: bool,
}

impl PeerCompressor {
    /// A message compressed as RFC 7692 §7.2.1 says, trailer removed.
    fn compress(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + 64);
        let mut pos = 0;
        loop {
            let before = self.inner.total_in();
            self.inner.compress_vec(&data[pos..], &mut out, flate2::FlushCompress::Sync).expect("compress");
            pos += (self.inner.total_in() - before) as usize;
            if pos == data.len() && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(64));
        }
        if out.ends_with(&[0, 0, 0xff, 0xff]) {
            out.truncate(out.len() - 4);
        } else {
            out.push(0);
        }
        if self.reset {
            self.inner.reset();
        }
        out
    }
}

/// A frame as a peer of `role` would send it: masked towards a server (the
/// shared reference encoder).
pub fn peer_frame(role: Role, b0: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    wsmachine_testkit::frame(b0, payload, (role == Role::Server).then_some(key))
}

/// Runs a script against an open connection of `role` and checks the
/// invariants after every step: no panic; every byte emitted is valid output
/// for the role ([`OutputChecker`]); the state only moves forward; no event
/// and no output after the Closed event; unwritten output stays within what
/// the script queued plus the automatic frames; buffers stay within the
/// configured limits. Then the peer stops reading and sending, and time
/// runs from deadline to deadline: a connection with output waiting, or
/// over, must let the transport go (no wait without a deadline).
pub fn run_script(data: &[u8], role: Role) {
    let Ok(script) = Script::read(data) else { return };
    run(&script, None, role);
}

/// The `deflate` target: a parameter set, then a script, with
/// permessage-deflate on.
pub fn run_deflate_script(data: &[u8], role: Role) {
    let mut r = Reader::new(data);
    let Ok(setup) = DeflateSetup::read(&mut r) else { return };
    let rest = &data[data.len() - r.0.len()..];
    let Ok(script) = Script::read(rest) else { return };
    run(&script, Some(&setup), role);
}

fn run(script: &Script, deflate: Option<&DeflateSetup>, role: Role) {
    let mut config = script.config.config();
    if let Some(d) = deflate {
        let mut policy = wsmachine::deflate::DeflateConfig::default();
        policy.level = d.level;
        policy.threshold = d.threshold as usize;
        policy.release_idle_contexts = d.release;
        config.deflate = Some(policy);
    }
    let random = wsmachine::SeededRandom::from_seed([1; 32]);
    let mut now = Instant::now();
    let mut established = wsmachine::Established::new(role);
    if let Some(d) = deflate {
        established = established.deflate(d.params);
    }
    let mut ws = Connection::established_with_random(now, established, config.clone(), random);
    let mut out = OutputChecker::new(role);
    let mut peer = None;
    if let Some(d) = deflate {
        out = out.with_deflate();
        let (bits, reset) = match role {
            Role::Server => (d.params.client_max_window_bits, d.params.client_no_context_takeover),
            Role::Client => (d.params.server_max_window_bits, d.params.server_no_context_takeover),
        };
        let inner = flate2::Compress::new_with_window_bits(flate2::Compression::new(6), false, bits.max(9));
        peer = Some(PeerCompressor { inner, reset });
    }
    ws.handle_timeout(now);
    let mut state = ws.state();
    let mut emitted_at_close: Option<usize> = None;
    let mut largest_chunk = 0;
    // An upper bound on what the API calls queued since the output was last
    // empty, and its peak (the output buffer keeps its capacity).
    let mut queued_by_us = 0usize;
    let mut peak_queued = 0usize;
    let frames = |len: usize| len / config.fragment_size.unwrap_or(usize::MAX) + 2;
    // A compressed message may be a little larger than its input.
    let slack = if deflate.is_some() { 64 } else { 0 };
    let cost = |len: usize| len + slack + len / 1000 + 14 * frames(len + slack + len / 1000);
    for op in &script.ops {
        match op {
            // Odd lengths go in the way a transport reads into the receive
            // buffer (`input_buffer` + `received`), in pieces as large as
            // the room offered; even ones by `receive`.
            Op::Receive(b) if b.len() % 2 == 1 => {
                let mut rest = &b[..];
                while !rest.is_empty() {
                    let room = ws.input_buffer();
                    let most = config.max_read_size;
                    assert!(room.len() >= most.min(4096) && room.len() <= most, "room of {} bytes", room.len());
                    largest_chunk = largest_chunk.max(room.len());
                    let n = room.len().min(rest.len());
                    room[..n].copy_from_slice(&rest[..n]);
                    ws.advance_input(n);
                    rest = &rest[n..];
                }
            }
            Op::Receive(b) => {
                largest_chunk = largest_chunk.max(b.len());
                ws.receive(b);
            }
            Op::PeerFrame { b0, payload, key } => {
                let frame = peer_frame(role, *b0, payload, *key);
                largest_chunk = largest_chunk.max(frame.len());
                ws.receive(&frame);
            }
            Op::Eof => ws.receive_eof(),
            Op::Text(b) => {
                let text = String::from_utf8_lossy(b);
                queued_by_us += cost(text.len());
                let _ = ws.sender().send_text(&text);
            }
            Op::Binary(b) => {
                queued_by_us += cost(b.len());
                let _ = ws.sender().send_binary(b);
            }
            Op::Ping(b) => {
                queued_by_us += cost(b.len());
                let _ = ws.sender().ping(b);
            }
            Op::Pong(b) => {
                queued_by_us += cost(b.len());
                let _ = ws.sender().pong(b);
            }
            Op::Close { code, reason } => {
                let reason = String::from_utf8_lossy(reason);
                queued_by_us += cost(reason.len() + 2);
                let _ = ws.sender().close(now, Code(*code), &reason);
            }
            Op::Begin { text } => {
                let _ = ws.sender().begin_message(if *text { MessageKind::Text } else { MessageKind::Binary });
            }
            Op::Fragment { fin, data } => {
                queued_by_us += cost(data.len());
                let _ = if *fin { ws.sender().finish_message(data) } else { ws.sender().send_fragment(data) };
            }
            Op::Advance(ms) => {
                now += Duration::from_millis(*ms);
                ws.handle_timeout(now);
            }
            Op::PeerCompressed { text, split, data } => {
                let payload = match peer.as_mut() {
                    Some(p) => p.compress(data),
                    None => data.clone(),
                };
                let split = (*split as usize).min(payload.len());
                let op = if *text { 0x1 } else { 0x2 };
                let mut frames = Vec::new();
                if split == 0 || split == payload.len() {
                    frames.extend(peer_frame(role, 0xc0 | op, &payload, [7, 7, 7, 7]));
                } else {
                    frames.extend(peer_frame(role, 0x40 | op, &payload[..split], [1, 2, 3, 4]));
                    frames.extend(peer_frame(role, 0x80, &payload[split..], [5, 6, 7, 8]));
                }
                largest_chunk = largest_chunk.max(frames.len());
                ws.receive(&frames);
            }
            Op::Drain(n) => {
                let n = (*n as usize).min(ws.output_buffer().len());
                out.feed(&ws.output_buffer()[..n]);
                ws.advance_output(n);
                if ws.output_buffer().is_empty() {
                    queued_by_us = 0;
                }
            }
        }
        // Poll every event, as an adapter does, and check each.
        while let Some(event) = ws.poll_event() {
            assert!(emitted_at_close.is_none(), "an event after Closed");
            match event {
                Event::Request(_) | Event::Open(_) | Event::Rejected(_) => panic!("handshake event when open"),
                Event::Ping(p) | Event::Pong(p) => assert!(p.len() <= MAX_CONTROL_PAYLOAD),
                Event::Binary(b) => assert!(!config.streaming && b.len() <= config.max_message_size),
                Event::Text(t) => assert!(!config.streaming && t.len() <= config.max_message_size),
                Event::Fragment(_) => assert!(config.streaming),
                Event::Closed(c) => {
                    assert!(!(c.clean && c.failure.is_some()), "a clean close with an error");
                    emitted_at_close = Some(out.total + ws.output_buffer().len());
                }
                other => panic!("an event the fuzzer does not know: {other:?}"),
            }
        }
        let new_state = ws.state();
        assert!(new_state >= state, "state went back from {state:?} to {new_state:?}");
        state = new_state;
        if let Some(at_close) = emitted_at_close {
            assert_eq!(state, State::Closed);
            assert!(out.total + ws.output_buffer().len() <= at_close, "output after CLOSED");
        }
        let automatic = config.auto_pong_backlog + 3 * (MAX_CONTROL_PAYLOAD + 14);
        peak_queued = peak_queued.max(queued_by_us);
        let buffered = ws.output_buffer().len();
        assert!(buffered <= queued_by_us + automatic, "buffered {buffered} > {queued_by_us} + {automatic}");
        let receive = 2 * (config.max_frame_size + config.max_message_size + 2 * largest_chunk + 14);
        let held = ws.buffer_capacity();
        assert!(held <= receive + 2 * (peak_queued + automatic) + 8192, "buffers hold {held} bytes");
    }
    // The peer now stops reading and sending (a zero window, a vanished
    // host). No wait is without a deadline: a connection with output
    // waiting, or over, lets the transport go after a bounded number of
    // deadlines, each one a real one (never in the past), and its output
    // only shrinks (dropped, never grown) once it is over.
    let stuck = !ws.output_buffer().is_empty() || state == State::Closed;
    for _ in 0..32 {
        if ws.should_close_transport() {
            break;
        }
        let Some(at) = ws.poll_timeout() else { break };
        assert!(at >= now, "a deadline in the past");
        now = at;
        ws.handle_timeout(now);
        while let Some(event) = ws.poll_event() {
            if let Event::Closed(c) = event {
                assert!(emitted_at_close.is_none(), "a second Closed");
                assert!(!(c.clean && c.failure.is_some()), "a clean close with an error");
                emitted_at_close = Some(out.total + ws.output_buffer().len());
            }
        }
        if let Some(at_close) = emitted_at_close {
            assert!(out.total + ws.output_buffer().len() <= at_close, "output after CLOSED");
        }
    }
    if stuck && config.close_timeout.is_some() {
        assert!(
            ws.should_close_transport(),
            "held for ever: {:?}, {} bytes unwritten",
            ws.state(),
            ws.output_buffer().len()
        );
    }
    let rest = ws.output_buffer().to_vec();
    out.feed(&rest);
}

/// Splits a raw input into cut points (first byte: how many, then one byte
/// each, scaled to the data) and the data. Short inputs give no cuts.
pub fn cuts_and_data(input: &[u8]) -> (Vec<usize>, &[u8]) {
    let k = input.first().map_or(0, |&k| (k as usize).min(input.len().saturating_sub(1)));
    let (cuts, data) = input.get(1..).unwrap_or(&[]).split_at(k);
    let mut points: Vec<usize> = cuts.iter().map(|&c| c as usize * data.len() / 255).collect();
    points.extend([0, data.len()]);
    points.sort_unstable();
    (points, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_roundtrip_through_bytes() {
        let script = Script {
            config: FuzzConfig {
                max_frame: 4096,
                max_message: 300,
                streaming: true,
                auto_pong: false,
                backlog: 17,
                fragment: Some(5),
                ping_ms: None,
                pong_ms: 999,
                close_ms: Some(1),
                read_size: Some(3),
            },
            ops: vec![
                Op::Receive(vec![1, 2, 3]),
                Op::PeerFrame { b0: 0x81, payload: b"hi".to_vec(), key: [1, 2, 3, 4] },
                Op::Eof,
                Op::Text(b"t".to_vec()),
                Op::Binary(vec![0; 512]),
                Op::Ping(vec![]),
                Op::Pong(vec![9]),
                Op::Close { code: 1000, reason: b"r".to_vec() },
                Op::Begin { text: true },
                Op::Fragment { fin: true, data: vec![7; 256] },
                Op::Advance(1500),
                Op::Drain(4096),
                Op::PeerCompressed { text: true, split: 3, data: b"compressed".to_vec() },
            ],
        };
        assert_eq!(Script::read(&script.write()).unwrap(), script);
    }
}
