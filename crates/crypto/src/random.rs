//! Randomness from the operating system's CSPRNG.

/// Fills `buf` from the OS CSPRNG. Panics only if the OS has no randomness to give, where nothing secure can run.
pub fn fill(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the operating system's random number generator failed");
}

/// A fresh random array.
pub fn array<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    fill(&mut out);
    out
}
