//! permessage-deflate (RFC 7692) throughput, beside flate2 used directly.
//!
//! ```text
//! cargo bench --manifest-path benches/Cargo.toml --bench deflate
//! ```
//!
//! Two groups, per message size (128 B to 1 MiB of JSON-like text, which
//! level 1 compresses about 3:1):
//!
//! - `compress/<size>`: a server connection with permessage-deflate agreed
//!   sends a run of distinct messages (`send_binary`, output drained after
//!   each), against the baseline: one `flate2::Compress` with the same level
//!   and window compressing the same messages with a sync flush and dropping
//!   the `00 00 ff ff` trailer, the least any implementation has to do.
//! - `decompress/<size>`: a client connection receives the compressed
//!   messages as server frames in 64 KiB reads and polls the message events,
//!   against the baseline: one `flate2::Decompress` inflating the same
//!   payloads (trailer appended) into a reused buffer.
//!
//! Every iteration starts from a fresh context (the connection or the flate2
//! stream is created in the untimed setup or lazily in both), with context
//! takeover and 15-bit windows, the defaults browsers negotiate. Throughput
//! is in uncompressed bytes; the number to read is the ratio of wsmachine to
//! the baseline in the same run.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use wsmachine::deflate::{DeflateConfig, DeflateParams};
use wsmachine::{Config, Connection, Established, Event, Role};

const SIZES: [usize; 5] = [128, 1 << 10, 16 << 10, 256 << 10, 1 << 20];
const LEVEL: u32 = 1; // DeflateConfig's default
const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Messages per iteration: about 1 MiB in all, at least 4, at most 512.
fn run_length(size: usize) -> usize {
    ((1 << 20) / size).clamp(4, 512)
}

/// `count` distinct JSON-like messages of exactly `size` bytes each, from a
/// fixed seed: a ticker feed with a short free-text note, about 3:1 at level 1.
fn messages(size: usize, count: usize) -> Vec<Vec<u8>> {
    const WORDS: [&str; 16] = [
        "price", "update", "market", "order", "filled", "partial", "cancel", "limit", "stop", "buy", "sell", "volume",
        "spread", "open", "close", "halt",
    ];
    const SYMBOLS: [&str; 8] = ["AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "TSLA", "META", "NFLX"];
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut seq = 0u64;
    (0..count)
        .map(|_| {
            let mut m = String::with_capacity(size + 200);
            m.push('[');
            while m.len() < size {
                seq += 1;
                let r = next();
                let note: Vec<&str> = (0..3 + r % 5).map(|i| WORDS[((r >> (8 + 4 * i)) % 16) as usize]).collect();
                m.push_str(&format!(
                    "{{\"seq\":{seq},\"sym\":\"{}\",\"bid\":{}.{:02},\"ask\":{}.{:02},\"qty\":{},\"note\":\"{}\"}},",
                    SYMBOLS[(r % 8) as usize],
                    100 + (r >> 20) % 900,
                    (r >> 30) % 100,
                    100 + (r >> 20) % 900,
                    (r >> 37) % 100,
                    (r >> 44) % 10_000,
                    note.join(" ")
                ));
            }
            m.truncate(size);
            m.into_bytes()
        })
        .collect()
}

fn params() -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    }
}

fn connection(role: Role) -> Connection {
    let mut config = Config::default();
    config.deflate = Some(DeflateConfig::default());
    Connection::established(std::time::Instant::now(), Established::new(role).deflate(params()), config)
        .expect("OS randomness")
}

/// The baseline's compressor: raw deflate, level 1, 15-bit window.
fn compressor() -> Compress {
    Compress::new_with_window_bits(Compression::new(LEVEL), false, 15)
}

/// Compresses one message as permessage-deflate does (sync flush, trailer
/// dropped), into `out` (cleared first).
fn baseline_compress(c: &mut Compress, message: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut pos = 0;
    loop {
        out.reserve(message.len() / 2 + 64);
        let before = c.total_in();
        c.compress_vec(&message[pos..], out, FlushCompress::Sync).expect("compress");
        pos += (c.total_in() - before) as usize;
        if pos == message.len() && out.len() < out.capacity() {
            break;
        }
    }
    assert!(out.ends_with(&TRAILER));
    out.truncate(out.len() - TRAILER.len());
}

/// Inflates one message's payload (trailer appended) into `out` (cleared first).
fn baseline_decompress(d: &mut Decompress, payload: &[u8], out: &mut Vec<u8>, size: usize) {
    out.clear();
    for input in [payload, &TRAILER[..]] {
        let mut pos = 0;
        loop {
            if out.len() == out.capacity() {
                out.reserve(size.max(1024));
            }
            let before = d.total_in();
            d.decompress_vec(&input[pos..], out, FlushDecompress::Sync).expect("inflate");
            pos += (d.total_in() - before) as usize;
            if pos == input.len() && out.len() < out.capacity() {
                break;
            }
        }
    }
}

/// A server frame header: FIN, RSV1 (compressed), binary, unmasked.
fn frame_header(len: usize, out: &mut Vec<u8>) {
    out.push(0xc2);
    if len < 126 {
        out.push(len as u8);
    } else if len <= 0xffff {
        out.push(126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

fn compress(c: &mut Criterion) {
    let mut group = c.benchmark_group("compress");
    for size in SIZES {
        let msgs = messages(size, run_length(size));
        group.throughput(Throughput::Bytes((size * msgs.len()) as u64));
        group.bench_with_input(BenchmarkId::new("wsmachine", size), &msgs, |b, msgs| {
            b.iter_batched_ref(
                || connection(Role::Server),
                |ws| {
                    for m in msgs {
                        ws.sender().send_binary(m).expect("open");
                        let n = ws.output_buffer().len();
                        black_box(ws.output_buffer());
                        ws.advance_output(n);
                    }
                },
                BatchSize::PerIteration,
            )
        });
        group.bench_with_input(BenchmarkId::new("flate2", size), &msgs, |b, msgs| {
            let mut out = Vec::new();
            b.iter(|| {
                let mut z = compressor();
                for m in msgs {
                    baseline_compress(&mut z, m, &mut out);
                    black_box(&out);
                }
            })
        });
    }
    group.finish();
}

fn decompress(c: &mut Criterion) {
    let mut group = c.benchmark_group("decompress");
    for size in SIZES {
        let msgs = messages(size, run_length(size));
        // The same compressed payloads for both: one context, in order.
        let mut z = compressor();
        let mut payload = Vec::new();
        let mut payloads = Vec::new();
        let mut wire = Vec::new();
        for m in &msgs {
            baseline_compress(&mut z, m, &mut payload);
            frame_header(payload.len(), &mut wire);
            wire.extend_from_slice(&payload);
            payloads.push(payload.clone());
        }
        let compressed: usize = payloads.iter().map(Vec::len).sum();
        eprintln!(
            "decompress/{size}: {} messages, ratio {:.2}",
            msgs.len(),
            (size * msgs.len()) as f64 / compressed as f64
        );
        group.throughput(Throughput::Bytes((size * msgs.len()) as u64));
        group.bench_with_input(BenchmarkId::new("wsmachine", size), &wire, |b, wire| {
            b.iter_batched_ref(
                || connection(Role::Client),
                |ws| {
                    let mut received = 0;
                    for read in wire.chunks(64 << 10) {
                        ws.receive(read);
                        while let Some(event) = ws.poll_event() {
                            match event {
                                Event::Binary(data) => {
                                    assert_eq!(data.len(), size);
                                    black_box(data);
                                    received += 1;
                                }
                                other => panic!("unexpected {other:?}"),
                            }
                        }
                    }
                    assert_eq!(received, msgs.len());
                },
                BatchSize::PerIteration,
            )
        });
        group.bench_with_input(BenchmarkId::new("flate2", size), &payloads, |b, payloads| {
            let mut out = Vec::new();
            b.iter(|| {
                let mut d = Decompress::new_with_window_bits(false, 15);
                for p in payloads {
                    baseline_decompress(&mut d, p, &mut out, size);
                    assert_eq!(out.len(), size);
                    black_box(&out);
                }
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = compress, decompress
}
criterion_main!(benches);
