//! Writing frames (RFC 6455 §5.1–§5.5) into the output buffer.
//!
//! Output is pulled by the caller: everything the connection wants to send
//! is appended to one buffer, which the caller writes to the transport in as
//! few writes as it likes ([`Connection::output_buffer`] /
//! [`Connection::advance_output`]). The length of what is pending is the
//! buffered amount, the figure to use for backpressure.
//!
//! A client masks every frame with a fresh key from its random source, as
//! it copies the payload into the output buffer (`output.rs`, which keeps
//! its room initialized for that); a server never masks.
//!
//! [`Connection::output_buffer`]: crate::Connection::output_buffer
//! [`Connection::advance_output`]: crate::Connection::advance_output

use core::ops::Range;
use std::io::{self, IoSlice, Write};

use std::time::Instant;

use crate::close::{CloseCode, validate_outgoing};
use crate::error::{Initiator, SendError, SendToError};
use crate::extension::Encoder;
use crate::frame::{FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, OpCode};
use crate::message::{MessageKind, PreparedMessage};
use crate::output::Output;
use crate::random::MaskingKeys;
use crate::utf8::Utf8Validator;

/// Whether frames may be sent, and if not, why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SendStatus {
    /// The opening handshake is in progress.
    Connecting,
    /// Frames may be sent.
    Open,
    /// A Close frame was sent (or the connection failed): nothing more may be sent.
    Closed(Initiator),
}

/// The sending half of a connection.
pub(crate) struct SendSide {
    pub(crate) out: Output,
    pub(crate) status: SendStatus,
    /// When [`Sender::close`] sent our Close: the peer's is due within the
    /// close timeout of it.
    pub(crate) close_sent_at: Option<Instant>,
    /// The transport took bytes (from the output buffer, or straight from a
    /// `send_*_to` payload) since the write timeout last looked
    /// (`timers.rs`), which clears it.
    pub(crate) progressed: bool,
    /// Output was dropped unwritten ([`abandon`](Self::abandon)).
    pub(crate) abandoned: bool,
    /// A client's source of masking keys; `None` for a server, which never masks.
    masker: Option<Box<MaskingKeys>>,
    fragment_size: Option<usize>,
    /// A streamed message in progress, and whether its first frame was sent.
    stream: Option<(MessageKind, bool)>,
    stream_utf8: Utf8Validator,
    /// Where in `out` the latest automatic Pong is, while none of it is taken.
    auto_pong: Option<Range<usize>>,
    /// The agreed extension's transform of outgoing messages (`extension.rs`).
    encoder: Option<Box<dyn Encoder>>,
}

impl core::fmt::Debug for SendSide {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SendSide")
            .field("pending", &self.out.pending().len())
            .field("status", &self.status)
            .field("masks", &self.masker.is_some())
            .field("stream", &self.stream)
            .finish()
    }
}

impl SendSide {
    pub(crate) fn new(masker: Option<Box<MaskingKeys>>, fragment_size: Option<usize>) -> Self {
        SendSide {
            out: Output::default(),
            status: SendStatus::Connecting,
            close_sent_at: None,
            progressed: false,
            abandoned: false,
            masker,
            fragment_size: fragment_size.filter(|&n| n > 0),
            stream: None,
            stream_utf8: Utf8Validator::new(),
            auto_pong: None,
            encoder: None,
        }
    }

    /// An extension was agreed: its encoder transforms messages from now on.
    pub(crate) fn set_encoder(&mut self, encoder: Option<Box<dyn Encoder>>) {
        self.encoder = encoder;
    }

    /// Heap bytes held by the output and the encoder's buffers (not a compressor).
    pub(crate) fn capacity(&self) -> usize {
        self.out.capacity() + self.encoder.as_ref().map_or(0, |e| e.capacity())
    }

    /// Releases output memory that holds no data.
    pub(crate) fn shrink(&mut self) {
        self.out.release();
        if let Some(e) = self.encoder.as_mut() {
            e.shrink();
        }
    }

    #[inline]
    pub(crate) fn pending(&self) -> &[u8] {
        self.out.pending()
    }

    #[inline]
    pub(crate) fn advance(&mut self, n: usize) {
        self.progressed |= n > 0;
        if self.out.advance(n) {
            self.auto_pong = None;
        }
    }

    /// Drops the unwritten output and its memory: the connection is over
    /// and the peer did not take it in time.
    pub(crate) fn abandon(&mut self) {
        self.out.discard();
        self.auto_pong = None;
        self.abandoned = true;
    }

    /// Random bytes from the client's source (the handshake key).
    pub(crate) fn random_bytes(&mut self, dest: &mut [u8]) {
        if let Some(m) = self.masker.as_mut() {
            m.fill(dest);
        }
    }

    /// Drops taken bytes from the front of `out` when they are most of it.
    #[inline]
    fn compact(&mut self) {
        if self.out.compact() {
            self.auto_pong = None;
        }
    }

    #[inline]
    fn check_open(&self) -> Result<(), SendError> {
        match self.status {
            SendStatus::Open => Ok(()),
            SendStatus::Connecting => Err(SendError::NotOpen),
            SendStatus::Closed(by) => Err(SendError::Closed(by)),
        }
    }

    /// Appends one frame, masked for a client.
    pub(crate) fn write_frame(&mut self, opcode: OpCode, fin: bool, payload: &[u8]) {
        self.write_frame_rsv(opcode, fin, 0, payload);
    }

    fn write_frame_rsv(&mut self, opcode: OpCode, fin: bool, rsv: u8, payload: &[u8]) {
        self.compact();
        let mask = self.masker.as_mut().map(|m| m.next_key());
        let header = FrameHeader { fin, rsv, opcode, mask, payload_len: payload.len() as u64 };
        let mut head = [0u8; MAX_HEADER_LEN];
        let head_len = header.encode(&mut head);
        // A client's payload is masked as it is copied: one pass over it.
        self.out.extend_frame(&head[..head_len], payload, mask);
    }

    /// Appends data frames, split at `fragment_size`; `rsv` goes on the first.
    #[inline]
    fn write_data(&mut self, first_opcode: OpCode, fin: bool, rsv: u8, payload: &[u8]) {
        match self.fragment_size.filter(|&n| payload.len() > n) {
            None => self.write_frame_rsv(first_opcode, fin, rsv, payload),
            Some(size) => self.write_fragments(first_opcode, fin, rsv, payload, size),
        }
    }

    /// `write_data` of a payload longer than `size`.
    fn write_fragments(&mut self, first_opcode: OpCode, fin: bool, rsv: u8, payload: &[u8], size: usize) {
        let (mut opcode, mut rsv) = (first_opcode, rsv);
        let mut chunks = payload.chunks(size).peekable();
        while let Some(chunk) = chunks.next() {
            self.write_frame_rsv(opcode, fin && chunks.peek().is_none(), rsv, chunk);
            (opcode, rsv) = (OpCode::Continuation, 0);
        }
    }

    /// Appends a whole message, transformed by the agreed extension if
    /// `encode` allows it and the encoder wants this message (with
    /// permessage-deflate, RFC 7692 §6.1: RSV1 on the first frame, the
    /// compressed payload split into frames).
    #[inline]
    fn write_message(&mut self, kind: MessageKind, payload: &[u8], encode: bool) {
        if encode && self.encoder.as_ref().is_some_and(|e| e.encodes(kind, payload.len())) {
            self.write_encoded(kind, payload);
            return;
        }
        self.write_data(kind.opcode(), true, 0, payload);
    }

    /// `write_message` of a message the encoder transforms.
    #[cold]
    fn write_encoded(&mut self, kind: MessageKind, payload: &[u8]) {
        // Taken out for the call, so that its output can be written while
        // it lends it.
        let Some(mut encoder) = self.encoder.take() else { return };
        match encoder.encode(payload) {
            Some((encoded, rsv)) => self.write_data(kind.opcode(), true, rsv, encoded),
            None => self.write_data(kind.opcode(), true, 0, payload),
        }
        self.encoder = Some(encoder);
    }

    /// Whether `write_message` would put this message on the wire as one
    /// frame with the payload unchanged: a server's (unmasked) frame, not
    /// transformed, not split at `fragment_size`. Inlined: as a call it
    /// made `send_binary_to` of 1 KiB 1.2x slower (`benches/send.rs`).
    #[inline]
    fn plain_frame(&self, kind: MessageKind, len: usize, encode: bool) -> bool {
        if encode && self.encoder.as_ref().is_some_and(|e| e.encodes(kind, len)) {
            return false;
        }
        self.masker.is_none() && self.fragment_size.is_none_or(|n| len <= n)
    }

    /// A whole message, written to `transport` as far as it takes it now;
    /// the rest is queued. With nothing queued before it and a plain frame
    /// (see [`plain_frame`](Self::plain_frame)), the header and the borrowed
    /// payload go out in vectored writes and only what the transport does
    /// not take is copied; otherwise the message is queued as by
    /// `write_message` and the queue written. Returns the bytes written.
    fn write_message_to<W: Write + ?Sized>(
        &mut self,
        kind: MessageKind,
        payload: &[u8],
        compress: bool,
        transport: &mut W,
    ) -> io::Result<usize> {
        if !self.pending().is_empty() || !self.plain_frame(kind, payload.len(), compress) {
            self.write_message(kind, payload, compress);
            return self.write_pending_to(transport);
        }
        let header =
            FrameHeader { fin: true, rsv: 0, opcode: kind.opcode(), mask: None, payload_len: payload.len() as u64 };
        let mut head = [0u8; MAX_HEADER_LEN];
        let head_len = header.encode(&mut head);
        let mut done: usize = 0;
        let result = loop {
            let (h, p) = match done.checked_sub(head_len) {
                None => (&head[done..head_len], payload),
                Some(sent) => (&[][..], &payload[sent..]),
            };
            if h.is_empty() && p.is_empty() {
                break Ok(());
            }
            match transport.write_vectored(&[IoSlice::new(h), IoSlice::new(p)]) {
                // As `write_all`: a transport that takes nothing cannot take the rest.
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        self.progressed |= done > 0;
        self.compact();
        if done < head_len {
            self.out.extend(&head[done..head_len]);
        }
        self.out.extend(&payload[done.saturating_sub(head_len).min(payload.len())..]);
        result.map(|()| done)
    }

    /// Writes queued output to `transport` until all of it is written or the
    /// transport takes no more now (`WouldBlock`). Returns the bytes
    /// written. A write of zero bytes is an error of kind `WriteZero`, as in
    /// `write_all` and in every adapter: the one meaning of `Ok(0)`.
    pub(crate) fn write_pending_to<W: Write + ?Sized>(&mut self, transport: &mut W) -> io::Result<usize> {
        let mut written = 0;
        while !self.pending().is_empty() {
            match transport.write(self.pending()) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.advance(n);
                    written += n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        Ok(written)
    }

    /// Appends a Close frame; `None` sends an empty payload.
    pub(crate) fn write_close(&mut self, code: Option<CloseCode>, reason: &str) {
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
        let len = match code {
            Some(code) => {
                let reason = &reason.as_bytes()[..reason.len().min(MAX_CONTROL_PAYLOAD - 2)];
                payload[..2].copy_from_slice(&code.0.to_be_bytes());
                payload[2..2 + reason.len()].copy_from_slice(reason);
                2 + reason.len()
            }
            None => 0,
        };
        self.write_frame(OpCode::Close, true, &payload[..len]);
    }

    /// Answers a Ping. Once more than `backlog` bytes wait to be written, a
    /// previous automatic Pong that is still wholly unsent and last in the
    /// buffer is replaced (RFC 6455 §5.5.3 allows answering only the latest
    /// Ping), so a Ping flood cannot grow the output while the caller is not
    /// writing.
    pub(crate) fn write_auto_pong(&mut self, payload: &[u8], backlog: usize) {
        if let Some(r) = self.auto_pong.take()
            && r.end == self.out.end()
            && r.start >= self.out.start()
            && self.out.pending().len() > backlog
        {
            self.out.truncate(r.start);
        }
        self.compact();
        let start = self.out.end();
        self.write_frame(OpCode::Pong, true, payload);
        self.auto_pong = Some(start..self.out.end());
    }
}

/// The sending half of a connection, borrowed: the one way to send.
///
/// [`Connection::sender`](crate::Connection::sender) gives one;
/// [`Connection::poll_event_with_sender`](crate::Connection::poll_event_with_sender)
/// hands one out together with an event, so that an event's borrowed
/// payload can be sent back (an echo) without copying it first.
///
/// | to send | queue it in the output buffer | write it to an [`io::Write`] now |
/// |---|---|---|
/// | a text message | [`send_text`](Self::send_text) | [`send_text_to`](Self::send_text_to) |
/// | a binary message | [`send_binary`](Self::send_binary) | [`send_binary_to`](Self::send_binary_to) |
/// | one frame to many connections | [`send_prepared`](Self::send_prepared) | |
/// | a message in pieces | [`begin_message`](Self::begin_message), [`send_fragment`](Self::send_fragment), [`finish_message`](Self::finish_message) | |
/// | a Ping, a Pong | [`ping`](Self::ping), [`pong`](Self::pong) | |
/// | the Close | [`close`](Self::close) | |
///
/// With permessage-deflate, [`uncompressed`](Self::uncompressed) sends the
/// next messages as they are.
///
/// Sending fails with [`SendError::NotOpen`] before the handshake completes
/// and with [`SendError::Closed`] once a Close was sent, saying whether we
/// closed, the peer did, or the connection failed.
#[derive(Debug)]
pub struct Sender<'a> {
    side: &'a mut SendSide,
    compress: bool,
}

impl<'a> Sender<'a> {
    #[inline]
    pub(crate) fn new(side: &'a mut SendSide) -> Self {
        Sender { side, compress: true }
    }

    /// This sender, for messages that are not compressed even when
    /// permessage-deflate was agreed: data that is already compressed, or
    /// secrets that must not share a compression context with
    /// attacker-chosen data.
    #[must_use = "it sends nothing by itself"]
    pub fn uncompressed(mut self) -> Self {
        self.compress = false;
        self
    }

    /// Sends a text message. With permessage-deflate, a message of at least
    /// [`DeflateConfig::threshold`](crate::deflate::DeflateConfig::threshold)
    /// bytes is compressed.
    #[inline]
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        // A `&str` is UTF-8 already: no check needed.
        self.send_message(MessageKind::Text, text.as_bytes())
    }

    /// Sends a binary message (compressed as [`send_text`](Self::send_text) says).
    #[inline]
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_message(MessageKind::Binary, data)
    }

    /// Sends a message whose text, if it is text, is UTF-8.
    #[inline]
    fn send_message(&mut self, kind: MessageKind, payload: &[u8]) -> Result<(), SendError> {
        self.side.check_open()?;
        if self.side.stream.is_some() {
            return Err(SendError::MessageInProgress);
        }
        self.side.write_message(kind, payload, self.compress);
        Ok(())
    }

    /// Sends a binary message and writes it to `transport` at once, as far
    /// as the transport takes it; the rest is queued in
    /// [`output_buffer`](crate::Connection::output_buffer) as by
    /// [`send_binary`](Self::send_binary). Returns the number of bytes written.
    ///
    /// When nothing is queued, a server writes the frame header and the
    /// borrowed payload with vectored writes: the payload is copied once,
    /// by the transport, instead of into the output buffer first. That saves
    /// a copy of every byte of large messages. A client (which must mask a
    /// copy), a compressed or fragmented message, or output already queued
    /// takes the usual path followed by a write of the queue. Order is kept
    /// either way.
    ///
    /// `WouldBlock` ends the writing without an error (a non-blocking
    /// transport that is full); `Interrupted` is retried; a write of zero
    /// bytes is an error of kind `WriteZero` (the message is queued all the
    /// same: nothing is lost).
    ///
    /// ```
    /// # use std::time::Instant;
    /// # use wsmachine::{Config, Connection, Established, Role};
    /// let mut ws = Connection::established(Instant::now(), Established::new(Role::Server), Config::default())?;
    /// let mut socket = Vec::new(); // any std::io::Write
    /// let payload = vec![7u8; 100_000];
    /// let written = ws.sender().send_binary_to(&payload, &mut socket)?;
    /// assert_eq!(written, 2 + 8 + payload.len()); // header, 64-bit length, payload
    /// assert!(ws.output_buffer().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn send_binary_to<W: Write + ?Sized>(&mut self, data: &[u8], transport: &mut W) -> Result<usize, SendToError> {
        self.send_message_to(MessageKind::Binary, data, transport)
    }

    /// [`send_binary_to`](Self::send_binary_to) for a text message.
    #[inline]
    pub fn send_text_to<W: Write + ?Sized>(&mut self, text: &str, transport: &mut W) -> Result<usize, SendToError> {
        self.send_message_to(MessageKind::Text, text.as_bytes(), transport)
    }

    #[inline]
    fn send_message_to<W: Write + ?Sized>(
        &mut self,
        kind: MessageKind,
        payload: &[u8],
        transport: &mut W,
    ) -> Result<usize, SendToError> {
        self.side.check_open()?;
        if self.side.stream.is_some() {
            return Err(SendError::MessageInProgress.into());
        }
        Ok(self.side.write_message_to(kind, payload, self.compress, transport)?)
    }

    /// Sends a [`PreparedMessage`]: a server copies its encoded frame as is.
    /// Prepared messages are never compressed: a compression context belongs
    /// to one connection.
    pub fn send_prepared(&mut self, message: &PreparedMessage) -> Result<(), SendError> {
        self.side.check_open()?;
        if self.side.stream.is_some() {
            return Err(SendError::MessageInProgress);
        }
        if self.side.masker.is_some() {
            self.side.write_frame(message.kind().opcode(), true, message.payload());
        } else {
            self.side.compact();
            self.side.out.extend(message.frame());
        }
        Ok(())
    }

    /// Starts a streamed message (never compressed), sent as fragments
    /// ([`send_fragment`](Self::send_fragment)) and ended by
    /// [`finish_message`](Self::finish_message). Control frames (ping, pong,
    /// close) may be sent in between; other messages may not.
    pub fn begin_message(&mut self, kind: MessageKind) -> Result<(), SendError> {
        self.side.check_open()?;
        if self.side.stream.is_some() {
            return Err(SendError::MessageInProgress);
        }
        self.side.stream = Some((kind, false));
        self.side.stream_utf8.reset();
        Ok(())
    }

    /// Sends the next fragment of a streamed message (as one frame, or
    /// several with [`Config::fragment_size`](crate::Config::fragment_size)).
    /// Text fragments may split a code point; the text as a whole is checked.
    /// An empty fragment sends nothing.
    pub fn send_fragment(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.stream_frame(data, false)
    }

    /// Sends the final fragment (possibly empty) of a streamed message.
    pub fn finish_message(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.stream_frame(data, true)
    }

    fn stream_frame(&mut self, data: &[u8], fin: bool) -> Result<(), SendError> {
        self.side.check_open()?;
        let Some((kind, started)) = self.side.stream else {
            return Err(SendError::NoMessageInProgress);
        };
        if kind == MessageKind::Text {
            let mut check = self.side.stream_utf8.clone();
            check.feed(data).map_err(|_| SendError::InvalidUtf8)?;
            if fin {
                check.finish().map_err(|_| SendError::InvalidUtf8)?;
            }
            self.side.stream_utf8 = check;
        }
        if data.is_empty() && !fin {
            return Ok(());
        }
        let opcode = if started { OpCode::Continuation } else { kind.opcode() };
        self.side.write_data(opcode, fin, 0, data);
        self.side.stream = if fin { None } else { Some((kind, true)) };
        Ok(())
    }

    /// Sends a Ping with up to 125 bytes of payload.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.control(OpCode::Ping, payload)
    }

    /// Sends an unsolicited Pong (a one-way heartbeat, RFC 6455 §5.5.3).
    /// Automatic Pongs are separate: this never replaces one.
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.control(OpCode::Pong, payload)
    }

    fn control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        self.side.check_open()?;
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlTooLong(payload.len()));
        }
        self.side.write_frame(opcode, true, payload);
        Ok(())
    }

    /// Starts the closing handshake (RFC 6455 §7.1.2) at `now` with a code
    /// that may be sent (1000–1003, 1007–1014, 3000–4999) and a reason of at
    /// most 123 bytes. The peer's Close is then due within
    /// [`Config::close_timeout`](crate::Config::close_timeout) of `now`.
    ///
    /// Messages that arrive before the peer's Close are still delivered; the
    /// peer's Close ends the connection with a clean [`Event::Closed`](crate::Event::Closed).
    pub fn close(&mut self, now: Instant, code: CloseCode, reason: &str) -> Result<(), SendError> {
        validate_outgoing(code, reason).map_err(SendError::InvalidClose)?;
        self.side.check_open()?;
        self.side.write_close(Some(code), reason);
        self.side.status = SendStatus::Closed(Initiator::Local);
        self.side.close_sent_at = Some(now);
        Ok(())
    }

    /// Bytes waiting to be written to the transport: the length of
    /// [`output_buffer`](crate::Connection::output_buffer).
    pub fn buffered_amount(&self) -> usize {
        self.side.pending().len()
    }
}
