//! One agreement model, checked on every path: hand-written signed JSON agreements, each breaking
//! one rule (down to a vetted Wasm program an owner did not review), are refused with the specific error by `agreement check`, `agreement sign`, the
//! host's publish, the owner's broker and the isolate's preflight — the isolate before it asks
//! any broker for a key.

mod common;

use std::process::Command;

use common::{Terms, agreement};
use sealroom_attest::SimPlatformKey;
use sealroom_broker::client::BrokerClient;
use sealroom_core::canonical::canonical_digest;
use sealroom_core::clock::{Clock, SystemClock};
use sealroom_core::ids::{AgreementId, Measurement};
use sealroom_core::labels;
use sealroom_core::run::{RUN_REQUEST_FORMAT, RunRequest, SignedRunRequest};
use sealroom_core::wire::JobOutcome;
use sealroom_crypto::Identity;
use serde_json::{Value, json};

const M: Measurement = Measurement([7; 32]);

/// The agreement `value` (broken as a test wants), signed by `parties` as they would sign it.
fn signed_json(value: &Value, parties: &[&Identity]) -> (Value, AgreementId) {
    let id = AgreementId(canonical_digest(labels::AGREEMENT, value).unwrap().0);
    let signatures: Vec<Value> = parties
        .iter()
        .map(|p| {
            json!({
                "party": p.name(),
                "fingerprint": p.card().fingerprint().unwrap(),
                "signature": p.sign(labels::AGREEMENT_SIGNATURE, id.as_bytes()),
            })
        })
        .collect();
    let signed = json!({
        "format": "sealroom-signed-agreement/v1",
        "id": id,
        "agreement": value,
        "signatures": signatures,
    });
    (signed, id)
}

/// A run request by `party` for agreement `id`, whatever that agreement says.
fn run_request(party: &Identity, id: AgreementId) -> SignedRunRequest {
    let request = RunRequest {
        format: RUN_REQUEST_FORMAT.into(),
        agreement: id,
        requested_by: party.name().into(),
        issued_at: SystemClock.now(),
        nonce: [4; 16],
    };
    let signature = party.sign(labels::RUN_REQUEST, &request.signed_bytes().unwrap());
    SignedRunRequest { request, signature }
}

fn post(url: &str, body: &Value) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent.post(url).send_json(body).unwrap();
    let status = response.status().as_u16();
    (status, response.body_mut().read_json().unwrap())
}

fn sealroom(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sealroom"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The isolate, given a job over `signed`; returns its exit code and outcome.
fn isolate(
    signed: &Value,
    request: &SignedRunRequest,
    platform_key: &std::path::Path,
) -> (Option<i32>, JobOutcome) {
    let spec = json!({
        "job_id": request.job_id().unwrap(),
        "agreement": signed,
        "run_request": request,
        "inputs": [],
    });
    common::run_isolate(&spec, platform_key)
}

/// What is broken, how, and what the refusal must say.
type BrokenRule<'a> = (&'a str, Box<dyn Fn(&mut Value) + 'a>, &'a str);

#[test]
fn every_path_refuses_a_broken_agreement_with_its_specific_error() {
    let platform = SimPlatformKey::generate();
    let log = common::start_log_host();
    let alice = common::start_owner_broker_with("alice", &platform, &log, &[]);
    let bob = Identity::generate("bob", Some("http://127.0.0.1:9".into())).unwrap();
    let carol = Identity::generate("carol", None).unwrap();
    let valid = agreement(&alice.identity, &bob, &M, &Terms::default());
    log.onboard(&[alice.identity.card(), bob.card(), carol.card()]);
    let platform_key = alice.dir.path().join("platform.key");
    platform.write(&platform_key).unwrap();
    let alice_key = alice.dir.path().join("owner.key");

    let base = serde_json::to_value(&valid.agreement).unwrap();
    let cases: Vec<BrokenRule> = vec![
        (
            "unknown party as reader",
            Box::new(|v| v["outputs"][0]["readers"] = json!(["mallory"])),
            "names \"mallory\", which is not a party",
        ),
        (
            "reader without an HPKE key",
            Box::new(|v| {
                let mut card = serde_json::to_value(carol.card()).unwrap();
                card["hpke_key"] = json!(sealroom_core::bytes::encode(&[0; 32]));
                v["parties"].as_array_mut().unwrap().push(card);
                v["outputs"][0]["readers"] = json!(["carol"]);
            }),
            "\"carol\" is a result reader but has no hpke_key",
        ),
        (
            "dataset owned by a non-party",
            Box::new(|v| v["datasets"][0]["owner"] = json!("mallory")),
            "owned by \"mallory\", which is not a party",
        ),
        (
            "no person column on either side",
            Box::new(|v| {
                v["datasets"][0]["schema"]["person_column"] = json!("user");
                v["datasets"][1]["schema"]["person_column"] = json!("user");
            }),
            "names person column \"user\", which is not one of its columns",
        ),
        (
            "δ ≥ 1",
            Box::new(|v| v["privacy"]["delta_per_run"] = json!(1.5)),
            "delta_per_run must be a finite number greater than 0 and less than 1",
        ),
        (
            "NaN ε",
            Box::new(|v| v["privacy"]["epsilon_per_run"] = json!("NaN")),
            "\"NaN\"",
        ),
        (
            "rows per group above rows in total",
            Box::new(|v| v["privacy"]["max_rows_per_person_per_group"] = json!(5)),
            "5 rows per group is more than the 1 rows",
        ),
        (
            "duplicate dataset",
            Box::new(|v| {
                let first = v["datasets"][0].clone();
                v["datasets"].as_array_mut().unwrap().push(first);
            }),
            "\"alice/visits\" is listed twice",
        ),
        (
            "bad program parameters",
            Box::new(|v| v["program"]["params"]["group_column"] = json!("no-such-column")),
            "has bad parameters",
        ),
        (
            "a vetted Wasm program one input owner did not review",
            Box::new(|v| {
                v["program"] = json!({
                    "id": "wasm",
                    "version": 1,
                    "params": {
                        "name": "custom",
                        "module": "ab".repeat(32),
                        "mode": "vetted",
                        "inputs": ["alice/visits", "bob/orders"],
                        "fuel_per_call": 1_000_000,
                        "memory_bytes": 1 << 20,
                        "groups": ["all"],
                        "coordinates": ["count"],
                        "norm": "l1",
                        "bound": 1.0,
                        "units": 1,
                        "output": "overlap",
                        "reviewed_by": ["bob"],
                    },
                });
            }),
            "alice owns an input and has not said it reviewed the program",
        ),
    ];

    let dir = tempfile::tempdir().unwrap();
    for (what, break_it, expected) in cases {
        let mut value = base.clone();
        break_it(&mut value);
        let (signed, id) = signed_json(&value, &[&alice.identity, &bob]);
        let file = dir.path().join("broken.json");
        std::fs::write(&file, signed.to_string()).unwrap();

        let (code, said) = sealroom(dir.path(), &["agreement", "check", "broken.json"]);
        assert_eq!(code, Some(1), "{what}: agreement check: {said}");
        assert!(said.contains(expected), "{what}: agreement check: {said}");
        let (code, said) = sealroom(
            dir.path(),
            &[
                "agreement",
                "sign",
                "broken.json",
                "--key",
                alice_key.to_str().unwrap(),
            ],
        );
        assert_eq!(code, Some(1), "{what}: agreement sign: {said}");
        assert!(said.contains(expected), "{what}: agreement sign: {said}");

        let (status, problem) = post(&format!("{}/v1/agreements", log.process.url), &signed);
        assert_eq!(
            (status, problem["type"].as_str().unwrap()),
            (422, "urn:sealroom:host:invalid-agreement"),
            "{what}: {problem}"
        );
        assert!(
            problem["detail"].as_str().unwrap().contains(expected),
            "{what}: host: {problem}"
        );

        let request = run_request(&bob, id);
        let (status, problem) = post(
            &format!("{}/v1/challenges", alice.process.url),
            &json!({ "agreement": signed, "run_request": request }),
        );
        assert_eq!(status, 422, "{what}: broker: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(expected),
            "{what}: broker: {problem}"
        );

        let (code, outcome) = isolate(&signed, &request, &platform_key);
        let JobOutcome::Failed { error } = outcome else {
            panic!("{what}: the isolate ran")
        };
        assert!(
            ["bad-job-spec", "agreement-invalid"].contains(&error.code.as_str()),
            "{what}: {error:?}"
        );
        assert!(code == Some(1) || code == Some(2), "{what}: exit {code:?}");
        assert!(
            error.message.contains(expected),
            "{what}: isolate: {}",
            error.message
        );
    }
    // The isolate asked no broker for anything: nothing released, nothing spent, and nothing
    // for the owner to see.
    let broker = BrokerClient::new(&alice.process.url);
    assert!(broker.releases(&alice.identity).unwrap().is_empty());
    assert!(broker.budgets(&alice.identity).unwrap().is_empty());
    assert!(broker.refusals(&alice.identity).unwrap().is_empty());
}
