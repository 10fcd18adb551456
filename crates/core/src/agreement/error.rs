use crate::clock::Timestamp;
use crate::epsilon::EpsilonError;
use crate::ids::AgreementId;

/// An agreement is malformed, or not in force.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AgreementError {
    /// The text is not TOML of the agreement's shape.
    #[error("the agreement is not valid TOML of the expected shape: {0}")]
    Syntax(String),
    /// The `format` line names another format.
    #[error("unsupported agreement format {found:?}; this version reads \"sealroom-agreement/v1\"")]
    UnsupportedFormat {
        /// The format given.
        found: String,
    },
    /// A party, dataset or column name breaks the naming rules.
    #[error("{what} name {name:?} is not allowed: use 1 to 64 of a-z, 0-9, '-' and '_'")]
    BadName {
        /// What was being named.
        what: &'static str,
        /// The name given.
        name: String,
    },
    /// The agreement names no parties.
    #[error("the agreement names no parties")]
    NoParties,
    /// Two parties share a name.
    #[error("party {party:?} is listed twice")]
    DuplicateParty {
        /// The repeated name.
        party: String,
    },
    /// Two parties share a signing key.
    #[error("parties {first:?} and {second:?} have the same signing key")]
    SharedSigningKey {
        /// One party.
        first: String,
        /// The other.
        second: String,
    },
    /// A key could not be read.
    #[error(
        "party {party:?} has an unreadable {which}: expected 32 bytes of unpadded URL-safe base64"
    )]
    BadKey {
        /// The party.
        party: String,
        /// Which key.
        which: &'static str,
    },
    /// A name refers to a party the agreement does not list.
    #[error("{context} names {party:?}, which is not a party to this agreement")]
    UnknownParty {
        /// The unknown name.
        party: String,
        /// Where it was named.
        context: String,
    },
    /// A broker URL is not a plain base URL.
    #[error("party {party:?}: {reason}")]
    BadBrokerUrl {
        /// The party.
        party: String,
        /// What is wrong.
        reason: String,
    },
    /// Nobody could start a run.
    #[error(
        "no run could ever start: [runs] needs at least one requester and a max_runs_per_day of at least 1"
    )]
    NoRequesters,
    /// A dataset owner is not a party.
    #[error("dataset {dataset:?} is owned by {owner:?}, which is not a party to this agreement")]
    DatasetOwnerNotAParty {
        /// The dataset.
        dataset: String,
        /// The owner named.
        owner: String,
    },
    /// An owner has no broker URL.
    #[error("party {party:?} owns dataset {dataset:?} but has no broker_url for its key broker")]
    OwnerWithoutBroker {
        /// The owner.
        party: String,
        /// One of its datasets.
        dataset: String,
    },
    /// A reader or owner has no HPKE key.
    #[error("party {party:?} is a {role} but has no hpke_key to seal data to")]
    MissingHpkeKey {
        /// The party.
        party: String,
        /// Why it needs one.
        role: &'static str,
    },
    /// The agreement names no datasets.
    #[error("the agreement names no datasets")]
    NoDatasets,
    /// Two datasets share owner and name.
    #[error("dataset {dataset:?} is listed twice")]
    DuplicateDataset {
        /// `owner/name`.
        dataset: String,
    },
    /// A dataset has no columns.
    #[error("dataset {dataset:?} declares no columns")]
    NoColumns {
        /// `owner/name`.
        dataset: String,
    },
    /// A column is declared twice.
    #[error("dataset {dataset:?} declares column {column:?} twice")]
    DuplicateColumn {
        /// `owner/name`.
        dataset: String,
        /// The column.
        column: String,
    },
    /// A column's declaration does not hold together (a decimal without a scale, a list of
    /// values on a non-string column, …).
    #[error("dataset {dataset:?}, column {column:?}: {reason}")]
    BadColumn {
        /// `owner/name`.
        dataset: String,
        /// The column.
        column: String,
        /// What is wrong.
        reason: String,
    },
    /// The person column has a type that cannot identify a person, or may be empty.
    #[error("dataset {dataset:?}: the person column {column:?} {reason}")]
    BadPersonColumn {
        /// `owner/name`.
        dataset: String,
        /// The column.
        column: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The person column is not among the columns.
    #[error("dataset {dataset:?} names person column {column:?}, which is not one of its columns")]
    MissingPersonColumn {
        /// `owner/name`.
        dataset: String,
        /// The column named.
        column: String,
    },
    /// The program id or version is not known.
    #[error(
        "unknown program {id:?} version {version}; `sealroom programs` lists the built-in programs"
    )]
    UnknownProgram {
        /// The id given.
        id: String,
        /// The version given.
        version: u32,
    },
    /// The program parameters are wrong.
    #[error("program {program:?} has bad parameters: {reason}")]
    BadProgramParameters {
        /// The program id.
        program: String,
        /// What is wrong.
        reason: String,
    },
    /// No runtime measurements are accepted.
    #[error("the agreement accepts no runtime: add a [[runtime]] with a platform and measurements")]
    NoRuntimes,
    /// A runtime entry accepts no measurement, or a platform is listed twice.
    #[error("runtime for platform {platform:?}: {reason}")]
    BadRuntime {
        /// The platform.
        platform: String,
        /// What is wrong.
        reason: String,
    },
    /// An output is not produced by the program, is repeated, or is missing.
    #[error("output {output:?}: {reason}")]
    BadOutput {
        /// The output name.
        output: String,
        /// What is wrong.
        reason: String,
    },
    /// An ε is not acceptable.
    #[error("privacy.{field} {source}")]
    BadEpsilon {
        /// Which field.
        field: &'static str,
        /// The underlying error.
        source: EpsilonError,
    },
    /// δ is not in (0, 1).
    #[error(
        "privacy.delta_per_run must be a finite number greater than 0 and less than 1, found {value}"
    )]
    BadDelta {
        /// The value given.
        value: f64,
    },
    /// The total budget is below one run.
    #[error(
        "privacy.total_epsilon_per_dataset ({total}) is less than privacy.epsilon_per_run ({per_run}): no run could ever happen"
    )]
    BudgetBelowOneRun {
        /// The total budget, as written.
        total: String,
        /// Per run.
        per_run: String,
    },
    /// The contribution bound is zero.
    #[error("privacy.max_groups_per_person must be at least 1")]
    BadContributionBound,
    /// A privacy term is out of range or inconsistent with another.
    #[error("[privacy] {field}: {reason}")]
    BadPrivacyTerm {
        /// Which field.
        field: &'static str,
        /// What went wrong, in words.
        reason: String,
    },
    /// A time could not be read.
    #[error("{field}: {reason}")]
    BadTime {
        /// Which field.
        field: &'static str,
        /// What went wrong, in words.
        reason: String,
    },
    /// The validity window is empty.
    #[error(
        "the validity window is empty: valid_from {valid_from} is not before valid_until {valid_until}"
    )]
    EmptyValidityWindow {
        /// Start of the validity window.
        valid_from: Timestamp,
        /// End of the validity window.
        valid_until: Timestamp,
    },
    /// The stated id is not the agreement's id.
    #[error(
        "the file states agreement id {stated} but its contents hash to {actual}: it was altered"
    )]
    IdMismatch {
        /// The id the file states.
        stated: AgreementId,
        /// The id its contents hash to.
        actual: AgreementId,
    },
    /// A signature is by a party the agreement does not list.
    #[error("a signature claims to be from {party:?}, which is not a party to this agreement")]
    SignatureByUnknownParty {
        /// The name claimed.
        party: String,
    },
    /// A signature does not verify.
    #[error("the signature of {party:?} does not verify against its signing key")]
    BadSignature {
        /// The party.
        party: String,
    },
    /// Some parties have not signed.
    #[error("the agreement is not in force: not yet signed by {}", parties.join(", "))]
    NotSignedBy {
        /// Who is missing.
        parties: Vec<String>,
    },
    /// Before the validity window.
    #[error("the agreement is not valid until {valid_from} (now {now})")]
    NotYetValid {
        /// Start of the validity window.
        valid_from: Timestamp,
        /// The time of the check.
        now: Timestamp,
    },
    /// After the validity window.
    #[error("the agreement expired at {valid_until} (now {now})")]
    Expired {
        /// End of the validity window.
        valid_until: Timestamp,
        /// The time of the check.
        now: Timestamp,
    },
}
