//! Connection limits, timers and options, with their defaults.

use std::time::Duration;

/// Limits, timers and options of a [`Connection`](crate::Connection).
///
/// Every limit has a default that suits a general-purpose server; change the
/// fields you need:
///
/// ```
/// use std::time::Duration;
/// use wsmachine::Config;
/// let mut config = Config::default();
/// config.max_message_size = 1 << 20;
/// config.ping_interval = Some(Duration::from_secs(30));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The largest payload of one received data frame. Default: 16 MiB.
    ///
    /// A larger frame fails the connection with close code 1009. Does not
    /// apply in [`streaming`](Self::streaming) mode, where frames are not
    /// buffered. `usize::MAX` turns it off.
    pub max_frame_size: usize,
    /// The largest received message, summed over its fragments. Default: 64 MiB.
    ///
    /// A larger message fails the connection with close code 1009 as soon as
    /// its header announces the excess, before the payload is buffered. The
    /// fragments of an incomplete message are stored contiguously with no
    /// per-fragment overhead, so this bounds the memory held for it. Does not
    /// apply in [`streaming`](Self::streaming) mode. `usize::MAX` turns it
    /// off (the memory held for a message is then what the peer sends).
    pub max_message_size: usize,
    /// The largest HTTP head (request or response line plus headers) of the
    /// opening handshake. Default: 16 KiB. A server answers a larger request
    /// with `431 Request Header Fields Too Large`.
    pub max_head_size: usize,
    /// The most header fields in the opening handshake. Default: 64. A server
    /// answers a request with more with `431 Request Header Fields Too Large`.
    pub max_headers: usize,
    /// The most room [`input_buffer`](crate::Connection::input_buffer)
    /// offers for one read, and so the most one
    /// [`read_from`](crate::Connection::read_from) reads. Default: 64 KiB.
    ///
    /// The room starts at 4 KiB (or this, if smaller) and doubles while
    /// reads fill it, so a quiet connection holds little and a busy one reads
    /// in large pieces. It does not bound what is buffered: a frame that
    /// spans reads is held whole, up to `max_frame_size`. Bytes handed to
    /// [`receive`](crate::Connection::receive) are taken whole whatever this
    /// is. Values below 1 are taken as 1, above `u32::MAX` as `u32::MAX`.
    ///
    /// Smaller reads keep the receive buffer in the CPU's first-level cache.
    /// With the in-memory transport of `benches/receive.rs`, a server's
    /// `read_from` of 16 KiB messages took 0.56× the time with 8 KiB reads.
    /// On loopback TCP, 8 KiB and 16 KiB reads cost an echo server of 64 KiB
    /// messages (8 connections, 2 in flight each, `benches/e2e`) a third to
    /// a half of its throughput (25,400–32,600 against 48,200–57,200
    /// messages/s) and more CPU per message; hence the default.
    pub max_read_size: usize,
    /// The most capacity a receive buffer (the input, a reassembled or
    /// inflated message) keeps once the message that grew it is delivered.
    /// Default: 4 MiB.
    ///
    /// A larger reassembly buffer is released when the next message starts
    /// being read, and a larger input buffer when a small frame follows,
    /// so a peer that sent one large message (an inflated one can reach
    /// `max_message_size` from a few kilobytes) and then trickles bytes
    /// does not keep that memory pinned. Fragmented or compressed messages
    /// larger than this cost an allocation each; single frames of any size
    /// back to back reuse the input buffer. (An idle connection releases
    /// all of its buffers:
    /// [`Connection::shrink_buffers`](crate::Connection::shrink_buffers).)
    pub max_retained_buffer: usize,
    /// Split outgoing messages into frames of at most this many payload bytes.
    /// Default: `None` (one frame per message).
    pub fragment_size: Option<usize>,
    /// Answer every Ping with a Pong carrying the same payload. Default: `true`.
    pub auto_pong: bool,
    /// Output backlog, in bytes, above which automatic Pongs are coalesced.
    /// Default: 16 KiB.
    ///
    /// Every Ping is answered while less than this is waiting to be written.
    /// Beyond it, a new automatic Pong replaces the previous one if that one
    /// is still unwritten and last in the buffer (RFC 6455 §5.5.3 allows
    /// answering only the latest Ping), so a peer's Ping flood cannot grow the
    /// output buffer of a connection whose output is not being written.
    pub auto_pong_backlog: usize,
    /// Deliver data as [`Event::Fragment`](crate::Event::Fragment)s as it
    /// arrives instead of whole messages. Default: `false`.
    ///
    /// A message of any size is then received without buffering it:
    /// `max_frame_size` and `max_message_size` do not apply, and text is still
    /// validated as UTF-8 incrementally (a fragment may end inside a code point).
    /// For a compressed message (permessage-deflate), what one piece of
    /// payload inflates to is bounded by `max_message_size`, so a compression
    /// bomb still cannot allocate beyond it.
    pub streaming: bool,
    /// Time allowed for the opening handshake, from the `now` the
    /// connection was created at until it is open (a server waits for the
    /// request *and* for the application's decision). Default: 10 s.
    pub handshake_timeout: Option<Duration>,
    /// Send a Ping when nothing has been received for this long (heartbeat);
    /// with [`pong_timeout`](Self::pong_timeout), a peer that vanished
    /// without a FIN (a host gone, a NAT entry dropped) is dropped within
    /// 50 s by default instead of held until the transport fails, which
    /// over idle TCP is never. Default: 30 s, in both roles (as Python
    /// websockets does with 20 s). `None` turns the heartbeat off: a
    /// connection that receives nothing is then kept for ever.
    pub ping_interval: Option<Duration>,
    /// After a heartbeat Ping, fail the connection (close code 1006, not
    /// clean) when no Pong arrives within this time. Default: 20 s. Only used
    /// with [`ping_interval`](Self::ping_interval).
    pub pong_timeout: Duration,
    /// Fail the connection ([`Failure::MessageTimeout`](crate::Failure::MessageTimeout),
    /// close code 1008) when a received message is still incomplete this
    /// long after its first byte arrived: a peer cannot hold a message's
    /// memory (up to `max_message_size`) by trickling it, since every byte
    /// counts as activity for the heartbeat. Seen at
    /// [`handle_timeout`](crate::Connection::handle_timeout) calls, so
    /// caught after between one and two timeouts when the caller calls it
    /// only at deadlines. Not in [`streaming`](Self::streaming) mode, where
    /// messages are not buffered. `None` waits for ever. Default: 60 s
    /// (raise it for large messages over slow links).
    pub message_timeout: Option<Duration>,
    /// While open, fail the connection ([`Failure::WriteTimeout`](crate::Failure::WriteTimeout),
    /// close code 1006) when output waits and the transport takes none of it
    /// for this long: the peer stopped reading (its receive window closed),
    /// even if it still sends, so neither the heartbeat nor the
    /// application's messages would notice. The output is then dropped.
    /// Progress is seen at [`handle_timeout`](crate::Connection::handle_timeout)
    /// calls, so a stall is caught after between one and two timeouts when
    /// the caller calls it only at deadlines. `None` waits for ever.
    /// Default: 30 s.
    pub write_timeout: Option<Duration>,
    /// Time allowed for the closing handshake: after we send a Close, for the
    /// peer's Close; and for a client, after the handshake, for the server to
    /// close the transport. Once the connection is over, it is also the time
    /// the output the peer has not taken (our Close, a rejection, a 408) has
    /// to be written, after which it is dropped and the transport may be
    /// closed ([`Connection::should_close_transport`](crate::Connection::should_close_transport)),
    /// so a peer that stops reading cannot hold the connection. `None`
    /// waits for ever. Default: 10 s.
    pub close_timeout: Option<Duration>,
    /// permessage-deflate (RFC 7692): a client offers it, a server accepts
    /// offers of it, with this policy. Default: `None` (not offered, offers
    /// declined), because a compression context costs memory per connection
    /// (see [`deflate`](crate::deflate) for the figures and
    /// [`DeflateConfig::low_memory`](crate::deflate::DeflateConfig::low_memory)).
    #[cfg(feature = "deflate")]
    pub deflate: Option<crate::deflate::DeflateConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            max_head_size: 16 << 10,
            max_headers: 64,
            max_read_size: 64 << 10,
            max_retained_buffer: 4 << 20,
            fragment_size: None,
            auto_pong: true,
            auto_pong_backlog: 16 << 10,
            streaming: false,
            handshake_timeout: Some(Duration::from_secs(10)),
            ping_interval: Some(Duration::from_secs(30)),
            pong_timeout: Duration::from_secs(20),
            write_timeout: Some(Duration::from_secs(30)),
            message_timeout: Some(Duration::from_secs(60)),
            close_timeout: Some(Duration::from_secs(10)),
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }
}

impl Config {
    /// Limits for a server open to anyone, where a peer may be hostile:
    /// messages of at most 1 MiB in frames of at most 1.125 MiB, a head of at most 8 KiB and
    /// 32 fields, at most 256 KiB kept between messages, 30 s to finish a
    /// started message; as by default, a heartbeat Ping after 30 s of
    /// silence (20 s to answer), 30 s for a stalled write and
    /// permessage-deflate off.
    ///
    /// What one connection can be made to hold, by a peer that sends as
    /// fast as the limits allow (`tests/limits.rs`; the fixed state and
    /// the adapters' output bound aside):
    ///
    /// | | [`Config::default`] | `public_server` |
    /// |---|---|---|
    /// | a message in progress (the reassembly and the frame being read) | 64 MiB + 16 MiB, for at most 60 s at a time | 1 MiB + 1.125 MiB, for at most 30 s |
    /// | kept between messages | 4 MiB each for the input and the reassembly | 256 KiB each |
    /// | a silent or vanished peer | dropped within 50 s (heartbeat) | the same |
    /// | a peer that stops reading | dropped within 30–60 s (write timeout) | the same |
    ///
    /// With permessage-deflate on, add its contexts (about 417 KiB with
    /// 15-bit windows, see [`deflate`](crate::deflate)); an inflated message
    /// counts against `max_message_size` like any other.
    ///
    /// The frame limit is an eighth above the message limit because a
    /// compressed frame of incompressible data is larger than its message
    /// (by a few bytes from Python's websockets at zlib's default level, by
    /// 6% at level 1), and peers that compress every message exist: with
    /// both at 1 MiB, a 1 MiB random message from them was refused with
    /// 1009 (`tests/deflate.rs`). An uncompressed frame is still held to
    /// the message limit, which its header is checked against.
    ///
    /// ```
    /// use wsmachine::Config;
    /// let mut config = Config::public_server();
    /// config.max_message_size = 4 << 20; // this service takes larger uploads
    /// ```
    pub fn public_server() -> Self {
        Config {
            max_frame_size: (1 << 20) + (1 << 17),
            max_message_size: 1 << 20,
            max_head_size: 8 << 10,
            max_headers: 32,
            max_retained_buffer: 256 << 10,
            message_timeout: Some(Duration::from_secs(30)),
            write_timeout: Some(Duration::from_secs(30)),
            ..Config::default()
        }
    }
}
