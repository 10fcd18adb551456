//! Party cards: a party's public identity.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::canonical::{CanonicalError, canonical_digest};
use crate::ids::Fingerprint;
use crate::labels;

/// An Ed25519 public key that verifies a party's signatures.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SigningPublicKey(#[serde(with = "crate::bytes::b64_array")] pub [u8; 32]);

/// An X25519 public key to which HPKE seals data for a party.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HpkePublicKey(#[serde(with = "crate::bytes::b64_array")] pub [u8; 32]);

impl fmt::Debug for SigningPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ed25519:{}", crate::bytes::encode(&self.0))
    }
}

impl fmt::Debug for HpkePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "x25519:{}", crate::bytes::encode(&self.0))
    }
}

/// Version of the party card format.
pub const PARTY_CARD_FORMAT: &str = "sealroom-party-card/v1";

/// A party's public card: name, both public keys, and where its key broker listens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyCard {
    /// Always [`PARTY_CARD_FORMAT`].
    pub format: String,
    /// Short name, unique within an agreement (`[a-z0-9_-]`, 1 to 64 characters).
    pub name: String,
    /// Verifies the party's signatures.
    pub signing_key: SigningPublicKey,
    /// Receives data sealed to the party.
    pub hpke_key: HpkePublicKey,
    /// Base URL of the party's key broker, if it owns data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_url: Option<String>,
}

impl PartyCard {
    /// SHA-256 of the canonical card.
    pub fn fingerprint(&self) -> Result<Fingerprint, CanonicalError> {
        canonical_digest(labels::PARTY_CARD, self).map(Fingerprint::from)
    }

    /// The broker's base URL without a trailing slash, if the card names one and it is a plain
    /// `http(s)://host[:port]` base (see [`check_broker_url`]).
    pub fn broker_base(&self) -> Option<Result<&str, BrokerUrlError>> {
        self.broker_url
            .as_deref()
            .map(|url| check_broker_url(url).map(|()| url.trim_end_matches('/')))
    }
}

/// A broker URL is not a plain `http(s)://host[:port]` base.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "broker URL {url:?} is not a plain http(s)://host[:port] base ({reason}): isolates call brokers only at such bases"
)]
pub struct BrokerUrlError {
    /// The URL given (truncated).
    pub url: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Checks that `url` is `http://` or `https://`, a host, an optional port and at most a trailing
/// `/`: no user info, path, query or fragment, so that nothing but a broker's own API is ever
/// called through it.
pub fn check_broker_url(url: &str) -> Result<(), BrokerUrlError> {
    let err = |reason| BrokerUrlError {
        url: url.chars().take(200).collect(),
        reason,
    };
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| err("it must start with http:// or https://"))?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() {
        return Err(err("it names no host"));
    }
    if !authority
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
    {
        return Err(err("only a host and a port may follow the scheme"));
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| err("unclosed IPv6 address"))?;
            let port = match after {
                "" => None,
                after => Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| err("only a port may follow an IPv6 address"))?,
                ),
            };
            (host, port)
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if host.is_empty() || host.contains(['[', ']']) {
        return Err(err("it names no host"));
    }
    if let Some(port) = port
        && !port.parse::<u16>().is_ok_and(|p| p > 0)
    {
        return Err(err("the port is not a number from 1 to 65535"));
    }
    Ok(())
}

/// Checks a party or dataset name: `[a-z0-9_-]`, 1 to 64 characters, starting with a letter or digit.
pub fn is_valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_restricted() {
        assert!(is_valid_name("ad-platform_2"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("-x"));
        assert!(!is_valid_name("Ad"));
        assert!(!is_valid_name("a/b"));
    }

    #[test]
    fn broker_urls_are_plain_bases() {
        for good in [
            "http://127.0.0.1:7101",
            "https://broker.example.com",
            "http://localhost:80/",
            "http://[::1]:9000",
        ] {
            assert_eq!(check_broker_url(good), Ok(()), "{good}");
        }
        for bad in [
            "ftp://x",
            "http://",
            "http://a:b",
            "http://a:0",
            "http://a:70000",
            "http://user@host:1",
            "http://host:1/path",
            "http://host:1/?q",
            "http://host:1#f",
            "http://host/../x",
            "http://[::1",
            "http://[::1]x",
            "http://host :1",
        ] {
            assert!(check_broker_url(bad).is_err(), "{bad}");
        }
    }
}
