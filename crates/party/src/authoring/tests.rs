use super::compile;
use sealroom_core::agreement::{
    Agreement, AgreementError, DatasetTerms, ProgramCatalog, ProgramCheckError, ProgramTerms,
    SignedAgreement,
};
use sealroom_core::bytes::encode;
use sealroom_core::clock::Timestamp;

struct OneProgram;

impl ProgramCatalog for OneProgram {
    fn check_program(
        &self,
        p: &ProgramTerms,
        _: &[DatasetTerms],
    ) -> Result<Vec<String>, ProgramCheckError> {
        if p.id != "overlap" || p.version != 1 {
            return Err(ProgramCheckError::Unknown {
                id: p.id.clone(),
                version: p.version,
            });
        }
        if p.params.get("group_column").is_none() {
            return Err(ProgramCheckError::BadParameters(
                "missing group_column".into(),
            ));
        }
        Ok(vec!["overlap".into()])
    }
}

fn sample() -> String {
    format!(
        r#"
format = "sealroom-agreement/v1"
name = "test"
valid_from = 2026-01-01T00:00:00Z
valid_until = 2027-01-01T00:00:00Z

[[party]]
name = "alice"
signing_key = "{a}"
hpke_key = "{a}"
broker_url = "http://127.0.0.1:1"

[[party]]
name = "bob"
signing_key = "{b}"
hpke_key = "{b}"
broker_url = "http://127.0.0.1:2"

[[dataset]]
owner = "alice"
name = "visits"
person_column = "id"
columns = [{{ name = "id", type = "string" }}, {{ name = "site", type = "string" }}]

[program]
id = "overlap"
version = 1
params = {{ group_column = "site" }}

[[runtime]]
platform = "sim"
measurements = ["{m}"]

[[output]]
name = "overlap"
readers = ["bob"]

[privacy]
epsilon_per_run = 0.5
delta_per_run = 1e-9
total_epsilon_per_dataset = 2.0
max_groups_per_person = 1
"#,
        a = encode(&[1; 32]),
        b = encode(&[2; 32]),
        m = "ab".repeat(32)
    )
}

fn compile_with(from: &str, to: &str) -> Result<Agreement, AgreementError> {
    let text = sample();
    assert!(text.contains(from), "sample lacks {from:?}");
    compile(&text.replacen(from, to, 1), &OneProgram)
}

#[test]
fn sample_compiles_and_id_is_stable() {
    let a = compile(&sample(), &OneProgram).unwrap();
    assert_eq!(a.id(), compile(&sample(), &OneProgram).unwrap().id());
    assert_eq!(a.privacy.epsilon_per_run.micros(), 500_000);
    let mut fields = a.clone().into_fields();
    fields.privacy.max_groups_per_person = 2;
    let b = Agreement::new(fields).unwrap();
    assert_ne!(a.id(), b.id());
}

#[test]
fn written_toml_reads_back_as_the_same_agreement() {
    let authored: super::AgreementToml = toml::from_str(&sample()).unwrap();
    let written = authored.to_toml();
    assert_eq!(
        compile(&written, &OneProgram).unwrap().id(),
        compile(&sample(), &OneProgram).unwrap().id()
    );
}

#[test]
fn party_blocks_escape_what_a_card_says() {
    let mut card = sealroom_core::party::PartyCard {
        format: sealroom_core::party::PARTY_CARD_FORMAT.into(),
        name: "alice".into(),
        signing_key: sealroom_core::party::SigningPublicKey([1; 32]),
        hpke_key: sealroom_core::party::HpkePublicKey([2; 32]),
        broker_url: Some("http://x\"\n[[party]]\nname = \"mallory".into()),
    };
    let block: toml::Table = toml::from_str(&super::party_block(&card)).unwrap();
    let parties = block["party"].as_array().unwrap();
    assert_eq!(parties.len(), 1, "the URL did not open a second block");
    assert_eq!(
        parties[0]["broker_url"].as_str(),
        card.broker_url.as_deref()
    );
    card.broker_url = None;
    let block: toml::Table = toml::from_str(&super::party_block(&card)).unwrap();
    assert!(block["party"][0].get("broker_url").is_none());
}

/// (text to replace, replacement, the error expected).
type Case = (&'static str, &'static str, fn(&AgreementError) -> bool);

#[test]
fn specific_errors_for_bad_agreements() {
    let cases: Vec<Case> = vec![
        (
            "readers = [\"bob\"]",
            "readers = [\"carol\"]",
            |e| matches!(e, AgreementError::UnknownParty { party, .. } if party == "carol"),
        ),
        (
            "owner = \"alice\"",
            "owner = \"mallory\"",
            |e| matches!(e, AgreementError::DatasetOwnerNotAParty { owner, .. } if owner == "mallory"),
        ),
        (
            "person_column = \"id\"",
            "person_column = \"user\"",
            |e| matches!(e, AgreementError::MissingPersonColumn { column, .. } if column == "user"),
        ),
        ("epsilon_per_run = 0.5", "epsilon_per_run = nan", |e| {
            matches!(
                e,
                AgreementError::BadEpsilon {
                    field: "epsilon_per_run",
                    ..
                }
            )
        }),
        ("epsilon_per_run = 0.5", "epsilon_per_run = inf", |e| {
            matches!(e, AgreementError::BadEpsilon { .. })
        }),
        ("epsilon_per_run = 0.5", "epsilon_per_run = -0.5", |e| {
            matches!(e, AgreementError::BadEpsilon { .. })
        }),
        ("epsilon_per_run = 0.5", "epsilon_per_run = 0.0", |e| {
            matches!(e, AgreementError::BadEpsilon { .. })
        }),
        ("delta_per_run = 1e-9", "delta_per_run = 0.0", |e| {
            matches!(e, AgreementError::BadDelta { .. })
        }),
        ("delta_per_run = 1e-9", "delta_per_run = 1.0", |e| {
            matches!(e, AgreementError::BadDelta { .. })
        }),
        ("delta_per_run = 1e-9", "delta_per_run = nan", |e| {
            matches!(e, AgreementError::BadDelta { .. })
        }),
        (
            "total_epsilon_per_dataset = 2.0",
            "total_epsilon_per_dataset = 0.1",
            |e| matches!(e, AgreementError::BudgetBelowOneRun { .. }),
        ),
        (
            "max_groups_per_person = 1",
            "max_groups_per_person = 0",
            |e| matches!(e, AgreementError::BadContributionBound),
        ),
        ("id = \"overlap\"", "id = \"everything\"", |e| {
            matches!(e, AgreementError::UnknownProgram { .. })
        }),
        ("params = { group_column = \"site\" }", "params = {}", |e| {
            matches!(e, AgreementError::BadProgramParameters { .. })
        }),
        (
            "valid_until = 2027-01-01T00:00:00Z",
            "valid_until = 2025-01-01T00:00:00Z",
            |e| matches!(e, AgreementError::EmptyValidityWindow { .. }),
        ),
        ("name = \"bob\"", "name = \"alice\"", |e| {
            matches!(e, AgreementError::DuplicateParty { .. })
        }),
        ("broker_url = \"http://127.0.0.1:1\"", "", |e| {
            matches!(e, AgreementError::OwnerWithoutBroker { .. })
        }),
        (
            "format = \"sealroom-agreement/v1\"",
            "format = \"v0\"",
            |e| matches!(e, AgreementError::UnsupportedFormat { .. }),
        ),
        ("measurements = [", "measurements = [\"00\", ", |e| {
            matches!(e, AgreementError::BadRuntime { .. })
        }),
        ("name = \"site\"", "name = \"id\"", |e| {
            matches!(e, AgreementError::DuplicateColumn { .. })
        }),
        ("[privacy]", "[privacy]\nsurprise = 1", |e| {
            matches!(e, AgreementError::Syntax(_))
        }),
        ("delta_per_run = 1e-9", "delta_per_run = 2.0", |e| {
            matches!(e, AgreementError::BadDelta { .. })
        }),
        ("delta_per_run = 1e-9", "delta_per_run = -1e-9", |e| {
            matches!(e, AgreementError::BadDelta { .. })
        }),
        ("delta_per_run = 1e-9", "delta_per_run = inf", |e| {
            matches!(e, AgreementError::BadDelta { .. })
        }),
        (
            "max_groups_per_person = 1",
            "max_groups_per_person = 1\nmax_rows_per_person_per_group = 0",
            |e| {
                matches!(
                    e,
                    AgreementError::BadPrivacyTerm {
                        field: "max_rows_per_person_per_group",
                        ..
                    }
                )
            },
        ),
        (
            "max_groups_per_person = 1",
            "max_groups_per_person = 1\nmax_rows_per_person_per_group = 5\nmax_rows_per_person = 2",
            |e| matches!(e, AgreementError::BadPrivacyTerm { field: "max_rows_per_person_per_group", reason } if reason.contains("more than the 2 rows")),
        ),
        (
            "max_groups_per_person = 1",
            "max_groups_per_person = 1\nmax_rows_per_person = -3",
            |e| {
                matches!(
                    e,
                    AgreementError::BadPrivacyTerm {
                        field: "max_rows_per_person",
                        ..
                    }
                )
            },
        ),
        (
            "max_groups_per_person = 1",
            "max_groups_per_person = 1\nmin_aggregation = -1",
            |e| {
                matches!(
                    e,
                    AgreementError::BadPrivacyTerm {
                        field: "min_aggregation",
                        ..
                    }
                )
            },
        ),
        (
            "max_groups_per_person = 1",
            "max_groups_per_person = 1\nnoise = \"gaussian-ish\"",
            |e| matches!(e, AgreementError::Syntax(_)),
        ),
    ];
    for (from, to, check) in cases {
        let err = compile_with(from, to).expect_err(to);
        assert!(check(&err), "replacing {from:?} with {to:?} gave {err:?}");
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn privacy_terms_default_and_accept_the_gaussian() {
    let a = compile_with(
        "max_groups_per_person = 1",
        "max_groups_per_person = 3\nmax_rows_per_person_per_group = 2\nnoise = \"discrete-gaussian\"\nmin_aggregation = 50",
    )
    .unwrap();
    assert_eq!(
        a.privacy.noise,
        sealroom_core::agreement::NoiseMechanism::DiscreteGaussian
    );
    assert_eq!(
        a.privacy.max_rows_per_person, 6,
        "defaults to groups × rows per group"
    );
    assert_eq!(a.privacy.min_aggregation, 50);
    let plain = compile(&sample(), &OneProgram).unwrap();
    assert_eq!(
        (
            plain.privacy.max_rows_per_person_per_group,
            plain.privacy.max_rows_per_person
        ),
        (1, 1)
    );
}

#[test]
fn reader_without_hpke_key_is_refused() {
    let b = encode(&[2; 32]);
    let text = sample().replacen(
        &format!("hpke_key = \"{b}\"\nbroker_url = \"http://127.0.0.1:2\""),
        "",
        1,
    );
    let err = compile(&text, &OneProgram).unwrap_err();
    assert!(
        matches!(err, AgreementError::MissingHpkeKey { ref party, role: "result reader" } if party == "bob"),
        "{err:?}"
    );
}

#[test]
fn window_is_checked() {
    let a = compile(&sample(), &OneProgram).unwrap();
    assert!(matches!(
        a.check_window(Timestamp::parse("2025-06-01T00:00:00Z").unwrap()),
        Err(AgreementError::NotYetValid { .. })
    ));
    assert!(matches!(
        a.check_window(Timestamp::parse("2027-01-01T00:00:00Z").unwrap()),
        Err(AgreementError::Expired { .. })
    ));
    assert!(
        a.check_window(Timestamp::parse("2026-06-01T00:00:00Z").unwrap())
            .is_ok()
    );
}

#[test]
fn unsigned_agreement_is_not_in_force() {
    let a = SignedAgreement::unsigned(compile(&sample(), &OneProgram).unwrap());
    let err = a
        .check_in_force(Timestamp::parse("2026-06-01T00:00:00Z").unwrap())
        .unwrap_err();
    assert_eq!(
        err,
        AgreementError::NotSignedBy {
            parties: vec!["alice".into(), "bob".into()]
        }
    );
}
