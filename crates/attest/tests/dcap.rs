//! Intel SGX and TDX quotes from real machines (shared/vectors/tdx-sgx), verified offline with
//! their collateral at a time inside the collateral's validity, and refused when altered, when
//! the collateral has expired, or when the platform's TCB is out of date and not accepted.
#![cfg(feature = "verifiers")]

use sealroom_attest::dcap::{DcapError, DcapMeasurement, verify_signed};

fn sample(name: &str) -> Vec<u8> {
    sealroom_vectors::evidence::raw(&format!("tdx-sgx/sample/{name}"))
}

fn collateral(name: &str) -> String {
    String::from_utf8(sample(name)).unwrap()
}

/// 2025-07-01T00:00:00Z: inside the 2025 samples' collateral (issued 2025-06-19, next update
/// 2025-07-19).
const JULY_2025: u64 = 1_751_328_000;
/// 2026-03-01T00:00:00Z: inside the out-of-date sample's collateral.
const MARCH_2026: u64 = 1_772_323_200;

#[test]
fn an_sgx_quote_verifies_with_its_collateral_and_names_its_enclave() {
    let quote = verify_signed(
        &sample("sgx_quote"),
        &collateral("sgx_quote_collateral.json"),
        JULY_2025,
    )
    .unwrap();
    let DcapMeasurement::Sgx {
        mr_enclave,
        mr_signer,
        ..
    } = quote.measurement
    else {
        panic!("an SGX quote");
    };
    assert_ne!(mr_enclave, [0; 32]);
    assert_ne!(mr_signer, [0; 32]);
    assert!(!quote.tcb_status.is_empty());
}

#[test]
fn a_tdx_quote_verifies_and_names_its_td_measurements() {
    let quote = verify_signed(
        &sample("tdx_quote"),
        &collateral("tdx_quote_collateral.json"),
        JULY_2025,
    )
    .unwrap();
    let DcapMeasurement::Tdx { mr_td, rtmrs } = quote.measurement else {
        panic!("a TDX quote");
    };
    assert_ne!(mr_td, [0; 48]);
    assert!(rtmrs.iter().any(|r| r != &[0; 48]));
}

#[test]
fn a_platform_below_every_tcb_level_is_refused_as_out_of_date() {
    // This machine's TCB is older than every level in its (valid, signed) TCB info.
    let refused = verify_signed(
        &sample("tdx_quote_outdated"),
        &collateral("tdx_quote_outdated_collateral.json"),
        MARCH_2026,
    );
    match refused {
        Err(DcapError::TcbStatus { status, .. }) => assert!(status.starts_with("OutOfDate")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn altered_quotes_and_expired_collateral_are_refused() {
    let quote = sample("tdx_quote");
    let collateral = collateral("tdx_quote_collateral.json");
    // One bit of MRTD (in the signed TD report: header 48 bytes, then TEE_TCB_SVN 16, MRSEAM 48,
    // MRSIGNERSEAM 48, SEAMATTRIBUTES 8, TDATTRIBUTES 8, XFAM 8).
    let mut altered = quote.clone();
    altered[48 + 16 + 48 + 48 + 8 + 8 + 8] ^= 1;
    assert!(matches!(
        verify_signed(&altered, &collateral, JULY_2025),
        Err(DcapError::Verification(_))
    ));
    // One bit of the quote's ECDSA signature (after the 584-byte TD report and the signature
    // data's 4-byte length).
    let mut altered = quote.clone();
    altered[48 + 584 + 4 + 10] ^= 1;
    assert!(matches!(
        verify_signed(&altered, &collateral, JULY_2025),
        Err(DcapError::Verification(_))
    ));
    // One character of the PCK certificate the quote carries (PEM, in its certification data).
    let begin = b"-----BEGIN CERTIFICATE-----";
    let at = quote
        .windows(begin.len())
        .position(|w| w == begin)
        .expect("the quote carries its PCK chain")
        + begin.len()
        + 200;
    let mut altered = quote.clone();
    altered[at] = if altered[at] == b'A' { b'B' } else { b'A' };
    assert!(matches!(
        verify_signed(&altered, &collateral, JULY_2025),
        Err(DcapError::Verification(_))
    ));
    // A year after the collateral's next update.
    assert!(matches!(
        verify_signed(&quote, &collateral, JULY_2025 + 365 * 24 * 3600),
        Err(DcapError::Verification(_))
    ));
    // Malformed input is an error, never a panic.
    assert!(verify_signed(&quote[..100], &collateral, JULY_2025).is_err());
    assert!(matches!(
        verify_signed(&quote, "{}", JULY_2025),
        Err(DcapError::Collateral(_))
    ));
}
