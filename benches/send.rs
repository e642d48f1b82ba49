//! The send path: messages in, frames out, for wsmachine, the peer crates
//! and a minimal encoder, in the same run.
//!
//! ```text
//! cargo bench --manifest-path benches/Cargo.toml --bench send
//! ```
//!
//! `send/<role>-<kind>/<sender>/<size>`: a run of identical single-frame
//! messages (about 1 MiB, 4 to 4096 messages) is encoded; `server-*` frames
//! are unmasked, `client-*` frames masked with a fresh random key each. The
//! bytes go to an in-memory transport that copies them into a ring buffer,
//! as a kernel copies a socket write (`wire.rs`).
//!
//! - `wsmachine`: `send_binary`/`send_text` into the output buffer, which is
//!   written to the same kind of sink and advanced whenever 128 KiB are pending and at
//!   the end of the run (an adapter writes once per wakeup).
//! - `tungstenite`: `WebSocket::write` of a `Message` whose payload is a
//!   shared `Bytes` (no copy to build it), `flush` at the end.
//! - `fastwebsockets`: `write_frame` of a frame borrowing the payload (it
//!   writes header and payload with one vectored write per frame).
//! - `tokio-websockets`: `SinkExt::feed` of a `Message` over shared `Bytes`,
//!   `flush` at the end.
//! - `wsmachine-send_to`: `send_binary_to` (`send_text_to` for text, a `&str`:
//!   no UTF-8 check, as `send_text`) the transport, once per message: a
//!   server writes the header and the borrowed payload in one vectored write
//!   (the transport's copy is the only one); a client masks into its output
//!   buffer and writes it.
//! - `baseline`: header and payload copied into a `Vec` (masked for a
//!   client, with [`wsmachine::__internals::apply_mask`] and a key from a counter),
//!   drained like wsmachine's: the least an encoder with an output buffer does.
//! - `baseline-direct` (server only): the header from the stack and the
//!   payload written straight to the transport: the least any sender does.
//!
//! `send/broadcast/<sender>/<size>` sends one message to 1,000 server
//! connections: wsmachine encodes a `PreparedMessage` once and copies it to
//! each; the peers send the same (shared) message on each connection; the
//! baseline copies one pre-encoded frame into 1,000 buffers, each then
//! written to the sink.
//!
//! Throughput is in messages.

#[path = "wire.rs"]
mod wire;

use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::SinkExt;
use wire::{Kind, SIZES, Sink, Wire, encode_frame, encode_header, payload, run_length, runtime};
use wsmachine::__internals::apply_mask;
use wsmachine::{Config, Connection, Established, PreparedMessage, Role};

/// wsmachine's output is written out once this much is pending.
const DRAIN_AT: usize = 128 << 10;

fn drain(ws: &mut Connection, sink: &mut Sink) {
    let n = sink.write(ws.output_buffer());
    ws.advance_output(n);
}

/// The minimal encoder: one frame into `out`.
fn baseline_frame(kind: Kind, payload: &[u8], key: Option<[u8; 4]>, out: &mut Vec<u8>) {
    encode_header(kind, payload.len(), key.is_some(), out);
    let start = out.len();
    match key {
        Some(k) => {
            out.extend_from_slice(&k);
            out.extend_from_slice(payload);
            apply_mask(&mut out[start + 4..], k, 0);
        }
        None => out.extend_from_slice(payload),
    }
}

/// After a benchmark: it wrote what it sent. Not checked when a filter on
/// the command line may have skipped it.
fn check_written(written: bool) {
    let filtered = std::env::args().skip(1).any(|a| !a.starts_with('-'));
    assert!(written || filtered, "a sender wrote nothing");
}

/// An unmasked frame header on the stack, for `baseline-direct`.
fn server_header(kind: Kind, len: usize) -> ([u8; 10], usize) {
    let mut head = [0u8; 10];
    head[0] = match kind {
        Kind::Text => 0x81,
        Kind::Binary => 0x82,
    };
    if len < 126 {
        head[1] = len as u8;
        (head, 2)
    } else if len <= 0xffff {
        head[1] = 126;
        head[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        (head, 4)
    } else {
        head[1] = 127;
        head[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        (head, 10)
    }
}

fn send(c: &mut Criterion) {
    let rt = runtime();
    let empty = Rc::new(vec![0u8; 1]);
    for role in [Role::Server, Role::Client] {
        let masked = role == Role::Client;
        let role_name = if masked { "client" } else { "server" };
        for kind in Kind::ALL {
            let mut group = c.benchmark_group(format!("send/{role_name}-{}", kind.name()));
            for size in SIZES {
                let n = run_length(size);
                let data = payload(kind, size);
                let text = std::str::from_utf8(&data).unwrap_or("");
                group.throughput(Throughput::Elements(n as u64));

                let mut ws =
                    Connection::established(std::time::Instant::now(), Established::new(role), Config::default())
                        .expect("OS randomness");
                let mut sink = Sink::default();
                group.bench_function(BenchmarkId::new("wsmachine", size), |b| {
                    b.iter(|| {
                        for _ in 0..n {
                            match kind {
                                Kind::Binary => ws.sender().send_binary(&data).expect("open"),
                                Kind::Text => ws.sender().send_text(text).expect("open"),
                            }
                            if ws.output_buffer().len() >= DRAIN_AT {
                                drain(&mut ws, &mut sink);
                            }
                        }
                        drain(&mut ws, &mut sink);
                    })
                });
                check_written(sink.written > 0);

                // The same messages with `send_binary_to` the transport, one call per
                // message: a server writes header and borrowed payload with one
                // vectored write (one copy, the transport's); a client masks
                // into its output buffer and writes that.
                let mut ws =
                    Connection::established(std::time::Instant::now(), Established::new(role), Config::default())
                        .expect("OS randomness");
                let mut wire = Wire::new(empty.clone());
                group.bench_function(BenchmarkId::new("wsmachine-send_to", size), |b| {
                    b.iter(|| {
                        for _ in 0..n {
                            match kind {
                                Kind::Binary => ws.sender().send_binary_to(&data, &mut wire),
                                Kind::Text => ws.sender().send_text_to(text, &mut wire),
                            }
                            .expect("open");
                        }
                    })
                });
                check_written(wire.sink.written > 0 && ws.output_buffer().is_empty());

                let shared = Bytes::from(data.clone());
                let tg_role =
                    if masked { tungstenite::protocol::Role::Client } else { tungstenite::protocol::Role::Server };
                let mut tg = tungstenite::WebSocket::from_raw_socket(Wire::new(empty.clone()), tg_role, None);
                let tg_text = tungstenite::Utf8Bytes::try_from(shared.clone()).ok();
                group.bench_function(BenchmarkId::new("tungstenite", size), |b| {
                    b.iter(|| {
                        for _ in 0..n {
                            let m = match kind {
                                Kind::Binary => tungstenite::Message::Binary(shared.clone()),
                                Kind::Text => tungstenite::Message::Text(tg_text.clone().expect("text")),
                            };
                            tg.write(m).expect("tungstenite write");
                        }
                        tg.flush().expect("tungstenite flush");
                    })
                });
                check_written(tg.get_ref().sink.written > 0);

                let fw_role = if masked { fastwebsockets::Role::Client } else { fastwebsockets::Role::Server };
                let mut fw = fastwebsockets::WebSocket::after_handshake(Wire::new(empty.clone()), fw_role);
                // A client's frames are masked in place: a scratch copy to lend.
                let mut scratch = data.clone();
                group.bench_function(BenchmarkId::new("fastwebsockets", size), |b| {
                    b.iter(|| {
                        rt.block_on(async {
                            for _ in 0..n {
                                let payload = if masked {
                                    fastwebsockets::Payload::BorrowedMut(&mut scratch)
                                } else {
                                    fastwebsockets::Payload::Borrowed(&data)
                                };
                                let frame = match kind {
                                    Kind::Binary => fastwebsockets::Frame::binary(payload),
                                    Kind::Text => fastwebsockets::Frame::text(payload),
                                };
                                fw.write_frame(frame).await.expect("fastwebsockets write");
                            }
                            fw.flush().await.expect("fastwebsockets flush");
                        })
                    })
                });

                let wire_tw = Wire::new(empty.clone());
                let mut tw = if masked {
                    tokio_websockets::ClientBuilder::new().take_over(wire_tw)
                } else {
                    tokio_websockets::ServerBuilder::new().serve(wire_tw)
                };
                group.bench_function(BenchmarkId::new("tokio-websockets", size), |b| {
                    b.iter(|| {
                        rt.block_on(async {
                            for _ in 0..n {
                                let m = match kind {
                                    Kind::Binary => tokio_websockets::Message::binary(shared.clone()),
                                    Kind::Text => tokio_websockets::Message::text(shared.clone()),
                                };
                                tw.feed(m).await.expect("tokio-websockets feed");
                            }
                            tw.flush().await.expect("tokio-websockets flush");
                        })
                    })
                });
                check_written(tw.get_ref().sink.written > 0);

                let mut out = Vec::new();
                let mut counter = 0u32;
                let mut sink = Sink::default();
                group.bench_function(BenchmarkId::new("baseline", size), |b| {
                    b.iter(|| {
                        for _ in 0..n {
                            counter = counter.wrapping_add(0x9e37_79b9);
                            let key = masked.then(|| counter.to_ne_bytes());
                            baseline_frame(kind, &data, key, &mut out);
                            if out.len() >= DRAIN_AT {
                                sink.write(&out);
                                out.clear();
                            }
                        }
                        sink.write(&out);
                        out.clear();
                    })
                });
                check_written(sink.written > 0);

                // The least a sender that writes borrowed payloads does: the
                // header from the stack, then the payload, straight into the
                // transport (a server's frames only: a client must mask a copy).
                if !masked {
                    let mut sink = Sink::default();
                    group.bench_function(BenchmarkId::new("baseline-direct", size), |b| {
                        b.iter(|| {
                            for _ in 0..n {
                                let (head, len) = server_header(kind, data.len());
                                sink.write(&head[..len]);
                                sink.write(&data);
                            }
                        })
                    });
                    check_written(sink.written > 0);
                }
            }
            group.finish();
        }
    }
}

/// One message to 1,000 server connections.
fn broadcast(c: &mut Criterion) {
    const CONNECTIONS: usize = 1000;
    let rt = runtime();
    let empty = Rc::new(vec![0u8; 1]);
    let mut group = c.benchmark_group("send/broadcast");
    group.throughput(Throughput::Elements(CONNECTIONS as u64));
    for size in [125, 16 << 10] {
        let data = payload(Kind::Binary, size);
        let shared = Bytes::from(data.clone());

        let mut sink = Sink::default();
        let mut conns: Vec<Connection> = (0..CONNECTIONS)
            .map(|_| {
                Connection::established(std::time::Instant::now(), Established::new(Role::Server), Config::default())
                    .expect("OS randomness")
            })
            .collect();
        group.bench_function(BenchmarkId::new("wsmachine", size), |b| {
            b.iter(|| {
                let prepared = PreparedMessage::binary(&data);
                for ws in &mut conns {
                    ws.sender().send_prepared(&prepared).expect("open");
                    drain(ws, &mut sink);
                }
            })
        });

        let mut tgs: Vec<_> = (0..CONNECTIONS)
            .map(|_| {
                tungstenite::WebSocket::from_raw_socket(
                    Wire::new(empty.clone()),
                    tungstenite::protocol::Role::Server,
                    None,
                )
            })
            .collect();
        group.bench_function(BenchmarkId::new("tungstenite", size), |b| {
            b.iter(|| {
                let m = tungstenite::Message::Binary(shared.clone());
                for tg in &mut tgs {
                    tg.send(m.clone()).expect("tungstenite send");
                }
            })
        });

        let mut fws: Vec<_> = (0..CONNECTIONS)
            .map(|_| fastwebsockets::WebSocket::after_handshake(Wire::new(empty.clone()), fastwebsockets::Role::Server))
            .collect();
        group.bench_function(BenchmarkId::new("fastwebsockets", size), |b| {
            b.iter(|| {
                rt.block_on(async {
                    for fw in &mut fws {
                        let frame = fastwebsockets::Frame::binary(fastwebsockets::Payload::Borrowed(&data));
                        fw.write_frame(frame).await.expect("fastwebsockets write");
                    }
                })
            })
        });

        let mut tws: Vec<_> =
            (0..CONNECTIONS).map(|_| tokio_websockets::ServerBuilder::new().serve(Wire::new(empty.clone()))).collect();
        group.bench_function(BenchmarkId::new("tokio-websockets", size), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let m = tokio_websockets::Message::binary(shared.clone());
                    for tw in &mut tws {
                        tw.send(m.clone()).await.expect("tokio-websockets send");
                    }
                })
            })
        });

        let mut frame = Vec::new();
        encode_frame(Kind::Binary, &data, false, &mut frame);
        let mut outs: Vec<Vec<u8>> = vec![Vec::new(); CONNECTIONS];
        group.bench_function(BenchmarkId::new("baseline", size), |b| {
            b.iter(|| {
                for out in &mut outs {
                    out.extend_from_slice(&frame);
                    sink.write(out);
                    out.clear();
                }
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(1));
    targets = send, broadcast
}
criterion_main!(benches);
