//! Canonical encoding (RFC 8785 JSON) and domain-separated SHA-256.

use serde::Serialize;
use sha2::Digest as _;
pub use sha2::Sha256;

use crate::ids::Digest;

/// A value could not be put in canonical form.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CanonicalError {
    /// The value has no RFC 8785 form (for example a non-finite float).
    #[error("value has no canonical JSON form: {0}")]
    Json(#[from] serde_json::Error),
}

/// The RFC 8785 (JCS) canonical JSON bytes of a value: the only bytes sealroom hashes or signs.
pub fn canonical_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    Ok(serde_jcs::to_vec(value)?)
}

/// SHA-256 over `label ‖ 0x00 ‖ bytes`.
pub fn labeled_digest(label: &str, bytes: &[u8]) -> Digest {
    let mut hasher = labeled_hasher(label);
    hasher.update(bytes);
    Digest(hasher.finalize().into())
}

/// A streaming SHA-256 already fed `label ‖ 0x00`, for digests of large files.
pub fn labeled_hasher(label: &str) -> Sha256 {
    let mut hasher = Sha256::new();
    hasher.update(label.as_bytes());
    hasher.update([0u8]);
    hasher
}

/// The labeled digest of a value's canonical JSON.
pub fn canonical_digest<T: Serialize + ?Sized>(
    label: &str,
    value: &T,
) -> Result<Digest, CanonicalError> {
    Ok(labeled_digest(label, &canonical_json(value)?))
}

/// The message that is signed for `label`: `label ‖ 0x00 ‖ bytes`.
pub fn signing_message(label: &str, bytes: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(label.len() + 1 + bytes.len());
    message.extend_from_slice(label.as_bytes());
    message.push(0);
    message.extend_from_slice(bytes);
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_and_drops_whitespace() {
        let value = json!({"b": 1, "a": [true, null, "x"], "c": {"z": 0, "y": 1.5}});
        let bytes = canonical_json(&value).unwrap();
        assert_eq!(bytes, br#"{"a":[true,null,"x"],"b":1,"c":{"y":1.5,"z":0}}"#);
    }

    #[test]
    fn labels_separate_domains() {
        assert_ne!(labeled_digest("a", b"bc"), labeled_digest("ab", b"c"));
    }
}
