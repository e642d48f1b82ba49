//! Streaming UTF-8 validation (RFC 6455 §8.1), beside whole-input validators.
//!
//! ```text
//! cargo bench --manifest-path benches/Cargo.toml --bench utf8
//! ```
//!
//! Inputs, each 125 B and 64 KiB: ASCII (a JSON feed) and mixed text
//! (Korean, emoji and ASCII, about 2.3 bytes per character).
//!
//! - `wsmachine/<input>`: [`wsmachine::__internals::Utf8Validator`] fed the whole
//!   input, then `finish`.
//! - `wsmachine-split/<input>`: the same, fed in 1000-byte pieces that cut
//!   code points (as frames and reads cut them).
//! - `std/<input>`: `std::str::from_utf8` on the whole input.
//! - `simdutf8/<input>`: `simdutf8::basic::from_utf8` on the whole input,
//!   the fastest validator for Rust we know of.
//!
//! Throughput is in input bytes.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wsmachine::__internals::Utf8Validator;

fn inputs() -> Vec<(String, Vec<u8>)> {
    let ascii = "{\"seq\":12345,\"sym\":\"AAPL\",\"bid\":187.25,\"ask\":187.27,\"note\":\"partial fill\"},";
    let mixed = "안녕하세요 세계! 🎉 WebSocket 메시지 🚀 검증 ✓ ";
    let mut out = Vec::new();
    for (name, unit) in [("ascii", ascii), ("mixed", mixed)] {
        for size in [125, 64 << 10] {
            let mut s = String::new();
            while s.len() < size {
                s.push_str(unit);
            }
            // Cut back to a character boundary at or below `size`.
            let mut end = size.min(s.len());
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
            out.push((format!("{name}/{size}"), s.into_bytes()));
        }
    }
    out
}

fn utf8(c: &mut Criterion) {
    let mut group = c.benchmark_group("utf8");
    for (name, input) in inputs() {
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_with_input(BenchmarkId::new("wsmachine", &name), &input, |b, input| {
            b.iter(|| {
                let mut v = Utf8Validator::new();
                v.feed(black_box(input)).unwrap();
                v.finish().unwrap();
            })
        });
        group.bench_with_input(BenchmarkId::new("wsmachine-split", &name), &input, |b, input| {
            b.iter(|| {
                let mut v = Utf8Validator::new();
                for piece in black_box(input).chunks(1000) {
                    v.feed(piece).unwrap();
                }
                v.finish().unwrap();
            })
        });
        group.bench_with_input(BenchmarkId::new("std", &name), &input, |b, input| {
            b.iter(|| std::str::from_utf8(black_box(input)).unwrap().len())
        });
        group.bench_with_input(BenchmarkId::new("simdutf8", &name), &input, |b, input| {
            b.iter(|| simdutf8::basic::from_utf8(black_box(input)).unwrap().len())
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(1));
    targets = utf8
}
criterion_main!(benches);
