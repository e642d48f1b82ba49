//! Memory held by permessage-deflate contexts, measured with a counting
//! allocator; the figures are quoted in the `deflate` module docs.
#![cfg(feature = "deflate")]

use std::time::Instant;
use wsmachine::SeededRandom;
use wsmachine::deflate::{DeflateConfig, DeflateParams};
use wsmachine::{Config, Connection, Established, Role};
use wsmachine_testkit::{Counting, live_bytes};

#[global_allocator]
static ALLOC: Counting = Counting;

/// Heap bytes a server connection holds after exchanging compressed
/// messages both ways with `params`, once its buffers are shrunk.
fn held(params: DeflateParams, policy: DeflateConfig) -> isize {
    let mut config = Config::default();
    config.deflate = Some(policy);
    let mut client = Connection::established_with_random(
        Instant::now(),
        Established::new(Role::Client).deflate(params),
        config.clone(),
        SeededRandom::from_seed([1; 32]),
    );
    let text = "some text to compress, ".repeat(100);
    client.sender().send_text(&text).unwrap();
    let wire = client.output_buffer().to_vec();
    let before = live_bytes();
    let mut server =
        Connection::established(Instant::now(), Established::new(Role::Server).deflate(params), config).unwrap();
    server.receive(&wire);
    while server.poll_event().is_some() {}
    server.sender().send_text(&text).unwrap();
    let n = server.output_buffer().len();
    server.advance_output(n);
    server.shrink_buffers();
    let after = live_bytes();
    assert_eq!(server.buffer_capacity(), 0);
    drop(server);
    after - before
}

#[test]
fn memory_per_connection_with_compression() {
    let p = |takeover: bool, bits: u8| DeflateParams {
        server_no_context_takeover: !takeover,
        client_no_context_takeover: !takeover,
        server_max_window_bits: bits,
        client_max_window_bits: bits,
    };
    let default = DeflateConfig::default();
    let mut rows = Vec::new();
    for (name, params, policy) in [
        ("15-bit windows, context takeover", p(true, 15), default.clone()),
        ("15-bit windows, no context takeover", p(false, 15), default.clone()),
        ("9-bit windows, no context takeover", p(false, 9), default.clone()),
        ("8-bit windows, context takeover", p(true, 8), default.clone()),
        ("low_memory(): contexts released when idle", p(false, 9), DeflateConfig::low_memory()),
    ] {
        let bytes = held(params, policy);
        println!("{name}: {} KiB", bytes / 1024);
        rows.push((name, bytes));
    }
    // The figures the docs quote (417 and 291 KiB), with room for allocator
    // and backend changes.
    assert!(rows[0].1 < 480 << 10, "full windows: {} bytes", rows[0].1);
    assert!(rows[2].1 < rows[0].1, "small windows save memory");
    // Only the record of the agreement (48 bytes) remains: no context.
    assert!(rows[4].1 < 256, "low_memory idle: {} bytes", rows[4].1);
}
