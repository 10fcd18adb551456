//! Every real sample through [`EvidenceVerifier`], the one interface brokers and readers use:
//! each verifies at its pinned time into the same `Claims` shape with the expected measurement
//! fields, report data, TCB status and debug flag, and refuses by name what is missing or late.
#![cfg(feature = "verifiers")]

use base64::Engine as _;
use sealroom_attest::{AttestError, EvidenceVerifier};
use sealroom_core::attestation::{Claims, Evidence, Platform};
use sealroom_core::bytes::hex;
use sealroom_core::clock::Timestamp;
use sealroom_core::runtime::TcbStatus;
use sealroom_vectors::evidence::{SNP_DIR, dcap, nitro, raw, snp};

fn verify(evidence: &Evidence, at: i64) -> Result<Claims, AttestError> {
    EvidenceVerifier::new().verify(evidence, Timestamp(at))
}

const VCEK_MEASUREMENT: &str = "a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c23500644e0e692e6be917f9050d3d38c";

const JUNE_2025: i64 = 1_748_736_000;
const JULY_2025: i64 = 1_751_328_000;
const MARCH_2026: i64 = 1_772_323_200;

#[test]
fn snp_reports_give_their_measurement_tcb_and_key() {
    let claims = verify(&snp("test-report.bin", "test-vcek.der"), JUNE_2025).unwrap();
    assert_eq!(claims.platform, Platform::SevSnp);
    assert!(!claims.debug);
    assert_eq!(claims.fields["measurement"], VCEK_MEASUREMENT);
    assert_eq!(claims.fields["signed_by"], "vcek");
    assert_eq!(claims.fields["product"], "milan");
    assert_eq!(claims.fields["vmpl"], "0");
    assert_eq!(claims.tcb.status, TcbStatus::NotReported);
    assert_eq!(claims.tcb.versions["snp"], 8);
    assert_eq!(claims.tcb.versions["microcode"], 115);
    // The report data is the report's own bytes 0x50..0x90.
    let report = raw(&format!("{SNP_DIR}/test-report.bin"));
    assert_eq!(claims.report_data[..], report[0x50..0x90]);

    let claims = verify(&snp("test-vlek-report.bin", "test-vlek.der"), JUNE_2025).unwrap();
    assert_eq!(claims.fields["signed_by"], "vlek");
    assert_eq!(claims.fields["vmpl"], "1");

    // The key certificate may come as PEM.
    let der = raw(&format!("{SNP_DIR}/test-vcek.der"));
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64::engine::general_purpose::STANDARD.encode(&der)
    );
    let mut evidence = snp("test-report.bin", "test-vcek.der");
    evidence.endorsements = Some(pem.into_bytes());
    assert_eq!(
        verify(&evidence, JUNE_2025).unwrap().fields["measurement"],
        VCEK_MEASUREMENT
    );
}

#[test]
fn dcap_quotes_give_their_registers_status_and_advisories() {
    let tdx = verify(&dcap(Platform::Tdx, "tdx_quote"), JULY_2025).unwrap();
    assert_eq!(tdx.platform, Platform::Tdx);
    assert_eq!(tdx.tcb.status, TcbStatus::UpToDate);
    assert!(!tdx.debug);
    for field in ["mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3"] {
        assert_eq!(tdx.fields[field].len(), 96, "{field}");
    }
    assert!(tdx.fields["mrtd"].starts_with("91eb2b44d141d4ec"));

    let sgx = verify(&dcap(Platform::Sgx, "sgx_quote"), JULY_2025).unwrap();
    assert_eq!(sgx.platform, Platform::Sgx);
    assert_eq!(sgx.tcb.status, TcbStatus::ConfigurationAndSwHardeningNeeded);
    assert_eq!(sgx.tcb.advisories, ["INTEL-SA-00289", "INTEL-SA-00615"]);
    assert_eq!(
        sgx.fields["mrenclave"],
        "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"
    );
    assert_eq!(sgx.fields["isv_prod_id"], "0");
    assert_eq!(sgx.report_data[..13], *b"Hello, world!");

    // The out-of-date platform is below every level Intel describes: refused as out of date.
    let outdated = verify(&dcap(Platform::Tdx, "tdx_quote_outdated"), MARCH_2026).unwrap_err();
    assert!(
        matches!(&outdated, AttestError::Dcap(sealroom_attest::dcap::DcapError::TcbStatus { status, .. }) if status.starts_with("OutOfDate")),
        "{outdated}"
    );

    // A TDX quote is not SGX evidence; and collateral is required.
    let mut mislabeled = dcap(Platform::Tdx, "tdx_quote");
    mislabeled.platform = Platform::Sgx;
    assert!(matches!(
        verify(&mislabeled, JULY_2025),
        Err(AttestError::Malformed { .. })
    ));
    let mut bare = dcap(Platform::Tdx, "tdx_quote");
    bare.endorsements = None;
    assert!(matches!(
        verify(&bare, JULY_2025),
        Err(AttestError::MissingEndorsements { .. })
    ));
}

#[test]
fn nitro_documents_give_their_pcrs_and_bound_data() {
    let beta = nitro("beta/valid-attestation-doc-bytes");
    let claims = verify(&beta, 1_665_660_000).unwrap();
    assert_eq!(claims.platform, Platform::Nitro);
    assert!(!claims.debug);
    assert!(claims.fields["pcr0"].starts_with("f4d48b81a460c991"));
    assert_eq!(
        claims.fields["module_id"],
        "i-020b6af9246d90e92-enc0183d09086c24190"
    );
    // No 64-byte user_data: the document binds nothing sealroom asked for.
    assert_eq!(claims.report_data, [0; 64]);

    let ga = nitro("valid-attestation-doc-base64");
    let claims = verify(&ga, 1_695_050_000).unwrap();
    // The GA sample comes from a debug-mode enclave: reported here, refused by policy.
    assert!(claims.debug);
    assert_eq!(claims.fields["pcr0"], hex(&[0; 48]));

    let debug = nitro("beta/debug-mode-attestation-doc-bytes");
    let claims = verify(&debug, 1_665_590_000).unwrap();
    assert!(claims.debug);
    assert_eq!(claims.fields["user_data"], hex(b"hello, world!"));
}

/// A receipt's evidence was made at some time during its job: it verifies if it did then. A
/// Nitro document whose three-hour leaf certificate is valid at neither end of a window around
/// it verifies at its own timestamp; a window that ends before it was made does not help.
#[test]
fn evidence_made_during_a_window_verifies_within_it() {
    let beta = nitro("beta/valid-attestation-doc-bytes");
    let (from, until) = (Timestamp(1_665_640_000), Timestamp(1_665_700_000));
    let verifier = EvidenceVerifier::new();
    assert!(verifier.verify(&beta, from).is_err());
    assert!(verifier.verify(&beta, until).is_err());
    assert!(verifier.verify_within(&beta, from, until).is_ok());
    assert!(
        verifier
            .verify_within(&beta, Timestamp(1_665_600_000), Timestamp(1_665_640_000))
            .is_err()
    );
    // Other evidence is tried at each end: collateral refreshed during the job still verifies.
    let tdx = dcap(Platform::Tdx, "tdx_quote");
    assert!(
        verifier
            .verify_within(&tdx, Timestamp(1_700_000_000), Timestamp(JULY_2025))
            .is_ok()
    );
}
