//! AMD SEV-SNP attestation reports (SEV-SNP ABI specification, `ATTESTATION_REPORT`, version 2
//! and later): the report's ECDSA P-384 signature by the chip's VCEK or the cloud's VLEK, and
//! that key's certificate chain to AMD's root (ARK) through the ASK (VCEK) or ASVK (VLEK), all
//! RSASSA-PSS with SHA-384. AMD's roots are pinned in this crate (`roots/`, as AMD's key
//! distribution service publishes them): Milan's ARK, ASK and ASVK, Genoa's and Turin's ARK and
//! ASK. The product line is the one whose ASK (or ASVK) signed the key's certificate; it decides
//! how the reported TCB is laid out (Milan and Genoa: bootloader, TEE, SNP, microcode in bytes
//! 0, 1, 6, 7; Turin: FMC, bootloader, TEE, SNP in bytes 0–3 and microcode in byte 7).
//!
//! Verification is offline at a time the caller gives. The report's fields are read by their
//! offsets in the ABI specification (hand-written: the layout is a fixed C structure).

use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED, RSA_PSS_2048_8192_SHA384, UnparsedPublicKey};
use x509_cert::Certificate;
use x509_cert::der::Decode;

use crate::certs;

/// AMD's Milan ASK, ARK and ASVK certificates, PEM, in that order.
pub const AMD_MILAN_CHAIN_PEM: &str = include_str!("../roots/amd-milan-ask-ark-asvk.pem");
/// AMD's Genoa ASK and ARK certificates, PEM, in that order.
pub const AMD_GENOA_CHAIN_PEM: &str = include_str!("../roots/amd-genoa-ask-ark.pem");
/// AMD's Turin ASK and ARK certificates, PEM, in that order.
pub const AMD_TURIN_CHAIN_PEM: &str = include_str!("../roots/amd-turin-ask-ark.pem");

/// An AMD EPYC product line whose roots are pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Product {
    /// EPYC 7003.
    Milan,
    /// EPYC 9004.
    Genoa,
    /// EPYC 9005.
    Turin,
}

impl Product {
    /// The TCB components and their byte in the reported TCB.
    fn tcb_layout(self) -> &'static [(&'static str, usize)] {
        match self {
            Self::Milan | Self::Genoa => &MILAN_TCB_LAYOUT,
            Self::Turin => &TURIN_TCB_LAYOUT,
        }
    }
}

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
    /// The product line whose pinned chain vouches for the key.
    pub product: Product,
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

/// One product line's pinned certificates.
struct ProductChain {
    product: Product,
    ask: Certificate,
    ark: Certificate,
    asvk: Option<Certificate>,
}

fn pinned_chains() -> Result<Vec<ProductChain>, SnpError> {
    let read = |product: Product, pem: &str| {
        let bad = || malformed(format!("the pinned {product:?} chain"));
        let mut certificates = pem
            .split("-----END CERTIFICATE-----")
            .filter(|p| p.contains("BEGIN"))
            .map(|p| {
                certs::pem_to_der(&format!("{p}-----END CERTIFICATE-----"))
                    .and_then(|der| Certificate::from_der(&der).ok())
                    .ok_or_else(bad)
            });
        Ok::<_, SnpError>(ProductChain {
            product,
            ask: certificates.next().ok_or_else(bad)??,
            ark: certificates.next().ok_or_else(bad)??,
            asvk: certificates.next().transpose()?,
        })
    };
    Ok(vec![
        read(Product::Milan, AMD_MILAN_CHAIN_PEM)?,
        read(Product::Genoa, AMD_GENOA_CHAIN_PEM)?,
        read(Product::Turin, AMD_TURIN_CHAIN_PEM)?,
    ])
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

/// The TCB components and their byte in the reported TCB, Milan and Genoa.
const MILAN_TCB_LAYOUT: [(&str, usize); 4] =
    [("bootloader", 0), ("tee", 1), ("snp", 6), ("microcode", 7)];
/// The same for Turin, whose firmware adds an FMC component (byte 0; its certificate extension
/// is not compared).
const TURIN_TCB_LAYOUT: [(&str, usize); 4] =
    [("bootloader", 1), ("tee", 2), ("snp", 3), ("microcode", 7)];

/// Compares the report's TCB, laid out as `product` lays it out, with the SPLs of the key's
/// certificate.
fn check_tcb(
    key: &Certificate,
    key_name: &str,
    product: Product,
    reported_tcb: u64,
) -> Result<(), SnpError> {
    let bytes = reported_tcb.to_le_bytes();
    for (&(field, at), oid) in product
        .tcb_layout()
        .iter()
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

/// Whether `issuer`'s key made `subject`'s RSASSA-PSS/SHA-384 signature (validity aside).
fn signed_by_issuer(subject: &Certificate, issuer: &Certificate) -> bool {
    let (Some((signed, signature, _)), Some((_, _, issuer_key))) =
        (certs::parts(subject), certs::parts(issuer))
    else {
        return false;
    };
    UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA384, issuer_key)
        .verify(&signed, signature)
        .is_ok()
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
    pub fn tcb_versions(&self) -> Vec<(&'static str, u8)> {
        let bytes = self.reported_tcb.to_le_bytes();
        let mut versions: Vec<_> = self
            .product
            .tcb_layout()
            .iter()
            .map(|&(name, at)| (name, bytes[at]))
            .collect();
        if self.product == Product::Turin {
            versions.push(("fmc", bytes[0]));
        }
        versions
    }
}

/// Verifies `report` signed by the key in `key_certificate` (DER: a VCEK or a VLEK) against the
/// pinned chains at `at` (Unix seconds), whatever the guest policy (the agreement judges it).
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

    let (intermediate_name, key_name) = match signed_by {
        SigningKey::Vcek => ("ASK", "VCEK"),
        SigningKey::Vlek => ("ASVK", "VLEK"),
    };
    let key = Certificate::from_der(key_certificate)
        .map_err(|_| malformed(format!("the {key_name} certificate")))?;
    // The product line whose ASK (or ASVK) signed the key.
    let chains = pinned_chains()?;
    let (chain, intermediate) = chains
        .iter()
        .filter_map(|c| {
            let intermediate = match signed_by {
                SigningKey::Vcek => Some(&c.ask),
                SigningKey::Vlek => c.asvk.as_ref(),
            }?;
            signed_by_issuer(&key, intermediate).then_some((c, intermediate))
        })
        .next()
        .ok_or(SnpError::BadChain(key_name, intermediate_name))?;
    check_link(&chain.ark, "ARK", &chain.ark, "ARK", at)?;
    check_link(intermediate, intermediate_name, &chain.ark, "ARK", at)?;
    check_link(&key, key_name, intermediate, intermediate_name, at)?;

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
    check_tcb(&key, key_name, chain.product, reported_tcb)?;
    // A host may mask the chip id (all zero): the VCEK's signature still ties the report to
    // its chip.
    let chip: [u8; 64] = array(report, 0x1A0);
    if signed_by == SigningKey::Vcek && chip != [0; 64] {
        // Turin's chip id is 8 bytes (the rest zero), and so is its certificate's hwID.
        let id: &[u8] = match chain.product {
            Product::Turin => &chip[..8],
            _ => &chip,
        };
        if extension(&key, HW_ID) != Some(id) {
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
        product: chain.product,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pinned_chain_is_amds_and_self_consistent() {
        // 2030: inside every pinned certificate's validity.
        let at = 1_900_000_000;
        let chains = pinned_chains().unwrap();
        assert_eq!(chains.len(), 3);
        for c in &chains {
            check_link(&c.ark, "ARK", &c.ark, "ARK", at).unwrap();
            check_link(&c.ask, "ASK", &c.ark, "ARK", at).unwrap();
            if let Some(asvk) = &c.asvk {
                check_link(asvk, "ASVK", &c.ark, "ARK", at).unwrap();
            }
            let subject = c.ark.tbs_certificate.subject.to_string();
            assert!(
                subject.contains(&format!("ARK-{:?}", c.product)),
                "{subject}"
            );
        }
        // No product's ASK is signed by another's ARK.
        assert!(!signed_by_issuer(&chains[1].ask, &chains[0].ark));
        assert!(!signed_by_issuer(&chains[2].ask, &chains[1].ark));
    }

    #[test]
    fn turin_lays_out_its_tcb_differently() {
        let report = |product| SnpReport {
            version: 3,
            policy: 0,
            debug: false,
            measurement: [0; 48],
            host_data: [0; 32],
            report_data: [0; 64],
            reported_tcb: u64::from_le_bytes([1, 2, 3, 4, 0, 0, 6, 7]),
            chip_id: [0; 64],
            vmpl: 0,
            signed_by: SigningKey::Vcek,
            product,
        };
        assert_eq!(
            report(Product::Genoa).tcb_versions(),
            [("bootloader", 1), ("tee", 2), ("snp", 6), ("microcode", 7)]
        );
        assert_eq!(
            report(Product::Turin).tcb_versions(),
            [
                ("bootloader", 2),
                ("tee", 3),
                ("snp", 4),
                ("microcode", 7),
                ("fmc", 1)
            ]
        );
    }

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
