//! Differential: the streaming UTF-8 validator, fed the input cut at
//! arbitrary points, agrees with `core::str::from_utf8` on the whole input,
//! reports the same offset, and fails no later than the piece that holds
//! the first byte proving the input invalid. `feed_into` gives the same
//! verdicts and gathers exactly the input's valid start.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsmachine::__internals::Utf8Validator;

// Input: a cut count, the cuts, then the bytes.
fuzz_target!(|input: &[u8]| {
    let (points, data) = wsmachine_fuzz::cuts_and_data(input);
    let expected = core::str::from_utf8(data);
    let mut v = Utf8Validator::new();
    let (mut gather, mut text) = (Utf8Validator::new(), String::new());
    let mut failed_at: Option<(usize, u64)> = None; // (end of the failing piece, offset)
    for w in points.windows(2) {
        let piece = &data[w[0]..w[1]];
        let (fed, gathered) = (v.feed(piece), gather.feed_into(piece, &mut text));
        assert_eq!(fed, gathered, "feed and feed_into disagree");
        assert!(data.starts_with(text.as_bytes()), "gathered text is not the input's start");
        if let Err(e) = fed {
            failed_at = Some((w[1], e.valid_up_to));
            break;
        }
        // All of the input so far is gathered but a cut code point.
        assert!(w[1] - text.len() <= 3 && gather.is_complete() == (text.len() == w[1]));
    }
    match (expected, failed_at) {
        (Ok(_), None) => {
            assert!(v.finish().is_ok());
            assert_eq!(text.as_bytes(), data);
        }
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
