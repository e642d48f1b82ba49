//! The opening handshake as a connection drives it (RFC 6455 §4.1, §4.2):
//! a client's request sent and its response awaited, or a server's request
//! awaited, checked, and answered as the application decides.
//!
//! [`Opening`] is a value the connection owns and calls: it reads the
//! received bytes it is lent, writes the handshake's bytes into the output
//! it is lent, and says what happened as an [`Outcome`]. It never reaches
//! into the connection; the connection moves its own state (frames, timers,
//! the Close) on each outcome.

use crate::config::Config;
use crate::error::{DecisionError, HandshakeError};
use crate::extension::{self, Agreed};
use crate::handshake::client::{ClientRequest, Response, check_response};
use crate::handshake::server::{self, Accept, Reject, Request};
use crate::handshake::{Head, HeadScanner};
use crate::output::Output;

/// Where the opening handshake is.
#[derive(Debug)]
enum Stage {
    /// Client: request sent, waiting for the response.
    Client(Box<ClientHandshake>),
    /// Server: waiting for the request.
    AwaitingRequest,
    /// Server: request reported, waiting for the application's decision.
    AwaitingDecision,
    /// The handshake is over (or there was none).
    Done,
}

#[derive(Debug)]
struct ClientHandshake {
    request: ClientRequest,
    key: [u8; 16],
}

/// What the received bytes brought.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Server: a valid request, whose head was the first `len` bytes; it
    /// waits for [`Opening::accept`] or [`Opening::reject`].
    Request { len: usize },
    /// Client: the server agreed (`101`); its head was the first `len`
    /// bytes, and frames may follow.
    Open { len: usize, protocol: Option<String>, agreed: Agreed },
    /// Client: the server answered with another status (its response is
    /// kept for [`Opening::head`]).
    Rejected(HandshakeError),
    /// The handshake failed; a server has answered with the matching HTTP
    /// status.
    Failed(HandshakeError),
}

/// The opening handshake of one connection.
#[derive(Debug)]
pub(crate) struct Opening {
    stage: Stage,
    scanner: HeadScanner,
    /// The head received, kept while an event may show it.
    head: Option<Box<Head>>,
}

impl Opening {
    /// A client's: `request` (with the offers of the extensions `config`
    /// enables) is written to `out` with the handshake `key`.
    pub(crate) fn client(mut request: ClientRequest, key: [u8; 16], config: &Config, out: &mut Output) -> Self {
        for offer in extension::offers(config) {
            request.push_offer(offer);
        }
        out.extend_with(|out| request.write(out, &key));
        Opening::new(Stage::Client(Box::new(ClientHandshake { request, key })))
    }

    /// A server's, waiting for the request.
    pub(crate) fn server() -> Self {
        Opening::new(Stage::AwaitingRequest)
    }

    /// None: the connection was made open.
    pub(crate) fn done() -> Self {
        Opening::new(Stage::Done)
    }

    fn new(stage: Stage) -> Self {
        Opening { stage, scanner: HeadScanner::default(), head: None }
    }

    /// Whether the handshake is over.
    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        matches!(self.stage, Stage::Done)
    }

    /// The head received (a server's request, a client's response).
    pub(crate) fn head(&self) -> Option<&Head> {
        self.head.as_deref()
    }

    /// Forgets the head once no event shows it.
    pub(crate) fn drop_head(&mut self) {
        self.head = None;
    }

    /// Heap bytes the head holds.
    pub(crate) fn heap_size(&self) -> usize {
        self.head.as_ref().map_or(0, |h| h.heap_size())
    }

    /// Server: the request waiting for the application's decision.
    pub(crate) fn pending_request(&self) -> Option<Request<'_>> {
        match self.stage {
            Stage::AwaitingDecision => self.head.as_deref().map(Request::new),
            _ => None,
        }
    }

    /// Looks at the received bytes (`input`; `eof` once the transport
    /// ended) and says what they bring, if anything yet. A server's answer
    /// to an invalid request is written to `out`.
    pub(crate) fn poll(&mut self, input: &[u8], eof: bool, config: &Config, out: &mut Output) -> Option<Outcome> {
        match self.stage {
            Stage::Client(_) => self.poll_response(input, eof, config),
            Stage::AwaitingRequest => self.poll_request(input, eof, config, out),
            // The client is gone before the decision: nobody to answer.
            Stage::AwaitingDecision if eof => Some(Outcome::Failed(HandshakeError::Eof)),
            // What arrives before the decision is kept for after it, within
            // the head's limit: the decision may take a while (an
            // application's lookup), the input must not grow meanwhile.
            Stage::AwaitingDecision if input.len() > config.max_head_size => {
                let e = HandshakeError::EarlyData { limit: config.max_head_size };
                out.extend_with(|out| server::write_error_response(out, &e));
                self.stage = Stage::Done;
                Some(Outcome::Failed(e))
            }
            Stage::AwaitingDecision | Stage::Done => None,
        }
    }

    /// The length of the head if it is complete, or the error when it
    /// cannot be: too large, or cut by end of file.
    fn find_head(&mut self, input: &[u8], eof: bool, limit: usize) -> Result<Option<usize>, HandshakeError> {
        match self.scanner.find_end(input) {
            Some(end) if end <= limit => Ok(Some(end)),
            None if input.len() <= limit && !eof => Ok(None),
            None if input.len() <= limit => Err(HandshakeError::Eof),
            _ => Err(HandshakeError::HeadTooLarge { limit }),
        }
    }

    /// Client: checks the server's response once it is complete (RFC 6455
    /// §4.1) and the extensions it agrees to.
    fn poll_response(&mut self, input: &[u8], eof: bool, config: &Config) -> Option<Outcome> {
        let len = match self.find_head(input, eof, config.max_head_size) {
            Ok(len) => len?,
            Err(e) => return Some(Outcome::Failed(e)),
        };
        let head = match Head::parse_response(&input[..len], config.max_headers) {
            Ok(head) => head,
            Err(e) => return Some(Outcome::Failed(e)),
        };
        let Stage::Client(hs) = &self.stage else { return None };
        let response = Response::new(&head);
        let checked = check_response(&response, &hs.key, &hs.request).and_then(|protocol| {
            let agreed = extension::check_response(&response, config)?;
            Ok((protocol, agreed))
        });
        self.head = Some(Box::new(head));
        Some(match checked {
            Ok((protocol, agreed)) => {
                self.stage = Stage::Done;
                Outcome::Open { len, protocol, agreed }
            }
            Err(e @ HandshakeError::Rejected { .. }) => Outcome::Rejected(e),
            Err(e) => Outcome::Failed(e),
        })
    }

    /// Server: parses and checks the request once it is complete (RFC 6455
    /// §4.2.1); answers an invalid one with the right HTTP status.
    fn poll_request(&mut self, input: &[u8], eof: bool, config: &Config, out: &mut Output) -> Option<Outcome> {
        let parsed = self.find_head(input, eof, config.max_head_size).and_then(|len| match len {
            None => Ok(None),
            Some(len) => {
                let head = Head::parse_request(&input[..len], config.max_headers)?;
                server::check_request(&Request::new(&head))?;
                Ok(Some((head, len)))
            }
        });
        match parsed {
            Ok(None) => None,
            Ok(Some((head, len))) => {
                self.head = Some(Box::new(head));
                self.stage = Stage::AwaitingDecision;
                Some(Outcome::Request { len })
            }
            Err(HandshakeError::Eof) => Some(Outcome::Failed(HandshakeError::Eof)),
            Err(e) => {
                out.extend_with(|out| server::write_error_response(out, &e));
                Some(Outcome::Failed(e))
            }
        }
    }

    /// Server: accepts the pending request, writing the `101` to `out`, and
    /// returns the chosen subprotocol and the extensions agreed (those
    /// `config` enables, negotiated here: an `accept` that names its own is
    /// refused). Nothing is written unless every check passes.
    pub(crate) fn accept(
        &mut self,
        accept: Accept,
        config: &Config,
        out: &mut Output,
    ) -> Result<(Option<String>, Agreed), DecisionError> {
        let request = self.pending_request().ok_or(DecisionError::NoRequest)?;
        if accept.extension_response().is_some() {
            return Err(DecisionError::InvalidHeader("Sec-WebSocket-Extensions".into()));
        }
        let mut agreed = extension::accept(&request, config);
        let accept = match agreed.response.take() {
            Some(response) => accept.extensions(response),
            None => accept,
        };
        out.extend_with(|out| server::write_accept(out, &request, &accept))?;
        self.stage = Stage::Done;
        Ok((accept.selected_protocol().map(str::to_owned), agreed))
    }

    /// Server: rejects the pending request, writing the response to `out`.
    pub(crate) fn reject(&mut self, reject: &Reject, out: &mut Output) -> Result<(), DecisionError> {
        self.pending_request().ok_or(DecisionError::NoRequest)?;
        out.extend_with(|out| server::write_reject(out, reject))?;
        self.stage = Stage::Done;
        Ok(())
    }

    /// The handshake timer expired: a server still waiting for a whole
    /// request answers `408 Request Timeout`.
    pub(crate) fn on_timeout(&mut self, out: &mut Output) {
        if matches!(self.stage, Stage::AwaitingRequest) {
            // A 408 is always a valid response: nothing to refuse.
            let _ = out.extend_with(|out| server::write_reject(out, &Reject::status(408)));
        }
    }
}
