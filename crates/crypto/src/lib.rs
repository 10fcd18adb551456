//! Identities and key files, HPKE seal/open, signatures, and the streaming dataset envelope.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod envelope;
pub mod error;
pub mod hpke_box;
pub mod identity;
pub mod private_file;
pub mod random;
pub mod secret;

pub use envelope::{EnvelopeError, EnvelopeHeader, EnvelopeReader, EnvelopeWriter};
pub use error::CryptoError;
pub use hpke_box::{HpkeKeyPair, open_sealed, seal_to};
pub use identity::{Identity, KeyFileError};
pub use secret::{DataKey, HpkeSecretKey};
