//! AMD SEV-SNP reports from real machines (shared/vectors/snp), verified offline against the
//! pinned AMD Milan chain, and refused when altered, signed by another chip's key, chained to
//! the wrong intermediate, or checked when a certificate is out of date.
#![cfg(feature = "verifiers")]

use sealroom_attest::snp::{SigningKey, SnpError, verify_signed};

fn sample(name: &str) -> Vec<u8> {
    sealroom_vectors::evidence::raw(&format!("{}/{name}", sealroom_vectors::evidence::SNP_DIR))
}

/// 2025-06-01T00:00:00Z: inside every sample certificate's validity.
const JUNE_2025: u64 = 1_748_736_000;

#[test]
fn a_vcek_signed_report_verifies_and_reports_its_launch_measurement() {
    let report = verify_signed(
        &sample("test-report.bin"),
        &sample("test-vcek.der"),
        JUNE_2025,
    )
    .unwrap();
    assert_eq!(report.version, 2);
    assert_eq!(report.signed_by, SigningKey::Vcek);
    assert!(!report.debug);
    assert_ne!(report.measurement, [0; 48]);
    assert_ne!(report.chip_id, [0; 64]);
    // The reported TCB's SNP and microcode SVNs (Milan layout: bytes 6 and 7), which the
    // verifier checked against the VCEK's extensions, as it did the chip id.
    assert_eq!(report.reported_tcb.to_le_bytes()[6..], [0x08, 0x73]);
    assert_eq!(report.vmpl, 0);
}

#[test]
fn a_vlek_signed_report_verifies_through_the_asvk_while_its_certificate_is_valid() {
    let report = verify_signed(
        &sample("test-vlek-report.bin"),
        &sample("test-vlek.der"),
        JUNE_2025,
    )
    .unwrap();
    assert_eq!(report.version, 3);
    assert_eq!(report.signed_by, SigningKey::Vlek);
    // This report was asked for at VMPL 1 (under a paravisor): reported, for policy to judge.
    assert_eq!(report.vmpl, 1);
    // The VLEK certificate expired on 2025-12-10.
    assert!(matches!(
        verify_signed(
            &sample("test-vlek-report.bin"),
            &sample("test-vlek.der"),
            1_780_000_000
        ),
        Err(SnpError::OutsideValidity { name: "VLEK", .. })
    ));
}

#[test]
fn altered_reports_and_other_keys_are_refused() {
    let report = sample("test-report.bin");
    let vcek = sample("test-vcek.der");
    // One bit of the measurement.
    let mut altered = report.clone();
    altered[0x90] ^= 1;
    assert_eq!(
        verify_signed(&altered, &vcek, JUNE_2025),
        Err(SnpError::BadSignature("VCEK"))
    );
    // VCEK-shaped certificates that AMD's ASK did not sign.
    for other in ["test-vcek-invalid-legacy.der", "test-vcek-invalid-new.der"] {
        assert_eq!(
            verify_signed(&report, &sample(other), JUNE_2025),
            Err(SnpError::BadChain("VCEK", "ASK")),
            "{other}"
        );
    }
    // A VLEK certificate offered for a VCEK-signed report: not issued by the ASK.
    assert_eq!(
        verify_signed(&report, &sample("test-vlek.der"), JUNE_2025),
        Err(SnpError::BadChain("VCEK", "ASK"))
    );
    // 2022-01-01: the ASK and ARK were valid, the VCEK (issued 2023-01-24) not yet.
    assert!(matches!(
        verify_signed(&report, &vcek, 1_640_995_200),
        Err(SnpError::OutsideValidity { name: "VCEK", .. })
    ));
    // Wrong sizes are malformed, never a panic.
    for cut in [0, 0x2A0, report.len() - 1] {
        assert!(matches!(
            verify_signed(&report[..cut], &vcek, JUNE_2025),
            Err(SnpError::Malformed(_))
        ));
    }
    assert!(matches!(
        verify_signed(&report, &vcek[..100], JUNE_2025),
        Err(SnpError::Malformed(_))
    ));
}
