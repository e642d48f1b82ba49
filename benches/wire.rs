//! What the receive and send benchmarks share: payloads, frames encoded by
//! hand (independently of the crates measured), and an in-memory transport
//! that the blocking and async peers read from and write to.

// Included by several benchmarks, each using a part of it.
#![allow(dead_code)]

use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// Message sizes the issue asks for.
pub const SIZES: [usize; 5] = [16, 125, 1 << 10, 16 << 10, 1 << 20];

/// The most a transport read returns, as a socket read into a 64 KiB buffer.
pub const READ_SIZE: usize = 64 << 10;

/// A fixed masking key (the RFC's example).
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Messages per iteration: about 1 MiB of payload, at least 4, at most 4096.
pub fn run_length(size: usize) -> usize {
    ((1 << 20) / size).clamp(4, 4096)
}

/// Whether the messages are text (UTF-8 checked by every receiver) or binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Opcode 1.
    Text,
    /// Opcode 2.
    Binary,
}

impl Kind {
    /// Both kinds, for the benchmark loops.
    pub const ALL: [Kind; 2] = [Kind::Binary, Kind::Text];

    /// The name in benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Binary => "binary",
        }
    }
}

/// A payload of exactly `size` bytes: for text, valid UTF-8 that is mostly
/// ASCII with some two-, three- and four-byte characters (a chat message);
/// for binary, arbitrary bytes.
pub fn payload(kind: Kind, size: usize) -> Vec<u8> {
    match kind {
        Kind::Binary => (0..size).map(|i| (i * 131 + 17) as u8).collect(),
        Kind::Text => {
            let sample = "{\"user\":\"zoë\",\"text\":\"see you at the café ☕ — 안녕 🙂\",\"seq\":42} ";
            let mut s = String::with_capacity(size);
            for c in sample.chars().cycle() {
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

/// Appends the header of an unfragmented frame up to, not including, the
/// masking key: FIN, the opcode, the MASK bit and the shortest length form.
/// The measured baseline encoder's own (`send.rs`), kept apart from the
/// reference encoder that makes test input.
pub fn encode_header(kind: Kind, len: usize, masked: bool, out: &mut Vec<u8>) {
    out.push(match kind {
        Kind::Text => 0x81,
        Kind::Binary => 0x82,
    });
    let mask_bit = if masked { 0x80 } else { 0 };
    if len < 126 {
        out.push(mask_bit | len as u8);
    } else if len <= 0xffff {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// Appends one unfragmented frame with the shared reference encoder
/// (`wsmachine-testkit`); masked with [`KEY`] when `masked` (a client's
/// frame). Input for the receivers, never measured itself.
pub fn encode_frame(kind: Kind, payload: &[u8], masked: bool, out: &mut Vec<u8>) {
    let b0 = match kind {
        Kind::Text => 0x81,
        Kind::Binary => 0x82,
    };
    wsmachine_testkit::append_frame(out, b0, payload, masked.then_some(KEY));
}

/// `count` frames of one message each.
pub fn encode_run(kind: Kind, size: usize, count: usize, masked: bool) -> Vec<u8> {
    let p = payload(kind, size);
    let mut wire = Vec::with_capacity(count * (size + 14));
    for _ in 0..count {
        encode_frame(kind, &p, masked, &mut wire);
    }
    wire
}

/// Where written bytes go: copied into a 256 KiB ring and counted, the copy a
/// kernel makes into a socket's send buffer. Without it a sender that hands
/// the transport borrowed slices (vectored writes) would be measured doing
/// no work at all for its payload, and one that encodes into its own buffer
/// first would be charged for a copy the other never made.
pub struct Sink {
    ring: Box<[u8]>,
    pos: usize,
    /// Bytes written so far.
    pub written: usize,
}

impl Default for Sink {
    fn default() -> Self {
        Sink { ring: vec![0; 256 << 10].into_boxed_slice(), pos: 0, written: 0 }
    }
}

impl Sink {
    /// Takes all of `data`.
    pub fn write(&mut self, mut data: &[u8]) -> usize {
        let n = data.len();
        while !data.is_empty() {
            if self.pos == self.ring.len() {
                self.pos = 0;
            }
            let take = data.len().min(self.ring.len() - self.pos);
            self.ring[self.pos..self.pos + take].copy_from_slice(&data[..take]);
            self.pos += take;
            data = &data[take..];
        }
        self.written += n;
        // The ring is never read: keep the compiler from dropping the copies.
        std::hint::black_box(&self.ring);
        n
    }
}

/// An in-memory transport: reads return `input` over and over, cut at its
/// end and at [`READ_SIZE`] bytes; writes go to a [`Sink`]. A
/// benchmark iteration reads exactly one pass of the input, so each starts
/// where the last ended, and no reader ever waits.
pub struct Wire {
    input: Rc<Vec<u8>>,
    pos: usize,
    /// What was written.
    pub sink: Sink,
}

impl Wire {
    /// A transport that delivers `input` again and again.
    pub fn new(input: Rc<Vec<u8>>) -> Self {
        Wire { input, pos: 0, sink: Sink::default() }
    }

    fn read_into(&mut self, buf: &mut [u8]) -> usize {
        if self.pos == self.input.len() {
            self.pos = 0;
        }
        let n = buf.len().min(READ_SIZE).min(self.input.len() - self.pos);
        buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        n
    }
}

impl io::Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.read_into(buf))
    }
}

impl io::Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(self.sink.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        Ok(bufs.iter().map(|b| self.sink.write(b)).sum())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl tokio::io::AsyncRead for Wire {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // Straight into the reader's (possibly uninitialized) buffer, no zeroing.
        let this = self.get_mut();
        if this.pos == this.input.len() {
            this.pos = 0;
        }
        let n = buf.remaining().min(READ_SIZE).min(this.input.len() - this.pos);
        buf.put_slice(&this.input[this.pos..this.pos + n]);
        this.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for Wire {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(self.get_mut().sink.write(buf)))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let sink = &mut self.get_mut().sink;
        Poll::Ready(Ok(bufs.iter().map(|b| sink.write(b)).sum()))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A single-threaded tokio runtime for the async peers.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().expect("runtime")
}
