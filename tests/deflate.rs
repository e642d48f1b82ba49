//! RFC 7692: permessage-deflate through a client/server pair.
#![cfg(feature = "deflate")]

mod common;
use common::*;
use proptest::prelude::*;
use wsmachine::OpCode;
use wsmachine::deflate::{DeflateConfig, DeflateParams};
use wsmachine::{Accept, ClientRequest, Config, Connection, Established, Event, ProtocolError, Role};

/// The default agreement: 15-bit windows, context takeover both ways.
fn full_windows() -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    }
}

fn with_deflate(d: DeflateConfig) -> Config {
    let mut c = Config::default();
    c.deflate = Some(d);
    c
}

/// A pair that negotiated permessage-deflate; returns the params each side saw.
fn deflate_pair(client: Config, server: Config) -> (Connection, Connection, Option<DeflateParams>) {
    let req = ClientRequest::new("ws://localhost/").unwrap();
    let mut c = Connection::client_with_random(t0(), req, client, seeded(4));
    let mut s = Connection::server(t0(), server);
    transfer(&mut c, &mut s);
    assert!(matches!(s.poll_event(), Some(Event::Request(_))));
    s.accept(t0(), Accept::new()).unwrap();
    let server_params = match s.poll_event() {
        Some(Event::Open(o)) => o.deflate(),
        other => panic!("{other:?}"),
    };
    transfer(&mut s, &mut c);
    let client_params = match c.poll_event() {
        Some(Event::Open(o)) => o.deflate(),
        other => panic!("{other:?}"),
    };
    assert_eq!(client_params, server_params, "both sides agree");
    (c, s, client_params)
}

/// RFC 7692 §5, §7.1: offered by the client, accepted by the server, visible in Open.
#[test]
fn rfc7692_7_1_negotiated_and_visible() {
    let (_, _, params) = deflate_pair(with_deflate(DeflateConfig::default()), with_deflate(DeflateConfig::default()));
    assert_eq!(params, Some(full_windows()));
    // Not configured on one side: not negotiated.
    let (_, _, params) = deflate_pair(Config::default(), with_deflate(DeflateConfig::default()));
    assert_eq!(params, None);
    let (_, _, params) = deflate_pair(with_deflate(DeflateConfig::default()), Config::default());
    assert_eq!(params, None);
}

/// §6.2 with the size limits off (`max_message_size` and `max_frame_size`
/// at `usize::MAX`): compressed messages inflate (the inflate buffer's growth
/// capped at "limit + 1" must not overflow).
#[test]
fn rfc7692_6_2_inflates_with_limits_off() {
    let mut config = with_deflate(DeflateConfig::default());
    config.max_message_size = usize::MAX;
    config.max_frame_size = usize::MAX;
    let (mut c, mut s, _) = deflate_pair(config.clone(), config);
    let text = "compressible text, ".repeat(500);
    c.sender().send_text(&text).unwrap();
    transfer(&mut c, &mut s);
    assert_eq!(events(&mut s), [Ev::Text(text.clone())]);
    s.sender().send_text(&text).unwrap();
    transfer(&mut s, &mut c);
    assert_eq!(events(&mut c), [Ev::Text(text)]);
}

/// §6.1: RSV1 on the first frame of a compressed message only; control
/// frames are never compressed; messages arrive intact.
#[test]
fn rfc7692_6_1_rsv1_on_first_frame_only() {
    let mut config = with_deflate(DeflateConfig::default());
    config.fragment_size = Some(10);
    let (mut c, mut s, _) = deflate_pair(config.clone(), config);
    let text = "compressible text, ".repeat(50);
    c.sender().send_text(&text).unwrap();
    c.sender().ping(b"not compressed").unwrap();
    let frames = decode_all(c.output_buffer());
    assert!(frames.len() > 2, "compressed payload split into frames");
    assert_eq!(frames[0].rsv, 0b100);
    assert!(frames[1..].iter().all(|f| f.rsv == 0));
    let ping = frames.iter().find(|f| f.opcode == OpCode::Ping).unwrap();
    assert_eq!(ping.payload, b"not compressed");
    let wire: usize = frames.iter().filter(|f| f.opcode != OpCode::Ping).map(|f| f.payload.len()).sum();
    assert!(wire < text.len() / 5, "{wire} bytes on the wire for {}", text.len());
    transfer(&mut c, &mut s);
    assert_eq!(events(&mut s), [Ev::Text(text), Ev::Ping(b"not compressed".to_vec())]);
}

/// Policy: under the threshold, or sent uncompressed on purpose, RSV1 stays clear.
#[test]
fn threshold_and_opt_out() {
    let (mut c, mut s, _) =
        deflate_pair(with_deflate(DeflateConfig::default()), with_deflate(DeflateConfig::default()));
    c.sender().send_text("short").unwrap();
    c.sender().uncompressed().send_binary(&[0; 1000]).unwrap();
    c.sender().send_binary(&[0; 1000]).unwrap();
    let rsv: Vec<u8> = decode_all(c.output_buffer()).iter().map(|f| f.rsv).collect();
    assert_eq!(rsv, [0, 0, 0b100]);
    transfer(&mut c, &mut s);
    assert_eq!(events(&mut s), [Ev::Text("short".into()), Ev::Binary(vec![0; 1000]), Ev::Binary(vec![0; 1000])]);
}

/// §7.2.2: a compression bomb fails with 1009 at the limit.
#[test]
fn rfc7692_bomb_fails_with_1009() {
    let mut server_config = with_deflate(DeflateConfig::default());
    server_config.max_message_size = 1 << 20;
    let mut level9 = DeflateConfig::default();
    level9.level = 9;
    let (mut c, mut s, _) = deflate_pair(with_deflate(level9), server_config);
    c.sender().send_binary(&vec![0; 64 << 20]).unwrap();
    let wire = c.output_buffer().len();
    assert!(wire < 200 << 10, "{wire} bytes");
    transfer(&mut c, &mut s);
    let evs = events(&mut s);
    assert!(
        matches!(&evs[..], [Ev::Closed { code, failure: Some(wsmachine::Failure::Protocol(ProtocolError::MessageTooLarge { .. })), .. }] if code.0 == 1009),
        "{evs:?}"
    );
    assert!(s.buffer_capacity() <= 2 << 20, "held {} bytes", s.buffer_capacity());
}

/// Peers that compress every message (Python websockets, browsers) send
/// incompressible data in a frame larger than the message: under
/// `Config::public_server`, a 1 MiB message of random bytes compressed at
/// zlib levels 1 and 6 is taken, though its frame is over 1 MiB.
#[test]
fn public_server_takes_a_compressed_frame_larger_than_its_message() {
    let message = wsmachine_testkit::noise(0x9e37_79b9, 1 << 20);
    for level in [1, 6] {
        let mut z = flate2::Compress::new(flate2::Compression::new(level), false);
        let mut body = Vec::with_capacity(message.len() * 9 / 8);
        z.compress_vec(&message, &mut body, flate2::FlushCompress::Sync).unwrap();
        assert!(body.ends_with(&[0, 0, 0xff, 0xff]));
        body.truncate(body.len() - 4);
        assert!(body.len() > message.len(), "level {level}: {} bytes", body.len());
        let mut server_config = Config::public_server();
        server_config.deflate = Some(DeflateConfig::default());
        let (_, mut s, params) = deflate_pair(with_deflate(DeflateConfig::default()), server_config);
        assert!(params.is_some());
        s.receive(&client_frame(0xc2, &body));
        assert!(matches!(events(&mut s).as_slice(), [Ev::Binary(b)] if *b == message), "level {level}");
    }
}

/// §6.1: RSV1 on a continuation frame or a control frame is a protocol error.
#[test]
fn rfc7692_6_1_rsv1_misplaced_fails() {
    for bytes in [[client_frame(0x01, b"a"), client_frame(0xc0, b"b")].concat(), client_frame(0xc9, b"")] {
        let mut s =
            Connection::established(t0(), Established::new(Role::Server).deflate(full_windows()), Config::default())
                .unwrap();
        s.receive(&bytes);
        assert!(matches!(
            events(&mut s).last(),
            Some(Ev::Closed { failure: Some(wsmachine::Failure::Protocol(ProtocolError::ReservedBits(_))), .. })
        ));
    }
    // And RSV1 without the extension, as before (RFC 6455 §5.2).
    let mut s = open_server(Config::default());
    s.receive(&client_frame(0xc1, b"a"));
    assert_eq!(events(&mut s), [failed(ProtocolError::ReservedBits(0b100))]);
}

/// §7.2.2: data that is not DEFLATE fails with 1007.
#[test]
fn corrupt_compressed_data_fails() {
    let mut s =
        Connection::established(t0(), Established::new(Role::Server).deflate(full_windows()), Config::default())
            .unwrap();
    s.receive(&client_frame(0xc2, &[0xff; 20]));
    assert_eq!(events(&mut s), [failed(ProtocolError::InvalidCompressedData)]);
}

/// §7.2.3.1: the RFC's compressed "Hello" in a frame.
#[test]
fn rfc7692_7_2_3_1_hello_frame() {
    let mut s =
        Connection::established(t0(), Established::new(Role::Server).deflate(full_windows()), Config::default())
            .unwrap();
    let mut bytes = client_frame(0x41, &[0xf2, 0x48, 0xcd]);
    bytes.extend(client_frame(0x80, &[0xc9, 0xc9, 0x07, 0x00]));
    s.receive(&bytes);
    assert_eq!(events(&mut s), [Ev::Text("Hello".into())]);
}

fn config_strategy() -> impl Strategy<Value = DeflateConfig> {
    (any::<bool>(), any::<bool>(), 8u8..=15, 8u8..=15, 0u32..=9, any::<bool>()).prop_map(
        |(snct, cnct, sbits, cbits, level, release)| {
            let mut d = DeflateConfig::default();
            d.level = level;
            d.threshold = 0;
            d.server_no_context_takeover = snct;
            d.client_no_context_takeover = cnct;
            d.server_max_window_bits = sbits;
            d.client_max_window_bits = cbits;
            d.release_idle_contexts = release;
            d
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Every parameter combination: messages in both directions arrive intact,
    /// in one frame or fragmented, and the same bytes cut anywhere give the same events.
    #[test]
    fn roundtrip_all_parameters(
        client in config_strategy(),
        server in config_strategy(),
        frag in proptest::option::of(1usize..100),
        msgs in proptest::collection::vec(prop_oneof![
            "[a-c ]{0,600}".prop_map(|s| s.into_bytes()),
            proptest::collection::vec(any::<u8>(), 0..400),
        ], 1..8),
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
    ) {
        let mut cc = with_deflate(client);
        cc.fragment_size = frag;
        let mut sc = with_deflate(server);
        sc.fragment_size = frag;
        let (mut c, mut s, params) = deflate_pair(cc, sc.clone());
        prop_assert!(params.is_some());
        let expected: Vec<Ev> = msgs.iter().map(|m| Ev::Binary(m.clone())).collect();
        for m in &msgs {
            c.sender().send_binary(m).unwrap();
        }
        let wire = take_output(&mut c);
        // Whole, and cut anywhere: the same events.
        s.receive(&wire);
        prop_assert_eq!(events(&mut s), expected.clone());
        let mut points: Vec<usize> = cuts.iter().map(|x| x % (wire.len() + 1)).collect();
        points.extend([0, wire.len()]);
        points.sort_unstable();
        let (_, mut s2, _) = {
            let mut cc = with_deflate(DeflateConfig::default());
            cc.fragment_size = frag;
            // A fresh server with the same agreement, fed the same bytes in pieces.
            let s2 = Connection::established(t0(), Established::new(Role::Server).deflate(params.unwrap()), sc).unwrap();
            (cc, s2, ())
        };
        let mut split = Vec::new();
        for w in points.windows(2) {
            s2.receive(&wire[w[0]..w[1]]);
            split.extend(events(&mut s2));
        }
        prop_assert_eq!(split, expected.clone());
        for m in &msgs {
            s.sender().send_binary(m).unwrap();
        }
        transfer(&mut s, &mut c);
        prop_assert_eq!(events(&mut c), expected);
    }
}
