//! Frame headers (RFC 6455 §5.2).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```
//!
//! This module only turns header bytes into a [`FrameHeader`] and back. Which
//! headers are acceptable for a role and a negotiated set of extensions (mask
//! bit, RSV bits, control frame rules, size limits) is decided by the
//! connection, because it depends on state this module does not have.

use core::fmt;

/// The longest possible header: 2 bytes, a 64-bit length and a masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// The largest payload of a control frame (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame opcode (RFC 6455 §5.2, §11.8). Reserved opcodes are not
/// representable: decoding them is an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// `0x0`: the continuation of a fragmented message.
    Continuation,
    /// `0x1`: the first frame of a text message.
    Text,
    /// `0x2`: the first frame of a binary message.
    Binary,
    /// `0x8`: a Close control frame.
    Close,
    /// `0x9`: a Ping control frame.
    Ping,
    /// `0xA`: a Pong control frame.
    Pong,
}

impl OpCode {
    /// The opcode for the low four bits of the first header byte, or `None`
    /// for a reserved value (`0x3`–`0x7`, `0xB`–`0xF`).
    pub const fn from_u8(value: u8) -> Option<OpCode> {
        Some(match value {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xa => OpCode::Pong,
            _ => return None,
        })
    }

    /// The wire value of this opcode.
    pub const fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xa,
        }
    }

    /// Whether this is a control opcode (Close, Ping, Pong; RFC 6455 §5.5).
    pub const fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// The FIN bit: this is the final frame of a message.
    pub fin: bool,
    /// RSV1, RSV2, RSV3 as the three low bits (`0b100` is RSV1).
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present if the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes.
    pub payload_len: u64,
}

/// A header that can never be valid, whatever the connection's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The opcode is reserved (RFC 6455 §5.2: "reserved for further ... frames").
    ReservedOpcode(u8),
    /// A 64-bit length has its most significant bit set (RFC 6455 §5.2).
    LengthMsbSet,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            FrameError::LengthMsbSet => f.write_str("64-bit payload length with the high bit set"),
        }
    }
}

impl std::error::Error for FrameError {}

impl From<FrameError> for crate::error::ProtocolError {
    fn from(e: FrameError) -> Self {
        match e {
            FrameError::ReservedOpcode(op) => crate::error::ProtocolError::ReservedOpcode(op),
            FrameError::LengthMsbSet => crate::error::ProtocolError::InvalidLength,
        }
    }
}

impl FrameHeader {
    /// Decodes a header from the start of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` is a prefix of a header (never more than
    /// [`MAX_HEADER_LEN`] bytes are needed), or the header and its length in
    /// bytes. Non-minimal length encodings are accepted, as the RFC does not
    /// forbid receiving them.
    ///
    /// ```
    /// use wsmachine::{OpCode, __internals::FrameHeader};
    /// // RFC 6455 §5.7: unmasked "Hello".
    /// let (h, n) = FrameHeader::decode(&[0x81, 0x05, b'H']).unwrap().unwrap();
    /// assert_eq!((h.opcode, h.fin, h.payload_len, n), (OpCode::Text, true, 5, 2));
    /// assert_eq!(FrameHeader::decode(&[0x81]), Ok(None));
    /// ```
    #[inline]
    pub fn decode(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, FrameError> {
        let (b0, b1) = match buf {
            [b0, b1, ..] => (*b0, *b1),
            _ => return Ok(None),
        };
        let opcode = OpCode::from_u8(b0 & 0x0f).ok_or(FrameError::ReservedOpcode(b0 & 0x0f))?;
        let masked = b1 & 0x80 != 0;
        let (payload_len, mut pos) = match b1 & 0x7f {
            126 => match buf.get(2..4) {
                Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
                None => return Ok(None),
            },
            127 => match buf.get(2..10) {
                Some(b) => {
                    let mut len = [0u8; 8];
                    len.copy_from_slice(b);
                    let len = u64::from_be_bytes(len);
                    if len >> 63 != 0 {
                        return Err(FrameError::LengthMsbSet);
                    }
                    (len, 10)
                }
                None => return Ok(None),
            },
            n => (u64::from(n), 2),
        };
        let mask = if masked {
            match buf.get(pos..pos + 4) {
                Some(k) => {
                    pos += 4;
                    Some([k[0], k[1], k[2], k[3]])
                }
                None => return Ok(None),
            }
        } else {
            None
        };
        let header = FrameHeader { fin: b0 & 0x80 != 0, rsv: (b0 >> 4) & 0x07, opcode, mask, payload_len };
        Ok(Some((header, pos)))
    }

    /// The number of bytes [`encode`](Self::encode) writes: the minimal
    /// length encoding is always used.
    #[inline]
    pub fn encoded_len(&self) -> usize {
        let len_bytes = match self.payload_len {
            0..=125 => 0,
            126..=0xffff => 2,
            _ => 8,
        };
        2 + len_bytes + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Encodes the header into the start of `out` and returns its length.
    ///
    /// `payload_len` must be below 2^63 (a larger value cannot be represented
    /// on the wire: its high bit is dropped).
    #[inline]
    pub fn encode(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        out[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0x07) << 4) | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut pos = match self.payload_len {
            n @ 0..=125 => {
                out[1] = mask_bit | n as u8;
                2
            }
            n @ 126..=0xffff => {
                out[1] = mask_bit | 126;
                out[2..4].copy_from_slice(&(n as u16).to_be_bytes());
                4
            }
            n => {
                out[1] = mask_bit | 127;
                out[2..10].copy_from_slice(&(n & (u64::MAX >> 1)).to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            out[pos..pos + 4].copy_from_slice(&key);
            pos += 4;
        }
        pos
    }

    /// Appends the encoded header to `out`.
    #[inline]
    pub fn append_to(&self, out: &mut Vec<u8>) {
        let mut buf = [0u8; MAX_HEADER_LEN];
        let n = self.encode(&mut buf);
        out.extend_from_slice(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(opcode: OpCode, len: u64, mask: Option<[u8; 4]>) -> FrameHeader {
        FrameHeader { fin: true, rsv: 0, opcode, mask, payload_len: len }
    }

    /// RFC 6455 §5.7 examples: 256 bytes and 64 KiB binary frames use the
    /// 16-bit and 64-bit length forms.
    #[test]
    fn rfc6455_5_7_length_forms() {
        let mut out = [0u8; MAX_HEADER_LEN];
        let n = header(OpCode::Binary, 256, None).encode(&mut out);
        assert_eq!(&out[..n], &[0x82, 0x7e, 0x01, 0x00]);
        let n = header(OpCode::Binary, 65536, None).encode(&mut out);
        assert_eq!(&out[..n], &[0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);
        // Masked ping "Hello" from §5.7.
        let ping = [0x89, 0x85, 0x37, 0xfa, 0x21, 0x3d];
        let (h, n) = FrameHeader::decode(&ping).unwrap().unwrap();
        assert_eq!(n, 6);
        assert_eq!(h, header(OpCode::Ping, 5, Some([0x37, 0xfa, 0x21, 0x3d])));
    }

    /// §5.2: non-minimal encodings are accepted when receiving.
    #[test]
    fn rfc6455_5_2_non_minimal_lengths_accepted() {
        let (h, n) = FrameHeader::decode(&[0x82, 126, 0, 5]).unwrap().unwrap();
        assert_eq!((h.payload_len, n), (5, 4));
        let (h, n) = FrameHeader::decode(&[0x82, 127, 0, 0, 0, 0, 0, 0, 0, 5]).unwrap().unwrap();
        assert_eq!((h.payload_len, n), (5, 10));
    }

    /// §5.2: "the most significant bit MUST be 0".
    #[test]
    fn rfc6455_5_2_length_msb_rejected() {
        let bytes = [0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(FrameHeader::decode(&bytes), Err(FrameError::LengthMsbSet));
    }

    /// §5.2: opcodes 0x3-0x7 and 0xB-0xF are reserved.
    #[test]
    fn rfc6455_5_2_reserved_opcodes_rejected() {
        for op in (3..=7).chain(0xb..=0xf) {
            assert_eq!(FrameHeader::decode(&[0x80 | op, 0]), Err(FrameError::ReservedOpcode(op)));
        }
    }

    #[test]
    fn every_prefix_is_partial() {
        let h = header(OpCode::Text, 70000, Some([1, 2, 3, 4]));
        let mut out = [0u8; MAX_HEADER_LEN];
        let n = h.encode(&mut out);
        assert_eq!(n, MAX_HEADER_LEN);
        for i in 0..n {
            assert_eq!(FrameHeader::decode(&out[..i]), Ok(None));
        }
        assert_eq!(FrameHeader::decode(&out[..n]), Ok(Some((h, n))));
    }
}
