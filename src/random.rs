//! Randomness for the handshake key and client masking keys (RFC 6455 §4.1, §5.3).
//!
//! The RFC requires masking keys to be unpredictable, "derived from a strong
//! source of entropy". By default a connection uses ChaCha20 seeded from the
//! operating system ([`OsRandom`]); a server never needs randomness, so it
//! never seeds one. Tests and fuzzers inject a [`SeededRandom`] (the same
//! generator with a fixed seed) or any [`RandomSource`] to get reproducible
//! bytes.

use chacha20::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

/// A source of random bytes for a connection.
pub trait RandomSource: Send {
    /// Fills `dest` with random bytes.
    fn fill(&mut self, dest: &mut [u8]);
}

/// ChaCha20 seeded from the operating system: the default source.
pub struct OsRandom(ChaCha20Rng);

impl OsRandom {
    /// Seeds a new generator from the operating system's entropy source.
    pub fn new() -> Result<Self, getrandom::Error> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)?;
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

/// Any closure that fills a buffer is a source (handy for tests).
impl<F: FnMut(&mut [u8]) + Send> RandomSource for F {
    fn fill(&mut self, dest: &mut [u8]) {
        self(dest)
    }
}
