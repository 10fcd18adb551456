//! Why a job failed inside the isolate.

use sealroom_attest::AttestError;
use sealroom_core::AgreementError;
use sealroom_core::run::RunRequestError;
use sealroom_core::wire::{JobFailure, Problem};
use sealroom_crypto::{CryptoError, EnvelopeError};
use sealroom_privacy::MechanismError;
use sealroom_programs::ProgramError;
use sealroom_tables::TableError;

/// A job failed; nothing was released.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IsolateError {
    /// The job specification is unreadable.
    #[error("the job specification is unreadable: {0}")]
    BadSpec(String),
    /// This isolate cannot attest.
    #[error("cannot produce attestation evidence: {0}")]
    Attestation(#[from] AttestError),
    /// The agreement is not in force.
    #[error("{0}")]
    Agreement(#[from] AgreementError),
    /// The agreement's program or outputs do not check out.
    #[error("the agreement is invalid: {0}")]
    InvalidAgreement(AgreementError),
    /// The run request is not from a party allowed to start runs, not fresh, or not this job's.
    #[error("{0}")]
    RunRequest(RunRequestError),
    /// An input does not match the agreement.
    #[error("dataset {dataset}: {reason}")]
    InputMismatch {
        /// `owner/name`.
        dataset: String,
        /// What went wrong, in words.
        reason: String,
    },
    /// An input envelope is corrupt.
    #[error("{source}")]
    Envelope {
        /// `owner/name`.
        dataset: String,
        /// The envelope error (names the chunk).
        source: EnvelopeError,
    },
    /// Decrypted input does not match its schema.
    #[error("dataset {dataset}: {source}")]
    Input {
        /// `owner/name`.
        dataset: String,
        /// What is wrong.
        source: TableError,
    },
    /// The owner's broker refused to release the key.
    #[error("dataset {dataset}: the owner's broker refused the key: {}", problem.detail)]
    KeyRefused {
        /// `owner/name`.
        dataset: String,
        /// The broker's problem document.
        problem: Problem,
    },
    /// The owner's broker could not be asked.
    #[error("dataset {dataset}: {reason}")]
    BrokerUnavailable {
        /// `owner/name`.
        dataset: String,
        /// What went wrong, in words.
        reason: String,
    },
    /// The released key did not open.
    #[error("dataset {dataset}: the released key could not be opened: {source}")]
    KeyUnusable {
        /// `owner/name`.
        dataset: String,
        /// The underlying error.
        source: CryptoError,
    },
    /// The program failed.
    #[error("the program failed: {0}")]
    Program(#[from] ProgramError),
    /// The agreement's Wasm program could not be loaded or failed.
    #[error("{0}")]
    Wasm(#[from] sealroom_wasm::WasmError),
    /// The host gave no module, or one that cannot be read, for the agreement's Wasm program.
    #[error("Wasm program {program}: {reason}")]
    ModuleMissing {
        /// The program's name.
        program: String,
        /// What went wrong.
        reason: String,
    },
    /// The noise could not be set up.
    #[error("noise: {0}")]
    Noise(#[from] MechanismError),
    /// A value that is signed or hashed has no canonical form (a non-finite number).
    #[error("{what} has no canonical form: {source}")]
    Encoding {
        /// What was being encoded.
        what: &'static str,
        /// The underlying error.
        source: sealroom_core::CanonicalError,
    },
    /// An output could not be sealed.
    #[error("sealing output for {reader}: {source}")]
    Seal {
        /// The reader.
        reader: String,
        /// The underlying error.
        source: CryptoError,
    },
}

impl IsolateError {
    /// A stable code for the failure.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadSpec(_) => "bad-job-spec",
            Self::Attestation(_) => "attestation-unavailable",
            Self::Agreement(_) => "agreement-not-in-force",
            Self::RunRequest(_) => "run-request-refused",
            Self::InvalidAgreement(_) => "agreement-invalid",
            Self::InputMismatch { .. } => "input-mismatch",
            Self::Envelope { .. } => "envelope-corrupt",
            Self::Input { .. } => "input-invalid",
            Self::KeyRefused { .. } => "key-refused",
            Self::BrokerUnavailable { .. } => "broker-unavailable",
            Self::KeyUnusable { .. } => "key-unusable",
            Self::Program(_) => "program-failed",
            Self::Wasm(e) => match e {
                sealroom_wasm::WasmError::DigestMismatch { .. } => "module-mismatch",
                sealroom_wasm::WasmError::Invalid { .. } => "module-invalid",
                sealroom_wasm::WasmError::Noise { .. } => "noise-failed",
                _ => "program-failed",
            },
            Self::ModuleMissing { .. } => "module-missing",
            Self::Noise(_) => "noise-failed",
            Self::Seal { .. } => "seal-failed",
            Self::Encoding { .. } => "encoding-failed",
        }
    }

    /// The failure as reported to the host.
    pub fn to_failure(&self) -> JobFailure {
        let dataset = match self {
            Self::InputMismatch { dataset, .. }
            | Self::Envelope { dataset, .. }
            | Self::Input { dataset, .. }
            | Self::KeyRefused { dataset, .. }
            | Self::BrokerUnavailable { dataset, .. }
            | Self::KeyUnusable { dataset, .. } => Some(dataset.clone()),
            _ => None,
        };
        let refusal = match self {
            Self::KeyRefused { problem, .. } => Some(problem.kind.clone()),
            _ => None,
        };
        JobFailure {
            code: self.code().into(),
            dataset,
            refusal,
            message: self.to_string(),
        }
    }
}
