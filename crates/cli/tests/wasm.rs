//! Wasm programs through the real services: the pooled model trains end to end; a module the
//! operator swaps is refused before any key is asked for; a guest that runs away fails the job
//! with its limit named and releases nothing.

mod common;

use sealroom_cli::demo::ml::{self, MODULE};
use sealroom_cli::demo::{DemoOptions, Deployment};
use sealroom_core::clock::SystemClock;
use sealroom_host::JobStatus;
use sha2::{Digest as _, Sha256};

fn options() -> DemoOptions {
    DemoOptions {
        people: 3_000,
        ..DemoOptions::new(common::executables())
    }
}

/// What `sealroom args` prints as JSON, after checking that it succeeded.
fn sealroom_json(args: &[&str]) -> serde_json::Value {
    serde_json::from_slice(&common::sealroom_output(args)).unwrap()
}

fn publish(d: &Deployment, module: &[u8]) -> u64 {
    sealroom_party::programs::publish_program(
        &d.host,
        &d.advertiser.identity,
        "test-program",
        module.to_vec(),
        "What it computes.".into(),
        None,
        &SystemClock,
    )
    .unwrap()
    .1
}

/// How many entries of the log at `url` hold a statement that `is` picks.
fn logged(
    url: &str,
    key: &sealroom_ledger::LogVerifierKey,
    is: fn(&sealroom_ledger::Statement) -> bool,
) -> usize {
    let client = sealroom_ledger::LogClient::new(url, std::time::Duration::from_secs(10));
    let checkpoint = client.checkpoint(key).unwrap();
    client
        .entries(0, checkpoint.size)
        .unwrap()
        .iter()
        .filter(|bytes| {
            is(&sealroom_ledger::LogEntry::from_bytes(bytes)
                .unwrap()
                .statement)
        })
        .count()
}

fn releases_logged(d: &Deployment) -> usize {
    logged(&d.host_process.url, &d.log_key().unwrap(), |s| {
        matches!(s, sealroom_ledger::Statement::KeyRelease(_))
    })
}

#[test]
fn demo_ml_trains_a_model_about_as_good_as_the_plaintext_fit() {
    let report = sealroom_json(&["--json", "demo", "ml"]);
    println!("{report:#}");
    assert_eq!(report["people"], 10_000);
    assert_eq!(report["module"], ml::module_digest());
    let coefficients = report["coefficients"].as_array().unwrap();
    assert_eq!(coefficients.len(), 4);
    for c in coefficients {
        assert!(c["private"].as_f64().unwrap().is_finite(), "{c}");
        // The plaintext fit recovers the model the data was drawn from.
        assert!((c["plaintext"].as_f64().unwrap() - c["truth"].as_f64().unwrap()).abs() < 0.15);
    }
    let (loss, accuracy) = (&report["log_loss"], &report["accuracy"]);
    assert!(
        loss[0].as_f64().unwrap() < loss[1].as_f64().unwrap() + 0.01,
        "{loss}"
    );
    assert!(
        accuracy[0].as_f64().unwrap() > accuracy[1].as_f64().unwrap() - 0.01,
        "{accuracy}"
    );
    assert!(report["noise_sigma_per_round"].as_f64().unwrap() > 1.0);
}

/// The stated distance: at ε = 1 the private model's mean log loss is within 0.01 of the
/// plaintext fit's and its accuracy within 0.01; at ε = 10, within 0.005 each.
#[test]
fn the_private_model_converges_to_within_the_stated_distance_at_epsilon_1_and_10() {
    let mut reported = Vec::new();
    for (epsilon, distance) in [(1.0, 0.01), (10.0, 0.005)] {
        let model = ml::Model {
            epsilon,
            ..ml::Model::demo()
        };
        let options = DemoOptions {
            people: 10_000,
            ..DemoOptions::new(common::executables())
        };
        let report = ml::train(&options, &model, &|_| {}).unwrap();
        assert_eq!(report.epsilon, epsilon);
        let ((private_loss, plain_loss), (private_accuracy, plain_accuracy)) =
            (report.log_loss, report.accuracy);
        assert!(
            private_loss - plain_loss < distance,
            "ε = {epsilon}: log loss {private_loss} against {plain_loss}"
        );
        assert!(
            plain_accuracy - private_accuracy < distance,
            "ε = {epsilon}: accuracy {private_accuracy} against {plain_accuracy}"
        );
        reported.push((
            epsilon,
            report.noise_sigma_per_round,
            report.log_loss,
            report.accuracy,
        ));
    }
    // Ten times the ε, a tenth of the noise.
    assert!(reported[1].1 < reported[0].1 / 5.0, "{reported:?}");
    println!(
        "ε, σ per round, (log loss private, plaintext), (accuracy private, plaintext): {reported:?}"
    );
}

#[test]
fn a_module_the_operator_swaps_is_refused_before_any_key_is_requested() {
    let (d, _) = ml::start(
        &options(),
        &ml::Model::demo(),
        &ml::module_digest(),
        &|_| {},
    )
    .unwrap();
    publish(&d, MODULE);
    // The operator controls the host's disk: it replaces the published module's bytes.
    let stored = d
        .dir
        .join("host/blobs/programs")
        .join(format!("{}.wasm", ml::module_digest()));
    let mut other = MODULE.to_vec();
    // A custom section: still a valid module, with other bytes.
    other.extend_from_slice(&[0, 5, 4, b'e', b'v', b'i', b'l']);
    std::fs::write(&stored, &other).unwrap();
    let job = d.run_job().unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    let error = job.error.unwrap();
    assert_eq!(error.code, "module-mismatch", "{}", error.message);
    assert!(
        error.message.contains(&hex::encode(Sha256::digest(&other))),
        "{}",
        error.message
    );
    assert_eq!(common::spent(&d), 0, "no budget spent");
    assert_eq!(releases_logged(&d), 0, "no key released");
}

#[test]
fn an_unpublished_module_is_refused_by_the_host() {
    let digest = "ab".repeat(32);
    let (d, _) = ml::start(&options(), &ml::Model::demo(), &digest, &|_| {}).unwrap();
    // The agreement checks out, and says what noise each round gets.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sealroom"))
        .args(["agreement", "check"])
        .arg(d.dir.join("agreement.signed.json"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("noise: discrete-gaussian with parameter"),
        "{text}"
    );
    assert!(text.contains(&format!("(1/{} of ε)", ml::ROUNDS)), "{text}");
    let refused = sealroom_party::runs::request_run(
        &d.host,
        &d.advertiser.identity,
        d.agreement.id,
        &SystemClock,
    )
    .unwrap_err();
    assert!(
        refused.to_string().contains("is published on this host"),
        "{refused}"
    );
    assert_eq!(common::spent(&d), 0);
}

#[test]
fn a_guest_that_loops_forever_fails_with_its_fuel_limit_and_releases_nothing() {
    let looping = wat::parse_str(
        r#"(module (memory (export "memory") 1)
            (func (export "sealroom_abi_version") (result i32) i32.const 2)
            (func (export "sealroom_input") (param i32) (result i32) i32.const 1024)
            (func (export "sealroom_init") (result i64)
                (i32.store (i32.const 0) (i32.const 4))
                (i64.const 0x2400000000))
            (func (export "sealroom_contribute") (result i64) (loop $l (br $l)) (i64.const 0))
            (func (export "sealroom_update") (result i64) (unreachable)))"#,
    )
    .unwrap();
    let digest = hex::encode(Sha256::digest(&looping));
    let (d, _) = ml::start(&options(), &ml::Model::demo(), &digest, &|_| {}).unwrap();
    assert!(publish(&d, &looping) > 0);
    let job = d.run_job().unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    let error = job.error.unwrap();
    assert_eq!(error.code, "program-failed");
    assert!(
        error
            .message
            .contains("sealroom_contribute ran out of fuel (limit: 10000000 per call)"),
        "{}",
        error.message
    );
    // Keys were released (the run is debited up front) but nothing was stored for any reader.
    assert!(common::spent(&d) > 0);
    assert!(d.host.outputs(&d.advertiser.identity, &job.job_id).is_err());
}

/// The refusal a publication gets from the host, as its problem code and detail.
fn refusal(error: sealroom_http::HttpError) -> (String, u16, String) {
    match error {
        sealroom_http::HttpError::Refused(p) => (
            p.kind.rsplit(':').next().unwrap().to_string(),
            p.status,
            p.detail,
        ),
        other => panic!("expected a refusal, got {other}"),
    }
}

/// Sends the head of a publication announcing `length` bytes, and no body: the status the host
/// answers within 10 s.
fn stalled_publish(url: &str, authorization: Option<&str>, length: u64) -> String {
    use std::io::{Read as _, Write as _};
    let address = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let authorization = authorization
        .map(|a| format!("authorization: {a}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "POST /v1/programs HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\n\
         {authorization}content-length: {length}\r\n\r\n{{"
    )
    .unwrap();
    let mut head = [0u8; 12];
    stream
        .read_exact(&mut head)
        .expect("an answer before the body");
    String::from_utf8_lossy(&head[9..12]).into_owned()
}

fn programs_published(host: &common::LogHost) -> usize {
    logged(&host.process.url, &host.key(), |s| {
        matches!(s, sealroom_ledger::Statement::ProgramPublished { .. })
    })
}

#[test]
fn only_a_served_party_publishes_in_its_own_name_and_a_publication_is_never_replaced() {
    use sealroom_crypto::Identity;
    use sealroom_host::programs::PublishProgram;
    use sealroom_party::programs::sign_publication;

    let host = common::start_log_host();
    let provider = Identity::generate("provider", None).unwrap();
    let other_party = Identity::generate("other-party", None).unwrap();
    let outsider = Identity::generate("outsider", None).unwrap();
    host.onboard(&[provider.card(), other_party.card()]);
    let client = host.client();
    let doc = "Computes what its README says.".to_string();
    let send = |sender: &Identity, publication, module: &[u8], documentation: &str| {
        client.publish_program(
            sender,
            &PublishProgram {
                publication,
                module: module.to_vec(),
                documentation: documentation.into(),
            },
        )
    };
    let sign = |who: &Identity, module: &[u8], documentation: &str| {
        sign_publication(who, "model", module, documentation, None, &SystemClock).unwrap()
    };

    // Unsigned, an outsider's, or larger than the host takes: refused while the body (90 MB
    // announced, never sent) has not arrived.
    let now = || sealroom_core::clock::Clock::now(&SystemClock);
    let outsiders = outsider.sign_request("POST", "/v1/programs", now());
    let providers = provider.sign_request("POST", "/v1/programs", now());
    for (authorization, length, status) in [
        (None, 90_000_000, "401"),
        (Some(outsiders.as_str()), 90_000_000, "403"),
        (Some(providers.as_str()), 200_000_000, "413"),
    ] {
        assert_eq!(
            stalled_publish(&host.process.url, authorization, length),
            status,
            "{authorization:?}"
        );
    }

    // An outsider: not a party this host serves.
    let (code, status, detail) =
        refusal(send(&outsider, sign(&outsider, MODULE, &doc), MODULE, &doc).unwrap_err());
    assert_eq!(
        (code.as_str(), status),
        ("publisher-not-served", 403),
        "{detail}"
    );

    // A served party publishing in another's name.
    let mut forged = sign(&other_party, MODULE, &doc);
    forged.publication.provider = provider.card().fingerprint().unwrap();
    let (code, status, detail) = refusal(send(&other_party, forged, MODULE, &doc).unwrap_err());
    assert_eq!(
        (code.as_str(), status),
        ("bad-publication", 422),
        "{detail}"
    );
    assert!(
        detail.contains("the request is signed by other-party, the publication names provider"),
        "{detail}"
    );

    // The provider's publication, changed after it signed it.
    let mut changed = sign(&provider, MODULE, &doc);
    changed.publication.name = "another-name".into();
    let (code, _, detail) = refusal(send(&provider, changed, MODULE, &doc).unwrap_err());
    assert_eq!(code, "bad-publication");
    assert!(
        detail.contains("is not signed by provider's key"),
        "{detail}"
    );

    // A genuine signature over other bytes or documentation than those sent, or over bytes
    // that are not Wasm.
    let mut other_module = MODULE.to_vec();
    other_module.extend_from_slice(&[0, 2, 1, b'x']);
    for (signed_module, sent_module, sent_doc, expected) in [
        (
            MODULE,
            other_module.as_slice(),
            doc.as_str(),
            "the module sent is",
        ),
        (MODULE, MODULE, "Other words.", "documentation sent is not"),
        (
            b"not wasm".as_slice(),
            b"not wasm".as_slice(),
            doc.as_str(),
            "not a WebAssembly module",
        ),
    ] {
        let publication = sign(&provider, signed_module, &doc);
        let (code, _, detail) =
            refusal(send(&provider, publication, sent_module, sent_doc).unwrap_err());
        assert_eq!(code, "bad-publication");
        assert!(detail.contains(expected), "{detail}");
    }
    assert_eq!(programs_published(&host), 0, "nothing refused is logged");
    let digest = ml::module_digest();
    assert!(
        client.program(&digest).is_err(),
        "nothing refused is stored"
    );

    // The provider publishes; sending the same publication again changes nothing.
    let genuine = sign(&provider, MODULE, &doc);
    let first = send(&provider, genuine.clone(), MODULE, &doc).unwrap();
    assert!(first.new);
    let again = send(&provider, genuine.clone(), MODULE, &doc).unwrap();
    assert_eq!((again.new, again.log_index), (false, first.log_index));

    // Another served party, or the provider itself, cannot replace that publication: not with
    // its own name, nor with other documentation.
    for (who, documentation) in [(&other_party, doc.as_str()), (&provider, "Other words.")] {
        let (code, status, detail) = refusal(
            send(who, sign(who, MODULE, documentation), MODULE, documentation).unwrap_err(),
        );
        assert_eq!(
            (code.as_str(), status),
            ("program-published-otherwise", 409),
            "{detail}"
        );
    }
    let stored = client.program(&digest).unwrap();
    assert_eq!(stored.publication, genuine);
    assert_eq!(stored.documentation, doc);
    stored.publication.verify(&provider.card()).unwrap();
    assert_eq!(programs_published(&host), 1);
}

#[test]
fn bench_wasm_runs_overlap_builtin_per_person_and_vetted_through_the_real_services() {
    let report = sealroom_json(&["bench", "wasm", "--rows", "3000", "--json"]);
    let jobs = report["jobs"].as_array().unwrap();
    let programs: Vec<&str> = jobs
        .iter()
        .map(|j| j["program"].as_str().unwrap())
        .collect();
    assert_eq!(programs, ["builtin", "wasm per_person", "wasm vetted"]);
    // Each released table states how it was made; the built-in's carries no Wasm facts.
    let modes: Vec<Option<&str>> = jobs.iter().map(|j| j["mode"].as_str()).collect();
    assert_eq!(modes, [None, Some("per_person"), Some("vetted")]);
    for job in jobs {
        assert_eq!(job["rows"], 4, "every declared campaign released: {job}");
        // Laplace noise of scale 2 (ε = 1, two groups per person): 60 away has probability
        // e⁻³⁰ per count.
        let (error, bound) = (
            job["max_error"].as_u64().unwrap(),
            job["error_bound_95"].as_u64().unwrap(),
        );
        assert!(bound > 0 && bound < 20, "{job}");
        assert!(error <= 10 * bound, "{job}");
        assert!(job["job_seconds"].as_f64().unwrap() > 0.0, "{job}");
    }
    assert!(report["people"].as_u64().unwrap() > 2_000, "{report}");
    assert_eq!(
        report["module"].as_str().unwrap(),
        hex::encode(Sha256::digest(sealroom_cli::demo::OVERLAP_MODULE))
    );
}
