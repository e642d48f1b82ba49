//! Message kinds and prepared (encode-once) messages.

use crate::frame::{FrameHeader, OpCode};

/// The type of a data message (RFC 6455 §5.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// UTF-8 text.
    Text,
    /// Arbitrary bytes.
    Binary,
}

impl MessageKind {
    /// The opcode of a message's first frame.
    pub fn opcode(self) -> OpCode {
        match self {
            MessageKind::Text => OpCode::Text,
            MessageKind::Binary => OpCode::Binary,
        }
    }
}

/// A message encoded once as a server frame, to send to many connections
/// (a broadcast to a room) without encoding it again for each.
///
/// Server connections copy the frame bytes as they are. A client must mask
/// every frame with a fresh key, so a client connection encodes the payload
/// again (a prepared message still works there, it just saves nothing).
///
/// ```
/// use std::time::Instant;
/// use wsmachine::{Config, Connection, Established, PreparedMessage, Role};
/// let msg = PreparedMessage::text("tick");
/// let now = Instant::now();
/// let mut peers: Vec<Connection> = (0..3)
///     .map(|_| Connection::established(now, Established::new(Role::Server), Config::default()).unwrap())
///     .collect();
/// for peer in &mut peers {
///     peer.sender().send_prepared(&msg).unwrap();
///     assert_eq!(peer.output_buffer(), b"\x81\x04tick");
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedMessage {
    kind: MessageKind,
    frame: Vec<u8>,
    header_len: usize,
}

impl PreparedMessage {
    /// A text message.
    pub fn text(text: &str) -> Self {
        Self::new(MessageKind::Text, text.as_bytes())
    }

    /// A binary message.
    pub fn binary(data: &[u8]) -> Self {
        Self::new(MessageKind::Binary, data)
    }

    fn new(kind: MessageKind, payload: &[u8]) -> Self {
        let header =
            FrameHeader { fin: true, rsv: 0, opcode: kind.opcode(), mask: None, payload_len: payload.len() as u64 };
        let mut frame = Vec::with_capacity(header.encoded_len() + payload.len());
        header.append_to(&mut frame);
        let header_len = frame.len();
        frame.extend_from_slice(payload);
        PreparedMessage { kind, frame, header_len }
    }

    /// The message kind.
    pub fn kind(&self) -> MessageKind {
        self.kind
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        &self.frame[self.header_len..]
    }

    /// The encoded (unmasked, single) frame.
    pub fn frame(&self) -> &[u8] {
        &self.frame
    }
}
