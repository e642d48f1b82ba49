//! Differential: the streaming UTF-8 validator, fed the input cut at
//! arbitrary points, agrees with `core::str::from_utf8` on the whole input,
//! reports the same offset, and fails no later than the piece that holds
//! the first byte proving the input invalid.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsmachine::utf8::Utf8Validator;

// Input: a cut count, the cuts, then the bytes.
fuzz_target!(|input: &[u8]| {
    let (points, data) = wsmachine_fuzz::cuts_and_data(input);
    let expected = core::str::from_utf8(data);
    let mut v = Utf8Validator::new();
    let mut failed_at: Option<(usize, u64)> = None; // (end of the failing piece, offset)
    for w in points.windows(2) {
        if let Err(e) = v.feed(&data[w[0]..w[1]]) {
            failed_at = Some((w[1], e.valid_up_to));
            break;
        }
    }
    match (expected, failed_at) {
        (Ok(_), None) => assert!(v.finish().is_ok()),
        (Ok(_), Some(f)) => panic!("valid input rejected at {f:?}"),
        (Err(e), Some((piece_end, offset))) => {
            assert_eq!(offset, e.valid_up_to() as u64);
            let proof = e.valid_up_to() + e.error_len().expect("an incomplete tail cannot fail a feed");
            // Fail fast: the failing piece starts at or before the proving byte.
            let piece_start = points.iter().rev().find(|&&p| p < piece_end).copied().unwrap_or(0);
            assert!(piece_start <= proof, "failed late: piece {piece_start}..{piece_end}, proof at {proof}");
        }
        (Err(e), None) => {
            assert!(e.error_len().is_none(), "invalid byte at {} not detected", e.valid_up_to());
            assert_eq!(v.finish().unwrap_err().valid_up_to, e.valid_up_to() as u64);
        }
    }
});
