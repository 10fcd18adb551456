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
    LogCommand, PartyCommand, PortalCommand, ProgramCommand, SynthCommand,
};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use print::{print_audit, print_dap_demo, print_demo, print_json, print_opened};
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
mod commands;
mod print;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = match cli.command {
        Command::Broker(_)
        | Command::Host(_)
        | Command::Dap(args::DapCommand::Leader(_) | args::DapCommand::Helper(_)) => "info",
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
    /// The leader refused some uploaded reports.
    #[error("the leader refused {0} reports")]
    ReportsRefused(usize),
    /// A simulation's collected aggregate differs from the plaintext one.
    #[error("the collected aggregate differs from the plaintext aggregate")]
    NotExact,
    /// TEE evidence was refused, or not accepted by an agreement.
    #[error("{0}")]
    Evidence(String),
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
        let dap_transport = match cause.downcast_ref::<sealroom_dap::collector::CollectError>() {
            Some(sealroom_dap::collector::CollectError::Transport(t)) => Some(t),
            _ => match cause.downcast_ref::<sealroom_dap::client::ClientError>() {
                Some(sealroom_dap::client::ClientError::Transport(t)) => Some(t),
                _ => cause.downcast_ref::<sealroom_dap::transport::TransportError>(),
            },
        };
        if let Some(sealroom_dap::transport::TransportError::Problem { .. }) = dap_transport {
            return ErrorKind::Refused;
        }
        if cause.is::<CommandRefusal>() || cause.is::<sealroom_core::AgreementError>() {
            return ErrorKind::Refused;
        }
        if let Some(LogClientError::Forked { .. } | LogClientError::Inclusion { .. }) =
            cause.downcast_ref::<LogClientError>()
        {
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
        command @ (Command::Party { .. }
        | Command::Agreement { .. }
        | Command::Programs
        | Command::Measure { .. }) => commands::authoring::run(command, json),
        command @ (Command::Seal { .. }
        | Command::Register { .. }
        | Command::Upload { .. }
        | Command::Approve { .. }
        | Command::Revoke { .. }
        | Command::Budget { .. }) => commands::owner::run(command, json),
        command @ (Command::Publish { .. }
        | Command::Program { .. }
        | Command::Run { .. }
        | Command::Open { .. }) => commands::jobs::run(command, json),
        command @ (Command::Audit { .. } | Command::Log { .. }) => {
            commands::transparency::run(command, json)
        }
        command @ (Command::Platform { .. }
        | Command::Broker { .. }
        | Command::Portal { .. }
        | Command::Host { .. }) => commands::operator::run(command, json),
        command @ (Command::Demo { .. } | Command::Bench { .. } | Command::Synth { .. }) => {
            commands::showcase::run(command, json)
        }
        Command::Dap(command) => commands::dap::run(command, json),
        Command::Evidence(command) => commands::evidence::run(command, json),
    }
}
