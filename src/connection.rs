//! The connection state machine: CONNECTING → OPEN → CLOSING → CLOSED
//! (RFC 6455 §4, §5, §7).
//!
//! A [`Connection`] is a value that consumes bytes, produces events and
//! output bytes, and is told the time. It does no I/O, reads no clock and
//! spawns nothing, so it runs under any runtime and in tests, byte for byte
//! reproducibly.
//!
//! The caller's loop is in [`Connection`]'s docs.

use core::ops::Range;
use std::time::Instant;

use crate::close::{CloseCode, parse_close_payload};
use crate::config::Config;
use crate::error::{DecisionError, Failure, Initiator, ProtocolError, RandomError};
use crate::event::{Closed, Event, Fragment, Open};
use crate::extension::{Agreed, Agreement};
use crate::frame::OpCode;
use crate::handshake::client::{ClientRequest, Response};
use crate::handshake::opening::{Opening, Outcome};
use crate::handshake::server::{Accept, Reject, Request};
use crate::message::MessageKind;
use crate::random::{MaskingKeys, OsRandom, RandomSource};
use crate::receive::{Incoming, Limits, Payload, Receiver};
use crate::send::{SendSide, SendStatus, Sender};
use crate::timers::{Expired, Phase, Timers};

/// Which end of the connection this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Sends the handshake request and masks its frames.
    Client,
    /// Answers the handshake request; its frames are not masked.
    Server,
}

/// The connection's state (RFC 6455 §4.1, §7.1). It only moves forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    /// The opening handshake is in progress.
    Connecting,
    /// Messages flow both ways.
    Open,
    /// We sent a Close and wait for the peer's; its messages are still delivered.
    Closing,
    /// The connection is over: the closing handshake completed, or it failed.
    Closed,
}

/// What a handshake done elsewhere agreed, for
/// [`Connection::established`]: the role, the subprotocol and the
/// permessage-deflate parameters.
///
/// ```
/// # use std::time::Instant;
/// use wsmachine::{Config, Connection, Established, Role};
/// let ws = Connection::established(Instant::now(), Established::new(Role::Server).protocol("chat"), Config::default())?;
/// assert_eq!(ws.protocol(), Some("chat"));
/// # Ok::<(), wsmachine::RandomError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct Established {
    role: Role,
    protocol: Option<String>,
    agreement: Agreement,
}

impl Established {
    /// A connection in `role`, with no subprotocol and no extension.
    pub fn new(role: Role) -> Self {
        Established { role, protocol: None, agreement: Agreement::default() }
    }

    /// The subprotocol the handshake chose (`Sec-WebSocket-Protocol`).
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = Some(protocol.into());
        self
    }

    /// The permessage-deflate parameters the handshake agreed (from
    /// [`deflate::accept_first`](crate::deflate::accept_first) on a server,
    /// [`deflate::check_response`](crate::deflate::check_response) on a
    /// client). Compression level and threshold come from
    /// [`Config::deflate`] (or its defaults).
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, params: crate::deflate::DeflateParams) -> Self {
        self.agreement.deflate = Some(params);
        self
    }
}

/// How the connection ends, and what of that was reported.
#[derive(Debug, Default)]
struct Lifecycle {
    closed: Option<Box<Closed>>,
    /// The `Closed` event was delivered.
    reported: bool,
    /// The transport reached end of file.
    eof: bool,
    /// The transport may be closed once output is flushed, since this time
    /// (the output's grace to drain counts from it).
    closable_since: Option<Instant>,
}

impl Lifecycle {
    /// A whole text message is not UTF-8: fails the connection (1007,
    /// RFC 6455 §8.1) and returns what to report.
    #[cold]
    fn fail_text(&mut self, send: &mut SendSide, now: Instant, valid_up_to: u64) -> Option<&Closed> {
        self.fail(send, now, ProtocolError::InvalidUtf8 { valid_up_to }.into());
        self.reported = true;
        self.closed.as_deref()
    }

    fn close(&mut self, closed: Closed) {
        self.closed = Some(Box::new(closed));
        self.reported = false;
    }

    /// The transport may be closed, once the output is written or its grace
    /// to drain, counted from `now`, runs out.
    fn closable(&mut self, now: Instant) {
        self.closable_since.get_or_insert(now);
    }

    /// Fails the connection at `now` (RFC 6455 §7.1.7): sends a Close with
    /// the error's code if a protocol error made us fail an open connection,
    /// and lets the transport be closed. It does not touch the receive
    /// buffers, so it can run while an event borrows them.
    fn fail(&mut self, send: &mut SendSide, now: Instant, failure: Failure) {
        let code = failure.close_code();
        // The peer broke the protocol or held a message too long: it is
        // there to read our Close, which says why.
        let reason = match &failure {
            Failure::Protocol(e) => Some(e.reason()),
            Failure::MessageTimeout => Some("message timeout"),
            _ => None,
        };
        if let Some(reason) = reason
            && send.status == SendStatus::Open
        {
            send.write_close(Some(code), reason);
        }
        send.status = SendStatus::Closed(Initiator::Failure);
        self.close(Closed {
            code,
            reason: String::new(),
            clean: false,
            initiator: Initiator::Failure,
            failure: Some(failure),
        });
        self.closable(now);
    }
}

/// What the next event is, without borrowing anything.
#[derive(Debug)]
enum Raw {
    Request,
    Open,
    Rejected,
    Text(Payload),
    Binary(Payload),
    Fragment { kind: MessageKind, payload: Payload, fin: bool },
    Ping(Range<usize>),
    Pong(Range<usize>),
    Closed,
}

/// A WebSocket connection, client or server, as a sans-IO state machine.
///
/// The caller's loop:
///
/// 1. [`receive`](Self::receive) what the transport read
///    ([`receive_eof`](Self::receive_eof) at end of file);
/// 2. [`poll_event`](Self::poll_event) until it returns `None`;
/// 3. write [`output_buffer`](Self::output_buffer) to the transport
///    and report how much was written with
///    [`advance_output`](Self::advance_output);
/// 4. sleep until [`poll_timeout`](Self::poll_timeout) at most, then
///    call [`handle_timeout`](Self::handle_timeout);
/// 5. close the transport when
///    [`should_close_transport`](Self::should_close_transport) says so.
///
/// Peer misbehaviour is never an `Err`: the connection fails itself as RFC
/// 6455 §7.1.7 says (queues a Close with the right code, moves to CLOSED)
/// and reports what happened in [`Event::Closed`].
///
/// The [crate documentation](crate) has a complete example.
///
/// Memory: the value itself is 736 bytes on x86_64 with the `deflate`
/// feature, 704 without (`tests/memory.rs` checks it stays at most 736). Its buffers grow with the traffic and keep their
/// capacity; [`shrink_buffers`](Self::shrink_buffers) releases what holds no
/// data, after which an idle OPEN connection holds no heap memory at all
/// ([`buffer_capacity`](Self::buffer_capacity) is 0).
#[derive(Debug)]
pub struct Connection {
    role: Role,
    config: Config,
    /// The opening handshake (`handshake/opening.rs`), done once OPEN.
    opening: Opening,
    /// Drop the handshake's head on the next poll (the event that showed it
    /// was delivered).
    drop_head: bool,
    open_pending: bool,
    protocol: Option<String>,
    recv: Receiver,
    send: SendSide,
    timers: Timers,
    life: Lifecycle,
    pings_sent: u32,
    /// What the handshake agreed about extensions (`extension.rs`).
    agreement: Agreement,
}

impl Connection {
    fn new(role: Role, config: Config, opening: Opening, masker: Option<Box<MaskingKeys>>, now: Instant) -> Self {
        let handshake = !opening.is_done();
        Connection {
            role,
            opening,
            drop_head: false,
            open_pending: false,
            protocol: None,
            recv: Receiver::new(role),
            send: SendSide::new(masker, config.fragment_size),
            timers: Timers::new(now, handshake, &config),
            life: Lifecycle::default(),
            pings_sent: 0,
            agreement: Agreement::default(),
            config,
        }
    }

    /// A client that will send `request`, created at `now` (the handshake
    /// timer starts); the request is already in
    /// [`output_buffer`](Self::output_buffer). Keys come from ChaCha20
    /// seeded by the operating system, which is the only thing that can fail.
    pub fn client(now: Instant, request: ClientRequest, config: Config) -> Result<Self, RandomError> {
        Ok(Self::client_with_random(now, request, config, OsRandom::new()?))
    }

    /// A client whose handshake key and masking keys come from `random`
    /// (for reproducible tests; production code wants [`client`](Self::client)).
    pub fn client_with_random(
        now: Instant,
        request: ClientRequest,
        config: Config,
        random: impl RandomSource + 'static,
    ) -> Self {
        let masker = Some(Box::new(MaskingKeys::new(random)) as Box<MaskingKeys>);
        let mut conn = Connection::new(Role::Client, config, Opening::server(), masker, now);
        let mut key = [0u8; 16];
        conn.send.random_bytes(&mut key);
        conn.opening = Opening::client(request, key, &conn.config, &mut conn.send.out);
        conn
    }

    /// A server waiting for a handshake request, created at `now` (the
    /// handshake timer starts).
    pub fn server(now: Instant, config: Config) -> Self {
        Connection::new(Role::Server, config, Opening::server(), None, now)
    }

    /// A connection that is already OPEN at `now`, for when something else
    /// did the handshake (an HTTP server's upgrade handler, an HTTP/2
    /// extended CONNECT stream, a proxy): `established` says the role and
    /// what was negotiated. No [`Event::Open`] is reported. A client seeds
    /// its masking keys from the operating system, which is the only thing
    /// that can fail.
    pub fn established(now: Instant, established: Established, config: Config) -> Result<Self, RandomError> {
        let masker = match established.role {
            Role::Client => Some(Box::new(MaskingKeys::new(OsRandom::new()?)) as Box<MaskingKeys>),
            Role::Server => None,
        };
        Ok(Self::established_inner(now, established, config, masker))
    }

    /// Like [`established`](Self::established), with the given random
    /// source for a client's masking keys (ignored for a server).
    pub fn established_with_random(
        now: Instant,
        established: Established,
        config: Config,
        random: impl RandomSource + 'static,
    ) -> Self {
        let masker = (established.role == Role::Client).then(|| Box::new(MaskingKeys::new(random)) as Box<MaskingKeys>);
        Self::established_inner(now, established, config, masker)
    }

    fn established_inner(
        now: Instant,
        established: Established,
        config: Config,
        masker: Option<Box<MaskingKeys>>,
    ) -> Self {
        let mut conn = Connection::new(established.role, config, Opening::done(), masker, now);
        let agreed = Agreed::from_agreement(established.agreement, &conn.config, conn.role == Role::Client);
        conn.open(now, established.protocol, agreed);
        conn
    }

    /// This connection's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The current state.
    pub fn state(&self) -> State {
        if self.life.closed.is_some() {
            return State::Closed;
        }
        match (self.opening.is_done(), self.send.status) {
            (true, SendStatus::Closed(Initiator::Local)) => State::Closing,
            (true, _) => State::Open,
            (false, _) => State::Connecting,
        }
    }

    /// The negotiated subprotocol, once open.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// How the connection ended, once it has.
    pub fn closed(&self) -> Option<&Closed> {
        self.life.closed.as_deref()
    }

    // ----- bytes in -----

    /// Feeds bytes read from the transport. Nothing is parsed until
    /// [`poll_event`](Self::poll_event), which should be called until it
    /// returns `None` before more bytes are fed: the receive buffer holds
    /// what was fed and not yet parsed. Bytes after a Close frame, or after
    /// the connection closed, are discarded (RFC 6455 §5.5.1).
    pub fn receive(&mut self, data: &[u8]) {
        if self.life.closed.is_some() || self.life.eof || data.is_empty() {
            return;
        }
        self.timers.on_activity();
        self.recv.push(data);
    }

    /// Room to read the next bytes from the transport into, so that they
    /// land in the receive buffer without a copy: read into it, then report
    /// the count with [`advance_input`](Self::advance_input) (an end of file
    /// with [`receive_eof`](Self::receive_eof)). [`read_from`](Self::read_from)
    /// does the three steps for an [`io::Read`](std::io::Read). The pair
    /// mirrors [`output_buffer`](Self::output_buffer) and
    /// [`advance_output`](Self::advance_output).
    ///
    /// The room is at least 4 KiB (or `max_read_size`, if smaller). It grows, up to
    /// [`Config::max_read_size`] (64 KiB by default), while reads fill
    /// it, so a busy connection reads in large pieces and a quiet one holds
    /// little; [`shrink_buffers`](Self::shrink_buffers) releases it. The
    /// bytes in it are whatever was there before (never uninitialized
    /// memory): only the first `n` reported to `advance_input` are looked at.
    ///
    /// ```
    /// # use std::time::Instant;
    /// # use wsmachine::{Config, Connection, Established, Event, Role};
    /// # let mut ws = Connection::established(Instant::now(), Established::new(Role::Server), Config::default()).unwrap();
    /// let frame = [0x82, 0x82, 1, 2, 3, 4, 0x2a ^ 1, 0x2b ^ 2]; // a masked binary frame
    /// let room = ws.input_buffer();
    /// room[..frame.len()].copy_from_slice(&frame); // a transport's read
    /// ws.advance_input(frame.len());
    /// assert!(matches!(ws.poll_event(), Some(Event::Binary(&[0x2a, 0x2b]))));
    /// ```
    pub fn input_buffer(&mut self) -> &mut [u8] {
        self.recv.input.spare(self.config.max_read_size)
    }

    /// Reports that `n` bytes were read into [`input_buffer`](Self::input_buffer).
    /// As with [`receive`](Self::receive), nothing is parsed until
    /// [`poll_event`](Self::poll_event), and bytes after a Close frame or
    /// after the connection closed are discarded. `n` is capped at the room's length.
    pub fn advance_input(&mut self, n: usize) {
        if self.life.closed.is_some() || self.life.eof || n == 0 {
            return;
        }
        self.timers.on_activity();
        self.recv.input.commit(n, self.config.max_read_size);
    }

    /// Reads once from `transport` straight into the receive buffer (see
    /// [`input_buffer`](Self::input_buffer)) and returns the number of
    /// bytes read, as [`io::Read::read`](std::io::Read::read) does. A read of
    /// 0 bytes is the end of file and is reported with
    /// [`receive_eof`](Self::receive_eof). Errors (including `WouldBlock`)
    /// are returned as they are and change nothing.
    pub fn read_from<R: std::io::Read + ?Sized>(&mut self, transport: &mut R) -> std::io::Result<usize> {
        let n = transport.read(self.input_buffer())?;
        if n == 0 {
            self.receive_eof();
        } else {
            self.advance_input(n);
        }
        Ok(n)
    }

    /// Reports that the transport reached end of file. Complete frames
    /// already received are still delivered; then, unless the closing
    /// handshake completed, the connection closes with 1006, not clean.
    pub fn receive_eof(&mut self) {
        self.life.eof = true;
        if self.life.closed.is_some() {
            self.life.closable(self.timers.now());
        }
    }

    // ----- events out -----

    /// The next event, if any. Events borrow the connection: drop the event
    /// before calling another method.
    #[inline]
    #[must_use = "events carry the messages, and polling is what advances the connection"]
    pub fn poll_event(&mut self) -> Option<Event<'_>> {
        self.poll_event_with_sender().map(|(event, _)| event)
    }

    /// The next event together with the sending half, so that a payload the
    /// event borrows can be sent without copying it first:
    ///
    /// ```
    /// # use std::time::Instant;
    /// # use wsmachine::{Config, Connection, Established, Event, Role};
    /// # let mut ws = Connection::established(Instant::now(), Established::new(Role::Server), Config::default()).unwrap();
    /// # ws.receive(&[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2]);
    /// while let Some((event, mut tx)) = ws.poll_event_with_sender() {
    ///     match event {
    ///         Event::Text(text) => tx.send_text(text).unwrap(),
    ///         Event::Binary(data) => tx.send_binary(data).unwrap(),
    ///         _ => {}
    ///     }
    /// }
    /// assert_eq!(ws.output_buffer(), b"\x81\x02hi");
    /// ```
    #[inline]
    #[must_use = "events carry the messages, and polling is what advances the connection"]
    pub fn poll_event_with_sender(&mut self) -> Option<(Event<'_>, Sender<'_>)> {
        // The common case, a whole single-frame message at the front of the
        // receive buffer on an open connection, skips the general path
        // (which would deliver the same event). It is small enough to be
        // inlined into the caller's event loop; the general path is not.
        if self.plain_open() {
            let limit = self.config.max_frame_size.min(self.config.max_message_size);
            if let Some((kind, range)) = self.recv.next_whole(limit, self.config.max_retained_buffer) {
                return self.message_event(kind, range);
            }
        }
        self.poll_general()
    }

    /// `poll_event_with_sender` past the fast path.
    #[inline(never)]
    fn poll_general(&mut self) -> Option<(Event<'_>, Sender<'_>)> {
        let raw = self.next_raw()?;
        self.view(raw)
    }

    /// OPEN or CLOSING with nothing but frames to report, in buffered mode.
    #[inline]
    fn plain_open(&self) -> bool {
        self.opening.is_done()
            && !self.drop_head
            && !self.open_pending
            && self.life.closed.is_none()
            && !self.config.streaming
    }

    /// The event for a whole message in `recv.buf[range]`; text is checked
    /// here (a failure fails the connection with 1007, RFC 6455 §8.1).
    #[inline]
    fn message_event(&mut self, kind: MessageKind, range: Range<usize>) -> Option<(Event<'_>, Sender<'_>)> {
        let Connection { recv, send, life, timers, .. } = self;
        recv.delivered = true;
        let data = recv.input.get(range);
        let event = match kind {
            MessageKind::Binary => Event::Binary(data),
            MessageKind::Text => match crate::utf8::from_utf8(data) {
                Ok(text) => Event::Text(text),
                Err(e) => Event::Closed(life.fail_text(send, timers.now(), e.valid_up_to() as u64)?),
            },
        };
        Some((event, Sender::new(send)))
    }

    fn next_raw(&mut self) -> Option<Raw> {
        if self.drop_head {
            self.drop_head = false;
            self.opening.drop_head();
        }
        if self.open_pending {
            self.open_pending = false;
            self.drop_head = true;
            return Some(Raw::Open);
        }
        if self.life.closed.is_some() {
            self.recv.discard();
            if self.life.reported {
                return None;
            }
            self.life.reported = true;
            return Some(Raw::Closed);
        }
        if self.opening.is_done() {
            return self.poll_frames();
        }
        self.poll_opening()
    }

    /// Fails the connection and reports it now.
    fn fail_now(&mut self, failure: Failure) -> Option<Raw> {
        self.life.fail(&mut self.send, self.timers.now(), failure);
        self.life.reported = true;
        Some(Raw::Closed)
    }

    /// CONNECTING: what the opening handshake made of the received bytes.
    fn poll_opening(&mut self) -> Option<Raw> {
        let input = self.recv.input.data();
        match self.opening.poll(input, self.life.eof, &self.config, &mut self.send.out)? {
            Outcome::Request { len } => {
                self.recv.input.consume(len);
                Some(Raw::Request)
            }
            Outcome::Open { len, protocol, agreed } => {
                // Bytes after the head are frames: keep them.
                self.recv.input.consume(len);
                self.open(self.timers.now(), protocol, agreed);
                self.drop_head = true;
                Some(Raw::Open)
            }
            Outcome::Rejected(e) => {
                self.life.fail(&mut self.send, self.timers.now(), e.into());
                Some(Raw::Rejected)
            }
            Outcome::Failed(e) => self.fail_now(e.into()),
        }
    }

    /// The handshake is over (or there was none) at `now`: frames flow,
    /// the heartbeat starts, the agreed extension's transforms take over.
    fn open(&mut self, now: Instant, protocol: Option<String>, agreed: Agreed) {
        self.protocol = protocol;
        self.enable_extensions(agreed);
        self.recv.start_frames();
        self.send.status = SendStatus::Open;
        self.timers.on_open(now);
    }

    /// Hands the agreed extension's transforms to the two halves.
    pub(crate) fn enable_extensions(&mut self, agreed: Agreed) {
        self.send.set_encoder(agreed.encoder);
        self.recv.set_decoder(agreed.decoder);
        self.agreement = agreed.agreement;
    }

    /// The permessage-deflate parameters, if it was negotiated.
    #[cfg(feature = "deflate")]
    pub fn deflate(&self) -> Option<crate::deflate::DeflateParams> {
        self.agreement.deflate
    }

    fn limits(&self) -> Limits {
        Limits {
            max_frame: self.config.max_frame_size,
            max_message: self.config.max_message_size,
            streaming: self.config.streaming,
            retain: self.config.max_retained_buffer,
        }
    }

    /// Open or closing: reads frames (RFC 6455 §5).
    fn poll_frames(&mut self) -> Option<Raw> {
        let incoming = match self.recv.next(self.limits()) {
            Err(e) => return self.fail_now(e.into()),
            Ok(None) if self.life.eof => return self.fail_now(Failure::UnexpectedEof),
            Ok(None) => return None,
            Ok(Some(incoming)) => incoming,
        };
        if matches!(incoming, Incoming::Message { .. }) {
            self.recv.delivered = true;
        }
        Some(match incoming {
            Incoming::Message { kind: MessageKind::Text, payload } => Raw::Text(payload),
            Incoming::Message { kind: MessageKind::Binary, payload } => Raw::Binary(payload),
            Incoming::Fragment { kind, payload, fin } => Raw::Fragment { kind, payload, fin },
            Incoming::Control { opcode: OpCode::Ping, range } => {
                // RFC 6455 §5.5.2: answer with a Pong carrying the same payload,
                // unless we already sent a Close.
                if self.config.auto_pong && self.send.status == SendStatus::Open {
                    self.send.write_auto_pong(self.recv.input.get(range.clone()), self.config.auto_pong_backlog);
                }
                Raw::Ping(range)
            }
            Incoming::Control { opcode: OpCode::Close, range } => return self.on_close_frame(range),
            Incoming::Control { range, .. } => {
                self.timers.on_pong();
                Raw::Pong(range)
            }
        })
    }

    /// A Close frame arrived (RFC 6455 §5.5.1, §7.1.2–§7.1.4).
    fn on_close_frame(&mut self, range: Range<usize>) -> Option<Raw> {
        let (code, reason) = match parse_close_payload(self.recv.input.get(range)) {
            Err(e) => return self.fail_now(ProtocolError::InvalidClose(e).into()),
            Ok(None) => (None, String::new()),
            Ok(Some((code, reason))) => (Some(code), reason.to_owned()),
        };
        let initiator = if self.send.status == SendStatus::Open {
            // The peer closes first: echo its code (§5.5.1).
            self.send.write_close(code, "");
            self.send.status = SendStatus::Closed(Initiator::Peer);
            Initiator::Peer
        } else {
            Initiator::Local
        };
        self.life.close(Closed {
            code: code.unwrap_or(CloseCode::NO_STATUS),
            reason,
            clean: true,
            initiator,
            failure: None,
        });
        self.life.reported = true;
        // §7.1.1: the server closes the transport first; a client waits for
        // it (bounded by the close timeout).
        if self.role == Role::Server || self.life.eof {
            self.life.closable(self.timers.now());
        } else {
            self.timers.on_awaiting_eof(self.send.close_sent_at, &self.config);
        }
        Some(Raw::Closed)
    }

    /// Turns a raw event into one that borrows the connection's buffers.
    fn view(&mut self, raw: Raw) -> Option<(Event<'_>, Sender<'_>)> {
        let Connection { recv, send, life, opening, protocol, role, agreement, timers, .. } = self;
        let payload = |p: &Payload| -> &[u8] {
            match p {
                Payload::Input(r) => recv.input.get(r.clone()),
                Payload::Assembled => &recv.assembled,
                Payload::Text => recv.text.as_bytes(),
            }
        };
        let event = match raw {
            Raw::Request => Event::Request(Request::new(opening.head()?)),
            Raw::Rejected => Event::Rejected(Response::new(opening.head()?)),
            Raw::Open => Event::Open(Open {
                protocol: protocol.as_deref(),
                head: opening.head(),
                client: *role == Role::Client,
                agreement: *agreement,
            }),
            // Checked as it arrived, piece by piece.
            Raw::Text(Payload::Text) => Event::Text(&recv.text),
            Raw::Text(p) => match crate::utf8::from_utf8(payload(&p)) {
                Ok(text) => Event::Text(text),
                Err(e) => Event::Closed(life.fail_text(send, timers.now(), e.valid_up_to() as u64)?),
            },
            Raw::Binary(p) => Event::Binary(payload(&p)),
            Raw::Fragment { kind, payload: p, fin } => Event::Fragment(Fragment { kind, data: payload(&p), fin }),
            Raw::Ping(r) => Event::Ping(recv.input.get(r)),
            Raw::Pong(r) => Event::Pong(recv.input.get(r)),
            Raw::Closed => Event::Closed(life.closed.as_deref()?),
        };
        Some((event, Sender::new(send)))
    }

    // ----- the server's decision -----

    /// The request waiting for [`accept`](Self::accept) or [`reject`](Self::reject).
    pub fn pending_request(&self) -> Option<Request<'_>> {
        self.life.closed.is_none().then(|| self.opening.pending_request()).flatten()
    }

    /// Server: accepts the pending request at `now` (the heartbeat, if
    /// configured, counts from here); the connection is OPEN and an
    /// [`Event::Open`] follows. The subprotocol must be one the client
    /// offered; extensions are negotiated by the connection (as
    /// [`Config::deflate`] says), so `accept` must not name any.
    pub fn accept(&mut self, now: Instant, accept: Accept) -> Result<(), DecisionError> {
        if self.life.closed.is_some() {
            return Err(DecisionError::NoRequest);
        }
        let (protocol, agreed) = self.opening.accept(accept, &self.config, &mut self.send.out)?;
        self.open(now, protocol, agreed);
        self.open_pending = true;
        Ok(())
    }

    /// Server: rejects the pending request at `now` with an HTTP response.
    /// An [`Event::Closed`] follows; close the transport once the response
    /// is written ([`should_close_transport`](Self::should_close_transport)),
    /// which the close timeout bounds (see there).
    pub fn reject(&mut self, now: Instant, reject: Reject) -> Result<(), DecisionError> {
        if self.life.closed.is_some() {
            return Err(DecisionError::NoRequest);
        }
        self.opening.reject(&reject, &mut self.send.out)?;
        self.send.status = SendStatus::Closed(Initiator::Local);
        self.life.close(Closed {
            code: CloseCode::ABNORMAL,
            reason: String::new(),
            clean: false,
            initiator: Initiator::Local,
            failure: None,
        });
        self.life.closable(now);
        Ok(())
    }

    // ----- sending -----

    /// The sending half: the one way to send messages, Pings, Pongs and the
    /// Close. [`poll_event_with_sender`](Self::poll_event_with_sender) lends
    /// the same view beside an event.
    ///
    /// ```
    /// # use std::time::Instant;
    /// # use wsmachine::{Config, Connection, Established, Role};
    /// let mut ws = Connection::established(Instant::now(), Established::new(Role::Server), Config::default())?;
    /// ws.sender().send_text("hello")?;
    /// assert_eq!(ws.output_buffer(), b"\x81\x05hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    #[must_use = "a sender sends nothing until one of its methods is called"]
    pub fn sender(&mut self) -> Sender<'_> {
        Sender::new(&mut self.send)
    }

    // ----- bytes out -----

    /// Bytes to write to the transport, in order; its length is the figure
    /// for backpressure (the browser API's `bufferedAmount`). Write as much
    /// as the transport takes, then call [`advance_output`](Self::advance_output).
    #[inline]
    pub fn output_buffer(&self) -> &[u8] {
        self.send.pending()
    }

    /// Marks the first `n` bytes of [`output_buffer`](Self::output_buffer)
    /// as written.
    #[inline]
    pub fn advance_output(&mut self, n: usize) {
        self.send.advance(n);
    }

    /// Writes [`output_buffer`](Self::output_buffer) to `transport` until
    /// all of it is written or the transport takes no more now
    /// (`WouldBlock`), and returns the number of bytes written; `Interrupted`
    /// is retried, and a write of zero bytes is an error of kind `WriteZero`
    /// (as in `write_all`). A convenience for blocking
    /// and readiness-based transports, the mirror of
    /// [`read_from`](Self::read_from).
    pub fn write_to<W: std::io::Write + ?Sized>(&mut self, transport: &mut W) -> std::io::Result<usize> {
        self.send.write_pending_to(transport)
    }

    /// Whether the caller should close the transport now: the connection is
    /// over and its output is written. A server closes right after the
    /// closing handshake; a client waits for the server to close first
    /// (RFC 6455 §7.1.1), at most [`Config::close_timeout`]. Output the peer
    /// does not take within [`Config::close_timeout`] of the end is dropped
    /// (at [`handle_timeout`](Self::handle_timeout)), so this turns true
    /// even for a peer that stopped reading.
    #[must_use]
    pub fn should_close_transport(&self) -> bool {
        self.life.closable_since.is_some() && self.send.pending().is_empty()
    }

    /// Output was dropped unwritten (the write timeout, or the grace after
    /// the end ran out): an adapter's flush reports the end instead of success.
    #[cfg_attr(not(any(feature = "tokio", feature = "blocking")), allow(dead_code))]
    pub(crate) fn output_dropped(&self) -> bool {
        self.send.abandoned
    }

    // ----- time -----

    /// When [`handle_timeout`](Self::handle_timeout) should next be called,
    /// or `None` if no timer runs. Each timer is armed when it starts, at
    /// the `now` its call was given (see the [`timers`](crate#time) section
    /// of the crate docs), so this is always a real deadline; it is in the
    /// past only if the caller is late.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let phase = self.phase();
        let deadline = self.timers.deadline(phase, &self.config);
        if phase != Phase::Open {
            return deadline;
        }
        let writes = self.timers.write_deadline(!self.send.pending().is_empty(), &self.config);
        let message = self.timers.message_deadline(self.receiving(), &self.config);
        deadline.into_iter().chain(writes).chain(message).min()
    }

    /// A buffered message (or frame, or header) is partly received.
    fn receiving(&self) -> bool {
        !self.config.streaming && self.recv.in_progress()
    }

    /// Gives the connection the current time; runs the timers that are due.
    /// It may be called at any time, as often as you like.
    ///
    /// Handshake timeout: the connection closes (a server that had not yet
    /// received a whole request answers `408`). Ping interval: a Ping is
    /// queued. Pong, write and close timeouts: the connection closes with
    /// 1006, not clean. A client's wait for the server to close the
    /// transport ends. Output still unwritten [`Config::close_timeout`]
    /// after the end is dropped.
    pub fn handle_timeout(&mut self, now: Instant) {
        let progressed = core::mem::take(&mut self.send.progressed);
        if self.phase() == Phase::Open
            && self.timers.watch_writes(now, !self.send.pending().is_empty(), progressed, &self.config)
        {
            // The peer takes nothing: our Close could not go either.
            self.life.fail(&mut self.send, now, Failure::WriteTimeout);
            self.send.abandon();
        }
        let delivered = core::mem::take(&mut self.recv.delivered);
        if self.phase() == Phase::Open && self.timers.watch_message(now, self.receiving(), delivered, &self.config) {
            self.recv.discard();
            self.life.fail(&mut self.send, now, Failure::MessageTimeout);
        }
        // Each step moves to a later phase or arms a later deadline, so this
        // ends after a few rounds.
        for _ in 0..4 {
            let Some(expired) = self.timers.tick(now, self.phase(), &self.config) else {
                return;
            };
            match expired {
                Expired::Handshake => {
                    self.opening.on_timeout(&mut self.send.out);
                    self.life.fail(&mut self.send, now, Failure::HandshakeTimeout);
                }
                Expired::Ping => {
                    self.pings_sent = self.pings_sent.wrapping_add(1);
                    self.send.write_frame(OpCode::Ping, true, &self.pings_sent.to_be_bytes());
                }
                Expired::Pong => self.life.fail(&mut self.send, now, Failure::PongTimeout),
                Expired::Close => self.life.fail(&mut self.send, now, Failure::CloseTimeout),
                Expired::Eof => self.life.closable(now),
                Expired::Drain => self.send.abandon(),
            }
        }
    }

    fn phase(&self) -> Phase {
        if self.life.closed.is_some() {
            return match self.life.closable_since {
                None => Phase::AwaitingEof,
                Some(since) if !self.send.pending().is_empty() => Phase::Draining(since),
                Some(_) => Phase::Done,
            };
        }
        match (self.opening.is_done(), self.send.status) {
            (true, SendStatus::Open) => Phase::Open,
            (true, SendStatus::Closed(Initiator::Local)) => {
                Phase::AwaitingClose(self.send.close_sent_at.unwrap_or(self.timers.now()))
            }
            (true, _) => Phase::Done,
            (false, _) => Phase::Handshake,
        }
    }

    // ----- memory -----

    /// Releases buffer memory that holds no data (an idle connection then
    /// holds only its fixed state). Adapters may call this when a connection
    /// goes idle.
    pub fn shrink_buffers(&mut self) {
        self.recv.shrink();
        self.send.shrink();
    }

    /// Heap memory held by the connection's buffers and handshake head, in
    /// bytes (not counting the fixed `size_of::<Connection>()`).
    pub fn buffer_capacity(&self) -> usize {
        self.recv.capacity() + self.send.capacity() + self.opening.heap_size()
    }
}
