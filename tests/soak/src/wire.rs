//! The bytes a hostile peer writes by hand, and a reader of what the server
//! sends back until it closes.
//!
//! Frames are made by the testkit's reference encoder (independent of the
//! crate under test); the reader decodes a server's unmasked frames only as
//! far as the soak needs: opcodes, Ping arrivals and the Close code.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

/// The opcodes the soak writes and reads (RFC 6455 §5.2).
pub const CONTINUATION: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
/// The FIN bit of a frame's first byte.
pub const FIN: u8 = 0x80;
/// RSV1: the frame is compressed (RFC 7692 §6).
pub const RSV1: u8 = 0x40;

/// A client frame: masked with a key that changes with each frame.
pub fn frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    wsmachine_testkit::frame(b0, payload, Some(next_key()))
}

/// [`frame`], appended to `out`.
pub fn append_frame(out: &mut Vec<u8>, b0: u8, payload: &[u8]) {
    wsmachine_testkit::append_frame(out, b0, payload, Some(next_key()));
}

fn next_key() -> [u8; 4] {
    use std::sync::atomic::{AtomicU32, Ordering};
    static KEY: AtomicU32 = AtomicU32::new(0x9e37_79b9);
    KEY.fetch_add(0x6d2b_79f5, Ordering::Relaxed).to_le_bytes()
}

/// The opening handshake's request (RFC 6455 §4.1), optionally offering
/// permessage-deflate.
pub fn request(addr: SocketAddr, deflate: bool) -> Vec<u8> {
    let extension = if deflate { "Sec-WebSocket-Extensions: permessage-deflate\r\n" } else { "" };
    format!(
        "GET /soak HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extension}\r\n"
    )
    .into_bytes()
}

/// How long a hostile peer waits for a connection and its 101.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a hostile peer could not start: the server was out of descriptors
/// (the fd hog) or had too many connections; the attempt is skipped, not a
/// failure.
#[derive(Debug)]
pub struct Unavailable;

/// Connects and completes the handshake; returns the stream and any bytes
/// that came after the 101's head. `Err(Unavailable)` when the server did
/// not answer in time or refused; a wrong answer is `Ok(Err(_))`.
pub async fn open(addr: SocketAddr, deflate: bool) -> Result<Result<(TcpStream, Vec<u8>), String>, Unavailable> {
    let attempt = async {
        let mut tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        tcp.write_all(&request(addr, deflate)).await?;
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = tcp.read(&mut buf).await?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed before the 101"));
            }
            head.extend_from_slice(&buf[..n]);
            if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                let rest = head.split_off(end + 4);
                return Ok((tcp, head, rest));
            }
        }
    };
    let (tcp, head, rest) = match timeout(CONNECT_TIMEOUT, attempt).await {
        Err(_) => return Err(Unavailable),
        Ok(Err(_)) => return Err(Unavailable),
        Ok(Ok(opened)) => opened,
    };
    let head = String::from_utf8_lossy(&head);
    if head.starts_with("HTTP/1.1 503") {
        return Err(Unavailable);
    }
    if !head.starts_with("HTTP/1.1 101") {
        return Ok(Err(format!("expected a 101, got {:?}", head.lines().next().unwrap_or(""))));
    }
    if deflate != head.to_ascii_lowercase().contains("permessage-deflate") {
        return Ok(Err(format!("permessage-deflate offered: {deflate}, answer: {head:?}")));
    }
    Ok(Ok((tcp, rest)))
}

/// What a peer saw of the server until the transport closed.
#[derive(Debug, Default)]
pub struct Closed {
    /// The code of the server's Close frame, if one came (0: a Close with
    /// no code).
    pub code: Option<u16>,
    /// When the server's Pings arrived.
    pub pings: Vec<Instant>,
    /// The first line of an HTTP response, for a peer that never got a 101.
    pub status: Option<String>,
}

/// Reads everything the server sends until end of file or a reset; `Err`
/// if the transport is still open at `deadline`.
pub async fn read_until_closed(
    tcp: &mut (impl AsyncReadExt + Unpin),
    mut pending: Vec<u8>,
    http: bool,
    deadline: Instant,
) -> Result<Closed, String> {
    let mut closed = Closed::default();
    let mut buf = vec![0u8; 64 << 10];
    let mut http = http;
    loop {
        if http && let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..end]).into_owned();
            closed.status = head.lines().next().map(str::to_owned);
            pending.drain(..end + 4);
            http = false;
        }
        if !http {
            parse_frames(&mut pending, &mut closed);
        }
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Err(_) => return Err("still open at its deadline".into()),
            Ok(Ok(0)) => return Ok(closed),
            // A reset is a close (the server may abort a peer that stopped reading).
            Ok(Err(_)) => return Ok(closed),
            Ok(Ok(n)) => pending.extend_from_slice(&buf[..n]),
        }
    }
}

/// Takes the complete server frames off the front of `pending`.
fn parse_frames(pending: &mut Vec<u8>, closed: &mut Closed) {
    let mut at = 0;
    loop {
        let rest = &pending[at..];
        if rest.len() < 2 {
            break;
        }
        let (len, header) = match rest[1] & 0x7f {
            126 if rest.len() >= 4 => (u16::from_be_bytes([rest[2], rest[3]]) as usize, 4),
            127 if rest.len() >= 10 => (u64::from_be_bytes(rest[2..10].try_into().unwrap()) as usize, 10),
            126 | 127 => break,
            n => (n as usize, 2),
        };
        if rest.len() < header + len {
            break;
        }
        let payload = &rest[header..header + len];
        match rest[0] & 0x0f {
            PING => closed.pings.push(Instant::now()),
            CLOSE => {
                closed.code = Some(if payload.len() >= 2 { u16::from_be_bytes([payload[0], payload[1]]) } else { 0 })
            }
            _ => {}
        }
        at += header + len;
    }
    pending.drain(..at);
}

/// The server's end of the connection from `peer` is still held by a
/// process (the server): its line in `/proc/net/tcp` has an inode. Once
/// the server closes its descriptor the socket is orphaned (inode 0) or
/// gone. This sees the close of a peer that does not read, whose own socket
/// would show it only once it reads everything buffered.
pub fn held_by_server(server: SocketAddr, peer: SocketAddr) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else { return false };
    let port = |field: &str| field.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
    table.lines().skip(1).any(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        f.len() > 9 && port(f[1]) == Some(server.port()) && port(f[2]) == Some(peer.port()) && f[9] != "0"
    })
}

/// A compressed message body for permessage-deflate (RFC 7692 §7.2.1): raw
/// DEFLATE, flushed, with the final empty block's `00 00 ff ff` removed.
pub fn deflate(data: &[u8]) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    let mut z = Compress::new(Compression::best(), false);
    let mut out = Vec::with_capacity(data.len() / 512 + 64);
    let mut input = data;
    loop {
        out.reserve(64 << 10);
        let before = z.total_in();
        z.compress_vec(input, &mut out, FlushCompress::Sync).expect("deflate");
        input = &input[(z.total_in() - before) as usize..];
        if input.is_empty() && out.ends_with(&[0, 0, 0xff, 0xff]) {
            break;
        }
    }
    out.truncate(out.len() - 4);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deflate_round_trips() {
        let data = vec![0u8; 1 << 20];
        let mut body = deflate(&data);
        assert!(body.len() < 4096, "{} bytes", body.len());
        body.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let mut back = Vec::with_capacity(2 << 20);
        flate2::Decompress::new(false).decompress_vec(&body, &mut back, flate2::FlushDecompress::Sync).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn frames_are_parsed_across_reads() {
        let mut closed = Closed::default();
        let mut bytes = wsmachine_testkit::frame(FIN | PING, b"hb", None);
        bytes.extend(wsmachine_testkit::frame(FIN | BINARY, &[7; 300], None));
        bytes.extend(wsmachine_testkit::frame(FIN | CLOSE, &1008u16.to_be_bytes(), None));
        let mut pending = bytes[..10].to_vec();
        parse_frames(&mut pending, &mut closed);
        assert_eq!((closed.pings.len(), closed.code), (1, None));
        pending.extend_from_slice(&bytes[10..]);
        parse_frames(&mut pending, &mut closed);
        assert_eq!((closed.code, pending.len()), (Some(1008), 0));
    }
}
