//! Payload masking (RFC 6455 §5.3).
//!
//! Every frame a client sends is masked: each payload byte `i` is XORed with
//! byte `i % 4` of a 32-bit key chosen per frame. Unmasking is the same
//! operation. This is the innermost loop of the receive path of a server, so it
//! works a machine word at a time (and lets the compiler vectorize the loop)
//! instead of a byte at a time, in safe Rust.

/// XORs `buf` in place with `key`, where `buf[0]` is byte number `offset` of
/// the masked payload.
///
/// `offset` lets a payload be unmasked piecewise as it arrives: pass the
/// number of payload bytes already unmasked. Only `offset % 4` matters.
///
/// ```
/// use wsmachine::mask::apply_mask;
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// // "Hello" masked with this key, as in RFC 6455 §5.7.
/// let mut data = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
/// apply_mask(&mut data[..2], key, 0);
/// apply_mask(&mut data[2..], key, 2);
/// assert_eq!(&data, b"Hello");
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    // The key as a little-endian word, rotated so that its lowest byte is the
    // one for `buf[0]`; it stays in registers (no byte-indexed key lookups).
    let k = u32::from_le_bytes(key).rotate_right((offset as u32 & 3) * 8);
    let word = u64::from(k) | (u64::from(k) << 32);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_le_bytes(bytes) ^ word).to_le_bytes());
    }
    // The remainder (< 8 bytes) starts at a multiple of 8, so at phase 0 of `k`.
    let rest = chunks.into_remainder();
    let (four, rest) = rest.split_at_mut(rest.len() & 4);
    if let Ok(four) = <&mut [u8; 4]>::try_from(four) {
        *four = (u32::from_le_bytes(*four) ^ k).to_le_bytes();
    }
    for (b, m) in rest.iter_mut().zip(k.to_le_bytes()) {
        *b ^= m;
    }
}

/// The byte-at-a-time reference for [`apply_mask`]: the definition from the
/// RFC, kept for differential tests, fuzzing and benchmarks.
pub fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[(offset + i) & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 §5.7: "A single-frame masked text message" carrying "Hello".
    #[test]
    fn rfc6455_5_7_masked_hello() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let mut data = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        apply_mask(&mut data, key, 0);
        assert_eq!(&data, b"Hello");
    }

    #[test]
    fn matches_bytewise_at_every_offset_and_length() {
        let key = [0x12, 0x34, 0x56, 0x78];
        for len in 0..70 {
            for offset in 0..8 {
                let original: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
                let mut fast = original.clone();
                let mut slow = original.clone();
                apply_mask(&mut fast, key, offset);
                apply_mask_bytewise(&mut slow, key, offset);
                assert_eq!(fast, slow, "len {len} offset {offset}");
                apply_mask(&mut fast, key, offset);
                assert_eq!(fast, original, "masking twice is the identity");
            }
        }
    }
}
