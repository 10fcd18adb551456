//! A real `sealroom broker` process on loopback, driven by a test acting as the isolate.

mod common;

use std::sync::{Arc, Barrier};

use common::{Terms, agreement, attester, envelope_header, refusal_code, registration, sign};
use sealroom_attest::{Attester, SimPlatformKey};
use sealroom_broker::client::BrokerClient;
use sealroom_broker::client::Registered;
use sealroom_core::agreement::SignedAgreement;
use sealroom_core::attestation::{Platform, report_data};
use sealroom_core::ids::{Digest, Measurement};
use sealroom_core::labels;
use sealroom_core::run::SignedRunRequest;
use sealroom_core::statement::Decision;
use sealroom_core::wire::{
    Challenge, ChallengeRequest, ReleaseAnswer, ReleaseRequest, SignedReleaseRequest, release_aad,
};
use sealroom_crypto::{EnvelopeHeader, Identity, open_sealed};
use sealroom_http::{HttpError, JsonClient};
use sealroom_isolate::keys::EphemeralIdentity;

const M: Measurement = Measurement([7; 32]);
/// The whole-file digest the owner registers with each header (these tests hold no files).
const FILE: Digest = Digest([5; 32]);

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
    /// An agreement between `owner` and a reader, published to `log` when it is in force, and
    /// the owner's envelope of `visits`, registered with its broker.
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
        } else {
            log.onboard(&agreement.agreement.parties);
        }
        let (header, digest, key) = envelope_header(&owner.identity, &agreement, "visits");
        let s = Setup {
            platform,
            log,
            owner,
            reader,
            agreement,
            header,
            digest,
            key,
            client: JsonClient::default(),
        };
        s.register(&s.header).unwrap();
        s
    }

    fn register(&self, header: &EnvelopeHeader) -> Result<Registered, sealroom_http::HttpError> {
        self.broker()
            .register(&registration(&self.owner.identity, header, FILE))
    }

    fn broker(&self) -> BrokerClient {
        BrokerClient::new(&self.owner.process.url)
    }

    fn decide(&self, decision: Decision) {
        let d = sealroom_party::owner::decide(
            &self.owner.identity,
            &sealroom_core::clock::SystemClock,
            self.agreement.id,
            Platform::Sim,
            M,
            decision,
        )
        .unwrap();
        assert!(self.broker().decide(&d).unwrap());
    }

    fn challenge(&self) -> [u8; 32] {
        self.challenge_for(&self.agreement, &self.run_request())
    }

    fn challenge_for(
        &self,
        agreement: &SignedAgreement,
        run_request: &SignedRunRequest,
    ) -> [u8; 32] {
        let c: Challenge = self
            .client
            .post(
                &format!("{}/v1/challenges", self.owner.process.url),
                &ChallengeRequest {
                    agreement: agreement.clone(),
                    run_request: run_request.clone(),
                },
            )
            .unwrap();
        c.nonce
    }

    /// A fresh run request signed by the reader, who may start runs.
    fn run_request(&self) -> SignedRunRequest {
        self.reader.sign_run_request(self.agreement.id, now())
    }

    /// A well-formed request from an isolate measuring `measurement`, for a new run.
    fn request(&self, measurement: Measurement, isolate: &EphemeralIdentity) -> ReleaseRequest {
        self.request_for(self.run_request(), measurement, isolate)
    }

    /// A well-formed request from an isolate measuring `measurement`, for the run `run_request`.
    fn request_for(
        &self,
        run_request: SignedRunRequest,
        measurement: Measurement,
        isolate: &EphemeralIdentity,
    ) -> ReleaseRequest {
        // The challenge is for a genuine run, so that the release request's own run request is
        // what the broker judges.
        let nonce = self.challenge();
        let keys = isolate.public();
        let evidence = attester(&self.platform, measurement)
            .attest(report_data(&nonce, &self.agreement.id, &keys))
            .unwrap();
        ReleaseRequest {
            agreement: self.agreement.clone(),
            run_request,
            dataset: "visits".into(),
            nonce,
            isolate_keys: keys,
            evidence,
            header: self.header.clone(),
            envelope_digest: FILE,
            dry_run: false,
        }
    }

    /// Signs `request` with `isolate`'s ephemeral key and sends it.
    fn send(
        &self,
        isolate: &EphemeralIdentity,
        request: &ReleaseRequest,
    ) -> Result<ReleaseAnswer, HttpError> {
        self.send_signed(&sign(isolate, request))
    }

    fn send_signed(&self, request: &SignedReleaseRequest) -> Result<ReleaseAnswer, HttpError> {
        self.client
            .post(&format!("{}/v1/releases", self.owner.process.url), request)
    }

    fn spent_micros(&self) -> u64 {
        self.broker()
            .budgets(&self.owner.identity)
            .unwrap()
            .iter()
            .map(|b| b.spent_micros)
            .sum()
    }

    fn releases(&self) -> Vec<sealroom_ledger::LoggedRelease> {
        self.broker().releases(&self.owner.identity).unwrap()
    }
}

fn now() -> sealroom_core::clock::Timestamp {
    sealroom_core::clock::Clock::now(&sealroom_core::clock::SystemClock)
}

#[test]
fn released_key_opens_only_for_the_isolate_and_debits_the_budget() {
    let s = setup(&Terms::default());
    s.decide(Decision::Approve);
    let isolate = EphemeralIdentity::generate();
    let request = s.request(M, &isolate);
    let ReleaseAnswer::Granted(grant) = s.send(&isolate, &request).unwrap() else {
        panic!("not granted")
    };
    let job = request.job_id().unwrap();
    let aad = release_aad(&s.agreement.id, &job, "visits", &s.digest);
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
    assert_eq!(s.releases().len(), 1);

    // The grant carries the release entry, proven in a checkpoint signed by the pinned log key.
    let checkpoint = sealroom_ledger::verify_logged_entry(&grant.log, &s.log.key()).unwrap();
    assert!(grant.log.index < checkpoint.size);
    let entry = sealroom_ledger::LogEntry::from_bytes(&grant.log.entry).unwrap();
    let sealroom_ledger::Statement::KeyRelease(release) = entry.statement else {
        panic!("not a key release: {entry:?}")
    };
    assert_eq!(
        (
            release.dataset.as_str(),
            release.job,
            release.measurement,
            release.envelope,
            release.requested_by.as_str()
        ),
        ("visits", job, M, s.digest, "bob")
    );
    assert_eq!(entry.writer, s.owner.identity.card().signing_key);
    let recorded = &s.releases()[0];
    assert_eq!(recorded.index, grant.log.index);
    assert_eq!(recorded.release.envelope, s.digest);
    let logged = sealroom_ledger::LogEntry::from_bytes(&grant.log.entry).unwrap();
    assert_eq!(
        logged.statement,
        sealroom_ledger::Statement::KeyRelease(recorded.release.clone()),
        "the broker keeps exactly the release it logged"
    );
}

#[test]
fn with_the_log_down_no_key_is_released_and_no_budget_spent() {
    let mut s = setup(&Terms::default());
    s.decide(Decision::Approve);
    s.log.process.stop();
    let isolate = EphemeralIdentity::generate();
    let mut dry = s.request(M, &isolate);
    dry.dry_run = true;
    assert_eq!(refusal_code(s.send(&isolate, &dry)), "log-unavailable");
    let result = s.send(&isolate, &s.request(M, &isolate));
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
    assert!(s.releases().is_empty());
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
    assert_eq!(refusal_code(s.send(&isolate, &dry)), "log-invalid");
    assert_eq!(
        refusal_code(s.send(&isolate, &s.request(M, &isolate))),
        "log-invalid"
    );
    assert_eq!(s.spent_micros(), 0);
    assert!(s.releases().is_empty());
    drop(log);
}

#[test]
fn every_refusal_is_specific_and_releases_and_spends_nothing() {
    let s = setup(&Terms::default());
    let isolate = EphemeralIdentity::generate();
    let mut cases: Vec<(&str, EphemeralIdentity, ReleaseRequest)> = Vec::new();

    // Before the owner approves anything.
    assert_eq!(
        refusal_code(s.send(&isolate, &s.request(M, &isolate))),
        "measurement-not-approved"
    );
    s.decide(Decision::Approve);

    // A modified runtime: its measurement is not the approved one.
    let i = EphemeralIdentity::generate();
    let r = s.request(Measurement([8; 32]), &i);
    cases.push(("measurement-not-in-agreement", i, r));

    // Evidence that binds other keys than the ones presented (and that sign the request).
    let i = EphemeralIdentity::generate();
    let mut r = s.request(M, &isolate);
    r.isolate_keys = i.public();
    cases.push(("report-data-mismatch", i, r));

    // Evidence bound to another nonce than the one presented.
    let i = EphemeralIdentity::generate();
    let mut r = s.request(M, &i);
    r.nonce = s.challenge();
    cases.push(("report-data-mismatch", i, r));

    // Evidence signed by a platform key the broker does not pin.
    let i = EphemeralIdentity::generate();
    let mut r = s.request(M, &i);
    r.evidence = attester(&SimPlatformKey::generate(), M)
        .attest(report_data(&r.nonce, &s.agreement.id, &r.isolate_keys))
        .unwrap();
    cases.push(("evidence-invalid", i, r));

    // An agreement that not every party has signed.
    let i = EphemeralIdentity::generate();
    let mut r = s.request(M, &i);
    r.agreement.signatures.retain(|sig| sig.party == "alice");
    cases.push(("agreement-not-in-force", i, r));

    // A signature moved onto an altered agreement.
    let i = EphemeralIdentity::generate();
    let mut r = s.request(M, &i);
    let mut altered = r.agreement.agreement.clone().into_fields();
    altered.privacy.max_groups_per_person = 9;
    r.agreement.agreement = sealroom_core::agreement::Agreement::new(altered).unwrap();
    cases.push(("agreement-not-in-force", i, r));

    // A dataset that is not the owner's.
    let i = EphemeralIdentity::generate();
    let mut r = s.request(M, &i);
    r.dataset = "orders".into();
    cases.push(("not-own-dataset", i, r));

    // A header whose wrapped key was swapped for another envelope's: the owner's signature breaks.
    let i = EphemeralIdentity::generate();
    let mut r = s.request(M, &i);
    r.header.wrapped_key = envelope_header(&s.owner.identity, &s.agreement, "visits")
        .0
        .wrapped_key;
    cases.push(("envelope-forged", i, r));

    // A nonce the broker never issued.
    let i = EphemeralIdentity::generate();
    let mut r = s.request(M, &i);
    r.nonce = [9; 32];
    r.evidence = attester(&s.platform, M)
        .attest(report_data(&r.nonce, &s.agreement.id, &r.isolate_keys))
        .unwrap();
    cases.push(("nonce-unknown", i, r));

    // Refusals of requests that speak for no authorized run (an agreement not in force, a
    // dataset not the owner's) are answered but not recorded: anyone could flood them.
    let unrecorded = ["agreement-not-in-force", "not-own-dataset"];
    let count = 1 + cases
        .iter()
        .filter(|(code, _, _)| !unrecorded.contains(code))
        .count();
    for (expected, isolate, request) in cases {
        assert_eq!(refusal_code(s.send(&isolate, &request)), expected);
    }
    assert_eq!(s.spent_micros(), 0, "a refusal spent budget");
    assert!(s.releases().is_empty());
    let refusals = s.broker().refusals(&s.owner.identity).unwrap();
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
    // Neither a challenge nor, with a nonce from elsewhere, a key.
    let asked = s.client.post::<Challenge>(
        &format!("{}/v1/challenges", s.owner.process.url),
        &ChallengeRequest {
            agreement: s.agreement.clone(),
            run_request: s.run_request(),
        },
    );
    let Err(HttpError::Refused(problem)) = asked else {
        panic!("expected a refusal, got {asked:?}")
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
    let isolate = EphemeralIdentity::generate();
    let keys = isolate.public();
    let nonce = [3; 32];
    let request = ReleaseRequest {
        agreement: s.agreement.clone(),
        run_request: s.run_request(),
        dataset: "visits".into(),
        nonce,
        isolate_keys: keys,
        evidence: attester(&s.platform, M)
            .attest(report_data(&nonce, &s.agreement.id, &keys))
            .unwrap(),
        header: s.header.clone(),
        envelope_digest: FILE,
        dry_run: false,
    };
    assert_eq!(
        refusal_code(s.send(&isolate, &request)),
        "agreement-not-in-force"
    );
    assert_eq!(s.spent_micros(), 0);
}

#[test]
fn revocation_applies_to_every_later_release() {
    let s = setup(&Terms::default());
    let isolate = EphemeralIdentity::generate();
    s.decide(Decision::Approve);
    assert!(matches!(
        s.send(&isolate, &s.request(M, &isolate)).unwrap(),
        ReleaseAnswer::Granted(_)
    ));
    s.decide(Decision::Revoke);
    let result = s.send(&isolate, &s.request(M, &isolate));
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
    s.decide(Decision::Approve);
    assert!(matches!(
        s.send(&isolate, &s.request(M, &isolate)).unwrap(),
        ReleaseAnswer::Granted(_)
    ));
}

#[test]
fn a_replayed_request_is_refused_and_spends_once() {
    let s = setup(&Terms::default());
    s.decide(Decision::Approve);
    let isolate = EphemeralIdentity::generate();
    let request = sign(&isolate, &s.request(M, &isolate));
    assert!(matches!(
        s.send_signed(&request).unwrap(),
        ReleaseAnswer::Granted(_)
    ));
    assert_eq!(refusal_code(s.send_signed(&request)), "nonce-replayed");
    assert_eq!(s.spent_micros(), 1_000_000);
}

#[test]
fn a_dry_run_checks_everything_but_consumes_nothing() {
    let s = setup(&Terms::default());
    s.decide(Decision::Approve);
    let isolate = EphemeralIdentity::generate();
    let mut request = s.request(M, &isolate);
    request.dry_run = true;
    for _ in 0..2 {
        assert!(matches!(
            s.send(&isolate, &request).unwrap(),
            ReleaseAnswer::WouldGrant { .. }
        ));
    }
    assert_eq!(s.spent_micros(), 0);
    request.dry_run = false;
    assert!(matches!(
        s.send(&isolate, &request).unwrap(),
        ReleaseAnswer::Granted(_)
    ));
    assert_eq!(s.spent_micros(), 1_000_000);
}

#[test]
fn a_dry_run_cannot_be_turned_into_a_release_on_the_way() {
    let s = setup(&Terms::default());
    s.decide(Decision::Approve);
    let isolate = EphemeralIdentity::generate();
    let mut dry = s.request(M, &isolate);
    dry.dry_run = true;
    let mut signed = sign(&isolate, &dry);
    // Someone between isolate and broker flips the flag of the isolate's signed dry run.
    signed.request.dry_run = false;
    assert_eq!(
        refusal_code(s.send_signed(&signed)),
        "request-signature-invalid"
    );
    // Or puts a key of its own in and signs with it: the evidence binds the isolate's key.
    let attacker = EphemeralIdentity::generate();
    let mut rekeyed = signed.request.clone();
    rekeyed.isolate_keys = attacker.public();
    assert_eq!(
        refusal_code(s.send(&attacker, &rekeyed)),
        "report-data-mismatch"
    );
    assert_eq!(s.spent_micros(), 0, "no budget spent");
    assert!(s.releases().is_empty(), "no release");
}

#[test]
fn concurrent_releases_never_overspend_the_budget() {
    let s = Arc::new(setup(&Terms {
        epsilon: 1.0,
        total: 5.0,
        ..Terms::default()
    }));
    s.decide(Decision::Approve);
    let requests: Vec<SignedReleaseRequest> = (0..20)
        .map(|_| {
            let isolate = EphemeralIdentity::generate();
            sign(&isolate, &s.request(M, &isolate))
        })
        .collect();
    let barrier = Arc::new(Barrier::new(requests.len()));
    let handles: Vec<_> = requests
        .into_iter()
        .map(|request| {
            let (s, barrier) = (Arc::clone(&s), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                s.send_signed(&request)
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
    let budgets = s.broker().budgets(&s.owner.identity).unwrap();
    assert_eq!(budgets.len(), 1);
    assert_eq!(
        (budgets[0].spent_micros, budgets[0].releases),
        (5_000_000, 5)
    );
}

/// A clock that stands still: every decision is signed in the same second and microsecond
/// unless told otherwise.
struct FixedClock(sealroom_core::clock::Timestamp, u64);

impl sealroom_core::clock::Clock for FixedClock {
    fn now(&self) -> sealroom_core::clock::Timestamp {
        self.0
    }

    fn now_micros(&self) -> u64 {
        self.1
    }
}

#[test]
fn a_replayed_approval_cannot_undo_a_later_revocation_whatever_the_clock_says() {
    let s = setup(&Terms::default());
    let decide = |clock: &FixedClock, decision| {
        sealroom_party::owner::decide(
            &s.owner.identity,
            clock,
            s.agreement.id,
            Platform::Sim,
            M,
            decision,
        )
        .unwrap()
    };
    // Approval and revocation in the same second, one microsecond apart: no waiting.
    let second = now();
    let approval = decide(&FixedClock(second, 1_000), Decision::Approve);
    let revocation = decide(&FixedClock(second, 1_001), Decision::Revoke);
    assert!(s.broker().decide(&approval).unwrap());
    assert!(s.broker().decide(&revocation).unwrap());
    assert!(
        !s.broker().decide(&approval).unwrap(),
        "the replayed approval must not be stored"
    );
    let isolate = EphemeralIdentity::generate();
    assert_eq!(
        refusal_code(s.send(&isolate, &s.request(M, &isolate))),
        "measurement-revoked"
    );
    // A newer approval, still in the same second, takes effect at once.
    assert!(
        s.broker()
            .decide(&decide(&FixedClock(second, 1_002), Decision::Approve))
            .unwrap()
    );
    let isolate = EphemeralIdentity::generate();
    assert!(matches!(
        s.send(&isolate, &s.request(M, &isolate)).unwrap(),
        ReleaseAnswer::Granted(_)
    ));
}

#[test]
fn an_expired_challenge_is_refused() {
    let s = setup_with(&Terms::default(), &["--challenge-ttl", "0"]);
    s.decide(Decision::Approve);
    let isolate = EphemeralIdentity::generate();
    let request = s.request(M, &isolate);
    assert_eq!(refusal_code(s.send(&isolate, &request)), "nonce-expired");
    assert_eq!(s.spent_micros(), 0);
}

/// Attack 1 at the broker: an outsider seals rows of its choosing under the owner's name with
/// a key of its own. The broker refuses before anything is spent, and the refusal is recorded as
/// a refusal, never logged as a release.
#[test]
fn an_envelope_not_signed_by_its_owner_is_refused() {
    let s = setup(&Terms::default());
    s.decide(Decision::Approve);
    let forger = Identity::generate("alice", Some("http://127.0.0.1:9".into())).unwrap();
    let (forged, _, _) = envelope_header(&forger, &s.agreement, "visits");
    // It cannot register the forgery with the owner's broker…
    let registered = s.broker().register(&registration(&forger, &forged, FILE));
    assert!(
        format!("{:#}", registered.unwrap_err()).contains("envelope-forged"),
        "registration of a forged header"
    );
    // …nor get a key for it.
    let isolate = EphemeralIdentity::generate();
    let mut r = s.request(M, &isolate);
    r.header = forged;
    assert_eq!(refusal_code(s.send(&isolate, &r)), "envelope-forged");
    assert_eq!(s.spent_micros(), 0);
    assert!(s.releases().is_empty());
    common::assert_no_release_logged(&s.log);
}

/// Attack 2 at the broker: the owner's envelope for one agreement, put into another agreement's
/// job with the same dataset name and schema.
#[test]
fn an_envelope_sealed_for_another_agreement_is_refused() {
    let s = setup(&Terms::default());
    s.decide(Decision::Approve);
    let second = agreement(
        &s.owner.identity,
        &s.reader,
        &M,
        &Terms {
            name: "second",
            ..Terms::default()
        },
    );
    s.log.publish(&second);
    let approve = sealroom_party::owner::decide(
        &s.owner.identity,
        &sealroom_core::clock::SystemClock,
        second.id,
        Platform::Sim,
        M,
        Decision::Approve,
    )
    .unwrap();
    s.broker().decide(&approve).unwrap();
    let isolate = EphemeralIdentity::generate();
    let run_request = s.reader.sign_run_request(second.id, now());
    let nonce = s.challenge_for(&second, &run_request);
    let keys = isolate.public();
    let r = ReleaseRequest {
        agreement: second.clone(),
        run_request,
        dataset: "visits".into(),
        nonce,
        isolate_keys: keys,
        evidence: attester(&s.platform, M)
            .attest(report_data(&nonce, &second.id, &keys))
            .unwrap(),
        // The first agreement's envelope, registered there.
        header: s.header.clone(),
        envelope_digest: FILE,
        dry_run: false,
    };
    assert_eq!(
        refusal_code(s.send(&isolate, &r)),
        "envelope-other-agreement"
    );
    assert_eq!(s.spent_micros(), 0);
    assert!(s.releases().is_empty());
}

/// An envelope the owner sealed but never registered, and an older version after a re-seal.
#[test]
fn only_the_envelope_the_owner_registered_last_is_released() {
    let s = setup(&Terms::default());
    s.decide(Decision::Approve);
    let (unregistered, _, _) = envelope_header(&s.owner.identity, &s.agreement, "visits");
    let isolate = EphemeralIdentity::generate();
    let mut r = s.request(M, &isolate);
    r.header = unregistered;
    assert_eq!(refusal_code(s.send(&isolate, &r)), "envelope-unregistered");

    // The owner re-seals (a new version) and registers it: it runs; the old one is refused,
    // and cannot be registered again.
    let (v2, v2_digest, _) = envelope_header(&s.owner.identity, &s.agreement, "visits");
    s.register(&v2).unwrap();
    let isolate = EphemeralIdentity::generate();
    assert_eq!(
        refusal_code(s.send(&isolate, &s.request(M, &isolate))),
        "envelope-superseded"
    );
    let again = s.register(&s.header).unwrap_err();
    assert!(
        format!("{again:#}").contains("envelope-superseded"),
        "{again:#}"
    );
    assert_eq!(s.spent_micros(), 0);
    let mut r = s.request(M, &isolate);
    r.header = v2;
    let ReleaseAnswer::Granted(grant) = s.send(&isolate, &r).unwrap() else {
        panic!("the current version must be released")
    };
    let entry = sealroom_ledger::LogEntry::from_bytes(&grant.log.entry).unwrap();
    let sealroom_ledger::Statement::KeyRelease(release) = entry.statement else {
        panic!("not a key release")
    };
    assert_eq!(release.envelope, v2_digest, "the log names the envelope");
}

/// Attack 3 at the broker: runs must come from a party the agreement allows, signed, fresh,
/// once, and within the daily cap.
#[test]
fn run_requests_are_checked_by_the_broker() {
    let s = setup(&Terms {
        runs: Some(sealroom_party::authoring::RunsToml {
            requesters: Some(vec!["bob".into()]),
            max_runs_per_day: Some(2),
        }),
        ..Terms::default()
    });
    s.decide(Decision::Approve);
    let send_run = |run: SignedRunRequest| {
        let isolate = EphemeralIdentity::generate();
        s.send(&isolate, &s.request_for(run, M, &isolate))
    };
    // alice is a party but not allowed to start runs.
    assert_eq!(
        refusal_code(send_run(
            s.owner.identity.sign_run_request(s.agreement.id, now())
        )),
        "run-not-allowed"
    );
    // An outsider signs as bob with its own key.
    let impostor = Identity::generate("bob", None).unwrap();
    assert_eq!(
        refusal_code(send_run(impostor.sign_run_request(s.agreement.id, now()))),
        "run-request-forged"
    );
    // bob's request from an hour ago.
    assert_eq!(
        refusal_code(send_run(
            s.reader
                .sign_run_request(s.agreement.id, now().plus_seconds(-3600))
        )),
        "run-request-stale"
    );
    assert_eq!(s.spent_micros(), 0);
    // One genuine request starts one run: used again (by a second isolate), it is refused.
    let run = s.run_request();
    assert!(matches!(
        send_run(run.clone()).unwrap(),
        ReleaseAnswer::Granted(_)
    ));
    assert_eq!(refusal_code(send_run(run)), "run-request-replayed");
    // The second run of the day is allowed, the third is not.
    assert!(matches!(
        send_run(s.run_request()).unwrap(),
        ReleaseAnswer::Granted(_)
    ));
    assert_eq!(refusal_code(send_run(s.run_request())), "run-cap-reached");
    assert_eq!(s.spent_micros(), 2_000_000);
    assert_eq!(s.releases().len(), 2);
}

/// Budgets, releases and refusals are the owner's to see.
#[test]
fn only_the_owner_reads_its_brokers_records() {
    let s = setup(&Terms::default());
    let url = format!("{}/v1/budgets", s.owner.process.url);
    let anonymous = s.client.get::<serde_json::Value>(&url);
    let Err(HttpError::Refused(p)) = anonymous else {
        panic!("{anonymous:?}")
    };
    assert_eq!(
        (p.kind.as_str(), p.status),
        ("urn:sealroom:refusal:unauthenticated", 401)
    );
    let other_party = s.broker().budgets(&s.reader).unwrap_err();
    assert!(
        format!("{other_party:#}").contains("not-the-owner"),
        "{other_party:#}"
    );
    // A signature for another path does not open this one.
    let path_signed = s.owner.identity.sign_request("GET", "/v1/refusals", now());
    let replayed = s
        .client
        .get_authorized::<serde_json::Value>(&url, &path_signed);
    assert!(matches!(replayed, Err(HttpError::Refused(p)) if p.kind.ends_with("unauthenticated")));
    assert!(s.broker().budgets(&s.owner.identity).unwrap().is_empty());
}

/// Challenges are issued only for a fresh run request of an agreement in force, a bounded number
/// per job: an outsider can neither fill the owner's disk nor lock runs out.
#[test]
fn challenges_are_only_for_authorized_runs() {
    let s = setup(&Terms::default());
    let url = format!("{}/v1/challenges", s.owner.process.url);
    let ask = |run_request: SignedRunRequest| {
        s.client.post::<Challenge>(
            &url,
            &ChallengeRequest {
                agreement: s.agreement.clone(),
                run_request,
            },
        )
    };
    let refused = |r: Result<Challenge, HttpError>| match r {
        Err(HttpError::Refused(p)) => p.kind,
        other => panic!("{other:?}"),
    };
    let impostor = Identity::generate("bob", None).unwrap();
    assert_eq!(
        refused(ask(impostor.sign_run_request(s.agreement.id, now()))),
        "urn:sealroom:refusal:run-request-forged"
    );
    let anonymous = s.client.post::<Challenge>(&url, &serde_json::json!({}));
    assert!(
        matches!(&anonymous, Err(HttpError::Refused(p)) if p.status == 422),
        "{anonymous:?}"
    );
    let run = s.run_request();
    for _ in 0..sealroom_broker::store::MAX_CHALLENGES_PER_JOB {
        ask(run.clone()).unwrap();
    }
    assert_eq!(
        refused(ask(run)),
        "urn:sealroom:refusal:too-many-challenges"
    );
    ask(s.run_request()).expect("another run still gets its challenge");
    assert!(s.broker().refusals(&s.owner.identity).unwrap().is_empty());
}

/// The owner registers the whole file with its header: the same header over other chunks (an
/// altered or replaced body) is refused before any key or budget.
#[test]
fn a_registered_header_over_another_file_is_refused() {
    let s = setup(&Terms::default());
    s.decide(Decision::Approve);
    let isolate = EphemeralIdentity::generate();
    let mut r = s.request(M, &isolate);
    r.envelope_digest = Digest([6; 32]);
    assert_eq!(refusal_code(s.send(&isolate, &r)), "envelope-altered");
    // Nor can the header be registered again with another file.
    let again = s
        .broker()
        .register(&registration(&s.owner.identity, &s.header, Digest([6; 32])))
        .unwrap_err();
    assert!(
        format!("{again:#}").contains("envelope-mismatch"),
        "{again:#}"
    );
    // A registration not signed by the owner is refused, even with the owner's own header.
    let outsider = Identity::generate("alice", None).unwrap();
    let (v2, _, _) = envelope_header(&s.owner.identity, &s.agreement, "visits");
    let stolen = s
        .broker()
        .register(&registration(&outsider, &v2, FILE))
        .unwrap_err();
    assert!(
        format!("{stolen:#}").contains("envelope-forged"),
        "{stolen:#}"
    );
    assert_eq!(s.spent_micros(), 0);
}
