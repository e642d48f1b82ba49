//! Drive many [`Connection`]s over non-blocking [mio](https://docs.rs/mio)
//! TCP streams on one thread (cargo feature `mio`).
//!
//! This file is the whole adapter and is meant to be read: it is the loop
//! any runtime needs, written out once.
//!
//! - **Readiness is edge-triggered**, so on every READABLE event the stream
//!   is read until `WouldBlock` (on Unix, until a read that does not fill the
//!   room offered: the socket is empty then, and later input raises a new
//!   event, so the extra read is skipped). Once a connection's reads fill
//!   a 4 KiB scratch buffer (one per driver), they go straight into its
//!   receive buffer ([`Connection::input_buffer`], no copy); while its
//!   traffic is light they go through the scratch buffer, so a quiet
//!   connection holds no read room.
//!   Each read is followed by your [`Handler`], which polls the events (so
//!   the receive buffer never holds more than one read).
//! - **Output is written once per wakeup**: everything the connection queued
//!   (echoes, Pongs, Close replies) leaves in as few `write` calls as the
//!   socket accepts. What the socket does not take waits for WRITABLE.
//! - **Backpressure** (on by default for server connections,
//!   [`Driver::set_max_buffered`]): while a server connection's unwritten
//!   output exceeds [`DEFAULT_MAX_BUFFERED`](super::DEFAULT_MAX_BUFFERED),
//!   the driver stops reading from it, so a peer that sends but does not
//!   read (to an echo, a relay) cannot grow our memory; the write timeout
//!   ([`Config::write_timeout`](crate::Config::write_timeout)) then drops a
//!   peer that never reads again. A server's output is driven by its input,
//!   so holding back its reads is safe. Not a client's: a client whose
//!   output is driven by the application, talking to a server that holds
//!   back too, would wait for the server while the server waits for it, so
//!   clients keep reading and the application watches
//!   [`Connection::output_buffer`] itself.
//! - **Fairness**: a connection is read at most [`READ_BUDGET`] times per
//!   turn; one with more input waiting is serviced again in the next turn
//!   (which then does not wait), so one flooding peer does not starve the
//!   others.
//! - **Time**: the poll timeout is the earliest [`Connection::poll_timeout`];
//!   every connection whose deadline passed gets [`Connection::handle_timeout`].
//!   Deadlines are kept in order (a `BTreeSet`), so a turn costs what its
//!   ready and due connections cost, however many others are open.
//! - **Memory**: a connection on which nothing arrived for a second
//!   ([`Driver::set_shrink_after`]) releases its empty buffers, so an idle
//!   connection costs its state (about 1 KiB with the driver's entry).
//! - **Closing**: when [`Connection::should_close_transport`] says so, the
//!   driver shuts down the write side and reads until the peer's EOF (at most
//!   two seconds) before dropping the socket. Dropping a socket with unread
//!   input would send a reset, which can destroy our Close frame in flight.
//!
//! ```no_run
//! use std::time::Instant;
//! use wsmachine::adapters::mio::{Driver, Handler, Token};
//! use wsmachine::{Accept, Config, Connection, Event};
//!
//! struct Echo;
//! impl Handler for Echo {
//!     fn handle(&mut self, _id: Token, ws: &mut Connection, now: Instant) {
//!         while let Some((event, mut tx)) = ws.poll_event_with_sender() {
//!             let accept = match event {
//!                 Event::Request(_) => true,
//!                 Event::Text(t) => { let _ = tx.send_text(t); false }
//!                 Event::Binary(b) => { let _ = tx.send_binary(b); false }
//!                 _ => false,
//!             };
//!             if accept {
//!                 let _ = ws.accept(now, Accept::new());
//!             }
//!         }
//!     }
//! }
//!
//! let mut driver = Driver::new(Echo)?;
//! driver.listen(mio::net::TcpListener::bind("127.0.0.1:9001".parse()?)?, Config::default())?;
//! loop {
//!     driver.turn(None)?;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeSet, HashMap};
use std::io::{self, ErrorKind, Read};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use ::mio::net::{TcpListener, TcpStream};
use ::mio::{Events, Interest, Poll};

pub use ::mio::Token;

use super::DEFAULT_SHRINK_AFTER;
use super::idle::{IDLE_READ, Idle};
use crate::{Config, Connection, Role};

/// How long a closed connection waits for the peer's EOF before the socket is dropped.
const LINGER: Duration = Duration::from_secs(2);
const LISTENER: Token = Token(usize::MAX);

/// The application's side of the driver.
pub trait Handler {
    /// `ws` may have new events: bytes arrived or a timer ran. Poll its
    /// events until `None` and react (accept or reject a request, send).
    /// `now` is the time of this wakeup (the driver reads the clock once per
    /// turn), for the calls that take it
    /// ([`accept`](Connection::accept), [`close`](crate::Sender::close)).
    fn handle(&mut self, id: Token, ws: &mut Connection, now: Instant);

    /// The transport of `id` was closed and the connection is dropped.
    fn closed(&mut self, id: Token, ws: &Connection) {
        let _ = (id, ws);
    }

    /// Accepting a connection failed (out of descriptors, of memory). The
    /// driver goes on serving and retries after [`ACCEPT_BACKOFF`]; this is
    /// for logging.
    fn accept_failed(&mut self, error: &io::Error) {
        let _ = error;
    }
}

/// Answers a connection beyond the limit with `503` and drops it. What
/// the client already sent is read first (best effort), since closing a
/// socket with unread input resets it, and the reset can destroy the
/// answer in flight.
fn refuse(stream: &mut TcpStream, scratch: &mut [u8]) {
    for _ in 0..4 {
        if !matches!(io::Read::read(stream, scratch), Ok(n) if n > 0) {
            break;
        }
    }
    let mut refusal = Vec::new();
    let _ = crate::handshake::server::write_reject(&mut refusal, &crate::Reject::status(503));
    // A fresh socket's send buffer takes these few bytes at once.
    let _ = io::Write::write(stream, &refusal);
    let _ = stream.shutdown(Shutdown::Write);
}

/// The most reads of one connection per turn (with 64 KiB reads, 1 MiB).
pub const READ_BUDGET: u32 = 16;

/// How long the driver waits before accepting again after a failure for
/// want of a resource: long enough not to spin while descriptors are
/// short, short enough that the backlog is not left waiting.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

struct Entry {
    stream: TcpStream,
    ws: Connection,
    /// The peer's EOF (or a read error) was seen.
    eof: bool,
    /// The write side was shut down at this time; waiting for the peer's EOF.
    lingering: Option<Instant>,
    /// The idle-memory policy (`adapters/idle.rs`).
    idle: Idle,
    /// When the driver must next look at it (its entry in `Driver::timers`).
    deadline: Option<Instant>,
    /// Lent out by [`Driver::connection`] since the last turn (listed in `Driver::lent`).
    lent: bool,
}

/// One thread's event loop over many connections.
pub struct Driver<H> {
    poll: Poll,
    events: Events,
    listener: Option<(TcpListener, Config)>,
    conns: HashMap<Token, Entry>,
    /// Every connection's next deadline, earliest first: a turn looks at the
    /// due ones only, not at every connection.
    timers: BTreeSet<(Instant, Token)>,
    /// Connections lent out by [`Driver::connection`] (each once), whose deadline may
    /// have changed without the driver seeing it.
    lent: Vec<Token>,
    next_token: usize,
    max_buffered: Option<usize>,
    /// Connections that used their read budget with input left: serviced
    /// again next turn, which does not wait.
    again: Vec<Token>,
    shrink_after: Option<Duration>,
    /// The 4 KiB buffer that cold connections read into (see
    /// `read_once`), one for all: zeroed once, not on every read.
    scratch: Box<[u8]>,
    /// The connections a turn services, kept to reuse its memory.
    ready: Vec<(Token, bool)>,
    /// Accepting failed for want of a resource (descriptors, memory): try
    /// again at this time (the edge-triggered listener will not say the
    /// backlog is still there).
    accept_paused_until: Option<Instant>,
    /// Refuse connections beyond this many with `503` (`None`: no limit).
    max_connections: Option<usize>,
    handler: H,
}

impl<H: Handler> Driver<H> {
    /// A driver with no connections.
    pub fn new(handler: H) -> io::Result<Self> {
        Ok(Driver {
            poll: Poll::new()?,
            events: Events::with_capacity(1024),
            listener: None,
            conns: HashMap::new(),
            timers: BTreeSet::new(),
            lent: Vec::new(),
            next_token: 0,
            max_buffered: Some(super::DEFAULT_MAX_BUFFERED),
            again: Vec::new(),
            shrink_after: Some(DEFAULT_SHRINK_AFTER),
            scratch: vec![0; IDLE_READ].into_boxed_slice(),
            ready: Vec::new(),
            accept_paused_until: None,
            max_connections: None,
            handler,
        })
    }

    /// Accept TCP connections on `listener`; each becomes a server [`Connection`] with `config`.
    pub fn listen(&mut self, mut listener: TcpListener, config: Config) -> io::Result<()> {
        self.poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
        self.listener = Some((listener, config));
        Ok(())
    }

    /// Connects to `addr` and drives `ws` (normally a client) over the stream.
    pub fn connect(&mut self, addr: SocketAddr, ws: Connection) -> io::Result<Token> {
        let stream = TcpStream::connect(addr)?;
        self.add(stream, ws)
    }

    /// Drives `ws` over an already connected (or connecting) stream.
    pub fn add(&mut self, mut stream: TcpStream, ws: Connection) -> io::Result<Token> {
        let id = Token(self.next_token);
        self.next_token = (self.next_token + 1) % (usize::MAX - 1);
        self.poll.registry().register(&mut stream, id, Interest::READABLE | Interest::WRITABLE)?;
        let _ = stream.set_nodelay(true);
        let now = Instant::now();
        let entry =
            Entry { stream, ws, eof: false, lingering: None, idle: Idle::new(now), deadline: None, lent: false };
        self.conns.insert(id, entry);
        self.service(id, false, now);
        Ok(id)
    }

    /// Stop reading from a server connection while more than `bytes` of its
    /// output are unwritten (`None`: always read). Default:
    /// [`DEFAULT_MAX_BUFFERED`](super::DEFAULT_MAX_BUFFERED) (128 KiB).
    /// Clients always read (the module docs say why).
    pub fn set_max_buffered(&mut self, bytes: Option<usize>) {
        self.max_buffered = bytes;
    }

    /// Refuse connections accepted beyond `limit` open ones with
    /// `503 Service Unavailable` before the upgrade (`None`: no limit).
    /// Default: `None`. A limit below the process's descriptor limit keeps
    /// room for the refusals themselves.
    pub fn set_max_connections(&mut self, limit: Option<usize>) {
        self.max_connections = limit;
    }

    /// Release a connection's empty buffers once nothing has arrived on it
    /// for this long (`None`: never). Default and reasons:
    /// [`DEFAULT_SHRINK_AFTER`].
    pub fn set_shrink_after(&mut self, idle: Option<Duration>) {
        self.shrink_after = idle;
        let ids: Vec<Token> = self.conns.keys().copied().collect();
        let now = Instant::now();
        for id in ids {
            self.schedule(id, now);
        }
    }

    /// The handler.
    pub fn handler(&mut self) -> &mut H {
        &mut self.handler
    }

    /// A connection, to send on it from outside the handler (then call
    /// [`flush`](Self::flush)).
    pub fn connection(&mut self, id: Token) -> Option<&mut Connection> {
        let entry = self.conns.get_mut(&id)?;
        // Whatever is done with it may move its timers (a Close starts one).
        // Listed once however often it is lent: at most one entry per connection.
        if !entry.lent {
            entry.lent = true;
            self.lent.push(id);
        }
        Some(&mut entry.ws)
    }

    /// Drops a connection and its socket at once, without waiting for
    /// anything (to evict a client, or give up on a stuck peer). The handler
    /// is not called; the connection is returned as it was.
    pub fn remove(&mut self, id: Token) -> Option<Connection> {
        let mut entry = self.conns.remove(&id)?;
        if let Some(at) = entry.deadline {
            self.timers.remove(&(at, id));
        }
        let _ = self.poll.registry().deregister(&mut entry.stream);
        Some(entry.ws)
    }

    /// Writes what a connection has pending (after sending from outside the handler).
    pub fn flush(&mut self, id: Token) {
        self.service(id, false, Instant::now());
    }

    /// The number of open transports.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// Whether there are no open transports.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Waits for readiness or the next timer (at most `max_wait`), then
    /// services every connection that is ready or due.
    ///
    /// The clock is read once after the wait: every connection serviced in
    /// the turn is given that time (for its timers, and as the time its
    /// input arrived). Only a failure of the poll itself is an error: a
    /// failed accept is retried ([`ACCEPT_BACKOFF`]), a broken connection
    /// is closed.
    pub fn turn(&mut self, max_wait: Option<Duration>) -> io::Result<()> {
        let now = Instant::now();
        for id in std::mem::take(&mut self.lent) {
            if let Some(entry) = self.conns.get_mut(&id) {
                entry.lent = false;
            }
            self.schedule(id, now);
        }
        let deadline = self.timers.first().map(|&(at, _)| at).into_iter().chain(self.accept_paused_until).min();
        let mut wait = deadline.map(|d| d.saturating_duration_since(now));
        if !self.again.is_empty() {
            // Input is waiting on a connection that used its budget.
            wait = Some(Duration::ZERO);
        }
        if let Some(max) = max_wait {
            wait = Some(wait.map_or(max, |w| w.min(max)));
        }
        match self.poll.poll(&mut self.events, wait) {
            Err(e) if e.kind() == ErrorKind::Interrupted => return Ok(()),
            other => other?,
        }
        // (token, whether a short read means the input is drained: see `service`).
        let mut ready = std::mem::take(&mut self.ready);
        ready.clear();
        ready.extend(self.events.iter().map(|e| (e.token(), e.is_readable() && !e.is_read_closed())));
        let now = Instant::now();
        let resume = self.accept_paused_until.is_some_and(|at| now >= at);
        let accept = resume || ready.iter().any(|&(t, _)| t == LISTENER);
        let due = self.timers.range(..=(now, Token(usize::MAX))).map(|&(_, id)| (id, false));
        ready.extend(due);
        ready.extend(self.again.drain(..).map(|id| (id, false)));
        // One service per connection; a timer's full read wins over the shortcut.
        ready.sort_unstable_by_key(|&(id, short_ok)| (id, short_ok));
        ready.dedup_by_key(|&mut (id, _)| id);
        if accept {
            self.accept_all(now);
        }
        for &(id, short_ok) in ready.iter().filter(|&&(t, _)| t != LISTENER) {
            self.service(id, short_ok, now);
        }
        self.ready = ready;
        Ok(())
    }

    fn deadline(entry: &Entry, shrink_after: Option<Duration>) -> Option<Instant> {
        match entry.lingering {
            Some(since) => Some(since + LINGER),
            None => entry.ws.poll_timeout().into_iter().chain(entry.idle.release_at(&entry.ws, shrink_after)).min(),
        }
    }

    /// Accepts until the backlog is empty. When accepting fails for want
    /// of a resource (descriptors: EMFILE, ENFILE; memory), the driver
    /// keeps serving the connections it has and tries again after
    /// [`ACCEPT_BACKOFF`]; the handler hears of each failure
    /// ([`Handler::accept_failed`]). Beyond the connection limit, a
    /// connection is answered `503` and closed.
    fn accept_all(&mut self, now: Instant) {
        self.accept_paused_until = None;
        loop {
            let Some((listener, config)) = &self.listener else { return };
            match listener.accept() {
                Ok((mut stream, _)) => {
                    if self.max_connections.is_some_and(|max| self.conns.len() >= max) {
                        refuse(&mut stream, &mut self.scratch);
                        continue;
                    }
                    let ws = Connection::server(now, config.clone());
                    if let Err(e) = self.add(stream, ws) {
                        self.handler.accept_failed(&e);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // A connection that failed before we accepted it: skip it.
                Err(e) if matches!(e.kind(), ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset) => {}
                Err(e) => {
                    self.handler.accept_failed(&e);
                    self.accept_paused_until = Some(now + ACCEPT_BACKOFF);
                    return;
                }
            }
        }
    }

    /// Moves a connection's entry in `timers` to its current deadline, or
    /// leaves it where it is if it is still to come and earlier: a deadline
    /// that only moves later (the idle release, pushed back by every read)
    /// is then not filed anew on every wakeup; the entry comes due early
    /// once, and the connection is serviced (finding nothing to do) and
    /// filed at its deadline then.
    fn schedule(&mut self, id: Token, now: Instant) {
        let Some(entry) = self.conns.get_mut(&id) else { return };
        let next = Self::deadline(entry, self.shrink_after);
        let early = matches!((entry.deadline, next), (Some(at), Some(next)) if now < at && at < next);
        if next != entry.deadline && !early {
            if let Some(at) = entry.deadline {
                self.timers.remove(&(at, id));
            }
            if let Some(at) = next {
                self.timers.insert((at, id));
            }
            entry.deadline = next;
        }
    }

    /// Reads, lets the handler react, runs timers, writes; closes when done;
    /// then files the connection's next deadline.
    ///
    /// `short_read_drains`: this is a READABLE event (without the peer's
    /// EOF), so on Unix a read that fills less than the buffer emptied the
    /// socket, and input arriving after it raises a new edge-triggered
    /// event: the read that would only return `WouldBlock` is skipped (one
    /// syscall per wakeup, as tokio does). Otherwise the stream is read until
    /// `WouldBlock`.
    ///
    /// `now` is the time of the wakeup (see [`turn`](Self::turn)).
    fn service(&mut self, id: Token, short_read_drains: bool, now: Instant) {
        self.service_io(id, short_read_drains && cfg!(unix), now);
        self.schedule(id, now);
    }

    fn service_io(&mut self, id: Token, short_read_drains: bool, now: Instant) {
        let Some(entry) = self.conns.get_mut(&id) else { return };
        // Before reading (`adapters/idle.rs`).
        entry.idle.release_if_due(&mut entry.ws, self.shrink_after, now);
        loop {
            let limit = self.max_buffered.filter(|_| entry.ws.role() == Role::Server);
            let over_limit = |ws: &Connection| limit.is_some_and(|max| ws.output_buffer().len() > max);
            let mut held_back = false;
            let mut budget = READ_BUDGET;
            while !entry.eof {
                if over_limit(&entry.ws) {
                    held_back = true;
                    break;
                }
                if budget == 0 {
                    // More may be waiting: the next turn reads on.
                    self.again.push(id);
                    break;
                }
                budget -= 1;
                match Self::read_once(entry, &mut self.scratch, now) {
                    Ok((0, _)) => {
                        entry.eof = true;
                        entry.ws.receive_eof();
                    }
                    Ok((n, room_len)) => {
                        self.handler.handle(id, &mut entry.ws, now);
                        if short_read_drains && n < room_len {
                            break;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => {
                        entry.eof = true;
                        entry.ws.receive_eof();
                    }
                }
            }
            entry.ws.handle_timeout(now);
            self.handler.handle(id, &mut entry.ws, now);
            let write_failed = Self::write_pending(entry);
            entry.idle.release_if_due(&mut entry.ws, self.shrink_after, now);
            if write_failed || entry.ws.should_close_transport() || entry.lingering.is_some() {
                break;
            }
            // Reading stopped for backpressure and the output drained: read on,
            // since edge-triggered readiness will not report the waiting input again.
            if !held_back || over_limit(&entry.ws) {
                return;
            }
        }
        self.close_or_linger(id);
    }

    /// One read at `now`; returns the bytes read and the room offered. A
    /// cold connection reads through the driver's `scratch` buffer
    /// (`adapters/idle.rs`), a busy one straight into its receive buffer.
    fn read_once(entry: &mut Entry, scratch: &mut [u8], now: Instant) -> io::Result<(usize, usize)> {
        let cold = entry.idle.cold();
        let (n, room_len) = if cold {
            let n = entry.stream.read(scratch)?;
            entry.ws.receive(&scratch[..n]);
            (n, IDLE_READ)
        } else {
            let room = entry.ws.input_buffer();
            let room_len = room.len();
            let n = entry.stream.read(room)?;
            entry.ws.advance_input(n);
            (n, room_len)
        };
        entry.idle.on_read(n, cold, now);
        Ok((n, room_len))
    }

    /// Writes pending output until the socket would block, with the core's
    /// write loop ([`Connection::write_to`]). Returns whether the transport
    /// failed (a socket still connecting has not).
    fn write_pending(entry: &mut Entry) -> bool {
        match entry.ws.write_to(&mut entry.stream) {
            Ok(_) => false,
            Err(e) => e.kind() != ErrorKind::NotConnected,
        }
    }

    /// The connection is over (or its transport broke): shut down the write
    /// side and wait for the peer's EOF, or drop it when that came or the
    /// linger time is up.
    fn close_or_linger(&mut self, id: Token) {
        let Some(entry) = self.conns.get_mut(&id) else { return };
        let now = Instant::now();
        match entry.lingering {
            None if !entry.eof => {
                let _ = entry.stream.shutdown(Shutdown::Write);
                entry.lingering = Some(now);
                return;
            }
            Some(since) if !entry.eof && now < since + LINGER => return,
            _ => {}
        }
        if let Some(mut entry) = self.conns.remove(&id) {
            if let Some(at) = entry.deadline {
                self.timers.remove(&(at, id));
            }
            let _ = self.poll.registry().deregister(&mut entry.stream);
            if !entry.ws.should_close_transport() {
                // The transport broke under an open connection.
                entry.ws.receive_eof();
                self.handler.handle(id, &mut entry.ws, now);
            }
            self.handler.closed(id, &entry.ws);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Established, Role};
    use std::io::Write;

    /// Polls every event away.
    struct Drain;

    impl Handler for Drain {
        fn handle(&mut self, _id: Token, ws: &mut Connection, _now: Instant) {
            while ws.poll_event().is_some() {}
        }
    }

    /// A masked Binary frame of one byte (RFC 6455 §5.2, §5.3).
    const FRAME: [u8; 7] = [0x82, 0x81, 1, 2, 3, 4, 0x2a ^ 1];

    /// Turns until the connection has read something after `since`.
    fn turn_until_read(driver: &mut Driver<Drain>, id: Token, since: Instant) {
        let give_up = Instant::now() + Duration::from_secs(10);
        while driver.conns[&id].idle.last_read() <= since {
            assert!(Instant::now() < give_up, "nothing was read");
            driver.turn(Some(Duration::from_millis(20))).unwrap();
        }
    }

    /// The idle release's deadline moves later with every read: its timer
    /// entry stays where it was filed until it comes due, and a deadline
    /// that moves earlier (a shorter `shrink_after`) is filed at once and
    /// kept.
    #[test]
    fn a_deadline_that_moves_later_is_filed_again_only_when_due() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        let mut driver = Driver::new(Drain).unwrap();
        // No heartbeat: the idle release is the only timer.
        let config = Config { ping_interval: None, ..Config::default() };
        let ws = Connection::established(Instant::now(), Established::new(Role::Server), config).unwrap();
        let id = driver.add(stream, ws).unwrap();
        assert_eq!(driver.conns[&id].deadline, None, "no buffers, no timers");

        let added = driver.conns[&id].idle.last_read();
        peer.write_all(&FRAME).unwrap();
        turn_until_read(&mut driver, id, added);
        let first = driver.conns[&id].idle.last_read() + DEFAULT_SHRINK_AFTER;
        assert_eq!(driver.conns[&id].deadline, Some(first));

        std::thread::sleep(Duration::from_millis(5));
        let read = driver.conns[&id].idle.last_read();
        peer.write_all(&FRAME).unwrap();
        turn_until_read(&mut driver, id, read);
        let entry = &driver.conns[&id];
        assert!(entry.idle.last_read() + DEFAULT_SHRINK_AFTER > first, "the idle release moved later");
        assert_eq!(entry.deadline, Some(first), "and its timer entry stayed");
        assert_eq!(driver.timers.iter().copied().collect::<Vec<_>>(), [(first, id)]);

        driver.set_shrink_after(Some(Duration::from_millis(30)));
        let earlier = driver.conns[&id].idle.last_read() + Duration::from_millis(30);
        assert_eq!(driver.conns[&id].deadline, Some(earlier), "an earlier deadline is filed at once");
        assert_eq!(driver.timers.iter().copied().collect::<Vec<_>>(), [(earlier, id)]);
        let give_up = Instant::now() + Duration::from_secs(10);
        while driver.conns[&id].ws.buffer_capacity() != 0 {
            assert!(Instant::now() < give_up, "the buffers were never released");
            driver.turn(Some(Duration::from_millis(100))).unwrap();
        }
        assert!(Instant::now() < first, "released at the earlier deadline, not the first one");
        assert!(driver.timers.is_empty());
    }
}
