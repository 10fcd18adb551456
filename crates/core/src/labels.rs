//! Domain-separation labels. Every hash and signature in sealroom is taken
//! over `label ‖ 0x00 ‖ bytes`, so bytes signed for one purpose can never be
//! replayed as another.

/// Fingerprint of a canonical party card.
pub const PARTY_CARD: &str = "sealroom/v1/party-card";
/// Id of a canonical agreement.
pub const AGREEMENT: &str = "sealroom/v1/agreement";
/// A party's signature over an agreement id.
pub const AGREEMENT_SIGNATURE: &str = "sealroom/v1/agreement-signature";
/// An owner's approval of a runtime measurement for an agreement.
pub const APPROVAL: &str = "sealroom/v1/approval";
/// An owner's revocation of a runtime measurement for an agreement.
pub const REVOCATION: &str = "sealroom/v1/revocation";
/// Digest of a dataset schema.
pub const SCHEMA: &str = "sealroom/v1/schema";
/// Digest of a dataset envelope header (the associated data of every chunk).
pub const ENVELOPE_HEADER: &str = "sealroom/v1/envelope-header";
/// Digest of a whole envelope file, as recorded in receipts.
pub const ENVELOPE: &str = "sealroom/v1/envelope";
/// HPKE info for a dataset key wrapped to its owner's broker.
pub const ENVELOPE_KEY: &str = "sealroom/v1/envelope-key";
/// HPKE info for a dataset key released by a broker to an isolate.
pub const RELEASED_KEY: &str = "sealroom/v1/released-key";
/// HPKE info for an output sealed to a reader.
pub const OUTPUT: &str = "sealroom/v1/output";
/// Digest of an output table's canonical bytes.
pub const OUTPUT_DIGEST: &str = "sealroom/v1/output-digest";
/// A receipt signed by an isolate's ephemeral key.
pub const RECEIPT: &str = "sealroom/v1/receipt";
/// The report data binding an isolate's keys to a challenge.
pub const REPORT_DATA: &str = "sealroom/v1/report-data";
/// Id of an accepted hardware runtime (a platform's set of measurement registers).
pub const RUNTIME: &str = "sealroom/v1/runtime";
/// Simulator evidence signed by the simulator platform key.
pub const SIM_EVIDENCE: &str = "sealroom/v1/sim-evidence";
/// Statements written to the transparency log, signed by their writer.
pub const LOG_ENTRY: &str = "sealroom/v1/log-entry";
/// An owner's signature over its envelope header.
pub const ENVELOPE_HEADER_SIGNATURE: &str = "sealroom/v1/envelope-header-signature";
/// An owner's registration of an envelope (header and whole-file digest) with its broker.
pub const ENVELOPE_REGISTRATION: &str = "sealroom/v1/envelope-registration";
/// A party's signed request to run an agreement's program.
pub const RUN_REQUEST: &str = "sealroom/v1/run-request";
/// The job id derived from a run request.
pub const JOB_ID: &str = "sealroom/v1/job-id";
/// An isolate's release request, signed by its ephemeral key.
pub const RELEASE_REQUEST: &str = "sealroom/v1/release-request";
/// A party's signature over an HTTP request (method, path, time).
pub const HTTP_REQUEST: &str = "sealroom/v1/http-request";
/// A program provider's publication of a Wasm module.
pub const PROGRAM_PUBLICATION: &str = "sealroom/v1/program-publication";
