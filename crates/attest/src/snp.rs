//! AMD SEV-SNP attestation reports (SEV-SNP ABI specification, `ATTESTATION_REPORT`, version 2
//! and later): the report's ECDSA P-384 signature by the chip's VCEK or the cloud's VLEK, and
//! that key's certificate chain to AMD's root (ARK) through the ASK (VCEK) or ASVK (VLEK), all
//! RSASSA-PSS with SHA-384. The Milan ARK, ASK and ASVK are pinned in this crate
//! (`roots/amd-milan-ask-ark-asvk.pem`, as AMD's key distribution service publishes them).
//!
//! Verification is offline at a time the caller gives. The report's fields are read by their
//! offsets in the ABI specification (hand-written: the layout is a fixed C structure).

use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED, RSA_PSS_2048_8192_SHA384, UnparsedPublicKey};
use x509_cert::Certificate;
use x509_cert::der::Decode;

use crate::certs;
use crate::nitro::pem_to_der;

/// AMD's Milan ASK, ARK and ASVK certificates, PEM, in that order.
pub const AMD_MILAN_CHAIN_PEM: &str = include_str!("../roots/amd-milan-ask-ark-asvk.pem");

/// `id-RSASSA-PSS` (RFC 4055).
const RSASSA_PSS: &str = "1.2.840.113549.1.1.10";

/// Extensions of AMD's VCEK and VLEK certificates: the TCB components' security patch levels
/// (an INTEGER each) and the chip id (64 raw bytes).
const BL_SPL: &str = "1.3.6.1.4.1.3704.1.3.1";
const TEE_SPL: &str = "1.3.6.1.4.1.3704.1.3.2";
const SNP_SPL: &str = "1.3.6.1.4.1.3704.1.3.3";
const UCODE_SPL: &str = "1.3.6.1.4.1.3704.1.3.8";
const HW_ID: &str = "1.3.6.1.4.1.3704.1.4";

/// The report's size and the part its signature covers.
const REPORT_SIZE: usize = 0x4A0;
const SIGNED_SIZE: usize = 0x2A0;

/// Why an SNP report was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnpError {
    /// The report or a certificate is not what the format says, at the named place.
    #[error("malformed SEV-SNP evidence at {0}")]
    Malformed(String),
    /// The report's version is older than 2, or its signature algorithm is not ECDSA P-384.
    #[error("unsupported SEV-SNP report: {0}")]
    Unsupported(String),
    /// The report's signature does not verify with the VCEK or VLEK.
    #[error("the report's signature does not verify with the {0}")]
    BadSignature(&'static str),
    /// A certificate of the chain is not signed by its issuer, or the chain is not AMD's.
    #[error("the {0} certificate is not signed by AMD's {1}")]
    BadChain(&'static str, &'static str),
    /// A certificate is not valid at the verification time.
    #[error("the {name} certificate is not valid at {at} (valid {not_before} to {not_after})")]
    OutsideValidity {
        /// Which certificate.
        name: &'static str,
        /// The verification time (Unix seconds).
        at: u64,
        /// Start of validity.
        not_before: u64,
        /// End of validity.
        not_after: u64,
    },
    /// The report's TCB differs from the one its key's certificate was issued for.
    #[error(
        "the report claims {field} SVN {report}, its key's certificate was issued for {certificate}"
    )]
    TcbMismatch {
        /// Which component (bootloader, TEE, SNP, microcode).
        field: &'static str,
        /// What the report claims.
        report: u8,
        /// What the certificate says.
        certificate: u8,
    },
    /// The report's chip id is not the one its VCEK was issued for.
    #[error("the report's chip id is not the one its VCEK was issued for")]
    ChipMismatch,
    /// The guest runs with debugging allowed: the host can read its memory.
    #[error("the guest policy allows debugging")]
    Debug,
}

fn malformed(at: impl Into<String>) -> SnpError {
    SnpError::Malformed(at.into())
}

/// Which key signed a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningKey {
    /// The chip's versioned chip endorsement key.
    Vcek,
    /// The cloud provider's versioned loaded endorsement key.
    Vlek,
}

/// The fields of a verified report that policy and display use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnpReport {
    /// Report format version.
    pub version: u32,
    /// The guest policy.
    pub policy: u64,
    /// Whether the policy allows debugging (bit 19).
    pub debug: bool,
    /// The launch measurement.
    pub measurement: [u8; 48],
    /// Data the host supplied at launch.
    pub host_data: [u8; 32],
    /// The 64 bytes the guest chose.
    pub report_data: [u8; 64],
    /// The TCB the report was signed at (bootloader, TEE, SNP, microcode SVNs; Milan layout).
    pub reported_tcb: u64,
    /// The chip's id (zero when masked, as with a VLEK).
    pub chip_id: [u8; 64],
    /// The virtual machine privilege level that asked for the report (0 is the most
    /// privileged; under a paravisor the guest OS runs at a higher level). Policy must check it.
    pub vmpl: u32,
    /// Which key signed it.
    pub signed_by: SigningKey,
}

fn array<const N: usize>(report: &[u8], at: usize) -> [u8; N] {
    report[at..at + N]
        .try_into()
        .expect("within the checked size")
}

fn u32_at(report: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(array(report, at))
}

fn u64_at(report: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(array(report, at))
}

/// AMD's Milan certificates (DER).
struct MilanChain {
    ask: Vec<u8>,
    ark: Vec<u8>,
    asvk: Vec<u8>,
}

fn milan_chain() -> Result<MilanChain, SnpError> {
    let pems: Vec<String> = AMD_MILAN_CHAIN_PEM
        .split("-----END CERTIFICATE-----")
        .filter(|p| p.contains("BEGIN"))
        .map(|p| format!("{p}-----END CERTIFICATE-----"))
        .collect();
    let der = |i: usize| {
        pems.get(i)
            .ok_or_else(|| malformed("the pinned AMD chain"))
            .and_then(|p| pem_to_der(p).map_err(|_| malformed("the pinned AMD chain")))
    };
    Ok(MilanChain {
        ask: der(0)?,
        ark: der(1)?,
        asvk: der(2)?,
    })
}

/// The value of `certificate`'s extension `oid`, if it has it.
fn extension<'a>(certificate: &'a Certificate, oid: &str) -> Option<&'a [u8]> {
    certificate
        .tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| e.extn_id.to_string() == oid)
        .map(|e| e.extn_value.as_bytes())
}

/// A small non-negative DER INTEGER (`02 len value`, a leading zero allowed).
fn small_integer(der: &[u8]) -> Option<u8> {
    let [0x02, len, value @ ..] = der else {
        return None;
    };
    if usize::from(*len) != value.len() {
        return None;
    }
    match value {
        [v] if *v < 0x80 => Some(*v),
        [0, v] if *v >= 0x80 => Some(*v),
        _ => None,
    }
}

/// The TCB components and their byte in the reported TCB (Milan and Genoa layout).
const TCB_LAYOUT: [(&str, usize); 4] =
    [("bootloader", 0), ("tee", 1), ("snp", 6), ("microcode", 7)];

/// Compares the report's TCB (Milan and Genoa layout: bootloader byte 0, TEE 1, SNP 6,
/// microcode 7) with the SPLs of the key's certificate.
fn check_tcb(key: &Certificate, key_name: &str, reported_tcb: u64) -> Result<(), SnpError> {
    let bytes = reported_tcb.to_le_bytes();
    for ((field, at), oid) in TCB_LAYOUT
        .into_iter()
        .zip([BL_SPL, TEE_SPL, SNP_SPL, UCODE_SPL])
    {
        let certificate = extension(key, oid)
            .and_then(small_integer)
            .ok_or_else(|| malformed(format!("the {key_name} certificate's {field} SPL")))?;
        if certificate != bytes[at] {
            return Err(SnpError::TcbMismatch {
                field,
                report: bytes[at],
                certificate,
            });
        }
    }
    Ok(())
}

/// Checks that `issuer` signed `subject` with RSASSA-PSS/SHA-384 and that `subject` is valid
/// at `at`.
fn check_link(
    subject: &Certificate,
    subject_name: &'static str,
    issuer: &Certificate,
    issuer_name: &'static str,
    at: u64,
) -> Result<(), SnpError> {
    let (not_before, not_after) = certs::validity(subject);
    if at < not_before || at > not_after {
        return Err(SnpError::OutsideValidity {
            name: subject_name,
            at,
            not_before,
            not_after,
        });
    }
    if subject.signature_algorithm.oid.to_string() != RSASSA_PSS {
        return Err(malformed(format!(
            "the {subject_name} certificate's signature algorithm (RSASSA-PSS expected)"
        )));
    }
    let (signed, signature, _) = certs::parts(subject)
        .ok_or_else(|| malformed(format!("the {subject_name} certificate")))?;
    let (_, _, issuer_key) =
        certs::parts(issuer).ok_or_else(|| malformed(format!("the {issuer_name} certificate")))?;
    UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA384, issuer_key)
        .verify(&signed, signature)
        .map_err(|_| SnpError::BadChain(subject_name, issuer_name))
}

impl SnpReport {
    /// The reported TCB's security versions by component: `bootloader`, `tee`, `snp`,
    /// `microcode`.
    pub fn tcb_versions(&self) -> [(&'static str, u8); 4] {
        let bytes = self.reported_tcb.to_le_bytes();
        TCB_LAYOUT.map(|(name, at)| (name, bytes[at]))
    }
}

/// Verifies `report` signed by the key in `key_certificate` (DER: a VCEK or a VLEK) against the
/// pinned Milan chain at `at` (Unix seconds), refusing guests whose policy allows debugging.
pub fn verify(report: &[u8], key_certificate: &[u8], at: u64) -> Result<SnpReport, SnpError> {
    let verified = verify_signed(report, key_certificate, at)?;
    if verified.debug {
        return Err(SnpError::Debug);
    }
    Ok(verified)
}

/// Verifies the report's signature and the key's chain at `at`, whatever the policy.
pub fn verify_signed(
    report: &[u8],
    key_certificate: &[u8],
    at: u64,
) -> Result<SnpReport, SnpError> {
    if report.len() != REPORT_SIZE {
        return Err(malformed(format!(
            "the report's length ({} bytes, {REPORT_SIZE} expected)",
            report.len()
        )));
    }
    let version = u32_at(report, 0x0);
    if !(2..=5).contains(&version) {
        return Err(SnpError::Unsupported(format!(
            "report version {version} (versions 2 to 5 are read)"
        )));
    }
    let algorithm = u32_at(report, 0x34);
    if algorithm != 1 {
        return Err(SnpError::Unsupported(format!(
            "signature algorithm {algorithm} (1, ECDSA P-384 with SHA-384, expected)"
        )));
    }
    // Bits 2–4 of the key-info word name the signing key: 0 VCEK, 1 VLEK.
    let signed_by = match (u32_at(report, 0x48) >> 2) & 0b111 {
        0 => SigningKey::Vcek,
        1 => SigningKey::Vlek,
        other => return Err(SnpError::Unsupported(format!("signing key {other}"))),
    };

    let MilanChain { ask, ark, asvk } = milan_chain()?;
    let parse = |der: &[u8], name: &str| {
        Certificate::from_der(der).map_err(|_| malformed(format!("the {name} certificate")))
    };
    let ark = parse(&ark, "ARK")?;
    let (intermediate, intermediate_name, key_name) = match signed_by {
        SigningKey::Vcek => (parse(&ask, "ASK")?, "ASK", "VCEK"),
        SigningKey::Vlek => (parse(&asvk, "ASVK")?, "ASVK", "VLEK"),
    };
    let key = parse(key_certificate, key_name)?;
    check_link(&ark, "ARK", &ark, "ARK", at)?;
    check_link(&intermediate, intermediate_name, &ark, "ARK", at)?;
    check_link(&key, key_name, &intermediate, intermediate_name, at)?;

    // The signature: r and s, each 72 bytes little-endian (zero above 48 bytes).
    let signature = &report[SIGNED_SIZE..SIGNED_SIZE + 144];
    let (r, s) = signature.split_at(72);
    if r[48..].iter().chain(&s[48..]).any(|&b| b != 0) {
        return Err(SnpError::BadSignature(key_name));
    }
    let mut fixed = Vec::with_capacity(96);
    fixed.extend(r[..48].iter().rev());
    fixed.extend(s[..48].iter().rev());
    let (_, _, key_point) =
        certs::parts(&key).ok_or_else(|| malformed(format!("the {key_name} certificate")))?;
    UnparsedPublicKey::new(&ECDSA_P384_SHA384_FIXED, key_point)
        .verify(&report[..SIGNED_SIZE], &fixed)
        .map_err(|_| SnpError::BadSignature(key_name))?;

    // The key's certificate says which TCB and chip it was issued for; the report must claim
    // the same, or a key of old firmware could vouch for any TCB.
    let reported_tcb = u64_at(report, 0x180);
    check_tcb(&key, key_name, reported_tcb)?;
    let masked_chip = u32_at(report, 0x48) & 0b10 != 0;
    if signed_by == SigningKey::Vcek && !masked_chip {
        let chip: [u8; 64] = array(report, 0x1A0);
        if extension(&key, HW_ID) != Some(chip.as_slice()) {
            return Err(SnpError::ChipMismatch);
        }
    }

    let policy = u64_at(report, 0x8);
    Ok(SnpReport {
        version,
        policy,
        debug: policy & (1 << 19) != 0,
        measurement: array(report, 0x90),
        host_data: array(report, 0xC0),
        report_data: array(report, 0x50),
        reported_tcb,
        vmpl: u32_at(report, 0x30),
        chip_id: array(report, 0x1A0),
        signed_by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_patch_levels_are_read_as_the_certificates_write_them() {
        assert_eq!(small_integer(&[0x02, 0x01, 0x03]), Some(3));
        assert_eq!(small_integer(&[0x02, 0x02, 0x00, 0xd9]), Some(0xd9));
        for bad in [
            &[0x02, 0x01][..],
            &[0x04, 0x01, 0x03],
            &[0x02, 0x02, 0x01, 0x00],
            &[0x02, 0x01, 0x80],
        ] {
            assert_eq!(small_integer(bad), None, "{bad:?}");
        }
    }
}
