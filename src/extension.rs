//! Extensions (RFC 6455 §9): agreed in the opening handshake, an extension
//! may give meaning to the RSV bits and transform each message's payload.
//!
//! The connection knows extensions only through this file, as wsproto and
//! Python websockets do: at the handshake, [`offers`] (a client's),
//! [`accept`] (a server's answer to the request's offers) and
//! [`check_response`] (a client's check of the answer) negotiate the
//! extensions that [`Config`] enables, and yield an [`Agreed`]; once the
//! connection is open, the sending half holds its [`Encoder`] and the
//! receiving half its [`Decoder`]. permessage-deflate (`deflate.rs`) is the
//! one extension this crate has. Another would implement the two traits and
//! add itself to the functions here, without touching the connection, the
//! sender or the receiver; more than one at a time would make `Agreed` hold
//! a chain, applied in the order of the response (§9.1).
//!
//! The traits are crate-private: the interface can change with the next
//! extension without a breaking release.
//!
//! Transforms are boxed trait objects. A connection without an extension
//! pays one `Option` test per message, as it did when permessage-deflate
//! was wired in with `cfg` attributes; with one, a virtual call per message
//! is nothing beside compressing it (`benches/send.rs`, `benches/receive.rs`).

use core::fmt;

use crate::config::Config;
use crate::error::{HandshakeError, ProtocolError};
use crate::handshake::client::Response;
use crate::handshake::server::Request;
use crate::message::MessageKind;

/// Transforms outgoing messages.
pub(crate) trait Encoder: fmt::Debug + Send {
    /// Whether a whole message of `len` bytes is transformed (one that is
    /// not goes out as it is, without a copy when it can).
    fn encodes(&self, kind: MessageKind, len: usize) -> bool;

    /// Transforms a whole message and returns its new payload and the RSV
    /// bits of its first frame, or `None` when the message is better sent
    /// as it is (the encoder then holds no state from it). The payload is
    /// borrowed from the encoder, which reuses its buffer for the next
    /// message.
    fn encode(&mut self, message: &[u8]) -> Option<(&[u8], u8)>;

    /// Releases buffer memory that holds no data.
    fn shrink(&mut self);

    /// Heap bytes held by buffers (not counting a compression context).
    fn capacity(&self) -> usize;
}

/// Transforms incoming messages that carry its RSV bits.
pub(crate) trait Decoder: fmt::Debug + Send {
    /// The RSV bits that mark a transformed message. They are allowed only
    /// on the first frame of a data message (RFC 7692 §6.1 for
    /// permessage-deflate; any per-message extension has the same rule).
    fn rsv(&self) -> u8;

    /// Decodes the next piece of a marked message's payload, appending to
    /// `out`, which must not grow beyond `limit` bytes (the message size
    /// limit: a peer's expansion bomb fails with 1009, not a large
    /// allocation). `end`: the message's last piece; `empty`: the whole
    /// message's encoded payload was empty.
    fn decode(
        &mut self,
        piece: &[u8],
        end: bool,
        empty: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), ProtocolError>;
}

/// What the handshake agreed, as the connection reports it
/// ([`Event::Open`](crate::Event::Open), [`Connection::deflate`](crate::Connection::deflate)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Agreement {
    #[cfg(feature = "deflate")]
    pub(crate) deflate: Option<crate::deflate::DeflateParams>,
}

/// An agreement and the transforms that carry it out.
#[derive(Debug, Default)]
pub(crate) struct Agreed {
    pub(crate) agreement: Agreement,
    pub(crate) encoder: Option<Box<dyn Encoder>>,
    pub(crate) decoder: Option<Box<dyn Decoder>>,
    /// Server: the `Sec-WebSocket-Extensions` value to answer with.
    pub(crate) response: Option<String>,
}

impl Agreed {
    /// The transforms for an agreement made elsewhere (a handshake this
    /// crate did not do), in `client` or server role.
    pub(crate) fn from_agreement(agreement: Agreement, config: &Config, client: bool) -> Agreed {
        #[cfg(feature = "deflate")]
        if let Some(params) = agreement.deflate {
            let policy = config.deflate.clone().unwrap_or_default();
            let (encoder, decoder) = crate::deflate::transforms(&params, &policy, client);
            return Agreed { agreement, encoder: Some(encoder), decoder: Some(decoder), response: None };
        }
        let _ = (config, client);
        Agreed { agreement, ..Agreed::default() }
    }
}

/// Client: the offers to put in the request's `Sec-WebSocket-Extensions`.
pub(crate) fn offers(config: &Config) -> Vec<String> {
    #[cfg(feature = "deflate")]
    if let Some(policy) = &config.deflate {
        return vec![policy.offer()];
    }
    let _ = config;
    Vec::new()
}

/// Server: what to agree to among the request's offers: for each extension
/// `config` enables, the first of its offers that the policy can honour
/// (RFC 7692 §7.1; invalid offers are declined, not an error).
pub(crate) fn accept(request: &Request<'_>, config: &Config) -> Agreed {
    #[cfg(feature = "deflate")]
    if let Some(accepted) =
        config.deflate.as_ref().and_then(|policy| crate::deflate::accept_first(request.extensions(), policy))
    {
        let agreement = Agreement { deflate: Some(accepted.params) };
        return Agreed { response: Some(accepted.response), ..Agreed::from_agreement(agreement, config, false) };
    }
    let _ = (request, config);
    Agreed::default()
}

/// Client: checks the extensions a server's `101` agrees to. Each must be
/// one we offered, at most once, with parameters we can honour (RFC 6455
/// §4.1, item 5 of the client's checks; RFC 7692 §7.1). A response to a
/// hand-written offer (with
/// [`ClientRequest::extension`](crate::ClientRequest::extension)) is checked
/// against the default policy.
pub(crate) fn check_response(response: &Response<'_>, config: &Config) -> Result<Agreed, HandshakeError> {
    #[cfg(feature = "deflate")]
    {
        use crate::deflate::EXTENSION_NAME;
        let mut accepted = response
            .headers()
            .tokens("sec-websocket-extensions")
            .map(crate::handshake::ExtensionOffer::new)
            .filter(|e| e.name().eq_ignore_ascii_case(EXTENSION_NAME));
        if let Some(ext) = accepted.next() {
            if accepted.next().is_some() {
                return Err(HandshakeError::InvalidExtension("permessage-deflate accepted twice".into()));
            }
            let policy = config.deflate.clone().unwrap_or_default();
            let params = crate::deflate::check_response(&ext, &policy)
                .map_err(|e| HandshakeError::InvalidExtension(e.to_string()))?;
            return Ok(Agreed::from_agreement(Agreement { deflate: Some(params) }, config, true));
        }
    }
    let _ = (response, config);
    Ok(Agreed::default())
}

#[cfg(test)]
mod tests {
    //! The interface carries an extension the core has never heard of: a
    //! toy that reverses each message and marks it with RSV2.
    use super::*;
    use crate::close::CloseCode;
    use crate::connection::{Connection, Established, Role};
    use crate::event::Event;
    use crate::random::SeededRandom;
    use std::time::Instant;

    const RSV2: u8 = 0b010;

    #[derive(Debug, Default)]
    struct Reverse(Vec<u8>);

    impl Encoder for Reverse {
        fn encodes(&self, _kind: MessageKind, len: usize) -> bool {
            len >= 2
        }
        fn encode(&mut self, message: &[u8]) -> Option<(&[u8], u8)> {
            self.0.clear();
            self.0.extend(message.iter().rev());
            Some((&self.0, RSV2))
        }
        fn shrink(&mut self) {
            self.0 = Vec::new();
        }
        fn capacity(&self) -> usize {
            self.0.capacity()
        }
    }

    impl Decoder for Reverse {
        fn rsv(&self) -> u8 {
            RSV2
        }
        fn decode(
            &mut self,
            piece: &[u8],
            end: bool,
            _: bool,
            out: &mut Vec<u8>,
            limit: usize,
        ) -> Result<(), ProtocolError> {
            // Reversal needs the whole message: gather, then turn it round.
            self.0.extend_from_slice(piece);
            if end {
                if self.0.len() > limit {
                    return Err(ProtocolError::MessageTooLarge { len: self.0.len() as u64, limit });
                }
                out.extend(self.0.iter().rev());
                self.0.clear();
            }
            Ok(())
        }
    }

    fn with_reverse(role: Role) -> Connection {
        let config = Config::default();
        let mut conn = Connection::established_with_random(
            Instant::now(),
            Established::new(role),
            config,
            SeededRandom::from_seed([7; 32]),
        );
        conn.enable_extensions(Agreed {
            encoder: Some(Box::new(Reverse::default())),
            decoder: Some(Box::new(Reverse::default())),
            ..Agreed::default()
        });
        conn
    }

    /// RFC 6455 §9 and §5.2: an agreed extension's RSV bit marks the
    /// messages it transformed; the peer's decoder turns them back.
    #[test]
    fn rfc6455_9_an_unknown_extension_plugs_in() {
        let (mut server, mut client) = (with_reverse(Role::Server), with_reverse(Role::Client));
        server.sender().send_text("hello").unwrap();
        server.sender().send_binary(b"x").unwrap(); // below the encoder's threshold
        let wire = server.output_buffer().to_vec();
        assert_eq!(&wire[..7], b"\xa1\x05olleh", "RSV2 set, payload reversed");
        assert_eq!(&wire[7..], b"\x82\x01x", "as it is");
        client.receive(&wire);
        assert!(matches!(client.poll_event(), Some(Event::Text("hello"))));
        assert!(matches!(client.poll_event(), Some(Event::Binary(b"x"))));
        // And the other way, masked.
        client.sender().send_binary(b"abc").unwrap();
        let wire = client.output_buffer().to_vec();
        assert_eq!(wire[0], 0xa2);
        server.receive(&wire);
        assert!(matches!(server.poll_event(), Some(Event::Binary(b"abc"))));
    }

    /// RFC 6455 §5.2 with RFC 7692 §6.1's rule: the extension's bit on a
    /// continuation frame fails the connection with 1002.
    #[test]
    fn rfc6455_5_2_extension_bit_only_on_a_first_frame() {
        let mut client = with_reverse(Role::Client);
        client.receive(b"\x21\x01a\xa0\x01b");
        match client.poll_event() {
            Some(Event::Closed(closed)) => assert_eq!(closed.code, CloseCode::PROTOCOL_ERROR),
            other => panic!("{other:?}"),
        }
    }
}
