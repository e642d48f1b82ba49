//! Arbitrary bytes into the frame header decoder (RFC 6455 §5.2).
//!
//! Invariants: an accepted header re-encodes (minimally) to bytes that decode
//! to the same header; the decoder never claims more bytes than it was given
//! or than a header can have; it asks for more input only when the input is
//! shorter than the header it starts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsmachine::__internals::{FrameError, FrameHeader, MAX_HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    match FrameHeader::decode(data) {
        Ok(Some((h, n))) => {
            assert!(n <= data.len() && (2..=MAX_HEADER_LEN).contains(&n));
            assert!(h.payload_len >> 63 == 0);
            let mut buf = [0u8; MAX_HEADER_LEN];
            let m = h.encode(&mut buf);
            assert!(m <= n, "minimal encoding is never longer");
            assert_eq!(FrameHeader::decode(&buf[..m]), Ok(Some((h, m))));
            // Every prefix of the input header is partial.
            for i in 0..n {
                assert_eq!(FrameHeader::decode(&data[..i]), Ok(None));
            }
        }
        Ok(None) => {
            assert!(data.len() < MAX_HEADER_LEN, "asked for more than a header needs");
            // The full header length implied by what is there exceeds the input.
            if data.len() >= 2 {
                let ext = match data[1] & 0x7f {
                    126 => 2,
                    127 => 8,
                    _ => 0,
                };
                let need = 2 + ext + if data[1] & 0x80 != 0 { 4 } else { 0 };
                assert!(data.len() < need);
            }
        }
        Err(FrameError::ReservedOpcode(op)) => assert_eq!(op, data[0] & 0x0f),
        Err(FrameError::LengthMsbSet) => assert!(data[1] & 0x7f == 127 && data[2] & 0x80 != 0),
    }
});
