//! Streaming UTF-8 validation for text messages (RFC 6455 §5.6, §8.1).
//!
//! A text message may arrive in many frames, and a frame in many reads; a code
//! point may be cut anywhere. [`Utf8Validator`] is fed the pieces in order and
//! fails at the first byte that cannot be part of valid UTF-8, without waiting
//! for the end of the message (Autobahn's "fail fast" cases, §6.x). It holds at
//! most three bytes of an incomplete code point between calls.
//!
//! The heavy lifting is [`from_utf8`]: with the default `simd-utf8` feature,
//! simdutf8's SIMD validator (about ten times `core::str::from_utf8` on
//! non-ASCII text); without it, `core::str::from_utf8`. An invalid input is
//! looked at again by `core::str::from_utf8`, which reports whether the input
//! merely ended early (`error_len() == None`) or contains a byte that can
//! never be valid, so the two builds give the same answers.

use core::fmt;

/// Invalid UTF-8 found by [`Utf8Validator`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utf8Error {
    /// Offset, from the start of everything fed since the last reset, of the
    /// first byte of the invalid sequence. This equals
    /// [`core::str::Utf8Error::valid_up_to`] for the whole input.
    pub valid_up_to: u64,
}

impl fmt::Display for Utf8Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid UTF-8 at byte {}", self.valid_up_to)
    }
}

impl std::error::Error for Utf8Error {}

/// `core::str::from_utf8`, faster: valid input is checked with simdutf8 when
/// the `simd-utf8` feature is on (the default); invalid input gets
/// `core::str::from_utf8`'s error, with its `valid_up_to` and `error_len`.
///
/// ```
/// assert_eq!(wsmachine::__internals::from_utf8("안녕 🙂".as_bytes()), Ok("안녕 🙂"));
/// assert_eq!(wsmachine::__internals::from_utf8(b"ok\xff").unwrap_err().valid_up_to(), 2);
/// ```
#[inline]
pub fn from_utf8(bytes: &[u8]) -> Result<&str, core::str::Utf8Error> {
    #[cfg(feature = "simd-utf8")]
    if let Ok(text) = simdutf8::basic::from_utf8(bytes) {
        return Ok(text);
    }
    core::str::from_utf8(bytes)
}

/// An incremental UTF-8 validator.
///
/// ```
/// use wsmachine::__internals::Utf8Validator;
/// let mut v = Utf8Validator::new();
/// let euro = "€".as_bytes(); // three bytes
/// v.feed(&euro[..1]).unwrap();
/// v.feed(&euro[1..]).unwrap();
/// v.finish().unwrap();
/// // A byte that can never start or continue a code point fails at once.
/// assert_eq!(v.feed(b"ok\xff").unwrap_err().valid_up_to, 5);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Utf8Validator {
    /// Bytes of a code point cut at the end of the last input.
    pending: [u8; 4],
    pending_len: u8,
    /// Bytes validated so far, not counting `pending`.
    validated: u64,
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub const fn new() -> Self {
        Utf8Validator { pending: [0; 4], pending_len: 0, validated: 0 }
    }

    /// Forgets everything fed so far, to start a new message.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Whether no code point is cut open (the input so far is valid and complete).
    pub fn is_complete(&self) -> bool {
        self.pending_len == 0
    }

    /// Validates the next piece of the message.
    ///
    /// Returns an error as soon as a byte is found that no continuation could
    /// make valid. After an error the validator's state is unspecified: reset it.
    pub fn feed(&mut self, input: &[u8]) -> Result<(), Utf8Error> {
        self.feed_with(input, |_| {})
    }

    /// [`feed`](Self::feed), appending the piece's text to `out` as it is
    /// validated: everything up to a code point the piece cuts open, which
    /// is appended once the next piece completes it. The text of a message
    /// that arrives in pieces is so gathered into a `String` with one check,
    /// where appending the bytes and making a `&str` of them at the end
    /// would check them twice. After an error, what was appended is a valid
    /// start of the input, at most [`Utf8Error::valid_up_to`] bytes of it.
    ///
    /// ```
    /// use wsmachine::__internals::Utf8Validator;
    /// let (mut v, mut text) = (Utf8Validator::new(), String::new());
    /// let bytes = "a€b".as_bytes();
    /// v.feed_into(&bytes[..2], &mut text).unwrap();
    /// assert_eq!(text, "a"); // the first byte of '€' waits for the rest
    /// v.feed_into(&bytes[2..], &mut text).unwrap();
    /// v.finish().unwrap();
    /// assert_eq!(text, "a€b");
    /// ```
    pub fn feed_into(&mut self, input: &[u8], out: &mut String) -> Result<(), Utf8Error> {
        self.feed_with(input, |text| out.push_str(text))
    }

    /// `feed`, handing each validated run of text to `valid`, in order.
    #[inline]
    fn feed_with(&mut self, mut input: &[u8], mut valid: impl FnMut(&str)) -> Result<(), Utf8Error> {
        if self.pending_len > 0 {
            let have = self.pending_len as usize;
            let need = sequence_len(self.pending[0]).saturating_sub(have);
            let take = need.min(input.len());
            self.pending[have..have + take].copy_from_slice(&input[..take]);
            match core::str::from_utf8(&self.pending[..have + take]) {
                Ok(text) => {
                    valid(text);
                    self.validated += (have + take) as u64;
                    self.pending_len = 0;
                    input = &input[take..];
                }
                Err(e) if e.error_len().is_none() => {
                    // Still cut open: the input ran out before the code point ended.
                    self.pending_len = (have + take) as u8;
                    return Ok(());
                }
                Err(_) => {
                    return Err(Utf8Error { valid_up_to: self.validated });
                }
            }
        }
        // A piece usually ends inside a code point (reads cut text anywhere).
        // Check everything before that code point first: the fast validator
        // accepts it, and only the few cut bytes go the slow way below, not
        // the whole piece.
        let cut = input.len() - cut_open_len(input);
        if cut > 0
            && cut < input.len()
            && let Ok(text) = from_utf8(&input[..cut])
        {
            valid(text);
            self.validated += cut as u64;
            input = &input[cut..];
        }
        match from_utf8(input) {
            Ok(text) => {
                valid(text);
                self.validated += input.len() as u64;
                Ok(())
            }
            Err(e) => {
                let good = e.valid_up_to();
                if e.error_len().is_some() {
                    return Err(Utf8Error { valid_up_to: self.validated + good as u64 });
                }
                let (head, tail) = input.split_at(good);
                // Valid by `valid_up_to`'s definition.
                if let Ok(text) = core::str::from_utf8(head) {
                    valid(text);
                }
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len() as u8;
                self.validated += good as u64;
                Ok(())
            }
        }
    }

    /// Ends the message: fails if it stops inside a code point.
    pub fn finish(&mut self) -> Result<(), Utf8Error> {
        if self.pending_len == 0 { Ok(()) } else { Err(Utf8Error { valid_up_to: self.validated }) }
    }
}

/// How many bytes at the end of `input` are the start of a code point that
/// the input cuts open: 1–3 when the last lead byte among the last three
/// bytes needs more bytes than follow it, else 0. Only a hint for
/// [`Utf8Validator::feed`], which checks those bytes anyway.
fn cut_open_len(input: &[u8]) -> usize {
    for back in 1..=input.len().min(3) {
        let b = input[input.len() - back];
        if b & 0xc0 != 0x80 {
            // Not a continuation byte: ASCII or a lead byte.
            return if sequence_len(b) > back { back } else { 0 };
        }
    }
    0
}

/// The length of the sequence a lead byte starts; 1 for anything else (a byte
/// that `from_utf8` will reject anyway, so the exact number does not matter).
fn sequence_len(lead: u8) -> usize {
    match lead {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_all_splits(input: &[u8]) {
        let expected = core::str::from_utf8(input).map(|_| ()).map_err(|e| e.valid_up_to() as u64);
        for split_a in 0..=input.len() {
            for split_b in split_a..=input.len() {
                let mut v = Utf8Validator::new();
                let got = v
                    .feed(&input[..split_a])
                    .and_then(|_| v.feed(&input[split_a..split_b]))
                    .and_then(|_| v.feed(&input[split_b..]))
                    .and_then(|_| v.finish())
                    .map_err(|e| e.valid_up_to);
                assert_eq!(got, expected, "{input:x?} split at {split_a},{split_b}");
                // The same pieces through `feed_into`: the same verdict, and
                // the gathered text is the input's valid start, in order.
                let (mut v, mut text) = (Utf8Validator::new(), String::new());
                let got = v
                    .feed_into(&input[..split_a], &mut text)
                    .and_then(|_| v.feed_into(&input[split_a..split_b], &mut text))
                    .and_then(|_| v.feed_into(&input[split_b..], &mut text))
                    .and_then(|_| v.finish())
                    .map_err(|e| e.valid_up_to);
                assert_eq!(got, expected, "feed_into: {input:x?} split at {split_a},{split_b}");
                match got {
                    Ok(()) => assert_eq!(text.as_bytes(), input),
                    Err(valid) => {
                        assert!(input.starts_with(text.as_bytes()), "{input:x?} gathered {text:?}");
                        assert!(text.len() as u64 <= valid);
                    }
                }
            }
        }
    }

    /// RFC 3629 / RFC 6455 §8.1: overlong forms, surrogates and code points
    /// beyond U+10FFFF are invalid wherever the input is cut.
    #[test]
    fn agrees_with_std_for_every_split() {
        let cases: &[&[u8]] = &[
            "κόσμε".as_bytes(),
            "Hello-µ@ßöäüàá-UTF-8!!".as_bytes(),
            "😀 emoji 한국어".as_bytes(),
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            b"\xf4\x90\x80\x80",
            b"\xc0\xaf",
            b"\xe0\x80\xaf",
            b"\xed\xbf\xbf",
            b"\xf8\x88\x80\x80\x80",
            b"abc\xe2\x82",
            b"\xe2\x82\xac\xf0",
            b"\xff",
        ];
        for case in cases {
            check_all_splits(case);
        }
    }

    #[test]
    fn cut_open_len_finds_the_cut_code_point() {
        let euro = "€".as_bytes();
        assert_eq!(cut_open_len(b"abc"), 0);
        assert_eq!(cut_open_len(b""), 0);
        assert_eq!(cut_open_len(&[b'a', euro[0]]), 1);
        assert_eq!(cut_open_len(&[b'a', euro[0], euro[1]]), 2);
        assert_eq!(cut_open_len(euro), 0);
        assert_eq!(cut_open_len(&"🙂".as_bytes()[..3]), 3);
        assert_eq!(cut_open_len(b"\x80\x80\x80"), 0);
    }

    /// Long pieces cut inside code points, as reads cut text: the same
    /// verdict as `core::str::from_utf8` on the whole, with an invalid byte
    /// reported at its offset.
    #[test]
    fn long_pieces_cut_anywhere() {
        let text = "see you at the café ☕ — 안녕 🙂 ".repeat(200);
        let bytes = text.as_bytes();
        for piece in [1, 2, 3, 5, 7, 64, 1000, 4097] {
            let mut v = Utf8Validator::new();
            for chunk in bytes.chunks(piece) {
                v.feed(chunk).unwrap();
            }
            v.finish().unwrap();
            let mut bad = bytes.to_vec();
            bad[3001] = 0xff;
            let mut v = Utf8Validator::new();
            let got = bad.chunks(piece).try_for_each(|c| v.feed(c)).unwrap_err();
            assert_eq!(got.valid_up_to, core::str::from_utf8(&bad).unwrap_err().valid_up_to() as u64);
        }
    }

    /// Autobahn 6.4.x: the validator fails on the first impossible byte even
    /// though the message (and the frame) continue.
    #[test]
    fn fails_fast_inside_a_code_point() {
        let mut v = Utf8Validator::new();
        let text = "κόσμε".as_bytes();
        v.feed(text).unwrap();
        v.feed(b"\xf4").unwrap();
        // 0x90 after 0xf4 would encode a code point above U+10FFFF.
        assert_eq!(v.feed(b"\x90").unwrap_err().valid_up_to, text.len() as u64);
    }
}
