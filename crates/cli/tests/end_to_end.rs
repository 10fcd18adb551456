//! Full deployments of real processes: a host, two brokers, one isolate per job.

mod common;

use sealroom_cli::demo::{self, DemoOptions, DemoPrivacy, Deployment, data};
use sealroom_cli::reader;
use sealroom_core::agreement::SignedAgreement;
use sealroom_crypto::envelope::{MAGIC, TAG_LEN};
use sealroom_host::JobStatus;
use sealroom_privacy::DiscreteLaplace;

fn options() -> DemoOptions {
    DemoOptions {
        people: 3000,
        ..DemoOptions::new(common::executables())
    }
}

#[test]
fn demo_releases_the_overlap_within_the_noise_bound_and_refuses_what_it_must() {
    let report = demo::run(&options(), &|_| {}).expect("demo runs");
    assert_eq!(report.job.status, JobStatus::Finished);
    let noise = &report.table.noise;
    assert_eq!(noise.mechanism, "discrete-laplace");
    assert_eq!((noise.sensitivity, noise.scale.as_str()), (2, "4/1"));
    // A bound exceeded with probability below 1e-9 per cell, so this test cannot flake in practice.
    let bound = DiscreteLaplace::new(4, 1).unwrap().error_bound(1.0 - 1e-9) as i64;
    assert_eq!(report.cells.len(), data::CAMPAIGNS.len());
    for cell in &report.cells {
        assert!(
            (cell.released - cell.exact).abs() <= bound,
            "{cell:?} outside ±{bound}"
        );
    }
    assert!(
        report.cells.iter().any(|c| c.exact > 100),
        "the synthetic data overlaps"
    );
    assert!(report.table.simulator, "simulator outputs say so");
    let receipt = &report.job.receipt.as_ref().unwrap().receipt;
    assert_eq!(receipt.inputs.len(), 2);
    assert!(receipt.simulator);

    let codes: Vec<&str> = report.refusals.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "not-a-reader",
            "urn:sealroom:refusal:measurement-not-in-agreement",
            "urn:sealroom:refusal:measurement-revoked",
            "urn:sealroom:refusal:budget-exhausted"
        ]
    );
    assert!(
        report.refusals[3].attempt.contains("after 3 more runs"),
        "{:?}",
        report.refusals[3]
    );
}

fn deployment(people: u32) -> Deployment {
    Deployment::start(
        &options(),
        DemoPrivacy::default(),
        data::generate(people, 7),
        &|_| {},
    )
    .expect("deployment starts")
}

#[test]
fn a_flipped_byte_fails_the_job_naming_dataset_and_chunk_and_stores_nothing() {
    let d = deployment(10_000);
    let path = sealroom_host::blobs::BlobStore::new(&d.dir.join("host/blobs"))
        .unwrap()
        .dataset_path("adplatform", "exposures");
    let mut bytes = std::fs::read(&path).unwrap();
    let header_len = MAGIC.len()
        + 4
        + u32::from_be_bytes(bytes[MAGIC.len()..MAGIC.len() + 4].try_into().unwrap()) as usize;
    let chunk = 64 * 1024 + TAG_LEN;
    assert!(
        bytes.len() > header_len + 2 * chunk,
        "the test needs at least three chunks"
    );
    bytes[header_len + chunk + 100] ^= 0x20;
    std::fs::write(&path, bytes).unwrap();

    let record = d.run_job().unwrap();
    assert_eq!(record.status, JobStatus::Failed);
    let error = record.error.as_ref().unwrap();
    assert_eq!(error.code, "envelope-corrupt");
    assert_eq!(error.dataset.as_deref(), Some("adplatform/exposures"));
    assert!(
        error.message.contains("adplatform/exposures") && error.message.contains("chunk 1"),
        "{}",
        error.message
    );
    assert!(record.outputs.is_empty() && record.receipt.is_none());
    let fetched = d.host.outputs(&record.job_id, "advertiser");
    assert!(
        fetched
            .unwrap_err()
            .to_string()
            .contains("job-not-finished")
    );
}

#[test]
fn only_named_readers_open_outputs_and_tampered_receipts_are_caught() {
    let d = deployment(2000);
    let record = d.run_job().unwrap();
    assert_eq!(record.status, JobStatus::Finished);
    let verifier = d.verifier();
    let key = d.log_key().unwrap();

    let refused = d.host.outputs(&record.job_id, "adplatform").unwrap_err();
    assert!(
        refused.to_string().contains("no-output-for-reader"),
        "{refused}"
    );

    let bundle = d.host.outputs(&record.job_id, "advertiser").unwrap();
    let opened = reader::open_outputs(
        &d.advertiser.identity,
        &d.agreement,
        &bundle,
        &verifier,
        &key,
    )
    .unwrap();
    assert_eq!(opened.tables[0].rows.len(), data::CAMPAIGNS.len());
    let err = reader::open_outputs(
        &d.adplatform.identity,
        &d.agreement,
        &bundle,
        &verifier,
        &key,
    )
    .unwrap_err();
    assert!(err.to_string().contains("not to you"), "{err}");

    let mut tampered = bundle.clone();
    tampered.receipt.receipt.outputs[0]
        .readers
        .push("adplatform".into());
    let err = reader::open_outputs(
        &d.advertiser.identity,
        &d.agreement,
        &tampered,
        &verifier,
        &key,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("signature does not verify"),
        "{err}"
    );

    let mut swapped = bundle.clone();
    swapped.sealed[0].sealed.ciphertext[5] ^= 1;
    let err = reader::open_outputs(
        &d.advertiser.identity,
        &d.agreement,
        &swapped,
        &verifier,
        &key,
    )
    .unwrap_err();
    assert!(err.to_string().contains("does not open"), "{err}");

    let other_log = sealroom_ledger::LogSigningKey::generate("another/log")
        .unwrap()
        .verifier_key();
    let err = reader::open_outputs(
        &d.advertiser.identity,
        &d.agreement,
        &bundle,
        &verifier,
        &other_log,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("not proven in the transparency log"),
        "{err}"
    );

    let untrusting = sealroom_attest::EvidenceVerifier::new();
    let err = reader::open_outputs(
        &d.advertiser.identity,
        &d.agreement,
        &bundle,
        &untrusting,
        &key,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("simulator evidence is not accepted"),
        "{err}"
    );
}

#[test]
fn the_host_refuses_an_agreement_not_signed_by_every_party() {
    let d = deployment(2000);
    let mut partial: SignedAgreement = d.agreement.clone();
    partial.signatures.retain(|s| s.party == "adplatform");
    let err = d.host.publish(&partial).unwrap_err();
    assert!(
        err.to_string().contains("not yet signed by advertiser"),
        "{err}"
    );
}

#[test]
fn an_unreachable_broker_fails_the_job_without_spending_the_other_owners_budget() {
    let mut d = deployment(2000);
    // The advertiser's broker (second in agreement order) goes away; the ad platform's dry run passes first.
    d.broker_processes[1].stop();
    let record = d.run_job().unwrap();
    assert_eq!(record.status, JobStatus::Failed);
    let error = record.error.as_ref().unwrap();
    assert_eq!(error.code, "broker-unavailable");
    assert_eq!(error.dataset.as_deref(), Some("advertiser/purchases"));
    assert!(record.outputs.is_empty());
    let spent: u64 = d
        .adplatform
        .broker
        .budgets()
        .unwrap()
        .iter()
        .map(|b| b.spent_micros)
        .sum();
    assert_eq!(
        spent, 0,
        "the ad platform's budget must not pay for a job that could not run"
    );
}
