//! Identifiers, times and the small enumerations (DAP-18 §4.1, §4.2, §5).

use std::fmt;
use std::io::Cursor;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use prio::codec::{CodecError, Decode, Encode};

use super::codec::{MessageError, field, fixed};

macro_rules! fixed_id {
    ($(#[$doc:meta])* $name:ident, $len:expr, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Its length in bytes.
            pub const LEN: usize = $len;
        }

        impl Encode for $name {
            fn encode(&self, bytes: &mut Vec<u8>) -> Result<(), CodecError> {
                bytes.extend_from_slice(&self.0);
                Ok(())
            }

            fn encoded_len(&self) -> Option<usize> {
                Some($len)
            }
        }

        impl Decode for $name {
            fn decode(bytes: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
                Ok(Self(fixed(bytes, $field)?))
            }
        }

        /// URL-safe base64 without padding, as DAP writes identifiers in URLs.
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl FromStr for $name {
            type Err = MessageError;

            fn from_str(text: &str) -> Result<Self, MessageError> {
                let invalid = |problem: String| MessageError::Invalid {
                    field: $field,
                    problem,
                };
                let bytes = URL_SAFE_NO_PAD
                    .decode(text)
                    .map_err(|e| invalid(format!("not unpadded URL-safe base64: {e}")))?;
                let array: [u8; $len] = bytes.try_into().map_err(|b: Vec<u8>| {
                    invalid(format!("{} bytes, not {}", b.len(), $len))
                })?;
                Ok(Self(array))
            }
        }
    };
}

fixed_id!(
    /// A task's identifier: 32 bytes.
    TaskId,
    32,
    "task_id"
);
fixed_id!(
    /// A report's identifier, also the VDAF nonce: 16 bytes.
    ReportId,
    16,
    "report_id"
);
fixed_id!(
    /// A batch's identifier in the leader-selected batch mode: 32 bytes.
    BatchId,
    32,
    "batch_id"
);

macro_rules! uint_newtype {
    ($(#[$doc:meta])* $name:ident, $int:ty, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub $int);

        impl Encode for $name {
            fn encode(&self, bytes: &mut Vec<u8>) -> Result<(), CodecError> {
                self.0.encode(bytes)
            }

            fn encoded_len(&self) -> Option<usize> {
                Some(size_of::<$int>())
            }
        }

        impl Decode for $name {
            fn decode(bytes: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
                Ok(Self(field(<$int>::decode(bytes), $field)?))
            }
        }
    };
}

uint_newtype!(
    /// A point in time, counted in the task's `time_precision` units since the epoch (not in
    /// seconds).
    Time,
    u64,
    "time"
);
uint_newtype!(
    /// A length of time in the task's `time_precision` units.
    Duration,
    u64,
    "duration"
);

/// A half-open interval of time, `[start, start + duration)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interval {
    /// Its start.
    pub start: Time,
    /// Its length.
    pub duration: Duration,
}

impl Encode for Interval {
    fn encode(&self, bytes: &mut Vec<u8>) -> Result<(), CodecError> {
        self.start.encode(bytes)?;
        self.duration.encode(bytes)
    }

    fn encoded_len(&self) -> Option<usize> {
        Some(16)
    }
}

impl Decode for Interval {
    fn decode(bytes: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(Self {
            start: Time::decode(bytes)?,
            duration: Duration::decode(bytes)?,
        })
    }
}

/// Defines a one-byte enumeration whose unknown values are refused, naming the field.
macro_rules! u8_enum {
    ($(#[$doc:meta])* $name:ident, $field:literal { $($(#[$vdoc:meta])* $variant:ident = $value:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name {
            $($(#[$vdoc])* $variant = $value),+
        }

        impl TryFrom<u8> for $name {
            type Error = $crate::messages::codec::MessageError;

            fn try_from(value: u8) -> Result<Self, $crate::messages::codec::MessageError> {
                match value {
                    $($value => Ok(Self::$variant),)+
                    other => Err($crate::messages::codec::MessageError::UnknownValue {
                        field: $field,
                        value: u64::from(other),
                    }),
                }
            }
        }

        impl prio::codec::Encode for $name {
            fn encode(&self, bytes: &mut Vec<u8>) -> Result<(), prio::codec::CodecError> {
                prio::codec::Encode::encode(&(*self as u8), bytes)
            }

            fn encoded_len(&self) -> Option<usize> {
                Some(1)
            }
        }

        impl prio::codec::Decode for $name {
            fn decode(bytes: &mut std::io::Cursor<&[u8]>) -> Result<Self, prio::codec::CodecError> {
                let value = $crate::messages::codec::field(<u8 as prio::codec::Decode>::decode(bytes), $field)?;
                Self::try_from(value).map_err($crate::messages::codec::MessageError::codec)
            }
        }
    };
}
pub(crate) use u8_enum;

u8_enum!(
    /// Who takes part (§4.1).
    Role, "role" {
        /// The collector.
        Collector = 0,
        /// A client.
        Client = 1,
        /// The leader aggregator.
        Leader = 2,
        /// The helper aggregator.
        Helper = 3,
    }
);

u8_enum!(
    /// How reports are grouped into batches (§5); `reserved(0)` is refused.
    BatchMode, "batch_mode" {
        /// Batches are intervals of time chosen by the collector.
        TimeInterval = 1,
        /// Batches are chosen by the leader and named by a [`BatchId`].
        LeaderSelected = 2,
    }
);
