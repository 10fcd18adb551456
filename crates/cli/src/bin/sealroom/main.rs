//! `sealroom`: parses arguments and calls the sealroom libraries.
//!
//! Exit codes: 0 ok, 1 refused or a check failed, 2 usage or I/O error, 3 the transparency log
//! was forked, rewritten or tampered with.
#![forbid(unsafe_code)]

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use args::{
    AgreementCommand, BenchCommand, Cli, Command, DecisionArgs, HostCommand, HostPartyCommand,
    LogCommand, PartyCommand,
};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use print::{print_audit, print_demo, print_json, print_opened};
use sealroom_attest::EvidenceVerifier;
use sealroom_broker::client::BrokerClient;
use sealroom_cli::services::Executables;
use sealroom_cli::{bench, demo};
use sealroom_core::bytes;
use sealroom_core::clock::{Clock, SystemClock};
use sealroom_core::party::{PartyCard, SigningPublicKey};
use sealroom_core::statement::Decision;
use sealroom_crypto::Identity;
use sealroom_host::client::HostClient;
use sealroom_ledger::{LogClient, LogClientError, LogVerifierKey, VerifiedCheckpoint};
use sealroom_party::{ErrorKind, PartyError, agreement_file, auditor, owner, reader, runs};

mod args;
mod print;

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
            ExitCode::from(error_kind(&e).exit_code())
        }
    }
}

/// A check this command makes itself failed (exit code 1).
#[derive(Debug, thiserror::Error)]
enum CommandRefusal {
    /// The agreement's noise cannot be sized, so no run could ever start.
    #[error("the agreement's noise cannot be sized: {0}")]
    NoiseCannotBeSized(String),
    /// The host serves no party of this name.
    #[error("the host does not serve {0:?}")]
    NotServed(String),
}

/// How an error is reported, by its type: exit code 1 for refusals and failed checks, 2 for usage
/// and I/O errors, 3 for a forked or rewritten log.
fn error_kind(e: &anyhow::Error) -> ErrorKind {
    for cause in e.chain() {
        if let Some(party) = cause.downcast_ref::<PartyError>() {
            return party.kind();
        }
        if let Some(http) = cause.downcast_ref::<sealroom_http::HttpError>() {
            return match http {
                sealroom_http::HttpError::Refused(_) => ErrorKind::Refused,
                _ => ErrorKind::Failed,
            };
        }
        if cause.is::<CommandRefusal>() || cause.is::<sealroom_core::AgreementError>() {
            return ErrorKind::Refused;
        }
        if let Some(LogClientError::Forked { .. }) = cause.downcast_ref::<LogClientError>() {
            return ErrorKind::LogCompromised;
        }
    }
    ErrorKind::Failed
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

fn log_key(text: &str) -> anyhow::Result<LogVerifierKey> {
    Ok(text.parse()?)
}

fn read_checkpoint(path: &Path, key: &LogVerifierKey) -> anyhow::Result<VerifiedCheckpoint> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    key.verify_checkpoint(&text)
        .with_context(|| format!("checkpoint {}", path.display()))
}

fn executables() -> anyhow::Result<Executables> {
    Executables::beside(std::env::current_exe()?)
}

/// A progress bar over `total` bytes, hidden under `--json`.
fn byte_bar(json: bool, total: u64, verb: &str) -> ProgressBar {
    if json {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let template =
        format!("{verb} {{bar:40}} {{bytes}}/{{total_bytes}} {{bytes_per_sec}} eta {{eta}}");
    bar.set_style(ProgressStyle::with_template(&template).expect("template"));
    bar
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

/// Runs `work` under a spinner that shows the steps it reports, cleared when it ends.
fn with_steps<T>(
    json: bool,
    work: impl FnOnce(&dyn Fn(&str)) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let bar = spinner(json);
    let result = work(&|m| bar.set_message(m.to_string()));
    bar.finish_and_clear();
    result
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
                print!("{}", sealroom_party::authoring::party_block(&card));
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
            let bar = byte_bar(json, total, "sealing");
            let progress_bar = bar.clone();
            let summary = owner::seal_dataset(
                &identity,
                &agreement,
                &a.dataset,
                &a.input,
                &a.out,
                a.chunk_size,
                SystemClock.now_millis(),
                Box::new(move |n| progress_bar.set_position(n)),
            );
            bar.finish_and_clear();
            let summary = summary?;
            let registered = if a.no_register {
                None
            } else {
                let broker = broker_of(&identity, a.broker.as_deref())?;
                Some(broker.register(&summary.registration(&identity)).with_context(|| {
                    format!(
                        "{} was sealed but could not be registered with your broker; run `sealroom register` once it is reachable",
                        summary.output.display()
                    )
                })?)
            };
            if json {
                print_json(&serde_json::json!({ "seal": summary, "registered": registered }))?;
            } else {
                println!(
                    "sealed {} rows of {} into {} ({} bytes, header {})",
                    summary.rows,
                    summary.dataset,
                    summary.output.display(),
                    summary.envelope_bytes,
                    summary.header_digest.short()
                );
                match registered {
                    Some(_) => println!("registered with your broker as the current version"),
                    None => println!("not registered yet: run `sealroom register` before any run"),
                }
            }
        }
        Command::Register {
            key,
            broker,
            envelope,
        } => {
            let identity = Identity::read_key_file(&key)?;
            let registration = owner::registration_of(&identity, &envelope)?;
            let header = &registration.registration.header;
            let registered = broker_of(&identity, broker.as_deref())?.register(&registration)?;
            if json {
                print_json(&registered)?;
            } else {
                println!(
                    "{} (header {}) is the current envelope of {} for agreement {}",
                    envelope.display(),
                    registered.header_digest.short(),
                    header.qualified_name(),
                    header.agreement.short()
                );
            }
        }
        Command::Upload { host, envelope } => {
            let size = std::fs::metadata(&envelope)
                .with_context(|| format!("cannot open {}", envelope.display()))?
                .len();
            let bar = byte_bar(json, size, "uploading");
            let shown = bar.clone();
            let stored = owner::upload(&HostClient::new(&host), &envelope, move |n| {
                shown.set_position(n)
            });
            bar.finish_and_clear();
            let stored = stored?;
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
            HostClient::new(&host).publish(&signed)?;
            if json {
                print_json(&serde_json::json!({ "agreement_id": signed.id }))?;
            } else {
                println!("the host holds agreement {}", signed.id);
            }
        }
        Command::Run {
            host,
            agreement,
            key,
            no_wait,
        } => {
            let signed = agreement_file::load(&agreement)?;
            let identity = Identity::read_key_file(&key)?;
            let client = HostClient::new(&host);
            let queued = runs::request_run(&client, &identity, signed.id, &SystemClock)?;
            if no_wait {
                if json {
                    print_json(&queued)?;
                } else {
                    println!("job {} is {:?}", queued.job_id, queued.status);
                }
                return Ok(());
            }
            let bar = spinner(json);
            bar.set_message(format!(
                "job {} is {:?}; waiting for it in a fresh isolate",
                queued.job_id.short(),
                queued.status
            ));
            let record = runs::wait_for_job(&client, &identity, &queued.job_id);
            bar.finish_and_clear();
            let record = record?;
            if json {
                print_json(&record)?;
            }
            if let Some(failure) = runs::failed(&record) {
                return Err(failure.into());
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
            let log_key = log_key(&a.log_key)?;
            let bundle = HostClient::new(&a.host).outputs(&identity, &a.job)?;
            let opened =
                reader::open_outputs(&identity, &agreement, &a.job, &bundle, &verifier, &log_key)?;
            if json {
                print_json(&opened)?;
            } else {
                print_opened(&opened);
            }
        }
        Command::Budget { broker, key } => {
            let identity = Identity::read_key_file(&key)?;
            let budgets = broker_of(&identity, broker.as_deref())?.budgets(&identity)?;
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
                        "{} {}: spent ε {} of {} in {} releases; ε {} left",
                        b.agreement.short(),
                        b.dataset,
                        eps(b.spent_micros),
                        eps(b.total_micros),
                        b.releases,
                        eps(b.total_micros.saturating_sub(b.spent_micros))
                    );
                }
            }
        }
        Command::Audit(a) => {
            let party = read_card(&a.party)?;
            let key = log_key(&a.log_key)?;
            let state = a
                .state
                .unwrap_or_else(|| auditor::default_state_path(&a.party, &party));
            let bar = spinner(json);
            let report = auditor::run_audit(&a.host, &key, &party, &state, |done, total| {
                bar.set_message(format!("reading the log: {done} of {total} new entries"))
            });
            bar.finish_and_clear();
            let report = report?;
            if json {
                print_json(&report)?;
            } else {
                print_audit(&report, &state);
            }
        }
        Command::Log(LogCommand::Checkpoint {
            host,
            log_key: key,
            out,
        }) => {
            let key = log_key(&key)?;
            let checkpoint = LogClient::new(&host, Duration::from_secs(30)).checkpoint(&key)?;
            if let Some(out) = &out {
                std::fs::write(out, &checkpoint.note)
                    .with_context(|| format!("cannot write {}", out.display()))?;
            }
            if json {
                print_json(&serde_json::json!({
                    "size": checkpoint.size,
                    "root": bytes::encode(&checkpoint.root),
                    "checkpoint": checkpoint.note,
                }))?;
            } else if out.is_none() {
                print!("{}", checkpoint.note);
            } else {
                println!(
                    "checkpoint of {} entries verified and saved",
                    checkpoint.size
                );
            }
        }
        Command::Log(LogCommand::Verify {
            host,
            log_key: key,
            old,
            new,
        }) => {
            let key = log_key(&key)?;
            let client = LogClient::new(&host, Duration::from_secs(30));
            let old = read_checkpoint(&old, &key)?;
            let new = match &new {
                Some(path) => read_checkpoint(path, &key)?,
                None => client.checkpoint(&key)?,
            };
            client.check_extends(&old, &new)?;
            if json {
                print_json(
                    &serde_json::json!({ "consistent": true, "old_size": old.size, "new_size": new.size }),
                )?;
            } else {
                println!(
                    "consistent: the log of {} entries extends the one of {} entries",
                    new.size, old.size
                );
            }
        }
        Command::Platform { host } => {
            let p = HostClient::new(&host).platform()?;
            if json {
                print_json(&p)?;
            } else {
                println!(
                    "simulator platform key  {}",
                    bytes::encode(&p.simulator_platform_key.0)
                );
                println!("isolate measurement     {}", p.isolate_measurement);
                println!("log verifier key        {}", p.log_key);
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
                log_url: a.log,
                log_key: log_key(&a.log_key)?,
            };
            let broker = sealroom_broker::Broker::open(&config, Arc::new(SystemClock))?;
            serve(&a.listen, broker.router(), "broker")?;
        }
        Command::Host(args::HostArgs {
            command: Some(HostCommand::Party(cmd)),
            ..
        }) => host_party_command(cmd, json)?,
        Command::Host(args::HostArgs {
            command: None,
            run: a,
        }) => {
            let isolate = match a.isolate {
                Some(p) => p,
                None => executables()?.isolate,
            };
            let defaults = sealroom_host::runner::JobLimits::for_this_machine();
            let config = sealroom_host::HostConfig {
                data_dir: a
                    .data
                    .context("pass --data DIR: where the host keeps its data")?,
                isolate,
                max_upload_bytes: a.max_upload,
                job_timeout: Duration::from_secs(a.job_timeout),
                limits: sealroom_host::runner::JobLimits {
                    max_isolates: a.max_isolates.unwrap_or(defaults.max_isolates),
                    max_queued_jobs: a.max_queued_jobs.unwrap_or(defaults.max_queued_jobs),
                    max_jobs_per_agreement: a
                        .max_jobs_per_agreement
                        .unwrap_or(defaults.max_jobs_per_agreement),
                },
                log_origin: a.log_origin,
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
            let report = with_steps(json, |step| demo::run(&options, step))?;
            if json {
                print_json(&report)?;
            } else {
                print_demo(&report);
            }
        }
        Command::Bench(BenchCommand::Seal { size, dir }) => {
            let scratch = tempfile::tempdir_in(dir.unwrap_or_else(std::env::temp_dir))?;
            let r = with_steps(json, |step| bench::seal(size, scratch.path(), step))?;
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
        Command::Bench(BenchCommand::Log {
            entries,
            appenders,
            dir,
        }) => {
            let scratch = tempfile::tempdir_in(dir.unwrap_or_else(std::env::temp_dir))?;
            let r = with_steps(json, |step| {
                bench::log(entries, appenders, scratch.path(), step)
            })?;
            if json {
                print_json(&r)?;
            } else {
                println!("entries                          {}", r.entries);
                println!(
                    "durable appends, {} appenders    {:.0}/s",
                    r.appenders, r.appends_per_second
                );
                println!(
                    "durable appends, one at a time   {:.0}/s",
                    r.sequential_appends_per_second
                );
                println!(
                    "inclusion proof                  median {:.1} µs, p99 {:.1} µs (verify {:.1} µs)",
                    r.inclusion_proof_us.0, r.inclusion_proof_us.1, r.verify_inclusion_us
                );
                println!(
                    "consistency proof                median {:.1} µs, p99 {:.1} µs (verify {:.1} µs)",
                    r.consistency_proof_us.0, r.consistency_proof_us.1, r.verify_consistency_us
                );
                println!(
                    "database                         {:.0} MB",
                    r.database_bytes as f64 / 1e6
                );
            }
        }
        Command::Bench(BenchCommand::Job { rows, runs }) => {
            let options = demo::DemoOptions::new(executables()?);
            let r = with_steps(json, |step| bench::jobs(&options, rows, runs, step))?;
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
        // The address on standard output, for whoever started the service (it may have asked
        // for port 0).
        println!("{what}{}http://{addr}", sealroom_cli::services::LISTENING);
        std::io::Write::flush(&mut std::io::stdout())?;
        sealroom_service::serve_until_stopped(listener, router).await?;
        Ok(())
    })
}

fn agreement_command(cmd: AgreementCommand, json: bool) -> anyhow::Result<()> {
    match cmd {
        AgreementCommand::Check { file } => {
            let signed = agreement_file::load(&file)?;
            let plans = sealroom_isolate::release::plan_agreement_noise(&signed.agreement)
                .map_err(|e| CommandRefusal::NoiseCannotBeSized(e.to_string()))?;
            let missing = signed.missing_signers();
            if json {
                let noise: Vec<_> = plans
                    .iter()
                    .map(|p| {
                        serde_json::json!({
                            "mechanism": p.mechanism.as_ref().map_or("none", |m| m.name()),
                            "parameter": p.mechanism.as_ref().map(|m| m.parameter()),
                            "threshold": p.threshold,
                        })
                    })
                    .collect();
                print_json(&serde_json::json!({
                    "valid": true,
                    "agreement_id": signed.id,
                    "missing_signatures": missing,
                    "noise": noise,
                }))?;
            } else {
                println!("valid agreement {}", signed.id);
                for p in &plans {
                    match &p.mechanism {
                        Some(m) => print!("noise: {} with parameter {}", m.name(), m.parameter()),
                        None => print!("noise: none (outputs are exact and say so)"),
                    }
                    match p.threshold {
                        Some(tau) => {
                            println!("; undeclared groups need a noisy value of at least {tau}")
                        }
                        None => println!(),
                    }
                }
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

/// The broker at `url`, or the one named in `identity`'s key file.
fn broker_of(identity: &Identity, url: Option<&str>) -> anyhow::Result<BrokerClient> {
    match url {
        Some(url) => Ok(BrokerClient::new(url)),
        None => BrokerClient::of(&identity.card())
            .context("your key file names no broker URL; pass --broker"),
    }
}

fn host_party_command(cmd: HostPartyCommand, json: bool) -> anyhow::Result<()> {
    match cmd {
        HostPartyCommand::Add { data, card } => {
            let card = read_card(&card)?;
            sealroom_cli::services::onboard(&data, std::slice::from_ref(&card))?;
            if json {
                print_json(&card)?;
            } else {
                println!(
                    "the host serves {} ({})",
                    card.name,
                    card.fingerprint()?.short()
                );
            }
        }
        HostPartyCommand::Remove { data, name } => {
            let store = host_store(&data)?;
            if !store.remove_party(&name)? {
                bail!(CommandRefusal::NotServed(name));
            }
            if !json {
                println!("the host no longer serves {name}");
            }
        }
        HostPartyCommand::List { data } => {
            let parties = host_store(&data)?.parties()?;
            if json {
                print_json(&parties)?;
            } else if parties.is_empty() {
                println!("the host serves no party yet: add them with `sealroom host party add`");
            } else {
                for p in parties {
                    println!("{:<24} {}", p.name, p.fingerprint()?.short());
                }
            }
        }
    }
    Ok(())
}

fn host_store(data: &Path) -> anyhow::Result<sealroom_host::HostStore> {
    let path = data.join(sealroom_host::api::HOST_DATABASE);
    if !path.exists() {
        bail!("{} holds no host data", data.display());
    }
    Ok(sealroom_host::HostStore::open(&path)?)
}

fn decision_command(a: DecisionArgs, decision: Decision, json: bool) -> anyhow::Result<()> {
    let identity = Identity::read_key_file(&a.key)?;
    let agreement = agreement_file::load(&a.agreement)?;
    let signed = owner::decide(
        &identity,
        &SystemClock,
        agreement.id,
        a.platform,
        a.measurement,
        decision,
    )?;
    let stored = broker_of(&identity, a.broker.as_deref())?.decide(&signed)?;
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
