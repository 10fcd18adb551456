//! One job, start to finish (DESIGN.md §5 steps 5 to 7).

use std::collections::HashMap;

use sealroom_attest::Attester;
use sealroom_core::attestation::{Platform, report_data};
use sealroom_core::clock::Timestamp;
use sealroom_core::labels;
use sealroom_core::output::{
    InputRecord, OutputRecord, RECEIPT_FORMAT, Receipt, SealedOutput, SignedReceipt,
};
use sealroom_core::wire::JobSpec;
use sealroom_privacy::NoiseRng;
use sealroom_programs::{BuiltinCatalog, Table};

use crate::error::IsolateError;
use crate::inputs::open_input;
use crate::keys::{EphemeralIdentity, KeyRequester, KeyTarget};
use crate::release::{add_noise, plan_agreement_noise, seal_for_readers};
use crate::wasm::WasmJob;
use sealroom_http::JsonClient;

/// Runs a job: keys, inputs, program, noise, sealing, receipt. Nothing is returned unless everything succeeded.
pub fn run_job(
    spec: &JobSpec,
    attester: &dyn Attester,
    client: &JsonClient,
    now: Timestamp,
) -> Result<(SignedReceipt, Vec<SealedOutput>), IsolateError> {
    let signed = &spec.agreement;
    signed.check_in_force(now)?;
    signed
        .agreement
        .check_program(&BuiltinCatalog)
        .map_err(IsolateError::InvalidAgreement)?;
    spec.run_request
        .check_for_job(signed, &spec.job_id, now)
        .map_err(IsolateError::RunRequest)?;
    // Ask for no key unless every broker will still find the request fresh.
    spec.run_request
        .check(
            signed,
            now.plus_seconds(crate::MIN_RUN_REQUEST_LIFE_SECONDS),
        )
        .map_err(IsolateError::RunRequest)?;
    let agreement = &signed.agreement;
    let identity = EphemeralIdentity::generate();

    // At most one input per dataset of the agreement, checked before any file is read, so that
    // the threads below are no more than the datasets (a missing one is named below).
    if spec.inputs.len() > agreement.datasets.len() {
        return Err(IsolateError::BadSpec(format!(
            "{} inputs for the agreement's {} datasets",
            spec.inputs.len(),
            agreement.datasets.len()
        )));
    }
    // Each input's file is hashed whole before any key is asked for: one thread per input, so
    // that the cores share the hashing. Every thread is joined before the first error (in
    // input order) is returned; a panic is raised as a panic.
    let opened = std::thread::scope(|scope| {
        let opening: Vec<_> = spec
            .inputs
            .iter()
            .map(|input| scope.spawn(move || open_input(input, agreement)))
            .collect();
        let results: Vec<_> = opening
            .into_iter()
            .map(|thread| {
                thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect();
        results.into_iter().collect::<Result<Vec<_>, _>>()
    })?;
    for d in &agreement.datasets {
        if !opened
            .iter()
            .any(|o| o.terms.owner == d.owner && o.terms.name == d.name)
        {
            return Err(IsolateError::InputMismatch {
                dataset: d.qualified_name(),
                reason: "the host did not provide it".into(),
            });
        }
    }

    // The noise is sized, and a Wasm program's module checked against the agreement's digest
    // and compiled, before any key is asked for: a program or noise that cannot run must not
    // cost anyone's budget. Sizing depends on the agreement only, so an empty run shows it.
    plan_agreement_noise(agreement)?;
    let wasm = WasmJob::prepare(agreement, spec.module.as_ref())?;

    // Every broker is asked first without spending anything, so that one owner's refusal
    // does not cost another owner's budget; only then are keys released.
    let requester = KeyRequester {
        client,
        attester,
        identity: &identity,
        agreement: signed,
        run_request: &spec.run_request,
        job_id: spec.job_id,
    };
    let targets: Vec<KeyTarget<'_>> = opened
        .iter()
        .map(|o| KeyTarget {
            dataset: &o.terms,
            header: &o.header,
            header_digest: o.header_digest,
            envelope_digest: o.envelope_digest,
        })
        .collect();
    let pending = targets
        .iter()
        .map(|t| requester.preflight(t))
        .collect::<Result<Vec<_>, _>>()?;
    let mut keys = Vec::with_capacity(pending.len());
    for p in pending {
        keys.push(requester.release(p)?);
    }

    let mut tables: HashMap<String, Table> = HashMap::new();
    let mut inputs = Vec::with_capacity(opened.len());
    for (input, released) in opened.into_iter().zip(&keys) {
        let name = input.qualified_name();
        let (owner, dataset) = (input.terms.owner.clone(), input.terms.name.clone());
        let header_digest = input.header_digest;
        let (table, envelope_digest) = input.read(&released.key)?;
        inputs.push(InputRecord {
            owner,
            dataset,
            header_digest,
            envelope_digest,
            epsilon_debited: released.epsilon,
            release_log: released.log.clone(),
        });
        tables.insert(name, table);
    }
    drop(keys);

    let simulator = attester.platform() == Platform::Sim;
    let mut rng = NoiseRng::from_os();
    let released = match &wasm {
        Some(wasm) => vec![wasm.run(agreement, &tables, simulator, &mut rng)?],
        None => {
            let result = BuiltinCatalog.run(agreement, &|name| tables.get(name))?;
            let derive =
                |table: &_, variances: &[f64]| BuiltinCatalog.derive(agreement, table, variances);
            add_noise(&result, &agreement.privacy, simulator, &mut rng, &derive)?
        }
    };
    drop(tables);

    let mut sealed = Vec::new();
    let mut outputs = Vec::new();
    for table in released {
        let digest = table.digest().map_err(|source| IsolateError::Encoding {
            what: "a released table",
            source,
        })?;
        let for_readers = seal_for_readers(&table, agreement, spec.job_id)?;
        outputs.push(OutputRecord {
            output: table.output.clone(),
            digest,
            readers: for_readers.iter().map(|s| s.reader.clone()).collect(),
        });
        sealed.extend(for_readers);
    }

    let isolate_keys = identity.public();
    let receipt = Receipt {
        format: RECEIPT_FORMAT.into(),
        job_id: spec.job_id,
        agreement_id: signed.id,
        run_request: spec.run_request.clone(),
        platform: attester.platform(),
        measurement: attester.runtime_id(agreement),
        simulator,
        inputs,
        outputs,
        isolate_keys,
        evidence: attester.attest(report_data(
            spec.job_id.as_bytes(),
            &signed.id,
            &isolate_keys,
        ))?,
    };
    let bytes = SignedReceipt::signed_bytes(&receipt).map_err(|source| IsolateError::Encoding {
        what: "the receipt",
        source,
    })?;
    let signature = identity.signer.sign(labels::RECEIPT, &bytes);
    Ok((SignedReceipt { receipt, signature }, sealed))
}
