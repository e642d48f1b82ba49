//! The output buffer: bytes written for the transport and not yet taken.
//!
//! Frames are appended at the end and the caller takes bytes from the front
//! ([`Connection::output_buffer`] / [`Connection::advance_output`]). The
//! buffer's room past the pending bytes stays initialized once written, as
//! the receive buffer's does: a frame is written into it in place, and a
//! client's payload is masked straight into it in one pass
//! ([`extend_frame`](Output::extend_frame)), where appending to a `Vec`
//! would copy the payload in and then read and write it again to mask it
//! (safe Rust cannot write to a `Vec`'s uninitialized capacity). When
//! everything pending is taken, writing starts over at the front, so a
//! connection that keeps up with its transport reuses the same few
//! kilobytes, in cache.
//!
//! [`Connection::output_buffer`]: crate::Connection::output_buffer
//! [`Connection::advance_output`]: crate::Connection::advance_output

use crate::mask::mask_into;

/// Bytes waiting for the transport, in a buffer reused without zeroing.
#[derive(Default)]
pub(crate) struct Output {
    /// Pending bytes are `buf[start..end]`; `buf[end..]` is room written
    /// before (initialized, stale), reused for the next frames.
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Output {
    /// The bytes waiting to be written.
    #[inline]
    pub(crate) fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// The position after the last pending byte: where the next write goes.
    /// Positions stay valid until [`advance`](Self::advance) empties the
    /// buffer or [`compact`](Self::compact) moves it.
    #[inline]
    pub(crate) fn end(&self) -> usize {
        self.end
    }

    /// The position of the first pending byte.
    #[inline]
    pub(crate) fn start(&self) -> usize {
        self.start
    }

    /// `n` pending bytes were written to the transport. Returns `true` when
    /// nothing is left pending; writing then starts over at the front.
    #[inline]
    pub(crate) fn advance(&mut self, n: usize) -> bool {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            return true;
        }
        false
    }

    /// Moves the pending bytes to the front when the taken bytes before them
    /// are at least half of the buffer's used part. Returns `true` if they
    /// moved (positions changed).
    #[inline]
    pub(crate) fn compact(&mut self) -> bool {
        if self.start > 0 && self.start >= self.end / 2 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            return true;
        }
        false
    }

    /// `n` more pending bytes at the end, returned for the caller to fill
    /// (until it does, they hold whatever the room held).
    #[inline]
    pub(crate) fn grow(&mut self, n: usize) -> &mut [u8] {
        let at = self.end;
        // Both are lengths of memory that exists: the sum cannot overflow.
        let end = at + n;
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        self.end = end;
        &mut self.buf[at..end]
    }

    /// Appends `data`.
    #[inline]
    pub(crate) fn extend(&mut self, data: &[u8]) {
        self.grow(data.len()).copy_from_slice(data);
    }

    /// Appends a frame: its encoded `head`, then `payload`, masked with
    /// `mask` (RFC 6455 §5.3) as it is copied if there is one.
    #[inline]
    pub(crate) fn extend_frame(&mut self, head: &[u8], payload: &[u8], mask: Option<[u8; 4]>) {
        let (room_head, room_payload) = self.grow(head.len() + payload.len()).split_at_mut(head.len());
        room_head.copy_from_slice(head);
        match mask {
            None => room_payload.copy_from_slice(payload),
            Some(key) => mask_into(room_payload, payload, key, 0),
        }
    }

    /// Drops the pending bytes from position `end` on (`end` at least
    /// [`start`](Self::start)).
    pub(crate) fn truncate(&mut self, end: usize) {
        self.end = end.clamp(self.start, self.end);
    }

    /// Appends what `write` appends to a `Vec` (the handshake's writers).
    /// The room after the pending bytes is given up for it.
    pub(crate) fn extend_with<R>(&mut self, write: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        self.buf.truncate(self.end);
        let result = write(&mut self.buf);
        self.end = self.buf.len();
        result
    }

    /// Heap bytes held.
    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Drops everything pending and releases the memory.
    pub(crate) fn discard(&mut self) {
        *self = Output::default();
    }

    /// Releases the memory if nothing is pending.
    pub(crate) fn release(&mut self) {
        if self.start == self.end {
            *self = Output::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::apply_mask_bytewise;

    /// Taken bytes never come back, stale room never shows, and a masked
    /// append is the RFC's masking (§5.3) of the data, whatever the room held.
    #[test]
    fn pending_bytes_are_exactly_what_was_appended() {
        let mut out = Output::default();
        out.extend(b"hello world");
        assert!(!out.advance(6));
        assert_eq!(out.pending(), b"world");
        assert!(out.compact());
        assert_eq!((out.start(), out.end(), out.pending()), (0, 5, &b"world"[..]));
        assert!(out.advance(5));
        assert_eq!(out.pending(), b"");
        // The room still holds "world" and the rest: a shorter write shows none of it.
        out.extend(b"ab");
        assert_eq!(out.pending(), b"ab");
        let key = [1, 2, 3, 4];
        let data: Vec<u8> = (0..200u8).collect();
        out.extend_frame(&[0x82, 0xfe, 0, 200, 1, 2, 3, 4], &data, Some(key));
        let mut masked = data.clone();
        apply_mask_bytewise(&mut masked, key, 0);
        assert_eq!(&out.pending()[2..10], &[0x82, 0xfe, 0, 200, 1, 2, 3, 4]);
        assert_eq!(&out.pending()[10..], &masked[..]);
        out.truncate(2);
        assert_eq!(out.pending(), b"ab");
        out.extend_frame(&[0x82, 3], b"xyz", None);
        assert_eq!(out.pending(), b"ab\x82\x03xyz");
        out.truncate(2);
        let n = out.extend_with(|v| {
            v.extend_from_slice(b"cd");
            v.len()
        });
        assert_eq!((n, out.pending()), (4, &b"abcd"[..]));
        out.release();
        assert!(out.capacity() >= 4, "pending bytes keep the memory");
        out.advance(4);
        out.release();
        assert_eq!(out.capacity(), 0);
    }
}
