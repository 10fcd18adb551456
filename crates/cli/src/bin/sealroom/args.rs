//! Command-line arguments: every command, flag and help text of `sealroom`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use sealroom_core::attestation::Platform;
use sealroom_core::clock::Timestamp;
use sealroom_core::ids::{JobId, Measurement};
use sealroom_dap::messages::VdafConfig;
use sealroom_party::source::SourceFormat;

/// Privacy-preserving collaborative analytics: sealed rooms and split aggregation.
///
/// A typical sealed-room collaboration: each party runs `party new`; they write an
/// agreement (TOML) and each runs `agreement sign`; the operator runs `host` and onboards
/// the parties (`host party add`); each data owner runs its `broker`, `seal`s its dataset
/// (which registers the envelope with its broker) and `upload`s it, and `approve`s the
/// isolate measurement; a party allowed by the agreement signs a `run`; each reader runs `open`.
/// `sealroom demo` does all of this on one machine.
#[derive(Parser)]
#[command(
    name = "sealroom",
    version,
    about,
    long_about,
    after_help = "Exit codes: 0 ok, 1 refused or check failed, 2 usage or I/O error, 3 the transparency log was forked or rewritten."
)]
pub struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create or inspect a party identity.
    #[command(subcommand)]
    Party(PartyCommand),
    /// Check, identify, sign or show an agreement.
    #[command(subcommand)]
    Agreement(AgreementCommand),
    /// List the built-in programs an agreement can name.
    Programs,
    /// Publish a WebAssembly program for agreements to name by digest (program providers).
    #[command(subcommand)]
    Program(ProgramCommand),
    /// Print the measurement of an isolate executable (what owners approve).
    Measure {
        /// The executable; by default the `sealroom-isolate` beside this program.
        path: Option<PathBuf>,
    },
    /// Check a CSV file against the agreement's schema, seal it into an envelope signed by you
    /// for that agreement, and register it with your broker.
    ///
    /// Your broker releases keys only for the envelope you registered last for a dataset: an
    /// envelope nobody registered, or an older one, is refused.
    Seal(SealArgs),
    /// Register a sealed envelope with your broker as its dataset's current version.
    ///
    /// `seal` does this itself; use it when the broker was unreachable while sealing.
    Register {
        /// Your key file (its broker URL is used unless --broker is given).
        #[arg(long)]
        key: PathBuf,
        /// Your broker; by default the URL in your key file.
        #[arg(long)]
        broker: Option<String>,
        /// The envelope file.
        envelope: PathBuf,
    },
    /// Upload a sealed envelope to the host (it checks your signature on the header first).
    Upload {
        /// Host URL, e.g. http://127.0.0.1:7100.
        #[arg(long)]
        host: String,
        /// The envelope file.
        envelope: PathBuf,
    },
    /// Approve an isolate measurement for an agreement, at your broker.
    Approve(DecisionArgs),
    /// Revoke an approval; every later key release is refused.
    Revoke(DecisionArgs),
    /// Give a signed agreement to the host so that it can be run.
    Publish {
        /// Host URL.
        #[arg(long)]
        host: String,
        /// The signed agreement (.json).
        agreement: PathBuf,
    },
    /// Ask the host to run an agreement's program once; waits for the job to end.
    ///
    /// The run request is signed with your key: the agreement says who may start runs, and
    /// every owner's broker checks it again before it releases a key.
    Run {
        /// Host URL.
        #[arg(long)]
        host: String,
        /// The signed agreement (.json).
        #[arg(long)]
        agreement: PathBuf,
        /// Your key file (you must be allowed to start runs).
        #[arg(long)]
        key: PathBuf,
        /// Only queue the job and print its id; do not wait for it to end.
        #[arg(long)]
        no_wait: bool,
    },
    /// Fetch, verify and decrypt the outputs of a job sealed to you.
    Open(OpenArgs),
    /// Show the privacy budgets a data owner's broker keeps: ε spent and left per dataset and agreement.
    ///
    /// Budgets are debited before any key leaves and never refunded.
    /// Only the owner may see them: the request is signed with the owner's key file.
    Budget {
        /// Broker URL; by default the one in the key file.
        #[arg(long)]
        broker: Option<String>,
        /// The owner's key file.
        #[arg(long)]
        key: PathBuf,
    },
    /// List every release of your datasets in the transparency log, verifying all of it.
    ///
    /// Reads every log entry added since your last audit and checks that together
    /// they produce the root of the log's signed checkpoint (nothing hidden), that
    /// the checkpoint extends the one saved by your last audit (no rewrite, no
    /// fork), and each release's inclusion proof. The checkpoint is then saved.
    /// Exit code 3 when the log was forked, rewritten or tampered with.
    Audit(AuditArgs),
    /// Transparency-log tools: fetch a checkpoint, check two checkpoints are consistent.
    #[command(subcommand)]
    Log(LogCommand),
    /// Show a host's simulator platform key, isolate measurement and log key.
    Platform {
        /// Host URL.
        #[arg(long)]
        host: String,
    },
    /// Run a data owner's key broker (with --portal, also the owner's web portal).
    Broker(BrokerArgs),
    /// The owner's web portal, served by the broker with --portal.
    #[command(subcommand)]
    Portal(PortalCommand),
    /// Inspect TEE evidence: verify AMD SEV-SNP, Intel TDX and SGX, and AWS Nitro evidence.
    #[command(subcommand)]
    Evidence(EvidenceCommand),
    /// Run the operator's host.
    Host(HostArgs),
    /// Run a complete two-party collaboration on this machine.
    Demo {
        /// Which story: `rooms` (sealed rooms: the ad-measurement rooms and the overlap room,
        /// the default), `dap` (split aggregation: 10,000 browsers report a page-load
        /// histogram to a leader and a helper) or `ml` (an ad platform's exposures and an
        /// advertiser's purchases train a logistic regression in a sealed room, by a Wasm
        /// program the advertiser published, with differentially private gradient descent).
        #[arg(value_enum, default_value_t = DemoStory::Rooms)]
        story: DemoStory,
        /// Keep everything in this directory instead of a temporary one.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Synthetic people (default: 20,000; 10,000 for `ml`).
        #[arg(long)]
        people: Option<u32>,
        /// Seed of the synthetic data.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// End-to-end measurements.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Split aggregation (DAP draft 18 on Prio3): run the leader or helper, create tasks,
    /// upload as a client, collect as the collector, simulate many clients.
    #[command(subcommand)]
    Dap(DapCommand),
    /// Generate realistic synthetic data with its exact answers.
    #[command(subcommand)]
    Synth(SynthCommand),
}

#[derive(Args)]
pub struct AdsBenchArgs {
    /// People generated (about 2.3 touches and 0.22 conversions each).
    #[arg(long, default_value_t = 4_400_000)]
    pub people: u64,
    /// Directory for the generated data (kept and reused: about 2.5 GB at the default size,
    /// with the deployment's envelopes; delete it when done). Default: the system temporary
    /// directory's `sealroom-bench`.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum SynthCommand {
    /// Ad-measurement data: the platform's touches and holdout study, the advertiser's
    /// conversions and several publishers' exposures, plus truth.json with each program's
    /// parameters and exact answer.
    ///
    /// Touches are heavy-tailed per person (most people see a few ads, some hundreds), about
    /// one in twenty is a click, control people see no ads, conversions follow touches with
    /// delays across and beyond the attribution windows or come without any touch, and the
    /// test arm converts --true-lift percent more often than control. About 2.3 touches and
    /// 0.23 conversions per person: --people 4400000 gives some 10 million touches and 1
    /// million conversions.
    Ads {
        /// People in the population.
        #[arg(long, default_value_t = 100_000)]
        people: u64,
        /// Campaigns.
        #[arg(long, default_value_t = 20)]
        campaigns: u32,
        /// Publishers with their own exposure logs (at least 2).
        #[arg(long, default_value_t = 3)]
        publishers: u32,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The test arm's true conversion-rate lift over control, in percent.
        #[arg(long, default_value_t = 10.0)]
        true_lift: f64,
        /// File format.
        #[arg(long, value_enum, default_value_t = sealroom_cli::synth::FileFormat::Csv)]
        format: sealroom_cli::synth::FileFormat,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum PartyCommand {
    /// Create NAME.key (private, mode 0600) and NAME.card.json (public).
    New {
        /// Party name: 1 to 64 of a-z, 0-9, '-' and '_'.
        name: String,
        /// URL of your key broker, if you will own data.
        #[arg(long)]
        broker_url: Option<String>,
        /// Where to write the files.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Show a party card (or the card of a key file).
    Show {
        /// A .card.json or .key file.
        file: PathBuf,
        /// Print a [[party]] block to paste into an agreement.
        #[arg(long)]
        toml: bool,
    },
}

#[derive(Subcommand)]
pub enum AgreementCommand {
    /// Validate an agreement and report the first problem.
    Check {
        /// Agreement (.toml or signed .json).
        file: PathBuf,
    },
    /// Print the agreement id.
    Id {
        /// Agreement (.toml or signed .json).
        file: PathBuf,
    },
    /// Add your signature; writes a signed agreement (.json).
    Sign {
        /// Agreement (.toml, or a signed .json to add to).
        file: PathBuf,
        /// Your key file.
        #[arg(long)]
        key: PathBuf,
        /// Where to write; by default FILE with extension .signed.json (or FILE itself if it is JSON).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show an agreement's terms and who has signed.
    Show {
        /// Agreement (.toml or signed .json).
        file: PathBuf,
    },
}

#[derive(Args)]
pub struct SealArgs {
    /// Your key file (you must own the dataset).
    #[arg(long)]
    pub key: PathBuf,
    /// The agreement that declares the dataset.
    #[arg(long)]
    pub agreement: PathBuf,
    /// Dataset name, as in the agreement.
    #[arg(long)]
    pub dataset: String,
    /// The file to seal: CSV (with a header row), Parquet, or Arrow IPC (file or stream).
    /// Columns are matched by name, in any order; columns the schema does not name are left
    /// out. Every value is checked against its column's type, and the first that does not fit
    /// is named by row, column and value, with nothing sealed.
    #[arg(long)]
    pub input: PathBuf,
    /// The file's format; by default from its extension (.csv, .parquet, .arrow, .arrows).
    #[arg(long)]
    pub format: Option<SourceFormat>,
    /// Where to write the envelope.
    #[arg(long)]
    pub out: PathBuf,
    /// Plaintext bytes per chunk (1 KiB to 16 MiB).
    #[arg(long)]
    pub chunk_size: Option<u32>,
    /// Do not register the envelope with your broker now (run `sealroom register` later).
    #[arg(long)]
    pub no_register: bool,
    /// Your broker; by default the URL in your key file.
    #[arg(long)]
    pub broker: Option<String>,
}

#[derive(Args)]
pub struct DecisionArgs {
    /// Your key file.
    #[arg(long)]
    pub key: PathBuf,
    /// The agreement.
    #[arg(long)]
    pub agreement: PathBuf,
    /// The isolate measurement (from `sealroom measure`).
    #[arg(long)]
    pub measurement: Measurement,
    /// The TEE platform.
    #[arg(long, default_value = "sim", value_parser = parse_platform)]
    pub platform: Platform,
    /// Your broker; by default the URL in your key file.
    #[arg(long)]
    pub broker: Option<String>,
}

#[derive(Args)]
pub struct OpenArgs {
    /// Your key file.
    #[arg(long)]
    pub key: PathBuf,
    /// Your copy of the signed agreement.
    #[arg(long)]
    pub agreement: PathBuf,
    /// Host URL.
    #[arg(long)]
    pub host: String,
    /// The job.
    #[arg(long)]
    pub job: JobId,
    /// INSECURE: accept simulator evidence signed by this platform key (base64).
    #[arg(long, value_name = "PLATFORM_KEY", allow_hyphen_values = true)]
    pub accept_simulator_evidence: Option<String>,
    /// The transparency log's verifier key you pinned; every input's release must be proven in it.
    #[arg(long, value_name = "VERIFIER_KEY", env = "SEALROOM_LOG_KEY")]
    pub log_key: String,
}

#[derive(Args)]
pub struct AuditArgs {
    /// Your party card (whose datasets to audit).
    #[arg(long)]
    pub party: PathBuf,
    /// Host URL (the log is served there).
    #[arg(long)]
    pub host: String,
    /// The transparency log's verifier key you pinned.
    #[arg(long, value_name = "VERIFIER_KEY", env = "SEALROOM_LOG_KEY")]
    pub log_key: String,
    /// Where the last verified checkpoint is kept between audits;
    /// by default `<card name>.audit.json` beside the card.
    #[arg(long)]
    pub state: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum LogCommand {
    /// Fetch and verify the log's latest checkpoint; print it or save it.
    Checkpoint {
        /// Host URL.
        #[arg(long)]
        host: String,
        /// The log's verifier key you pinned.
        #[arg(long, value_name = "VERIFIER_KEY", env = "SEALROOM_LOG_KEY")]
        log_key: String,
        /// Save the checkpoint to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check that a newer checkpoint extends an older one, or that a logged entry is in the log
    /// (exit 3 if the log forked or the proof fails).
    Verify {
        /// Host URL, to fetch the consistency proof.
        #[arg(long)]
        host: String,
        /// The log's verifier key you pinned.
        #[arg(long, value_name = "VERIFIER_KEY", env = "SEALROOM_LOG_KEY")]
        log_key: String,
        /// The older checkpoint file.
        #[arg(required_unless_present = "entry")]
        old: Option<PathBuf>,
        /// The newer checkpoint file; by default the log's latest.
        new: Option<PathBuf>,
        /// Instead of two checkpoints, check a logged entry with its inclusion proof (as the
        /// public log page gives it, `/log/entries/N/proof.json`, or a receipt's log entry):
        /// its checkpoint is signed by the pinned key, the proof puts the entry in it, and the
        /// log's latest checkpoint extends it.
        #[arg(long, conflicts_with_all = ["old", "new"])]
        entry: Option<PathBuf>,
    },
}

#[derive(Args)]
pub struct BrokerArgs {
    /// The owner's key file.
    #[arg(long)]
    pub key: PathBuf,
    /// Where the broker keeps its database.
    #[arg(long)]
    pub data: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7101")]
    pub listen: String,
    /// INSECURE: accept simulator evidence signed by this platform key (base64, from `sealroom platform`).
    #[arg(long, value_name = "PLATFORM_KEY", allow_hyphen_values = true)]
    pub accept_simulator_evidence: Option<String>,
    /// Seconds a challenge stays valid.
    #[arg(long, default_value_t = 60)]
    pub challenge_ttl: i64,
    /// The transparency log (the host's URL); every release is logged there first.
    #[arg(long)]
    pub log: String,
    /// The log's verifier key to pin (from `sealroom platform`, checked out of band).
    #[arg(long, value_name = "VERIFIER_KEY", env = "SEALROOM_LOG_KEY")]
    pub log_key: String,
    /// TESTING ONLY: verify hardware evidence as of this time (RFC 3339) instead of now, to
    /// replay recorded evidence whose certificates or collateral have since expired. Hidden
    /// from --help: a production broker must never be started with it.
    #[arg(long, value_name = "TIME", value_parser = parse_time, hide = true)]
    pub evidence_time: Option<Timestamp>,
    /// Also serve the owner's web portal under /portal on the same address: agreements,
    /// binary review with Approve and Revoke, budgets, and the processing log with every
    /// release proven to be in the transparency log. Sign in with the portal secret, created
    /// (and printed once) at the first start; `sealroom portal secret` shows it again.
    #[arg(long)]
    pub portal: bool,
    /// Let the portal answer requests from other machines (by default only from loopback).
    /// Serve it only behind TLS, and pass --portal-secure-cookie.
    #[arg(long, requires = "portal")]
    pub portal_remote: bool,
    /// Mark the portal's session cookie Secure (the portal is reached over https).
    #[arg(long, requires = "portal")]
    pub portal_secure_cookie: bool,
}

#[derive(Subcommand)]
pub enum ProgramCommand {
    /// Publish a Wasm module on the host, signed with your key, with its documentation and the
    /// digest of its source tree; the host logs it as "program published".
    ///
    /// Agreements then name the module by the SHA-256 this prints (program `wasm`, parameter
    /// `module`), and the isolate refuses any other bytes before it asks for a key. Owners read
    /// the documentation and rebuild the module from the source to check the digest.
    ///
    /// Example: sealroom program publish --host http://127.0.0.1:7100 --key provider.key
    ///   --name logistic-regression --doc README.md --source examples/logistic-regression
    ///   target/wasm32-unknown-unknown/release/logistic_regression.wasm
    Publish {
        /// Host URL.
        #[arg(long)]
        host: String,
        /// Your key file (a party the host serves).
        #[arg(long)]
        key: PathBuf,
        /// The program's name (1 to 64 characters).
        #[arg(long)]
        name: String,
        /// Its documentation (Markdown): what it computes, its parameters, its outputs.
        #[arg(long)]
        doc: PathBuf,
        /// The source tree it was built from (its digest is published; target/ and .git are skipped).
        #[arg(long)]
        source: Option<PathBuf>,
        /// The compiled module (.wasm).
        module: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum PortalCommand {
    /// Print the secret to sign in to the portal of the broker whose data directory is DIR.
    Secret {
        /// The broker's data directory.
        #[arg(long)]
        data: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum EvidenceCommand {
    /// Verify TEE evidence offline and print its claims, or the precise reason it is refused.
    ///
    /// For owners reviewing a platform before approving it: the evidence's signature and
    /// certificate chain are checked against the vendor roots pinned in sealroom (AMD Milan,
    /// Genoa and Turin, Intel SGX root CA, AWS Nitro root G1) at --at (default: now). Debug mode
    /// is reported and refused. With --agreement, the claims are also checked against the agreement's accepted
    /// runtimes and TCB policy and the matching runtime id (what `approve` takes) is printed.
    ///
    /// Exit code 0: verified (and accepted, with --agreement); 1: refused; 2: unreadable input.
    Verify(EvidenceVerifyArgs),
}

#[derive(Args)]
pub struct EvidenceVerifyArgs {
    /// The evidence: an SEV-SNP attestation report (binary, 1184 bytes), a DCAP quote (binary),
    /// a Nitro attestation document (CBOR, or its base64), or a sealroom evidence JSON
    /// (`{"platform": …, "bytes": …, "endorsements": …}`, as in a receipt).
    pub file: PathBuf,
    /// The platform; required unless FILE is sealroom evidence JSON.
    #[arg(long, value_parser = parse_platform)]
    pub platform: Option<Platform>,
    /// SEV-SNP: the VCEK or VLEK certificate (DER or PEM); TDX and SGX: the collateral (JSON).
    #[arg(long, value_name = "FILE")]
    pub collateral: Option<PathBuf>,
    /// Verify as of this time (RFC 3339 or Unix seconds) instead of now.
    #[arg(long, value_name = "TIME", value_parser = parse_time_or_seconds)]
    pub at: Option<Timestamp>,
    /// Also check the claims against this agreement's runtimes and TCB policy.
    #[arg(long)]
    pub agreement: Option<PathBuf>,
    /// Also check that the evidence binds this report data (128 hex digits).
    #[arg(long, value_name = "HEX")]
    pub report_data: Option<String>,
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct HostArgs {
    /// Manage the parties this host serves (instead of running it).
    #[command(subcommand)]
    pub command: Option<HostCommand>,
    #[command(flatten)]
    pub run: HostRunArgs,
}

#[derive(Subcommand)]
pub enum HostCommand {
    /// The parties this host serves: only they may publish agreements, upload, run and log.
    #[command(subcommand)]
    Party(HostPartyCommand),
}

#[derive(Subcommand)]
pub enum HostPartyCommand {
    /// Serve a party (its public card, from `sealroom party new`).
    Add {
        /// The host's data directory.
        #[arg(long)]
        data: PathBuf,
        /// The party's card.
        card: PathBuf,
    },
    /// Stop serving a party.
    Remove {
        /// The host's data directory.
        #[arg(long)]
        data: PathBuf,
        /// The party's name.
        name: String,
    },
    /// List the parties this host serves.
    List {
        /// The host's data directory.
        #[arg(long)]
        data: PathBuf,
    },
}

#[derive(Args)]
pub struct HostRunArgs {
    /// Where the host keeps its database, blobs and simulator platform key.
    #[arg(long, required = false)]
    pub data: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7100")]
    pub listen: String,
    /// The isolate executable; by default `sealroom-isolate` beside this program.
    #[arg(long)]
    pub isolate: Option<PathBuf>,
    /// Largest upload accepted, e.g. 500M or 20G.
    #[arg(long, default_value = "4G", value_parser = parse_size)]
    pub max_upload: u64,
    /// Seconds before a job is killed.
    #[arg(long, default_value_t = 600)]
    pub job_timeout: u64,
    /// Isolates that may run at once (default: the number of cores); more jobs wait in a queue.
    #[arg(long)]
    pub max_isolates: Option<usize>,
    /// Jobs that may wait or run at once over all agreements (default 64); more run requests
    /// are refused.
    #[arg(long)]
    pub max_queued_jobs: Option<usize>,
    /// Jobs of one agreement that may wait or run at once (default 8); more run requests are
    /// refused.
    #[arg(long)]
    pub max_jobs_per_agreement: Option<usize>,
    /// Name of the transparency log, used when its key is first created
    /// (default `localhost/sealroom-log/<random>`).
    #[arg(long)]
    pub log_origin: Option<String>,
    /// On TDX or SGX hardware: the DCAP collateral (JSON) you fetched from a PCCS for this
    /// machine, attached to the isolate's evidence (on SEV-SNP without a host certificate table:
    /// the VCEK). Refresh it before it expires: brokers refuse stale collateral.
    #[arg(long, value_name = "FILE")]
    pub tee_collateral: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Seal and open throughput against raw AES-256-GCM, and peak memory.
    Seal {
        /// Plaintext size, e.g. 100M or 1G.
        #[arg(long, default_value = "100M", value_parser = parse_size)]
        size: u64,
        /// Scratch directory for the input and envelope files.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Sealing an owner's CSV and Parquet files (every value typed and checked, encrypted,
    /// written) against DuckDB converting the same CSV to Parquet, in the same run; and
    /// decoding the sealed payload as the isolate does. Installs the duckdb Python package if
    /// it is missing.
    Sources {
        /// Rows of touches (person, time, kind, campaign, cost).
        #[arg(long, default_value_t = 10_000_000)]
        rows: u64,
        /// Directory for the generated files (kept and reused: the CSV is generated once).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Last-touch attribution over synthetic data (about 10 million touches and 1 million
    /// conversions by default) as a whole sealed job, against DuckDB running the same
    /// semantics in SQL over the same data as Parquet; checks DuckDB's exact answer against
    /// the program's.
    Attribution(AdsBenchArgs),
    /// The lift study, as for `bench attribution`.
    Lift(AdsBenchArgs),
    /// Reach and frequency across two publishers, as for `bench attribution`.
    Reach(AdsBenchArgs),
    /// `overlap` as the built-in against the Wasm example `overlap`, run per person (a fresh
    /// instance per person) and vetted (one call over everyone), each a whole sealed job over
    /// the same data in one deployment; reports each job's time, its ratio to the built-in,
    /// its largest error against the exact counts, and the per-person calls per second.
    Wasm {
        /// Rows per dataset (exposures and purchases).
        #[arg(long, default_value_t = 1_000_000)]
        rows: u32,
        /// Seed of the synthetic data.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// The pooled logistic regression of `demo ml` (the Wasm example, a fresh instance per
    /// person per round) at scale: the whole training job's wall time, guest calls per second,
    /// and the private model's log loss and accuracy against a plaintext fit.
    Ml {
        /// People in both datasets.
        #[arg(long, default_value_t = 1_000_000)]
        people: u32,
        /// Features per person (exposure counts per campaign category).
        #[arg(long, default_value_t = 16)]
        features: usize,
        /// Gradient steps.
        #[arg(long, default_value_t = 20)]
        rounds: u32,
        /// ε of the whole training run (δ = 10⁻⁶).
        #[arg(long, default_value_t = 1.0)]
        epsilon: f64,
        /// Seed of the synthetic data.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// Job latency (run request to stored output) over two datasets.
    Job {
        /// Rows per dataset.
        #[arg(long, default_value_t = 1000)]
        rows: u32,
        /// Measured runs (after 3 warm-up runs).
        #[arg(long, default_value_t = 50)]
        runs: usize,
    },
    /// Split aggregation end to end (upload, aggregate, collect) with both aggregators as
    /// processes on loopback, against the cryptography per report measured in the same run.
    Dap {
        /// Reports.
        #[arg(long, default_value_t = 100_000)]
        reports: u64,
        /// count, histogram:100, …
        #[arg(long, default_value = "count", value_parser = sealroom_cli::dap::parse_vdaf)]
        vdaf: VdafConfig,
    },
    /// Render times of the owner's portal and the public log pages over HTTP, with the log and
    /// the broker's records holding --entries releases of one owner (target: every page under
    /// 100 ms at 100,000).
    Portal {
        /// Releases in the log and in the broker's records.
        #[arg(long, default_value_t = 100_000)]
        entries: u64,
        /// Timed fetches per page (after one warm-up).
        #[arg(long, default_value_t = 20)]
        samples: usize,
        /// Scratch directory (default: the system temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Transparency log: durable append throughput, then proof times at the final size.
    Log {
        /// Entries to fill the log with.
        #[arg(long, default_value_t = 1_000_000)]
        entries: u64,
        /// Appenders running at once.
        #[arg(long, default_value_t = 64)]
        appenders: usize,
        /// Scratch directory (default: the system temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// The stories `sealroom demo` tells.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoStory {
    /// Sealed rooms.
    Rooms,
    /// Split aggregation.
    Dap,
    /// A purchase model trained on pooled data by a published Wasm program.
    Ml,
}

/// `sealroom dap …`.
#[derive(Subcommand)]
pub enum DapCommand {
    /// Run the leader: clients upload to it, the collector asks it for results, and it runs
    /// aggregation jobs with the helper.
    Leader(DapServeArgs),
    /// Run the helper: it verifies and aggregates its shares in the leader's aggregation jobs,
    /// and seals its aggregate share of a batch to the collector, once.
    Helper(DapServeArgs),
    /// Create a task in both aggregators' stores, show one, or list them.
    #[command(subcommand)]
    Task(DapTaskCommand),
    /// Upload measurements as clients: each becomes a report whose shares are sealed to the
    /// leader and the helper.
    Upload {
        /// The task file (`task.json` from `sealroom dap task new`).
        #[arg(long)]
        task: PathBuf,
        /// The report time (Unix seconds; default now).
        #[arg(long)]
        time: Option<u64>,
        /// Measurements, one per report: 0/1 (count), an integer (sum), `1,2,3` (sumvec), a
        /// bucket (histogram), indices of the set entries like `0,3` (multihot).
        #[arg(required = true, allow_hyphen_values = false)]
        measurements: Vec<String>,
    },
    /// Collect one batch as the collector, and write it for a data pipeline.
    Collect {
        /// The task file.
        #[arg(long)]
        task: PathBuf,
        /// The collector's credential (JSON: HPKE key and token, the form DAP collector
        /// tooling uses).
        #[arg(long)]
        credential: PathBuf,
        /// Start of the batch interval (Unix seconds or RFC 3339), for a time_interval task.
        #[arg(long)]
        start: Option<String>,
        /// Length of the batch interval in seconds (a multiple of the task's time precision).
        #[arg(long)]
        duration: Option<u64>,
        /// Write the result here: .csv, .json or .parquet.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// Upload many clients' measurements through the real client to a leader and helper
    /// started as processes, collect, and check the result equals the plaintext aggregate.
    Simulate {
        /// Clients, one report each.
        #[arg(long, default_value_t = 10_000)]
        clients: u64,
        /// count, sum:MAX, sumvec:LENGTH:MAX[:CHUNK], histogram:LENGTH[:CHUNK],
        /// multihot:LENGTH:MAX_WEIGHT[:CHUNK].
        #[arg(long, default_value = "count", value_parser = sealroom_cli::dap::parse_vdaf)]
        vdaf: VdafConfig,
        /// Share of clients that bypass the encoder and send invalid reports.
        #[arg(long, default_value_t = 0.0)]
        invalid_fraction: f64,
        /// Seed of the measurements.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Keep the aggregators' stores and logs here instead of a temporary directory.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// Where an aggregator keeps its store and listens.
#[derive(Args)]
pub struct DapServeArgs {
    /// The aggregator's SQLite store (created if missing).
    #[arg(long)]
    pub db: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7301")]
    pub listen: String,
}

/// `sealroom dap task …`.
#[derive(Subcommand)]
// Parsed once per process: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum DapTaskCommand {
    /// Create a task: a fresh id, verification key and tokens, written to both aggregators'
    /// stores; writes the task file for clients and the collector, and the collector's
    /// credential when it is generated.
    New {
        /// The leader's store.
        #[arg(long)]
        leader_db: PathBuf,
        /// The helper's store.
        #[arg(long)]
        helper_db: PathBuf,
        /// The leader's base URL as clients and the collector reach it.
        #[arg(long)]
        leader: String,
        /// The helper's base URL as the leader reaches it.
        #[arg(long)]
        helper: String,
        /// count, sum:MAX, sumvec:LENGTH:MAX[:CHUNK], histogram:LENGTH[:CHUNK],
        /// multihot:LENGTH:MAX_WEIGHT[:CHUNK].
        #[arg(long, value_parser = sealroom_cli::dap::parse_vdaf)]
        vdaf: VdafConfig,
        /// Seconds per time unit: report times are rounded down to it.
        #[arg(long, default_value_t = 3600)]
        time_precision: u64,
        /// Fewest reports a batch may hold.
        #[arg(long, default_value_t = 100)]
        min_batch_size: u64,
        /// How batches form: time-interval (the collector names an interval) or
        /// leader-selected (the leader forms batches of the minimum size).
        #[arg(long, default_value = "time-interval", value_parser = ["time-interval", "leader-selected"])]
        batch_mode: String,
        /// The task's end (Unix seconds or RFC 3339): later reports are refused.
        #[arg(long)]
        task_end: Option<String>,
        /// Opaque task information bound into every report.
        #[arg(long, default_value = "sealroom")]
        task_info: String,
        /// Reports older than this many seconds are dropped.
        #[arg(long, default_value_t = 7 * 24 * 3600)]
        report_expiry_age: u64,
        /// Differential privacy on each aggregator's aggregate share: `laplace:EPSILON` or
        /// `gaussian:EPSILON:DELTA` (e.g. `laplace:1`, `gaussian:0.5:1e-9`). Each aggregator adds
        /// its own noise, so the collector's result carries both.
        #[arg(long, value_parser = sealroom_cli::dap::parse_noise)]
        dp: Option<sealroom_dap_aggregator::noise::TaskNoise>,
        /// Use this collector credential (JSON) instead of generating one.
        #[arg(long)]
        collector_credential: Option<PathBuf>,
        /// Directory for task.json (and collector.json when generated).
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Show a task as an aggregator holds it (secrets included: the store is the aggregator's).
    Show {
        /// The aggregator's store.
        #[arg(long)]
        db: PathBuf,
        /// The task id.
        task_id: String,
    },
    /// List the tasks in an aggregator's store.
    List {
        /// The aggregator's store.
        #[arg(long)]
        db: PathBuf,
    },
}

pub fn parse_platform(s: &str) -> Result<Platform, String> {
    let name = if s == "snp" { "sev-snp" } else { s };
    serde_json::from_value(serde_json::Value::String(name.into()))
        .map_err(|_| "one of sim, sev-snp (or snp), tdx, sgx, nitro".into())
}

pub fn parse_size(s: &str) -> Result<u64, String> {
    let (digits, unit) = s.trim().split_at(
        s.trim()
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(s.trim().len()),
    );
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 100M or 1G"))?;
    let mul = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" => 1 << 10,
        "M" | "MB" => 1 << 20,
        "G" | "GB" => 1 << 30,
        _ => return Err(format!("unknown unit in {s:?}: use K, M or G")),
    };
    Ok(n * mul)
}

pub fn parse_time(s: &str) -> Result<Timestamp, String> {
    Timestamp::parse(s.trim())
        .map_err(|_| format!("{s:?} is not an RFC 3339 time like 2026-12-01T00:00:00Z"))
}

pub fn parse_time_or_seconds(s: &str) -> Result<Timestamp, String> {
    match s.trim().parse::<i64>() {
        Ok(seconds) => Ok(Timestamp(seconds)),
        Err(_) => parse_time(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_keys_may_start_with_a_hyphen() {
        let parsed = Cli::try_parse_from([
            "sealroom",
            "broker",
            "--key",
            "k",
            "--data",
            "d",
            "--accept-simulator-evidence",
            "-QJx0",
            "--log",
            "http://127.0.0.1:1",
            "--log-key",
            "l+00000000+AQ",
        ]);
        assert!(
            parsed.is_ok(),
            "a base64url key starting with '-' is a value, not a flag"
        );
        let parsed = Cli::try_parse_from([
            "sealroom",
            "open",
            "--key",
            "k",
            "--agreement",
            "a",
            "--host",
            "h",
            "--job",
            &"0".repeat(32),
            "--accept-simulator-evidence",
            "-x",
            "--log-key",
            "l+00000000+AQ",
        ]);
        assert!(parsed.is_ok());
    }

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("100M"), Ok(100 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("1X").is_err());
    }
}
