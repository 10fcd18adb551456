//! A real `sealroom broker` process on loopback, driven by a test acting as the isolate.

mod common;

use std::sync::{Arc, Barrier};

use common::{Terms, agreement, attester, envelope_header};
use sealroom_attest::{Attester, SimPlatformKey};
use sealroom_cli::remote::BrokerClient;
use sealroom_core::agreement::SignedAgreement;
use sealroom_core::attestation::{Platform, report_data};
use sealroom_core::ids::{Digest, JobId, Measurement};
use sealroom_core::labels;
use sealroom_core::statement::Decision;
use sealroom_core::wire::{Challenge, ReleaseAnswer, ReleaseRequest, release_aad};
use sealroom_crypto::{EnvelopeHeader, Identity, open_sealed};
use sealroom_http::{HttpError, JsonClient};
use sealroom_isolate::keys::EphemeralIdentity;

const M: Measurement = Measurement([7; 32]);

struct Setup {
    platform: SimPlatformKey,
    log: common::LogHost,
    owner: common::OwnerBroker,
    reader: Identity,
    agreement: SignedAgreement,
    header: EnvelopeHeader,
    digest: Digest,
    key: sealroom_crypto::DataKey,
    client: JsonClient,
}

fn setup(terms: &Terms) -> Setup {
    setup_with(terms, &[])
}

fn setup_with(terms: &Terms, broker_args: &[&str]) -> Setup {
    let platform = SimPlatformKey::generate();
    let log = common::start_log_host();
    let owner = common::start_owner_broker_with("alice", &platform, &log, broker_args);
    Setup::assemble(platform, log, owner, terms)
}

impl Setup {
    /// An agreement between `owner` and a reader, published to `log` when it is in force.
    fn assemble(
        platform: SimPlatformKey,
        log: common::LogHost,
        owner: common::OwnerBroker,
        terms: &Terms,
    ) -> Setup {
        let reader = Identity::generate("bob", Some("http://127.0.0.1:9".into())).unwrap();
        let agreement = agreement(&owner.identity, &reader, &M, terms);
        if agreement
            .check_in_force(sealroom_core::clock::Clock::now(
                &sealroom_core::clock::SystemClock,
            ))
            .is_ok()
        {
            log.publish(&agreement);
        }
        let (header, digest, key) = envelope_header(&owner.identity, &agreement, "visits");
        Setup {
            platform,
            log,
            owner,
            reader,
            agreement,
            header,
            digest,
            key,
            client: JsonClient::default(),
        }
    }
}

impl Setup {
    fn broker(&self) -> BrokerClient {
        BrokerClient::new(&self.owner.process.url)
    }

    fn decide(&self, decision: Decision) {
        let d = sealroom_cli::owner::decide(
            &self.owner.identity,
            self.agreement.id,
            Platform::Sim,
            M,
            decision,
        )
        .unwrap();
        assert!(self.broker().decide(&d).unwrap());
    }

    fn challenge(&self) -> [u8; 32] {
        let c: Challenge = self
            .client
            .post(
                &format!("{}/v1/challenges", self.owner.process.url),
                &serde_json::json!({}),
            )
            .unwrap();
        c.nonce
    }

    /// A well-formed request from an isolate measuring `measurement`.
    fn request(&self, measurement: Measurement, isolate: &EphemeralIdentity) -> ReleaseRequest {
        let nonce = self.challenge();
        let keys = isolate.public();
        let evidence = attester(&self.platform, measurement).attest(report_data(
            &nonce,
            &self.agreement.id,
            &keys,
        ));
        ReleaseRequest {
            agreement: self.agreement.clone(),
            dataset: "visits".into(),
            job_id: JobId([1; 16]),
            nonce,
            isolate_keys: keys,
            evidence,
            wrapped_key: self.header.wrapped_key.clone(),
            header_digest: self.digest,
            dry_run: false,
        }
    }

    fn send(&self, request: &ReleaseRequest) -> Result<ReleaseAnswer, HttpError> {
        self.client
            .post(&format!("{}/v1/releases", self.owner.process.url), request)
    }

    fn spent_micros(&self) -> u64 {
        self.broker()
            .budgets()
            .unwrap()
            .iter()
            .map(|b| b.spent_micros)
            .sum()
    }
}

fn refusal_code(result: Result<ReleaseAnswer, HttpError>) -> String {
    match result {
        Err(HttpError::Refused(p)) => p
            .kind
            .trim_start_matches("urn:sealroom:refusal:")
            .to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn released_key_opens_only_for_the_isolate_and_debits_the_budget() {
    let s = setup(&Terms::default());
    s.decide(Decision::Approve);
    let isolate = EphemeralIdentity::generate();
    let request = s.request(M, &isolate);
    let ReleaseAnswer::Granted(grant) = s.send(&request).unwrap() else {
        panic!("not granted")
    };
    let aad = release_aad(&s.agreement.id, &request.job_id, "visits", &s.digest);
    let key = open_sealed(
        &isolate.hpke.secret,
        &grant.sealed_key,
        labels::RELEASED_KEY,
        &aad,
    )
    .unwrap();
    assert_eq!(key.as_slice(), s.key.expose());
    let stranger = EphemeralIdentity::generate();
    assert!(
        open_sealed(
            &stranger.hpke.secret,
            &grant.sealed_key,
            labels::RELEASED_KEY,
            &aad
        )
        .is_err()
    );
    assert_eq!(grant.remaining_micros, 4_000_000);
    assert_eq!(s.spent_micros(), 1_000_000);
    assert_eq!(s.broker().releases().unwrap().len(), 1);

    // The grant carries the release entry, proven in a checkpoint signed by the pinned log key.
    let checkpoint = sealroom_ledger::verify_logged_entry(&grant.log, &s.log.key()).unwrap();
    assert!(grant.log.index < checkpoint.size);
    let entry = sealroom_ledger::LogEntry::from_bytes(&grant.log.entry).unwrap();
    let sealroom_ledger::Statement::KeyRelease(release) = entry.statement else {
        panic!("not a key release: {entry:?}")
    };
    assert_eq!(
        (release.dataset.as_str(), release.job, release.measurement),
        ("visits", request.job_id, M)
    );
    assert_eq!(entry.writer, s.owner.identity.card().signing_key);
    assert_eq!(s.broker().releases().unwrap()[0].log_index, grant.log.index);
}

#[test]
fn with_the_log_down_no_key_is_released_and_no_budget_spent() {
    let mut s = setup(&Terms::default());
    s.decide(Decision::Approve);
    s.log.process.stop();
    let isolate = EphemeralIdentity::generate();
    let mut dry = s.request(M, &isolate);
    dry.dry_run = true;
    assert_eq!(refusal_code(s.send(&dry)), "log-unavailable");
    let result = s.send(&s.request(M, &isolate));
    let Err(HttpError::Refused(problem)) = &result else {
        panic!("expected a refusal, got {result:?}")
    };
    assert!(problem.kind.ends_with("log-unavailable"), "{problem:?}");
    assert!(
        problem
            .detail
            .contains("no key was released and no budget spent"),
        "{}",
        problem.detail
    );
    assert_eq!(s.spent_micros(), 0);
    assert!(s.broker().releases().unwrap().is_empty());
}

#[test]
fn a_log_that_signs_with_another_key_gets_no_key_and_no_budget() {
    let platform = SimPlatformKey::generate();
    let log = common::start_log_host();
    let impostor = common::start_log_host();
    // The broker pins `log`'s key but is pointed at a log signing with another key.
    let pinned = common::LogHost {
        process: impostor.process,
        log_key: log.log_key.clone(),
        dir: impostor.dir,
    };
    let owner = common::start_owner_broker_with("alice", &platform, &pinned, &[]);
    let s = Setup::assemble(platform, pinned, owner, &Terms::default());
    s.decide(Decision::Approve);
    let isolate = EphemeralIdentity::generate();
    let mut dry = s.request(M, &isolate);
    dry.dry_run = true;
    assert_eq!(refusal_code(s.send(&dry)), "log-invalid");
    assert_eq!(refusal_code(s.send(&s.request(M, &isolate))), "log-invalid");
    assert_eq!(s.spent_micros(), 0);
    assert!(s.broker().releases().unwrap().is_empty());
    drop(log);
}

#[test]
fn every_refusal_is_specific_and_releases_and_spends_nothing() {
    let s = setup(&Terms::default());
    let isolate = EphemeralIdentity::generate();
    let mut cases: Vec<(&str, ReleaseRequest)> = Vec::new();

    // Before the owner approves anything.
    assert_eq!(
        refusal_code(s.send(&s.request(M, &isolate))),
        "measurement-not-approved"
    );
    s.decide(Decision::Approve);

    // A modified runtime: its measurement is not the approved one.
    cases.push((
        "measurement-not-in-agreement",
        s.request(Measurement([8; 32]), &isolate),
    ));

    // Evidence that binds other keys than the ones presented.
    let mut r = s.request(M, &isolate);
    r.isolate_keys = EphemeralIdentity::generate().public();
    cases.push(("report-data-mismatch", r));

    // Evidence bound to another nonce than the one presented.
    let mut r = s.request(M, &isolate);
    r.nonce = s.challenge();
    cases.push(("report-data-mismatch", r));

    // Evidence signed by a platform key the broker does not pin.
    let mut r = s.request(M, &isolate);
    r.evidence = attester(&SimPlatformKey::generate(), M).attest(report_data(
        &r.nonce,
        &s.agreement.id,
        &r.isolate_keys,
    ));
    cases.push(("evidence-invalid", r));

    // An agreement that not every party has signed.
    let mut r = s.request(M, &isolate);
    r.agreement.signatures.retain(|sig| sig.party == "alice");
    cases.push(("agreement-not-in-force", r));

    // A signature moved onto an altered agreement.
    let mut r = s.request(M, &isolate);
    r.agreement.agreement.privacy.max_groups_per_person = 9;
    cases.push(("agreement-not-in-force", r));

    // A dataset that is not the owner's.
    let mut r = s.request(M, &isolate);
    r.dataset = "orders".into();
    cases.push(("not-own-dataset", r));

    // A wrapped key from another envelope (another owner's key).
    let mut r = s.request(M, &isolate);
    let impostor = Identity::generate("alice", Some("http://127.0.0.1:9".into())).unwrap();
    let impostor_agreement = agreement(&impostor, &s.reader, &M, &Terms::default());
    r.wrapped_key = envelope_header(&impostor, &impostor_agreement, "visits")
        .0
        .wrapped_key;
    cases.push(("wrong-key", r));

    // A nonce the broker never issued.
    let mut r = s.request(M, &isolate);
    r.nonce = [9; 32];
    r.evidence =
        attester(&s.platform, M).attest(report_data(&r.nonce, &s.agreement.id, &r.isolate_keys));
    cases.push(("nonce-unknown", r));

    let count = cases.len() + 1;
    for (expected, request) in cases {
        assert_eq!(refusal_code(s.send(&request)), expected);
    }
    assert_eq!(s.spent_micros(), 0, "a refusal spent budget");
    assert!(s.broker().releases().unwrap().is_empty());
    let refusals = s.broker().refusals().unwrap();
    assert_eq!(
        refusals.len(),
        count,
        "every refusal is recorded for the owner"
    );
}

#[test]
fn an_expired_agreement_is_refused() {
    let s = setup(&Terms {
        valid_from: "2020-01-01T00:00:00Z",
        valid_until: "2021-01-01T00:00:00Z",
        ..Terms::default()
    });
    s.decide(Decision::Approve);
    let isolate = EphemeralIdentity::generate();
    let result = s.send(&s.request(M, &isolate));
    let Err(HttpError::Refused(problem)) = result else {
        panic!("expected a refusal")
    };
    assert!(
        problem.kind.ends_with("agreement-not-in-force"),
        "{problem:?}"
    );
    assert!(
        problem.detail.contains("expired at 2021-01-01T00:00:00Z"),
        "{}",
        problem.detail
    );
    assert_eq!(s.spent_micros(), 0);
}

#[test]
fn revocation_applies_to_every_later_release() {
    let s = setup(&Terms::default());
    let isolate = EphemeralIdentity::generate();
    s.decide(Decision::Approve);
    assert!(matches!(
        s.send(&s.request(M, &isolate)).unwrap(),
        ReleaseAnswer::Granted(_)
    ));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    s.decide(Decision::Revoke);
    let result = s.send(&s.request(M, &isolate));
    let Err(HttpError::Refused(problem)) = result else {
        panic!("expected a refusal")
    };
    assert!(problem.kind.ends_with("measurement-revoked"));
    assert!(
        problem.detail.contains("revoked by alice") && problem.detail.contains("re-approve"),
        "{}",
        problem.detail
    );
    assert_eq!(s.spent_micros(), 1_000_000);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    s.decide(Decision::Approve);
    assert!(matches!(
        s.send(&s.request(M, &isolate)).unwrap(),
        ReleaseAnswer::Granted(_)
    ));
}

#[test]
fn a_replayed_request_is_refused_and_spends_once() {
    let s = setup(&Terms::default());
    s.decide(Decision::Approve);
    let request = s.request(M, &EphemeralIdentity::generate());
    assert!(matches!(
        s.send(&request).unwrap(),
        ReleaseAnswer::Granted(_)
    ));
    assert_eq!(refusal_code(s.send(&request)), "nonce-replayed");
    assert_eq!(s.spent_micros(), 1_000_000);
}

#[test]
fn a_dry_run_checks_everything_but_consumes_nothing() {
    let s = setup(&Terms::default());
    s.decide(Decision::Approve);
    let mut request = s.request(M, &EphemeralIdentity::generate());
    request.dry_run = true;
    assert!(matches!(
        s.send(&request).unwrap(),
        ReleaseAnswer::WouldGrant { .. }
    ));
    assert!(matches!(
        s.send(&request).unwrap(),
        ReleaseAnswer::WouldGrant { .. }
    ));
    assert_eq!(s.spent_micros(), 0);
    request.dry_run = false;
    assert!(matches!(
        s.send(&request).unwrap(),
        ReleaseAnswer::Granted(_)
    ));
    assert_eq!(s.spent_micros(), 1_000_000);
}

#[test]
fn concurrent_releases_never_overspend_the_budget() {
    let s = Arc::new(setup(&Terms {
        epsilon: 1.0,
        total: 5.0,
        ..Terms::default()
    }));
    s.decide(Decision::Approve);
    let requests: Vec<ReleaseRequest> = (0..20)
        .map(|_| s.request(M, &EphemeralIdentity::generate()))
        .collect();
    let barrier = Arc::new(Barrier::new(requests.len()));
    let handles: Vec<_> = requests
        .into_iter()
        .map(|request| {
            let (s, barrier) = (Arc::clone(&s), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                s.send(&request)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let granted = results
        .iter()
        .filter(|r| matches!(r, Ok(ReleaseAnswer::Granted(_))))
        .count();
    let exhausted = results
        .iter()
        .filter(|r| matches!(r, Err(HttpError::Refused(p)) if p.kind.ends_with("budget-exhausted")))
        .count();
    assert_eq!((granted, exhausted), (5, 15));
    let budgets = s.broker().budgets().unwrap();
    assert_eq!(budgets.len(), 1);
    assert_eq!(
        (budgets[0].spent_micros, budgets[0].releases),
        (5_000_000, 5)
    );
}

#[test]
fn a_replayed_approval_cannot_undo_a_revocation_in_the_same_second() {
    let s = setup(&Terms::default());
    let approval = sealroom_cli::owner::decide(
        &s.owner.identity,
        s.agreement.id,
        Platform::Sim,
        M,
        Decision::Approve,
    )
    .unwrap();
    let mut revocation = sealroom_cli::owner::decide(
        &s.owner.identity,
        s.agreement.id,
        Platform::Sim,
        M,
        Decision::Revoke,
    )
    .unwrap();
    if revocation.statement.issued_at != approval.statement.issued_at {
        // Crossed a second boundary: sign the revocation again at the approval's second.
        revocation.statement.issued_at = approval.statement.issued_at;
        let bytes =
            sealroom_core::statement::SignedDecision::signed_bytes(&revocation.statement).unwrap();
        revocation.signature = s.owner.identity.sign(revocation.statement.label(), &bytes);
    }
    assert!(s.broker().decide(&approval).unwrap());
    assert!(s.broker().decide(&revocation).unwrap());
    assert!(
        !s.broker().decide(&approval).unwrap(),
        "the replayed approval must not be stored"
    );
    let isolate = EphemeralIdentity::generate();
    assert_eq!(
        refusal_code(s.send(&s.request(M, &isolate))),
        "measurement-revoked"
    );
}

#[test]
fn an_expired_challenge_is_refused() {
    let s = setup_with(&Terms::default(), &["--challenge-ttl", "0"]);
    s.decide(Decision::Approve);
    let request = s.request(M, &EphemeralIdentity::generate());
    assert_eq!(refusal_code(s.send(&request)), "nonce-expired");
    assert_eq!(s.spent_micros(), 0);
}
