//! Real TEE evidence (shared/vectors: AMD SEV-SNP reports, Intel TDX and SGX quotes, AWS Nitro
//! documents) presented to a real `sealroom broker` process whose evidence clock is pinned to a
//! time inside each sample's certificates, under an agreement that names the samples' own
//! measurements. Genuine samples get through every evidence check and are refused only because
//! they cannot bind this run's nonce and isolate key (they were made long ago, for other
//! challenges); altered, expired, debug, out-of-date and unapproved ones are refused by name.
//! Nothing is ever released, logged or debited.

mod common;

use std::collections::BTreeMap;

use common::{Terms, agreement, envelope_header, refusal_code, registration, sign};
use sealroom_attest::SimPlatformKey;
use sealroom_broker::client::BrokerClient;
use sealroom_core::agreement::SignedAgreement;
use sealroom_core::attestation::{Evidence, Platform};
use sealroom_core::clock::{Clock, SystemClock};
use sealroom_core::ids::{Digest, Measurement};
use sealroom_core::runtime::TcbStatus;
use sealroom_core::statement::Decision;
use sealroom_core::wire::{Challenge, ChallengeRequest, ReleaseRequest};
use sealroom_crypto::Identity;
use sealroom_http::JsonClient;
use sealroom_isolate::keys::EphemeralIdentity;
use sealroom_party::authoring::RuntimeToml;
use sealroom_vectors::evidence::{dcap, nitro, snp};

const FILE: Digest = Digest([5; 32]);

/// 2025-06-01: inside the SNP samples' VCEK and VLEK validity.
const SNP_TIME: &str = "2025-06-01T00:00:00Z";
/// 2025-07-01: inside the 2025 DCAP samples' collateral.
const DCAP_TIME: &str = "2025-07-01T00:00:00Z";
/// 2026-03-01: inside the out-of-date TDX sample's collateral.
const OUTDATED_TDX_TIME: &str = "2026-03-01T00:00:00Z";
/// Inside the Nitro beta document's chain (its leaf lives three hours).
const NITRO_BETA_TIME: &str = "2022-10-13T11:20:00Z";
/// Inside the Nitro GA document's chain.
const NITRO_GA_TIME: &str = "2023-09-18T15:13:20Z";

const SNP_VCEK_MEASUREMENT: &str = "a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c23500644e0e692e6be917f9050d3d38c";
const SNP_VLEK_MEASUREMENT: &str = "8922ebbdd00ec2c541f36a6e7a82a8773a7accb451ed67bc94e740dbe92c93c4e8c9af857f5ceeb5a493df2a570d7bf0";
const TDX_MRTD: &str = "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7";
const TDX_RTMR0: &str = "44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0";
const TDX_RTMR1: &str = "0084452c01668329d4bc06acdf58a7205c26743304509973949e5619bf81a6a7aea8c323c173019b3093d54e579e9378";
const TDX_RTMR2: &str = "d833feef2cd945148aa38ead2c53e9b7f138190aaaebfc551dccd829fc207aa3ba80b70870d7330733642e01d48c3132";
const SGX_MRENCLAVE: &str = "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb";
const NITRO_BETA_PCRS: [&str; 3] = [
    "f4d48b81a460c9916d1e685119074bf24660afd3e34fae9fca0a0d28d9d5599936332687e6f66fc890ac8cf150142d8b",
    "bcdf05fefccaa8e55bf2c8d6dee9e79bbff31e34bf28a99aa19e6b29c37ee80b214a414b7607236edf26fcb78654e63f",
    "d8f114da658de5481f8d9ec73907feb553560787522f705c92d7d96beed8e15e2aa611984e098c576832c292e8dc469a",
];

fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, toml::Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), toml::Value::String(v.to_string())))
        .collect()
}

fn hardware(platform: Platform, accept: Vec<BTreeMap<String, toml::Value>>) -> RuntimeToml {
    RuntimeToml {
        platform,
        measurements: Vec::new(),
        accept,
        accept_tcb_status: Vec::new(),
        min_tcb: BTreeMap::new(),
    }
}

/// The samples' own measurements, as an agreement names them. SGX accepts only `UpToDate`
/// (the sample's platform needs configuration and hardening); SNP requires the VCEK sample's
/// TCB.
fn runtimes() -> Vec<RuntimeToml> {
    let mut snp = hardware(
        Platform::SevSnp,
        vec![
            fields(&[("measurement", SNP_VCEK_MEASUREMENT), ("vmpl", "0")]),
            fields(&[("measurement", SNP_VLEK_MEASUREMENT)]),
        ],
    );
    snp.min_tcb = BTreeMap::from([("snp".to_string(), 8), ("microcode".to_string(), 115)]);
    vec![
        snp,
        hardware(
            Platform::Tdx,
            vec![fields(&[
                ("mrtd", TDX_MRTD),
                ("rtmr0", TDX_RTMR0),
                ("rtmr1", TDX_RTMR1),
                ("rtmr2", TDX_RTMR2),
            ])],
        ),
        hardware(Platform::Sgx, vec![fields(&[("mrenclave", SGX_MRENCLAVE)])]),
        hardware(
            Platform::Nitro,
            vec![fields(&[
                ("pcr0", NITRO_BETA_PCRS[0]),
                ("pcr1", NITRO_BETA_PCRS[1]),
                ("pcr2", NITRO_BETA_PCRS[2]),
            ])],
        ),
    ]
}

/// An owner's broker verifying evidence as of `evidence_time`, with the agreement, a registered
/// envelope and the owner's approvals of the runtimes `approved` (by platform and position).
struct Room {
    log: common::LogHost,
    owner: common::OwnerBroker,
    reader: Identity,
    agreement: SignedAgreement,
    header: sealroom_crypto::EnvelopeHeader,
    client: JsonClient,
}

impl Room {
    fn start(
        evidence_time: &str,
        runtimes: Vec<RuntimeToml>,
        approved: &[(Platform, usize)],
    ) -> Room {
        let log = common::start_log_host();
        let owner = common::start_owner_broker_with(
            "alice",
            &SimPlatformKey::generate(),
            &log,
            &["--evidence-time", evidence_time],
        );
        let reader = Identity::generate("bob", Some("http://127.0.0.1:9".into())).unwrap();
        let terms = Terms {
            runtimes,
            ..Terms::default()
        };
        let agreement = agreement(&owner.identity, &reader, &Measurement([7; 32]), &terms);
        log.publish(&agreement);
        let (header, _, _) = envelope_header(&owner.identity, &agreement, "visits");
        let broker = BrokerClient::new(&owner.process.url);
        broker
            .register(&registration(&owner.identity, &header, FILE))
            .unwrap();
        for &(platform, index) in approved {
            let id = agreement.agreement.accepted_measurements(platform)[index];
            let decision = sealroom_party::owner::decide(
                &owner.identity,
                &SystemClock,
                agreement.id,
                platform,
                id,
                Decision::Approve,
            )
            .unwrap();
            assert!(broker.decide(&decision).unwrap());
        }
        Room {
            log,
            owner,
            reader,
            agreement,
            header,
            client: JsonClient::default(),
        }
    }

    /// Presents `evidence` in an otherwise well-formed release request for a fresh run; returns
    /// the refusal code and its detail.
    fn present(&self, evidence: Evidence) -> (String, String) {
        let run_request = self
            .reader
            .sign_run_request(self.agreement.id, SystemClock.now());
        let challenge: Challenge = self
            .client
            .post(
                &format!("{}/v1/challenges", self.owner.process.url),
                &ChallengeRequest {
                    agreement: self.agreement.clone(),
                    run_request: run_request.clone(),
                },
            )
            .unwrap();
        let isolate = EphemeralIdentity::generate();
        let request = ReleaseRequest {
            agreement: self.agreement.clone(),
            run_request,
            dataset: "visits".into(),
            nonce: challenge.nonce,
            isolate_keys: isolate.public(),
            evidence,
            header: self.header.clone(),
            envelope_digest: FILE,
            dry_run: false,
        };
        let answer = self.client.post(
            &format!("{}/v1/releases", self.owner.process.url),
            &sign(&isolate, &request),
        );
        let detail = match &answer {
            Err(sealroom_http::HttpError::Refused(p)) => p.detail.clone(),
            _ => String::new(),
        };
        (refusal_code(answer), detail)
    }

    /// Nothing was released, debited or logged as a release, and every refusal was recorded.
    fn assert_nothing_released(&self, refusals: usize) {
        let broker = BrokerClient::new(&self.owner.process.url);
        assert!(broker.releases(&self.owner.identity).unwrap().is_empty());
        let spent: u64 = broker
            .budgets(&self.owner.identity)
            .unwrap()
            .iter()
            .map(|b| b.spent_micros)
            .sum();
        assert_eq!(spent, 0);
        assert_eq!(
            broker.refusals(&self.owner.identity).unwrap().len(),
            refusals
        );
        common::assert_no_release_logged(&self.log);
    }
}

fn flip(mut evidence: Evidence, at: usize) -> Evidence {
    let len = evidence.bytes.len();
    evidence.bytes[at.min(len - 1)] ^= 0x01;
    evidence
}

#[test]
fn snp_reports_pass_every_check_but_the_binding_and_altered_ones_are_refused() {
    let room = Room::start(SNP_TIME, runtimes(), &[(Platform::SevSnp, 0)]);
    let vcek = snp("test-report.bin", "test-vcek.der");
    let mut presented = 0;
    let mut expect = |evidence: Evidence, code: &str, detail: &str| {
        let (got, text) = room.present(evidence);
        presented += 1;
        assert_eq!(got, code, "{text}");
        assert!(text.contains(detail), "{code}: {text}");
    };
    // Genuine, matching, approved: refused only because it binds another challenge.
    expect(vcek.clone(), "report-data-mismatch", "report data");
    // The VLEK sample verifies and matches the second runtime, which the owner never approved.
    expect(
        snp("test-vlek-report.bin", "test-vlek.der"),
        "measurement-not-approved",
        "has not been approved",
    );
    // One bit flipped in the signature (at 0x2A0 + 8), and in the signed measurement (0x90).
    expect(flip(vcek.clone(), 0x2A8), "evidence-invalid", "signature");
    expect(flip(vcek.clone(), 0x90), "evidence-invalid", "signature");
    // VCEK-shaped certificates AMD's ASK did not sign.
    for bad in ["test-vcek-invalid-legacy.der", "test-vcek-invalid-new.der"] {
        expect(
            snp("test-report.bin", bad),
            "evidence-invalid",
            "not signed by AMD's ASK",
        );
    }
    // One bit flipped in the VCEK certificate's signature.
    let mut altered = vcek.clone();
    let cert = altered.endorsements.as_mut().unwrap();
    let last = cert.len() - 1;
    cert[last] ^= 0x01;
    expect(altered, "evidence-invalid", "VCEK");
    room.assert_nothing_released(presented);
}

#[test]
fn snp_policy_refuses_a_tcb_below_the_minimum_and_an_unlisted_runtime() {
    let mut strict = runtimes();
    strict[0].min_tcb.insert("snp".into(), 9);
    let room = Room::start(SNP_TIME, strict, &[(Platform::SevSnp, 0)]);
    let (code, detail) = room.present(snp("test-report.bin", "test-vcek.der"));
    assert_eq!(code, "tcb-not-accepted", "{detail}");
    assert!(
        detail.contains("snp version is 8, below the agreement's minimum 9"),
        "{detail}"
    );

    let mut other = runtimes();
    other[0].accept.remove(0);
    other[0].min_tcb.clear();
    let room = Room::start(SNP_TIME, other, &[(Platform::SevSnp, 0)]);
    let (code, detail) = room.present(snp("test-report.bin", "test-vcek.der"));
    assert_eq!(code, "measurement-not-in-agreement", "{detail}");
    assert!(detail.contains(SNP_VCEK_MEASUREMENT), "{detail}");
    room.assert_nothing_released(1);
}

#[test]
fn dcap_quotes_are_judged_by_tcb_status_and_measurement() {
    let room = Room::start(
        DCAP_TIME,
        runtimes(),
        &[(Platform::Tdx, 0), (Platform::Sgx, 0)],
    );
    let tdx = dcap(Platform::Tdx, "tdx_quote");
    let (code, detail) = room.present(tdx.clone());
    assert_eq!(code, "report-data-mismatch", "{detail}");
    // The SGX platform is ConfigurationAndSWHardeningNeeded, which this agreement does not accept.
    let (code, detail) = room.present(dcap(Platform::Sgx, "sgx_quote"));
    assert_eq!(code, "tcb-not-accepted", "{detail}");
    assert!(
        detail.contains("ConfigurationAndSWHardeningNeeded"),
        "{detail}"
    );
    assert!(detail.contains("INTEL-SA-00615"), "{detail}");
    // A quote's body altered (a byte of MRTD, at 48 + 136), and its ECDSA signature (after the
    // 584-byte TD report and the 4-byte signature data length).
    let (code, _) = room.present(flip(tdx.clone(), 48 + 136));
    assert_eq!(code, "evidence-invalid");
    let (code, _) = room.present(flip(tdx.clone(), 48 + 584 + 4 + 10));
    assert_eq!(code, "evidence-invalid");
    // A TDX quote presented as SGX evidence.
    let mut mislabeled = tdx.clone();
    mislabeled.platform = Platform::Sgx;
    let (code, detail) = room.present(mislabeled);
    assert_eq!(code, "evidence-invalid", "{detail}");
    // Without its collateral.
    let mut bare = tdx;
    bare.endorsements = None;
    let (code, detail) = room.present(bare);
    assert_eq!(code, "evidence-invalid", "{detail}");
    assert!(detail.contains("collateral"), "{detail}");
    room.assert_nothing_released(6);
}

#[test]
fn an_agreement_may_accept_the_sgx_platforms_status_and_nothing_accepts_an_outdated_tdx() {
    let mut lenient = runtimes();
    lenient[2].accept_tcb_status = vec![TcbStatus::ConfigurationAndSwHardeningNeeded];
    let room = Room::start(DCAP_TIME, lenient, &[(Platform::Sgx, 0)]);
    let (code, detail) = room.present(dcap(Platform::Sgx, "sgx_quote"));
    assert_eq!(code, "report-data-mismatch", "{detail}");
    room.assert_nothing_released(1);

    let room = Room::start(OUTDATED_TDX_TIME, runtimes(), &[(Platform::Tdx, 0)]);
    let (code, detail) = room.present(dcap(Platform::Tdx, "tdx_quote_outdated"));
    assert_eq!(code, "tcb-not-accepted", "{detail}");
    assert!(detail.contains("OutOfDate"), "{detail}");
    room.assert_nothing_released(1);
}

#[test]
fn nitro_documents_from_debug_enclaves_altered_or_out_of_time_are_refused() {
    let room = Room::start(NITRO_BETA_TIME, runtimes(), &[(Platform::Nitro, 0)]);
    let beta = nitro("beta/valid-attestation-doc-bytes");
    let (code, detail) = room.present(beta.clone());
    assert_eq!(code, "report-data-mismatch", "{detail}");
    // The signature is the document's last bytes.
    let end = beta.bytes.len() - 1;
    let (code, _) = room.present(flip(beta.clone(), end));
    assert_eq!(code, "evidence-invalid");
    // A document whose chain is not valid yet (the GA document, made in 2023).
    let (code, detail) = room.present(nitro("valid-attestation-doc-base64"));
    assert_eq!(code, "evidence-invalid", "{detail}");
    assert!(detail.contains("not valid at"), "{detail}");
    room.assert_nothing_released(3);

    // The GA sample is from a debug-mode enclave (all-zero PCRs).
    let room = Room::start(NITRO_GA_TIME, runtimes(), &[(Platform::Nitro, 0)]);
    let (code, detail) = room.present(nitro("valid-attestation-doc-base64"));
    assert_eq!(code, "debug-mode", "{detail}");
    // The beta document, after its chain expired.
    let (code, detail) = room.present(beta);
    assert_eq!(code, "evidence-invalid", "{detail}");
    assert!(detail.contains("not valid at"), "{detail}");
    room.assert_nothing_released(2);
}

/// `sealroom evidence verify`, as an owner reviewing a platform runs it.
fn evidence_verify(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sealroom"))
        .arg("evidence")
        .arg("verify")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn owners_review_evidence_with_the_cli() {
    let path = |relative: &str| {
        sealroom_vectors::shared(env!("CARGO_MANIFEST_DIR"), &format!("vectors/{relative}"))
            .display()
            .to_string()
    };
    let quote = path("tdx-sgx/sample/sgx_quote");
    let collateral = path("tdx-sgx/sample/sgx_quote_collateral.json");
    let (code, stdout, stderr) = evidence_verify(&[
        &quote,
        "--platform",
        "sgx",
        "--collateral",
        &collateral,
        "--at",
        DCAP_TIME,
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("ConfigurationAndSWHardeningNeeded"),
        "{stdout}"
    );
    assert!(stdout.contains("INTEL-SA-00615"), "{stdout}");
    assert!(stdout.contains(SGX_MRENCLAVE), "{stdout}");

    // Against an agreement: the SGX status is not accepted there (exit 1), while the TDX quote
    // matches and its runtime id is the one `agreement show` lists.
    let dir = tempfile::tempdir().unwrap();
    let owner = Identity::generate("alice", Some("http://127.0.0.1:9".into())).unwrap();
    let reader = Identity::generate("bob", Some("http://127.0.0.1:9".into())).unwrap();
    let signed = agreement(
        &owner,
        &reader,
        &Measurement([7; 32]),
        &Terms {
            runtimes: runtimes(),
            ..Terms::default()
        },
    );
    let agreement_file = dir.path().join("agreement.signed.json");
    std::fs::write(&agreement_file, serde_json::to_vec(&signed).unwrap()).unwrap();
    let agreement_arg = agreement_file.display().to_string();
    let (code, _, stderr) = evidence_verify(&[
        &quote,
        "--platform",
        "sgx",
        "--collateral",
        &collateral,
        "--at",
        DCAP_TIME,
        "--agreement",
        &agreement_arg,
    ]);
    assert_eq!(code, 1);
    assert!(stderr.contains("not accepted by agreement"), "{stderr}");
    let (code, stdout, stderr) = evidence_verify(&[
        &path("tdx-sgx/sample/tdx_quote"),
        "--platform",
        "tdx",
        "--collateral",
        &path("tdx-sgx/sample/tdx_quote_collateral.json"),
        "--at",
        DCAP_TIME,
        "--agreement",
        &agreement_arg,
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let printed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        printed["runtime"],
        signed.agreement.accepted_measurements(Platform::Tdx)[0].to_string()
    );
    assert_eq!(printed["claims"]["tcb"]["status"], "UpToDate");

    // A debug enclave's document verifies, and is refused.
    let (code, stdout, stderr) = evidence_verify(&[
        &path("nitro/test-data/valid-attestation-doc-base64"),
        "--platform",
        "nitro",
        "--at",
        NITRO_GA_TIME,
    ]);
    assert_eq!(code, 1);
    assert!(stdout.contains("debug        YES"), "{stdout}");
    assert!(stderr.contains("debug-mode TEE"), "{stderr}");
    // The same document today: its chain expired in 2023.
    let (code, _, stderr) = evidence_verify(&[
        &path("nitro/test-data/valid-attestation-doc-base64"),
        "--platform",
        "nitro",
    ]);
    assert_eq!(code, 1);
    assert!(stderr.contains("not valid at"), "{stderr}");
    // Raw bytes need their platform named.
    let (code, _, stderr) = evidence_verify(&[&quote]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--platform"), "{stderr}");
}
