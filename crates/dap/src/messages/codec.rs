//! What every DAP message shares: TLS presentation-language vectors with their length prefix
//! and bounds, decoding that names the field at fault, and whole-message decoding that refuses
//! trailing bytes.
//!
//! Struct lists use `prio::codec`'s prefixed item helpers; opaque byte strings are read here in
//! one copy instead of byte by byte, with the draft's lower bounds enforced both ways.

use std::io::{Cursor, Read};

use prio::codec::{CodecError, Decode, Encode};

/// Why a message could not be decoded or encoded.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// The bytes ended inside a field.
    #[error("the message ends inside {0}")]
    Truncated(&'static str),
    /// Bytes were left after the whole message.
    #[error("{0} bytes follow the end of the message")]
    TrailingBytes(usize),
    /// A length prefix points past the end of the message.
    #[error("the length of {field} ({length} bytes) runs past the end of the message")]
    LengthPastEnd {
        /// The field.
        field: &'static str,
        /// What its prefix said.
        length: usize,
    },
    /// A vector is shorter than the draft allows.
    #[error("{field} must hold at least {minimum} bytes, it holds {length}")]
    TooShort {
        /// The field.
        field: &'static str,
        /// The draft's lower bound.
        minimum: usize,
        /// Its length.
        length: usize,
    },
    /// A vector is longer than its length prefix can say.
    #[error("{0} is too long for its length prefix")]
    TooLong(&'static str),
    /// An enumerated field holds a value the draft does not define.
    #[error("{field} holds {value}, which the draft does not define")]
    UnknownValue {
        /// The field.
        field: &'static str,
        /// The value read.
        value: u64,
    },
    /// A list of extensions is not in strictly increasing order of type. Which problem type this
    /// is depends on the message (`invalidExtension` for a collection job, `invalidMessage` for
    /// an aggregation job, the report error `invalid_message` for a report).
    #[error("extension type {next} follows type {previous}: types must strictly increase")]
    ExtensionsOutOfOrder {
        /// The type before.
        previous: u16,
        /// The type that should have been larger.
        next: u16,
    },
    /// A value the draft defines but this implementation does not support (e.g. Poplar1).
    #[error("{field} {value:#x} is not supported here")]
    Unsupported {
        /// The field.
        field: &'static str,
        /// The value.
        value: u64,
    },
    /// A field's contents are not what its type requires.
    #[error("{field}: {problem}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
}

impl MessageError {
    /// As the error type `prio::codec` carries.
    pub(crate) fn codec(self) -> CodecError {
        CodecError::Other(Box::new(self))
    }

    fn from_codec(error: CodecError, what: &'static str) -> Self {
        match error {
            CodecError::Other(inner) => match inner.downcast::<MessageError>() {
                Ok(mine) => *mine,
                Err(other) => MessageError::Invalid {
                    field: what,
                    problem: other.to_string(),
                },
            },
            CodecError::Io(_) => MessageError::Truncated(what),
            CodecError::BytesLeftOver(n) => MessageError::TrailingBytes(n),
            CodecError::LengthPrefixTooBig(length) => MessageError::LengthPastEnd {
                field: what,
                length,
            },
            CodecError::LengthPrefixOverflow => MessageError::TooLong(what),
            other => MessageError::Invalid {
                field: what,
                problem: other.to_string(),
            },
        }
    }
}

/// A message carried as an HTTP body, with its media type.
pub trait DapMessage: Encode + Decode {
    /// `application/ppm-dap;message=…`.
    const MEDIA_TYPE: &'static str;
    /// The message's name, for errors.
    const NAME: &'static str;
}

/// Decodes a whole message (or an embedded structure given alone): every byte must belong to it.
pub fn decode_all<T: Decode>(bytes: &[u8], what: &'static str) -> Result<T, MessageError> {
    let mut cursor = Cursor::new(bytes);
    let value = T::decode(&mut cursor).map_err(|e| MessageError::from_codec(e, what))?;
    let left = bytes.len() - cursor.position() as usize;
    if left != 0 {
        return Err(MessageError::TrailingBytes(left));
    }
    Ok(value)
}

/// Encodes a value.
pub fn encode<T: Encode>(value: &T, what: &'static str) -> Result<Vec<u8>, MessageError> {
    value
        .get_encoded()
        .map_err(|e| MessageError::from_codec(e, what))
}

/// The width of a vector's length prefix: 1, 2 or 4 bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Prefix {
    U8,
    U16,
    U32,
}

/// An opaque vector field: its name, prefix and the draft's lower bound.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Opaque {
    pub name: &'static str,
    pub prefix: Prefix,
    pub minimum: usize,
}

impl Opaque {
    pub(crate) const fn new(name: &'static str, prefix: Prefix, minimum: usize) -> Self {
        Self {
            name,
            prefix,
            minimum,
        }
    }

    pub(crate) fn encode(&self, data: &[u8], bytes: &mut Vec<u8>) -> Result<(), CodecError> {
        if data.len() < self.minimum {
            return Err(self.too_short(data.len()));
        }
        let too_long = || MessageError::TooLong(self.name).codec();
        match self.prefix {
            Prefix::U8 => u8::try_from(data.len())
                .map_err(|_| too_long())?
                .encode(bytes)?,
            Prefix::U16 => u16::try_from(data.len())
                .map_err(|_| too_long())?
                .encode(bytes)?,
            Prefix::U32 => u32::try_from(data.len())
                .map_err(|_| too_long())?
                .encode(bytes)?,
        }
        bytes.extend_from_slice(data);
        Ok(())
    }

    pub(crate) fn decode(&self, bytes: &mut Cursor<&[u8]>) -> Result<Vec<u8>, CodecError> {
        let length = match self.prefix {
            Prefix::U8 => usize::from(field(u8::decode(bytes), self.name)?),
            Prefix::U16 => usize::from(field(u16::decode(bytes), self.name)?),
            Prefix::U32 => field(u32::decode(bytes), self.name)? as usize,
        };
        let left = bytes.get_ref().len() - bytes.position() as usize;
        if length > left {
            return Err(MessageError::LengthPastEnd {
                field: self.name,
                length,
            }
            .codec());
        }
        if length < self.minimum {
            return Err(self.too_short(length));
        }
        let mut data = vec![0; length];
        bytes.read_exact(&mut data)?;
        Ok(data)
    }

    fn too_short(&self, length: usize) -> CodecError {
        MessageError::TooShort {
            field: self.name,
            minimum: self.minimum,
            length,
        }
        .codec()
    }
}

/// Names the field when reading a fixed-size value ran out of bytes.
pub(crate) fn field<T>(read: Result<T, CodecError>, name: &'static str) -> Result<T, CodecError> {
    read.map_err(|e| match e {
        CodecError::Io(_) => MessageError::Truncated(name).codec(),
        other => other,
    })
}

/// Reads exactly `N` bytes.
pub(crate) fn fixed<const N: usize>(
    bytes: &mut Cursor<&[u8]>,
    name: &'static str,
) -> Result<[u8; N], CodecError> {
    let mut out = [0; N];
    bytes
        .read_exact(&mut out)
        .map_err(|_| MessageError::Truncated(name).codec())?;
    Ok(out)
}

/// Decodes items until the end of the input: the draft's `T items[message_length]` vectors,
/// which fill the rest of an HTTP body and have no prefix.
pub(crate) fn decode_to_end<T: Decode>(bytes: &mut Cursor<&[u8]>) -> Result<Vec<T>, CodecError> {
    let mut items = Vec::new();
    while (bytes.position() as usize) < bytes.get_ref().len() {
        items.push(T::decode(bytes)?);
    }
    Ok(items)
}

/// Encodes items with no prefix.
pub(crate) fn encode_all<T: Encode>(items: &[T], bytes: &mut Vec<u8>) -> Result<(), CodecError> {
    items.iter().try_for_each(|item| item.encode(bytes))
}

/// Implements `Encode` and `Decode` for a struct that is its fields in order, each either a
/// type that codes itself (`field: Type`, named in truncation errors) or an opaque vector
/// (`field: [SPEC]`, an [`Opaque`] constant).
macro_rules! fields_in_order {
    ($name:ident { $($field:ident: $how:tt),+ $(,)? }) => {
        impl prio::codec::Encode for $name {
            fn encode(&self, bytes: &mut Vec<u8>) -> Result<(), prio::codec::CodecError> {
                $($crate::messages::codec::fields_in_order!(@encode self.$field, $how, bytes);)+
                Ok(())
            }
        }

        impl prio::codec::Decode for $name {
            fn decode(
                bytes: &mut std::io::Cursor<&[u8]>,
            ) -> Result<Self, prio::codec::CodecError> {
                Ok(Self {
                    $($field: $crate::messages::codec::fields_in_order!(
                        @decode $field, $how, bytes
                    ),)+
                })
            }
        }
    };
    (@encode $value:expr, [$opaque:expr], $bytes:ident) => {
        $opaque.encode(&$value, $bytes)?
    };
    (@encode $value:expr, $ty:ident, $bytes:ident) => {
        prio::codec::Encode::encode(&$value, $bytes)?
    };
    (@decode $field:ident, [$opaque:expr], $bytes:ident) => {
        $opaque.decode($bytes)?
    };
    (@decode $field:ident, $ty:ident, $bytes:ident) => {
        $crate::messages::codec::field(
            <$ty as prio::codec::Decode>::decode($bytes),
            stringify!($field),
        )?
    };
}
pub(crate) use fields_in_order;
