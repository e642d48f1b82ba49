//! permessage-deflate (RFC 7692): a fuzzer-chosen parameter set (context
//! takeover, window bits 8–15, level, threshold), then a script as in the
//! connection targets, with messages the peer compressed with its own
//! compressor and arbitrary bytes sent as compressed payloads, for a server
//! and for a client. Invariants as in the connection targets, plus: our
//! compressed output inflates (with an independent decompressor) to valid
//! messages, RSV1 only on first frames, inflated messages within the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&role, rest)) = data.split_first() else { return };
    let role = if role & 1 == 0 { wsmachine::Role::Server } else { wsmachine::Role::Client };
    wsmachine_fuzz::run_deflate_script(rest, role);
});
