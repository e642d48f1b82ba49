//! Close codes and Close frame payloads (RFC 6455 §5.5.1, §7.4).
//!
//! A Close frame's payload is empty, or a 2-byte big-endian status code
//! followed by a UTF-8 reason. A control payload is at most 125 bytes, so a
//! reason is at most 123 bytes.

use core::fmt;

/// The longest close reason in bytes (125 minus the 2-byte code).
pub const MAX_REASON_LEN: usize = 123;

/// A WebSocket close status code (RFC 6455 §7.4).
///
/// Any `u16` can be represented, because codes arrive from the network and
/// some codes are only ever reported locally ([`NO_STATUS`](Self::NO_STATUS),
/// [`ABNORMAL`](Self::ABNORMAL), [`TLS_FAILURE`](Self::TLS_FAILURE));
/// [`is_sendable`](Self::is_sendable) tells which may appear in a Close frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: normal closure; the purpose of the connection has been fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer violated the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: the endpoint cannot accept this type of data.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: reported locally when a Close frame carried no status code. Never sent.
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: reported locally when the connection ended without a Close frame. Never sent.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: a message's data was inconsistent with its type (invalid UTF-8 in text).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violated the endpoint's policy.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message was too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: (client) the server did not negotiate an extension the client requires.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server met an unexpected condition.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting (IANA registry); a client may reconnect.
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later, e.g. the server is overloaded (IANA registry).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: a gateway or proxy received an invalid response from the
    /// upstream server (IANA registry).
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: reported locally when the TLS handshake failed. Never sent.
    pub const TLS_FAILURE: CloseCode = CloseCode(1015);

    /// Whether this code may be sent in a Close frame, and is accepted in one
    /// received: 1000–1003, 1007–1014 (1012–1014 are assigned in the IANA
    /// registry RFC 6455 §11.7 set up, and browsers accept them) and the
    /// application range 3000–4999.
    ///
    /// 1004, 1005, 1006 and 1015 are reserved by RFC 6455 and never appear on
    /// the wire; codes below 1000, 1016–2999 (unassigned) and 5000 and above
    /// are rejected with a 1002 protocol error when received, as the
    /// Autobahn testsuite (cases 7.9.x: 0, 999, 1004–1006, 1016, 1100, 2000,
    /// 2999) expects.
    pub const fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Why a Close payload is invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClosePayloadError {
    /// A one-byte payload: too short for a status code.
    TooShort,
    /// A status code that may not appear in a Close frame.
    InvalidCode(u16),
    /// The reason is not valid UTF-8.
    InvalidUtf8,
    /// The reason is longer than [`MAX_REASON_LEN`] (only when sending).
    ReasonTooLong(usize),
}

impl fmt::Display for ClosePayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClosePayloadError::TooShort => f.write_str("one-byte close payload"),
            ClosePayloadError::InvalidCode(c) => write!(f, "close code {c} is not allowed on the wire"),
            ClosePayloadError::InvalidUtf8 => f.write_str("close reason is not valid UTF-8"),
            ClosePayloadError::ReasonTooLong(n) => {
                write!(f, "close reason is {n} bytes, more than {MAX_REASON_LEN}")
            }
        }
    }
}

impl std::error::Error for ClosePayloadError {}

/// Parses a received Close payload into its code and reason.
///
/// An empty payload gives `None` (to be reported as
/// [`CloseCode::NO_STATUS`]).
///
/// ```
/// use wsmachine::{CloseCode, __internals::parse_close_payload};
/// assert_eq!(parse_close_payload(b"\x03\xe8bye"), Ok(Some((CloseCode::NORMAL, "bye"))));
/// assert_eq!(parse_close_payload(b""), Ok(None));
/// ```
pub fn parse_close_payload(payload: &[u8]) -> Result<Option<(CloseCode, &str)>, ClosePayloadError> {
    match payload {
        [] => Ok(None),
        [_] => Err(ClosePayloadError::TooShort),
        [hi, lo, reason @ ..] => {
            let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
            if !code.is_sendable() {
                return Err(ClosePayloadError::InvalidCode(code.0));
            }
            let reason = core::str::from_utf8(reason).map_err(|_| ClosePayloadError::InvalidUtf8)?;
            Ok(Some((code, reason)))
        }
    }
}

/// Checks a code and reason that we are about to send.
pub fn validate_outgoing(code: CloseCode, reason: &str) -> Result<(), ClosePayloadError> {
    if !code.is_sendable() {
        return Err(ClosePayloadError::InvalidCode(code.0));
    }
    if reason.len() > MAX_REASON_LEN {
        return Err(ClosePayloadError::ReasonTooLong(reason.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// §7.4.1/§7.4.2: which codes may be on the wire (Autobahn 7.7.x and 7.9.x lists).
    #[test]
    fn rfc6455_7_4_wire_codes() {
        for ok in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999] {
            assert!(CloseCode(ok).is_sendable(), "{ok}");
        }
        for bad in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
            assert!(!CloseCode(bad).is_sendable(), "{bad}");
            let payload = bad.to_be_bytes();
            assert_eq!(parse_close_payload(&payload), Err(ClosePayloadError::InvalidCode(bad)));
        }
    }

    /// §5.5.1: a body, if present, starts with a 2-byte code; the rest is UTF-8.
    #[test]
    fn rfc6455_5_5_1_payload_rules() {
        assert_eq!(parse_close_payload(&[0x03]), Err(ClosePayloadError::TooShort));
        assert_eq!(parse_close_payload(b"\x03\xe8\xff"), Err(ClosePayloadError::InvalidUtf8));
        assert_eq!(parse_close_payload(b"\x0f\xa0"), Ok(Some((CloseCode(4000), ""))));
        assert_eq!(validate_outgoing(CloseCode::NORMAL, &"x".repeat(124)), Err(ClosePayloadError::ReasonTooLong(124)));
        assert_eq!(validate_outgoing(CloseCode::NORMAL, &"x".repeat(123)), Ok(()));
        assert_eq!(validate_outgoing(CloseCode::ABNORMAL, ""), Err(ClosePayloadError::InvalidCode(1006)));
    }
}
