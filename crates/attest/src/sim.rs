//! The simulator backend: a software attestation signed by a local platform key.
//!
//! The measurement is the SHA-256 of the isolate executable actually running,
//! so any change to the code changes it, as on real hardware. Nothing else is
//! protected: whoever holds the platform key (the operator, in practice) can
//! forge evidence, and the host can read the isolate's memory.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use sealroom_core::agreement::Agreement;
use sealroom_core::attestation::{Claims, Evidence, Platform};
use sealroom_core::canonical::canonical_json;
use sealroom_core::ids::Measurement;
use sealroom_core::labels;
use sealroom_core::party::SigningPublicKey;
use sealroom_core::runtime::TcbClaims;
use sealroom_core::sign::Signature;
use sealroom_crypto::identity::EphemeralSigner;
use serde::{Deserialize, Serialize};

use crate::verify::AttestError;

/// Version of simulator evidence.
pub const SIM_EVIDENCE_FORMAT: &str = "sealroom-sim-evidence/v1";
const KEY_FILE_FORMAT: &str = "sealroom-sim-platform-key/v1";

/// The body of simulator evidence; signed as canonical JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SimEvidenceBody {
    pub format: String,
    pub measurement: Measurement,
    #[serde(with = "sealroom_core::bytes::b64_array")]
    pub report_data: [u8; 64],
    pub debug: bool,
    pub tcb: String,
}

/// Simulator evidence as carried in [`Evidence::bytes`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SimEvidence {
    pub body: SimEvidenceBody,
    pub signature: Signature,
}

impl SimEvidence {
    pub(crate) fn claims(&self) -> Claims {
        Claims {
            platform: Platform::Sim,
            report_data: self.body.report_data,
            debug: self.body.debug,
            tcb: TcbClaims::not_reported(),
            fields: BTreeMap::from([
                ("measurement".to_string(), self.body.measurement.to_string()),
                ("tcb".to_string(), self.body.tcb.clone()),
            ]),
        }
    }
}

/// The simulator's platform signing key (stands in for the CPU's attestation key).
pub struct SimPlatformKey(EphemeralSigner);

impl fmt::Debug for SimPlatformKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SimPlatformKey(public {:?})", self.public())
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    format: String,
    seed: String,
}

impl SimPlatformKey {
    /// A fresh platform key.
    pub fn generate() -> Self {
        Self(EphemeralSigner::generate())
    }

    /// The public key brokers and readers pin to accept simulator evidence.
    pub fn public(&self) -> SigningPublicKey {
        self.0.public()
    }

    /// Writes the key file (mode 0600, never overwriting).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string(&KeyFile {
            format: KEY_FILE_FORMAT.into(),
            seed: sealroom_core::bytes::encode(self.0.seed()),
        })
        .expect("serializes");
        sealroom_crypto::private_file::create_private_file(path, text.as_bytes())
    }

    /// Reads a key file.
    pub fn read(path: &Path) -> Result<Self, AttestError> {
        let bad = |reason: String| AttestError::PlatformKey {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let file: KeyFile = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if file.format != KEY_FILE_FORMAT {
            return Err(bad(format!("unsupported format {:?}", file.format)));
        }
        let seed: [u8; 32] = sealroom_core::bytes::decode(&file.seed)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("seed is not 32 bytes of base64".into()))?;
        Ok(Self(EphemeralSigner::from_seed(&seed)))
    }
}

/// Produces simulator evidence for the running isolate.
#[derive(Debug)]
pub struct SimAttester {
    key: SimPlatformKey,
    measurement: Measurement,
}

/// Environment variable through which the host tells an isolate where the simulator platform key is.
pub const SIM_PLATFORM_KEY_ENV: &str = "SEALROOM_SIM_PLATFORM_KEY";

impl SimAttester {
    /// An attester that reports `measurement`.
    pub fn new(key: SimPlatformKey, measurement: Measurement) -> Self {
        Self { key, measurement }
    }

    /// An attester for this process: measures the running executable and reads the key named by [`SIM_PLATFORM_KEY_ENV`].
    pub fn for_current_process() -> Result<Self, AttestError> {
        let path: PathBuf = std::env::var_os(SIM_PLATFORM_KEY_ENV)
            .ok_or(AttestError::PlatformKey {
                path: PathBuf::new(),
                reason: format!("{SIM_PLATFORM_KEY_ENV} is not set"),
            })?
            .into();
        let key = SimPlatformKey::read(&path)?;
        let measurement =
            crate::measure::current_measurement().map_err(|e| AttestError::PlatformKey {
                path: std::env::current_exe().unwrap_or_default(),
                reason: format!("cannot measure the running executable: {e}"),
            })?;
        Ok(Self::new(key, measurement))
    }
}

impl crate::Attester for SimAttester {
    fn platform(&self) -> Platform {
        Platform::Sim
    }

    fn runtime_id(&self, _agreement: &Agreement) -> Measurement {
        self.measurement
    }

    fn attest(&self, report_data: [u8; 64]) -> Result<Evidence, AttestError> {
        let body = SimEvidenceBody {
            format: SIM_EVIDENCE_FORMAT.into(),
            measurement: self.measurement,
            report_data,
            debug: false,
            tcb: "sim".into(),
        };
        let signature = self.key.0.sign(
            labels::SIM_EVIDENCE,
            &canonical_json(&body).expect("serializes"),
        );
        Ok(Evidence::new(
            Platform::Sim,
            serde_json::to_vec(&SimEvidence { body, signature }).expect("serializes"),
        ))
    }
}
