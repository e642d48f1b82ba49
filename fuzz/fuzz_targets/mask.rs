//! Differential: the word-at-a-time masking routine equals the byte-at-a-time
//! reference at any offset and length, and masking in pieces equals masking
//! at once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsmachine::__internals::{apply_mask, apply_mask_bytewise};

// Input: a 4-byte key, an offset byte, a 2-byte split point, then the data.
fuzz_target!(|input: &[u8]| {
    let Some((head, data)) = input.split_first_chunk::<7>() else { return };
    let key = [head[0], head[1], head[2], head[3]];
    let offset = head[4] as usize;
    let split = u16::from_be_bytes([head[5], head[6]]);
    let data = data.to_vec();
    let mut fast = data.clone();
    let mut slow = data.clone();
    apply_mask(&mut fast, key, offset);
    apply_mask_bytewise(&mut slow, key, offset);
    assert_eq!(fast, slow);
    let split = split as usize % (data.len() + 1);
    let mut pieces = data.clone();
    let (a, b) = pieces.split_at_mut(split);
    apply_mask(a, key, offset);
    apply_mask(b, key, offset + split);
    assert_eq!(pieces, slow);
});
