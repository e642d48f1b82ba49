//! Payload masking (RFC 6455 §5.3).
//!
//! Every frame a client sends is masked: each payload byte `i` is XORed with
//! byte `i % 4` of a 32-bit key chosen per frame. Unmasking is the same
//! operation. This is the innermost loop of the receive path of a server, so it
//! works a machine word at a time (and lets the compiler vectorize the loop)
//! instead of a byte at a time, in safe Rust; with feature `simd-mask` the
//! same loop runs compiled for the CPU's widest vectors, picked at run time.

/// Payloads shorter than this are unmasked by the portable loop even with
/// feature `simd-mask`: below it, choosing the vector unit costs more than it
/// saves (measured with `benches/mask.rs`).
#[cfg(feature = "simd-mask")]
const SIMD_MIN: usize = 128;

/// XORs `buf` in place with `key`, where `buf[0]` is byte number `offset` of
/// the masked payload.
///
/// `offset` lets a payload be unmasked piecewise as it arrives: pass the
/// number of payload bytes already unmasked. Only `offset % 4` matters.
///
/// With feature `simd-mask` (default), payloads of a few hundred bytes and
/// more are unmasked with the widest vector unit the CPU offers, chosen at
/// run time; otherwise, and for short payloads, a word-at-a-time loop runs.
///
/// ```
/// use wsmachine::__internals::apply_mask;
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
    #[cfg(feature = "simd-mask")]
    if buf.len() >= SIMD_MIN {
        return vector::apply(buf, k);
    }
    xor_words(buf, k);
}

/// Masks `src` into `dst` (of the same length) with `key`, where `src[0]`
/// is byte number `offset` of the payload: one pass that reads each byte
/// once and writes it once, where a copy followed by [`apply_mask`] reads
/// and writes the destination twice. A client's send path masks payloads
/// into its output buffer with it.
#[inline]
pub(crate) fn mask_into(dst: &mut [u8], src: &[u8], key: [u8; 4], offset: usize) {
    debug_assert_eq!(dst.len(), src.len());
    let k = u32::from_le_bytes(key).rotate_right((offset as u32 & 3) * 8);
    #[cfg(feature = "simd-mask")]
    if src.len() >= SIMD_MIN {
        return vector::apply_into(dst, src, k);
    }
    xor_words_into(dst, src, k);
}

/// The key word `k` repeated to 64 bits.
#[inline(always)]
fn key_word(k: u32) -> u64 {
    u64::from(k) | (u64::from(k) << 32)
}

/// The key word `w` at the phase of payload byte `at` (relative to the byte
/// `w` is at the phase of).
#[inline(always)]
fn phase(w: u64, at: usize) -> u64 {
    w.rotate_right((at as u32 & 3) * 8)
}

/// XORs `buf` with the repeated little-endian key word `k` (already rotated
/// to `buf[0]`'s phase), eight bytes at a time: a loop the compiler
/// vectorizes to whatever width the target it is compiled for allows.
///
/// The tail is done word by word and byte by byte, not with an overlapping
/// last block read before the loop and written back after it: that measured
/// 6.0 ns at 125 B against 3.6 ns for this loop in `benches/mask.rs`, which
/// masks one buffer over and over (most likely the tail's load waits on the
/// previous call's stores, which only partly cover it).
#[inline(always)]
fn xor_words(buf: &mut [u8], k: u32) {
    let word = key_word(k);
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

/// `dst = src ^ key`, as [`xor_words`] does in place, sixteen bytes at a
/// time. There is no byte loop at the end: the last sixteen bytes are
/// masked from `src` once more, overlapping the last block written (the
/// bytes in the overlap get the same value either way); nothing is loaded
/// from `dst`, so no store-forwarding stall can come of it.
#[inline(always)]
fn xor_words_into(dst: &mut [u8], src: &[u8], k: u32) {
    let w = key_word(k);
    let len = src.len().min(dst.len());
    let (dst, src) = (&mut dst[..len], &src[..len]);
    let block = |d: &mut [u8], s: &[u8], w: u64| {
        let mut a = [0u8; 8];
        let mut b = [0u8; 8];
        a.copy_from_slice(&s[..8]);
        b.copy_from_slice(&s[8..16]);
        d[..8].copy_from_slice(&(u64::from_le_bytes(a) ^ w).to_le_bytes());
        d[8..16].copy_from_slice(&(u64::from_le_bytes(b) ^ w).to_le_bytes());
    };
    if len >= 16 {
        for (d, s) in dst.chunks_exact_mut(16).zip(src.chunks_exact(16)) {
            block(d, s, w);
        }
        let at = len - 16;
        block(&mut dst[at..], &src[at..], phase(w, at));
    } else {
        dst.copy_from_slice(src);
        xor_words(dst, k);
    }
}

/// Run-time choice of the vector unit. [pulp] detects the CPU's features
/// once and calls [`Unmask::with_simd`] from a function compiled for them
/// (AVX-512 or AVX2 on x86-64, when present); the word loop inlined there is vectorized
/// at that width. The `unsafe` this needs lives in pulp; this crate stays
/// `forbid(unsafe_code)`.
#[cfg(feature = "simd-mask")]
mod vector {
    /// The unmasking of one buffer, as pulp's unit of dispatched work.
    struct Unmask<'a> {
        buf: &'a mut [u8],
        key: u32,
    }

    impl pulp::WithSimd for Unmask<'_> {
        type Output = ();

        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _simd: S) {
            super::xor_words(self.buf, self.key);
        }
    }

    /// Vector stores are lined up with this: a 64-byte (AVX-512) store
    /// that straddles two cache lines costs about two.
    const ALIGN: usize = 64;

    /// How many bytes of a buffer at `ptr` come before the first
    /// [`ALIGN`]-aligned address (at most `len`).
    #[inline(always)]
    fn misaligned_head(ptr: *const u8, len: usize) -> usize {
        ptr.align_offset(ALIGN).min(len)
    }

    /// [`xor_words`](super::xor_words) on the widest vector unit available.
    ///
    /// The bytes before the first 64-byte boundary are done by the portable
    /// loop, so that every vector store in the rest is aligned. On an
    /// AVX-512 Xeon, over buffers that stay in L1 cache, that took 0.7× (4
    /// KiB) and 0.5× (16 KiB) the time of the same loop over a buffer that
    /// starts 16 bytes past a boundary, as heap buffers and payloads behind
    /// a frame header do; past L1 the cache's bandwidth limits either way
    /// (64 KiB and 1 MiB unchanged in `benches/mask.rs`).
    #[inline(never)]
    pub(super) fn apply(buf: &mut [u8], key: u32) {
        let head = misaligned_head(buf.as_ptr(), buf.len());
        let (head, body) = buf.split_at_mut(head);
        super::xor_words(head, key);
        let key = key.rotate_right((head.len() as u32 & 3) * 8);
        pulp::Arch::new().dispatch(Unmask { buf: body, key });
    }

    /// A masked copy of one buffer, as pulp's unit of dispatched work.
    struct MaskInto<'a> {
        dst: &'a mut [u8],
        src: &'a [u8],
        key: u32,
    }

    impl pulp::WithSimd for MaskInto<'_> {
        type Output = ();

        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _simd: S) {
            super::xor_words_into(self.dst, self.src, self.key);
        }
    }

    /// [`xor_words_into`](super::xor_words_into) on the widest vector unit
    /// available, with the stores into `dst` aligned as in [`apply`].
    #[inline(never)]
    pub(super) fn apply_into(dst: &mut [u8], src: &[u8], key: u32) {
        let len = dst.len().min(src.len());
        let head = misaligned_head(dst.as_ptr(), len);
        let (dst_head, dst) = dst[..len].split_at_mut(head);
        let (src_head, src) = src[..len].split_at(head);
        super::xor_words_into(dst_head, src_head, key);
        let key = key.rotate_right((head as u32 & 3) * 8);
        pulp::Arch::new().dispatch(MaskInto { dst, src, key });
    }

    #[cfg(test)]
    mod tests {
        use super::{MaskInto, Unmask};

        /// Each vector unit this CPU has (not only the widest, which
        /// `apply` picks) unmasks as the RFC's byte loop does (§5.3).
        #[test]
        fn every_available_unit_matches_bytewise() {
            let mut units = vec![("scalar", pulp::Arch::Scalar)];
            #[cfg(target_arch = "x86_64")]
            {
                if let Some(v3) = pulp::x86::V3::try_new() {
                    units.push(("avx2", pulp::Arch::V3(v3)));
                }
                if let Some(v4) = pulp::x86::V4::try_new() {
                    units.push(("avx512", pulp::Arch::V4(v4)));
                }
            }
            let key = [0x9a, 0x01, 0xfe, 0x42];
            for (name, arch) in units {
                for len in [128, 129, 191, 256, 1000, 4096 + 3] {
                    for offset in 0..4 {
                        let original: Vec<u8> = (0..len).map(|i| (i * 31 + 5) as u8).collect();
                        let mut fast = original.clone();
                        let mut slow = original.clone();
                        let k = u32::from_le_bytes(key).rotate_right(offset as u32 * 8);
                        let mut copied = vec![0u8; len];
                        arch.dispatch(Unmask { buf: &mut fast, key: k });
                        arch.dispatch(MaskInto { dst: &mut copied, src: &original, key: k });
                        super::super::apply_mask_bytewise(&mut slow, key, offset);
                        assert_eq!(fast, slow, "{name}: len {len} offset {offset}");
                        assert_eq!(copied, slow, "{name} (copy): len {len} offset {offset}");
                    }
                }
            }
        }
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

    /// The vector path lines its stores up with 64-byte boundaries: a
    /// payload may start anywhere (behind a 2- to 14-byte frame header), so
    /// every start within a cache line gets the RFC's masking (§5.3).
    #[test]
    fn matches_bytewise_at_every_start_in_a_cache_line() {
        let key = [0xa1, 0x5e, 0x07, 0xc3];
        let mut backing = vec![0u8; 4096 + 128];
        let mut target = backing.clone();
        for len in [1, 63, 64, 65, 127, 128, 129, 200, 1000, 4096] {
            for start in 0..64 {
                for offset in 0..4 {
                    let original: Vec<u8> = (0..len).map(|i| (i * 13 + start) as u8).collect();
                    let mut slow = original.clone();
                    apply_mask_bytewise(&mut slow, key, offset);
                    let fast = &mut backing[start..start + len];
                    fast.copy_from_slice(&original);
                    apply_mask(fast, key, offset);
                    assert_eq!(fast, &slow[..], "in place: len {len} start {start} offset {offset}");
                    let copied = &mut target[start..start + len];
                    mask_into(copied, &original, key, offset);
                    assert_eq!(copied, &slow[..], "copy: len {len} start {start} offset {offset}");
                }
            }
        }
    }

    #[test]
    fn matches_bytewise_at_every_offset_and_length() {
        let key = [0x12, 0x34, 0x56, 0x78];
        // Past SIMD_MIN too, so that the vector path is checked with `simd-mask`.
        for len in (0..70).chain([95, 96, 97, 125, 127, 128, 129, 255, 300, 1023, 1024, 1029, 4099]) {
            for offset in 0..8 {
                let original: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
                let mut fast = original.clone();
                let mut slow = original.clone();
                let mut copied = vec![0xee; len];
                apply_mask(&mut fast, key, offset);
                mask_into(&mut copied, &original, key, offset);
                apply_mask_bytewise(&mut slow, key, offset);
                assert_eq!(fast, slow, "len {len} offset {offset}");
                assert_eq!(copied, slow, "masked copy: len {len} offset {offset}");
                apply_mask(&mut fast, key, offset);
                assert_eq!(fast, original, "masking twice is the identity");
            }
        }
    }
}
