//! `send_to` and `write_to`: sending straight to an `io::Write` transport.
//! Whatever the transport takes and whatever is queued after it must be,
//! in order, exactly the frames `send` would have queued (RFC 6455 §5.2,
//! §5.3 for a client's masking, §5.4 for order and fragmentation).

mod common;
use std::io::{self, IoSlice, Write};

use common::*;
use wsmachine::OpCode;
use wsmachine::{Config, Connection, MessageKind, SendError, SendToError};

/// A transport that takes at most `budget` bytes in all, then blocks (or
/// fails, or writes zero bytes, as `then` says); it can refuse vectored
/// writes (std's default writes only the first non-empty buffer) and
/// interrupt its first write.
struct Transport {
    got: Vec<u8>,
    budget: usize,
    then: io::ErrorKind,
    vectored: bool,
    interrupt_once: bool,
    writes: usize,
}

impl Transport {
    fn new(budget: usize) -> Self {
        Transport {
            got: Vec::new(),
            budget,
            then: io::ErrorKind::WouldBlock,
            vectored: true,
            interrupt_once: false,
            writes: 0,
        }
    }

    fn unlimited() -> Self {
        Transport::new(usize::MAX)
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writes += 1;
        if self.interrupt_once {
            self.interrupt_once = false;
            return Err(io::ErrorKind::Interrupted.into());
        }
        if self.budget == 0 && !buf.is_empty() {
            return match self.then {
                io::ErrorKind::WriteZero => Ok(0),
                kind => Err(kind.into()),
            };
        }
        let n = buf.len().min(self.budget);
        self.got.extend_from_slice(&buf[..n]);
        self.budget -= n;
        Ok(n)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if !self.vectored {
            let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| &b[..]);
            return self.write(first);
        }
        let mut total = 0;
        for b in bufs {
            if b.is_empty() {
                continue;
            }
            match self.write(b) {
                Ok(n) => {
                    total += n;
                    if n < b.len() {
                        break;
                    }
                }
                Err(e) if total == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(total)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What `send` queues for this message on an identical connection.
fn expected(config: Config, kind: MessageKind, payload: &[u8], before: Option<&[u8]>) -> Vec<Decoded> {
    let mut ws = open_server(config);
    if let Some(ping) = before {
        ws.sender().ping(ping).unwrap();
    }
    send(&mut ws, kind, payload).unwrap();
    decode_all(&take_output(&mut ws))
}

/// Everything that left or will leave `ws`: what the transport took, then the queue.
fn sent(ws: &mut Connection, transport: &Transport) -> Vec<u8> {
    let mut all = transport.got.clone();
    all.extend_from_slice(&take_output(ws));
    all
}

#[test]
fn server_writes_header_and_payload_without_queueing_them() {
    let payload: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    let mut ws = open_server(Config::default());
    let mut t = Transport::unlimited();
    let n = send_to(&mut ws, MessageKind::Binary, &payload, &mut t).unwrap();
    assert_eq!(n, t.got.len());
    assert_eq!(decode_all(&t.got), expected(Config::default(), MessageKind::Binary, &payload, None));
    assert_eq!(ws.output_buffer().len(), 0);
    // The payload never went through the output buffer (no copy).
    assert_eq!(ws.buffer_capacity(), 0);
    assert_eq!(t.writes, 2, "one vectored write of header and payload");
}

#[test]
fn rfc6455_5_2_a_transport_that_takes_part_gets_the_rest_queued() {
    let payload = vec![0x5a; 300]; // a 2 + 2 byte header
    let want = expected(Config::default(), MessageKind::Text, &payload, None);
    for budget in [0, 1, 3, 4, 5, 150, 303, 304, 305] {
        for vectored in [true, false] {
            let mut ws = open_server(Config::default());
            let mut t = Transport::new(budget);
            t.vectored = vectored;
            let n = send_to(&mut ws, MessageKind::Text, &payload, &mut t).unwrap();
            assert_eq!(n, budget.min(304), "budget {budget}");
            assert_eq!(ws.output_buffer().len(), 304 - n, "budget {budget}");
            assert_eq!(decode_all(&sent(&mut ws, &t)), want, "budget {budget} vectored {vectored}");
        }
    }
}

#[test]
fn rfc6455_5_4_queued_output_goes_first() {
    let payload = vec![1u8; 5000];
    let mut ws = open_server(Config::default());
    ws.sender().ping(b"first").unwrap();
    let mut t = Transport::new(3);
    send_to(&mut ws, MessageKind::Binary, &payload, &mut t).unwrap();
    let want = expected(Config::default(), MessageKind::Binary, &payload, Some(b"first"));
    assert_eq!(want[0].opcode, OpCode::Ping);
    assert_eq!(decode_all(&sent(&mut ws, &t)), want);
}

#[test]
fn rfc6455_5_3_client_frames_are_masked_and_written() {
    let payload = b"masked by the client".to_vec();
    let mut ws = open_client(Config::default());
    let mut t = Transport::unlimited();
    let n = send_to(&mut ws, MessageKind::Binary, &payload, &mut t).unwrap();
    assert_eq!(n, t.got.len());
    assert_eq!(ws.output_buffer().len(), 0);
    let frames = decode_all(&t.got);
    assert_eq!(frames.len(), 1);
    assert!(frames[0].mask.is_some());
    assert_eq!(frames[0].payload, payload);
}

#[test]
fn rfc6455_5_4_fragmented_messages_take_the_queue() {
    let payload = vec![b'a'; 10_000];
    let mut fragmenting = Config::default();
    fragmenting.fragment_size = Some(4096);
    let mut ws = open_server(fragmenting.clone());
    let mut t = Transport::new(5000);
    send_to(&mut ws, MessageKind::Text, &payload, &mut t).unwrap();
    let frames = decode_all(&sent(&mut ws, &t));
    assert_eq!(frames, expected(fragmenting, MessageKind::Text, &payload, None));
    assert_eq!(frames.len(), 3);
}

/// permessage-deflate (RFC 7692 §6): a compressed message is compressed
/// into the queue, then written.
#[cfg(feature = "deflate")]
#[test]
fn rfc7692_6_compressed_messages_take_the_queue() {
    let payload = vec![b'a'; 10_000];
    let mut config = Config::default();
    config.deflate = Some(Default::default());
    let (mut client, mut server) = pair_with(config.clone(), config);
    let mut t = Transport::unlimited();
    send_to(&mut server, MessageKind::Text, &payload, &mut t).unwrap();
    assert!(t.got.len() < payload.len() / 10, "compressed: {} bytes", t.got.len());
    assert_eq!(server.output_buffer().len(), 0);
    client.receive(&t.got);
    assert_eq!(events(&mut client), vec![Ev::Text(String::from_utf8(payload).unwrap())]);
}

#[test]
fn a_failing_transport_loses_nothing() {
    let payload = vec![9u8; 2000];
    let mut ws = open_server(Config::default());
    let mut t = Transport::new(10);
    t.then = io::ErrorKind::BrokenPipe;
    match send_to(&mut ws, MessageKind::Binary, &payload, &mut t) {
        Err(SendToError::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::BrokenPipe),
        other => panic!("{other:?}"),
    }
    assert_eq!(decode_all(&sent(&mut ws, &t)), expected(Config::default(), MessageKind::Binary, &payload, None));
}

#[test]
fn interrupted_writes_are_retried_and_zero_length_writes_are_write_zero_errors() {
    let payload = vec![3u8; 700];
    let mut ws = open_server(Config::default());
    let mut t = Transport::unlimited();
    t.interrupt_once = true;
    assert_eq!(send_to(&mut ws, MessageKind::Binary, &payload, &mut t).unwrap(), 704);

    let mut t = Transport::new(100);
    t.then = io::ErrorKind::WriteZero; // `Ok(0)` from here on
    match send_to(&mut ws, MessageKind::Binary, &payload, &mut t) {
        Err(SendToError::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::WriteZero),
        other => panic!("{other:?}"),
    }
    assert_eq!(ws.output_buffer().len(), 604, "what the transport did not take is queued");
    assert_eq!(ws.write_to(&mut t).unwrap_err().kind(), io::ErrorKind::WriteZero, "the same from write_to");
}

#[test]
fn messages_that_cannot_be_sent_are_refused_before_writing() {
    let mut t = Transport::unlimited();
    let mut ws = open_server(Config::default());
    ws.sender().begin_message(MessageKind::Binary).unwrap();
    assert!(matches!(
        send_to(&mut ws, MessageKind::Binary, b"x", &mut t),
        Err(SendToError::Send(SendError::MessageInProgress))
    ));
    let mut connecting = Connection::server(t0(), Config::default());
    assert!(matches!(
        send_to(&mut connecting, MessageKind::Binary, b"x", &mut t),
        Err(SendToError::Send(SendError::NotOpen))
    ));
    assert!(t.got.is_empty());
}

#[test]
fn write_to_writes_the_queue_until_the_transport_blocks() {
    let mut ws = open_server(Config::default());
    ws.sender().send_binary(&[1; 1000]).unwrap();
    let mut t = Transport::new(600);
    assert_eq!(ws.write_to(&mut t).unwrap(), 600);
    assert_eq!(ws.output_buffer().len(), 404);
    t.budget = usize::MAX;
    assert_eq!(ws.write_to(&mut t).unwrap(), 404);
    assert_eq!(ws.output_buffer().len(), 0);
    assert_eq!(decode_all(&t.got).len(), 1);
}

#[test]
fn send_text_to_takes_a_str() {
    let text = "안녕 🙂 ".repeat(1000);
    let mut ws = open_server(Config::default());
    let mut t = Transport::new(1000);
    ws.sender().send_text_to(&text, &mut t).unwrap();
    assert_eq!(decode_all(&sent(&mut ws, &t)), expected(Config::default(), MessageKind::Text, text.as_bytes(), None));
}
