//! Fixed-size identifiers, written as lowercase hex.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A text could not be read as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} must be {expected} hex characters, found {found:?}")]
pub struct IdParseError {
    /// Which identifier was being read.
    pub kind: &'static str,
    /// How many hex characters it needs.
    pub expected: usize,
    /// What was given (truncated).
    pub found: String,
}

macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident, $len:expr, $kind:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// The first 12 hex characters, for messages.
            pub fn short(&self) -> String {
                hex::encode(&self.0[..6])
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.short())
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let err = || IdParseError {
                    kind: $kind,
                    expected: 2 * $len,
                    found: s.chars().take(80).collect(),
                };
                let mut out = [0u8; $len];
                hex::decode_to_slice(s, &mut out).map_err(|_| err())?;
                Ok(Self(out))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_string())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

hex_id!(
    /// SHA-256 of a party's canonical public card.
    Fingerprint, 32, "fingerprint"
);
hex_id!(
    /// Id of an agreement: the labeled SHA-256 of its canonical form.
    AgreementId, 32, "agreement id"
);
hex_id!(
    /// The measurement of an isolate runtime (for the simulator, SHA-256 of its executable).
    Measurement, 32, "measurement"
);
hex_id!(
    /// A labeled SHA-256 digest.
    Digest, 32, "digest"
);
hex_id!(
    /// Id of one job run by the host.
    JobId, 16, "job id"
);

impl From<Digest> for AgreementId {
    fn from(d: Digest) -> Self {
        Self(d.0)
    }
}

impl From<Digest> for Fingerprint {
    fn from(d: Digest) -> Self {
        Self(d.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_hex() {
        let id = JobId([7; 16]);
        let text = id.to_string();
        assert_eq!(text.len(), 32);
        assert_eq!(text.parse::<JobId>().unwrap(), id);
        assert!("zz".parse::<JobId>().is_err());
    }
}
