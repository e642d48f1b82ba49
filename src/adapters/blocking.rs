//! A blocking WebSocket over any `Read + Write` stream (cargo feature
//! `blocking`): std TCP, a Unix socket, or a TLS stream such as rustls'
//! `StreamOwned`.
//!
//! [`WebSocket::read`] returns the next [`Message`] and answers the peer
//! while it waits: Pongs to its Pings, the reply to its Close, heartbeat
//! Pings and timeouts (with the connection's timers, through
//! [`Transport::set_read_timeout`]). [`WebSocket::send`] queues a message
//! and writes it; [`WebSocket::write`] only queues (up to
//! [`set_max_buffered`](WebSocket::set_max_buffered)) so that many
//! messages leave in one write at the next [`flush`](WebSocket::flush).
//!
//! ```no_run
//! use std::net::TcpListener;
//! use wsmachine::adapters::blocking::WebSocket;
//! use wsmachine::adapters::Message;
//! use wsmachine::Config;
//!
//! let listener = TcpListener::bind("127.0.0.1:9001")?;
//! for stream in listener.incoming() {
//!     std::thread::spawn(move || -> Result<(), wsmachine::adapters::AdapterError> {
//!         let mut ws = WebSocket::accept(stream?, Config::default())?;
//!         loop {
//!             match ws.read()? {
//!                 msg @ (Message::Text(_) | Message::Binary(_)) => ws.send(msg)?,
//!                 Message::Close(_) => return Ok(()),
//!                 _ => {}
//!             }
//!         }
//!     });
//! }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! The client side, with a subprotocol:
//!
//! ```no_run
//! use wsmachine::adapters::blocking::WebSocket;
//! use wsmachine::adapters::Message;
//! use wsmachine::{ClientRequest, CloseCode, Config};
//!
//! let request = ClientRequest::new("ws://127.0.0.1:9001/chat")?.protocol("chat")?;
//! let mut ws = WebSocket::connect(request, Config::default())?;
//! ws.send(Message::text("hello"))?;
//! println!("{:?}", ws.read()?);
//! ws.close(CloseCode::NORMAL, "bye")?;
//! while !matches!(ws.read()?, Message::Close(_)) {}
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use super::idle::{IDLE_READ, Idle};
use super::message::{
    AdapterError, Decide, IntoClientRequest, Message, Next, Rejection, accept_all, close, handshake_step, next_message,
    queue,
};
use super::{DEFAULT_MAX_BUFFERED, DEFAULT_SHRINK_AFTER};
use crate::{CloseCode, Config, Connection, SendToError};

/// How long one write to the transport may block before the connection's
/// timers run (the heartbeat, the write and close timeouts): a second, so
/// they run at most that late while the peer is slow to read. It is set
/// once as the transport's write timeout, not on every write.
pub const WRITE_SLICE: Duration = Duration::from_secs(1);

/// A blocking byte stream the adapter can run over. Timeouts let the
/// connection's timers (heartbeat, Pong, close and handshake timeouts) run
/// while a read waits; a stream that cannot time out keeps the defaults, and
/// its timers then run only when something arrives.
pub trait Transport: Read + Write {
    /// Bounds the next reads (`None`: wait forever), like
    /// [`TcpStream::set_read_timeout`]. A read that times out must fail with
    /// `WouldBlock` or `TimedOut`. The default does nothing.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let _ = timeout;
        Ok(())
    }

    /// Bounds the next writes (`None`: wait forever). The default does nothing.
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let _ = timeout;
        Ok(())
    }

    /// Ends the write side once the connection is over (TCP: a FIN; TLS:
    /// `close_notify`, then the FIN). The default does nothing.
    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, timeout)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

#[cfg(unix)]
impl Transport for std::os::unix::net::UnixStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_read_timeout(self, timeout)
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_write_timeout(self, timeout)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_read_timeout(timeout)
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_write_timeout(timeout)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        (**self).shutdown_write()
    }
}

/// rustls over a transport (cargo feature `rustls`): timeouts go to the
/// socket; the shutdown sends TLS `close_notify` before the socket's FIN.
#[cfg(feature = "rustls")]
impl<C, T, D> Transport for rustls::StreamOwned<C, T>
where
    C: core::ops::DerefMut + core::ops::Deref<Target = rustls::ConnectionCommon<D>>,
    T: Transport,
    D: rustls::SideData,
{
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.sock.set_read_timeout(timeout)
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.sock.set_write_timeout(timeout)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        self.flush()?;
        self.sock.shutdown_write()
    }
}

/// A WebSocket over a blocking stream. See the [module docs](self).
pub struct WebSocket<S> {
    stream: S,
    ws: Connection,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    /// The write timeout last given to the transport.
    write_timeout_set: Option<Duration>,
    max_buffered: usize,
    /// The transport reached end of file (or failed).
    eof: bool,
    /// The last message (or error) was delivered.
    ended: bool,
    /// The idle-memory policy (`adapters/idle.rs`), as in the other adapters.
    idle: Idle,
    shrink_after: Option<Duration>,
}

impl WebSocket<TcpStream> {
    /// Client: connects over TCP to the request's host and port (`ws://`
    /// only; for `wss://` connect TLS yourself and use
    /// [`client`](Self::client)) and completes the opening handshake.
    pub fn connect(request: impl IntoClientRequest, config: Config) -> Result<Self, AdapterError> {
        let request = request.into_client_request()?;
        if request.is_secure() {
            return Err(AdapterError::Io(io::Error::new(
                ErrorKind::Unsupported,
                "wss:// needs TLS: connect a TLS stream yourself and call WebSocket::client",
            )));
        }
        let stream = TcpStream::connect((request.host(), request.port()))?;
        stream.set_nodelay(true)?;
        Self::client(request, config, stream)
    }
}

impl<S: Transport> WebSocket<S> {
    fn new(stream: S, ws: Connection) -> Self {
        WebSocket {
            stream,
            ws,
            read_timeout: None,
            write_timeout: None,
            write_timeout_set: None,
            max_buffered: DEFAULT_MAX_BUFFERED,
            eof: false,
            ended: false,
            idle: Idle::new(Instant::now()),
            shrink_after: Some(DEFAULT_SHRINK_AFTER),
        }
    }

    /// Client: sends `request` over `stream` (already connected, TLS
    /// already set up for `wss://`) and waits for the server's answer,
    /// at most [`Config::handshake_timeout`]. A status other than 101 is
    /// [`AdapterError::Rejected`].
    pub fn client(request: impl IntoClientRequest, config: Config, stream: S) -> Result<Self, AdapterError> {
        let ws = Connection::client(Instant::now(), request.into_client_request()?, config)?;
        let mut this = Self::new(stream, ws);
        this.handshake(&mut accept_all)?;
        Ok(this)
    }

    /// Server: reads the handshake request from `stream` and accepts it if
    /// it is valid (no subprotocol). Invalid requests are answered (400,
    /// 426, 431) and returned as [`AdapterError::Closed`].
    pub fn accept(stream: S, config: Config) -> Result<Self, AdapterError> {
        Self::accept_with(stream, config, accept_all)
    }

    /// Server: reads the handshake request and lets `decide` accept it (a
    /// subprotocol, extra headers) or reject it with any status, which is
    /// then [`AdapterError::Refused`]:
    ///
    /// ```no_run
    /// # use wsmachine::adapters::blocking::WebSocket;
    /// # use wsmachine::{Accept, Config, Reject, Request};
    /// # let stream = std::net::TcpStream::connect("127.0.0.1:9001")?;
    /// let ws = WebSocket::accept_with(stream, Config::default(), |req: &Request<'_>| {
    ///     if req.origin() != Some("https://app.example") {
    ///         return Err(Reject::status(403));
    ///     }
    ///     Ok(if req.protocols().any(|p| p == "chat") { Accept::new().protocol("chat") } else { Accept::new() })
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn accept_with(stream: S, config: Config, decide: impl Decide) -> Result<Self, AdapterError> {
        Self::accept_connection(stream, Connection::server(Instant::now(), config), decide)
    }

    /// Server: runs the opening handshake of `ws`, a
    /// [`Connection::server`] that was already given the bytes someone
    /// else read from `stream` (an HTTP router that read the request head
    /// to choose between a page and the WebSocket endpoint). `decide` as in
    /// [`accept_with`](Self::accept_with).
    pub fn accept_connection(stream: S, ws: Connection, mut decide: impl Decide) -> Result<Self, AdapterError> {
        let mut this = Self::new(stream, ws);
        this.handshake(&mut decide)?;
        Ok(this)
    }

    /// Wraps a connection whose handshake is done or in progress, e.g. one
    /// made with [`Connection::established`] after an HTTP server's upgrade.
    pub fn from_connection(stream: S, ws: Connection) -> Self {
        Self::new(stream, ws)
    }

    fn handshake(&mut self, decide: &mut dyn Decide) -> Result<(), AdapterError> {
        let mut rejection: Option<Rejection> = None;
        loop {
            if let Some(result) = handshake_step(&mut self.ws, &mut rejection, decide, Instant::now()) {
                self.write_all_pending()?;
                if result.is_err() {
                    let _ = self.stream.shutdown_write();
                    self.ended = true;
                }
                return result;
            }
            self.write_all_pending()?;
            self.fill(None)?;
        }
    }

    /// The next message. Meanwhile the connection answers Pings and Closes
    /// and runs its timers. A clean closing handshake ends with
    /// [`Message::Close`] (the transport is then shut down); any other end
    /// with [`AdapterError::Closed`] or [`AdapterError::Io`]; after either,
    /// [`AdapterError::AlreadyClosed`]. With a [read timeout](Self::set_read_timeout),
    /// an `Io` error of kind `TimedOut` when nothing arrived in time (the
    /// connection stays usable).
    pub fn read(&mut self) -> Result<Message, AdapterError> {
        if self.ended {
            return Err(AdapterError::AlreadyClosed);
        }
        let deadline = self.read_timeout.map(|t| Instant::now() + t);
        loop {
            match next_message(&mut self.ws) {
                Some(Next::Message(message)) => return Ok(message),
                Some(Next::End(end)) => {
                    self.finish();
                    return end;
                }
                None => {}
            }
            if let Err(e) = self.write_all_pending() {
                return Err(self.broken(e));
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(AdapterError::Io(io::Error::new(
                    ErrorKind::TimedOut,
                    "no message within the read timeout",
                )));
            }
            if let Err(e) = self.fill(deadline) {
                return Err(self.broken(e));
            }
        }
    }

    /// Sends `message` and writes everything pending. A text or binary
    /// message goes straight to the transport when nothing else is pending
    /// ([`Sender::send_binary_to`](crate::Sender::send_binary_to)): a
    /// server's payload is not copied first.
    pub fn send(&mut self, message: Message) -> Result<(), AdapterError> {
        match message {
            Message::Text(text) => self.send_text(&text),
            Message::Binary(data) => self.send_binary(&data),
            other => {
                self.write(other)?;
                self.flush()
            }
        }
    }

    /// Queues `message` without writing, unless more than
    /// [`max_buffered`](Self::set_max_buffered) bytes are then pending.
    pub fn write(&mut self, message: Message) -> Result<(), AdapterError> {
        queue(&mut self.ws, &message, Instant::now())?;
        if self.ws.output_buffer().len() > self.max_buffered {
            self.flush()?;
        }
        Ok(())
    }

    /// Sends a text message and writes everything pending (no copy into an
    /// owned [`Message`]; see [`send`](Self::send)).
    pub fn send_text(&mut self, text: &str) -> Result<(), AdapterError> {
        self.send_to_transport(|ws, stream| ws.sender().send_text_to(text, stream))
    }

    /// Sends a binary message and writes everything pending (see [`send`](Self::send)).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), AdapterError> {
        self.send_to_transport(|ws, stream| ws.sender().send_binary_to(data, stream))
    }

    /// Sends with `send` (a `send_*_to` of the connection) and writes what
    /// the transport did not take.
    fn send_to_transport(
        &mut self,
        send: impl FnOnce(&mut Connection, &mut S) -> Result<usize, SendToError>,
    ) -> Result<(), AdapterError> {
        if let Err(e) = self.apply_write_slice() {
            return Err(self.broken(e));
        }
        match send(&mut self.ws, &mut self.stream) {
            Ok(_) => {}
            Err(SendToError::Send(e)) => return Err(e.into()),
            Err(SendToError::Io(e)) => return Err(self.broken(e)),
        }
        if self.ws.output_buffer().is_empty() {
            // A transport may buffer what it took (TLS records): push it out.
            self.stream.flush().map_err(|e| self.broken(e))
        } else {
            self.flush()
        }
    }

    /// Writes everything pending.
    pub fn flush(&mut self) -> Result<(), AdapterError> {
        self.write_all_pending().map_err(|e| self.broken(e))
    }

    /// Starts the closing handshake with `code` and `reason` and writes the
    /// Close frame. Keep calling [`read`](Self::read) until it returns
    /// [`Message::Close`] (the peer's reply) or an error (no reply within
    /// [`Config::close_timeout`]). Does nothing if a Close was already sent.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), AdapterError> {
        close(&mut self.ws, Instant::now(), code, reason)?;
        self.flush()
    }

    /// Bounds how long [`read`](Self::read) waits for a message (`None`,
    /// the default: as long as it takes).
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        self.read_timeout = timeout;
    }

    /// Bounds each flush of pending output to the transport, on top of the
    /// connection's own bound ([`Config::write_timeout`], 30 s by default,
    /// which fails a connection whose peer takes none of its output); a
    /// write that times out fails the connection, since a frame may be half
    /// written. Default: `None` (the connection's bound only).
    pub fn set_write_timeout(&mut self, timeout: Option<Duration>) {
        self.write_timeout = timeout;
    }

    /// Release the connection's empty buffers once nothing has arrived for
    /// this long while [`read`](Self::read) waits (`None`: never). Default
    /// and reasons: [`DEFAULT_SHRINK_AFTER`]. A thread per connection
    /// otherwise keeps what its largest message grew, up to
    /// [`Config::max_retained_buffer`] for each of the input and the
    /// reassembly.
    pub fn set_shrink_after(&mut self, idle: Option<Duration>) {
        self.shrink_after = idle;
    }

    /// How many unwritten bytes [`write`](Self::write) lets accumulate
    /// before it writes them. Default: [`DEFAULT_MAX_BUFFERED`] (128 KiB).
    pub fn set_max_buffered(&mut self, bytes: usize) {
        self.max_buffered = bytes;
    }

    /// The connection, to read its state or negotiated protocol.
    pub fn connection(&self) -> &Connection {
        &self.ws
    }

    /// The connection, to send a [`PreparedMessage`](crate::PreparedMessage)
    /// or a streamed message; [`flush`](Self::flush) afterwards.
    pub fn connection_mut(&mut self) -> &mut Connection {
        &mut self.ws
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The transport (reading or writing it directly corrupts the stream).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The transport and the connection.
    pub fn into_parts(self) -> (S, Connection) {
        (self.stream, self.ws)
    }

    /// Waits for input until the connection's next timer or `deadline`,
    /// feeds what arrived, runs the timers.
    fn fill(&mut self, deadline: Option<Instant>) -> io::Result<()> {
        if self.eof {
            // Nothing more will arrive; only timers can move the connection on.
            let wake = self.ws.poll_timeout().into_iter().chain(deadline).min();
            match wake {
                Some(at) => std::thread::sleep(at.saturating_duration_since(Instant::now())),
                None => return Err(io::Error::new(ErrorKind::UnexpectedEof, "the transport is closed")),
            }
        } else {
            let now = Instant::now();
            self.idle.release_if_due(&mut self.ws, self.shrink_after, now);
            let release = self.idle.release_at(&self.ws, self.shrink_after);
            let wake = self.ws.poll_timeout().into_iter().chain(deadline).chain(release).min();
            // A zero timeout means "block" to std: wait at least a millisecond.
            let wait = wake.map(|at| at.saturating_duration_since(now).max(Duration::from_millis(1)));
            self.stream.set_read_timeout(wait)?;
            // A cold connection (new, or back from idle) reads through a
            // small buffer on the stack and keeps only what came; a busy one
            // reads straight into the connection's receive buffer (no copy).
            // A read of 0 bytes is reported to the connection as the end of file.
            let cold = self.idle.cold();
            let read = if cold {
                let mut small = [0u8; IDLE_READ];
                self.stream.read(&mut small).inspect(|&n| match n {
                    0 => self.ws.receive_eof(),
                    n => self.ws.receive(&small[..n]),
                })
            } else {
                self.ws.read_from(&mut self.stream)
            };
            match read {
                Ok(0) => self.eof = true,
                Ok(n) => self.idle.on_read(n, cold, Instant::now()),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
                Err(e) => return Err(e),
            }
        }
        self.ws.handle_timeout(Instant::now());
        Ok(())
    }

    /// Writes everything pending with the connection's write loop
    /// ([`Connection::write_to`], the one every adapter uses). Each write
    /// blocks at most [`WRITE_SLICE`] (the transport's write timeout, set
    /// once); when one runs out with output left, the connection's timers
    /// run, so a peer that stops reading is dropped by
    /// [`Config::write_timeout`] (or, once the connection is over, by the
    /// close timeout) instead of holding the thread.
    fn write_all_pending(&mut self) -> io::Result<()> {
        if self.ws.output_buffer().is_empty() {
            return Ok(());
        }
        let deadline = self.write_timeout.map(|t| Instant::now() + t);
        self.apply_write_slice()?;
        loop {
            self.ws.write_to(&mut self.stream)?;
            if self.ws.output_buffer().is_empty() {
                break;
            }
            // A blocking transport says `WouldBlock` only when its write
            // timeout ran out: the peer is slow, or stopped reading.
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Err(io::Error::new(ErrorKind::TimedOut, "write timed out"));
            }
            self.ws.handle_timeout(now);
            if self.ws.output_dropped() {
                return Err(io::Error::new(ErrorKind::TimedOut, "the peer took none of the output in time"));
            }
        }
        self.stream.flush()
    }

    /// Sets the transport's write timeout to the slice, if it changed.
    fn apply_write_slice(&mut self) -> io::Result<()> {
        let slice = Some(self.write_timeout.map_or(WRITE_SLICE, |t| t.clamp(Duration::from_millis(1), WRITE_SLICE)));
        if slice != self.write_timeout_set {
            self.stream.set_write_timeout(slice)?;
            self.write_timeout_set = slice;
        }
        Ok(())
    }

    /// The transport failed: the connection is over.
    fn broken(&mut self, e: io::Error) -> AdapterError {
        self.eof = true;
        self.ended = true;
        self.ws.receive_eof();
        AdapterError::Io(e)
    }

    /// After the last event: write what is left (our Close reply), wait for
    /// the connection to let the transport go (a client waits for the
    /// server's EOF, bounded by the close timeout), then shut it down.
    fn finish(&mut self) {
        self.ended = true;
        while !self.ws.should_close_transport() {
            if self.write_all_pending().is_err() || (self.eof && self.ws.poll_timeout().is_none()) {
                break;
            }
            if self.ws.should_close_transport() || self.fill(None).is_err() {
                break;
            }
        }
        let _ = self.write_all_pending();
        let _ = self.stream.shutdown_write();
    }
}
