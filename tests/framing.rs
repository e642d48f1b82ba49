//! RFC 6455 §5: data framing, as received and as sent.

mod common;
use common::*;
use wsmachine::{Config, Established, MessageKind, OpCode, PreparedMessage, ProtocolError, Role, SendError, State};

fn feed_server(bytes: &[u8]) -> (Vec<Ev>, Vec<Decoded>) {
    feed(open_server(Config::default()), bytes)
}

fn feed(mut conn: wsmachine::Connection, bytes: &[u8]) -> (Vec<Ev>, Vec<Decoded>) {
    conn.receive(bytes);
    let evs = events(&mut conn);
    (evs, decode_all(&take_output(&mut conn)))
}

/// The connection failed with `error`, sent a Close with its code, and closed.
fn assert_fails(evs: &[Ev], out: &[Decoded], error: ProtocolError) {
    assert_eq!(evs.last(), Some(&failed(error)), "{evs:?}");
    let close = out.last().expect("a close frame");
    assert_eq!(close_payload(close).0, error.close_code().0);
}

#[test]
fn rfc6455_5_1_server_rejects_unmasked_frames() {
    let (evs, out) = feed_server(&server_frame(0x81, b"hi"));
    assert_fails(&evs, &out, ProtocolError::UnmaskedFrame);
}

#[test]
fn rfc6455_5_1_client_rejects_masked_frames() {
    let (evs, out) = feed(open_client(Config::default()), &client_frame(0x81, b"hi"));
    assert_fails(&evs, &out, ProtocolError::MaskedFrame);
    assert!(out.last().unwrap().mask.is_some(), "the client's close is masked");
}

#[test]
fn rfc6455_5_2_rsv_bits_without_extension_fail() {
    for rsv in [0x40, 0x20, 0x10, 0x70] {
        let (evs, out) = feed_server(&client_frame(0x81 | rsv, b"hi"));
        assert_fails(&evs, &out, ProtocolError::ReservedBits(rsv >> 4));
    }
}

#[test]
fn rfc6455_5_2_reserved_opcodes_fail() {
    for op in [3u8, 7, 0xb, 0xf] {
        let (evs, out) = feed_server(&client_frame(0x80 | op, b""));
        assert_fails(&evs, &out, ProtocolError::ReservedOpcode(op));
    }
}

#[test]
fn rfc6455_5_2_length_msb_fails() {
    let mut bytes = vec![0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1];
    bytes.extend_from_slice(&KEY);
    let (evs, out) = feed_server(&bytes);
    assert_fails(&evs, &out, ProtocolError::InvalidLength);
}

/// §5.2 with the size limits off (`usize::MAX`): a length with its most
/// significant bit set still fails with 1002, and the largest legal length
/// (2^63 - 1) is a frame that never completes, not an overflow.
#[test]
fn rfc6455_5_2_huge_lengths_without_limits() {
    // Both a server after its handshake and one made OPEN (whose first
    // frame takes the fast path of `poll_event`).
    let mut config = Config::default();
    config.max_frame_size = usize::MAX;
    config.max_message_size = usize::MAX;
    for established in [false, true] {
        let unlimited = || match established {
            true => wsmachine::Connection::established(t0(), Established::new(Role::Server), config.clone()).unwrap(),
            false => open_server(config.clone()),
        };
        let mut bytes = vec![0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        bytes.extend_from_slice(&KEY);
        bytes.extend_from_slice(&[1; 32]);
        let (evs, out) = feed(unlimited(), &bytes);
        assert_fails(&evs, &out, ProtocolError::InvalidLength);

        let mut bytes = vec![0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        bytes.extend_from_slice(&KEY);
        bytes.extend_from_slice(&[1; 32]);
        let (evs, out) = feed(unlimited(), &bytes);
        assert!(evs.is_empty(), "{evs:?}");
        assert!(out.is_empty());
    }
}

#[test]
fn rfc6455_5_2_non_minimal_lengths_accepted() {
    let mut bytes = vec![0x81, 0x80 | 126, 0, 2];
    bytes.extend_from_slice(&KEY);
    bytes.extend_from_slice(&[b'o' ^ KEY[0], b'k' ^ KEY[1]]);
    let (evs, _) = feed_server(&bytes);
    assert_eq!(evs, [Ev::Text("ok".into())]);
}

#[test]
fn rfc6455_5_5_control_frames_must_not_be_fragmented() {
    let (evs, out) = feed_server(&client_frame(0x09, b"ping"));
    assert_fails(&evs, &out, ProtocolError::FragmentedControl(OpCode::Ping));
}

#[test]
fn rfc6455_5_5_control_frames_at_most_125_bytes() {
    let (evs, _) = feed_server(&client_frame(0x89, &[7; 125]));
    assert_eq!(evs, [Ev::Ping(vec![7; 125])]);
    let (evs, out) = feed_server(&client_frame(0x89, &[7; 126]));
    assert_fails(&evs, &out, ProtocolError::ControlTooLong { opcode: OpCode::Ping, len: 126 });
}

#[test]
fn rfc6455_5_4_continuation_without_message_fails() {
    let (evs, out) = feed_server(&client_frame(0x80, b"x"));
    assert_fails(&evs, &out, ProtocolError::UnexpectedContinuation);
}

#[test]
fn rfc6455_5_4_new_message_inside_fragmented_message_fails() {
    let mut bytes = client_frame(0x01, b"part");
    bytes.extend(client_frame(0x82, b"new"));
    let (evs, out) = feed_server(&bytes);
    assert_fails(&evs, &out, ProtocolError::ExpectedContinuation(OpCode::Binary));
}

/// §5.4: fragments reassemble in order, control frames may come in between.
#[test]
fn rfc6455_5_4_fragmented_message_with_interleaved_control_frames() {
    let mut bytes = client_frame(0x01, "Hel".as_bytes());
    bytes.extend(client_frame(0x89, b"p1"));
    bytes.extend(client_frame(0x00, b""));
    bytes.extend(client_frame(0x00, "lo, κόσ".as_bytes()));
    bytes.extend(client_frame(0x8a, b"p2"));
    bytes.extend(client_frame(0x80, "με".as_bytes()));
    bytes.extend(client_frame(0x82, &[1, 2, 3]));
    let (evs, out) = feed_server(&bytes);
    assert_eq!(
        evs,
        [
            Ev::Ping(b"p1".to_vec()),
            Ev::Pong(b"p2".to_vec()),
            Ev::Text("Hello, κόσμε".into()),
            Ev::Binary(vec![1, 2, 3])
        ]
    );
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].opcode, out[0].payload.as_slice()), (OpCode::Pong, &b"p1"[..]));
}

/// §5.6 / §8.1: invalid UTF-8 fails with 1007 at the first bad byte, before
/// the rest of the frame has arrived.
#[test]
fn rfc6455_8_1_invalid_utf8_fails_fast_mid_frame() {
    let mut payload = "κόσμε".as_bytes().to_vec();
    payload.extend_from_slice(b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80");
    payload.extend_from_slice(b"edited");
    let frame = client_frame(0x81, &payload);
    let f4 = payload.iter().position(|&b| b == 0xf4).unwrap();
    let bad_at = frame.len() - payload.len() + f4 + 2; // through 0xf4 0x90
    let mut server = open_server(Config::default());
    server.receive(&frame[..bad_at - 1]);
    assert!(events(&mut server).is_empty(), "still valid so far");
    server.receive(&frame[bad_at - 1..bad_at]);
    let evs = events(&mut server);
    assert_eq!(evs, [failed(ProtocolError::InvalidUtf8 { valid_up_to: f4 as u64 })]);
    assert_eq!(close_payload(&decode_all(&take_output(&mut server))[0]).0, 1007);
}

/// §5.6 / §8.1: a single text frame that arrives over several reads (and
/// so is gathered as checked text, not delivered in place) gives the same
/// event wherever the reads cut it, in a code point or in the masking
/// key's phase; invalid text fails with the same offset wherever it is cut.
#[test]
fn rfc6455_8_1_text_frame_cut_anywhere() {
    let text = "κόσμε 🙂 café ☕ 안녕".repeat(3);
    let frame = client_frame(0x81, text.as_bytes());
    let bad = [&text.as_bytes()[..8], b"\xed\xa0\x80 surrogate"].concat();
    let bad_frame = client_frame(0x81, &bad);
    for (cut_a, cut_b) in (0..frame.len()).flat_map(|a| [(a, a), (a, (a + 5).min(frame.len()))]) {
        let mut server = open_server(Config::default());
        let mut evs = Vec::new();
        for piece in [&frame[..cut_a], &frame[cut_a..cut_b], &frame[cut_b..]] {
            server.receive(piece);
            evs.extend(events(&mut server));
        }
        assert_eq!(evs, [Ev::Text(text.clone())], "cut at {cut_a}, {cut_b}");
    }
    for cut in 0..bad_frame.len() {
        let mut server = open_server(Config::default());
        server.receive(&bad_frame[..cut]);
        let mut evs = events(&mut server);
        server.receive(&bad_frame[cut..]);
        evs.extend(events(&mut server));
        assert_eq!(evs, [failed(ProtocolError::InvalidUtf8 { valid_up_to: 8 })], "cut at {cut}");
    }
}

/// RFC 6455 §5.3: a masked frame that spans reads is unmasked as the later
/// reads are copied in (the bytes already buffered were unmasked when
/// polled). Cut anywhere, polled after each piece or not, the middle piece
/// copied in by `receive` or read into `input_buffer` (raw: the copy of the
/// piece after it cannot unmask ahead, and the parse does), the payload
/// comes out the same;
/// so do the frames behind it, and a key phase past every offset 0-3.
#[test]
fn rfc6455_5_3_masked_frame_across_reads_polled_or_not() {
    let payload: Vec<u8> = (0..3000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let wire =
        [client_frame(0x82, &payload), client_frame(0x82, b"next"), client_frame(0x81, "κόσμε".as_bytes())].concat();
    let expected = [Ev::Binary(payload.clone()), Ev::Binary(b"next".to_vec()), Ev::Text("κόσμε".into())];
    for cut_a in (0..wire.len()).step_by(37).chain([1, 2, 5, 6, 7, 8, 9, 10, 3001, 3002, 3003]) {
        for (gap, poll_first, poll_between, read_into_buffer) in [
            (1, true, true, false),
            (2, true, false, false),
            (3, true, true, true),
            (5, false, false, false),
            (6, false, true, false),
            (700, true, false, true),
            (701, false, false, true),
            (2999, true, true, false),
        ] {
            let cut_b = (cut_a + gap).min(wire.len());
            let mut server = open_server(Config::default());
            let mut evs = Vec::new();
            server.receive(&wire[..cut_a]);
            if poll_first {
                evs.extend(events(&mut server));
            }
            // The middle piece as a transport reads it into the receive
            // buffer: copied raw, with nothing unmasked before the next poll.
            if read_into_buffer {
                let piece = &wire[cut_a..cut_b];
                server.input_buffer()[..piece.len()].copy_from_slice(piece);
                server.advance_input(piece.len());
            } else {
                server.receive(&wire[cut_a..cut_b]);
            }
            if poll_between {
                evs.extend(events(&mut server));
            }
            server.receive(&wire[cut_b..]);
            evs.extend(events(&mut server));
            assert_eq!(evs, expected, "cut at {cut_a}, {cut_b}, polled: {poll_first}, {poll_between}");
        }
    }
}

#[test]
fn rfc6455_8_1_invalid_utf8_in_whole_and_fragmented_messages() {
    let (evs, _) = feed_server(&client_frame(0x81, b"ab\xc0\xafcd"));
    assert_eq!(evs, [failed(ProtocolError::InvalidUtf8 { valid_up_to: 2 })]);
    // The first fragment is fine, the second breaks the code point it continues.
    let mut bytes = client_frame(0x01, b"ab\xe2\x82");
    let (evs, _) = feed_server(&bytes);
    assert!(evs.is_empty());
    bytes.extend(client_frame(0x80, b"Z"));
    let (evs, _) = feed_server(&bytes);
    assert_eq!(evs, [failed(ProtocolError::InvalidUtf8 { valid_up_to: 2 })]);
    // A message may not end inside a code point, even if each frame is a valid prefix.
    let (evs, _) = feed_server(&client_frame(0x81, b"ab\xe2\x82"));
    assert_eq!(evs, [failed(ProtocolError::InvalidUtf8 { valid_up_to: 2 })]);
    // Code points split across fragments are fine.
    let mut bytes = client_frame(0x01, b"\xe2");
    bytes.extend(client_frame(0x00, b"\x82"));
    bytes.extend(client_frame(0x80, b"\xac"));
    assert_eq!(feed_server(&bytes).0, [Ev::Text("€".into())]);
}

#[test]
fn frame_and_message_size_limits_1009() {
    let mut config = Config::default();
    config.max_frame_size = 10;
    config.max_message_size = 15;
    let (evs, out) = feed(open_server(config.clone()), &client_frame(0x82, &[0; 11]));
    assert_fails(&evs, &out, ProtocolError::FrameTooLarge { len: 11, limit: 10 });
    let mut bytes = client_frame(0x02, &[0; 10]);
    bytes.extend(client_frame(0x80, &[0; 6]));
    let (evs, out) = feed(open_server(config.clone()), &bytes);
    assert_fails(&evs, &out, ProtocolError::MessageTooLarge { len: 16, limit: 15 });
    // The limit is checked from the header: no payload needs to arrive.
    let mut bytes = vec![0x82, 0x80 | 127, 0, 0, 0, 1, 0, 0, 0, 0];
    bytes.extend_from_slice(&KEY);
    let (evs, _) = feed(open_server(Config::default()), &bytes);
    assert_eq!(evs, [failed(ProtocolError::FrameTooLarge { len: 1 << 32, limit: 16 << 20 })]);
    // At the limit is fine.
    let (evs, _) = feed(open_server(config), &client_frame(0x82, &[0; 10]));
    assert_eq!(evs, [Ev::Binary(vec![0; 10])]);
}

/// The DESIGN's fragment-flood lesson: 1-byte fragments cost one byte each.
#[test]
fn fragment_flood_memory_is_bounded_by_payload() {
    let mut server = open_server(Config::default());
    let n = 65_536;
    server.receive(&client_frame(0x02, &[1]));
    for _ in 0..n - 2 {
        server.receive(&client_frame(0x00, &[1]));
        assert!(events(&mut server).is_empty());
    }
    assert!(server.buffer_capacity() < 4 * n, "held {} bytes for {n} fragments", server.buffer_capacity());
    server.receive(&client_frame(0x80, &[1]));
    assert_eq!(events(&mut server), [Ev::Binary(vec![1; n])]);
}

#[test]
fn sixteen_mib_messages_work_by_default() {
    let (mut client, mut server) = pair();
    let big: Vec<u8> = (0..16 << 20).map(|i| (i % 251) as u8).collect();
    client.sender().send_binary(&big).unwrap();
    transfer(&mut client, &mut server);
    match server.poll_event() {
        Some(wsmachine::Event::Binary(b)) => assert!(b == big.as_slice()),
        other => panic!("{other:?}"),
    }
    let text = "é".repeat(8 << 20);
    server.sender().send_text(&text).unwrap();
    let out = take_output(&mut server);
    // Arriving in 64 KiB reads.
    for chunk in out.chunks(65536) {
        client.receive(chunk);
        if let Some(e) = client.poll_event() {
            assert!(matches!(e, wsmachine::Event::Text(t) if t == text));
        }
    }
}

/// §5.3: every client frame is masked with a fresh key; server frames never are.
#[test]
fn rfc6455_5_3_client_masks_every_frame_with_fresh_keys() {
    let (mut client, mut server) = pair();
    for i in 0..50 {
        client.sender().send_binary(&[i; 9]).unwrap();
    }
    client.sender().ping(b"p").unwrap();
    let frames = decode_all(client.output_buffer());
    let keys: std::collections::HashSet<_> = frames.iter().map(|f| f.mask.expect("masked")).collect();
    assert_eq!(keys.len(), frames.len(), "a fresh key per frame");
    transfer(&mut client, &mut server);
    assert_eq!(events(&mut server).len(), 51);
    server.sender().send_text("x").unwrap();
    assert!(decode_all(server.output_buffer()).iter().all(|f| f.mask.is_none()));
}

/// §5.3: the keys are the random source's bytes, used in order, a fresh one
/// per frame (the client draws them 16 at a time), and payloads of every
/// length, longer than the 16 KiB chunk the client masks at a time too,
/// unmask to what was sent.
#[test]
fn rfc6455_5_3_masking_keys_are_the_source_output_in_order() {
    let mut next = 0u8;
    let counter = move |dest: &mut [u8]| {
        for b in dest {
            *b = next;
            next = next.wrapping_add(1);
        }
    };
    let mut client = wsmachine::Connection::established_with_random(
        t0(),
        Established::new(Role::Client),
        Config::default(),
        counter,
    );
    let payloads: Vec<Vec<u8>> =
        (0..40usize).map(|i| (0..i * 1597 % 40_000).map(|j| (j * 7 + i) as u8).collect()).collect();
    for p in &payloads {
        client.sender().send_binary(p).unwrap();
    }
    let frames = decode_all(client.output_buffer());
    assert_eq!(frames.len(), payloads.len());
    for (i, (frame, payload)) in frames.iter().zip(&payloads).enumerate() {
        let k = (i * 4) as u8;
        assert_eq!(frame.mask, Some([k, k + 1, k + 2, k + 3]), "frame {i}");
        assert_eq!(&frame.payload, payload, "frame {i}");
    }
}

#[test]
fn automatic_fragmentation_at_fragment_size() {
    let mut config = Config::default();
    config.fragment_size = Some(4);
    let (mut client, mut server) = pair_with(config.clone(), config);
    client.sender().send_text("abcdefghij").unwrap();
    let frames = decode_all(client.output_buffer());
    let shape: Vec<_> = frames.iter().map(|f| (f.fin, f.opcode, f.payload.len())).collect();
    assert_eq!(shape, [(false, OpCode::Text, 4), (false, OpCode::Continuation, 4), (true, OpCode::Continuation, 2)]);
    transfer(&mut client, &mut server);
    assert_eq!(events(&mut server), [Ev::Text("abcdefghij".into())]);
}

#[test]
fn streamed_send_with_interleaved_ping() {
    let (mut client, mut server) = pair();
    client.sender().begin_message(MessageKind::Text).unwrap();
    assert_eq!(client.sender().send_text("x"), Err(SendError::MessageInProgress));
    client.sender().send_fragment("héllo".as_bytes()[..2].as_ref()).unwrap();
    client.sender().ping(b"mid").unwrap();
    client.sender().send_fragment(&"héllo".as_bytes()[2..]).unwrap();
    client.sender().send_fragment(b"").unwrap();
    assert_eq!(client.sender().send_fragment(b"\xff"), Err(SendError::InvalidUtf8));
    client.sender().finish_message(b"!").unwrap();
    assert_eq!(client.sender().finish_message(b""), Err(SendError::NoMessageInProgress));
    let frames = decode_all(client.output_buffer());
    let ops: Vec<_> = frames.iter().map(|f| (f.opcode, f.fin)).collect();
    assert_eq!(
        ops,
        [(OpCode::Text, false), (OpCode::Ping, true), (OpCode::Continuation, false), (OpCode::Continuation, true)]
    );
    transfer(&mut client, &mut server);
    assert_eq!(events(&mut server), [Ev::Ping(b"mid".to_vec()), Ev::Text("héllo!".into())]);
}

#[test]
fn streaming_receive_delivers_pieces_as_they_arrive() {
    let mut config = Config::default();
    config.streaming = true;
    config.max_message_size = 8; // not applied in streaming mode
    let mut server = open_server(config);
    let mut bytes = client_frame(0x01, "0123456789".as_bytes());
    bytes.extend(client_frame(0x80, "é".as_bytes()));
    let mut got = Vec::new();
    for b in bytes.chunks(5) {
        server.receive(b);
        got.extend(events(&mut server));
    }
    let data: Vec<u8> = got
        .iter()
        .flat_map(|e| match e {
            Ev::Fragment(MessageKind::Text, d, _) => d.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(data, "0123456789é".as_bytes());
    assert!(got.len() > 2, "delivered in pieces: {got:?}");
    assert!(matches!(got.last(), Some(Ev::Fragment(_, _, true))));
    assert!(got[..got.len() - 1].iter().all(|e| matches!(e, Ev::Fragment(_, _, false))));
    // Invalid UTF-8 still fails fast in streaming mode.
    let mut config = Config::default();
    config.streaming = true;
    let (evs, _) = feed(open_server(config), &client_frame(0x01, b"ok\xff"));
    assert_eq!(evs, [failed(ProtocolError::InvalidUtf8 { valid_up_to: 2 })]);
}

#[test]
fn streaming_receive_of_a_large_frame_needs_no_large_buffer() {
    let mut config = Config::default();
    config.streaming = true;
    let mut server = open_server(config);
    let len = 64 << 20;
    let mut header = vec![0x82, 0x80 | 127];
    header.extend_from_slice(&(len as u64).to_be_bytes());
    header.extend_from_slice(&[0, 0, 0, 0]); // zero key: payload as is
    server.receive(&header);
    let chunk = vec![9u8; 1 << 16];
    let mut total = 0;
    let mut max_cap = 0;
    while total < len {
        server.receive(&chunk);
        while let Some(e) = server.poll_event() {
            match e {
                wsmachine::Event::Fragment(f) => total += f.data.len(),
                other => panic!("{other:?}"),
            }
        }
        max_cap = max_cap.max(server.buffer_capacity());
    }
    assert_eq!(total, len);
    assert!(max_cap < 1 << 20, "buffers reached {max_cap} bytes");
}

#[test]
fn prepared_message_is_copied_by_servers_and_reencoded_by_clients() {
    let msg = PreparedMessage::binary(&[5; 300]);
    let mut servers: Vec<_> = (0..3).map(|_| open_server(Config::default())).collect();
    for s in &mut servers {
        s.sender().send_prepared(&msg).unwrap();
        assert_eq!(s.output_buffer(), msg.frame());
    }
    let mut client = open_client(Config::default());
    client.sender().send_prepared(&msg).unwrap();
    let frames = decode_all(client.output_buffer());
    assert!(frames[0].mask.is_some());
    assert_eq!(frames[0].payload, vec![5; 300]);
}

#[test]
fn control_payload_and_text_arguments_are_checked() {
    let mut s = open_server(Config::default());
    assert_eq!(s.sender().ping(&[0; 126]), Err(SendError::ControlTooLong(126)));
    assert_eq!(s.sender().pong(&[0; 126]), Err(SendError::ControlTooLong(126)));
    // Whole text messages are `&str`; streamed text is checked as it goes.
    s.sender().begin_message(MessageKind::Text).unwrap();
    assert_eq!(s.sender().send_fragment(b"\xff"), Err(SendError::InvalidUtf8));
    assert!(s.output_buffer().is_empty());
    assert_eq!(s.state(), State::Open);
}

/// A connection created OPEN (the upgrade was done elsewhere) works as a pair.
#[test]
fn established_connections_talk() {
    let mut c = wsmachine::Connection::established_with_random(
        t0(),
        Established::new(Role::Client),
        Config::default(),
        seeded(9),
    );
    let mut s = open_server(Config::default());
    c.sender().send_text("over h2").unwrap();
    transfer(&mut c, &mut s);
    assert_eq!(events(&mut s), [Ev::Text("over h2".into())]);
}
