//! The sealed room's promises, attacked through the real services on loopback: as an outsider
//! who knows every public card and agreement, as the operator who controls the host's disk, and
//! as a dishonest party. Each attack is refused with its specific error, releases nothing,
//! spends no budget and leaves no misleading log entry.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{Terms, agreement, envelope_file, envelope_header, file_digest, registration};
use sealroom_cli::demo::{DemoOptions, DemoPrivacy, Deployment, data};
use sealroom_core::agreement::SignedAgreement;
use sealroom_core::clock::{Clock, SystemClock, Timestamp};
use sealroom_core::ids::Measurement;
use sealroom_core::labels;
use sealroom_core::wire::{JobInput, JobOutcome, JobSpec};
use sealroom_crypto::Identity;
use sealroom_host::{JobRecord, JobStatus};
use sealroom_ledger::{KeyRelease, LogEntry, Statement};
use sealroom_party::{agreement_file, owner, reader, runs};

fn now() -> Timestamp {
    SystemClock.now()
}

fn deployment() -> Deployment {
    Deployment::start(
        &DemoOptions {
            people: 1500,
            ..DemoOptions::new(common::executables())
        },
        DemoPrivacy::default(),
        data::generate(1500, 5),
        &|_| {},
    )
    .expect("deployment starts")
}

/// A raw HTTP exchange: status, content type and the body as JSON.
fn raw(
    method: &str,
    url: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, String, serde_json::Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    if let Some(t) = content_type {
        request = request.header("content-type", t);
    }
    let mut response = agent.run(request.body(body).unwrap()).unwrap();
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = response.body_mut().read_to_string().unwrap();
    (
        status,
        kind,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// The problem type of a refused call, from the CLI library's error text (`… [type]`).
fn problem_type(e: impl Into<anyhow::Error>) -> String {
    let e = e.into();
    e.chain()
        .find_map(|c| match c.downcast_ref::<sealroom_http::HttpError>() {
            Some(sealroom_http::HttpError::Refused(p)) => Some(p.kind.clone()),
            _ => None,
        })
        .unwrap_or_else(|| format!("not a refusal: {e:#}"))
}

/// Where the host keeps an envelope on disk.
fn blob(d: &Deployment, agreement: &SignedAgreement, owner: &str, dataset: &str) -> PathBuf {
    sealroom_host::blobs::BlobStore::new(&d.dir.join("host/blobs"))
        .unwrap()
        .dataset_path(&agreement.id, owner, dataset)
}

/// An envelope of exposures that is not adplatform's own, in the four ways an attacker can try.
struct Forgeries {
    /// An outsider's own key under adplatform's name.
    by_outsider: Vec<u8>,
    /// adplatform's genuine header with one bit of its signature flipped.
    tampered: Vec<u8>,
    /// A header claiming adplatform, signed by the advertiser (another party).
    by_other_party: Vec<u8>,
    /// adplatform's own envelope, sealed for another agreement with the same dataset.
    other_agreement: Vec<u8>,
}

const ROWS: &[u8] = b"user_id,campaign\nchosen-person,spring-tv\n";

fn forgeries(d: &Deployment, second: &SignedAgreement) -> Forgeries {
    let outsider = Identity::generate("adplatform", None).unwrap();
    let (h, _, key) = envelope_header(&outsider, &d.agreement, "exposures");
    let by_outsider = envelope_file(&h, &key, ROWS);

    let (mut h, _, key) = envelope_header(&d.adplatform.identity, &d.agreement, "exposures");
    h.signature.0[10] ^= 1;
    let tampered = envelope_file(&h, &key, ROWS);

    let (mut h, _, key) = envelope_header(&d.adplatform.identity, &d.agreement, "exposures");
    h.signature = d.advertiser.identity.sign(
        labels::ENVELOPE_HEADER_SIGNATURE,
        &h.signed_bytes().unwrap(),
    );
    let by_other_party = envelope_file(&h, &key, ROWS);

    let (h, _, key) = envelope_header(&d.adplatform.identity, second, "exposures");
    let other_agreement = envelope_file(&h, &key, ROWS);
    d.adplatform
        .broker
        .register(&registration(
            &d.adplatform.identity,
            &h,
            file_digest(&other_agreement),
        ))
        .unwrap();
    Forgeries {
        by_outsider,
        tampered,
        by_other_party,
        other_agreement,
    }
}

/// A second agreement between the same parties, with the same datasets and schemas, published,
/// with the advertiser's purchases sealed, registered and uploaded for it.
fn second_agreement(d: &Deployment) -> SignedAgreement {
    let toml = sealroom_cli::demo::agreement_toml(
        &d.adplatform.identity,
        &d.advertiser.identity,
        &d.measurement,
        DemoPrivacy {
            epsilon_per_run: 0.25,
            ..DemoPrivacy::default()
        },
    );
    let path = d.dir.join("second.toml");
    std::fs::write(&path, toml).unwrap();
    let mut signed = agreement_file::load(&path).unwrap();
    agreement_file::sign(&mut signed, &d.adplatform.identity).unwrap();
    agreement_file::sign(&mut signed, &d.advertiser.identity).unwrap();
    assert_ne!(signed.id, d.agreement.id);
    d.host.publish(&signed).unwrap();
    let csv = d.dir.join("purchases2.csv");
    std::fs::write(&csv, &d.data.purchases_csv).unwrap();
    let out = d.dir.join("purchases2.envelope");
    let sealed = owner::seal_dataset(
        &d.advertiser.identity,
        &signed,
        "purchases",
        &csv,
        &out,
        &owner::SealOptions::default(),
        SystemClock.now_millis(),
        Box::new(|_| {}),
    )
    .unwrap();
    d.advertiser
        .broker
        .register(&sealed.registration(&d.advertiser.identity))
        .unwrap();
    owner::upload(&d.host, &out, |_| {}).unwrap();
    signed
}

fn upload_to(d: &Deployment, agreement: &SignedAgreement, envelope: Vec<u8>) -> (u16, String) {
    let url = format!(
        "{}/v1/agreements/{}/datasets/adplatform/exposures",
        d.host_process.url, agreement.id
    );
    let (status, _, body) = raw("PUT", &url, Some("application/octet-stream"), envelope);
    (
        status,
        body["type"].as_str().unwrap_or_default().to_string(),
    )
}

/// Attacks 1 and 2 at the host: a forged, tampered, other party's or other agreement's envelope
/// is refused at upload, before anything is stored.
#[test]
fn envelopes_not_sealed_by_their_owner_for_this_agreement_are_refused_at_upload() {
    let d = deployment();
    let second = second_agreement(&d);
    let f = forgeries(&d, &second);
    let stored = || std::fs::read(blob(&d, &d.agreement, "adplatform", "exposures")).unwrap();
    let before = stored();
    for (what, envelope, expected) in [
        (
            "outsider",
            f.by_outsider,
            "urn:sealroom:host:envelope-signature-invalid",
        ),
        (
            "tampered",
            f.tampered,
            "urn:sealroom:host:envelope-signature-invalid",
        ),
        (
            "other party",
            f.by_other_party,
            "urn:sealroom:host:envelope-signature-invalid",
        ),
        (
            "other agreement",
            f.other_agreement,
            "urn:sealroom:host:not-the-dataset",
        ),
    ] {
        let (status, kind) = upload_to(&d, &d.agreement, envelope);
        assert_eq!(kind, expected, "{what}");
        assert!(status == 403 || status == 422, "{what}: {status}");
    }
    assert_eq!(stored(), before, "the genuine envelope is untouched");
    // The demo's outsider went through the CLI library: the same refusal.
    let outsider = Identity::generate("adplatform", None).unwrap();
    let (h, _, key) = envelope_header(&outsider, &d.agreement, "exposures");
    let path = d.dir.join("outsider.envelope");
    std::fs::write(&path, envelope_file(&h, &key, ROWS)).unwrap();
    let refused = owner::upload(&d.host, &path, |_| {}).unwrap_err();
    assert_eq!(
        problem_type(refused),
        "urn:sealroom:host:envelope-signature-invalid"
    );
}

/// Attacks 1 and 2 behind the host's back: the operator plants the same envelopes on disk. The
/// owner's broker refuses each before any key or budget, records it, and logs no release.
#[test]
fn envelopes_planted_on_disk_are_refused_by_the_owners_broker() {
    let d = deployment();
    let second = second_agreement(&d);
    let f = forgeries(&d, &second);
    let run = |agreement: &SignedAgreement| -> JobRecord {
        let queued = d
            .host
            .request_run(&d.advertiser.identity.sign_run_request(agreement.id, now()))
            .unwrap();
        runs::wait_for_job(&d.host, &d.advertiser.identity, &queued.job_id).unwrap()
    };
    let genuine = blob(&d, &d.agreement, "adplatform", "exposures");
    // The owner's current, registered header over chunks of the attacker's choosing (the header
    // is public: it travels to the host and to every broker).
    let registered = std::fs::read(&genuine).unwrap();
    let header_end = sealroom_crypto::envelope::PREAMBLE_LEN
        + sealroom_crypto::envelope::header_len(
            registered[..sealroom_crypto::envelope::PREAMBLE_LEN]
                .try_into()
                .unwrap(),
        )
        .unwrap() as usize;
    let mut altered = registered[..header_end].to_vec();
    altered.extend(std::iter::repeat_n(0x5a, registered.len() - header_end));
    for (what, envelope, expected) in [
        ("altered chunks", &altered, "envelope-altered"),
        ("outsider", &f.by_outsider, "envelope-forged"),
        ("tampered", &f.tampered, "envelope-forged"),
        ("other party", &f.by_other_party, "envelope-forged"),
    ] {
        std::fs::write(&genuine, envelope).unwrap();
        let record = run(&d.agreement);
        let error = record.error.expect("the job fails");
        assert_eq!(
            error.refusal.as_deref(),
            Some(format!("urn:sealroom:refusal:{expected}").as_str()),
            "{what}: {}",
            error.message
        );
    }
    // adplatform uploads its envelope for agreement 2; the operator swaps in agreement 1's
    // genuine, registered one.
    assert_eq!(upload_to(&d, &second, f.other_agreement).0, 200);
    std::fs::copy(
        d.dir.join("agreement-adplatform-exposures.envelope"),
        blob(&d, &second, "adplatform", "exposures"),
    )
    .unwrap();
    let record = run(&second);
    assert_eq!(
        record.error.unwrap().refusal.as_deref(),
        Some("urn:sealroom:refusal:envelope-other-agreement")
    );

    assert_eq!(common::spent(&d), 0, "no budget spent");
    let refusals = d
        .adplatform
        .broker
        .refusals(&d.adplatform.identity)
        .unwrap();
    let codes: Vec<&str> = refusals.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(
        codes.iter().filter(|c| **c == "envelope-forged").count(),
        3,
        "{codes:?}"
    );
    assert!(codes.contains(&"envelope-altered"));
    assert!(codes.contains(&"envelope-other-agreement"));
    let audit = d.audit(&d.adplatform).unwrap();
    assert!(
        audit.releases.is_empty(),
        "a refusal must never be logged as a release"
    );
}

/// The owner re-seals (a new version) and runs again; the operator putting the previous version
/// back is refused.
#[test]
fn a_resealed_dataset_runs_and_the_previous_version_is_refused() {
    let d = deployment();
    let first = d.run_job().unwrap();
    assert_eq!(first.status, JobStatus::Finished);
    let v1 = std::fs::read(blob(&d, &d.agreement, "adplatform", "exposures")).unwrap();

    let csv = d.dir.join("exposures.csv");
    let v2_path = d.dir.join("exposures-v2.envelope");
    let sealed = owner::seal_dataset(
        &d.adplatform.identity,
        &d.agreement,
        "exposures",
        &csv,
        &v2_path,
        &owner::SealOptions::default(),
        SystemClock.now_millis(),
        Box::new(|_| {}),
    )
    .unwrap();
    d.adplatform
        .broker
        .register(&sealed.registration(&d.adplatform.identity))
        .unwrap();
    owner::upload(&d.host, &v2_path, |_| {}).unwrap();
    let second = d.run_job().unwrap();
    assert_eq!(second.status, JobStatus::Finished, "{:?}", second.error);
    let receipt = second.receipt.unwrap().receipt;
    let input = receipt
        .inputs
        .iter()
        .find(|i| i.dataset == "exposures")
        .unwrap();
    assert_eq!(input.header_digest, sealed.header_digest);

    std::fs::write(blob(&d, &d.agreement, "adplatform", "exposures"), v1).unwrap();
    let replayed = d.run_job().unwrap();
    assert_eq!(
        replayed.error.unwrap().refusal.as_deref(),
        Some("urn:sealroom:refusal:envelope-superseded")
    );
    assert_eq!(
        common::spent(&d),
        2 * 2 * 500_000,
        "two runs, two datasets, ε 0.5"
    );
    let audit = d.audit(&d.adplatform).unwrap();
    assert_eq!(audit.releases.len(), 2);
    assert_eq!(audit.releases[1].release.envelope, sealed.header_digest);
}

/// Attack 3: runs need a fresh request signed by a party the agreement allows, used once; job
/// records are the parties' only.
#[test]
fn runs_need_a_fresh_signed_request_from_an_allowed_party() {
    let d = deployment();
    let refused = |request| problem_type(d.host.request_run(&request).unwrap_err());
    let impostor = Identity::generate("advertiser", None).unwrap();
    assert_eq!(
        refused(impostor.sign_run_request(d.agreement.id, now())),
        "urn:sealroom:host:run-request-forged"
    );
    let outsider = Identity::generate("outsider", None).unwrap();
    assert_eq!(
        refused(outsider.sign_run_request(d.agreement.id, now())),
        "urn:sealroom:host:run-not-allowed"
    );
    assert_eq!(
        refused(
            d.advertiser
                .identity
                .sign_run_request(d.agreement.id, now().plus_seconds(-3600))
        ),
        "urn:sealroom:host:run-request-stale"
    );
    let (status, kind, body) = raw(
        "POST",
        &format!("{}/v1/jobs", d.host_process.url),
        Some("application/json"),
        br#"{"agreement_id":"00"}"#.to_vec(),
    );
    assert_eq!(
        (status, kind.as_str()),
        (422, "application/problem+json"),
        "{body}"
    );

    let request = d
        .adplatform
        .identity
        .sign_run_request(d.agreement.id, now());
    let job = d.host.request_run(&request).unwrap();
    assert_eq!(
        refused(request),
        "urn:sealroom:host:run-request-replayed",
        "a run request starts one job"
    );
    let done = runs::wait_for_job(&d.host, &d.adplatform.identity, &job.job_id).unwrap();
    assert_eq!(done.status, JobStatus::Finished);
    assert_eq!(done.requested_by, "adplatform");
    assert_eq!(common::spent(&d), 2 * 500_000, "one run");

    // The job's record: not for the anonymous, not for outsiders.
    let url = format!("{}/v1/jobs/{}", d.host_process.url, job.job_id);
    let (status, _, body) = raw("GET", &url, None, Vec::new());
    assert_eq!(
        (status, body["type"].as_str().unwrap()),
        (401, "urn:sealroom:host:unauthenticated")
    );
    assert_eq!(
        problem_type(d.host.job(&outsider, &job.job_id).unwrap_err()),
        "urn:sealroom:host:not-a-party"
    );
    let path = format!("/v1/jobs/{}/outputs/advertiser", job.job_id);
    let as_adplatform = sealroom_http::JsonClient::default().get_authorized::<serde_json::Value>(
        &format!("{}{path}", d.host_process.url),
        &d.adplatform.identity.sign_request("GET", &path, now()),
    );
    assert!(
        matches!(&as_adplatform, Err(sealroom_http::HttpError::Refused(p)) if p.kind == "urn:sealroom:host:not-the-reader"),
        "{as_adplatform:?}"
    );
    assert_eq!(
        d.host
            .job(&d.adplatform.identity, &job.job_id)
            .unwrap()
            .status,
        JobStatus::Finished
    );

    // A request with less than a minute to live is taken by the host but asks no broker.
    let late = d
        .advertiser
        .identity
        .sign_run_request(d.agreement.id, now().plus_seconds(-870));
    let queued = d.host.request_run(&late).unwrap();
    let ended = runs::wait_for_job(&d.host, &d.advertiser.identity, &queued.job_id).unwrap();
    assert_eq!(ended.error.unwrap().code, "run-request-refused");
    assert_eq!(common::spent(&d), 2 * 500_000, "still one run");

    // A party the operator stopped serving reads and runs nothing more.
    let store = sealroom_host::HostStore::open(&d.dir.join("host/host.sqlite")).unwrap();
    assert!(store.remove_party("adplatform").unwrap());
    assert_eq!(
        problem_type(d.host.job(&d.adplatform.identity, &job.job_id).unwrap_err()),
        "urn:sealroom:host:party-not-onboarded"
    );
    assert_eq!(
        refused(
            d.adplatform
                .identity
                .sign_run_request(d.agreement.id, now())
        ),
        "urn:sealroom:host:party-not-onboarded"
    );
}

/// Attack 4: outsiders can neither publish agreements nor write to the log, and a party writes
/// only its own releases and decisions.
#[test]
fn only_onboarded_parties_publish_and_each_logs_only_for_itself() {
    let host = common::start_log_host();
    let alice = Identity::generate("alice", Some("http://127.0.0.1:9".into())).unwrap();
    let bob = Identity::generate("bob", Some("http://127.0.0.1:9".into())).unwrap();
    let made_up = agreement(&alice, &bob, &Measurement([7; 32]), &Terms::default());
    assert_eq!(
        problem_type(host.client().publish(&made_up).unwrap_err()),
        "urn:sealroom:host:party-not-onboarded"
    );
    // Onboarding alice under another key does not let an agreement with this alice in.
    host.onboard(&[
        Identity::generate("alice", None).unwrap().card(),
        bob.card(),
    ]);
    assert_eq!(
        problem_type(host.client().publish(&made_up).unwrap_err()),
        "urn:sealroom:host:party-not-onboarded"
    );
    host.onboard(&[alice.card()]);
    host.client().publish(&made_up).unwrap();

    let release = |writer: &Identity, owner: &Identity| {
        let statement = Statement::KeyRelease(KeyRelease {
            owner: owner.name().into(),
            owner_fingerprint: owner.card().fingerprint().unwrap(),
            dataset: "visits".into(),
            envelope: sealroom_core::ids::Digest([1; 32]),
            agreement: made_up.id,
            job: sealroom_core::ids::JobId([2; 16]),
            requested_by: "bob".into(),
            platform: sealroom_core::attestation::Platform::Sim,
            measurement: Measurement([7; 32]),
            epsilon: sealroom_core::Epsilon::from_micros(1).unwrap(),
            nonce: [3; 32],
            at: now(),
        });
        LogEntry::sign(statement, writer.card().signing_key, |l, b| {
            writer.sign(l, b)
        })
        .unwrap()
        .to_bytes()
    };
    let append = |entry: Vec<u8>| {
        raw(
            "POST",
            &format!("{}/v1/log/entries", host.process.url),
            Some("application/octet-stream"),
            entry,
        )
    };
    let outsider = Identity::generate("mallory", None).unwrap();
    for (what, entry) in [
        ("outsider", release(&outsider, &outsider)),
        ("outsider naming alice", release(&outsider, &alice)),
        ("bob naming alice", release(&bob, &alice)),
    ] {
        let (status, _, body) = append(entry);
        assert_eq!(
            (status, body["type"].as_str().unwrap()),
            (403, "urn:sealroom:log:writer-not-allowed"),
            "{what}"
        );
    }
    let (status, _, _) = append(release(&alice, &alice));
    assert_eq!(status, 200, "alice logs her own release");

    // A card whose broker URL is not a plain base is never onboarded.
    let sneaky =
        Identity::generate("sneaky", Some("http://127.0.0.1:9/internal?steal=1".into())).unwrap();
    let e = sealroom_cli::services::onboard(&host.dir.path().join("host"), &[sneaky.card()])
        .unwrap_err();
    assert!(format!("{e:#}").contains("not a plain"), "{e:#}");
}

/// Serves one canned HTTP answer to every connection on a loopback port; counts connections.
fn canned_server(answer: String) -> (String, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hit = Arc::new(AtomicBool::new(false));
    let seen = hit.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(mut stream) = stream else { continue };
            seen.store(true, Ordering::SeqCst);
            let mut buf = [0u8; 8192];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (url, hit)
}

/// Accepts connections and never answers (a broker that hangs).
fn tarpit() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(64) {
            held.extend(stream.ok());
        }
    });
    url
}

/// Publishes `terms`' agreement between `alice` and `bob` at `host` and uploads both datasets.
fn published(
    host: &common::LogHost,
    alice: &Identity,
    bob: &Identity,
    terms: &Terms,
) -> SignedAgreement {
    let signed = agreement(alice, bob, &Measurement([7; 32]), terms);
    host.publish(&signed);
    for (owner, dataset, csv) in [
        (alice, "visits", &b"id,site\np1,a\n"[..]),
        (bob, "orders", b"id\np1\n"),
    ] {
        let (h, _, key) = envelope_header(owner, &signed, dataset);
        let path = host
            .dir
            .path()
            .join(format!("{}-{dataset}.envelope", signed.id.short()));
        std::fs::write(&path, envelope_file(&h, &key, csv)).unwrap();
        owner::upload(&host.client(), &path, |_| {}).unwrap();
    }
    signed
}

/// Attack 4, the isolate's side: a broker URL that redirects is not followed, and what it
/// answers never reaches job records.
#[test]
fn the_isolate_follows_no_redirect_and_copies_no_remote_answer() {
    let (secret, secret_hit) = canned_server(
        "HTTP/1.1 200 OK\r\ncontent-length: 15\r\nconnection: close\r\n\r\nINTERNAL-SECRET".into(),
    );
    let (redirect, _) = canned_server(format!(
        "HTTP/1.1 302 Found\r\nlocation: {secret}/admin\r\ncontent-length: 26\r\nconnection: close\r\n\r\nINTERNAL-SECRET-IN-A-BODY!"
    ));
    let host = common::start_log_host();
    let alice = Identity::generate("alice", Some(redirect)).unwrap();
    let bob = Identity::generate("bob", Some("http://127.0.0.1:9".into())).unwrap();
    let signed = published(&host, &alice, &bob, &Terms::default());
    let queued = host
        .client()
        .request_run(&bob.sign_run_request(signed.id, now()))
        .unwrap();
    let record = runs::wait_for_job(&host.client(), &bob, &queued.job_id).unwrap();
    let error = record.error.unwrap();
    assert_eq!(error.code, "broker-unavailable");
    assert!(error.message.contains("HTTP 302"), "{}", error.message);
    assert!(
        !error.message.contains("INTERNAL-SECRET"),
        "{}",
        error.message
    );
    assert!(
        !secret_hit.load(Ordering::SeqCst),
        "the redirect was followed"
    );
}

/// Attack 6: isolates are capped, further jobs queue, and floods are refused per agreement, per
/// day and in all.
#[test]
fn jobs_queue_behind_the_isolate_cap_and_floods_are_refused() {
    let host = common::start_host_with(
        tempfile::tempdir().unwrap(),
        &[
            "--max-isolates",
            "1",
            "--max-queued-jobs",
            "4",
            "--max-jobs-per-agreement",
            "2",
        ],
    );
    let broker = tarpit();
    let alice = Identity::generate("alice", Some(broker.clone())).unwrap();
    let bob = Identity::generate("bob", Some(broker)).unwrap();
    let a = published(&host, &alice, &bob, &Terms::default());
    let capped = published(
        &host,
        &alice,
        &bob,
        &Terms {
            name: "capped",
            runs: Some(sealroom_party::authoring::RunsToml {
                requesters: None,
                max_runs_per_day: Some(1),
            }),
            ..Terms::default()
        },
    );
    let b = published(
        &host,
        &alice,
        &bob,
        &Terms {
            name: "third",
            ..Terms::default()
        },
    );
    let client = host.client();
    let request = |agreement: &SignedAgreement| {
        client.request_run(&bob.sign_run_request(agreement.id, now()))
    };
    let first = request(&a).unwrap();
    let second = request(&a).unwrap();
    assert_eq!(second.status, JobStatus::Queued);
    assert_eq!(
        problem_type(request(&a).unwrap_err()),
        "urn:sealroom:host:too-many-jobs"
    );
    request(&capped).unwrap();
    assert_eq!(
        problem_type(request(&capped).unwrap_err()),
        "urn:sealroom:host:run-cap-reached"
    );
    request(&b).unwrap();
    assert_eq!(
        problem_type(request(&b).unwrap_err()),
        "urn:sealroom:host:queue-full"
    );
    // One isolate runs (held by the hanging broker); the others wait.
    let statuses: Vec<JobStatus> = client
        .job(&bob, &first.job_id)
        .into_iter()
        .chain(client.job(&bob, &second.job_id))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [JobStatus::Running, JobStatus::Queued]);
}

/// Attack 6: uploads are limited, checked before they are stored, and nothing partial stays.
#[test]
fn oversized_uploads_are_refused_and_nothing_is_stored() {
    let host = common::start_host_with(tempfile::tempdir().unwrap(), &["--max-upload", "2K"]);
    let alice = Identity::generate("alice", Some("http://127.0.0.1:9".into())).unwrap();
    let bob = Identity::generate("bob", Some("http://127.0.0.1:9".into())).unwrap();
    let signed = agreement(&alice, &bob, &Measurement([7; 32]), &Terms::default());
    host.publish(&signed);
    let (h, _, key) = envelope_header(&alice, &signed, "visits");
    let big = envelope_file(&h, &key, &vec![b'x'; 8192]);
    let url = format!(
        "{}/v1/agreements/{}/datasets/alice/visits",
        host.process.url, signed.id
    );
    let (status, kind, body) = raw("PUT", &url, Some("application/octet-stream"), big.clone());
    assert_eq!(
        (status, kind.as_str(), body["type"].as_str().unwrap()),
        (
            413,
            "application/problem+json",
            "urn:sealroom:host:upload-too-large"
        )
    );
    // A header announced as empty cannot make the host buffer the body.
    let mut no_header = sealroom_crypto::envelope::MAGIC.to_vec();
    no_header.extend_from_slice(&0u32.to_be_bytes());
    no_header.extend(std::iter::repeat_n(b'x', 1500));
    let (status, _, body) = raw("PUT", &url, Some("application/octet-stream"), no_header);
    assert_eq!(
        (status, body["type"].as_str().unwrap()),
        (422, "urn:sealroom:host:not-an-envelope"),
        "{body}"
    );
    let path = host.dir.path().join("big.envelope");
    std::fs::write(&path, &big).unwrap();
    assert_eq!(
        problem_type(owner::upload(&host.client(), &path, |_| {}).unwrap_err()),
        "urn:sealroom:host:upload-too-large",
        "streamed without a length"
    );
    let incoming = host.dir.path().join("host/blobs/incoming");
    assert_eq!(std::fs::read_dir(&incoming).unwrap().count(), 0);
    assert!(
        !sealroom_host::blobs::BlobStore::new(&host.dir.path().join("host/blobs"))
            .unwrap()
            .dataset_path(&signed.id, "alice", "visits")
            .exists()
    );
}

/// Attack 5: a reader asking for one job is not fooled by another job's receipt.
#[test]
fn open_refuses_another_jobs_receipt() {
    let d = deployment();
    let old = d.run_job().unwrap();
    let new = d.run_job().unwrap();
    let old_bundle = d.host.outputs(&d.advertiser.identity, &old.job_id).unwrap();
    let err = reader::open_outputs(
        &d.advertiser.identity,
        &d.agreement,
        &new.job_id,
        &old_bundle,
        &d.verifier(),
        &d.log_key().unwrap(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("receipt of job"), "{err}");
}

/// Attack 6: every error of every service is a problem document, extractor rejections included.
#[test]
fn every_error_of_every_service_is_a_problem_document() {
    let d = deployment();
    let host = &d.host_process.url;
    let broker = d.adplatform.identity.card().broker_url.unwrap();
    let cases = [
        ("GET", format!("{host}/v1/nowhere"), None, Vec::new(), 404),
        (
            "DELETE",
            format!("{host}/v1/platform"),
            None,
            Vec::new(),
            405,
        ),
        (
            "POST",
            format!("{host}/v1/jobs"),
            Some("application/json"),
            b"{not json".to_vec(),
            400,
        ),
        ("POST", format!("{host}/v1/jobs"), None, b"{}".to_vec(), 415),
        // One byte over the 1 MiB limit of JSON bodies.
        (
            "POST",
            format!("{host}/v1/agreements"),
            Some("application/json"),
            vec![b' '; (1 << 20) + 1],
            413,
        ),
        (
            "GET",
            format!("{host}/v1/jobs/not-a-job"),
            None,
            Vec::new(),
            400,
        ),
        (
            "GET",
            format!("{host}/v1/log/entries"),
            None,
            Vec::new(),
            400,
        ),
        (
            "POST",
            format!("{broker}/v1/releases"),
            Some("application/json"),
            b"[]".to_vec(),
            422,
        ),
        ("GET", format!("{broker}/v1/nowhere"), None, Vec::new(), 404),
        ("GET", format!("{broker}/v1/budgets"), None, Vec::new(), 401),
        (
            "POST",
            format!("{broker}/v1/envelopes"),
            Some("text/plain"),
            b"x".to_vec(),
            415,
        ),
    ];
    for (method, url, content_type, body, status) in cases {
        let (got, kind, problem) = raw(method, &url, content_type, body);
        assert_eq!(got, status, "{method} {url}: {problem}");
        assert_eq!(kind, "application/problem+json", "{method} {url}");
        assert!(
            problem["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("urn:sealroom:")),
            "{method} {url}: {problem}"
        );
        assert_eq!(problem["status"], status);
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
}

/// A dishonest owner seals, registers and uploads payloads that do not follow the schema it
/// agreed to: the job fails with a clear error and nothing reaches a reader.
#[test]
fn a_dishonest_owners_hand_crafted_payload_fails_the_job_and_nothing_is_released() {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    let d = deployment();
    let owner = &d.adplatform.identity;
    let upload = |header: &sealroom_core::envelope::EnvelopeHeader, key, payload: &[u8]| {
        let envelope = envelope_file(header, key, payload);
        d.adplatform
            .broker
            .register(&registration(owner, header, file_digest(&envelope)))
            .unwrap();
        assert_eq!(upload_to(&d, &d.agreement, envelope).0, 200);
    };
    let failure = || {
        let record = d.run_job().unwrap();
        assert_eq!(record.status, JobStatus::Failed);
        assert!(record.outputs.is_empty() && record.receipt.is_none());
        // The reader asks the host for its output: there is none.
        let asked = d.host.outputs(&d.advertiser.identity, &record.job_id);
        assert!(asked.is_err(), "{asked:?}");
        record.error.expect("the job says why")
    };

    // The agreed schema says campaign is a string; the owner's stream makes it an integer.
    let schema = Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Utf8, false),
        Field::new("campaign", DataType::Int64, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec!["u0000001", "u0000002"])),
        Arc::new(Int64Array::from(vec![1, 2])),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let mut stream = arrow_ipc::writer::StreamWriter::try_new(Vec::new(), &schema).unwrap();
    stream.write(&batch).unwrap();
    stream.finish().unwrap();
    let (header, _, key) = envelope_header(owner, &d.agreement, "exposures");
    upload(&header, &key, &stream.into_inner().unwrap());
    let error = failure();
    assert_eq!(error.code, "input-invalid", "{}", error.message);
    assert!(
        error.message.contains("adplatform/exposures")
            && error.message.contains("\"campaign\"")
            && error.message.contains("Int64"),
        "{}",
        error.message
    );

    // Bytes that are no Arrow stream at all, and CSV sealed the way earlier versions did.
    let (header, _, key) = envelope_header(owner, &d.agreement, "exposures");
    upload(&header, &key, b"user_id,campaign\nu0000001,spring-tv\n");
    let error = failure();
    assert_eq!(error.code, "input-invalid", "{}", error.message);
    assert!(
        error.message.contains("not a well-formed Arrow IPC stream"),
        "{}",
        error.message
    );

    let (mut header, _, key) = envelope_header(owner, &d.agreement, "exposures");
    header.content_type = "text/csv".into();
    header.signature = owner.sign(
        labels::ENVELOPE_HEADER_SIGNATURE,
        &header.signed_bytes().unwrap(),
    );
    upload(&header, &key, b"user_id,campaign\nu0000001,spring-tv\n");
    let spent_before = common::spent(&d);
    let error = failure();
    assert_eq!(error.code, "input-mismatch", "{}", error.message);
    assert!(error.message.contains("sealed as CSV"), "{}", error.message);
    assert_eq!(
        common::spent(&d),
        spent_before,
        "refused before any key was asked for"
    );
}

/// The operator starts the genuine isolate itself, on a job specification of its own making.
fn isolate_run_by_operator(d: &Deployment, inputs: Vec<JobInput>) -> (Option<i32>, JobOutcome) {
    let run_request = d
        .advertiser
        .identity
        .sign_run_request(d.agreement.id, now());
    let spec = JobSpec {
        job_id: run_request.job_id().unwrap(),
        agreement: d.agreement.clone(),
        run_request,
        inputs,
        module: None,
    };
    common::run_isolate(&spec, &d.dir.join("host/sim-platform.key"))
}

/// The operator hands the isolate more inputs than the agreement has datasets: a dataset twice
/// (to have its budget spent twice), or thousands of paths (one hashing thread each). The job
/// is refused as a bad specification before any file is opened and before any key is asked for.
#[test]
fn more_inputs_than_datasets_are_refused_before_any_file_is_read() {
    let d = deployment();
    let input = |owner: &str, dataset: &str, path: String| JobInput {
        owner: owner.into(),
        dataset: dataset.into(),
        path,
    };
    let genuine = |owner: &str, dataset: &str| {
        input(
            owner,
            dataset,
            blob(&d, &d.agreement, owner, dataset).display().to_string(),
        )
    };
    let twice = vec![
        genuine("adplatform", "exposures"),
        genuine("advertiser", "purchases"),
        genuine("adplatform", "exposures"),
    ];
    // Paths that do not exist: had any been opened, the job would fail on it instead.
    let flood = (0..5000)
        .map(|i| {
            input(
                "adplatform",
                "exposures",
                d.dir.join(format!("missing-{i}")).display().to_string(),
            )
        })
        .collect();
    for (what, inputs, count) in [("a dataset twice", twice, 3), ("a flood", flood, 5000)] {
        let (code, outcome) = isolate_run_by_operator(&d, inputs);
        let JobOutcome::Failed { error } = outcome else {
            panic!("{what}: the isolate ran the job")
        };
        assert_eq!(code, Some(2), "{what}");
        assert_eq!(error.code, "bad-job-spec", "{what}: {}", error.message);
        assert!(
            error
                .message
                .contains(&format!("{count} inputs for the agreement's 2 datasets")),
            "{what}: {}",
            error.message
        );
    }
    assert_eq!(common::spent(&d), 0, "no budget spent");
    for party in [&d.adplatform, &d.advertiser] {
        assert!(
            party.broker.refusals(&party.identity).unwrap().is_empty(),
            "no broker was asked for a key"
        );
        assert!(d.audit(party).unwrap().releases.is_empty());
    }
    // The genuine inputs, once each, still run.
    let (code, outcome) = isolate_run_by_operator(
        &d,
        vec![
            genuine("adplatform", "exposures"),
            genuine("advertiser", "purchases"),
        ],
    );
    assert!(
        matches!(outcome, JobOutcome::Finished { .. }),
        "{outcome:?}"
    );
    assert_eq!(code, Some(0));
}

/// The operator grows an envelope file after the isolate hashed it (here to a terabyte, sparse).
/// The isolate sizes its table from the bytes it hashed, not from the file's length, so it
/// reserves nothing for the growth; the read fails on what follows the envelope, and no table
/// comes out of it.
#[test]
fn an_envelope_grown_after_it_was_hashed_fails_without_reserving_for_the_growth() {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, RecordBatch, StringArray};

    let d = deployment();
    let owner = &d.adplatform.identity;
    let terms = d
        .agreement
        .agreement
        .dataset("adplatform", "exposures")
        .unwrap()
        .clone();
    // Several megabytes in many batches: the isolate decodes the first batches (and sizes the
    // table from them) before it meets the growth.
    let people: Vec<String> = (0..200_000).map(|i| format!("u{i:07}")).collect();
    let arrow_schema = sealroom_tables::payload::arrow_schema(&terms.schema);
    let mut payload = sealroom_tables::PayloadWriter::new(Vec::new(), &terms.schema).unwrap();
    for rows in people.chunks(5000) {
        let columns: Vec<ArrayRef> = arrow_schema
            .fields()
            .iter()
            .map(|_| Arc::new(StringArray::from(rows.to_vec())) as ArrayRef)
            .collect();
        payload
            .write(&RecordBatch::try_new(arrow_schema.clone(), columns).unwrap())
            .unwrap();
    }
    let (header, _, key) = envelope_header(owner, &d.agreement, "exposures");
    let envelope = envelope_file(&header, &key, &payload.finish().unwrap());
    let path = d.dir.join("grown.envelope");
    let input = JobInput {
        owner: "adplatform".into(),
        dataset: "exposures".into(),
        path: path.display().to_string(),
    };

    // Unchanged, the envelope reads back whole.
    std::fs::write(&path, &envelope).unwrap();
    let opened = sealroom_isolate::inputs::open_input(&input, &d.agreement.agreement).unwrap();
    let (table, digest) = opened.read(&key).unwrap();
    assert_eq!(table.len(), people.len());
    assert_eq!(digest, file_digest(&envelope));

    let opened = sealroom_isolate::inputs::open_input(&input, &d.agreement.agreement).unwrap();
    assert_eq!(opened.envelope_digest, file_digest(&envelope));
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(1 << 40)
        .unwrap();
    let peak_before = peak_virtual_memory();
    let error = opened.read(&key).expect_err("a grown envelope is refused");
    // Sized from the file's new length, the table would reserve tens of gigabytes (address
    // space only, untouched here, but the isolate's allocator wipes every block it frees).
    let reserved = peak_virtual_memory() - peak_before;
    assert!(
        reserved < 4 << 30,
        "{reserved} bytes of address space reserved"
    );
    // The zeros after the envelope's last chunk are no chunk of it.
    assert!(
        matches!(error, sealroom_isolate::IsolateError::Envelope { .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("adplatform/exposures"),
        "{error}"
    );
}

/// This process's peak address space (`VmPeak`), in bytes.
fn peak_virtual_memory() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmPeak:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .expect("VmPeak in /proc/self/status");
    kib << 10
}
