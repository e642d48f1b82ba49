//! No heap allocation per message once the buffers have grown to the
//! traffic: receiving single-frame messages (RFC 6455 §5.4, unmasked in
//! place, §5.3), answering Pings (§5.5.2), and sending messages of either
//! kind in either role; and a fixed few allocations per opening handshake
//! (§4), each one named. A counting global allocator counts the allocations
//! this thread makes inside `counted` (`wsmachine_testkit::allocations`).

mod common;
use common::*;
use wsmachine::{Config, Connection, Event, MessageKind};
use wsmachine_testkit::{Counting, allocations as counted};

#[global_allocator]
static GLOBAL: Counting = Counting;

const SIZES: [usize; 5] = [16, 125, 1 << 10, 16 << 10, 1 << 20];

fn payload(kind: MessageKind, size: usize) -> Vec<u8> {
    match kind {
        MessageKind::Binary => (0..size).map(|i| (i * 31) as u8).collect(),
        MessageKind::Text => {
            let mut s = String::new();
            for c in "héllo wörld ☕ 🙂 ".chars().cycle() {
                if s.len() + c.len_utf8() > size {
                    break;
                }
                s.push(c);
            }
            while s.len() < size {
                s.push(' ');
            }
            s.into_bytes()
        }
    }
}

/// Feeds `wire` in 64 KiB reads and polls every event, counting messages
/// and Pings; returns (messages, pings).
fn receive_all(conn: &mut Connection, wire: &[u8]) -> (usize, usize) {
    let (mut messages, mut pings) = (0, 0);
    for read in wire.chunks(64 << 10) {
        conn.receive(read);
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Text(t) => messages += usize::from(!t.is_empty()),
                Event::Binary(b) => messages += usize::from(!b.is_empty()),
                Event::Ping(_) => pings += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    // What a transport write of everything pending does.
    let n = conn.output_buffer().len();
    conn.advance_output(n);
    (messages, pings)
}

/// §5.4, §5.5.2: a run of single-frame messages with Pings between them,
/// received twice: the second time (buffers grown) allocates nothing.
#[test]
fn receiving_single_frame_messages_allocates_nothing() {
    for kind in [MessageKind::Binary, MessageKind::Text] {
        for size in SIZES {
            let data = payload(kind, size);
            let n = ((4 << 20) / size).clamp(4, 1000);
            // Client → server (masked) and server → client (unmasked).
            let (mut client, mut server) = pair_with(Config::default(), Config::default());
            for i in 0..n {
                send(&mut client, kind, &data).unwrap();
                if i % 10 == 0 {
                    client.sender().ping(b"hb").unwrap();
                }
                send(&mut server, kind, &data).unwrap();
            }
            let to_server = take_output(&mut client);
            let to_client = take_output(&mut server);
            let pings = n.div_ceil(10);
            assert_eq!(receive_all(&mut server, &to_server), (n, pings));
            assert_eq!(receive_all(&mut client, &to_client), (n, 0));
            let mut got = (0, 0);
            let allocs = counted(|| got = receive_all(&mut server, &to_server));
            assert_eq!(got, (n, pings));
            assert_eq!(allocs, 0, "server receiving {n} {kind:?} messages of {size} B");
            let allocs = counted(|| got = receive_all(&mut client, &to_client));
            assert_eq!(got, (n, 0));
            assert_eq!(allocs, 0, "client receiving {n} {kind:?} messages of {size} B");
        }
    }
}

/// §5.1, §5.3: sending messages, masked with a fresh key per frame by the
/// client, into an output buffer that is written out after each batch.
#[test]
fn sending_messages_allocates_nothing() {
    for kind in [MessageKind::Binary, MessageKind::Text] {
        for size in SIZES {
            let data = payload(kind, size);
            let (mut client, mut server) = pair_with(Config::default(), Config::default());
            for conn in [&mut client, &mut server] {
                let batch = |conn: &mut Connection| {
                    for _ in 0..8 {
                        send(conn, kind, &data).unwrap();
                    }
                    let n = conn.output_buffer().len();
                    assert!(n > 8 * size);
                    conn.advance_output(n);
                };
                batch(conn);
                let allocs = counted(|| batch(conn));
                assert_eq!(allocs, 0, "{:?} sending {kind:?} messages of {size} B", conn.role());
            }
        }
    }
}

/// `send_to` a transport that takes everything (a sink that only counts):
/// a server writes header and payload from where they are, so even the
/// first message allocates nothing; a client masks into its output buffer,
/// which is grown once.
#[test]
fn sending_to_a_transport_allocates_nothing() {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
            let n = bufs.iter().map(|b| b.len()).sum();
            self.0 += n;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    for kind in [MessageKind::Binary, MessageKind::Text] {
        for size in SIZES {
            let data = payload(kind, size);
            let (mut client, mut server) = pair_with(Config::default(), Config::default());
            let mut sink = Counter(0);
            let allocs = counted(|| {
                for _ in 0..8 {
                    send_to(&mut server, kind, &data, &mut sink).unwrap();
                }
            });
            assert_eq!(allocs, 0, "server sending {kind:?} messages of {size} B");
            assert!(sink.0 > 8 * size);
            send_to(&mut client, kind, &data, &mut sink).unwrap();
            let allocs = counted(|| {
                for _ in 0..8 {
                    send_to(&mut client, kind, &data, &mut sink).unwrap();
                }
            });
            assert_eq!(allocs, 0, "client sending {kind:?} messages of {size} B");
        }
    }
}

/// The counter sees allocations, so the tests above can fail.
#[test]
fn the_counter_counts() {
    assert_eq!(counted(|| drop(std::hint::black_box(vec![1u8; 10]))), 1);
    let (mut client, mut server) = pair_with(Config::default(), Config::default());
    // A fragmented message is reassembled: its buffer is allocated the first time.
    client.sender().begin_message(MessageKind::Binary).unwrap();
    client.sender().send_fragment(b"ab").unwrap();
    client.sender().finish_message(b"cd").unwrap();
    transfer(&mut client, &mut server);
    let allocs = counted(|| {
        assert!(matches!(server.poll_event(), Some(Event::Binary(b"abcd"))));
        assert!(server.poll_event().is_none());
    });
    assert!(allocs >= 1);
}

/// The opening handshake of a server (RFC 6455 §4.2): a fixed, small number
/// of allocations per connection, whatever the request's size.
#[test]
fn a_server_handshake_allocates_a_fixed_few_times() {
    let request = "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
        Origin: https://example.com\r\nUser-Agent: test\r\nCookie: a=1\r\n\r\n";
    let mut server = Connection::server(t0(), Config::default());
    let steps = [
        counted(|| server.receive(request.as_bytes())),
        counted(|| assert!(matches!(server.poll_event(), Some(Event::Request(_))))),
        counted(|| server.accept(t0(), wsmachine::Accept::new()).unwrap()),
        counted(|| assert!(matches!(server.poll_event(), Some(Event::Open(_))))),
    ];
    assert!(server.output_buffer().starts_with(b"HTTP/1.1 101 "));
    // The receive buffer; the request's bytes, its list of fields and the
    // box that holds them until the decision; the response.
    assert_eq!(steps, [1, 3, 1, 0], "allocations of each step");
}

/// The opening handshake of a client (RFC 6455 §4.1), from the request to
/// the checked response.
#[test]
fn a_client_handshake_allocates_a_fixed_few_times() {
    let request = wsmachine::ClientRequest::new("ws://example.com/chat").unwrap();
    let (mut client, steps_before) = {
        let mut made = None;
        let n = counted(|| made = Some(Connection::client_with_random(t0(), request, Config::default(), seeded(7))));
        (made.unwrap(), n)
    };
    let written = String::from_utf8(take_output(&mut client)).unwrap();
    let key = written.lines().find_map(|l| l.strip_prefix("Sec-WebSocket-Key: ")).unwrap();
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        wsmachine::handshake::accept_key(key.as_bytes())
    );
    let steps = [
        steps_before,
        counted(|| client.receive(response.as_bytes())),
        counted(|| assert!(matches!(client.poll_event(), Some(Event::Open(_))))),
    ];
    // The source of masking keys, the output (the request), the handshake
    // state; the receive buffer; the response's bytes, its list of fields
    // and the box that keeps them for `Event::Open`.
    assert_eq!(steps, [3, 1, 3], "allocations of each step");
}
