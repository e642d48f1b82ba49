//! Unmasking in place (RFC 6455 §5.3), beside two baselines in the same run.
//!
//! ```text
//! cargo bench --manifest-path benches/Cargo.toml --bench mask
//! ```
//!
//! - `wsmachine/<size>/<offset>`: [`wsmachine::__internals::apply_mask`] on a buffer
//!   of `size` bytes whose first byte is payload byte `offset` (0–3): every
//!   key phase, as piecewise unmasking meets them.
//! - `bytewise/<size>`: the RFC's definition, a byte at a time
//!   ([`wsmachine::__internals::apply_mask_bytewise`]), the loop a naive
//!   implementation runs.
//! - `memcpy/<size>`: copying the same number of bytes, the machine's
//!   memory bandwidth: unmasking cannot be much faster than reading and
//!   writing every byte once.
//!
//! Throughput is in payload bytes.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wsmachine::__internals::{apply_mask, apply_mask_bytewise};

const SIZES: [usize; 5] = [16, 125, 1 << 10, 64 << 10, 1 << 20];
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn mask(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask");
    for size in SIZES {
        let mut buf: Vec<u8> = (0..size).map(|i| (i * 31 + 7) as u8).collect();
        group.throughput(Throughput::Bytes(size as u64));
        for offset in 0..4 {
            group.bench_function(BenchmarkId::new("wsmachine", format!("{size}/{offset}")), |b| {
                b.iter(|| apply_mask(black_box(&mut buf), KEY, offset))
            });
        }
        group.bench_function(BenchmarkId::new("bytewise", size), |b| {
            b.iter(|| apply_mask_bytewise(black_box(&mut buf), KEY, 0))
        });
        let src = buf.clone();
        group.bench_function(BenchmarkId::new("memcpy", size), |b| {
            b.iter(|| black_box(&mut buf).copy_from_slice(black_box(&src)))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(1));
    targets = mask
}
criterion_main!(benches);
