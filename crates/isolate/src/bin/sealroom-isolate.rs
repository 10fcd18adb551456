//! `sealroom-isolate`: the measured runtime. Reads one job specification (JSON)
//! on standard input, runs it, writes the outcome (JSON) on standard output,
//! and exits: 0 when outputs were sealed, 1 when the job failed, 2 when the
//! specification or the platform is unusable.
#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::process::ExitCode;

use sealroom_core::clock::{Clock, SystemClock};
use sealroom_core::wire::{JobOutcome, JobSpec};
use sealroom_http::JsonClient;
use sealroom_isolate::IsolateError;
use zeroizing_alloc::ZeroAlloc;

/// Every heap block is wiped when it is freed: decrypted chunks, decoded Arrow buffers, table
/// columns and keys leave no plaintext behind in memory the process gives back.
#[global_allocator]
static ALLOCATOR: ZeroAlloc<std::alloc::System> = ZeroAlloc(std::alloc::System);

fn main() -> ExitCode {
    let (outcome, code) = match run() {
        Ok((receipt, outputs)) => (
            JobOutcome::Finished {
                receipt: Box::new(receipt),
                outputs,
            },
            0,
        ),
        Err(e) => {
            let code = if matches!(e, IsolateError::BadSpec(_) | IsolateError::Attestation(_)) {
                2
            } else {
                1
            };
            (
                JobOutcome::Failed {
                    error: e.to_failure(),
                },
                code,
            )
        }
    };
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer(&mut out, &outcome)
        .and_then(|_| out.flush().map_err(serde_json::Error::io));
    if written.is_err() {
        return ExitCode::from(2);
    }
    ExitCode::from(code)
}

fn run() -> Result<
    (
        sealroom_core::output::SignedReceipt,
        Vec<sealroom_core::output::SealedOutput>,
    ),
    IsolateError,
> {
    let mut text = String::new();
    std::io::stdin()
        .take(64 << 20)
        .read_to_string(&mut text)
        .map_err(|e| IsolateError::BadSpec(e.to_string()))?;
    let spec: JobSpec =
        serde_json::from_str(&text).map_err(|e| IsolateError::BadSpec(e.to_string()))?;
    let attester = sealroom_attest::platform_attester()?;
    let brokers = JsonClient::new(sealroom_isolate::BROKER_CALL_TIMEOUT);
    sealroom_isolate::run_job(&spec, attester.as_ref(), &brokers, SystemClock.now())
}
