//! Serde helpers that write byte strings as unpadded URL-safe base64.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer, Serializer};

/// Encodes bytes as unpadded URL-safe base64.
pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded URL-safe base64.
pub fn decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    URL_SAFE_NO_PAD.decode(text)
}

/// Lowercase hex, as claims and agreements write registers.
pub fn hex(bytes: &[u8]) -> String {
    ::hex::encode(bytes)
}

/// `#[serde(with = "sealroom_core::bytes::b64")]` for `Vec<u8>` fields.
pub mod b64 {
    use super::*;

    /// Serializes bytes as base64.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode(bytes))
    }

    /// Deserializes base64 into bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        decode(&text).map_err(serde::de::Error::custom)
    }
}

/// `#[serde(with = "sealroom_core::bytes::b64_array")]` for `[u8; N]` fields.
pub mod b64_array {
    use super::*;

    /// Serializes a fixed-size array as base64.
    pub fn serialize<S: Serializer, const N: usize>(
        bytes: &[u8; N],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode(bytes))
    }

    /// Deserializes base64 into a fixed-size array, naming the expected length on mismatch.
    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let text = String::deserialize(d)?;
        let bytes = decode(&text).map_err(serde::de::Error::custom)?;
        let len = bytes.len();
        bytes.try_into().map_err(|_| {
            serde::de::Error::custom(format!("expected {N} bytes of base64, found {len}"))
        })
    }
}

/// `#[serde(with = "sealroom_core::bytes::b64_option")]` for `Option<Vec<u8>>` fields
/// (with `default` and `skip_serializing_if = "Option::is_none"`).
pub mod b64_option {
    use super::*;

    /// Serializes present bytes as base64.
    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => s.serialize_str(&encode(bytes)),
            None => s.serialize_none(),
        }
    }

    /// Deserializes base64 into bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| decode(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}
