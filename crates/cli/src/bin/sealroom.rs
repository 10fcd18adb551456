//! `sealroom`: parses arguments and calls the sealroom libraries.
//!
//! Exit codes: 0 ok, 1 refused or a check failed, 2 usage or I/O error.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use sealroom_attest::EvidenceVerifier;
use sealroom_cli::services::Executables;
use sealroom_cli::{Refused, agreement_file, bench, demo, owner, reader, remote};
use sealroom_core::attestation::Platform;
use sealroom_core::bytes;
use sealroom_core::clock::SystemClock;
use sealroom_core::ids::{JobId, Measurement};
use sealroom_core::party::{PartyCard, SigningPublicKey};
use sealroom_core::statement::Decision;
use sealroom_crypto::Identity;
use sealroom_host::{JobStatus, RunJob};
use serde::Serialize;

/// Privacy-preserving collaborative analytics: sealed rooms and split aggregation.
///
/// A typical sealed-room collaboration: each party runs `party new`; they write an
/// agreement (TOML) and each runs `agreement sign`; each data owner runs its `broker`,
/// `seal`s and `upload`s its dataset, and `approve`s the isolate measurement; the
/// operator runs `host`; anyone runs `run`; each reader runs `open`.
/// `sealroom demo` does all of this on one machine.
#[derive(Parser)]
#[command(
    name = "sealroom",
    version,
    about,
    long_about,
    after_help = "Exit codes: 0 ok, 1 refused or check failed, 2 usage or I/O error."
)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create or inspect a party identity.
    #[command(subcommand)]
    Party(PartyCommand),
    /// Check, identify, sign or show an agreement.
    #[command(subcommand)]
    Agreement(AgreementCommand),
    /// List the built-in programs an agreement can name.
    Programs,
    /// Print the measurement of an isolate executable (what owners approve).
    Measure {
        /// The executable; by default the `sealroom-isolate` beside this program.
        path: Option<PathBuf>,
    },
    /// Check a CSV file against the agreement's schema and seal it into an envelope.
    Seal(SealArgs),
    /// Upload a sealed envelope to the host.
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
    Run {
        /// Host URL.
        #[arg(long)]
        host: String,
        /// The signed agreement (.json).
        #[arg(long)]
        agreement: PathBuf,
    },
    /// Fetch, verify and decrypt the outputs of a job sealed to you.
    Open(OpenArgs),
    /// Show the privacy budgets your broker keeps.
    Budget {
        /// Broker URL; by default the one in your key file.
        #[arg(long)]
        broker: Option<String>,
        /// Your key file, to find your broker.
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Show a host's simulator platform key and isolate measurement.
    Platform {
        /// Host URL.
        #[arg(long)]
        host: String,
    },
    /// Run a data owner's key broker.
    Broker(BrokerArgs),
    /// Run the operator's host.
    Host(HostArgs),
    /// Run a complete two-party collaboration on this machine.
    Demo {
        /// Keep everything in this directory instead of a temporary one.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Synthetic people.
        #[arg(long, default_value_t = 20_000)]
        people: u32,
        /// Seed of the synthetic data.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// End-to-end measurements.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum PartyCommand {
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
enum AgreementCommand {
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
struct SealArgs {
    /// Your key file (you must own the dataset).
    #[arg(long)]
    key: PathBuf,
    /// The agreement that declares the dataset.
    #[arg(long)]
    agreement: PathBuf,
    /// Dataset name, as in the agreement.
    #[arg(long)]
    dataset: String,
    /// The CSV file; its header must list the schema's columns in order.
    #[arg(long)]
    input: PathBuf,
    /// Where to write the envelope.
    #[arg(long)]
    out: PathBuf,
    /// Plaintext bytes per chunk (1 KiB to 16 MiB).
    #[arg(long)]
    chunk_size: Option<u32>,
}

#[derive(Args)]
struct DecisionArgs {
    /// Your key file.
    #[arg(long)]
    key: PathBuf,
    /// The agreement.
    #[arg(long)]
    agreement: PathBuf,
    /// The isolate measurement (from `sealroom measure`).
    #[arg(long)]
    measurement: Measurement,
    /// The TEE platform.
    #[arg(long, default_value = "sim", value_parser = parse_platform)]
    platform: Platform,
    /// Your broker; by default the URL in your key file.
    #[arg(long)]
    broker: Option<String>,
}

#[derive(Args)]
struct OpenArgs {
    /// Your key file.
    #[arg(long)]
    key: PathBuf,
    /// Your copy of the signed agreement.
    #[arg(long)]
    agreement: PathBuf,
    /// Host URL.
    #[arg(long)]
    host: String,
    /// The job.
    #[arg(long)]
    job: JobId,
    /// INSECURE: accept simulator evidence signed by this platform key (base64).
    #[arg(long, value_name = "PLATFORM_KEY", allow_hyphen_values = true)]
    accept_simulator_evidence: Option<String>,
}

#[derive(Args)]
struct BrokerArgs {
    /// The owner's key file.
    #[arg(long)]
    key: PathBuf,
    /// Where the broker keeps its database.
    #[arg(long)]
    data: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7101")]
    listen: String,
    /// INSECURE: accept simulator evidence signed by this platform key (base64, from `sealroom platform`).
    #[arg(long, value_name = "PLATFORM_KEY", allow_hyphen_values = true)]
    accept_simulator_evidence: Option<String>,
    /// Seconds a challenge stays valid.
    #[arg(long, default_value_t = 60)]
    challenge_ttl: i64,
}

#[derive(Args)]
struct HostArgs {
    /// Where the host keeps its database, blobs and simulator platform key.
    #[arg(long)]
    data: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7100")]
    listen: String,
    /// The isolate executable; by default `sealroom-isolate` beside this program.
    #[arg(long)]
    isolate: Option<PathBuf>,
    /// Largest upload accepted, in bytes.
    #[arg(long, default_value_t = 64 << 30)]
    max_upload: u64,
    /// Seconds before a job is killed.
    #[arg(long, default_value_t = 600)]
    job_timeout: u64,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Seal and open throughput against raw AES-256-GCM, and peak memory.
    Seal {
        /// Plaintext size, e.g. 100M or 1G.
        #[arg(long, default_value = "100M", value_parser = parse_size)]
        size: u64,
        /// Scratch directory for the input and envelope files.
        #[arg(long)]
        dir: Option<PathBuf>,
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
}

fn parse_platform(s: &str) -> Result<Platform, String> {
    serde_json::from_value(serde_json::Value::String(s.into()))
        .map_err(|_| "one of sim, sev-snp, tdx, nitro".into())
}

fn parse_size(s: &str) -> Result<u64, String> {
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = match cli.command {
        Command::Broker(_) | Command::Host(_) => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SEALROOM_LOG")
                .unwrap_or_else(|_| filter.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.chain().any(|c| c.is::<Refused>()) {
                ExitCode::from(1)
            } else {
                ExitCode::from(2)
            }
        }
    }
}

fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn read_card(path: &Path) -> anyhow::Result<PartyCard> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if text.contains("\"signing_seed\"") {
        return Ok(Identity::read_key_file(path)?.card());
    }
    serde_json::from_str(&text).with_context(|| format!("{} is not a party card", path.display()))
}

fn platform_key(text: &str) -> anyhow::Result<SigningPublicKey> {
    let bytes = bytes::decode(text.trim()).context("the platform key is not base64")?;
    Ok(SigningPublicKey(bytes.try_into().map_err(|_| {
        anyhow::anyhow!("the platform key is not 32 bytes")
    })?))
}

fn executables() -> anyhow::Result<Executables> {
    Executables::beside(std::env::current_exe()?)
}

fn spinner(json: bool) -> ProgressBar {
    if json {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("template"));
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let json = cli.json;
    match cli.command {
        Command::Party(PartyCommand::New {
            name,
            broker_url,
            dir,
        }) => {
            let identity = Identity::generate(&name, broker_url)?;
            let key = dir.join(format!("{name}.key"));
            let card_path = dir.join(format!("{name}.card.json"));
            if card_path.exists() {
                bail!(
                    "{} already exists; refusing to overwrite",
                    card_path.display()
                );
            }
            identity.write_key_file(&key)?;
            let card = identity.card();
            std::fs::write(&card_path, serde_json::to_string_pretty(&card)? + "\n")?;
            if json {
                print_json(
                    &serde_json::json!({ "key_file": key, "card_file": card_path, "fingerprint": card.fingerprint()? }),
                )?;
            } else {
                println!(
                    "wrote {} (private, mode 0600) and {} (public)",
                    key.display(),
                    card_path.display()
                );
                println!("fingerprint {}", card.fingerprint()?);
            }
        }
        Command::Party(PartyCommand::Show { file, toml }) => {
            let card = read_card(&file)?;
            if json {
                print_json(
                    &serde_json::json!({ "card": card, "fingerprint": card.fingerprint()? }),
                )?;
            } else if toml {
                println!(
                    "[[party]]\nname = \"{}\"\nsigning_key = \"{}\"\nhpke_key = \"{}\"",
                    card.name,
                    bytes::encode(&card.signing_key.0),
                    bytes::encode(&card.hpke_key.0)
                );
                if let Some(url) = &card.broker_url {
                    println!("broker_url = \"{url}\"");
                }
            } else {
                println!("name         {}", card.name);
                println!("fingerprint  {}", card.fingerprint()?);
                println!("signing key  {}", bytes::encode(&card.signing_key.0));
                println!("hpke key     {}", bytes::encode(&card.hpke_key.0));
                println!(
                    "broker       {}",
                    card.broker_url.as_deref().unwrap_or("(none)")
                );
            }
        }
        Command::Agreement(cmd) => agreement_command(cmd, json)?,
        Command::Programs => {
            let list = sealroom_programs::BuiltinCatalog.list();
            if json {
                print_json(&list.iter().map(|p| serde_json::json!({"id": p.id, "version": p.version, "summary": p.summary, "params": p.params})).collect::<Vec<_>>())?;
            } else {
                for p in list {
                    println!(
                        "{} v{}: {}\n  params: {}",
                        p.id, p.version, p.summary, p.params
                    );
                }
            }
        }
        Command::Measure { path } => {
            let path = match path {
                Some(p) => p,
                None => executables()?.isolate,
            };
            let m = sealroom_attest::measure_file(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            if json {
                print_json(
                    &serde_json::json!({ "path": path, "platform": "sim", "measurement": m }),
                )?;
            } else {
                println!("{m}");
            }
        }
        Command::Seal(a) => {
            let identity = Identity::read_key_file(&a.key)?;
            let agreement = agreement_file::load(&a.agreement)?;
            let total = std::fs::metadata(&a.input)
                .with_context(|| format!("cannot read {}", a.input.display()))?
                .len();
            let bar = if json {
                ProgressBar::hidden()
            } else {
                ProgressBar::new(total)
            };
            bar.set_style(
                ProgressStyle::with_template(
                    "sealing {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .expect("template"),
            );
            let progress_bar = bar.clone();
            let summary = owner::seal_dataset(
                &identity,
                &agreement,
                &a.dataset,
                &a.input,
                &a.out,
                a.chunk_size,
                Box::new(move |n| progress_bar.set_position(n)),
            );
            bar.finish_and_clear();
            let summary = summary?;
            if json {
                print_json(&summary)?;
            } else {
                println!(
                    "sealed {} rows of {} into {} ({} bytes)",
                    summary.rows,
                    summary.dataset,
                    summary.output.display(),
                    summary.envelope_bytes
                );
            }
        }
        Command::Upload { host, envelope } => {
            let mut file = std::fs::File::open(&envelope)
                .with_context(|| format!("cannot open {}", envelope.display()))?;
            let (header, _) = sealroom_crypto::EnvelopeHeader::read_from(&mut file)?;
            let stored =
                remote::HostClient::new(&host).upload(&header.owner, &header.dataset, &envelope)?;
            if json {
                print_json(&stored)?;
            } else {
                println!(
                    "uploaded {}/{}: {} bytes, digest {}",
                    stored.owner, stored.dataset, stored.size, stored.digest
                );
            }
        }
        Command::Approve(a) => decision_command(a, Decision::Approve, json)?,
        Command::Revoke(a) => decision_command(a, Decision::Revoke, json)?,
        Command::Publish { host, agreement } => {
            let signed = agreement_file::load(&agreement)?;
            remote::HostClient::new(&host).publish(&signed)?;
            if json {
                print_json(&serde_json::json!({ "agreement_id": signed.id }))?;
            } else {
                println!("the host holds agreement {}", signed.id);
            }
        }
        Command::Run { host, agreement } => {
            let signed = agreement_file::load(&agreement)?;
            let bar = spinner(json);
            bar.set_message("running the job in a fresh isolate");
            let record = remote::HostClient::new(&host).run(&RunJob {
                agreement_id: signed.id,
            });
            bar.finish_and_clear();
            let record = record?;
            if json {
                print_json(&record)?;
            }
            if record.status != JobStatus::Finished {
                return Err(remote::job_failed(&record));
            }
            if !json {
                println!(
                    "job {} finished; outputs sealed to {}",
                    record.job_id,
                    record
                        .outputs
                        .iter()
                        .map(|o| o.reader.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        Command::Open(a) => {
            let identity = Identity::read_key_file(&a.key)?;
            let agreement = agreement_file::load(&a.agreement)?;
            let mut verifier = EvidenceVerifier::new();
            if let Some(key) = &a.accept_simulator_evidence {
                eprintln!(
                    "warning: accepting SIMULATOR evidence: the simulator protects nothing from the operator"
                );
                verifier = verifier.accept_simulator_evidence(platform_key(key)?);
            }
            let bundle = remote::HostClient::new(&a.host).outputs(&a.job, identity.name())?;
            let opened = reader::open_outputs(&identity, &agreement, &bundle, &verifier)?;
            if json {
                print_json(&opened)?;
            } else {
                print_opened(&opened);
            }
        }
        Command::Budget { broker, key } => {
            let url = match (broker, key) {
                (Some(url), _) => url,
                (None, Some(key)) => Identity::read_key_file(&key)?
                    .card()
                    .broker_url
                    .context("your key file names no broker URL; pass --broker")?,
                (None, None) => bail!("pass --broker URL or --key KEYFILE"),
            };
            let budgets = remote::BrokerClient::new(&url).budgets()?;
            if json {
                print_json(&budgets)?;
            } else if budgets.is_empty() {
                println!("no budget spent yet");
            } else {
                for b in budgets {
                    let eps = |m: u64| {
                        sealroom_core::Epsilon::from_micros(m)
                            .map(|e| e.to_string())
                            .unwrap_or_else(|_| "0".into())
                    };
                    println!(
                        "{} {}: spent ε {} of {} in {} releases",
                        b.agreement.short(),
                        b.dataset,
                        eps(b.spent_micros),
                        eps(b.total_micros),
                        b.releases
                    );
                }
            }
        }
        Command::Platform { host } => {
            let p = remote::HostClient::new(&host).platform()?;
            if json {
                print_json(&p)?;
            } else {
                println!(
                    "simulator platform key  {}",
                    bytes::encode(&p.simulator_platform_key.0)
                );
                println!("isolate measurement     {}", p.isolate_measurement);
            }
        }
        Command::Broker(a) => {
            let config = sealroom_broker::BrokerConfig {
                key_file: a.key,
                data_dir: a.data,
                accept_simulator_evidence: a
                    .accept_simulator_evidence
                    .as_deref()
                    .map(platform_key)
                    .transpose()?,
                challenge_ttl_seconds: a.challenge_ttl,
            };
            let broker = sealroom_broker::Broker::open(&config, Arc::new(SystemClock))?;
            serve(&a.listen, broker.router(), "broker")?;
        }
        Command::Host(a) => {
            let isolate = match a.isolate {
                Some(p) => p,
                None => executables()?.isolate,
            };
            let config = sealroom_host::HostConfig {
                data_dir: a.data,
                isolate,
                max_upload_bytes: a.max_upload,
                job_timeout: Duration::from_secs(a.job_timeout),
            };
            let host = sealroom_host::Host::open(&config, Arc::new(SystemClock))?;
            serve(&a.listen, host.router(), "host")?;
        }
        Command::Demo { dir, people, seed } => {
            let options = demo::DemoOptions {
                dir,
                people,
                seed,
                ..demo::DemoOptions::new(executables()?)
            };
            let bar = spinner(json);
            let report = demo::run(&options, &|msg| bar.set_message(msg.to_string()));
            bar.finish_and_clear();
            let report = report?;
            if json {
                print_json(&report)?;
            } else {
                print_demo(&report);
            }
        }
        Command::Bench(BenchCommand::Seal { size, dir }) => {
            let scratch = tempfile::tempdir_in(dir.unwrap_or_else(std::env::temp_dir))?;
            let bar = spinner(json);
            let result = bench::seal(size, scratch.path(), &|m| bar.set_message(m.to_string()));
            bar.finish_and_clear();
            let r = result?;
            if json {
                print_json(&r)?;
            } else {
                let gb = |x: f64| x / 1e9;
                println!("plaintext            {:.0} MB", r.bytes as f64 / 1e6);
                let vs = |x: f64| {
                    format!(
                        "{:.2} GB/s  {:.2} of in-place, {:.2} of out-of-place AEAD",
                        gb(x),
                        x / r.raw_aead,
                        x / r.raw_aead_out_of_place
                    )
                };
                println!("raw AES-256-GCM in place      {:.2} GB/s", gb(r.raw_aead));
                println!(
                    "raw AES-256-GCM out of place  {:.2} GB/s",
                    gb(r.raw_aead_out_of_place)
                );
                println!("envelope seal (memory)        {}", vs(r.envelope_seal));
                println!("envelope open (memory)        {}", vs(r.envelope_open));
                println!(
                    "sealroom seal (files)         {}  (bounded by the CSV schema check)",
                    vs(r.seal_file)
                );
                println!("open (files)                  {}", vs(r.open_file));
                println!(
                    "peak memory after file phases {:.1} MB",
                    r.peak_rss as f64 / 1e6
                );
            }
        }
        Command::Bench(BenchCommand::Job { rows, runs }) => {
            let bar = spinner(json);
            let result = bench::jobs(&demo::DemoOptions::new(executables()?), rows, runs, &|m| {
                bar.set_message(m.to_string())
            });
            bar.finish_and_clear();
            let r = result?;
            if json {
                print_json(&r)?;
            } else {
                println!(
                    "{} jobs over two {}-row datasets: median {:.1} ms, p95 {:.1} ms, fastest {:.1} ms",
                    r.runs, r.rows, r.median_ms, r.p95_ms, r.min_ms
                );
            }
        }
    }
    Ok(())
}

fn serve(listen: &str, router: axum::Router, what: &str) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (listener, addr) = sealroom_service::bind(listen).await?;
        tracing::info!("{what} listening on http://{addr}");
        sealroom_service::serve_until_stopped(listener, router).await?;
        Ok(())
    })
}

fn agreement_command(cmd: AgreementCommand, json: bool) -> anyhow::Result<()> {
    match cmd {
        AgreementCommand::Check { file } => {
            let signed = agreement_file::load(&file)?;
            let missing = signed.missing_signers();
            if json {
                print_json(
                    &serde_json::json!({ "valid": true, "agreement_id": signed.id, "missing_signatures": missing }),
                )?;
            } else {
                println!("valid agreement {}", signed.id);
                if !missing.is_empty() {
                    println!("not yet signed by {}", missing.join(", "));
                }
            }
        }
        AgreementCommand::Id { file } => {
            let signed = agreement_file::load(&file)?;
            if json {
                print_json(&serde_json::json!({ "agreement_id": signed.id }))?;
            } else {
                println!("{}", signed.id);
            }
        }
        AgreementCommand::Sign { file, key, out } => {
            let identity = Identity::read_key_file(&key)?;
            let mut signed = agreement_file::load(&file)?;
            agreement_file::sign(&mut signed, &identity)?;
            let out = out.unwrap_or_else(|| {
                if file.extension().is_some_and(|e| e == "json") {
                    file.clone()
                } else {
                    file.with_extension("signed.json")
                }
            });
            agreement_file::save(&signed, &out)?;
            let missing = signed.missing_signers();
            if json {
                print_json(
                    &serde_json::json!({ "agreement_id": signed.id, "file": out, "missing_signatures": missing }),
                )?;
            } else {
                println!(
                    "{} signed agreement {} into {}",
                    identity.name(),
                    signed.id.short(),
                    out.display()
                );
                if missing.is_empty() {
                    println!(
                        "every party has signed: the agreement is in force within its validity window"
                    );
                } else {
                    println!("still to sign: {}", missing.join(", "));
                }
            }
        }
        AgreementCommand::Show { file } => {
            let signed = agreement_file::load(&file)?;
            if json {
                return print_json(&signed);
            }
            let a = &signed.agreement;
            println!("agreement {} ({})", signed.id, a.name);
            println!("valid {} to {}", a.valid_from, a.valid_until);
            for p in &a.parties {
                let signed_by = signed.signatures.iter().any(|s| s.party == p.name);
                println!(
                    "  party {:<16} {}  {}",
                    p.name,
                    p.fingerprint()?.short(),
                    if signed_by { "signed" } else { "NOT SIGNED" }
                );
            }
            for d in &a.datasets {
                let cols: Vec<String> = d
                    .schema
                    .columns
                    .iter()
                    .map(|c| format!("{}:{}", c.name, c.kind.name()))
                    .collect();
                println!(
                    "  dataset {} [{}] person column {}",
                    d.qualified_name(),
                    cols.join(", "),
                    d.schema.person_column
                );
            }
            println!(
                "  program {} v{} {}",
                a.program.id, a.program.version, a.program.params
            );
            for r in &a.runtimes {
                for m in &r.measurements {
                    println!("  runtime {} {}", r.platform, m);
                }
            }
            for o in &a.outputs {
                println!("  output {} -> {}", o.name, o.readers.join(", "));
            }
            let p = &a.privacy;
            let noise = serde_json::to_value(p.noise)?;
            println!(
                "  privacy ε {} per run, δ {}, total ε {} per dataset, ≤ {} groups per person, noise {}",
                p.epsilon_per_run,
                p.delta_per_run,
                p.total_epsilon_per_dataset,
                p.max_groups_per_person,
                noise.as_str().unwrap_or("?")
            );
        }
    }
    Ok(())
}

fn decision_command(a: DecisionArgs, decision: Decision, json: bool) -> anyhow::Result<()> {
    let identity = Identity::read_key_file(&a.key)?;
    let agreement = agreement_file::load(&a.agreement)?;
    let url = match a.broker {
        Some(url) => url,
        None => identity
            .card()
            .broker_url
            .context("your key file names no broker URL; pass --broker")?,
    };
    let signed = owner::decide(&identity, agreement.id, a.platform, a.measurement, decision)?;
    let stored = remote::BrokerClient::new(&url).decide(&signed)?;
    let verb = if decision == Decision::Approve {
        "approved"
    } else {
        "revoked"
    };
    if json {
        print_json(&serde_json::json!({ "decision": signed.statement, "stored": stored }))?;
    } else if stored {
        println!(
            "{verb} {} measurement {} for agreement {}",
            a.platform,
            a.measurement.short(),
            agreement.id.short()
        );
    } else {
        println!("a newer decision already stands at the broker; nothing changed");
    }
    Ok(())
}

fn print_opened(opened: &reader::OpenedOutputs) {
    let r = &opened.receipt;
    if r.simulator {
        println!(
            "!! produced under the SIMULATOR: the operator could have read or altered everything !!"
        );
    }
    println!(
        "job {} under agreement {} on {} runtime {}",
        r.job_id,
        r.agreement_id.short(),
        r.platform,
        r.measurement.short()
    );
    for t in &opened.tables {
        println!(
            "\n{} ({} noise, scale {}, ε {}, sensitivity {}, 95% of values within ±{})",
            t.output,
            t.noise.mechanism,
            t.noise.scale,
            t.noise.epsilon,
            t.noise.sensitivity,
            t.noise.error_bound_95
        );
        println!("{:<20} {:>12}", t.group_column, t.value_column);
        for row in &t.rows {
            println!("{:<20} {:>12}", row.group, row.value);
        }
    }
}

fn print_demo(r: &demo::DemoReport) {
    let t = &r.table;
    println!(
        "sealroom demo — an ad platform and an advertiser measure campaign reach without sharing rows\n"
    );
    println!("agreement  {}", r.agreement_id);
    println!("isolate    sim measurement {}", r.measurement);
    println!(
        "job        {} finished in {} ms\n",
        r.job.job_id, r.job_millis
    );
    println!(
        "People who saw each campaign and later bought (opened by the advertiser, receipt verified):"
    );
    println!(
        "  {:<16} {:>10} {:>14}",
        "campaign", "released", "exact (demo)"
    );
    for c in &r.cells {
        println!("  {:<16} {:>10} {:>14}", c.group, c.released, c.exact);
    }
    println!(
        "  noise: {} with scale {} (ε {}, sensitivity {}); 95% of released values lie within ±{} of the exact ones",
        t.noise.mechanism,
        t.noise.scale,
        t.noise.epsilon,
        t.noise.sensitivity,
        t.noise.error_bound_95
    );
    if t.simulator {
        println!(
            "  SIMULATOR: this ran in the software simulator, which protects nothing from the operator."
        );
    }
    if let Some(receipt) = &r.job.receipt {
        println!("\nReceipt signed by the isolate's ephemeral key:");
        for i in &receipt.receipt.inputs {
            println!(
                "  read  {}/{} (envelope {}) debiting ε {}",
                i.owner,
                i.dataset,
                i.envelope_digest.short(),
                i.epsilon_debited
            );
        }
        for o in &receipt.receipt.outputs {
            println!(
                "  wrote {} (digest {}) for {}",
                o.output,
                o.digest.short(),
                o.readers.join(", ")
            );
        }
    }
    println!("\nRefused, as they should be:");
    for f in &r.refusals {
        println!("  - {}\n    [{}] {}", f.attempt, f.code, f.message);
    }
    println!(
        "\ndone in {} ms; working directory {}",
        r.total_millis,
        r.dir.display()
    );
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
