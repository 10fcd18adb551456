//! Attestation evidence and the claims a verifier extracts from it.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha512};

use crate::ids::{AgreementId, Measurement};
use crate::labels;
use crate::runtime::TcbClaims;

/// A kind of trusted execution environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Platform {
    /// The software simulator: a real process boundary, no hardware protection.
    Sim,
    /// AMD SEV-SNP.
    SevSnp,
    /// Intel TDX.
    Tdx,
    /// Intel SGX.
    Sgx,
    /// AWS Nitro Enclaves.
    Nitro,
}

impl Platform {
    /// Every platform, the simulator first.
    pub const ALL: [Platform; 5] = [Self::Sim, Self::SevSnp, Self::Tdx, Self::Sgx, Self::Nitro];

    /// The platform named `name` as in agreements, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The platform's name as written in agreements.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sim => "sim",
            Self::SevSnp => "sev-snp",
            Self::Tdx => "tdx",
            Self::Sgx => "sgx",
            Self::Nitro => "nitro",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Platform-specific attestation evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Which verifier reads `bytes`.
    pub platform: Platform,
    /// The platform's own evidence format: simulator evidence JSON, an SEV-SNP attestation
    /// report, a DCAP quote, or a Nitro COSE_Sign1 attestation document.
    #[serde(with = "crate::bytes::b64")]
    pub bytes: Vec<u8>,
    /// What the operator attaches for verification, fetched from the vendor: for SEV-SNP the
    /// VCEK or VLEK certificate (DER or PEM), for TDX and SGX the collateral (JSON). Absent for
    /// the simulator and Nitro, whose evidence carries its own chain.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::bytes::b64_option"
    )]
    pub endorsements: Option<Vec<u8>>,
}

impl Evidence {
    /// Evidence that needs nothing attached.
    pub fn new(platform: Platform, bytes: Vec<u8>) -> Self {
        Self {
            platform,
            bytes,
            endorsements: None,
        }
    }
}

/// What verified evidence says about the isolate that produced it, in one shape for every
/// platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The platform that signed the evidence.
    pub platform: Platform,
    /// 64 bytes chosen by the isolate; see [`report_data`].
    #[serde(with = "crate::bytes::b64_array")]
    pub report_data: [u8; 64],
    /// Whether the isolate runs in debug mode (its memory is readable by the host).
    pub debug: bool,
    /// The platform's trusted computing base: status, advisories, versions.
    pub tcb: TcbClaims,
    /// The platform's own fields by name, lowercase hex for registers and decimal for numbers:
    /// what accepted runtimes are matched against (see [`crate::runtime`]) and what owners
    /// review. The simulator's `measurement`; SEV-SNP's `measurement`, `host_data`, `vmpl`,
    /// `chip_id`, `policy`, `signed_by`; TDX's `mrtd`, `rtmr0`…`rtmr3`; SGX's `mrenclave`,
    /// `mrsigner`, `isv_prod_id`, `isv_svn`; Nitro's `pcr0`… and `module_id`.
    pub fields: BTreeMap<String, String>,
}

impl Claims {
    /// The simulator's measurement (the SHA-256 of the isolate executable), if these are
    /// simulator claims.
    pub fn sim_measurement(&self) -> Option<Measurement> {
        (self.platform == Platform::Sim)
            .then(|| self.fields.get("measurement")?.parse().ok())
            .flatten()
    }
}

/// The public keys an isolate makes for one job; both die with the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsolateKeys {
    /// Released data keys are sealed to this key.
    pub hpke: crate::party::HpkePublicKey,
    /// The job receipt is signed with this key.
    pub signing: crate::party::SigningPublicKey,
}

/// `SHA-512("sealroom/v1/report-data" ‖ 0x00 ‖ nonce ‖ agreement id ‖ hpke key ‖ signing key)`:
/// binds evidence to one challenge, one agreement and the isolate's ephemeral keys.
pub fn report_data(nonce: &[u8], agreement: &AgreementId, keys: &IsolateKeys) -> [u8; 64] {
    let mut hasher = Sha512::new();
    hasher.update(labels::REPORT_DATA.as_bytes());
    hasher.update([0u8]);
    hasher.update(nonce);
    hasher.update(agreement.as_bytes());
    hasher.update(keys.hpke.0);
    hasher.update(keys.signing.0);
    hasher.finalize().into()
}
