//! Property tests: frame roundtrip (§5.2), message roundtrip through a
//! client/server pair (§5.4, §5.6), chunking invariance, and the closing
//! handshake (§7) from either side.

mod common;
use common::*;
use proptest::prelude::*;
use wsmachine::__internals::{FrameHeader, MAX_HEADER_LEN};
use wsmachine::OpCode;
use wsmachine::{CloseCode, Config, Connection, Established, Event, MessageKind, State};

fn opcode() -> impl Strategy<Value = OpCode> {
    prop_oneof![
        Just(OpCode::Continuation),
        Just(OpCode::Text),
        Just(OpCode::Binary),
        Just(OpCode::Close),
        Just(OpCode::Ping),
        Just(OpCode::Pong),
    ]
}

fn payload_len() -> impl Strategy<Value = u64> {
    // Every length class and its edges: 7-bit, 16-bit, 64-bit.
    prop_oneof![0..=125u64, 126..=0xffffu64, Just(125), Just(126), Just(0xffff), Just(0x10000), 0x10000..(1u64 << 63)]
}

#[derive(Clone, Debug)]
enum Msg {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
}

fn msg() -> impl Strategy<Value = Msg> {
    prop_oneof![
        4 => ".{0,40}".prop_map(Msg::Text),
        1 => proptest::string::string_regex("[a-zé😀]{100,700}").unwrap().prop_map(Msg::Text),
        4 => proptest::collection::vec(any::<u8>(), 0..300).prop_map(Msg::Binary),
        1 => proptest::collection::vec(any::<u8>(), 70_000..70_100).prop_map(Msg::Binary),
        2 => proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Msg::Ping),
    ]
}

/// The byte stream a client would send for `msgs`, fragments of `frag`
/// bytes, with a Ping between fragments when `ping_inside` (and an optional
/// invalid UTF-8 text at the end).
fn client_stream(msgs: &[Msg], frag: usize, ping_inside: bool, bad_tail: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for m in msgs {
        let (op, data): (u8, &[u8]) = match m {
            Msg::Text(t) => (1, t.as_bytes()),
            Msg::Binary(b) => (2, b),
            Msg::Ping(p) => {
                out.extend(client_frame(0x89, p));
                continue;
            }
        };
        let chunks: Vec<&[u8]> = if data.is_empty() { vec![data] } else { data.chunks(frag).collect() };
        for (i, c) in chunks.iter().enumerate() {
            let fin = if i + 1 == chunks.len() { 0x80 } else { 0 };
            let op = if i == 0 { op } else { 0 };
            out.extend(client_frame(fin | op, c));
            if ping_inside && fin == 0 {
                out.extend(client_frame(0x89, b"inside"));
            }
        }
    }
    if bad_tail {
        out.extend(client_frame(0x01, b"ok \xe2\x82"));
        out.extend(client_frame(0x80, b"\x28 never"));
    }
    out
}

fn expected_events(msgs: &[Msg], ping_inside: bool, frag: usize) -> Vec<Ev> {
    let mut out = Vec::new();
    for m in msgs {
        let len = match m {
            Msg::Text(t) => t.len(),
            Msg::Binary(b) => b.len(),
            Msg::Ping(p) => {
                out.push(Ev::Ping(p.clone()));
                continue;
            }
        };
        if ping_inside {
            let frames = len.div_ceil(frag).max(1);
            out.extend((1..frames).map(|_| Ev::Ping(b"inside".to_vec())));
        }
        out.push(match m {
            Msg::Text(t) => Ev::Text(t.clone()),
            Msg::Binary(b) => Ev::Binary(b.clone()),
            Msg::Ping(_) => unreachable!(),
        });
    }
    out
}

/// Feeds `data` as a transport reading into `input_buffer` would, in
/// pieces as large as the room offered.
fn feed_via_room(conn: &mut wsmachine::Connection, mut data: &[u8]) {
    while !data.is_empty() {
        let room = conn.input_buffer();
        assert!(room.len() >= 4096);
        let n = room.len().min(data.len());
        room[..n].copy_from_slice(&data[..n]);
        conn.advance_input(n);
        data = &data[n..];
    }
}

/// Feeds `bytes` cut at `cuts` (fractions of the length) and returns the
/// events. Pieces go in by `receive` and by `input_buffer`/`received` in
/// turn: the two ways in must not differ.
fn feed_split(config: Config, bytes: &[u8], cuts: &[usize]) -> (Vec<Ev>, Vec<u8>) {
    feed_split_polling(config, bytes, cuts, 0)
}

/// [`feed_split`], polling for events after piece `i` only if bit `i % 64`
/// of `skip_polls` is clear (and after the last piece always): pieces that
/// arrive before the previous ones are parsed must give the same events.
fn feed_split_polling(config: Config, bytes: &[u8], cuts: &[usize], skip_polls: u64) -> (Vec<Ev>, Vec<u8>) {
    let mut server = open_server(config);
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.push(0);
    points.push(bytes.len());
    points.sort_unstable();
    let mut evs = Vec::new();
    let mut out = Vec::new();
    for (i, w) in points.windows(2).enumerate() {
        if i % 2 == 0 {
            server.receive(&bytes[w[0]..w[1]]);
        } else {
            feed_via_room(&mut server, &bytes[w[0]..w[1]]);
        }
        if skip_polls >> (i % 64) & 1 == 0 || w[1] == bytes.len() {
            evs.extend(events(&mut server));
        }
        out.extend(take_output(&mut server));
    }
    (evs, out)
}

/// Fragment sizes: small ones (many frames, Pings between them), ones around
/// the size from which a server unmasks frames as it copies them in (96),
/// larger ones that span reads, and whole messages in one frame.
fn fragment_size() -> impl Strategy<Value = usize> {
    prop_oneof![3 => 1usize..50, 1 => 80usize..120, 1 => 400usize..2000, 1 => Just(usize::MAX)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// §5.2: every header encodes and decodes back, and every prefix is partial.
    #[test]
    fn frame_header_roundtrip(fin in any::<bool>(), rsv in 0u8..8, op in opcode(), len in payload_len(), mask in proptest::option::of(any::<[u8; 4]>())) {
        let h = FrameHeader { fin, rsv, opcode: op, mask, payload_len: len };
        let mut buf = [0u8; MAX_HEADER_LEN];
        let n = h.encode(&mut buf);
        prop_assert_eq!(n, h.encoded_len());
        prop_assert_eq!(FrameHeader::decode(&buf[..n]), Ok(Some((h, n))));
        for i in 0..n {
            prop_assert_eq!(FrameHeader::decode(&buf[..i]), Ok(None));
        }
    }

    /// Messages of any size and fragment size, with Pings in between, arrive intact both ways.
    #[test]
    fn message_roundtrip_through_a_pair(msgs in proptest::collection::vec(msg(), 1..12), frag in proptest::option::of(1usize..200)) {
        let mut config = Config::default();
        config.fragment_size = frag;
        let (mut client, mut server) = pair_with(config.clone(), config);
        for client_sends in [true, false] {
            let (from, to) = if client_sends { (&mut client, &mut server) } else { (&mut server, &mut client) };
            for m in &msgs {
                match m {
                    Msg::Text(t) => from.sender().send_text(t).unwrap(),
                    Msg::Binary(b) => from.sender().send_binary(b).unwrap(),
                    Msg::Ping(p) => from.sender().ping(p).unwrap(),
                }
            }
            transfer(from, to);
            prop_assert_eq!(events(to), expected_events(&msgs, false, 1));
            // The automatic Pongs go back.
            transfer(to, from);
            let pongs = events(from);
            prop_assert!(pongs.iter().all(|e| matches!(e, Ev::Pong(_))));
        }
    }

    /// The same bytes cut anywhere give the same events and the same output.
    #[test]
    fn chunking_invariance(msgs in proptest::collection::vec(msg(), 1..8), frag in fragment_size(), ping_inside in any::<bool>(), bad_tail in any::<bool>(), cuts in proptest::collection::vec(any::<usize>(), 0..40), skip_polls in any::<u64>()) {
        let bytes = client_stream(&msgs, frag, ping_inside, bad_tail);
        let (whole, whole_out) = feed_split(Config::default(), &bytes, &[]);
        let mut expected = expected_events(&msgs, ping_inside, frag);
        if bad_tail {
            expected.push(failed(wsmachine::ProtocolError::InvalidUtf8 { valid_up_to: 3 }));
        }
        prop_assert_eq!(&whole, &expected);
        let (split, split_out) = feed_split(Config::default(), &bytes, &cuts);
        prop_assert_eq!(&split, &whole);
        prop_assert_eq!(&feed_split_polling(Config::default(), &bytes, &cuts, skip_polls).0, &whole);
        // Output is the same too, except that Pongs to Pings that arrived
        // together are coalesced (§5.5.3), which depends on the draining.
        let (split_out, whole_out) = (decode_all(&split_out), decode_all(&whole_out));
        let not_pong = |f: &&Decoded| f.opcode != OpCode::Pong;
        prop_assert_eq!(split_out.iter().filter(not_pong).collect::<Vec<_>>(), whole_out.iter().filter(not_pong).collect::<Vec<_>>());
        prop_assert!(split_out.len() >= whole_out.len());
        // Byte by byte.
        let all: Vec<usize> = (0..bytes.len()).collect();
        if bytes.len() < 4000 {
            prop_assert_eq!(feed_split(Config::default(), &bytes, &all).0, whole);
        }
    }

    /// In streaming mode the pieces depend on the cuts, but their concatenation does not.
    #[test]
    fn chunking_invariance_streaming(msgs in proptest::collection::vec(msg(), 1..8), frag in 1usize..50, cuts in proptest::collection::vec(any::<usize>(), 0..40)) {
        let bytes = client_stream(&msgs, frag, true, false);
        let mut config = Config::default();
        config.streaming = true;
        let (evs, _) = feed_split(config, &bytes, &cuts);
        let mut joined: Vec<Ev> = Vec::new();
        let mut current: Option<(MessageKind, Vec<u8>)> = None;
        for e in evs {
            match e {
                Ev::Fragment(kind, data, fin) => {
                    let cur = current.get_or_insert((kind, Vec::new()));
                    prop_assert_eq!(cur.0, kind);
                    cur.1.extend(data);
                    if fin {
                        let (kind, data) = current.take().unwrap();
                        joined.push(match kind {
                            MessageKind::Text => Ev::Text(String::from_utf8(data).unwrap()),
                            MessageKind::Binary => Ev::Binary(data),
                        });
                    }
                }
                other => joined.push(other),
            }
        }
        // Pings inside a message come out before its end, as in buffered mode.
        prop_assert_eq!(joined, expected_events(&msgs, true, frag));
    }

    /// §7: the closing handshake completes from either side, with messages in flight.
    #[test]
    fn closing_handshake_from_either_side(client_first in any::<bool>(), in_flight in proptest::collection::vec(".{0,20}", 0..4), code in prop_oneof![1000u16..=1003, 1007u16..=1011, 3000u16..5000]) {
        let (mut client, mut server) = pair();
        let (a, b) = if client_first { (&mut client, &mut server) } else { (&mut server, &mut client) };
        for t in &in_flight {
            b.sender().send_text(t).unwrap();
        }
        a.sender().close(t0(), CloseCode(code), "reason").unwrap();
        transfer(a, b);
        let evs_b = events(b);
        transfer(b, a);
        let evs_a = events(a);
        let texts: Vec<Ev> = in_flight.iter().map(|t| Ev::Text(t.clone())).collect();
        prop_assert_eq!(&evs_a[..texts.len()], texts.as_slice());
        match (evs_a.last(), evs_b.last()) {
            (Some(Ev::Closed { clean: true, code: ca, .. }), Some(Ev::Closed { clean: true, code: cb, reason, .. })) => {
                prop_assert_eq!(ca.0, code);
                prop_assert_eq!(cb.0, code);
                prop_assert_eq!(reason.as_str(), "reason");
            }
            other => prop_assert!(false, "{:?}", other),
        }
        prop_assert_eq!(client.state(), State::Closed);
        prop_assert_eq!(server.state(), State::Closed);
        prop_assert!(server.should_close_transport());
        client.receive_eof();
        prop_assert!(client.should_close_transport());
    }
}

/// A zero-copy echo through `poll_event_with_sender`.
#[test]
fn echo_with_borrowed_payload() {
    let (mut client, mut server) = pair();
    client.sender().send_binary(&[1, 2, 3]).unwrap();
    client.sender().send_text("txt").unwrap();
    transfer(&mut client, &mut server);
    while let Some((event, mut tx)) = server.poll_event_with_sender() {
        match event {
            Event::Text(t) => tx.send_text(t).unwrap(),
            Event::Binary(b) => tx.send_binary(b).unwrap(),
            _ => {}
        }
    }
    transfer(&mut server, &mut client);
    assert_eq!(events(&mut client), [Ev::Binary(vec![1, 2, 3]), Ev::Text("txt".into())]);
    let _ = Connection::server(t0(), Config::default());
}

proptest! {
    /// §8.1: the SIMD validator (feature `simd-utf8`) and the streaming
    /// validator built on it agree with `core::str::from_utf8` on valid text
    /// and on text with one byte overwritten, long enough for the SIMD loops.
    #[test]
    fn utf8_agrees_with_std(text in "(.|[a-z ]{1,40}){0,200}", corrupt in proptest::option::of((any::<prop::sample::Index>(), any::<u8>())), split in any::<prop::sample::Index>()) {
        let mut bytes = text.into_bytes();
        if let (Some((at, byte)), false) = (corrupt, bytes.is_empty()) {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        let std = core::str::from_utf8(&bytes).map_err(|e| (e.valid_up_to(), e.error_len()));
        let ours = wsmachine::__internals::from_utf8(&bytes).map_err(|e| (e.valid_up_to(), e.error_len()));
        prop_assert_eq!(ours, std);
        let cut = split.index(bytes.len() + 1);
        let mut v = wsmachine::__internals::Utf8Validator::new();
        let streamed = v.feed(&bytes[..cut]).and_then(|_| v.feed(&bytes[cut..])).and_then(|_| v.finish());
        prop_assert_eq!(streamed.map_err(|e| e.valid_up_to as usize), std.map(|_| ()).map_err(|e| e.0));
    }
}

proptest! {
    /// §5.2, with the size limits off (`usize::MAX`): frames of any header,
    /// extreme 16- and 64-bit lengths included, followed by any bytes, give
    /// events or a failure, never a panic or an overflow, in either role,
    /// on a connection made OPEN (its first frame takes the fast path of
    /// `poll_event`) or one after its handshake.
    #[test]
    fn any_length_without_limits(
        b0 in prop_oneof![Just(0x81u8), Just(0x82), Just(0x02), Just(0x89), any::<u8>()],
        proper_mask in prop_oneof![3 => Just(true), 1 => Just(false)],
        len in prop_oneof![0u64..300, Just(u64::MAX), Just(u64::MAX - 13), Just(u64::MAX >> 1), (u64::MAX >> 1) - 20..=(u64::MAX >> 1), any::<u64>()],
        form in 0u8..3,
        rest in proptest::collection::vec(any::<u8>(), 0..64),
        client in any::<bool>(),
        established in any::<bool>(),
    ) {
        let mut config = Config::default();
        config.max_frame_size = usize::MAX;
        config.max_message_size = usize::MAX;
        let role = if client { wsmachine::Role::Client } else { wsmachine::Role::Server };
        let masked = proper_mask != client;
        let mut conn = match (established, client) {
            (true, _) => Connection::established(t0(), Established::new(role), config).unwrap(),
            (false, false) => open_server(config),
            (false, true) => open_client(config),
        };
        let mask_bit = if masked { 0x80 } else { 0 };
        let mut bytes = vec![b0];
        match form {
            0 => bytes.push(mask_bit | (len % 126) as u8),
            1 => {
                bytes.push(mask_bit | 126);
                bytes.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                bytes.push(mask_bit | 127);
                bytes.extend_from_slice(&len.to_be_bytes());
            }
        }
        if masked {
            bytes.extend_from_slice(&[1, 2, 3, 4]);
        }
        bytes.extend_from_slice(&rest);
        conn.receive(&bytes);
        let evs = events(&mut conn);
        // `rest` may hold whole frames of its own (found by proptest: a
        // Ping, an empty Binary, then a stray continuation): each event
        // takes at least a 2-byte header, and the Closed comes last.
        prop_assert!(evs.len() <= bytes.len() / 2 + 1, "{:?}", evs);
    }
}
