//! Hardware evidence to [`Claims`]: each platform's verifier, run at a given time, and its
//! result written in the one shape policy reads. SEV-SNP and Nitro debug mode is reported, not
//! refused, here: the agreement check refuses it, and `sealroom evidence verify` shows it.
//! `dcap-qvl` refuses debug TDs and enclaves itself, so those never reach claims.

use sealroom_core::bytes::hex;
use std::collections::BTreeMap;

use sealroom_core::attestation::{Claims, Evidence, Platform};
use sealroom_core::runtime::{TcbClaims, TcbStatus};

use crate::certs;
use crate::dcap::{self, DcapMeasurement};
use crate::nitro;
use crate::snp::{self, SigningKey};
use crate::verify::AttestError;

/// Verifies hardware evidence at `at` (Unix seconds).
pub(crate) fn verify(evidence: &Evidence, at: u64) -> Result<Claims, AttestError> {
    match evidence.platform {
        Platform::SevSnp => snp_claims(evidence, at),
        Platform::Tdx | Platform::Sgx => dcap_claims(evidence, at),
        Platform::Nitro => nitro_claims(evidence, at),
        Platform::Sim => unreachable!("simulator evidence is not hardware evidence"),
    }
}

fn endorsements<'a>(evidence: &'a Evidence, what: &'static str) -> Result<&'a [u8], AttestError> {
    evidence
        .endorsements
        .as_deref()
        .ok_or(AttestError::MissingEndorsements {
            platform: evidence.platform,
            what,
        })
}

fn snp_claims(evidence: &Evidence, at: u64) -> Result<Claims, AttestError> {
    let attached = endorsements(evidence, "the VCEK or VLEK certificate")?;
    let certificate = match std::str::from_utf8(attached) {
        Ok(pem) if pem.trim_start().starts_with("-----BEGIN") => certs::pem_to_der(pem)
            .ok_or_else(|| {
                AttestError::Snp(snp::SnpError::Malformed(
                    "the attached key certificate's PEM".into(),
                ))
            })?,
        _ => attached.to_vec(),
    };
    let report = snp::verify_signed(&evidence.bytes, &certificate, at)?;
    let mut fields = BTreeMap::from([
        ("measurement".to_string(), hex(&report.measurement)),
        ("host_data".to_string(), hex(&report.host_data)),
        ("vmpl".to_string(), report.vmpl.to_string()),
        ("chip_id".to_string(), hex(&report.chip_id)),
        ("policy".to_string(), format!("{:016x}", report.policy)),
        ("version".to_string(), report.version.to_string()),
        (
            "product".to_string(),
            format!("{:?}", report.product).to_lowercase(),
        ),
    ]);
    let signer = match report.signed_by {
        SigningKey::Vcek => "vcek",
        SigningKey::Vlek => "vlek",
    };
    fields.insert("signed_by".into(), signer.into());
    Ok(Claims {
        platform: Platform::SevSnp,
        report_data: report.report_data,
        debug: report.debug,
        tcb: TcbClaims {
            status: TcbStatus::NotReported,
            advisories: Vec::new(),
            versions: report
                .tcb_versions()
                .into_iter()
                .map(|(name, version)| (name.to_string(), u64::from(version)))
                .collect(),
        },
        fields,
    })
}

fn dcap_claims(evidence: &Evidence, at: u64) -> Result<Claims, AttestError> {
    let collateral = endorsements(evidence, "the DCAP collateral (JSON)")?;
    let collateral = std::str::from_utf8(collateral)
        .map_err(|_| AttestError::Dcap(dcap::DcapError::Collateral("not UTF-8 text".into())))?;
    let quote = dcap::verify_signed(&evidence.bytes, collateral, at)?;
    let (platform, fields) = match quote.measurement {
        DcapMeasurement::Sgx {
            mr_enclave,
            mr_signer,
            isv_prod_id,
            isv_svn,
        } => (
            Platform::Sgx,
            BTreeMap::from([
                ("mrenclave".to_string(), hex(&mr_enclave)),
                ("mrsigner".to_string(), hex(&mr_signer)),
                ("isv_prod_id".to_string(), isv_prod_id.to_string()),
                ("isv_svn".to_string(), isv_svn.to_string()),
            ]),
        ),
        DcapMeasurement::Tdx { mr_td, rtmrs } => {
            let mut fields = BTreeMap::from([("mrtd".to_string(), hex(&mr_td))]);
            for (i, rtmr) in rtmrs.iter().enumerate() {
                fields.insert(format!("rtmr{i}"), hex(rtmr));
            }
            (Platform::Tdx, fields)
        }
    };
    if platform != evidence.platform {
        return Err(AttestError::Malformed {
            platform: evidence.platform,
            reason: format!("the quote is a {platform} quote"),
        });
    }
    let status = TcbStatus::from_intel(&quote.tcb_status).ok_or_else(|| {
        AttestError::Dcap(dcap::DcapError::TcbStatus {
            status: quote.tcb_status.clone(),
            advisories: quote.advisories.clone(),
        })
    })?;
    Ok(Claims {
        platform,
        report_data: quote.report_data,
        debug: quote.debug,
        tcb: TcbClaims {
            status,
            advisories: quote.advisories,
            versions: BTreeMap::new(),
        },
        fields,
    })
}

/// Nitro documents bind sealroom's report data as their `user_data` (64 bytes). A document
/// without it binds nothing sealroom asked for: its report data reads as all zero, which no
/// SHA-512 output sealroom computes will equal.
fn nitro_claims(evidence: &Evidence, at: u64) -> Result<Claims, AttestError> {
    let document = nitro::verify(&evidence.bytes, at)?;
    let mut fields: BTreeMap<String, String> = document
        .pcrs
        .iter()
        .map(|(index, value)| (format!("pcr{index}"), hex(value)))
        .collect();
    fields.insert("module_id".into(), document.module_id.clone());
    fields.insert("timestamp_ms".into(), document.timestamp_ms.to_string());
    for (name, value) in [
        ("public_key", &document.public_key),
        ("user_data", &document.user_data),
        ("nonce", &document.nonce),
    ] {
        if let Some(value) = value {
            fields.insert(name.into(), hex(value));
        }
    }
    let report_data = document
        .user_data
        .as_deref()
        .and_then(|u| <[u8; 64]>::try_from(u).ok())
        .unwrap_or([0; 64]);
    Ok(Claims {
        platform: Platform::Nitro,
        report_data,
        debug: document.debug,
        tcb: TcbClaims::not_reported(),
        fields,
    })
}
