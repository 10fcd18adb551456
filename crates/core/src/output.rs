//! Released tables, sealed outputs and job receipts.

use serde::{Deserialize, Serialize};

use crate::attestation::{Evidence, IsolateKeys, Platform};
use crate::canonical::{CanonicalError, canonical_json};
use crate::epsilon::Epsilon;
use crate::ids::{AgreementId, Digest, Fingerprint, JobId, Measurement};
use crate::labels;
use crate::log::LoggedEntry;
use crate::run::SignedRunRequest;
use crate::sign::{Signature, SignatureError, verify};
use crate::wire::Sealed;

/// How the values of one column of a released table were protected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoiseAnnotation {
    /// `discrete-laplace`, `discrete-gaussian`, or `none` when the agreement waived noise.
    pub mechanism: String,
    /// The noise's exact parameter `numerator/denominator`: the Laplace scale, or the Gaussian's σ².
    pub scale: String,
    /// ε of the whole run.
    pub epsilon: Epsilon,
    /// The share of the run's ε this column's measure spent, as an exact fraction `n/d` (every
    /// measure of a program gets an equal share).
    pub epsilon_share: String,
    /// δ spent by this column (its share of the Gaussian's, and the threshold's when this column
    /// decides which discovered rows are released; 0 for pure ε-DP).
    pub delta: f64,
    /// ρ of zCDP, for the Gaussian.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rho: Option<f64>,
    /// How much one person can change this measure, in L1 (after contribution bounding), in
    /// every table it appears in.
    pub sensitivity: u64,
    /// The same in L2, rounded up.
    pub l2_sensitivity: u64,
    /// Each cell lies within this distance of its true value with probability at least 95%.
    pub error_bound_95: u64,
    /// Each cell lies within this distance of its true value with probability at least 99%.
    pub error_bound_99: u64,
    /// Values are fixed-point: this many units per whole unit (1 for counts).
    pub units: u64,
    /// Rows whose keys the agreement does not declare appear only if their noisy value in this
    /// column reached this (for a Wasm program's table, any row: a minimum its agreement sets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u64>,
}

/// One released row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleasedRow {
    /// One value per key column (none for a table of one row).
    pub key: Vec<String>,
    /// One noisy value per value column.
    pub values: Vec<i64>,
}

/// One value column of a released table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleasedColumn {
    /// What it measures, e.g. `conversions`.
    pub name: String,
    /// How its values were protected.
    pub noise: NoiseAnnotation,
}

/// A figure computed from a released table's noised values after release (post-processing,
/// which spends no privacy), e.g. a lift and its confidence interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DerivedFigure {
    /// What it is, e.g. `conversion_rate_lift_percent`.
    pub name: String,
    /// Its value; null when not defined (a denominator is zero or negative).
    pub value: Option<f64>,
    /// Lower end of its 95% interval, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low_95: Option<f64>,
    /// Upper end of its 95% interval, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high_95: Option<f64>,
}

/// Version of the released-table format.
pub const RELEASED_TABLE_FORMAT: &str = "sealroom-released-table/v2";

/// A table an isolate released to readers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleasedTable {
    /// Always [`RELEASED_TABLE_FORMAT`].
    pub format: String,
    /// Output name from the agreement.
    pub output: String,
    /// What the key columns mean (none for a table of one row).
    pub key_columns: Vec<String>,
    /// The value columns, each with its noise.
    pub columns: Vec<ReleasedColumn>,
    /// Rows: declared keys in declared order, then released discovered keys in key order.
    pub rows: Vec<ReleasedRow>,
    /// Figures computed from the noised rows (none for most programs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub derived: Vec<DerivedFigure>,
    /// True when produced under the software simulator, which protects nothing from the operator.
    pub simulator: bool,
    /// How a party's Wasm program made this table (none for the built-in programs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wasm: Option<WasmRunFacts>,
}

/// How a party's Wasm program ran, stated on every table it released: who guarantees the
/// privacy of the figures depends on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WasmRunFacts {
    /// The program's name in the agreement.
    pub program: String,
    /// SHA-256 of the module's bytes (lowercase hex).
    pub module: String,
    /// `per_person`: the platform bounded each person's contribution, so the figures are
    /// differentially private whatever the program does. `vetted`: the program saw the whole
    /// tables; the figures are noised at the sensitivity the agreement states, which rests on
    /// the reviewers' word.
    pub mode: String,
    /// In the vetted mode, the parties that said in the agreement they reviewed the program.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reviewed_by: Vec<String>,
}

impl ReleasedTable {
    /// The digest recorded in receipts.
    pub fn digest(&self) -> Result<Digest, CanonicalError> {
        crate::canonical::canonical_digest(labels::OUTPUT_DIGEST, self)
    }
}

/// An input an isolate read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputRecord {
    /// Owner's name.
    pub owner: String,
    /// Dataset name.
    pub dataset: String,
    /// Digest of the owner-signed envelope header (what the owner registered and the log names).
    pub header_digest: Digest,
    /// Digest of the whole envelope file.
    pub envelope_digest: Digest,
    /// ε debited from its budget.
    pub epsilon_debited: Epsilon,
    /// The owner's key-release entry in the transparency log, with a checkpoint containing it.
    pub release_log: LoggedEntry,
}

/// An output an isolate sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputRecord {
    /// Output name.
    pub output: String,
    /// Digest of the released table.
    pub digest: Digest,
    /// Readers it was sealed to.
    pub readers: Vec<String>,
}

/// Version of the receipt format.
pub const RECEIPT_FORMAT: &str = "sealroom-receipt/v1";

/// What a job did, signed by the isolate's ephemeral key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// Always [`RECEIPT_FORMAT`].
    pub format: String,
    /// The job.
    pub job_id: JobId,
    /// The agreement it ran under.
    pub agreement_id: AgreementId,
    /// The party's signed request that started the job; `job_id` derives from it.
    pub run_request: SignedRunRequest,
    /// The platform it ran on.
    pub platform: Platform,
    /// The measured runtime.
    pub measurement: Measurement,
    /// True under the software simulator.
    pub simulator: bool,
    /// Inputs read.
    pub inputs: Vec<InputRecord>,
    /// Outputs sealed.
    pub outputs: Vec<OutputRecord>,
    /// The isolate's ephemeral keys; `signing` signed this receipt.
    pub isolate_keys: IsolateKeys,
    /// Evidence binding `isolate_keys` to the job: its report data is
    /// [`crate::attestation::report_data`] with the job id as nonce.
    pub evidence: Evidence,
}

/// A receipt with its signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedReceipt {
    /// The receipt.
    pub receipt: Receipt,
    /// Signature by `receipt.isolate_keys.signing`.
    pub signature: Signature,
}

impl SignedReceipt {
    /// The canonical bytes that are signed.
    pub fn signed_bytes(receipt: &Receipt) -> Result<Vec<u8>, CanonicalError> {
        canonical_json(receipt)
    }

    /// Checks the signature against the key the receipt names (the caller must check that key's evidence).
    pub fn verify_signature(&self) -> Result<(), SignatureError> {
        let bytes = Self::signed_bytes(&self.receipt).map_err(|_| SignatureError::Mismatch)?;
        verify(
            &self.receipt.isolate_keys.signing,
            labels::RECEIPT,
            &bytes,
            &self.signature,
        )
    }
}

/// Version of the sealed-output format.
pub const SEALED_OUTPUT_FORMAT: &str = "sealroom-sealed-output/v1";

/// A released table sealed with HPKE to one reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedOutput {
    /// Always [`SEALED_OUTPUT_FORMAT`].
    pub format: String,
    /// The job.
    pub job_id: JobId,
    /// The output name.
    pub output: String,
    /// The reader's name.
    pub reader: String,
    /// The reader's fingerprint.
    pub reader_fingerprint: Fingerprint,
    /// HPKE ciphertext of the canonical released table; the associated data is [`SealedOutput::aad`].
    pub sealed: Sealed,
}

impl SealedOutput {
    /// Associated data: binds the ciphertext to job, output and reader.
    pub fn aad(job_id: &JobId, output: &str, reader: &Fingerprint) -> Vec<u8> {
        let mut aad = Vec::with_capacity(16 + output.len() + 33);
        aad.extend_from_slice(job_id.as_bytes());
        aad.extend_from_slice(reader.as_bytes());
        aad.extend_from_slice(output.as_bytes());
        aad
    }
}

/// What a reader downloads: its sealed outputs of one job and the job's receipt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputBundle {
    /// The signed receipt.
    pub receipt: SignedReceipt,
    /// The outputs sealed to this reader.
    pub sealed: Vec<SealedOutput>,
}
