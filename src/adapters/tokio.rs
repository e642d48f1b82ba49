//! A WebSocket over any tokio `AsyncRead + AsyncWrite` stream (cargo
//! feature `tokio`): plain TCP, a TLS stream (tokio-rustls, tokio-native-tls),
//! a Unix socket, an in-memory duplex.
//!
//! [`WebSocket`] is a [`Stream`] of received [`Message`]s and a [`Sink`] of
//! messages to send (use `futures::StreamExt` / `SinkExt`), and
//! [`split`](WebSocket::split)s into a [`ReadHalf`] and a [`WriteHalf`] that
//! two tasks can use at once, without a lock of yours.
//!
//! - **Reading drives the connection.** While the stream is polled, Pongs
//!   answer Pings, the peer's Close is answered, heartbeat Pings go out and
//!   timeouts fire (on tokio time), and what was queued is written, even if
//!   no one sends. Keep polling it (a task that reads) for as long as the
//!   connection lives.
//! - **The end**: a clean closing handshake ends the stream with
//!   [`Message::Close`], after the transport was shut down; any other end
//!   with an [`AdapterError`] (a protocol failure, a timeout, a vanished peer).
//!   Then the stream returns `None`.
//! - **Backpressure**: `poll_ready` (so `send` and `feed`) waits while more
//!   than [`max_buffered`](WebSocket::set_max_buffered) bytes are unwritten;
//!   [`buffered_amount`](WebSocket::buffered_amount) tells how many.
//!   Reading never waits for writes, so two peers that both stop reading
//!   cannot deadlock on each other.
//! - **One write for many messages**: `feed` queues, `flush` writes; `send`
//!   does both.
//! - **Time** is tokio's clock (`tokio::time::Instant`), so the timers run
//!   under `tokio::time::pause()` as they do in real time.
//! - **Memory**: once reads fill a 4 KiB stack buffer, they go straight
//!   into the connection's receive buffer (no copy; the room grows from
//!   4 KiB to 64 KiB while reads fill it); light traffic goes through the
//!   stack, so a quiet connection holds no read room. A connection on which
//!   nothing arrived for a second
//!   ([`set_shrink_after`](WebSocket::set_shrink_after)) releases its empty
//!   buffers: an idle connection costs its state.
//!
//! ```no_run
//! use futures_util::{SinkExt, StreamExt};
//! use wsmachine::adapters::tokio::WebSocket;
//! use wsmachine::adapters::{AdapterError, Message};
//! use wsmachine::{CloseCode, Config};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // A server: echo every message of every client.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! tokio::spawn(async move {
//!     while let Ok((tcp, _)) = listener.accept().await {
//!         tokio::spawn(async move {
//!             let mut ws = WebSocket::accept(tcp, Config::default()).await?;
//!             while let Some(message) = ws.next().await {
//!                 if let msg @ (Message::Text(_) | Message::Binary(_)) = message? {
//!                     ws.send(msg).await?;
//!                 }
//!             }
//!             Ok::<_, AdapterError>(())
//!         });
//!     }
//! });
//!
//! // A client.
//! let mut ws = WebSocket::connect("ws://127.0.0.1:9001/", Config::default()).await?;
//! ws.send(Message::text("hello")).await?;
//! assert_eq!(ws.next().await.transpose()?, Some(Message::text("hello")));
//! ws.close(CloseCode::NORMAL, "").await?; // the stream then ends with the server's Close
//! # Ok(()) }
//! ```
//!
//! [`Stream`]: futures_core::Stream
//! [`Sink`]: futures_sink::Sink

use core::future::poll_fn;
use core::mem::MaybeUninit;
use core::pin::Pin;
use core::task::{Context, Poll, Waker, ready};
use std::io::{self, ErrorKind};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use ::tokio::net::TcpStream;
use ::tokio::time::Sleep;
use futures_core::Stream;
use futures_sink::Sink;

use super::idle::{IDLE_READ, Idle};
use super::message::{
    AdapterError, Decide, IntoClientRequest, Message, Next, Rejection, accept_all, close, handshake_step, next_message,
    queue,
};
use super::{DEFAULT_MAX_BUFFERED, DEFAULT_SHRINK_AFTER};
use crate::{CloseCode, Config, Connection};

/// Now, on tokio's clock: under `tokio::time::pause()` it is the paused
/// time, so the connection's timers follow it (`tests/tokio_adapter.rs`
/// runs a heartbeat under paused time).
fn now() -> Instant {
    ::tokio::time::Instant::now().into_std()
}

/// A WebSocket over an async stream: a [`Stream`] of received messages and
/// a [`Sink`] of messages to send. See the [module docs](self).
pub struct WebSocket<S> {
    inner: Inner<S>,
}

/// Which half is waiting for output to be written.
#[derive(Clone, Copy)]
enum Side {
    Read = 0,
    Write = 1,
}

/// The state both halves share: the stream, the connection, the timer.
struct Inner<S> {
    io: S,
    ws: Connection,
    /// The connection's next deadline, on tokio's clock (made on first use,
    /// so that a `WebSocket` can be built outside a runtime).
    sleep: Option<Pin<Box<Sleep>>>,
    armed: Option<Instant>,
    max_buffered: usize,
    /// The last item, held while the transport is shut down.
    last: Option<Result<Message, AdapterError>>,
    /// The last item was delivered.
    done: bool,
    /// The transport reached end of file.
    eof: bool,
    /// A failed write, reported to the next reader.
    broken: Option<io::Error>,
    /// The idle-memory policy (`adapters/idle.rs`).
    idle: Idle,
    shrink_after: Option<Duration>,
    /// Tasks waiting for writes that the other half may complete: the
    /// stream keeps only the last writer's waker, so progress by one half
    /// wakes the other.
    write_waiters: [Option<Waker>; 2],
    /// Split into two halves: the reading half runs the timers (one task
    /// polls the timer, so its waker is never replaced by the other's).
    split: bool,
}

impl WebSocket<TcpStream> {
    /// Client: connects over TCP to the request's host and port (`ws://` only;
    /// for `wss://` connect TLS yourself and call [`client`](WebSocket::client)) and completes the
    /// opening handshake.
    pub async fn connect(request: impl IntoClientRequest, config: Config) -> Result<Self, AdapterError> {
        let request = request.into_client_request()?;
        if request.is_secure() {
            return Err(AdapterError::Io(io::Error::new(
                ErrorKind::Unsupported,
                "wss:// needs TLS: connect a TLS stream yourself and call WebSocket::client",
            )));
        }
        let tcp = TcpStream::connect((request.host(), request.port())).await?;
        tcp.set_nodelay(true)?;
        WebSocket::client(request, config, tcp).await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Client: sends `request` over `stream` (already connected; TLS already
    /// set up for `wss://`) and waits for the server's answer, at most
    /// [`Config::handshake_timeout`]. A status other than 101 is [`AdapterError::Rejected`].
    pub async fn client(request: impl IntoClientRequest, config: Config, stream: S) -> Result<Self, AdapterError> {
        let request = request.into_client_request()?;
        let mut ws = WebSocket::from_connection(stream, Connection::client(now(), request, config)?);
        ws.inner.handshake(&mut accept_all).await?;
        Ok(ws)
    }

    /// Server: reads the handshake request from `stream` and accepts it if it
    /// is valid (no subprotocol). Invalid requests are answered (400, 426, 431)
    /// and returned as [`AdapterError::Closed`].
    pub async fn accept(stream: S, config: Config) -> Result<Self, AdapterError> {
        Self::accept_with(stream, config, accept_all).await
    }

    /// Server: reads the handshake request and lets `decide` accept it (a
    /// subprotocol, extra headers) or reject it with any status, which is then
    /// [`AdapterError::Refused`]. The request is the borrowed view the connection
    /// parsed: path, query, `Origin`, cookies, every header.
    ///
    /// ```no_run
    /// # async fn run(tcp: tokio::net::TcpStream) -> Result<(), wsmachine::adapters::AdapterError> {
    /// use wsmachine::{Accept, Config, Reject, Request};
    /// let ws = wsmachine::adapters::tokio::WebSocket::accept_with(tcp, Config::default(), |req: &Request<'_>| {
    ///     match req.path() {
    ///         "/chat" => Ok(Accept::new()),
    ///         _ => Err(Reject::status(404)),
    ///     }
    /// })
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub async fn accept_with(stream: S, config: Config, decide: impl Decide) -> Result<Self, AdapterError> {
        Self::accept_connection(stream, Connection::server(now(), config), decide).await
    }

    /// Server: runs the opening handshake of `ws`, a [`Connection::server`]
    /// that was already given the bytes someone else read from `stream` (an
    /// HTTP router that read the request head to choose between a page and the
    /// WebSocket endpoint). `decide` as in [`accept_with`](Self::accept_with).
    pub async fn accept_connection(stream: S, ws: Connection, mut decide: impl Decide) -> Result<Self, AdapterError> {
        let mut ws = Self::from_connection(stream, ws);
        ws.inner.handshake(&mut decide).await?;
        Ok(ws)
    }

    /// Wraps a connection whose handshake is done (e.g. one made with
    /// [`Connection::established`] after an HTTP server's upgrade) or in
    /// progress (messages flow once it completes).
    pub fn from_connection(stream: S, ws: Connection) -> Self {
        WebSocket {
            inner: Inner {
                io: stream,
                ws,
                sleep: None,
                armed: None,
                max_buffered: DEFAULT_MAX_BUFFERED,
                last: None,
                done: false,
                eof: false,
                broken: None,
                idle: Idle::new(now()),
                shrink_after: Some(DEFAULT_SHRINK_AFTER),
                write_waiters: [None, None],
                split: false,
            },
        }
    }

    /// Queues a text message and writes everything pending. Like every
    /// write of this adapter, it waits at most as the connection's timers
    /// allow ([`Config::write_timeout`] for a peer that stopped reading).
    pub async fn send_text(&mut self, text: &str) -> Result<(), AdapterError> {
        poll_fn(|cx| self.inner.poll_ready(cx)).await?;
        self.inner.ws.sender().send_text(text)?;
        self.flush_all().await
    }

    /// Queues a binary message and writes everything pending (as
    /// [`send_text`](Self::send_text)).
    pub async fn send_binary(&mut self, data: &[u8]) -> Result<(), AdapterError> {
        poll_fn(|cx| self.inner.poll_ready(cx)).await?;
        self.inner.ws.sender().send_binary(data)?;
        self.flush_all().await
    }

    /// Queues a [`PreparedMessage`](crate::PreparedMessage) (one frame
    /// built once for many connections) and writes everything pending, as
    /// [`send_text`](Self::send_text) does: it waits for the buffered
    /// amount to fall to [`set_max_buffered`](Self::set_max_buffered)
    /// first.
    pub async fn send_prepared(&mut self, message: &crate::PreparedMessage) -> Result<(), AdapterError> {
        poll_fn(|cx| self.inner.poll_ready(cx)).await?;
        self.inner.ws.sender().send_prepared(message)?;
        self.flush_all().await
    }

    /// Starts the closing handshake with `code` and `reason` and writes the
    /// Close frame; the stream then ends with the peer's
    /// [`Message::Close`]. Does nothing if a Close was already sent. (The
    /// `Sink`'s `close` sends 1000 with no reason.)
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), AdapterError> {
        close(&mut self.inner.ws, now(), code, reason)?;
        self.flush_all().await
    }

    async fn flush_all(&mut self) -> Result<(), AdapterError> {
        poll_fn(|cx| self.inner.poll_flush(cx)).await
    }

    /// The number of bytes queued and not yet written.
    pub fn buffered_amount(&self) -> usize {
        self.inner.ws.output_buffer().len()
    }

    /// How many unwritten bytes `poll_ready` lets accumulate before it
    /// waits for them to be written. Default: 128 KiB.
    pub fn set_max_buffered(&mut self, bytes: usize) {
        self.inner.max_buffered = bytes;
    }

    /// Release the connection's empty buffers once nothing has arrived for
    /// this long (`None`: never). Default and reasons:
    /// [`DEFAULT_SHRINK_AFTER`].
    pub fn set_shrink_after(&mut self, idle: Option<Duration>) {
        self.inner.shrink_after = idle;
    }

    /// The connection, to read its state or negotiated protocol.
    pub fn connection(&self) -> &Connection {
        &self.inner.ws
    }

    /// The connection, to send a streamed message (or anything else by
    /// hand); flush afterwards (`SinkExt::flush`). What is queued here
    /// bypasses the buffered-amount bound: prefer the `send_*` methods.
    pub fn connection_mut(&mut self) -> &mut Connection {
        &mut self.inner.ws
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.inner.io
    }

    /// Splits into a reading and a writing half that two tasks can use at
    /// once. They share the connection behind a mutex that is held only for
    /// the duration of a poll, never across an `.await`. The reading half
    /// keeps driving the connection (Pongs, Close replies, timers) and
    /// writes what the connection queues; keep it polled.
    pub fn split(mut self) -> (ReadHalf<S>, WriteHalf<S>) {
        self.inner.split = true;
        let shared = Arc::new(Mutex::new(self.inner));
        (ReadHalf { shared: shared.clone() }, WriteHalf { shared })
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocket<S> {
    type Item = Result<Message, AdapterError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().inner.poll_next(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocket<S> {
    type Error = AdapterError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), AdapterError>> {
        self.get_mut().inner.poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), AdapterError> {
        queue(&mut self.get_mut().inner.ws, &item, now()).map_err(AdapterError::Send)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), AdapterError>> {
        self.get_mut().inner.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), AdapterError>> {
        self.get_mut().inner.poll_close(cx)
    }
}

/// An `AsyncWrite` seen as an [`io::Write`] for one poll, so that
/// [`Connection::write_to`] is this adapter's write loop as it is the
/// others': `Pending` becomes `WouldBlock`, with the task's waker
/// registered by the stream. (A stream that returned `WouldBlock` as a
/// ready error would break the contract of `AsyncWrite`, and here would
/// leave the task without a wake-up, as it would anywhere.)
struct PollIo<'a, 'b, S> {
    io: Pin<&'a mut S>,
    cx: &'a mut Context<'b>,
}

impl<S: AsyncWrite> io::Write for PollIo<'_, '_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.io.as_mut().poll_write(self.cx, buf) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(ErrorKind::WouldBlock.into()),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self.io.as_mut().poll_write_vectored(self.cx, bufs) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.io.as_mut().poll_flush(self.cx) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(ErrorKind::WouldBlock.into()),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Inner<S> {
    async fn handshake<D: Decide>(&mut self, decide: &mut D) -> Result<(), AdapterError> {
        let mut rejection: Option<Rejection> = None;
        loop {
            let step = handshake_step(&mut self.ws, &mut rejection, decide, now());
            poll_fn(|cx| self.poll_write_out(cx, Side::Read)).await?;
            if let Some(result) = step {
                if result.is_err() {
                    self.done = true;
                    let _ = poll_fn(|cx| Pin::new(&mut self.io).poll_shutdown(cx)).await;
                }
                return result;
            }
            poll_fn(|cx| self.poll_fill(cx)).await?;
        }
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, AdapterError>>> {
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            if let Some(e) = self.broken.take() {
                return Poll::Ready(Some(Err(self.fail(e))));
            }
            if self.last.is_none() {
                let queued = self.ws.output_buffer().len();
                match next_message(&mut self.ws) {
                    Some(Next::Message(message)) => {
                        // The connection answered (a Pong): send it now, not
                        // whenever the application next reads or flushes.
                        if self.ws.output_buffer().len() > queued
                            && let Poll::Ready(Err(e)) = self.poll_write_out(cx, Side::Read)
                        {
                            self.broken = Some(e);
                        }
                        return Poll::Ready(Some(Ok(message)));
                    }
                    Some(Next::End(end)) => self.last = Some(end),
                    None => {}
                }
            }
            // Write what is queued (Pongs, a Close reply, heartbeats) without
            // waiting for it: reading goes on while the peer is slow to read.
            if let Poll::Ready(Err(e)) = self.poll_write_out(cx, Side::Read) {
                return Poll::Ready(Some(Err(self.fail(e))));
            }
            if self.last.is_some() && (self.ws.should_close_transport() || self.eof && self.ws.poll_timeout().is_none())
            {
                // Errors in the shutdown change nothing: the connection is over.
                let _ = ready!(Pin::new(&mut self.io).poll_shutdown(cx));
                self.done = true;
                return Poll::Ready(self.last.take());
            }
            if let Err(e) = ready!(self.poll_fill(cx)) {
                return Poll::Ready(Some(Err(self.fail(e))));
            }
        }
    }

    /// One read: a cold connection reads through a stack buffer, a busy
    /// one straight into its receive buffer (`adapters/idle.rs`).
    fn poll_read_once(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let cold = self.idle.cold();
        let n = if cold {
            let mut chunk = [const { MaybeUninit::<u8>::uninit() }; IDLE_READ];
            let mut buf = ReadBuf::uninit(&mut chunk);
            ready!(Pin::new(&mut self.io).poll_read(cx, &mut buf))?;
            self.ws.receive(buf.filled());
            buf.filled().len()
        } else {
            let mut buf = ReadBuf::new(self.ws.input_buffer());
            ready!(Pin::new(&mut self.io).poll_read(cx, &mut buf))?;
            let n = buf.filled().len();
            self.ws.advance_input(n);
            n
        };
        self.idle.on_read(n, cold, now());
        Poll::Ready(Ok(n))
    }

    /// Reads once into the connection, or runs its timers when one is due.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Before reading (`adapters/idle.rs`).
        self.idle.release_if_due(&mut self.ws, self.shrink_after, now());
        if !self.eof {
            match self.poll_read_once(cx) {
                Poll::Ready(Ok(n)) => {
                    if n == 0 {
                        self.eof = true;
                        self.ws.receive_eof();
                    }
                    self.ws.handle_timeout(now());
                    return Poll::Ready(Ok(()));
                }
                Poll::Ready(Err(e)) if e.kind() == ErrorKind::Interrupted => {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
        }
        // Nothing to read.
        self.idle.release_if_due(&mut self.ws, self.shrink_after, now());
        if self.eof && self.next_deadline().is_none() {
            return Poll::Ready(Err(io::Error::new(ErrorKind::UnexpectedEof, "the transport is closed")));
        }
        ready!(self.poll_timers(cx));
        Poll::Ready(Ok(()))
    }

    /// The connection's next deadline, or the idle buffers' release.
    fn next_deadline(&self) -> Option<Instant> {
        let release = self.idle.release_at(&self.ws, self.shrink_after);
        self.ws.poll_timeout().into_iter().chain(release).min()
    }

    /// Waits for the next deadline, then runs the timers.
    fn poll_timers(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(deadline) = self.next_deadline() else { return Poll::Pending };
        // A timer already armed earlier stays: it wakes us early, once, and
        // is armed again then. So the shrink deadline, which moves with
        // every read, costs a timer update per `shrink_after`, not per read.
        let sleep = match &mut self.sleep {
            Some(sleep) if self.armed.is_some_and(|armed| armed <= deadline) => sleep,
            Some(sleep) => {
                sleep.as_mut().reset(deadline.into());
                self.armed = Some(deadline);
                sleep
            }
            None => {
                self.armed = Some(deadline);
                self.sleep.insert(Box::pin(::tokio::time::sleep_until(deadline.into())))
            }
        };
        ready!(sleep.as_mut().poll(cx));
        self.armed = None;
        self.idle.release_if_due(&mut self.ws, self.shrink_after, now());
        self.ws.handle_timeout(now());
        Poll::Ready(())
    }

    /// Writes everything queued, then flushes the stream.
    fn poll_write_out(&mut self, cx: &mut Context<'_>, side: Side) -> Poll<io::Result<()>> {
        let mut io = PollIo { io: Pin::new(&mut self.io), cx };
        let (progressed, result) = match self.ws.write_to(&mut io) {
            Err(e) => (false, Poll::Ready(Err(e))),
            // `WouldBlock` from `PollIo` is `Pending`, its waker registered.
            Ok(n) if !self.ws.output_buffer().is_empty() => (n > 0, Poll::Pending),
            Ok(n) => (n > 0, io.io.as_mut().poll_flush(io.cx)),
        };
        let other = match side {
            Side::Read => Side::Write,
            Side::Write => Side::Read,
        };
        if (progressed || result.is_ready())
            && let Some(waker) = self.write_waiters[other as usize].take()
        {
            waker.wake();
        }
        if result.is_pending() {
            self.write_waiters[side as usize] = Some(cx.waker().clone());
        }
        result
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), AdapterError>> {
        self.poll_write_until(cx, self.max_buffered)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), AdapterError>> {
        self.poll_write_until(cx, 0)
    }

    /// Writes until at most `left` bytes wait (all of them, and the stream
    /// flushed, for 0). While the stream takes nothing, the connection's
    /// timers still run: this task runs them, or the reading half of a
    /// split does (its next write then finds the output gone and wakes this
    /// half, as any progress does). So a peer that stops reading cannot
    /// hold a writer: the write timeout (or, once the connection is over,
    /// the close timeout) drops the output, and the wait ends with the
    /// connection's end (`tests/tokio_adapter.rs`, `tests/conformance.rs`).
    fn poll_write_until(&mut self, cx: &mut Context<'_>, left: usize) -> Poll<Result<(), AdapterError>> {
        if let Some(e) = self.broken.take() {
            return Poll::Ready(Err(self.fail(e)));
        }
        loop {
            if left > 0 && self.ws.output_buffer().len() <= left {
                break;
            }
            match self.poll_write_out(cx, Side::Write) {
                Poll::Ready(Ok(())) => break,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(self.write_failed(e))),
                Poll::Pending if self.split => return Poll::Pending,
                Poll::Pending => ready!(self.poll_timers(cx)),
            }
        }
        if self.ws.output_dropped() {
            let closed = self.ws.closed().cloned().map(Box::new);
            return Poll::Ready(Err(
                closed.map_or_else(|| AdapterError::Io(ErrorKind::TimedOut.into()), AdapterError::Closed)
            ));
        }
        Poll::Ready(Ok(()))
    }

    /// Sends a Close (1000) unless one was sent, and writes it.
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), AdapterError>> {
        close(&mut self.ws, now(), CloseCode::NORMAL, "")?;
        self.poll_flush(cx)
    }

    /// A write failed on the sending side: tell the reader too.
    fn write_failed(&mut self, e: io::Error) -> AdapterError {
        self.broken = Some(io::Error::new(e.kind(), e.to_string()));
        if let Some(waker) = self.write_waiters[Side::Read as usize].take() {
            waker.wake();
        }
        AdapterError::Io(e)
    }

    /// The transport failed: the connection is over, and this is the last item.
    fn fail(&mut self, e: io::Error) -> AdapterError {
        self.eof = true;
        self.done = true;
        self.broken = None;
        self.ws.receive_eof();
        AdapterError::Io(e)
    }
}

/// The reading half of a [`split`](WebSocket::split) WebSocket: a
/// [`Stream`] of messages. It also writes what the connection queues on its
/// own (Pongs, Close replies, heartbeat Pings).
pub struct ReadHalf<S> {
    shared: Arc<Mutex<Inner<S>>>,
}

/// The writing half of a [`split`](WebSocket::split) WebSocket: a [`Sink`]
/// of messages.
pub struct WriteHalf<S> {
    shared: Arc<Mutex<Inner<S>>>,
}

fn lock<S>(shared: &Mutex<Inner<S>>) -> MutexGuard<'_, Inner<S>> {
    // A poll that panicked left the connection in a consistent state (every
    // method of Connection leaves it so): go on with it.
    shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<S> ReadHalf<S> {
    /// Joins the halves again. Fails (returning them) if they come from different splits.
    pub fn reunite(self, write: WriteHalf<S>) -> Result<WebSocket<S>, (ReadHalf<S>, WriteHalf<S>)> {
        if !Arc::ptr_eq(&self.shared, &write.shared) {
            return Err((self, write));
        }
        drop(write);
        match Arc::try_unwrap(self.shared) {
            Ok(mutex) => Ok(WebSocket { inner: mutex.into_inner().unwrap_or_else(|p| p.into_inner()) }),
            Err(_) => unreachable!("both halves of one split were given"),
        }
    }

    /// Runs `f` on the connection (its state, protocol, or to send from here).
    pub fn with_connection<R>(&self, f: impl FnOnce(&mut Connection) -> R) -> R {
        f(&mut lock(&self.shared).ws)
    }
}

impl<S> WriteHalf<S> {
    /// Runs `f` on the connection (to send a
    /// [`PreparedMessage`](crate::PreparedMessage), read its state); flush afterwards.
    pub fn with_connection<R>(&self, f: impl FnOnce(&mut Connection) -> R) -> R {
        f(&mut lock(&self.shared).ws)
    }

    /// The number of bytes queued and not yet written.
    pub fn buffered_amount(&self) -> usize {
        lock(&self.shared).ws.output_buffer().len()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for ReadHalf<S> {
    type Item = Result<Message, AdapterError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        lock(&self.shared).poll_next(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WriteHalf<S> {
    type Error = AdapterError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), AdapterError>> {
        lock(&self.shared).poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), AdapterError> {
        queue(&mut lock(&self.shared).ws, &item, now()).map_err(AdapterError::Send)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), AdapterError>> {
        lock(&self.shared).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), AdapterError>> {
        lock(&self.shared).poll_close(cx)
    }
}
