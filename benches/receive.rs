//! The receive path: a stream of frames in, one message event out per frame,
//! for wsmachine, the peer crates and a minimal loop, in the same run.
//!
//! ```text
//! cargo bench --manifest-path benches/Cargo.toml --bench receive
//! ```
//!
//! Ids are `<role>-<kind>/<receiver>/<size>`: `server-*` reads masked client
//! frames, `client-*` unmasked server frames; `*-text` messages are UTF-8
//! checked by every receiver. Each iteration receives a run of identical
//! single-frame messages (about 1 MiB, 4 to 4096 messages) from an in-memory
//! transport that hands out at most 64 KiB per read (`wire.rs`), and looks
//! at every payload.
//!
//! - `wsmachine`: `Connection::receive` of each 64 KiB read, then
//!   `poll_event` until `None` (events borrow the receive buffer).
//! - `wsmachine-read_from`: `Connection::read_from` the same in-memory
//!   transport as the peers (it reads straight into the receive buffer, in
//!   reads of 4 KiB growing to 64 KiB), then `poll_event` until `None`.
//! - `wsmachine-read_from-8k`: the same with `Config::max_read_size` at
//!   8 KiB.
//! - `tungstenite`: `WebSocket::read` (0.30, blocking `Read`).
//! - `fastwebsockets`: `WebSocket::read_frame` (0.10, its fastest path, which
//!   checks UTF-8 of whole text frames with simdutf8).
//! - `tokio-websockets`: `StreamExt::next` (0.13).
//! - `baseline`: copy the run into a buffer once, then parse each header,
//!   unmask in place ([`wsmachine::__internals::apply_mask`]) and, for text, check
//!   UTF-8 with simdutf8: no limits, no state machine, no events.
//!
//! The async peers run on a current-thread tokio runtime, one `block_on`
//! per iteration. Throughput is in messages.

#[path = "wire.rs"]
mod wire;

use std::hint::black_box;
use std::rc::Rc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt;
use wire::{Kind, READ_SIZE, SIZES, Wire, encode_run, run_length, runtime};
use wsmachine::__internals::apply_mask;
use wsmachine::{Config, Connection, Established, Event, Role};

/// The minimal loop: headers, unmask in place, UTF-8 for text. Returns the
/// number of messages.
fn baseline(buf: &mut [u8], text: bool) -> usize {
    let mut pos = 0;
    let mut count = 0;
    while pos + 2 <= buf.len() {
        let b1 = buf[pos + 1];
        let mut len = (b1 & 0x7f) as usize;
        let mut head = 2;
        if len == 126 {
            len = u16::from_be_bytes([buf[pos + 2], buf[pos + 3]]) as usize;
            head = 4;
        } else if len == 127 {
            len = u64::from_be_bytes(buf[pos + 2..pos + 10].try_into().unwrap()) as usize;
            head = 10;
        }
        let key = if b1 & 0x80 != 0 {
            let k: [u8; 4] = buf[pos + head..pos + head + 4].try_into().unwrap();
            head += 4;
            Some(k)
        } else {
            None
        };
        let payload = &mut buf[pos + head..pos + head + len];
        if let Some(k) = key {
            apply_mask(payload, k, 0);
        }
        if text {
            assert!(simdutf8::basic::from_utf8(payload).is_ok());
        }
        black_box(&*payload);
        pos += head + len;
        count += 1;
    }
    count
}

/// Polls every event, looks at each payload, and returns how many messages came.
#[inline(always)]
fn poll_all(ws: &mut Connection) -> usize {
    let mut got = 0;
    while let Some(event) = ws.poll_event() {
        match event {
            Event::Binary(data) => black_box(data.len()),
            Event::Text(text) => black_box(text.len()),
            other => panic!("unexpected {other:?}"),
        };
        got += 1;
    }
    got
}

fn receive(c: &mut Criterion) {
    let rt = runtime();
    for role in [Role::Server, Role::Client] {
        let masked = role == Role::Server;
        let role_name = if masked { "server" } else { "client" };
        for kind in Kind::ALL {
            let mut group = c.benchmark_group(format!("receive/{role_name}-{}", kind.name()));
            for size in SIZES {
                let n = run_length(size);
                let wire = Rc::new(encode_run(kind, size, n, masked));
                group.throughput(Throughput::Elements(n as u64));

                let mut ws =
                    Connection::established(std::time::Instant::now(), Established::new(role), Config::default())
                        .expect("OS randomness");
                group.bench_function(BenchmarkId::new("wsmachine", size), |b| {
                    b.iter(|| {
                        let mut got = 0;
                        for read in wire.chunks(READ_SIZE) {
                            ws.receive(read);
                            got += poll_all(&mut ws);
                        }
                        assert_eq!(got, n);
                    })
                });

                // The same, with the transport reading straight into the
                // receive buffer (`read_from`): the same Wire as the peers;
                // then with reads of at most 8 KiB (`Config::max_read_size`),
                // which keep the receive buffer in L1: faster on this
                // transport, slower on a socket (README, "Performance").
                let mut small = Config::default();
                small.max_read_size = 8 << 10;
                for (name, config) in [("wsmachine-read_from", Config::default()), ("wsmachine-read_from-8k", small)] {
                    let mut ws = Connection::established(std::time::Instant::now(), Established::new(role), config)
                        .expect("OS randomness");
                    let mut from_wire = Wire::new(wire.clone());
                    group.bench_function(BenchmarkId::new(name, size), |b| {
                        b.iter(|| {
                            let mut got = 0;
                            while got < n {
                                ws.read_from(&mut from_wire).expect("in-memory read");
                                got += poll_all(&mut ws);
                            }
                            assert_eq!(got, n);
                        })
                    });
                }

                let tg_role =
                    if masked { tungstenite::protocol::Role::Server } else { tungstenite::protocol::Role::Client };
                let mut tg = tungstenite::WebSocket::from_raw_socket(Wire::new(wire.clone()), tg_role, None);
                group.bench_function(BenchmarkId::new("tungstenite", size), |b| {
                    b.iter(|| {
                        for _ in 0..n {
                            match tg.read().expect("tungstenite read") {
                                tungstenite::Message::Binary(data) => black_box(data.len()),
                                tungstenite::Message::Text(text) => black_box(text.len()),
                                other => panic!("unexpected {other:?}"),
                            };
                        }
                    })
                });

                let fw_role = if masked { fastwebsockets::Role::Server } else { fastwebsockets::Role::Client };
                let mut fw = fastwebsockets::WebSocket::after_handshake(Wire::new(wire.clone()), fw_role);
                group.bench_function(BenchmarkId::new("fastwebsockets", size), |b| {
                    b.iter(|| {
                        rt.block_on(async {
                            for _ in 0..n {
                                let frame = fw.read_frame().await.expect("fastwebsockets read");
                                assert!(frame.fin);
                                black_box(frame.payload.len());
                            }
                        })
                    })
                });

                let wire_tw = Wire::new(wire.clone());
                let mut tw = if masked {
                    tokio_websockets::ServerBuilder::new().serve(wire_tw)
                } else {
                    tokio_websockets::ClientBuilder::new().take_over(wire_tw)
                };
                group.bench_function(BenchmarkId::new("tokio-websockets", size), |b| {
                    b.iter(|| {
                        rt.block_on(async {
                            for _ in 0..n {
                                let message = tw.next().await.expect("open").expect("tokio-websockets read");
                                black_box(message.as_payload().len());
                            }
                        })
                    })
                });

                let mut buf = vec![0u8; wire.len()];
                group.bench_function(BenchmarkId::new("baseline", size), |b| {
                    b.iter(|| {
                        buf.copy_from_slice(&wire);
                        assert_eq!(baseline(&mut buf, kind == Kind::Text), n);
                    })
                });
            }
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(1));
    targets = receive
}
criterion_main!(benches);
