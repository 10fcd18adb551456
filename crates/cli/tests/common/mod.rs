//! Helpers shared by the integration tests: real binaries, real processes, loopback only.
#![allow(dead_code)]

use std::path::PathBuf;

use sealroom_attest::{SimAttester, SimPlatformKey};
use sealroom_cli::services::{Executables, Pins, ServiceProcess};
use sealroom_core::agreement::{AGREEMENT_FORMAT, NoiseMechanism, OutputTerms, SignedAgreement};
use sealroom_core::bytes;
use sealroom_core::ids::{Digest, Measurement};
use sealroom_core::schema::{Column, ColumnType};
use sealroom_crypto::envelope::{HeaderParams, new_header};
use sealroom_crypto::{DataKey, EnvelopeHeader, Identity};
use sealroom_party::agreement_file;
use sealroom_party::authoring::{
    AgreementToml, DatasetToml, PartyToml, PrivacyToml, ProgramToml, RunsToml, RuntimeToml,
    TomlTime,
};
use sealroom_programs::BuiltinCatalog;

/// The binaries under test.
pub fn executables() -> Executables {
    Executables::beside(PathBuf::from(env!("CARGO_BIN_EXE_sealroom")))
        .expect("sealroom-isolate is built beside sealroom")
}

/// Terms of a test agreement.
pub struct Terms {
    pub name: &'static str,
    pub valid_from: &'static str,
    pub valid_until: &'static str,
    pub epsilon: f64,
    pub total: f64,
    /// The `[runs]` terms, if any.
    pub runs: Option<RunsToml>,
    /// The accepted runtimes; empty: the simulator with the measurement given.
    pub runtimes: Vec<RuntimeToml>,
}

impl Default for Terms {
    fn default() -> Self {
        Self {
            name: "test",
            valid_from: "2020-01-01T00:00:00Z",
            valid_until: "2100-01-01T00:00:00Z",
            epsilon: 1.0,
            total: 5.0,
            runs: None,
            runtimes: Vec::new(),
        }
    }
}

/// What `sealroom args` prints on standard output, after checking that it succeeded.
pub fn sealroom_output<S: AsRef<std::ffi::OsStr>>(args: impl IntoIterator<Item = S>) -> Vec<u8> {
    let out = std::process::Command::new(&executables().sealroom)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// An agreement where `owner` owns `visits` and `other` owns `orders` and reads the overlap.
pub fn agreement(
    owner: &Identity,
    other: &Identity,
    measurement: &Measurement,
    terms: &Terms,
) -> SignedAgreement {
    let (an, bn) = (owner.name().to_string(), other.name().to_string());
    let dataset = |owner: &str, name: &str, columns: &[&str]| DatasetToml {
        owner: owner.into(),
        name: name.into(),
        person_column: "id".into(),
        columns: columns
            .iter()
            .map(|c| Column::new(*c, ColumnType::String))
            .collect(),
    };
    let mut params = toml::Table::new();
    params.insert("left".into(), format!("{an}/visits").into());
    params.insert("right".into(), format!("{bn}/orders").into());
    params.insert("group_column".into(), "site".into());
    params.insert(
        "groups".into(),
        toml::Value::Array(vec!["a".into(), "b".into()]),
    );
    let authored = AgreementToml {
        format: AGREEMENT_FORMAT.into(),
        name: terms.name.into(),
        valid_from: TomlTime::Text(terms.valid_from.into()),
        valid_until: TomlTime::Text(terms.valid_until.into()),
        parties: vec![
            PartyToml::from_card(&owner.card()),
            PartyToml::from_card(&other.card()),
        ],
        datasets: vec![
            dataset(&an, "visits", &["id", "site"]),
            dataset(&bn, "orders", &["id"]),
        ],
        program: ProgramToml {
            id: "overlap".into(),
            version: 1,
            params,
        },
        runtimes: if terms.runtimes.is_empty() {
            vec![RuntimeToml::sim(vec![measurement.to_string()])]
        } else {
            terms.runtimes.clone()
        },
        outputs: vec![OutputTerms {
            name: "overlap".into(),
            readers: vec![bn.clone()],
        }],
        privacy: PrivacyToml {
            epsilon_per_run: terms.epsilon,
            delta_per_run: 1e-9,
            total_epsilon_per_dataset: terms.total,
            max_groups_per_person: 1,
            max_rows_per_person_per_group: None,
            max_rows_per_person: None,
            min_aggregation: None,
            noise: NoiseMechanism::DiscreteLaplace,
        },
        runs: terms.runs.clone(),
    };
    let text = authored.to_toml();
    let mut signed = SignedAgreement::unsigned(
        sealroom_party::authoring::compile(&text, &BuiltinCatalog)
            .expect("test agreement is valid"),
    );
    agreement_file::sign(&mut signed, owner).unwrap();
    agreement_file::sign(&mut signed, other).unwrap();
    signed
}

/// A real host process serving the transparency log (and the rest of the host's API).
pub struct LogHost {
    pub process: ServiceProcess,
    pub log_key: String,
    pub dir: tempfile::TempDir,
}

impl LogHost {
    /// Onboards the agreement's parties and publishes it, so that they may write to the log.
    pub fn publish(&self, agreement: &SignedAgreement) {
        self.onboard(&agreement.agreement.parties);
        sealroom_host::client::HostClient::new(&self.process.url)
            .publish(agreement)
            .unwrap();
    }

    /// Onboards parties, as the operator does with `sealroom host party add`.
    pub fn onboard(&self, cards: &[sealroom_core::party::PartyCard]) {
        sealroom_cli::services::onboard(&self.dir.path().join("host"), cards).unwrap();
    }

    /// A client of this host.
    pub fn client(&self) -> sealroom_host::client::HostClient {
        sealroom_host::client::HostClient::new(&self.process.url)
    }

    /// The pinned log key.
    pub fn key(&self) -> sealroom_ledger::LogVerifierKey {
        self.log_key.parse().unwrap()
    }
}

/// Starts a host whose data lives in `dir` (reused across restarts).
pub fn start_host_in(dir: tempfile::TempDir) -> LogHost {
    start_host_with(dir, &[])
}

/// Starts a host whose data lives in `dir`, with further `sealroom host` arguments.
pub fn start_host_with(dir: tempfile::TempDir, extra: &[&str]) -> LogHost {
    let process = executables()
        .start_host_with(&dir.path().join("host"), extra)
        .expect("host starts");
    let platform = sealroom_host::client::HostClient::new(&process.url)
        .platform()
        .unwrap();
    LogHost {
        process,
        log_key: platform.log_key,
        dir,
    }
}

/// Starts a fresh host (and so a fresh log).
pub fn start_log_host() -> LogHost {
    start_host_in(tempfile::tempdir().unwrap())
}

/// A broker process for `owner`, accepting simulator evidence from `platform`.
pub struct OwnerBroker {
    pub identity: Identity,
    pub process: ServiceProcess,
    pub dir: tempfile::TempDir,
}

/// A broker for a new owner `name` that logs to `log`, with extra `sealroom broker` arguments.
/// The owner's card names the address the broker reported.
pub fn start_owner_broker_with(
    name: &str,
    platform: &SimPlatformKey,
    log: &LogHost,
    extra: &[&str],
) -> OwnerBroker {
    let dir = tempfile::tempdir().unwrap();
    let identity = Identity::generate(name, None).unwrap();
    let key = dir.path().join("owner.key");
    identity.write_key_file(&key).unwrap();
    let process = executables()
        .start_broker(
            &key,
            &dir.path().join("broker"),
            &Pins {
                sim_key: bytes::encode(&platform.public().0),
                log_url: log.process.url.clone(),
                log_key: log.log_key.clone(),
            },
            extra,
        )
        .expect("broker starts");
    let identity = identity.with_broker_url(process.url.clone());
    OwnerBroker {
        identity,
        process,
        dir,
    }
}

/// An envelope header for `owner`'s dataset under `agreement`, signed by `owner` (which may be an
/// impostor using the owner's name), with its digest and data key.
pub fn envelope_header(
    owner: &Identity,
    agreement: &SignedAgreement,
    dataset: &str,
) -> (EnvelopeHeader, Digest, DataKey) {
    let terms = agreement
        .agreement
        .dataset(owner.name(), dataset)
        .expect("dataset");
    let params = HeaderParams {
        owner,
        agreement: agreement.id,
        dataset,
        schema_digest: terms.schema.digest().unwrap(),
        chunk_size: 4096,
        sealed_at_ms: next_seal_time(),
    };
    let key = DataKey::generate();
    let header = new_header(&params, &key).unwrap();
    let digest = header.digest().unwrap();
    (header, digest, key)
}

/// `owner`'s signed registration of an envelope with `header` whose whole file has `digest`.
pub fn registration(
    owner: &Identity,
    header: &EnvelopeHeader,
    digest: Digest,
) -> sealroom_core::envelope::SignedRegistration {
    owner.sign_registration(sealroom_core::envelope::EnvelopeRegistration {
        header: header.clone(),
        envelope_digest: digest,
    })
}

/// The envelope digest (`sealroom/v1/envelope`) of a whole envelope file's bytes.
pub fn file_digest(bytes: &[u8]) -> Digest {
    sealroom_core::labeled_digest(sealroom_core::labels::ENVELOPE, bytes)
}

/// A strictly increasing sealing time, so that headers made one after another are ordered.
pub fn next_seal_time() -> u64 {
    use sealroom_core::clock::Clock;
    static LAST: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let now = sealroom_core::clock::SystemClock.now_millis();
    LAST.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
    LAST.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1
}

/// A whole envelope file sealed from `csv` with `header` and `key`.
pub fn envelope_file(header: &EnvelopeHeader, key: &DataKey, csv: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut writer = sealroom_crypto::EnvelopeWriter::new(Vec::new(), header, key).unwrap();
    writer.write_all(csv).unwrap();
    writer.finish().unwrap()
}

/// A simulator attester reporting `measurement`, signing with a copy of `platform`.
pub fn attester(platform_seed: &SimPlatformKey, measurement: Measurement) -> SimAttester {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k");
    platform_seed.write(&path).unwrap();
    SimAttester::new(SimPlatformKey::read(&path).unwrap(), measurement)
}

/// `request` signed with `isolate`'s ephemeral key, as the isolate sends it.
pub fn sign(
    isolate: &sealroom_isolate::keys::EphemeralIdentity,
    request: &sealroom_core::wire::ReleaseRequest,
) -> sealroom_core::wire::SignedReleaseRequest {
    let bytes = sealroom_core::wire::SignedReleaseRequest::signed_bytes(request).unwrap();
    sealroom_core::wire::SignedReleaseRequest {
        request: request.clone(),
        signature: isolate
            .signer
            .sign(sealroom_core::labels::RELEASE_REQUEST, &bytes),
    }
}

/// The refusal code of a broker's answer (the last part of its problem type); panics on a grant.
pub fn refusal_code(
    result: Result<sealroom_core::wire::ReleaseAnswer, sealroom_http::HttpError>,
) -> String {
    match result {
        Err(sealroom_http::HttpError::Refused(p)) => p
            .kind
            .trim_start_matches("urn:sealroom:refusal:")
            .to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Nothing in `log` speaks of a release of anyone's data.
pub fn assert_no_release_logged(log: &LogHost) {
    let client =
        sealroom_ledger::LogClient::new(&log.process.url, std::time::Duration::from_secs(10));
    let checkpoint = client.checkpoint(&log.key()).unwrap();
    for bytes in client.entries(0, checkpoint.size).unwrap() {
        let entry = sealroom_ledger::LogEntry::from_bytes(&bytes).unwrap();
        assert!(
            !matches!(entry.statement, sealroom_ledger::Statement::KeyRelease(_)),
            "a refusal was logged as a release"
        );
    }
}

/// ε spent at both owners' brokers, in millionths.
pub fn spent(d: &sealroom_cli::demo::Deployment) -> u64 {
    [&d.adplatform, &d.advertiser]
        .iter()
        .flat_map(|p| p.broker.budgets(&p.identity).unwrap())
        .map(|b| b.spent_micros)
        .sum()
}

/// The isolate executable run on a job specification (any JSON: the tests also hand it broken
/// ones), with the simulator platform key at `platform_key`; returns its exit code and outcome.
pub fn run_isolate(
    spec: &impl serde::Serialize,
    platform_key: &std::path::Path,
) -> (Option<i32>, sealroom_core::wire::JobOutcome) {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let mut child = Command::new(executables().isolate)
        .env_clear()
        .env(sealroom_attest::sim::SIM_PLATFORM_KEY_ENV, platform_key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&serde_json::to_vec(spec).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).expect("the isolate answers in JSON"),
    )
}
