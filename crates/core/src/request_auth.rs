//! Signed HTTP requests: how a party proves who it is to a host or broker on reads.
//!
//! The `Authorization` header is `Sealroom key=<base64 Ed25519 key>, at=<unix seconds>,
//! sig=<base64 signature>`, the signature taken over `sealroom/v1/http-request ‖ 0x00 ‖ METHOD ‖
//! 0x00 ‖ path-and-query ‖ 0x00 ‖ at`. A server accepts it within
//! [`REQUEST_AUTH_MAX_SKEW_SECONDS`] of its own clock, then decides what that key may see.

use crate::clock::Timestamp;
use crate::labels;
use crate::party::SigningPublicKey;
use crate::sign::{Signature, verify};

/// The `Authorization` scheme name.
pub const SCHEME: &str = "Sealroom";

/// How far a signed request's time may be from the server's, in seconds.
pub const REQUEST_AUTH_MAX_SKEW_SECONDS: i64 = 300;

/// A parsed `Authorization: Sealroom …` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestAuth {
    /// The signer's key.
    pub key: SigningPublicKey,
    /// When it was signed.
    pub at: Timestamp,
    /// The signature.
    pub signature: Signature,
}

/// Why a signed request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestAuthError {
    /// No `Authorization` header.
    #[error("this needs a request signed by a party: sign it with your key file (--key)")]
    Missing,
    /// The header is not a `Sealroom` authorization.
    #[error("the Authorization header is malformed: {0}")]
    Malformed(String),
    /// The signature does not verify.
    #[error("the request signature does not verify")]
    BadSignature,
    /// The time is too far from the server's.
    #[error("the request was signed at {at}, more than {max} s from the server's time {now}")]
    Stale {
        /// When it was signed.
        at: Timestamp,
        /// The server's time.
        now: Timestamp,
        /// The allowed distance.
        max: i64,
    },
}

impl RequestAuth {
    /// The bytes that are signed for `method` and `path_and_query` at `at`.
    pub fn message(method: &str, path_and_query: &str, at: Timestamp) -> Vec<u8> {
        format!("{method}\0{path_and_query}\0{}", at.0).into_bytes()
    }

    /// The header value.
    pub fn to_header(&self) -> String {
        format!(
            "{SCHEME} key={}, at={}, sig={}",
            crate::bytes::encode(&self.key.0),
            self.at.0,
            crate::bytes::encode(&self.signature.0)
        )
    }

    /// Reads a header value.
    pub fn parse(header: &str) -> Result<Self, RequestAuthError> {
        let malformed = |why: &str| RequestAuthError::Malformed(why.into());
        let rest = header
            .strip_prefix(SCHEME)
            .and_then(|r| r.strip_prefix(' '))
            .ok_or_else(|| malformed("the scheme is not Sealroom"))?;
        let (mut key, mut at, mut sig) = (None, None, None);
        for part in rest.split(',') {
            let (name, value) = part
                .trim()
                .split_once('=')
                .ok_or_else(|| malformed("expected name=value pairs"))?;
            match name {
                "key" => key = Some(value),
                "at" => at = Some(value),
                "sig" => sig = Some(value),
                _ => return Err(malformed("unknown parameter")),
            }
        }
        let decode32 = |v: Option<&str>, what: &str| -> Result<[u8; 32], RequestAuthError> {
            crate::bytes::decode(v.ok_or_else(|| malformed(what))?)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| malformed(what))
        };
        let key = SigningPublicKey(decode32(key, "key is not a 32-byte base64 key")?);
        let at = at
            .and_then(|a| a.parse::<i64>().ok())
            .map(Timestamp)
            .ok_or_else(|| malformed("at is not a number of seconds"))?;
        let signature: [u8; 64] = sig
            .and_then(|s| crate::bytes::decode(s).ok())
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| malformed("sig is not a 64-byte base64 signature"))?;
        Ok(Self {
            key,
            at,
            signature: Signature(signature),
        })
    }

    /// Checks the signature over `method` and `path_and_query`, and the time against `now`.
    pub fn verify(
        &self,
        method: &str,
        path_and_query: &str,
        now: Timestamp,
    ) -> Result<(), RequestAuthError> {
        verify(
            &self.key,
            labels::HTTP_REQUEST,
            &Self::message(method, path_and_query, self.at),
            &self.signature,
        )
        .map_err(|_| RequestAuthError::BadSignature)?;
        check_time(self.at, now)
    }
}

/// A signed request's time must lie within [`REQUEST_AUTH_MAX_SKEW_SECONDS`] of the server's.
fn check_time(at: Timestamp, now: Timestamp) -> Result<(), RequestAuthError> {
    if at.0.abs_diff(now.0) > REQUEST_AUTH_MAX_SKEW_SECONDS.unsigned_abs() {
        return Err(RequestAuthError::Stale {
            at,
            now,
            max: REQUEST_AUTH_MAX_SKEW_SECONDS,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(at: i64) -> RequestAuth {
        RequestAuth {
            key: SigningPublicKey([0; 32]),
            at: Timestamp(at),
            signature: Signature([0; 64]),
        }
    }

    #[test]
    fn headers_round_trip_and_malformed_ones_are_named() {
        let a = auth(1_800_000_000);
        assert_eq!(RequestAuth::parse(&a.to_header()).unwrap(), a);
        for bad in [
            "Bearer x",
            "Sealroom key=AA, at=1, sig=AA",
            "Sealroom key=, at=x, sig=",
            "Sealroom nonsense",
            "Sealroom key=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA, at=1, sig=AA, extra=1",
        ] {
            assert!(
                matches!(RequestAuth::parse(bad), Err(RequestAuthError::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn times_within_five_minutes_pass_and_extreme_ones_fail_without_overflow() {
        let now = Timestamp(1_800_000_000);
        for ok in [0, 300, -300] {
            assert_eq!(check_time(now.plus_seconds(ok), now), Ok(()));
        }
        for late in [301, -301] {
            assert!(matches!(
                check_time(now.plus_seconds(late), now),
                Err(RequestAuthError::Stale { .. })
            ));
        }
        for (at, now) in [(i64::MIN, i64::MAX), (i64::MAX, i64::MIN)] {
            assert!(check_time(Timestamp(at), Timestamp(now)).is_err());
        }
    }
}
