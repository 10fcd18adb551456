//! An isolate's own registers, read from the evidence it just produced (no verification: the
//! isolate reads its own evidence to tell which of the agreement's runtimes it is; brokers and
//! readers verify).
//!
//! The field names are those of [`Claims::fields`](sealroom_core::attestation::Claims) and of
//! agreements' accepted sets (see `sealroom_core::runtime`).

use sealroom_core::bytes::hex;
use std::collections::BTreeMap;

use ciborium::Value;
use sealroom_core::attestation::Platform;

use crate::verify::AttestError;

fn malformed(platform: Platform, reason: impl Into<String>) -> AttestError {
    AttestError::Malformed {
        platform,
        reason: reason.into(),
    }
}

/// SEV-SNP attestation report offsets (AMD SEV-SNP ABI, Table 22).
const SNP_VMPL: usize = 0x30;
const SNP_MEASUREMENT: usize = 0x90;
const SNP_HOST_DATA: usize = 0xC0;
const SNP_REPORT_SIZE: usize = 0x4A0;

/// TDX quote offsets: the 48-byte header (v5 adds a 6-byte body descriptor: type u16, size
/// u32), then in the TD report TEE_TCB_SVN (16), MRSEAM (48), MRSIGNERSEAM (48),
/// SEAMATTRIBUTES (8), TDATTRIBUTES (8), XFAM (8), MRTD (48), MRCONFIGID, MROWNER,
/// MROWNERCONFIG (48 each), RTMR0–3 (48 each), REPORTDATA (64). TD 1.5 reports add fields after
/// REPORTDATA only.
const TDX_MRTD: usize = 136;
const TDX_RTMR0: usize = TDX_MRTD + 4 * 48;
const TDX_REPORT_DATA: usize = TDX_RTMR0 + 4 * 48;
const SNP_REPORT_DATA: usize = 0x50;

/// Where a TDX quote's TD report starts, if `quote` is a TDX quote long enough to hold one.
fn tdx_body(quote: &[u8]) -> Option<usize> {
    let version = u16::from_le_bytes(quote.get(0..2)?.try_into().ok()?);
    let tee_type = u32::from_le_bytes(quote.get(4..8)?.try_into().ok()?);
    let body = match version {
        4 => 48,
        5 => 48 + 6,
        _ => return None,
    };
    (tee_type == 0x81 && quote.len() >= body + TDX_REPORT_DATA + 64).then_some(body)
}

/// The report data this evidence carries, read without verifying (the isolate checks that a
/// report it asked for binds what it asked).
pub fn own_report_data(platform: Platform, evidence: &[u8]) -> Option<[u8; 64]> {
    let at = match platform {
        Platform::SevSnp if evidence.len() == SNP_REPORT_SIZE => SNP_REPORT_DATA,
        Platform::Tdx => tdx_body(evidence)? + TDX_REPORT_DATA,
        _ => return None,
    };
    evidence.get(at..at + 64)?.try_into().ok()
}

/// The registers an agreement can name, as this evidence states them.
pub fn own_registers(
    platform: Platform,
    evidence: &[u8],
) -> Result<BTreeMap<String, String>, AttestError> {
    match platform {
        Platform::SevSnp => {
            if evidence.len() != SNP_REPORT_SIZE {
                return Err(malformed(platform, "not a 1184-byte attestation report"));
            }
            let vmpl = u32::from_le_bytes(
                evidence[SNP_VMPL..SNP_VMPL + 4]
                    .try_into()
                    .expect("four bytes"),
            );
            Ok(BTreeMap::from([
                (
                    "measurement".into(),
                    hex(&evidence[SNP_MEASUREMENT..SNP_MEASUREMENT + 48]),
                ),
                (
                    "host_data".into(),
                    hex(&evidence[SNP_HOST_DATA..SNP_HOST_DATA + 32]),
                ),
                ("vmpl".into(), vmpl.to_string()),
            ]))
        }
        Platform::Tdx => {
            let body = tdx_body(evidence)
                .ok_or_else(|| malformed(platform, "not a version 4 or 5 TDX quote"))?;
            let mrtd = body + TDX_MRTD;
            let mut fields =
                BTreeMap::from([("mrtd".to_string(), hex(&evidence[mrtd..mrtd + 48]))]);
            for i in 0..4 {
                let at = body + TDX_RTMR0 + i * 48;
                fields.insert(format!("rtmr{i}"), hex(&evidence[at..at + 48]));
            }
            Ok(fields)
        }
        Platform::Nitro => nitro_pcrs(evidence),
        Platform::Sim | Platform::Sgx => Err(malformed(
            platform,
            "sealroom's isolate does not produce this platform's evidence",
        )),
    }
}

/// The payload map of a Nitro attestation document (COSE_Sign1, tagged or not), unverified.
pub(crate) fn nitro_payload(document: &[u8]) -> Option<Vec<(Value, Value)>> {
    let value: Value = ciborium::from_reader(document).ok()?;
    let value = match value {
        Value::Tag(18, inner) => *inner,
        other => other,
    };
    let payload = value.as_array()?.get(2)?.as_bytes()?.clone();
    ciborium::from_reader::<Value, _>(payload.as_slice())
        .ok()?
        .into_map()
        .ok()
}

/// PCR0, 1, 2 and 8 from a COSE_Sign1 attestation document's payload.
fn nitro_pcrs(document: &[u8]) -> Result<BTreeMap<String, String>, AttestError> {
    let bad = |what: &str| malformed(Platform::Nitro, format!("the document's {what}"));
    let fields = nitro_payload(document).ok_or_else(|| bad("COSE_Sign1 payload"))?;
    let pcrs = fields
        .iter()
        .find(|(k, _)| k.as_text() == Some("pcrs"))
        .and_then(|(_, v)| v.as_map())
        .ok_or_else(|| bad("pcrs"))?;
    let mut out = BTreeMap::new();
    for (index, value) in pcrs {
        let index = index
            .as_integer()
            .and_then(|i| u64::try_from(i).ok())
            .ok_or_else(|| bad("pcr index"))?;
        if matches!(index, 0 | 1 | 2 | 8) {
            let value = value.as_bytes().ok_or_else(|| bad("pcr value"))?;
            out.insert(format!("pcr{index}"), hex(value));
        }
    }
    Ok(out)
}

#[cfg(all(test, feature = "verifiers"))]
mod tests {
    use super::*;
    use crate::EvidenceVerifier;
    use sealroom_core::clock::Timestamp;
    use sealroom_vectors::evidence::{dcap, nitro, snp};

    /// What the isolate reads of its own evidence is what verifiers report.
    #[test]
    fn own_registers_agree_with_verified_claims() {
        for (evidence, at) in [
            (snp("test-report.bin", "test-vcek.der"), 1_748_736_000),
            (snp("test-vlek-report.bin", "test-vlek.der"), 1_748_736_000),
            (dcap(Platform::Tdx, "tdx_quote"), 1_751_328_000),
            (nitro("beta/valid-attestation-doc-bytes"), 1_665_660_000),
        ] {
            let claims = EvidenceVerifier::new()
                .verify(&evidence, Timestamp(at))
                .unwrap();
            let own = own_registers(evidence.platform, &evidence.bytes).unwrap();
            assert!(!own.is_empty());
            for (name, value) in own {
                assert_eq!(claims.fields[&name], value, "{} {name}", evidence.platform);
            }
        }
        let sgx = dcap(Platform::Sgx, "sgx_quote");
        assert!(own_registers(Platform::Tdx, &sgx.bytes).is_err());
        // A version 5 quote (the v4 sample with a TD 1.0 body descriptor) reads the same.
        let v4 = dcap(Platform::Tdx, "tdx_quote").bytes;
        let mut v5 = v4[..48].to_vec();
        v5[0..2].copy_from_slice(&5u16.to_le_bytes());
        v5.extend_from_slice(&2u16.to_le_bytes());
        v5.extend_from_slice(&584u32.to_le_bytes());
        v5.extend_from_slice(&v4[48..]);
        assert_eq!(
            own_registers(Platform::Tdx, &v5).unwrap(),
            own_registers(Platform::Tdx, &v4).unwrap()
        );
        assert_eq!(
            own_report_data(Platform::Tdx, &v5),
            own_report_data(Platform::Tdx, &v4)
        );
        // The report data read without verifying is what verifiers report.
        for (evidence, at) in [
            (snp("test-report.bin", "test-vcek.der"), 1_748_736_000),
            (dcap(Platform::Tdx, "tdx_quote"), 1_751_328_000),
        ] {
            let claims = EvidenceVerifier::new()
                .verify(&evidence, Timestamp(at))
                .unwrap();
            assert_eq!(
                own_report_data(evidence.platform, &evidence.bytes),
                Some(claims.report_data)
            );
        }
        assert!(own_registers(Platform::SevSnp, &[0; 100]).is_err());
    }
}
