//! AWS Nitro Enclaves attestation documents from real enclaves (shared/vectors/nitro), verified
//! offline against the pinned AWS root at the time each document was made, and refused when
//! altered, out of date, chained to another root, or from a debug-mode enclave.
#![cfg(feature = "verifiers")]

use base64::Engine as _;
use sealroom_attest::nitro::{
    AWS_NITRO_ROOT_G1_PEM, NitroError, pem_to_der, verify, verify_signed,
};
use sealroom_core::bytes::hex;
use sha2::{Digest, Sha256};

fn sample(relative: &str) -> Vec<u8> {
    sealroom_vectors::evidence::raw(&format!("nitro/{relative}"))
}

/// The GA sample, stored as base64.
fn ga_document() -> Vec<u8> {
    let text = String::from_utf8(sample("test-data/valid-attestation-doc-base64")).unwrap();
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .unwrap()
}

/// The document's own timestamp in seconds, read without verifying (to pin the clock).
fn made_at(document: &[u8]) -> u64 {
    u64::try_from(sealroom_attest::nitro::document_timestamp(document).unwrap()).unwrap()
}

/// `document` with the last byte of its `cabundle[index]` flipped, re-encoded (the COSE
/// signature no longer matches, but the chain is checked first).
fn with_bundle_bit_flipped(document: &[u8], index: usize) -> Vec<u8> {
    use ciborium::Value;
    let cose: Value = ciborium::from_reader(document).unwrap();
    let mut parts = cose.into_array().unwrap();
    let payload = parts[2].as_bytes().unwrap().clone();
    let mut fields: Value = ciborium::from_reader(payload.as_slice()).unwrap();
    for (key, value) in fields.as_map_mut().unwrap() {
        if key.as_text() == Some("cabundle") {
            let certificate = value.as_array_mut().unwrap()[index].as_bytes_mut().unwrap();
            *certificate.last_mut().unwrap() ^= 1;
        }
    }
    let mut payload = Vec::new();
    ciborium::into_writer(&fields, &mut payload).unwrap();
    parts[2] = Value::Bytes(payload);
    let mut out = Vec::new();
    ciborium::into_writer(&Value::Array(parts), &mut out).unwrap();
    out
}

fn root() -> Vec<u8> {
    pem_to_der(AWS_NITRO_ROOT_G1_PEM).unwrap()
}

#[test]
fn the_pinned_root_is_the_one_aws_publishes() {
    let fingerprint = hex(&Sha256::digest(root()));
    assert_eq!(
        fingerprint,
        "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"
    );
    // And it is the file the vectors' source pins.
    let theirs = String::from_utf8(sample("attestation-doc-validation/src/nitro.pem")).unwrap();
    assert_eq!(pem_to_der(&theirs).unwrap(), root());
}

#[test]
fn a_real_document_verifies_at_its_time_and_reports_its_debug_mode() {
    let document = ga_document();
    let at = made_at(&document);
    let verified = verify_signed(&document, &root(), at).unwrap();
    assert!(
        verified.module_id.starts_with("i-"),
        "{}",
        verified.module_id
    );
    assert_eq!(verified.timestamp_ms / 1000, at);
    assert!(verified.pcrs.len() >= 16);
    assert!(verified.pcrs.values().all(|v| v.len() == 48));
    // This sample came from an enclave in debug mode: PCR0–2 are zero (agreements refuse it).
    assert!(verified.debug);
    assert_eq!(verify(&document, at).unwrap(), verified);
}

#[test]
fn a_second_real_document_verifies_and_reports_its_measurements() {
    for name in [
        "test-data/beta/valid-attestation-doc-bytes",
        "test-data/beta/debug-mode-attestation-doc-bytes",
    ] {
        let document = sample(name);
        let at = made_at(&document);
        let verified = verify_signed(&document, &root(), at).unwrap();
        assert_eq!(verified.debug, name.contains("debug"), "{name}");
        assert_eq!(verify(&document, at).unwrap(), verified);
        if !verified.debug {
            assert_ne!(verified.pcrs[&0], vec![0; 48]);
        }
    }
}

#[test]
fn documents_outside_their_certificates_validity_are_refused() {
    let document = ga_document();
    let at = made_at(&document);
    assert!(matches!(
        verify_signed(&document, &root(), at + 365 * 24 * 3600),
        Err(NitroError::OutsideValidity { .. })
    ));
    // A day before it was made: its leaf certificate did not exist yet.
    assert!(matches!(
        verify_signed(&document, &root(), at - 24 * 3600),
        Err(NitroError::OutsideValidity { .. })
    ));
    // Ten minutes before it was made (certificates already valid): from the future.
    assert!(matches!(
        verify_signed(&document, &root(), at - 600),
        Err(NitroError::FromTheFuture { .. }) | Err(NitroError::OutsideValidity { .. })
    ));
}

#[test]
fn altered_documents_and_other_roots_are_refused() {
    let document = ga_document();
    let at = made_at(&document);
    // The last byte is part of the signature.
    let mut signature = document.clone();
    *signature.last_mut().unwrap() ^= 1;
    assert_eq!(
        verify_signed(&signature, &root(), at),
        Err(NitroError::BadSignature)
    );
    // A byte inside the module id (in the signed payload).
    let mut payload = document.clone();
    let offset = payload
        .windows(2)
        .position(|w| w == b"i-")
        .expect("the module id");
    payload[offset + 3] ^= 1;
    assert_eq!(
        verify_signed(&payload, &root(), at),
        Err(NitroError::BadSignature)
    );
    // The leaf's key usage cut down to non-repudiation (its first key-usage extension: OID,
    // then OCTET STRING { BIT STRING 03 02 06 c0 }): refused before any signature is trusted.
    let key_usage = [
        0x06, 0x03, 0x55, 0x1d, 0x0f, 0x04, 0x04, 0x03, 0x02, 0x06, 0xc0,
    ];
    let at_usage = document
        .windows(key_usage.len())
        .position(|w| w == key_usage)
        .expect("the leaf's key usage");
    let mut usage = document.clone();
    usage[at_usage + key_usage.len() - 1] = 0x40;
    assert!(matches!(
        verify_signed(&usage, &root(), at),
        Err(NitroError::KeyUsage {
            needed: "digital signature",
            ..
        })
    ));
    // One bit of an intermediate certificate (the last byte of its signature value).
    assert_eq!(
        verify_signed(&with_bundle_bit_flipped(&document, 1), &root(), at),
        Err(NitroError::BadChainSignature { index: 1 })
    );
    // Another root: the chain does not start there.
    let mut other_root = root();
    let last = other_root.len() - 1;
    other_root[last] ^= 1;
    assert_eq!(
        verify_signed(&document, &other_root, at),
        Err(NitroError::UnknownRoot)
    );
    // Cut short: malformed, not a panic.
    for cut in [0, 10, document.len() / 2, document.len() - 1] {
        assert!(matches!(
            verify_signed(&document[..cut], &root(), at),
            Err(NitroError::Malformed(_)) | Err(NitroError::BadSignature)
        ));
    }
}

#[test]
fn a_production_enclaves_measurements_are_read_from_its_document() {
    let document = sample("test-data/beta/valid-attestation-doc-bytes");
    let verified = verify(&document, made_at(&document)).unwrap();
    let pcr = |i: u64| hex(&verified.pcrs[&i]);
    assert_eq!(
        pcr(0),
        "f4d48b81a460c9916d1e685119074bf24660afd3e34fae9fca0a0d28d9d5599936332687e6f66fc890ac8cf150142d8b"
    );
    // PCR1 measures the Nitro kernel and boot ramdisk, the same for every enclave of that
    // Nitro release: it equals the value the vectors' other specs list for another enclave.
    let spec: serde_json::Value = serde_json::from_slice(&sample(
        "test-specs/beta/valid_attestation_doc_in_non_debug_mode_with_correct_pcrs_time_sensitive.json",
    ))
    .unwrap();
    assert_eq!(pcr(1), spec["pcrs"]["pcr1"].as_str().unwrap());
    assert_eq!(verified.pcrs[&8].len(), 48);
    assert_eq!(verified.nonce.as_ref().map(Vec::len), Some(256));
    assert_eq!(verified.public_key, None);
}
