//! A script of operations (receive bytes or frames, EOF, sends, close,
//! streamed fragments, time, draining output) against an open client
//! connection; see `run_script` for the invariants checked after every step.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    wsmachine_fuzz::run_script(data, wsmachine::Role::Client);
});
