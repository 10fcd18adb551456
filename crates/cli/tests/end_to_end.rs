//! Full deployments of real processes: a host, two brokers, one isolate per job.

mod common;

use sealroom_cli::demo::{self, DemoOptions, DemoPrivacy, Deployment, data};
use sealroom_core::agreement::SignedAgreement;
use sealroom_crypto::envelope::{MAGIC, TAG_LEN};
use sealroom_host::JobStatus;
use sealroom_party::reader;
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
    let noise = &report.table.columns[0].noise;
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

    // The ad story: three rooms, each opened by the advertiser, every value near the truth.
    let ads = &report.ads;
    let programs: Vec<&str> = ads.studies.iter().map(|s| s.program.as_str()).collect();
    assert_eq!(programs, ["attribution", "lift", "reach_frequency"]);
    assert_eq!(
        ads.studies[2].inputs.len(),
        3,
        "reach spans three publishers"
    );
    for study in &ads.studies {
        assert!(!study.tables.is_empty(), "{}", study.program);
        for table in &study.tables {
            assert!(!table.rows.is_empty(), "{} {}", study.program, table.output);
            for row in &table.rows {
                for (i, column) in table.columns.iter().enumerate() {
                    // Five times the 99% bound of a (discrete) Laplace is passed with
                    // probability about 1e-10: this cannot flake in practice.
                    let far = 5 * column.error_bound_99 as i64;
                    let diff = (row.released[i] - row.truth[i]).abs();
                    assert!(
                        diff <= far,
                        "{} {} {:?} {}: {diff} > {far}",
                        study.program,
                        table.output,
                        row.key,
                        column.name
                    );
                }
            }
        }
    }
    let lift = &ads.studies[1].tables[0].derived;
    let figure = lift
        .iter()
        .find(|f| f.name == "conversion_rate_lift_percent")
        .expect("lift releases its estimate");
    let (low, high) = (figure.low_95.unwrap(), figure.high_95.unwrap());
    assert!(low <= figure.value.unwrap() && figure.value.unwrap() <= high);
    assert!(ads.sample_lift_percent.is_some());

    let codes: Vec<&str> = report.refusals.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "not-a-reader",
            "urn:sealroom:refusal:measurement-not-in-agreement",
            "urn:sealroom:host:envelope-signature-invalid",
            "urn:sealroom:host:run-request-forged",
            "urn:sealroom:refusal:measurement-revoked",
            "urn:sealroom:refusal:budget-exhausted"
        ]
    );
    assert!(
        report.refusals[5].attempt.contains("after 3 more runs"),
        "{:?}",
        report.refusals[5]
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
fn a_flipped_byte_is_refused_before_any_key_or_budget_and_stores_nothing() {
    let d = deployment(10_000);
    let path = sealroom_host::blobs::BlobStore::new(&d.dir.join("host/blobs"))
        .unwrap()
        .dataset_path(&d.agreement.id, "adplatform", "exposures");
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
    assert_eq!(
        error.refusal.as_deref(),
        Some("urn:sealroom:refusal:envelope-altered"),
        "{}",
        error.message
    );
    assert_eq!(error.dataset.as_deref(), Some("adplatform/exposures"));
    assert!(record.outputs.is_empty() && record.receipt.is_none());
    for party in [&d.adplatform, &d.advertiser] {
        assert!(party.broker.budgets(&party.identity).unwrap().is_empty());
    }
    let fetched = d.host.outputs(&d.advertiser.identity, &record.job_id);
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

    let refused = d
        .host
        .outputs(&d.adplatform.identity, &record.job_id)
        .unwrap_err();
    assert!(
        refused.to_string().contains("no-output-for-reader"),
        "{refused}"
    );

    let bundle = d
        .host
        .outputs(&d.advertiser.identity, &record.job_id)
        .unwrap();
    let opened = reader::open_outputs(
        &d.advertiser.identity,
        &d.agreement,
        &record.job_id,
        &bundle,
        &verifier,
        &key,
    )
    .unwrap();
    assert_eq!(opened.tables[0].rows.len(), data::CAMPAIGNS.len());
    let err = reader::open_outputs(
        &d.adplatform.identity,
        &d.agreement,
        &record.job_id,
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
        &record.job_id,
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
        &record.job_id,
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
        &record.job_id,
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

    // The operator wraps real TDX hardware evidence in a receipt it signs with a key of its own
    // (binding that key as the evidence would have to): the reader verifies the quote as of the
    // run's start, when its 2025 collateral had long expired, and refuses.
    let mut forged = bundle.clone();
    let impostor = sealroom_isolate::keys::EphemeralIdentity::generate();
    forged.receipt.receipt.isolate_keys = impostor.public();
    forged.receipt.receipt.platform = sealroom_core::attestation::Platform::Tdx;
    forged.receipt.receipt.evidence =
        sealroom_vectors::evidence::dcap(sealroom_core::attestation::Platform::Tdx, "tdx_quote");
    let bytes =
        sealroom_core::output::SignedReceipt::signed_bytes(&forged.receipt.receipt).unwrap();
    forged.receipt.signature = impostor.signer.sign(sealroom_core::labels::RECEIPT, &bytes);
    let err = reader::open_outputs(
        &d.advertiser.identity,
        &d.agreement,
        &record.job_id,
        &forged,
        &verifier,
        &key,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("the receipt's evidence is refused"),
        "{err}"
    );

    let untrusting = sealroom_attest::EvidenceVerifier::new();
    let err = reader::open_outputs(
        &d.advertiser.identity,
        &d.agreement,
        &record.job_id,
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
        .budgets(&d.adplatform.identity)
        .unwrap()
        .iter()
        .map(|b| b.spent_micros)
        .sum();
    assert_eq!(
        spent, 0,
        "the ad platform's budget must not pay for a job that could not run"
    );
}

#[test]
fn purchase_value_with_gaussian_noise_releases_only_discovered_campaigns_above_the_threshold() {
    let privacy = DemoPrivacy {
        epsilon_per_run: 1.0,
        total_epsilon: 4.0,
        noise: sealroom_core::agreement::NoiseMechanism::DiscreteGaussian,
        program: demo::DemoProgram::PurchaseValue,
    };
    let d = Deployment::start(&options(), privacy, data::generate(10_000, 11), &|_| {}).unwrap();
    let record = d.run_job().unwrap();
    assert_eq!(record.status, JobStatus::Finished, "{:?}", record.error);
    let bundle = d
        .host
        .outputs(&d.advertiser.identity, &record.job_id)
        .unwrap();
    let opened = reader::open_outputs(
        &d.advertiser.identity,
        &d.agreement,
        &record.job_id,
        &bundle,
        &d.verifier(),
        &d.log_key().unwrap(),
    )
    .unwrap();
    let table = &opened.tables[0];
    let n = &table.columns[0].noise;
    assert_eq!(n.mechanism, "discrete-gaussian");
    assert_eq!(
        n.delta, 1e-9,
        "δ split between the Gaussian and the threshold"
    );
    assert!(n.rho.is_some() && n.units == 1);
    // 4 rows of at most 20000 per person: L1 4·20000, per-group 3·20000, L2 √(60000² + 20000²) rounded up.
    assert_eq!((n.sensitivity, n.l2_sensitivity), (80_000, 63_246));
    let tau = n
        .threshold
        .expect("discovered groups come with a threshold");
    assert!(
        tau > 60_000,
        "τ {tau} covers one person's whole contribution"
    );
    // Released values clear τ and lie within the noise bound; campaigns far above τ are
    // always released, campaigns far below never.
    let sigma2: Vec<u64> = n.scale.split('/').map(|x| x.parse().unwrap()).collect();
    let bound = sealroom_privacy::DiscreteGaussian::new(sigma2[0], sigma2[1])
        .unwrap()
        .error_bound(1.0 - 1e-9) as i64;
    let cells = demo::exact_cells(&d.agreement, &d.data, table).unwrap();
    for c in &cells {
        assert!(c.released >= tau as i64);
        assert!(
            (c.released - c.exact).abs() <= bound,
            "{c:?} outside ±{bound}"
        );
    }
    let (declared, discovered) = demo::exact_result(&d.agreement, &d.data).unwrap().cells();
    assert!(declared.is_empty() && discovered.len() == data::CAMPAIGNS.len());
    let released = |g: &str| cells.iter().any(|c| c.group == g);
    for (group, value) in &discovered {
        if *value > tau as i64 + bound {
            assert!(released(group), "{group} ({value}) is far above τ {tau}");
        }
        if *value + bound < tau as i64 {
            assert!(!released(group), "{group} ({value}) is far below τ {tau}");
        }
    }
    assert!(
        cells.len() >= 2,
        "the big campaigns are released: {cells:?}"
    );
}

#[test]
fn noise_that_cannot_be_sized_fails_the_job_before_any_key_or_budget_is_spent() {
    // ε = 10⁻⁶ with the Gaussian on sums of up to 200.00: σ² ≈ 10²³, too wide to sample exactly.
    let privacy = DemoPrivacy {
        epsilon_per_run: 0.000_001,
        total_epsilon: 1.0,
        noise: sealroom_core::agreement::NoiseMechanism::DiscreteGaussian,
        program: demo::DemoProgram::PurchaseValue,
    };
    let d = Deployment::start(&options(), privacy, data::generate(500, 3), &|_| {}).unwrap();
    let record = d.run_job().unwrap();
    assert_eq!(record.status, JobStatus::Failed);
    let error = record.error.unwrap();
    assert_eq!(error.code, "noise-failed", "{}", error.message);
    assert!(
        error.message.contains("too large to sample exactly"),
        "{}",
        error.message
    );
    for party in [&d.adplatform, &d.advertiser] {
        assert!(
            party.broker.budgets(&party.identity).unwrap().is_empty(),
            "no budget may be spent"
        );
        assert!(
            party.broker.releases(&party.identity).unwrap().is_empty(),
            "no key may be released"
        );
    }
}
