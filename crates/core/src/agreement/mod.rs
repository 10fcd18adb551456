//! The agreement: the collaboration contract every party signs.
//!
//! Authors write TOML, which `sealroom_party::authoring` maps onto [`AgreementFields`];
//! [`Agreement::new`] and deserialization check the same
//! structural rules, so no path skips them. The id is the labeled
//! SHA-256 of its RFC 8785 form. A [`SignedAgreement`] is in force only when every party has
//! signed that id and the validity window contains the current time.

mod error;
mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use error::AgreementError;
pub use validate::{AgreementFields, NO_HPKE_KEY};

use crate::attestation::{Claims, Platform};
use crate::canonical::{canonical_digest, canonical_json};
use crate::clock::Timestamp;
use crate::epsilon::Epsilon;
use crate::ids::{AgreementId, Fingerprint, Measurement};
use crate::labels;
use crate::party::PartyCard;
use crate::runtime::{RuntimeMismatch, TcbStatus};
use crate::schema::Schema;
use crate::sign::{Signature, verify};

/// Version of the canonical agreement format.
pub const AGREEMENT_FORMAT: &str = "sealroom-agreement/v1";

/// A dataset contributed to the agreement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetTerms {
    /// Name of the owning party.
    pub owner: String,
    /// Dataset name, unique per owner.
    pub name: String,
    /// Its columns and person column.
    pub schema: Schema,
}

impl DatasetTerms {
    /// `owner/name`, the way programs refer to datasets.
    pub fn qualified_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

/// The program the agreement allows, and its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramTerms {
    /// Built-in program id.
    pub id: String,
    /// Program version.
    pub version: u32,
    /// Program-specific parameters, checked by the program catalog.
    pub params: serde_json::Value,
}

/// The runtimes accepted on one platform, and its TCB policy (see [`crate::runtime`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeTerms {
    /// The TEE platform.
    pub platform: Platform,
    /// Simulator only: accepted SHA-256 digests of the isolate executable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurements: Vec<Measurement>,
    /// Hardware only: each accepted set of the platform's measurement registers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accept: Vec<BTreeMap<String, String>>,
    /// TDX and SGX: TCB statuses accepted besides `UpToDate`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accept_tcb_status: Vec<TcbStatus>,
    /// SEV-SNP: minimum security version per TCB component.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub min_tcb: BTreeMap<String, u64>,
}

impl RuntimeTerms {
    /// The simulator, accepting these isolate executables.
    pub fn sim(measurements: Vec<Measurement>) -> Self {
        Self {
            platform: Platform::Sim,
            measurements,
            accept: Vec::new(),
            accept_tcb_status: Vec::new(),
            min_tcb: BTreeMap::new(),
        }
    }
}

/// One output of the program and who may read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputTerms {
    /// Output name, as the program names it.
    pub name: String,
    /// Names of the parties the output is sealed to.
    pub readers: Vec<String>,
}

/// How released values are protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoiseMechanism {
    /// Exact discrete Laplace noise scaled to sensitivity / ε (pure ε-DP).
    DiscreteLaplace,
    /// Exact discrete Gaussian noise sized by zCDP for (ε, δ) and the L2 sensitivity.
    DiscreteGaussian,
    /// No noise at all. Outputs are marked insecure; every party signed up to this explicitly.
    None,
}

/// The privacy terms of the agreement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyTerms {
    /// ε spent from each input dataset's budget by one run.
    pub epsilon_per_run: Epsilon,
    /// δ allowed per run, in (0, 1).
    pub delta_per_run: f64,
    /// Total ε each dataset may spend under this agreement.
    pub total_epsilon_per_dataset: Epsilon,
    /// How many output groups one person may count towards (the L0 contribution bound).
    pub max_groups_per_person: u32,
    /// Rows one person may contribute to one group (1 for counts of people).
    pub max_rows_per_person_per_group: u32,
    /// Rows one person may contribute in total.
    pub max_rows_per_person: u32,
    /// A group not declared in advance is released only if its noisy value reaches at least this
    /// (on top of the threshold δ requires).
    pub min_aggregation: u64,
    /// The noise mechanism.
    pub noise: NoiseMechanism,
}

/// Who may start runs, and how often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunTerms {
    /// Parties that may sign run requests (authoring defaults to every party).
    pub requesters: Vec<String>,
    /// At most this many runs in any 24 hours, if set (counted by each owner's broker per dataset,
    /// and by the host per agreement).
    pub max_runs_per_day: Option<u32>,
}

/// A validated agreement in canonical form: its [`AgreementFields`], read through `Deref`.
///
/// Every value passed the structural rules (`validate`): deserialization checks them (so a
/// signed JSON agreement read by any service is checked), and code builds one through
/// [`Agreement::new`]; the fields cannot be changed afterwards (take them out with
/// [`Agreement::into_fields`] and build a new one). The program's parameters are checked by the
/// program's own code with [`Agreement::check_program`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Agreement(AgreementFields);

impl std::ops::Deref for Agreement {
    type Target = AgreementFields;

    fn deref(&self) -> &AgreementFields {
        &self.0
    }
}

/// Checks program ids and parameters; implemented by the program catalog so that `core` need not know programs.
pub trait ProgramCatalog {
    /// Checks the program and its parameters against the datasets; returns the names of its outputs.
    fn check_program(
        &self,
        program: &ProgramTerms,
        datasets: &[DatasetTerms],
    ) -> Result<Vec<String>, ProgramCheckError>;
}

/// Why a catalog refused a program.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProgramCheckError {
    /// No program with that id and version.
    #[error("unknown program {id} version {version}")]
    Unknown {
        /// The program id given.
        id: String,
        /// The version given.
        version: u32,
    },
    /// The parameters do not fit the program or the datasets.
    #[error("{0}")]
    BadParameters(String),
}

impl ProgramCheckError {
    /// The agreement error this refusal amounts to, for program `program`.
    pub fn into_agreement_error(self, program: &str) -> AgreementError {
        match self {
            Self::Unknown { id, version } => AgreementError::UnknownProgram { id, version },
            Self::BadParameters(reason) => AgreementError::BadProgramParameters {
                program: program.into(),
                reason,
            },
        }
    }
}

impl Agreement {
    /// The fields, to change and validate again with [`Agreement::new`].
    pub fn into_fields(self) -> AgreementFields {
        self.0
    }

    /// The agreement id: labeled SHA-256 of the canonical form.
    pub fn id(&self) -> AgreementId {
        canonical_digest(labels::AGREEMENT, self)
            .expect("a validated agreement has a canonical form")
            .into()
    }

    /// The canonical bytes.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        canonical_json(self).expect("a validated agreement has a canonical form")
    }

    /// A party by name.
    pub fn party(&self, name: &str) -> Option<&PartyCard> {
        self.parties.iter().find(|p| p.name == name)
    }

    /// A dataset by owner and name.
    pub fn dataset(&self, owner: &str, name: &str) -> Option<&DatasetTerms> {
        self.datasets
            .iter()
            .find(|d| d.owner == owner && d.name == name)
    }

    /// The ids of the runtimes accepted on `platform` (what owners approve).
    pub fn accepted_measurements(&self, platform: Platform) -> Vec<Measurement> {
        self.runtime_terms(platform)
            .map(RuntimeTerms::runtime_ids)
            .unwrap_or_default()
    }

    /// The runtime terms for `platform`, if it is accepted at all.
    pub fn runtime_terms(&self, platform: Platform) -> Option<&RuntimeTerms> {
        self.runtimes.iter().find(|r| r.platform == platform)
    }

    /// Checks verified claims against the accepted runtimes and TCB policy of their platform;
    /// returns the id of the runtime they match.
    pub fn check_claims(&self, claims: &Claims) -> Result<Measurement, RuntimeMismatch> {
        self.runtime_terms(claims.platform)
            .ok_or(RuntimeMismatch::PlatformNotInAgreement(claims.platform))?
            .check_claims(claims)
    }

    /// Checks that `now` lies in the validity window.
    pub fn check_window(&self, now: Timestamp) -> Result<(), AgreementError> {
        if now < self.valid_from {
            return Err(AgreementError::NotYetValid {
                valid_from: self.valid_from,
                now,
            });
        }
        if now >= self.valid_until {
            return Err(AgreementError::Expired {
                valid_until: self.valid_until,
                now,
            });
        }
        Ok(())
    }
}

/// One party's signature over an agreement id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartySignature {
    /// The signing party's name.
    pub party: String,
    /// The party's fingerprint, for auditors.
    pub fingerprint: Fingerprint,
    /// Ed25519 signature over `sealroom/v1/agreement-signature ‖ 0x00 ‖ id`.
    pub signature: Signature,
}

/// Version of the signed-agreement file format.
pub const SIGNED_AGREEMENT_FORMAT: &str = "sealroom-signed-agreement/v1";

/// An agreement with the signatures collected so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedAgreement {
    /// Always [`SIGNED_AGREEMENT_FORMAT`].
    pub format: String,
    /// The agreement's id, repeated for readers; checked against the agreement.
    pub id: AgreementId,
    /// The agreement.
    pub agreement: Agreement,
    /// Signatures, at most one per party.
    pub signatures: Vec<PartySignature>,
}

impl SignedAgreement {
    /// An agreement with no signatures yet.
    pub fn unsigned(agreement: Agreement) -> Self {
        Self {
            format: SIGNED_AGREEMENT_FORMAT.into(),
            id: agreement.id(),
            agreement,
            signatures: Vec::new(),
        }
    }

    /// Adds or replaces a party's signature after verifying it.
    pub fn add_signature(&mut self, signature: PartySignature) -> Result<(), AgreementError> {
        self.verify_signature(&signature)?;
        self.signatures.retain(|s| s.party != signature.party);
        self.signatures.push(signature);
        self.signatures.sort_by(|a, b| a.party.cmp(&b.party));
        Ok(())
    }

    fn verify_signature(&self, signature: &PartySignature) -> Result<(), AgreementError> {
        let card = self.agreement.party(&signature.party).ok_or_else(|| {
            AgreementError::SignatureByUnknownParty {
                party: signature.party.clone(),
            }
        })?;
        verify(
            &card.signing_key,
            labels::AGREEMENT_SIGNATURE,
            self.id.as_bytes(),
            &signature.signature,
        )
        .map_err(|_| AgreementError::BadSignature {
            party: signature.party.clone(),
        })
    }

    /// Parties that have not signed yet.
    pub fn missing_signers(&self) -> Vec<String> {
        self.agreement
            .parties
            .iter()
            .filter(|p| !self.signatures.iter().any(|s| s.party == p.name))
            .map(|p| p.name.clone())
            .collect()
    }

    /// Checks the id, every signature, that every party signed, and the validity window at `now`.
    pub fn check_in_force(&self, now: Timestamp) -> Result<(), AgreementError> {
        let actual = self.agreement.id();
        if actual != self.id {
            return Err(AgreementError::IdMismatch {
                stated: self.id,
                actual,
            });
        }
        for signature in &self.signatures {
            self.verify_signature(signature)?;
        }
        let missing = self.missing_signers();
        if !missing.is_empty() {
            return Err(AgreementError::NotSignedBy { parties: missing });
        }
        self.agreement.check_window(now)
    }
}
