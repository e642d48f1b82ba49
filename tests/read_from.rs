//! Reading straight into the receive buffer: `input_buffer`, `received`
//! and `read_from`. The bytes must come out as they do through `receive`
//! (RFC 6455 §5: frames cut anywhere by the transport), with no copy and
//! with the room sized to the traffic.

mod common;
use std::io::{self, Read};

use common::*;
use wsmachine::{CloseCode, Config, Connection, Failure, MessageKind};

/// A transport that hands out `data` in reads of at most `piece` bytes, then
/// `WouldBlock` once per `block_every` reads, then end of file.
struct Reader {
    data: Vec<u8>,
    pos: usize,
    piece: usize,
    reads: usize,
    block_every: usize,
}

impl Read for Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads += 1;
        if self.block_every > 0 && self.reads.is_multiple_of(self.block_every) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.piece).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Client frames for `count` binary messages of `size` bytes, then a Close.
fn traffic(count: usize, size: usize) -> (Vec<u8>, Vec<Ev>) {
    let (mut client, _) = pair();
    let mut want = Vec::new();
    for i in 0..count {
        let m: Vec<u8> = (0..size).map(|j| (i * 7 + j) as u8).collect();
        send(&mut client, MessageKind::Binary, &m).unwrap();
        want.push(Ev::Binary(m));
    }
    client.sender().close(t0(), CloseCode::NORMAL, "bye").unwrap();
    (take_output(&mut client), want)
}

#[test]
fn rfc6455_5_read_from_delivers_what_receive_delivers() {
    for (count, size) in [(200, 16), (50, 1000), (3, 100_000)] {
        let (bytes, want) = traffic(count, size);
        for (piece, block_every) in [(1, 0), (7, 3), (4096, 0), (usize::MAX, 2)] {
            let mut server = open_server(Config::default());
            let mut reader = Reader { data: bytes.clone(), pos: 0, piece, reads: 0, block_every };
            let mut got = Vec::new();
            loop {
                match server.read_from(&mut reader) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => panic!("{e}"),
                }
                got.extend(events(&mut server));
                assert!(reader.reads < 10_000_000);
            }
            got.extend(events(&mut server));
            let closed = got.pop().expect("the close");
            assert!(matches!(closed, Ev::Closed { code: CloseCode::NORMAL, clean: true, .. }), "{closed:?}");
            assert_eq!(got, want, "{count} x {size} B in reads of {piece}");
        }
    }
}

/// Reads a 1 MiB binary frame into the rooms `server` offers, each read
/// filling its room, checks that the message comes out whole (and nothing
/// before it), and returns the sizes of the rooms.
fn rooms_for_a_large_frame(server: &mut Connection) -> Vec<usize> {
    let frame = client_frame(0x82, &[5; 1 << 20]);
    let mut sizes = Vec::new();
    let mut fed = 0;
    while fed < frame.len() {
        let room = server.input_buffer();
        sizes.push(room.len());
        let n = room.len().min(frame.len() - fed);
        room[..n].copy_from_slice(&frame[fed..fed + n]);
        server.advance_input(n);
        fed += n;
        if fed < frame.len() {
            assert!(server.poll_event().is_none());
        }
    }
    assert!(matches!(events(server).as_slice(), [Ev::Binary(b)] if b.len() == 1 << 20));
    sizes
}

#[test]
fn the_room_grows_while_reads_fill_it_and_is_released_when_idle() {
    let mut server = open_server(Config::default());
    let sizes = rooms_for_a_large_frame(&mut server);
    assert_eq!(sizes[0], 4 << 10, "a fresh connection offers 4 KiB");
    assert_eq!(*sizes.iter().max().unwrap(), 64 << 10, "full reads double the room up to 64 KiB");
    assert!(sizes.windows(2).take(4).all(|w| w[1] == 2 * w[0]), "{sizes:?}");
    server.shrink_buffers();
    assert_eq!(server.buffer_capacity(), 0);
    assert_eq!(server.input_buffer().len(), 4 << 10, "and starts small again");
}

#[test]
fn max_read_size_bounds_the_room() {
    for (max, first) in [(16 << 10, 4 << 10), (4 << 10, 4 << 10), (1000, 1000), (1, 1), (0, 1), (256 << 10, 4 << 10)] {
        let mut config = Config::default();
        config.max_read_size = max;
        let sizes = rooms_for_a_large_frame(&mut open_server(config));
        assert_eq!(sizes[0], first, "max_read_size {max}: the first room");
        assert_eq!(*sizes.iter().max().unwrap(), max.max(1), "max_read_size {max}: rooms grow to it");
        assert!(sizes.iter().all(|&s| s >= 1), "never an empty room (a read of 0 is the end of file)");
    }
}

#[test]
fn max_read_size_bounds_what_read_from_reads() {
    let (bytes, want) = traffic(20, 3000);
    let mut config = Config::default();
    config.max_read_size = 1500;
    let mut server = open_server(config);
    let mut reader = Reader { data: bytes, pos: 0, piece: usize::MAX, reads: 0, block_every: 0 };
    let mut got = Vec::new();
    loop {
        let before = reader.pos;
        let n = server.read_from(&mut reader).unwrap();
        assert!(n <= 1500 && reader.pos - before == n, "read {n}");
        got.extend(events(&mut server));
        if n == 0 {
            break;
        }
    }
    let closed = got.pop().expect("the close");
    assert!(matches!(closed, Ev::Closed { clean: true, .. }), "{closed:?}");
    assert_eq!(got, want);
}

#[test]
fn a_read_of_zero_bytes_is_the_end_of_file() {
    let mut server = open_server(Config::default());
    let mut reader = Reader { data: client_frame(0x81, b"cut"), pos: 0, piece: 3, reads: 0, block_every: 0 };
    while server.read_from(&mut reader).unwrap() > 0 {}
    // The message was cut: RFC 6455 §7.1.5, the connection closes with 1006.
    let evs = events(&mut server);
    assert!(
        matches!(
            evs.last(),
            Some(Ev::Closed { code: CloseCode::ABNORMAL, clean: false, failure: Some(Failure::UnexpectedEof), .. })
        ),
        "{evs:?}"
    );
}

#[test]
fn bytes_read_after_the_connection_closed_are_dropped() {
    let mut server = open_server(Config::default());
    let mut bytes = client_frame(0x88, &1000u16.to_be_bytes());
    bytes.extend(client_frame(0x81, b"too late"));
    let room = server.input_buffer();
    room[..bytes.len()].copy_from_slice(&bytes);
    server.advance_input(bytes.len());
    let evs = events(&mut server);
    assert!(matches!(evs.as_slice(), [Ev::Closed { clean: true, .. }]), "{evs:?}");
    let room = server.input_buffer();
    room[..bytes.len()].copy_from_slice(&bytes);
    server.advance_input(bytes.len());
    assert_eq!(events(&mut server), vec![]);
}

#[test]
fn received_is_capped_at_the_room() {
    let mut server = open_server(Config::default());
    let len = server.input_buffer().len();
    // Claiming more than the room holds takes only the room (all zeros here:
    // a frame header of opcode 0, a continuation without a message: 1002).
    server.advance_input(len + 1000);
    let evs = events(&mut server);
    assert!(matches!(evs.last(), Some(Ev::Closed { code: CloseCode::PROTOCOL_ERROR, .. })), "{evs:?}");
}
