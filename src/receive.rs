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
//! The bytes themselves are in the input buffer (`input.rs`), which also
//! unmasks a server's large frames as it copies them in; this module tells
//! it which frame is in progress and asks it to unmask the rest.
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
use crate::extension::Decoder;
use crate::frame::{FrameHeader, MAX_CONTROL_PAYLOAD, OpCode};
use crate::input::{Input, Partial};
use crate::message::MessageKind;
use crate::utf8::{Utf8Error, Utf8Validator};

/// Size limits for the receiver, from [`Config`](crate::Config).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_frame: usize,
    pub(crate) max_message: usize,
    pub(crate) streaming: bool,
    /// The most capacity a buffer keeps between messages.
    pub(crate) retain: usize,
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
    /// Part of a message the extension transformed: the payload is
    /// decoded (inflated), not kept.
    encoded: bool,
}

#[derive(Clone, Copy, Debug)]
struct Message {
    kind: MessageKind,
    /// Payload bytes announced so far by the message's frame headers.
    len: u64,
    /// Its first frame carried the extension's RSV bits (RFC 7692 §6.1).
    encoded: bool,
}

/// The receiving half of a connection.
#[derive(Debug)]
pub(crate) struct Receiver {
    role: Role,
    /// The bytes received and not yet parsed.
    pub(crate) input: Input,
    /// Unmask masked payloads while copying input in ([`Input::push`]): a
    /// server, once frames are being read (never over a handshake head).
    unmask_ahead: bool,
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
    /// A whole message was delivered since the message timeout last
    /// looked (`timers.rs`), which clears it.
    pub(crate) delivered: bool,
    /// The agreed extension's transform of incoming messages
    /// (`extension.rs`); the RSV bits it gives meaning to.
    decoder: Option<Box<dyn Decoder>>,
    rsv_allowed: u8,
}

impl Receiver {
    pub(crate) fn new(role: Role) -> Self {
        Receiver {
            role,
            input: Input::new(),
            unmask_ahead: false,
            assembled: Vec::new(),
            text: String::new(),
            assembled_taken: false,
            frame: None,
            message: None,
            utf8: Utf8Validator::new(),
            delivered: false,
            decoder: None,
            rsv_allowed: 0,
        }
    }

    /// An extension was agreed: its RSV bits mark the messages its decoder
    /// transforms from now on.
    pub(crate) fn set_decoder(&mut self, decoder: Option<Box<dyn Decoder>>) {
        self.rsv_allowed = decoder.as_ref().map_or(0, |d| d.rsv());
        self.decoder = decoder;
    }

    /// Frames are read from now on: a server unmasks input ahead of the
    /// parser from here (see [`Input::push`]).
    pub(crate) fn start_frames(&mut self) {
        self.unmask_ahead = self.role == Role::Server;
    }

    /// Appends received bytes (see [`Input::push`]): the frame in progress,
    /// if any, gets the payload bytes that were unmasked while copied.
    pub(crate) fn push(&mut self, data: &[u8]) {
        let partial = self.frame.map(|f| Partial { mask: f.mask, ready: f.ready, remaining: f.remaining });
        let unmasked = self.input.push(data, self.unmask_ahead, partial);
        if let Some(frame) = self.frame.as_mut() {
            frame.ready += unmasked;
        }
    }

    /// Drops all buffered input and releases the memory.
    pub(crate) fn discard(&mut self) {
        self.input.discard();
        self.assembled = Vec::new();
        self.text = String::new();
        self.frame = None;
        self.message = None;
    }

    /// Releases buffer memory that holds no data.
    pub(crate) fn shrink(&mut self) {
        self.input.shrink();
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

    /// Empties the buffers of a delivered message, and releases them if
    /// they grew beyond `retain`.
    fn release_taken(&mut self, retain: usize) {
        self.assembled.clear();
        self.text.clear();
        self.assembled_taken = false;
        if self.assembled.capacity() > retain {
            self.assembled = Vec::new();
        }
        if self.text.capacity() > retain {
            self.text = String::new();
        }
    }

    /// Part of a message, a frame or a header is buffered.
    pub(crate) fn in_progress(&self) -> bool {
        self.frame.is_some() || self.message.is_some() || !self.input.data().is_empty()
    }

    /// Heap bytes held by the buffers (not counting a decompressor).
    pub(crate) fn capacity(&self) -> usize {
        self.input.capacity() + self.assembled.capacity() + self.text.capacity()
    }

    /// Parses as far as the buffered bytes allow and returns the next complete
    /// item, `Ok(None)` if more bytes are needed, or the peer's violation.
    pub(crate) fn next(&mut self, limits: Limits) -> Result<Option<Incoming>, ProtocolError> {
        if self.assembled_taken {
            self.release_taken(limits.retain);
        }
        if self.frame.is_none() && self.input.capacity() > limits.retain && self.input.data().is_empty() {
            self.input.discard();
        }
        loop {
            let mut frame = match self.frame.take() {
                Some(f) => f,
                None => match FrameHeader::decode(self.input.data()).map_err(ProtocolError::from)? {
                    None => return Ok(None),
                    Some((header, len)) => {
                        let frame = self.begin_frame(&header, limits)?;
                        self.input.consume(len);
                        // A small frame after a large one: the large one's
                        // room is not kept (back-to-back large frames keep it).
                        if self.input.capacity() > limits.retain && header.payload_len <= (limits.retain / 2) as u64 {
                            self.input.trim(limits.retain);
                        }
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
            if frame.encoded {
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
                self.decode_range(range, fin, message.len == 0, kind, limits)?;
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
                    self.utf8.feed(self.input.get(range.clone())).map_err(invalid_utf8)?;
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
                self.utf8.feed_into(self.input.get(range), &mut self.text).map_err(invalid_utf8)?;
            } else {
                self.assembled.extend_from_slice(self.input.get(range));
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
    pub(crate) fn next_whole(&mut self, limit: usize, retain: usize) -> Option<(MessageKind, Range<usize>)> {
        if self.frame.is_some() || self.message.is_some() {
            return None;
        }
        if self.assembled_taken {
            self.release_taken(retain);
        }
        let (b0, range) = self.input.take_whole_frame(self.role == Role::Server, limit)?;
        let kind = if b0 == 0x81 { MessageKind::Text } else { MessageKind::Binary };
        Some((kind, range))
    }

    /// Checks a new frame header against the role, the message in progress
    /// and the limits (RFC 6455 §5.1, §5.2, §5.4, §5.5).
    fn begin_frame(&mut self, h: &FrameHeader, limits: Limits) -> Result<Frame, ProtocolError> {
        // An agreed extension's bits only on the first frame of a data
        // message (RFC 7692 §6.1); other bits never (RFC 6455 §5.2).
        let first_data = matches!(h.opcode, OpCode::Text | OpCode::Binary);
        if h.rsv & !self.rsv_allowed != 0 || (h.rsv != 0 && !first_data) {
            return Err(ProtocolError::ReservedBits(h.rsv));
        }
        let encoded_start = h.rsv != 0;
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
            encoded: false,
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
                frame.in_place = h.fin && !limits.streaming && !encoded_start;
                let kind = if op == OpCode::Text { MessageKind::Text } else { MessageKind::Binary };
                Message { kind, len: 0, encoded: encoded_start }
            }
        };
        let len = message.len.saturating_add(h.payload_len);
        // The message limit applies to a transformed message once decoded.
        if !limits.streaming && !message.encoded {
            if h.payload_len > limits.max_frame as u64 {
                return Err(ProtocolError::FrameTooLarge { len: h.payload_len, limit: limits.max_frame });
            }
            if len > limits.max_message as u64 {
                return Err(ProtocolError::MessageTooLarge { len, limit: limits.max_message });
            }
        }
        if !limits.streaming && message.encoded && h.payload_len > limits.max_frame as u64 {
            return Err(ProtocolError::FrameTooLarge { len: h.payload_len, limit: limits.max_frame });
        }
        frame.encoded = message.encoded;
        frame.text = message.kind == MessageKind::Text && !message.encoded;
        self.message = Some(Message { len, ..message });
        Ok(frame)
    }

    /// Unmasks the frame's payload bytes that arrived since the last call.
    fn unmask_new_bytes(&mut self, frame: &mut Frame) {
        let available = (self.input.data().len() as u64).min(frame.remaining) as usize;
        if available <= frame.ready {
            return;
        }
        self.input.unmask(frame.ready, available, frame.mask);
        frame.ready = available;
    }

    /// Decodes (inflates) a transformed message's payload bytes
    /// (`buf[range]`) into `assembled`, checking text as UTF-8 as it is
    /// produced. Decoded bytes count against `max_message_size` as they are
    /// produced (in streaming mode: the bytes of each delivered piece).
    fn decode_range(
        &mut self,
        range: Range<usize>,
        end: bool,
        empty: bool,
        kind: MessageKind,
        limits: Limits,
    ) -> Result<(), ProtocolError> {
        // begin_frame let the RSV bits through only with a decoder.
        let Some(decoder) = self.decoder.as_mut() else {
            return Err(ProtocolError::ReservedBits(self.rsv_allowed));
        };
        if self.assembled_taken || limits.streaming {
            self.assembled.clear();
            self.assembled_taken = false;
        }
        let start = self.assembled.len();
        let empty = empty && end && range.is_empty();
        decoder.decode(self.input.get(range), end, empty, &mut self.assembled, limits.max_message)?;
        if kind == MessageKind::Text {
            self.utf8.feed(&self.assembled[start..]).map_err(invalid_utf8)?;
        }
        Ok(())
    }

    /// Consumes the frame's ready bytes and returns their range in `buf`.
    fn take_ready(&mut self, frame: &mut Frame) -> Range<usize> {
        let range = self.input.consume(frame.ready);
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
    use crate::input::UNMASK_AHEAD_MIN;
    use crate::mask::apply_mask;

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
        let limits = Limits { max_frame: usize::MAX, max_message: usize::MAX, streaming: false, retain: usize::MAX };
        let mut messages = Vec::new();
        for (i, piece) in wire.chunks(1500).enumerate() {
            if i == 0 {
                receiver.input.spare(64 << 10)[..piece.len()].copy_from_slice(piece);
                receiver.input.commit(piece.len(), 64 << 10);
            } else {
                receiver.push(piece);
                assert!(receiver.input.unmasked_to_end(), "all buffered bytes unmasked after push {i}");
            }
            while let Some(incoming) = receiver.next(limits).expect("valid frames") {
                match incoming {
                    Incoming::Message { payload: Payload::Input(range), .. } => {
                        messages.push(receiver.input.get(range).to_vec())
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
        assert_eq!(receiver.input.watermark(), ahead, "the two frames before the small one are unmasked");
        let limits = Limits { max_frame: usize::MAX, max_message: usize::MAX, streaming: false, retain: usize::MAX };
        let mut messages = Vec::new();
        while let Some(incoming) = receiver.next(limits).expect("valid frames") {
            match incoming {
                Incoming::Message { payload: Payload::Input(range), .. } => {
                    messages.push(receiver.input.get(range).to_vec())
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(messages, payloads);
    }
}
