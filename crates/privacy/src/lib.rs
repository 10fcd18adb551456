//! Differential privacy: exact discrete noise over integers, contribution
//! bounding, noisy thresholds and privacy accounting.
//!
//! Samplers are written here rather than taken from a crate because they sit
//! in the isolate's trusted computing base and must be exact: no floating
//! point touches a sample (floating-point Laplace leaks, Mironov 2012). They
//! follow Canonne, Kamath and Steinke, "The Discrete Gaussian for
//! Differential Privacy" (2020), Algorithms 1 and 2. Randomness comes from a
//! ChaCha20 generator seeded from the operating system's CSPRNG.
//!
//! - [`laplace`], [`gaussian`]: the samplers (CKS Algorithms 2 and 3), built on [`sample`];
//! - [`accounting`]: pure ε for Laplace, zCDP → (ε, δ) for the Gaussian;
//! - [`bounding`]: per-person row limits, exact decimal → fixed-point clamping, sensitivities;
//! - [`mechanism`]: the noise an agreement asks for, sized from a query's sensitivity, and the
//!   noisy threshold that guards groups not declared in advance.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod accounting;
pub mod bounding;
pub mod gaussian;
pub mod laplace;
pub mod mechanism;
pub mod rng;
pub mod sample;

#[cfg(any(test, feature = "statistics"))]
pub mod fit;

pub use gaussian::{DiscreteGaussian, GaussianError};
pub use laplace::{DiscreteLaplace, LaplaceError};
pub use mechanism::{Mechanism, MechanismError, MechanismKind};
pub use rng::NoiseRng;
