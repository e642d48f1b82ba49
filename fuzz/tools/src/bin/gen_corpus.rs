//! Writes the seed corpus (`fuzz/corpus/<target>/`) from real traffic: the
//! handshakes and frames that this crate's client and server exchange.
//!
//!     cargo run --manifest-path fuzz/tools/Cargo.toml --bin gen_corpus

use std::fs;
use std::path::Path;
use std::time::Instant;

use wsmachine::SeededRandom;
use wsmachine::{Accept, ClientRequest, CloseCode, Config, Connection, Established, MessageKind, Role};
use wsmachine_fuzz::{DeflateSetup, FuzzConfig, Op, Script, Writer};

fn write(target: &str, name: &str, data: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus").join(target);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), data).unwrap();
}

fn take(ws: &mut Connection) -> Vec<u8> {
    let out = ws.output_buffer().to_vec();
    ws.advance_output(out.len());
    out
}

/// What a peer of each role sends in a typical session.
fn traffic(role: Role) -> Vec<u8> {
    let mut config = Config::default();
    config.fragment_size = Some(40);
    let mut ws = Connection::established_with_random(
        Instant::now(),
        Established::new(role),
        config,
        SeededRandom::from_seed([5; 32]),
    );
    ws.sender().send_text("Hello, κόσμε 😀").unwrap();
    ws.sender().send_binary(&[0, 1, 2, 253, 254, 255]).unwrap();
    ws.sender().send_text(&"fragmented text ".repeat(6)).unwrap();
    ws.sender().ping(b"ping payload").unwrap();
    ws.sender().begin_message(MessageKind::Binary).unwrap();
    ws.sender().send_fragment(&[9; 30]).unwrap();
    ws.sender().pong(b"").unwrap();
    ws.sender().finish_message(&[8; 10]).unwrap();
    ws.sender().send_binary(&[7; 300]).unwrap();
    ws.sender().close(Instant::now(), CloseCode::NORMAL, "bye").unwrap();
    take(&mut ws)
}

fn handshake() -> (Vec<u8>, Vec<u8>) {
    let req = ClientRequest::new("ws://fuzz.example:8080/chat?room=1")
        .unwrap()
        .protocol("chat")
        .unwrap()
        .extension("permessage-deflate; client_max_window_bits")
        .unwrap()
        .header("Origin", "https://fuzz.example")
        .unwrap();
    let mut client = Connection::client_with_random(
        std::time::Instant::now(),
        req,
        Config::default(),
        SeededRandom::from_seed([2; 32]),
    );
    let request = take(&mut client);
    let mut server = Connection::server(std::time::Instant::now(), Config::default());
    server.receive(&request);
    while server.poll_event().is_some() {}
    server.accept(std::time::Instant::now(), Accept::new().protocol("chat")).unwrap();
    (request, take(&mut server))
}

fn script(ops: Vec<Op>, streaming: bool) -> Vec<u8> {
    script_reading(ops, streaming, None)
}

/// [`script`] with `max_read_size` set (`None`: the default).
fn script_reading(ops: Vec<Op>, streaming: bool, read_size: Option<u64>) -> Vec<u8> {
    let config = FuzzConfig {
        max_frame: 4096,
        max_message: 16384,
        streaming,
        auto_pong: true,
        backlog: 512,
        fragment: None,
        ping_ms: Some(100),
        pong_ms: 200,
        close_ms: Some(300),
        read_size,
    };
    Script { config, ops }.write()
}

fn main() {
    let client_frames = traffic(Role::Client);
    let server_frames = traffic(Role::Server);
    let (request, response) = handshake();

    // frame_decode: the start of each real frame.
    for (name, frames) in [("client", &client_frames), ("server", &server_frames)] {
        let mut rest = &frames[..];
        let mut i = 0;
        while let Ok(Some((h, n))) = wsmachine::__internals::FrameHeader::decode(rest) {
            write("frame_decode", &format!("{name}-{i}"), &rest[..n.min(rest.len())]);
            rest = &rest[n + h.payload_len as usize..];
            i += 1;
        }
    }
    write("frame_decode", "len64", &[0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4]);

    // handshake_server: cut count, cuts, request (plus the frames that follow it).
    let with = |cuts: &[u8], body: &[u8]| [&[cuts.len() as u8][..], cuts, body].concat();
    write("handshake_server", "request", &with(&[], &request));
    let mut pipelined = request.clone();
    pipelined.extend_from_slice(&client_frames[..40]);
    write("handshake_server", "request-frames-cut", &with(&[7, 90, 200], &pipelined));
    let text = String::from_utf8(request.clone()).unwrap();
    write("handshake_server", "version-8", &with(&[], text.replace("Version: 13", "Version: 8").as_bytes()));
    write("handshake_server", "post", &with(&[], text.replacen("GET", "POST", 1).as_bytes()));

    // handshake_client: flags, cut count, cuts, response.
    write("handshake_client", "valid-then-frames", &[&[1u8, 2, 30, 200][..], &server_frames].concat());
    write("handshake_client", "response", &[&[0u8, 0][..], &response].concat());
    write(
        "handshake_client",
        "redirect",
        b"\x00\x00HTTP/1.1 302 Found\r\nLocation: ws://elsewhere/\r\nContent-Length: 0\r\n\r\n",
    );

    // connection_server / connection_client: real frames in chunks, sends, time, draining.
    for (target, incoming) in [("connection_server", &client_frames), ("connection_client", &server_frames)] {
        let mut ops: Vec<Op> = incoming.chunks(97).map(|c| Op::Receive(c.to_vec())).collect();
        ops.insert(2, Op::Text(b"reply".to_vec()));
        ops.insert(3, Op::Drain(4096));
        ops.push(Op::Drain(4096));
        write(target, "session", &script(ops.clone(), false));
        // Rooms of 5 bytes: every 97-byte piece read through the receive
        // buffer takes 20 reads.
        write(target, "session-small-reads", &script_reading(ops.clone(), false, Some(5)));
        write(target, "session-streaming", &script(ops, true));
        let ops = vec![
            Op::PeerFrame { b0: 0x01, payload: "κόσ".as_bytes().to_vec(), key: [1, 2, 3, 4] },
            Op::PeerFrame { b0: 0x89, payload: b"p".to_vec(), key: [5, 6, 7, 8] },
            Op::PeerFrame { b0: 0x80, payload: "με".as_bytes().to_vec(), key: [9, 9, 9, 9] },
            Op::Begin { text: true },
            Op::Fragment { fin: false, data: b"str".to_vec() },
            Op::Advance(150),
            Op::Fragment { fin: true, data: b"eam".to_vec() },
            Op::Close { code: 1000, reason: b"done".to_vec() },
            Op::Advance(400),
            Op::Drain(4096),
        ];
        write(target, "fragments-timers", &script(ops, false));
    }

    // deflate: role byte, parameter set, script with compressed traffic both ways.
    for (role, name) in [(0u8, "server"), (1u8, "client")] {
        for (k, (takeover, bits)) in [(true, 15u8), (false, 9), (true, 8)].into_iter().enumerate() {
            let setup = DeflateSetup {
                params: wsmachine::deflate::DeflateParams {
                    server_no_context_takeover: !takeover,
                    client_no_context_takeover: !takeover,
                    server_max_window_bits: bits,
                    client_max_window_bits: bits,
                },
                level: 1,
                threshold: 8,
                release: k == 1,
            };
            let mut w = Writer::default();
            setup.write(&mut w);
            let ops = vec![
                Op::PeerCompressed {
                    text: true, split: 0, data: "Hello, compressed κόσμε ".repeat(8).into_bytes()
                },
                Op::PeerCompressed { text: false, split: 5, data: vec![7; 300] },
                Op::Text(b"reply reply reply reply reply".to_vec()),
                Op::Binary(vec![1; 200]),
                Op::Drain(4096),
                Op::PeerCompressed { text: true, split: 2, data: b"again again again".to_vec() },
                Op::Close { code: 1000, reason: b"bye".to_vec() },
                Op::Drain(4096),
            ];
            let mut data = vec![role];
            data.extend(w.0);
            data.extend(script(ops, false));
            write("deflate", &format!("{name}-{k}"), &data);
        }
    }

    // utf8_stream: cut count, cuts, text.
    write("utf8_stream", "greek", &with(&[], "κόσμε".as_bytes()));
    write("utf8_stream", "mixed-cut", &with(&[3, 60, 61, 200], "한국어 😀 emoji, ASCII, ümlaut €".as_bytes()));
    write(
        "utf8_stream",
        "invalid",
        &with(&[1, 128], b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"),
    );

    // mask: key, offset, split (u16), data.
    write("mask", "frame", &[&[0x37, 0xfa, 0x21, 0x3d, 0, 0, 3][..], b"Hello, masked world: 0123456789"].concat());
    write("mask", "offset", &[&[1, 2, 3, 4, 3, 0, 17][..], &[0xaa; 70][..]].concat());
    eprintln!("corpus written");
}
