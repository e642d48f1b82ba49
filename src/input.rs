//! The input buffer: bytes received from the transport and not yet parsed.
//!
//! The mirror of `output.rs`. Received bytes are appended at the end (a copy
//! with [`push`](Input::push), or a read straight into the room that
//! [`spare`](Input::spare) offers, confirmed by [`commit`](Input::commit)) and
//! the parser in `receive.rs` consumes them from the front. Positions are
//! absolute indices into the buffer, so a payload is a `Range<usize>` that
//! stays valid until the next call that adds input.
//!
//! The room past the data stays initialized once written, so a transport
//! reads into it with no zeroing per read. It doubles while reads fill it,
//! from [`MIN_READ`] up to the most the caller allows.
//!
//! **Unmasking ahead.** A server unmasks a large frame's payload as
//! [`push`](Input::push) copies it in, in one pass, instead of copying it
//! and unmasking it again when it is parsed: the copy reads ahead through
//! the headers of frames of at least [`UNMASK_AHEAD_MIN`] bytes in the new
//! input, and a watermark (`pre`) tells the parser which bytes are unmasked
//! already ([`unmask`](Input::unmask)). Smaller frames are copied as they
//! are (one `memcpy` of the whole read) and unmasked when parsed.

use core::ops::Range;

use crate::frame::FrameHeader;
use crate::mask::{apply_mask, mask_into};

/// The least payload for which [`Input::push`] reads a frame's header in
/// the new input to unmask the payload while copying it. Measured: reading
/// ahead made a server's receive of 1 KiB frames 1.42× faster; below about
/// 96 bytes the second header read per frame costs more than the single
/// pass saves. In alternating A/B runs against a threshold of 0, frames of
/// 16–64 B received 0.69–0.88× as fast (binary) and 96 B broke even; against
/// the earlier threshold of 512, 96 made 125 B frames 1.08× (binary) and
/// 1.26× (text) faster and changed nothing at 16 B or 1 KiB. Smaller frames
/// are copied with the whole read at once and unmasked when parsed.
pub(crate) const UNMASK_AHEAD_MIN: u64 = 96;

/// The least room [`Input::spare`] offers for a read (unless the most,
/// [`Config::max_read_size`](crate::Config::max_read_size), is smaller):
/// where an adaptive read size starts, and what it never goes below.
pub(crate) const MIN_READ: usize = 4 << 10;

/// The most room for one read, as configured, made usable: at least one
/// byte (an empty room would read as the end of file) and at most
/// `u32::MAX` bytes.
fn clamp_read(max: usize) -> usize {
    max.clamp(1, u32::MAX as usize)
}

/// The frame the parser is in the middle of, as far as [`Input::push`]
/// needs to know it to unmask the rest of its payload while copying.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Partial {
    /// Its masking key, rotated to the phase of the first unconsumed byte.
    pub(crate) mask: Option<[u8; 4]>,
    /// Payload bytes at the front of the data, already unmasked.
    pub(crate) ready: usize,
    /// Payload bytes not yet consumed (`ready` included).
    pub(crate) remaining: u64,
}

/// Received bytes waiting to be parsed, in a buffer reused without zeroing.
#[derive(Debug)]
pub(crate) struct Input {
    /// Received bytes are `buf[pos..end]`; everything before `pos` is
    /// consumed. The rest of `buf` is room for the next read.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// The room the next [`spare`](Self::spare) offers.
    read_size: u32,
    /// The length of the room last offered.
    offered: u32,
    /// Everything in `buf[pos..pre]` is unmasked already (payloads) or
    /// never masked (headers); bytes from the larger of `pre` and `pos` on
    /// are as received.
    pre: usize,
}

impl Input {
    pub(crate) fn new() -> Self {
        Input { buf: Vec::new(), pos: 0, end: 0, read_size: MIN_READ as u32, offered: 0, pre: 0 }
    }

    /// The bytes received and not yet consumed.
    #[inline]
    pub(crate) fn data(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    /// Bytes at an absolute `range` (a payload the parser reported).
    #[inline]
    pub(crate) fn get(&self, range: Range<usize>) -> &[u8] {
        &self.buf[range]
    }

    /// Marks the first `n` unconsumed bytes as consumed and returns their
    /// absolute range.
    #[inline]
    pub(crate) fn consume(&mut self, n: usize) -> Range<usize> {
        let start = self.pos;
        self.pos = (self.pos + n).min(self.end);
        start..self.pos
    }

    /// Unmasks the unconsumed bytes `from..to` (offsets from `pos`) with
    /// `key` (rotated to the phase of the byte at `pos`), skipping what
    /// `push` unmasked already, and records them as unmasked (or, with no
    /// key, as never masked).
    pub(crate) fn unmask(&mut self, from: usize, to: usize, key: Option<[u8; 4]>) {
        let (start, end) = (self.pos + from, self.pos + to);
        if let Some(key) = key {
            let skip = self.pre.clamp(start, end);
            apply_mask(&mut self.buf[skip..end], key, skip - self.pos);
        }
        self.pre = self.pre.max(end);
    }

    /// The receive fast path's frame: if the data starts with a whole,
    /// unfragmented, uncompressed Text or Binary frame (first byte `0x81`
    /// or `0x82`), masked if and only if `masked`, of at most `limit`
    /// payload bytes, it is consumed, its payload unmasked in place
    /// (skipping what `push` unmasked already), and its first byte and
    /// payload range returned. Anything else is left for the parser.
    ///
    /// Kept in one piece, on one mutable slice, and always inlined into
    /// `poll_event_with_sender`: split into a parse and a separate call to
    /// consume and unmask, a server's binary receive of 16 B messages was
    /// 1.2x slower in alternating A/B runs (`benches/receive.rs`).
    #[inline(always)]
    pub(crate) fn take_whole_frame(&mut self, masked: bool, limit: usize) -> Option<(u8, Range<usize>)> {
        let buf = &mut self.buf[self.pos..self.end];
        let (b0, b1) = match *buf {
            [b0 @ (0x81 | 0x82), b1, ..] => (b0, b1),
            _ => return None,
        };
        if (b1 & 0x80 != 0) != masked {
            return None;
        }
        let (len, head): (u64, usize) = match b1 & 0x7f {
            126 => (u64::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?])), 4),
            127 => (u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?), 10),
            n => (u64::from(n), 2),
        };
        // A length with its top bit set is an error (RFC 6455 §5.2) that
        // the parser reports; with the limits at `usize::MAX`, the end of a
        // huge frame must not overflow.
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
        Some((b0, range))
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

    /// Appends received bytes, and returns how many payload bytes of
    /// `partial` (the frame the parser is in) it placed unmasked at the
    /// front of the data.
    ///
    /// With `ahead` (a server reading frames; never over a handshake head),
    /// masked payloads are unmasked as they are
    /// copied in, in one pass ([`mask_into`]), where the parser would
    /// otherwise unmask them again later: the rest of the frame in progress
    /// (one that spans reads, as every frame longer than a read does), then
    /// each frame of at least [`UNMASK_AHEAD_MIN`] payload bytes whose
    /// header is in `data`, until a smaller frame, a header cut by the end
    /// of `data`, or anything that is not a masked frame header. That needs
    /// every buffered byte to be unmasked already (`pre` at the end), as it
    /// is after each poll; the rest of `data` is copied as it is and
    /// unmasked when parsed.
    pub(crate) fn push(&mut self, data: &[u8], ahead: bool, partial: Option<Partial>) -> usize {
        self.make_room(data.len());
        let at = self.end;
        let caught_up = self.pre.max(self.pos) == at;
        let (placed, of_partial) = if ahead && caught_up { self.push_unmasking(data, partial) } else { (0, 0) };
        self.buf[at + placed..at + data.len()].copy_from_slice(&data[placed..]);
        self.end += data.len();
        of_partial
    }

    /// The unmasking part of [`push`](Self::push): copies a leading part of
    /// `data` to the end of the buffer (which has room), unmasked, and
    /// returns its length and how much of it is `partial`'s payload; `pre`
    /// moves to its end.
    fn push_unmasking(&mut self, data: &[u8], partial: Option<Partial>) -> (usize, usize) {
        let at = self.end;
        let mut placed = 0;
        match partial {
            None if self.pos == at => {}
            Some(frame) if frame.ready == at - self.pos => {
                let Some(key) = frame.mask else { return (0, 0) };
                // `remaining` counts the ready bytes too: at least `ready`.
                let n = (frame.remaining - frame.ready as u64).min(data.len() as u64) as usize;
                mask_into(&mut self.buf[at..at + n], &data[..n], key, frame.ready);
                placed = n;
                if ((frame.ready + n) as u64) < frame.remaining {
                    self.pre = at + placed;
                    return (placed, n);
                }
            }
            // A header cut by the end of the last input, or bytes not yet
            // parsed: the parser unmasks from `pre` on.
            _ => return (0, 0),
        }
        let of_partial = placed;
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
        (placed, of_partial)
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

    /// Drops all buffered input and releases the memory.
    pub(crate) fn discard(&mut self) {
        *self = Input::new();
    }

    /// Moves what is buffered into a new buffer of its size if the
    /// buffer's capacity exceeds `retain` and the data is at most half of
    /// that: the memory a large frame grew is not kept for the small ones
    /// after it. The unmasked mark moves with the data.
    pub(crate) fn trim(&mut self, retain: usize) {
        let len = self.end - self.pos;
        if self.buf.capacity() <= retain || len > retain / 2 {
            return;
        }
        let pre = self.pre.saturating_sub(self.pos).min(len);
        let buf = self.buf[self.pos..self.end].to_vec();
        *self = Input { buf, pos: 0, end: len, pre, ..Input::new() };
    }

    /// Releases the buffer if it holds no data.
    pub(crate) fn shrink(&mut self) {
        if self.pos == self.end {
            self.discard();
        }
    }

    /// Heap bytes held.
    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Every buffered byte is unmasked or a header (tests of unmasking ahead).
    #[cfg(test)]
    pub(crate) fn unmasked_to_end(&self) -> bool {
        self.pre.max(self.pos) == self.end
    }

    /// Where unmasking ahead stopped (tests).
    #[cfg(test)]
    pub(crate) fn watermark(&self) -> usize {
        self.pre
    }
}
