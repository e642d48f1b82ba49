//! Reading frames into messages (RFC 6455 §5.1–§5.6).
//!
//! Received bytes are appended to one buffer and parsed in place:
//!
//! - A message that is a single frame (the common case) is unmasked in place
//!   and handed out as a slice of the receive buffer: no copy, no allocation.
//! - The fragments of a fragmented message are appended, unmasked, to one
//!   contiguous buffer as they arrive; there is no per-fragment overhead, so
//!   the memory held for an incomplete message is its payload, bounded by
//!   `max_message_size` (a flood of 1-byte fragments costs 1 byte each).
//! - In streaming mode every piece of payload is handed out as soon as it
//!   arrives, so messages of any size pass through in bounded memory.
//!
//! A server unmasks a large frame's payload as [`Receiver::push`] copies it in,
//! in one pass, instead of copying it and unmasking it again when it is
//! parsed: the copy reads ahead through the headers of frames of at least
//! [`UNMASK_AHEAD_MIN`] bytes in the new input, and a watermark (`pre`) tells
//! the parser which bytes are unmasked already. Smaller frames are copied as
//! they are (one `memcpy` of the whole read) and unmasked when parsed.
//!
//! Text is checked as UTF-8 while it arrives, so a message fails at the first
//! invalid byte even in the middle of a frame. Uncompressed text is checked once:
//!
//! - A single-frame message that arrives whole is checked when it is
//!   delivered, in place.
//! - Text that arrives in pieces (a fragmented message, or a frame that
//!   spans reads) is checked piece by piece and gathered into a `String`
//!   ([`Utf8Validator::feed_into`]), which is delivered as it is: a `&str` of
//!   bytes gathered unchecked could only be made, without `unsafe`, by
//!   checking them all again.
//! - A compressed message is checked as it is inflated, to fail fast, and
//!   once more when delivered; inflating costs many times more than either
//!   check, and gathering checked text would hold the inflated bytes twice.
//!
//! This module only parses and checks what the peer sent; what to do with a
//! Ping or a Close is the connection's business.

use core::ops::Range;

use crate::Role;
use crate::error::ProtocolError;
use crate::frame::{FrameHeader, MAX_CONTROL_PAYLOAD, OpCode};
use crate::mask::{apply_mask, mask_into};
use crate::message::MessageKind;
use crate::utf8::{Utf8Error, Utf8Validator};

#[cfg(feature = "deflate")]
use crate::deflate::{InflateError, Inflater};

/// permessage-deflate on the receiving side.
#[cfg(feature = "deflate")]
#[derive(Debug)]
pub(crate) struct InflateState {
    /// The peer's window bits.
    bits: u8,
    /// The peer resets its context after each message.
    no_takeover: bool,
    /// Free the decompressor after each message (it keeps no history).
    release: bool,
    /// Created on the first compressed message.
    inflater: Option<Box<Inflater>>,
}

/// The RSV1 bit as in [`FrameHeader::rsv`]: a compressed message (RFC 7692 §6).
const RSV1: u8 = 0b100;

/// The least payload for which [`Receiver::push`] reads a frame's header in
/// the new input to unmask the payload while copying it. Measured: reading
/// ahead made a server's receive of 1 KiB frames 1.42× faster; below about
/// 96 bytes the second header read per frame costs more than the single
/// pass saves. In alternating A/B runs against a threshold of 0, frames of
/// 16–64 B received 0.69–0.88× as fast (binary) and 96 B broke even; against
/// the earlier threshold of 512, 96 made 125 B frames 1.08× (binary) and
/// 1.26× (text) faster and changed nothing at 16 B or 1 KiB. Smaller frames
/// are copied with the whole read at once and unmasked when parsed.
pub(crate) const UNMASK_AHEAD_MIN: u64 = 96;

/// The least room [`Receiver::spare`] offers for a read (unless the most,
/// [`Config::max_read_size`](crate::Config::max_read_size), is smaller):
/// where an adaptive read size starts, and what it never goes below.
pub(crate) const MIN_READ: usize = 4 << 10;

/// The most room for one read, as configured, made usable: at least one
/// byte (an empty room would read as the end of file) and at most
/// `u32::MAX` bytes.
fn clamp_read(max: usize) -> usize {
    max.clamp(1, u32::MAX as usize)
}

/// Size limits for the receiver, from [`Config`](crate::Config).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_frame: usize,
    pub(crate) max_message: usize,
    pub(crate) streaming: bool,
}

/// Where a whole message's payload is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Payload {
    /// In the receive buffer (a single-frame message).
    Input(Range<usize>),
    /// In the reassembly buffer (a fragmented or compressed message).
    Assembled,
    /// In the text buffer, already checked as UTF-8 (an uncompressed text
    /// message that arrived in pieces).
    Text,
}

/// Something complete enough to report, with its payload's location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// A whole data message.
    Message { kind: MessageKind, payload: Payload },
    /// A piece of a data message (streaming mode).
    Fragment { kind: MessageKind, payload: Payload, fin: bool },
    /// A control frame; its payload is in the receive buffer.
    Control { opcode: OpCode, range: Range<usize> },
}

/// The frame being read: its header has been consumed, its payload has not.
#[derive(Clone, Copy, Debug)]
struct Frame {
    opcode: OpCode,
    fin: bool,
    /// The masking key, rotated to the phase of the first unconsumed
    /// payload byte.
    mask: Option<[u8; 4]>,
    /// Payload bytes not yet consumed from the buffer.
    remaining: u64,
    /// Payload bytes at the start of the buffer already unmasked.
    ready: usize,
    /// A single-frame message kept in the receive buffer until complete.
    in_place: bool,
    /// Uncompressed text: checked as UTF-8 as it arrives (unless it is a
    /// single-frame message that arrives whole).
    text: bool,
    /// Part of a compressed message: the payload is inflated, not kept.
    compressed: bool,
}

#[derive(Clone, Copy, Debug)]
struct Message {
    kind: MessageKind,
    /// Payload bytes announced so far by the message's frame headers.
    len: u64,
    /// RSV1 was set on its first frame (RFC 7692 §6.1).
    compressed: bool,
}

/// The receiving half of a connection.
#[derive(Debug)]
pub(crate) struct Receiver {
    role: Role,
    /// Received bytes are `buf[pos..end]`; everything before `pos` is
    /// consumed. The rest of `buf` (initialized, never shrunk but by
    /// [`shrink`](Self::shrink)) is room for the transport to read into
    /// directly ([`spare`](Self::spare)), with no zeroing per read.
    pub(crate) buf: Vec<u8>,
    pub(crate) pos: usize,
    end: usize,
    /// The room the next [`spare`](Self::spare) offers: it doubles while
    /// reads fill it, from [`MIN_READ`] to the most the caller allows.
    read_size: u32,
    /// The length of the room last offered.
    offered: u32,
    /// Unmask masked payloads while copying input in ([`push`](Self::push)):
    /// a server, once frames are being read (never over a handshake head).
    unmask_ahead: bool,
    /// Everything in `buf[pos..pre]` is unmasked already (payloads) or
    /// never masked (headers); bytes from the larger of `pre` and `pos` on
    /// are as received.
    pre: usize,
    /// The payload of a fragmented binary message, unmasked, or of a
    /// compressed message, inflated.
    pub(crate) assembled: Vec<u8>,
    /// The text of an uncompressed text message that arrives in pieces,
    /// checked.
    pub(crate) text: String,
    /// `assembled` or `text` was handed out and is cleared on the next call.
    assembled_taken: bool,
    frame: Option<Frame>,
    message: Option<Message>,
    utf8: Utf8Validator,
    /// RSV bits that a negotiated extension gives meaning to.
    rsv_allowed: u8,
    /// permessage-deflate: the peer's window bits and context takeover,
    /// and the decompressor, created on the first compressed message.
    #[cfg(feature = "deflate")]
    inflate: Option<InflateState>,
}

impl Receiver {
    pub(crate) fn new(role: Role) -> Self {
        Receiver {
            role,
            buf: Vec::new(),
            pos: 0,
            end: 0,
            read_size: MIN_READ as u32,
            offered: 0,
            unmask_ahead: false,
            pre: 0,
            assembled: Vec::new(),
            text: String::new(),
            assembled_taken: false,
            frame: None,
            message: None,
            utf8: Utf8Validator::new(),
            rsv_allowed: 0,
            #[cfg(feature = "deflate")]
            inflate: None,
        }
    }

    /// permessage-deflate was negotiated: RSV1 marks compressed messages,
    /// which the peer compressed with `window_bits`, resetting its context
    /// after each message if `no_context_takeover`.
    #[cfg(feature = "deflate")]
    pub(crate) fn enable_inflate(&mut self, window_bits: u8, no_context_takeover: bool, release_idle: bool) {
        self.rsv_allowed = RSV1;
        self.inflate = Some(InflateState {
            bits: window_bits,
            no_takeover: no_context_takeover,
            release: release_idle && no_context_takeover,
            inflater: None,
        });
    }

    /// Frames are read from now on: a server unmasks input ahead of the
    /// parser from here (see [`push`](Self::push)).
    pub(crate) fn start_frames(&mut self) {
        self.unmask_ahead = self.role == Role::Server;
    }

    /// Makes room for `n` more bytes after the data: drops consumed bytes
    /// (moving the unconsumed rest to the front when that is most of the
    /// buffer, or when the room is short), then grows the buffer if needed.
    fn make_room(&mut self, n: usize) {
        if self.pos == self.end {
            self.pos = 0;
            self.end = 0;
            self.pre = 0;
        } else if self.pos > 0 && (self.pos >= self.end / 2 || self.buf.capacity() - self.end < n) {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pre = self.pre.saturating_sub(self.pos);
            self.pos = 0;
        }
        if self.buf.len() - self.end < n {
            self.buf.resize(self.end + n, 0);
        }
    }

    /// Appends received bytes.
    ///
    /// For a server, masked payloads are unmasked as they are copied in, in
    /// one pass ([`mask_into`]), where the parser would otherwise unmask them
    /// again later: the rest of a frame in progress (one that spans reads,
    /// as every frame longer than a read does), then each frame of at least
    /// [`UNMASK_AHEAD_MIN`] payload bytes whose header is in `data`, until a
    /// smaller frame, a header cut by the end of `data`, or anything that is
    /// not a masked frame header. That needs every buffered byte to be
    /// unmasked already (`pre` at the end), as it is after each poll; the
    /// rest of `data` is copied as it is and unmasked when parsed.
    pub(crate) fn push(&mut self, data: &[u8]) {
        self.make_room(data.len());
        let at = self.end;
        let caught_up = self.pre.max(self.pos) == at;
        let placed = if self.unmask_ahead && caught_up { self.push_unmasking(data) } else { 0 };
        self.buf[at + placed..at + data.len()].copy_from_slice(&data[placed..]);
        self.end += data.len();
    }

    /// The unmasking part of [`push`](Self::push): copies a leading part of
    /// `data` to the end of the buffer (which has room), unmasked, and
    /// returns its length; `pre` moves to its end.
    fn push_unmasking(&mut self, data: &[u8]) -> usize {
        let at = self.end;
        let mut placed = 0;
        match self.frame.as_mut() {
            None if self.pos == at => {}
            Some(frame) if frame.ready == at - self.pos => {
                let Some(key) = frame.mask else { return 0 };
                // `remaining` counts the ready bytes too: at least `ready`.
                let n = (frame.remaining - frame.ready as u64).min(data.len() as u64) as usize;
                mask_into(&mut self.buf[at..at + n], &data[..n], key, frame.ready);
                frame.ready += n;
                placed = n;
                if (frame.ready as u64) < frame.remaining {
                    self.pre = at + placed;
                    return placed;
                }
            }
            // A header cut by the end of the last input, or bytes not yet
            // parsed: the parser unmasks from `pre` on.
            _ => return 0,
        }
        // At a frame boundary in `data`.
        while let Ok(Some((header, head_len))) = FrameHeader::decode(&data[placed..]) {
            let Some(key) = header.mask else { break };
            if header.payload_len < UNMASK_AHEAD_MIN {
                break;
            }
            let rest = data.len() - placed - head_len;
            let n = header.payload_len.min(rest as u64) as usize;
            let (dst, src) = (&mut self.buf[at + placed..], &data[placed..]);
            dst[..head_len].copy_from_slice(&src[..head_len]);
            mask_into(&mut dst[head_len..head_len + n], &src[head_len..head_len + n], key, 0);
            placed += head_len + n;
            if (n as u64) < header.payload_len {
                break;
            }
        }
        self.pre = at + placed;
        placed
    }

    /// Room for the transport to read the next bytes into: at least
    /// [`MIN_READ`] bytes and at most `max` (when `max` is smaller, `max`;
    /// never empty). [`commit`](Self::commit) says how many it read.
    pub(crate) fn spare(&mut self, max: usize) -> &mut [u8] {
        let max = clamp_read(max);
        self.make_room((self.read_size as usize).min(max));
        let len = (self.buf.len() - self.end).min(max);
        // At most u32::MAX (`clamp_read`).
        self.offered = len as u32;
        &mut self.buf[self.end..self.end + len]
    }

    /// `n` bytes were read into [`spare`](Self::spare). A read that filled
    /// the room doubles the next one, up to `max`, as passed to `spare`.
    pub(crate) fn commit(&mut self, n: usize, max: usize) {
        let n = n.min(self.buf.len() - self.end);
        self.end += n;
        if n == self.offered as usize {
            self.read_size = self.read_size.saturating_mul(2).min(clamp_read(max) as u32);
        }
    }

    /// Bytes received and not yet consumed.
    pub(crate) fn unconsumed(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    /// Marks `n` unconsumed bytes as consumed (the handshake head).
    pub(crate) fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.end);
    }

    /// Drops all buffered input and releases the memory.
    pub(crate) fn discard(&mut self) {
        self.buf = Vec::new();
        self.assembled = Vec::new();
        self.text = String::new();
        self.pos = 0;
        self.end = 0;
        self.pre = 0;
        self.read_size = MIN_READ as u32;
        self.frame = None;
        self.message = None;
    }

    /// Releases buffer memory that holds no data.
    pub(crate) fn shrink(&mut self) {
        if self.pos == self.end {
            self.buf = Vec::new();
            self.pos = 0;
            self.end = 0;
            self.pre = 0;
            self.read_size = MIN_READ as u32;
        }
        if self.assembled_taken {
            self.assembled.clear();
            self.text.clear();
            self.assembled_taken = false;
        }
        if self.assembled.is_empty() {
            self.assembled = Vec::new();
        }
        if self.text.is_empty() {
            self.text = String::new();
        }
    }

    /// Heap bytes held by the buffers (not counting a decompressor).
    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity() + self.assembled.capacity() + self.text.capacity()
    }

    /// Parses as far as the buffered bytes allow and returns the next complete
    /// item, `Ok(None)` if more bytes are needed, or the peer's violation.
    pub(crate) fn next(&mut self, limits: Limits) -> Result<Option<Incoming>, ProtocolError> {
        if self.assembled_taken {
            self.assembled.clear();
            self.text.clear();
            self.assembled_taken = false;
        }
        loop {
            let mut frame = match self.frame.take() {
                Some(f) => f,
                None => match FrameHeader::decode(&self.buf[self.pos..self.end]).map_err(ProtocolError::from)? {
                    None => return Ok(None),
                    Some((header, len)) => {
                        let frame = self.begin_frame(&header, limits)?;
                        self.pos += len;
                        frame
                    }
                },
            };
            self.unmask_new_bytes(&mut frame);
            let complete = frame.ready as u64 == frame.remaining;
            if frame.opcode.is_control() {
                if !complete {
                    self.frame = Some(frame);
                    return Ok(None);
                }
                let range = self.take_ready(&mut frame);
                return Ok(Some(Incoming::Control { opcode: frame.opcode, range }));
            }
            let Some(message) = self.message else {
                // begin_frame always starts a message for a data frame.
                return Err(ProtocolError::UnexpectedContinuation);
            };
            let kind = message.kind;
            let fin = complete && frame.fin;
            #[cfg(feature = "deflate")]
            if frame.compressed {
                let range = self.take_ready(&mut frame);
                if !complete {
                    self.frame = Some(frame);
                }
                if range.is_empty() && !fin {
                    if complete {
                        continue;
                    }
                    return Ok(None);
                }
                self.inflate_range(range, fin, message.len == 0, kind, limits)?;
                if limits.streaming {
                    if fin {
                        self.end_message()?;
                    }
                    self.assembled_taken = true;
                    return Ok(Some(Incoming::Fragment { kind, payload: Payload::Assembled, fin }));
                }
                if fin {
                    self.end_message()?;
                    self.assembled_taken = true;
                    return Ok(Some(Incoming::Message { kind, payload: Payload::Assembled }));
                }
                continue;
            }
            if limits.streaming {
                if frame.ready == 0 && !fin {
                    if !complete {
                        self.frame = Some(frame);
                        return Ok(None);
                    }
                    continue;
                }
                let range = self.take_ready(&mut frame);
                if frame.text {
                    self.utf8.feed(&self.buf[range.clone()]).map_err(invalid_utf8)?;
                }
                if !complete {
                    self.frame = Some(frame);
                }
                if fin {
                    self.end_message()?;
                }
                return Ok(Some(Incoming::Fragment { kind, payload: Payload::Input(range), fin }));
            }
            if frame.in_place {
                if complete {
                    let range = self.take_ready(&mut frame);
                    self.end_message()?;
                    return Ok(Some(Incoming::Message { kind, payload: Payload::Input(range) }));
                }
                if !frame.text {
                    self.frame = Some(frame);
                    return Ok(None);
                }
                // Text that spans reads is checked as it arrives (to fail
                // fast, Autobahn 6.4.3), so it is gathered as checked text
                // instead of checked again on delivery.
                frame.in_place = false;
            }
            let range = self.take_ready(&mut frame);
            if frame.text {
                self.utf8.feed_into(&self.buf[range], &mut self.text).map_err(invalid_utf8)?;
            } else {
                self.assembled.extend_from_slice(&self.buf[range]);
            }
            if !complete {
                self.frame = Some(frame);
                return Ok(None);
            }
            if fin {
                self.end_message()?;
                self.assembled_taken = true;
                let payload = if frame.text { Payload::Text } else { Payload::Assembled };
                return Ok(Some(Incoming::Message { kind, payload }));
            }
        }
    }

    /// The fast path for the common case: no message is in progress and the
    /// buffer starts with a whole, unfragmented, uncompressed data frame,
    /// masked as the role requires, of at most `limit` payload bytes. It is
    /// unmasked in place, consumed, and its kind and payload range returned.
    ///
    /// Anything else (including every error) returns `None` and is left to
    /// [`next`](Self::next), which reaches the same result for this frame.
    /// Text is checked by the caller when the message is delivered, as for
    /// any single-frame message that arrives whole. Not for streaming mode.
    #[inline]
    pub(crate) fn next_whole(&mut self, limit: usize) -> Option<(MessageKind, Range<usize>)> {
        if self.frame.is_some() || self.message.is_some() {
            return None;
        }
        if self.assembled_taken {
            self.assembled.clear();
            self.text.clear();
            self.assembled_taken = false;
        }
        let buf = &mut self.buf[self.pos..self.end];
        let (b0, b1) = match *buf {
            [b0, b1, ..] => (b0, b1),
            _ => return None,
        };
        // FIN, no RSV bit, Text or Binary.
        let kind = match b0 {
            0x81 => MessageKind::Text,
            0x82 => MessageKind::Binary,
            _ => return None,
        };
        let masked = b1 & 0x80 != 0;
        if masked != (self.role == Role::Server) {
            return None;
        }
        let (len, head): (u64, usize) = match b1 & 0x7f {
            126 => (u64::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?])), 4),
            127 => (u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?), 10),
            n => (u64::from(n), 2),
        };
        // A length with its top bit set is an error (RFC 6455 §5.2) that
        // the general path reports; with the limits at `usize::MAX`, the
        // end of a huge frame must not overflow.
        if len > limit as u64 || len >> 63 != 0 {
            return None;
        }
        let key_len = if masked { 4 } else { 0 };
        let end = (head + key_len).checked_add(usize::try_from(len).ok()?)?;
        let (header, payload) = buf.get_mut(..end)?.split_at_mut(head + key_len);
        let range = self.pos + head + key_len..self.pos + end;
        if let Ok(key) = <[u8; 4]>::try_from(&header[head..]) {
            if self.pre <= range.start {
                apply_mask(payload, key, 0);
            } else {
                // The bytes before `pre` were unmasked as they were copied in.
                let done = (self.pre - range.start).min(payload.len());
                apply_mask(&mut payload[done..], key, done);
            }
        }
        // `pre` is not moved up to `pos`: bytes before `pos` are consumed,
        // and `push` compares against the larger of the two.
        self.pos += end;
        Some((kind, range))
    }

    /// Checks a new frame header against the role, the message in progress
    /// and the limits (RFC 6455 §5.1, §5.2, §5.4, §5.5).
    fn begin_frame(&mut self, h: &FrameHeader, limits: Limits) -> Result<Frame, ProtocolError> {
        // RSV1 (with permessage-deflate) only on the first frame of a data
        // message (RFC 7692 §6.1); other bits never.
        let first_data = matches!(h.opcode, OpCode::Text | OpCode::Binary);
        if h.rsv & !self.rsv_allowed != 0 || (h.rsv & RSV1 != 0 && !first_data) {
            return Err(ProtocolError::ReservedBits(h.rsv));
        }
        let compressed_start = h.rsv & RSV1 != 0;
        match (self.role, h.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        let mut frame = Frame {
            opcode: h.opcode,
            fin: h.fin,
            mask: h.mask,
            remaining: h.payload_len,
            ready: 0,
            in_place: false,
            text: false,
            compressed: false,
        };
        if h.opcode.is_control() {
            if !h.fin {
                return Err(ProtocolError::FragmentedControl(h.opcode));
            }
            if h.payload_len > MAX_CONTROL_PAYLOAD as u64 {
                return Err(ProtocolError::ControlTooLong { opcode: h.opcode, len: h.payload_len });
            }
            return Ok(frame);
        }
        let message = match (h.opcode, self.message) {
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (OpCode::Continuation, Some(m)) => m,
            (op, Some(_)) => return Err(ProtocolError::ExpectedContinuation(op)),
            (op, None) => {
                self.utf8.reset();
                frame.in_place = h.fin && !limits.streaming && !compressed_start;
                let kind = if op == OpCode::Text { MessageKind::Text } else { MessageKind::Binary };
                Message { kind, len: 0, compressed: compressed_start }
            }
        };
        let len = message.len.saturating_add(h.payload_len);
        // The message limit applies to a compressed message once inflated.
        if !limits.streaming && !message.compressed {
            if h.payload_len > limits.max_frame as u64 {
                return Err(ProtocolError::FrameTooLarge { len: h.payload_len, limit: limits.max_frame });
            }
            if len > limits.max_message as u64 {
                return Err(ProtocolError::MessageTooLarge { len, limit: limits.max_message });
            }
        }
        if !limits.streaming && message.compressed && h.payload_len > limits.max_frame as u64 {
            return Err(ProtocolError::FrameTooLarge { len: h.payload_len, limit: limits.max_frame });
        }
        frame.compressed = message.compressed;
        frame.text = message.kind == MessageKind::Text && !message.compressed;
        self.message = Some(Message { len, ..message });
        Ok(frame)
    }

    /// Unmasks the frame's payload bytes that arrived since the last call.
    fn unmask_new_bytes(&mut self, frame: &mut Frame) {
        let available = ((self.end - self.pos) as u64).min(frame.remaining) as usize;
        if available <= frame.ready {
            return;
        }
        let (start, end) = (self.pos + frame.ready, self.pos + available);
        if let Some(key) = frame.mask {
            // The bytes before `pre` were unmasked as they were copied in.
            let from = self.pre.clamp(start, end);
            apply_mask(&mut self.buf[from..end], key, from - self.pos);
        }
        frame.ready = available;
        self.pre = self.pre.max(end);
    }

    /// Inflates a compressed message's payload bytes (`buf[range]`) into
    /// `assembled`, checking text as UTF-8 as it is produced. Inflated bytes
    /// count against `max_message_size` as they are produced (in streaming
    /// mode: the bytes of each delivered piece).
    #[cfg(feature = "deflate")]
    fn inflate_range(
        &mut self,
        range: Range<usize>,
        end: bool,
        empty: bool,
        kind: MessageKind,
        limits: Limits,
    ) -> Result<(), ProtocolError> {
        let Some(state) = self.inflate.as_mut() else {
            return Err(ProtocolError::ReservedBits(RSV1));
        };
        let (bits, no_takeover) = (state.bits, state.no_takeover);
        let inflater = state.inflater.get_or_insert_with(|| Box::new(Inflater::new(bits, no_takeover)));
        if self.assembled_taken || limits.streaming {
            self.assembled.clear();
            self.assembled_taken = false;
        }
        let start = self.assembled.len();
        let empty = empty && end && range.is_empty();
        inflater.inflate(&self.buf[range], end, empty, &mut self.assembled, limits.max_message).map_err(
            |e| match e {
                InflateError::TooBig { len } => ProtocolError::MessageTooLarge { len, limit: limits.max_message },
                InflateError::Corrupt => ProtocolError::InvalidCompressedData,
            },
        )?;
        if end && state.release {
            state.inflater = None;
        }
        if kind == MessageKind::Text {
            self.utf8.feed(&self.assembled[start..]).map_err(invalid_utf8)?;
        }
        Ok(())
    }

    /// Consumes the frame's ready bytes and returns their range in `buf`.
    fn take_ready(&mut self, frame: &mut Frame) -> Range<usize> {
        let range = self.pos..self.pos + frame.ready;
        self.pos = range.end;
        frame.remaining -= frame.ready as u64;
        if let Some(key) = &mut frame.mask {
            key.rotate_left(frame.ready % 4);
        }
        frame.ready = 0;
        range
    }

    /// The final frame of a message is complete.
    fn end_message(&mut self) -> Result<(), ProtocolError> {
        if let Some(Message { kind: MessageKind::Text, .. }) = self.message.take() {
            self.utf8.finish().map_err(invalid_utf8)?;
        }
        Ok(())
    }
}

/// A text message's invalid UTF-8, as the protocol error (1007).
fn invalid_utf8(e: Utf8Error) -> ProtocolError {
    ProtocolError::InvalidUtf8 { valid_up_to: e.valid_up_to }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server unmasks large frames (RFC 6455 §5.3) while copying them in:
    /// fed a stream of 5000-byte frames in 1500-byte pieces and polled after
    /// each, every buffered byte is unmasked by the end of each push (the
    /// parser has no second pass to make), and the payloads come out right.
    /// The first piece is read into the room as a transport does (raw, left
    /// to the parser); once parsed, the pushes after it unmask ahead again.
    #[test]
    fn large_masked_frames_are_unmasked_while_copied() {
        let key = [0x11, 0x22, 0x33, 0x44];
        let payload: Vec<u8> = (0..5000u32).map(|i| (i * 3 + i / 256) as u8).collect();
        let mut frame = vec![0x82, 0xfe, (5000 >> 8) as u8, 5000u16 as u8];
        frame.extend_from_slice(&key);
        let mut masked = payload.clone();
        apply_mask(&mut masked, key, 0);
        frame.extend_from_slice(&masked);
        let wire = [&frame[..], &frame[..]].concat();

        let mut receiver = Receiver::new(Role::Server);
        receiver.start_frames();
        let limits = Limits { max_frame: usize::MAX, max_message: usize::MAX, streaming: false };
        let mut messages = Vec::new();
        for (i, piece) in wire.chunks(1500).enumerate() {
            if i == 0 {
                receiver.spare(64 << 10)[..piece.len()].copy_from_slice(piece);
                receiver.commit(piece.len(), 64 << 10);
            } else {
                receiver.push(piece);
                let unmasked_to = receiver.pre.max(receiver.pos);
                assert_eq!(unmasked_to, receiver.end, "all buffered bytes unmasked after push {i}");
            }
            while let Some(incoming) = receiver.next(limits).expect("valid frames") {
                match incoming {
                    Incoming::Message { payload: Payload::Input(range), .. } => {
                        messages.push(receiver.buf[range].to_vec())
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        assert_eq!(messages, [payload.clone(), payload]);
    }

    /// Reading ahead stops at the first frame smaller than
    /// [`UNMASK_AHEAD_MIN`] (RFC 6455 §5.3): frames of the threshold and one
    /// more byte are unmasked by the push, the one below it and everything
    /// after are left to the parser, and every payload comes out right.
    #[test]
    fn unmasking_ahead_stops_at_a_small_frame() {
        let min = UNMASK_AHEAD_MIN as usize;
        assert!((2..125).contains(&min), "the frames below use 7-bit lengths");
        let key = [0xa1, 0xb2, 0xc3, 0xd4];
        let lens = [min, min + 1, min - 1, min];
        let payloads: Vec<Vec<u8>> =
            lens.iter().enumerate().map(|(k, &len)| (0..len).map(|i| (i * 7 + k) as u8).collect()).collect();
        let mut wire = Vec::new();
        let mut ahead = 0;
        for (k, payload) in payloads.iter().enumerate() {
            wire.extend_from_slice(&[0x82, 0x80 | payload.len() as u8]);
            wire.extend_from_slice(&key);
            let mut masked = payload.clone();
            apply_mask(&mut masked, key, 0);
            wire.extend_from_slice(&masked);
            if k < 2 {
                ahead = wire.len();
            }
        }

        let mut receiver = Receiver::new(Role::Server);
        receiver.start_frames();
        receiver.push(&wire);
        assert_eq!(receiver.pre, ahead, "the two frames before the small one are unmasked");
        let limits = Limits { max_frame: usize::MAX, max_message: usize::MAX, streaming: false };
        let mut messages = Vec::new();
        while let Some(incoming) = receiver.next(limits).expect("valid frames") {
            match incoming {
                Incoming::Message { payload: Payload::Input(range), .. } => messages.push(receiver.buf[range].to_vec()),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(messages, payloads);
    }
}
