//! AWS Nitro Enclaves attestation documents: a COSE_Sign1 (RFC 9052) signed with ES384 by a
//! leaf certificate whose chain (`cabundle`) runs to the AWS Nitro Enclaves root G1, pinned in
//! this crate (`roots/aws-nitro-enclaves-root-g1.pem`, as AWS publishes it: SHA-256 fingerprint
//! `64:1A:03:21:A3:E2:44:EF:…:8F:79:BB:5B`).
//!
//! Verification is offline and takes the time to check certificates at as a parameter: it never
//! reads the clock. Hand-written where it must be: the COSE structure and the certificate-chain
//! walk are a few dozen lines over `ciborium` (CBOR) and `x509-cert` (DER), with signatures by
//! `aws-lc-rs`; no maintained crate verifies a Nitro chain without also fetching or trusting
//! more than this.

use std::collections::BTreeMap;

use aws_lc_rs::signature::{ECDSA_P384_SHA384_ASN1, ECDSA_P384_SHA384_FIXED, UnparsedPublicKey};
use ciborium::Value;
use x509_cert::Certificate;
use x509_cert::der::Decode;

use crate::certs;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};

/// The AWS Nitro Enclaves root certificate (G1), PEM.
pub const AWS_NITRO_ROOT_G1_PEM: &str = include_str!("../roots/aws-nitro-enclaves-root-g1.pem");

/// `ecdsa-with-SHA384` (RFC 5758).
const ECDSA_WITH_SHA384: &str = "1.2.840.10045.4.3.3";

/// How far (seconds) a document's time may run ahead of the verification time.
const CLOCK_SKEW: u64 = 300;

/// X.509 extensions the chain check reads (RFC 5280).
const BASIC_CONSTRAINTS: &str = "2.5.29.19";
const KEY_USAGE: &str = "2.5.29.15";

/// COSE algorithm ES384 (RFC 9053).
const COSE_ES384: i128 = -35;

/// Why a Nitro attestation document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NitroError {
    /// The document is not what the format says, at the named place.
    #[error("malformed Nitro attestation document at {0}")]
    Malformed(String),
    /// The COSE signature does not verify with the leaf certificate's key.
    #[error("the attestation document's signature does not verify")]
    BadSignature,
    /// The chain does not start at the pinned AWS root.
    #[error("the certificate chain does not start at the pinned AWS Nitro root")]
    UnknownRoot,
    /// A certificate's signature does not verify with its issuer's key.
    #[error("certificate {index} of the chain is not signed by its issuer")]
    BadChainSignature {
        /// Position from the root (0).
        index: usize,
    },
    /// A certificate is not valid at the verification time.
    #[error(
        "certificate {index} of the chain is not valid at {at} (valid {not_before} to {not_after})"
    )]
    OutsideValidity {
        /// Position from the root (0).
        index: usize,
        /// The verification time (Unix seconds).
        at: u64,
        /// Start of validity (Unix seconds).
        not_before: u64,
        /// End of validity (Unix seconds).
        not_after: u64,
    },
    /// A certificate that issues another is not a certificate authority, or not one allowed
    /// that many CAs below it.
    #[error(
        "certificate {index} of the chain issues another but is not a certificate authority allowed to (CA flag or path length)"
    )]
    NotACertificateAuthority {
        /// Position from the root (0).
        index: usize,
    },
    /// A certificate's key usage does not allow what the chain asks of it.
    #[error("certificate {index} of the chain is not allowed {needed} by its key usage")]
    KeyUsage {
        /// Position from the root (0).
        index: usize,
        /// What it would need to do.
        needed: &'static str,
    },
    /// A certificate carries a critical extension this verifier does not read.
    #[error(
        "certificate {index} of the chain has a critical extension {oid} this verifier does not read"
    )]
    UnreadCriticalExtension {
        /// Position from the root (0).
        index: usize,
        /// The extension's OID.
        oid: String,
    },
    /// The document was made after the verification time.
    #[error("the document was made at {made}, after the verification time {at}")]
    FromTheFuture {
        /// Its timestamp (Unix seconds).
        made: u64,
        /// The verification time.
        at: u64,
    },
}

fn malformed(at: impl Into<String>) -> NitroError {
    NitroError::Malformed(at.into())
}

/// What a verified attestation document says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NitroDocument {
    /// The enclave's module id.
    pub module_id: String,
    /// When the document was made (Unix milliseconds).
    pub timestamp_ms: u64,
    /// Platform configuration registers by index (48 bytes each, SHA-384).
    pub pcrs: BTreeMap<u64, Vec<u8>>,
    /// The enclave's public key, if it put one in.
    pub public_key: Option<Vec<u8>>,
    /// Data the enclave bound, if any.
    pub user_data: Option<Vec<u8>>,
    /// The nonce the enclave bound, if any.
    pub nonce: Option<Vec<u8>>,
    /// Whether PCR0, 1 and 2 are all zero (debug mode).
    pub debug: bool,
}

/// The DER of a PEM certificate.
pub fn pem_to_der(pem: &str) -> Result<Vec<u8>, NitroError> {
    certs::pem_to_der(pem).ok_or_else(|| malformed("the PEM certificate"))
}

fn map_get<'a>(map: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
}

fn bytes_field(map: &[(Value, Value)], key: &str) -> Result<Vec<u8>, NitroError> {
    map_get(map, key)
        .and_then(Value::as_bytes)
        .cloned()
        .ok_or_else(|| malformed(format!("payload field {key}")))
}

fn optional_bytes(map: &[(Value, Value)], key: &str) -> Result<Option<Vec<u8>>, NitroError> {
    match map_get(map, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bytes(b)) => Ok(Some(b.clone())),
        Some(_) => Err(malformed(format!("payload field {key}"))),
    }
}

/// The document's own `timestamp`, in Unix seconds, read without verifying anything (to choose
/// a verification time inside a window).
pub fn document_timestamp(document: &[u8]) -> Option<i64> {
    let fields = crate::registers::nitro_payload(document)?;
    let millis = map_get(&fields, "timestamp")?.as_integer()?;
    i64::try_from(i128::from(millis) / 1000).ok()
}

/// Verifies `document` (the COSE_Sign1 bytes) against the pinned AWS root at `at` (Unix
/// seconds); debug mode is reported (the agreement refuses it).
pub fn verify(document: &[u8], at: u64) -> Result<NitroDocument, NitroError> {
    verify_signed(document, &pem_to_der(AWS_NITRO_ROOT_G1_PEM)?, at)
}

/// Verifies the document's signature and chain to `root_der` at `at`, debug mode or not.
pub fn verify_signed(
    document: &[u8],
    root_der: &[u8],
    at: u64,
) -> Result<NitroDocument, NitroError> {
    let value: Value =
        ciborium::from_reader(document).map_err(|_| malformed("the COSE_Sign1 CBOR"))?;
    // COSE_Sign1 may carry its tag (18).
    let value = match value {
        Value::Tag(18, inner) => *inner,
        other => other,
    };
    let parts = value
        .into_array()
        .map_err(|_| malformed("the COSE_Sign1 array"))?;
    let [protected, _unprotected, payload, signature]: [Value; 4] = parts
        .try_into()
        .map_err(|_| malformed("the COSE_Sign1 array's length"))?;
    let protected = protected
        .into_bytes()
        .map_err(|_| malformed("the protected header"))?;
    let payload = payload.into_bytes().map_err(|_| malformed("the payload"))?;
    let signature = signature
        .into_bytes()
        .map_err(|_| malformed("the signature"))?;

    let header: Value = ciborium::from_reader(protected.as_slice())
        .map_err(|_| malformed("the protected header"))?;
    let algorithm = header
        .as_map()
        .and_then(|m| m.iter().find(|(k, _)| k.as_integer() == Some(1.into())))
        .and_then(|(_, v)| v.as_integer())
        .map(i128::from);
    if algorithm != Some(COSE_ES384) {
        return Err(malformed(
            "the protected header's algorithm (ES384 expected)",
        ));
    }

    let fields: Value =
        ciborium::from_reader(payload.as_slice()).map_err(|_| malformed("the payload map"))?;
    let fields = fields
        .as_map()
        .ok_or_else(|| malformed("the payload map"))?;
    if map_get(fields, "digest").and_then(Value::as_text) != Some("SHA384") {
        return Err(malformed("payload field digest (SHA384 expected)"));
    }
    let leaf = bytes_field(fields, "certificate")?;
    let bundle: Vec<Vec<u8>> = map_get(fields, "cabundle")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("payload field cabundle"))?
        .iter()
        .map(|c| {
            c.as_bytes()
                .cloned()
                .ok_or_else(|| malformed("a cabundle entry"))
        })
        .collect::<Result<_, _>>()?;

    // The chain, root first: the bundle, then the leaf.
    let chain: Vec<Vec<u8>> = bundle.into_iter().chain([leaf]).collect();
    let leaf_key = verify_chain(&chain, root_der, at)?;

    // Sig_structure (RFC 9052 §4.4): ["Signature1", protected, external_aad, payload].
    let to_be_signed = Value::Array(vec![
        Value::Text("Signature1".into()),
        Value::Bytes(protected),
        Value::Bytes(Vec::new()),
        Value::Bytes(payload.clone()),
    ]);
    let mut message = Vec::new();
    ciborium::into_writer(&to_be_signed, &mut message)
        .map_err(|_| malformed("the signed structure"))?;
    UnparsedPublicKey::new(&ECDSA_P384_SHA384_FIXED, &leaf_key)
        .verify(&message, &signature)
        .map_err(|_| NitroError::BadSignature)?;

    let pcrs: BTreeMap<u64, Vec<u8>> = map_get(fields, "pcrs")
        .and_then(Value::as_map)
        .ok_or_else(|| malformed("payload field pcrs"))?
        .iter()
        .map(|(k, v)| {
            let index = k
                .as_integer()
                .and_then(|i| u64::try_from(i).ok())
                .ok_or_else(|| malformed("a PCR index"))?;
            let value = v
                .as_bytes()
                .cloned()
                .ok_or_else(|| malformed("a PCR value"))?;
            Ok((index, value))
        })
        .collect::<Result<_, NitroError>>()?;
    let timestamp_ms = map_get(fields, "timestamp")
        .and_then(Value::as_integer)
        .and_then(|t| u64::try_from(t).ok())
        .ok_or_else(|| malformed("payload field timestamp"))?;
    // Freshness is the nonce's job (the verifier's challenge); a document from the future is
    // refused here.
    if timestamp_ms / 1000 > at.saturating_add(CLOCK_SKEW) {
        return Err(NitroError::FromTheFuture {
            made: timestamp_ms / 1000,
            at,
        });
    }
    let zero = |i: u64| pcrs.get(&i).is_none_or(|v| v.iter().all(|&b| b == 0));
    Ok(NitroDocument {
        module_id: map_get(fields, "module_id")
            .and_then(Value::as_text)
            .ok_or_else(|| malformed("payload field module_id"))?
            .to_string(),
        timestamp_ms,
        debug: zero(0) && zero(1) && zero(2),
        pcrs,
        public_key: optional_bytes(fields, "public_key")?,
        user_data: optional_bytes(fields, "user_data")?,
        nonce: optional_bytes(fields, "nonce")?,
    })
}

/// Walks `chain` (root first): the first certificate must be `root_der` byte for byte, each
/// must be signed by the one before with ECDSA P-384/SHA-384 and be valid at `at`. Returns the
/// last (leaf) certificate's public key (an uncompressed P-384 point).
fn verify_chain(chain: &[Vec<u8>], root_der: &[u8], at: u64) -> Result<Vec<u8>, NitroError> {
    if chain.first().map(Vec::as_slice) != Some(root_der) {
        return Err(NitroError::UnknownRoot);
    }
    let mut issuer_key: Option<Vec<u8>> = None;
    for (index, der) in chain.iter().enumerate() {
        let certificate = Certificate::from_der(der)
            .map_err(|_| malformed(format!("certificate {index} of the chain")))?;
        let tbs = &certificate.tbs_certificate;
        let (not_before, not_after) = certs::validity(&certificate);
        if at < not_before || at > not_after {
            return Err(NitroError::OutsideValidity {
                index,
                at,
                not_before,
                not_after,
            });
        }
        if certificate.signature_algorithm.oid.to_string() != ECDSA_WITH_SHA384 {
            return Err(malformed(format!(
                "certificate {index}'s signature algorithm (ecdsa-with-SHA384 expected)"
            )));
        }
        let (signed, signature, own_key) =
            certs::parts(&certificate).ok_or_else(|| malformed(format!("certificate {index}")))?;
        let own_key = own_key.to_vec();
        // Every certificate but the leaf must be a CA, with room below it for the CAs that
        // follow (its path length constraint).
        if index + 1 < chain.len() {
            let constraints = tbs
                .get::<BasicConstraints>()
                .map_err(|_| malformed(format!("certificate {index}'s basic constraints")))?
                .map(|(_, constraints)| constraints)
                .filter(|constraints| constraints.ca)
                .ok_or(NitroError::NotACertificateAuthority { index })?;
            let below = chain.len() - 2 - index;
            if constraints
                .path_len_constraint
                .is_some_and(|limit| below > usize::from(limit))
            {
                return Err(NitroError::NotACertificateAuthority { index });
            }
        }
        // A key may only do what its certificate allows: CAs sign certificates, the leaf signs
        // the document. An extension marked critical that this verifier does not read refuses
        // the chain (RFC 5280 §4.2).
        let is_ca = index + 1 < chain.len();
        let usage = tbs
            .get::<KeyUsage>()
            .map_err(|_| malformed(format!("certificate {index}'s key usage")))?;
        if let Some((_, usage)) = usage {
            let allowed = if is_ca {
                usage.key_cert_sign()
            } else {
                usage.digital_signature()
            };
            if !allowed {
                return Err(NitroError::KeyUsage {
                    index,
                    needed: if is_ca {
                        "certificate signing"
                    } else {
                        "digital signature"
                    },
                });
            }
        }
        if let Some(unread) = tbs.extensions.iter().flatten().find(|e| {
            e.critical && ![BASIC_CONSTRAINTS, KEY_USAGE].contains(&e.extn_id.to_string().as_str())
        }) {
            return Err(NitroError::UnreadCriticalExtension {
                index,
                oid: unread.extn_id.to_string(),
            });
        }
        let key = issuer_key.as_deref().unwrap_or(&own_key);
        UnparsedPublicKey::new(&ECDSA_P384_SHA384_ASN1, key)
            .verify(&signed, signature)
            .map_err(|_| NitroError::BadChainSignature { index })?;
        issuer_key = Some(own_key);
    }
    issuer_key.ok_or(NitroError::UnknownRoot)
}
