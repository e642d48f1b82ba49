//! Randomness for the handshake key and client masking keys (RFC 6455 §4.1, §5.3).
//!
//! The RFC requires masking keys to be unpredictable, "derived from a strong
//! source of entropy". By default a connection uses ChaCha20 seeded from the
//! operating system (`OsRandom`); a server never needs randomness, so it
//! never seeds one. Tests and fuzzers inject a [`SeededRandom`] (the same
//! generator with a fixed seed) or any [`RandomSource`] to get reproducible
//! bytes.

use chacha20::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

/// A source of random bytes for a connection.
///
/// A client asks for its masking keys 16 at a time (`fill` of 64 bytes,
/// used 4 bytes per frame, in order) and for its handshake key (16 bytes).
pub trait RandomSource: Send {
    /// Fills `dest` with random bytes.
    fn fill(&mut self, dest: &mut [u8]);
}

/// ChaCha20 seeded from the operating system: the default source.
pub(crate) struct OsRandom(ChaCha20Rng);

impl OsRandom {
    /// Seeds a new generator from the operating system's entropy source.
    pub(crate) fn new() -> Result<Self, crate::error::RandomError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(crate::error::RandomError)?;
        Ok(OsRandom(ChaCha20Rng::from_seed(seed)))
    }
}

impl RandomSource for OsRandom {
    fn fill(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest);
    }
}

impl core::fmt::Debug for OsRandom {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("OsRandom")
    }
}

/// ChaCha20 with a caller-chosen seed: reproducible output for tests and
/// fuzzing. Never use a fixed seed in production: masking keys must be
/// unpredictable.
pub struct SeededRandom(ChaCha20Rng);

impl SeededRandom {
    /// A generator whose output is determined by `seed`.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        SeededRandom(ChaCha20Rng::from_seed(seed))
    }
}

impl RandomSource for SeededRandom {
    fn fill(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest);
    }
}

impl core::fmt::Debug for SeededRandom {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SeededRandom")
    }
}

/// Masking keys drawn per batch: one call to the source fills this many bytes
/// (16 keys), so that a client pays for its random source once per 16 frames
/// rather than per frame.
const KEY_BATCH: usize = 64;

/// A client's source of masking keys: its [`RandomSource`], read
/// [`KEY_BATCH`] bytes at a time. Each key is used once, in order, so the
/// keys on the wire are exactly the source's output (RFC 6455 §5.3: as
/// unpredictable as the source is); buffering them only saves a dynamic
/// call and the generator's bookkeeping per frame.
///
/// Generic over the source so that one allocation holds both: a
/// `Box<MaskingKeys<OsRandom>>` coerces to `Box<MaskingKeys>`.
pub(crate) struct MaskingKeys<R: ?Sized = dyn RandomSource> {
    keys: [u8; KEY_BATCH],
    /// Bytes of `keys` already used.
    used: usize,
    source: R,
}

impl<R: RandomSource> MaskingKeys<R> {
    /// Keys from `source`; the first batch is drawn on the first key.
    pub(crate) fn new(source: R) -> Self {
        MaskingKeys { keys: [0; KEY_BATCH], used: KEY_BATCH, source }
    }
}

impl MaskingKeys {
    /// The next masking key.
    #[inline]
    pub(crate) fn next_key(&mut self) -> [u8; 4] {
        if self.used == KEY_BATCH {
            self.source.fill(&mut self.keys);
            self.used = 0;
        }
        let mut key = [0u8; 4];
        key.copy_from_slice(&self.keys[self.used..self.used + 4]);
        self.used += 4;
        key
    }

    /// Random bytes straight from the source (the handshake key).
    pub(crate) fn fill(&mut self, dest: &mut [u8]) {
        self.source.fill(dest);
    }
}

/// Any closure that fills a buffer is a source (handy for tests).
impl<F: FnMut(&mut [u8]) + Send> RandomSource for F {
    fn fill(&mut self, dest: &mut [u8]) {
        self(dest)
    }
}
