//! The random source of all noise.

use rand_chacha::ChaCha20Rng;
use rand_core::{Infallible, Rng, SeedableRng, TryRng};

/// ChaCha20 seeded from the OS CSPRNG; tests may seed it explicitly.
pub struct NoiseRng(ChaCha20Rng);

impl NoiseRng {
    /// A generator seeded from the operating system.
    pub fn from_os() -> Self {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the operating system's random number generator failed");
        Self(ChaCha20Rng::from_seed(seed))
    }

    /// A reproducible generator, for statistical tests only.
    pub fn from_test_seed(seed: u64) -> Self {
        Self(ChaCha20Rng::seed_from_u64(seed))
    }
}

impl std::fmt::Debug for NoiseRng {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoiseRng")
    }
}

impl TryRng for NoiseRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.0.next_u32())
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.0.next_u64())
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Infallible> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}
