//! Differential privacy: exact discrete noise over integers.
//!
//! Samplers are written here rather than taken from a crate because they sit
//! in the isolate's trusted computing base and must be exact: no floating
//! point touches a sample (floating-point Laplace leaks, Mironov 2012). They
//! follow Canonne, Kamath and Steinke, "The Discrete Gaussian for
//! Differential Privacy" (2020), Algorithms 1 and 2. Randomness comes from a
//! ChaCha20 generator seeded from the operating system's CSPRNG.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod laplace;
pub mod rng;
pub mod sample;

pub use laplace::{DiscreteLaplace, LaplaceError};
pub use rng::NoiseRng;
