//! Each structural rule, broken in hand-written JSON: deserialization refuses it with the
//! specific error, so no service can hold an agreement that breaks it.

use serde_json::{Value, json};

use super::*;
use crate::epsilon::Epsilon;
use crate::ids::Measurement;
use crate::party::{PARTY_CARD_FORMAT, SigningPublicKey};
use crate::schema::{Column, ColumnType, Schema};

fn card(name: &str, key: u8, broker: bool) -> PartyCard {
    PartyCard {
        format: PARTY_CARD_FORMAT.into(),
        name: name.into(),
        signing_key: SigningPublicKey([key; 32]),
        hpke_key: HpkePublicKey([key; 32]),
        broker_url: broker.then(|| format!("http://127.0.0.1:{}", 7000 + u16::from(key))),
    }
}

fn dataset(owner: &str, name: &str) -> DatasetTerms {
    DatasetTerms {
        owner: owner.into(),
        name: name.into(),
        schema: Schema {
            columns: vec![
                Column::new("id", ColumnType::String),
                Column::new("site", ColumnType::String),
            ],
            person_column: "id".into(),
        },
    }
}

fn fields() -> AgreementFields {
    AgreementFields {
        format: AGREEMENT_FORMAT.into(),
        name: "t".into(),
        valid_from: Timestamp(0),
        valid_until: Timestamp(100),
        parties: vec![card("alice", 1, true), card("bob", 2, true)],
        datasets: vec![dataset("alice", "visits"), dataset("bob", "orders")],
        program: ProgramTerms {
            id: "overlap".into(),
            version: 1,
            params: json!({}),
        },
        runtimes: vec![RuntimeTerms::sim(vec![Measurement([7; 32])])],
        outputs: vec![OutputTerms {
            name: "overlap".into(),
            readers: vec!["bob".into()],
        }],
        privacy: PrivacyTerms {
            epsilon_per_run: Epsilon::from_micros(500_000).unwrap(),
            delta_per_run: 1e-9,
            total_epsilon_per_dataset: Epsilon::from_micros(2_000_000).unwrap(),
            max_groups_per_person: 2,
            max_rows_per_person_per_group: 1,
            max_rows_per_person: 2,
            min_aggregation: 0,
            noise: super::super::NoiseMechanism::DiscreteLaplace,
        },
        runs: RunTerms {
            requesters: vec!["alice".into(), "bob".into()],
            max_runs_per_day: None,
        },
    }
}

/// The canonical JSON of the valid sample, as a value to break.
fn sample() -> Value {
    serde_json::to_value(Agreement::new(fields()).unwrap()).unwrap()
}

fn read(value: Value) -> Result<Agreement, String> {
    serde_json::from_value(value).map_err(|e| e.to_string())
}

#[test]
fn the_sample_round_trips_through_json() {
    let agreement = Agreement::new(fields()).unwrap();
    assert_eq!(read(sample()).unwrap(), agreement);
}

/// What is broken, how, and what the refusal must say.
type BrokenRule<'a> = (&'a str, Box<dyn Fn(&mut Value) + 'a>, &'a str);

#[test]
fn each_broken_rule_is_refused_when_read_with_its_specific_error() {
    let cases: Vec<BrokenRule> = vec![
        (
            "unknown reader",
            Box::new(|v| v["outputs"][0]["readers"] = json!(["carol"])),
            "names \"carol\", which is not a party",
        ),
        (
            "unknown requester",
            Box::new(|v| v["runs"]["requesters"] = json!(["mallory"])),
            "runs.requesters names \"mallory\"",
        ),
        (
            "reader without an HPKE key",
            Box::new(|v| {
                v["parties"][1]["hpke_key"] = json!(crate::bytes::encode(&[0; 32]));
                v["datasets"].as_array_mut().unwrap().pop();
            }),
            "\"bob\" is a result reader but has no hpke_key",
        ),
        (
            "dataset owned by a non-party",
            Box::new(|v| v["datasets"][0]["owner"] = json!("mallory")),
            "owned by \"mallory\", which is not a party",
        ),
        (
            "missing person column on both sides",
            Box::new(|v| {
                v["datasets"][0]["schema"]["person_column"] = json!("user");
                v["datasets"][1]["schema"]["person_column"] = json!("user");
            }),
            "person column \"user\", which is not one of its columns",
        ),
        (
            "δ of 1",
            Box::new(|v| v["privacy"]["delta_per_run"] = json!(1.0)),
            "delta_per_run must be a finite number greater than 0 and less than 1",
        ),
        (
            "NaN ε",
            Box::new(|v| v["privacy"]["epsilon_per_run"] = json!("NaN")),
            "NaN",
        ),
        (
            "rows per group above rows in total",
            Box::new(|v| v["privacy"]["max_rows_per_person_per_group"] = json!(3)),
            "3 rows per group is more than the 2 rows",
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
            "owner without broker",
            Box::new(|v| {
                v["parties"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("broker_url")
                    .map(|_| ())
                    .unwrap()
            }),
            "owns dataset \"visits\" but has no broker_url",
        ),
        (
            "broker URL with a path",
            Box::new(|v| v["parties"][0]["broker_url"] = json!("http://127.0.0.1:1/steal?x")),
            "not a plain http(s)://host[:port] base",
        ),
        (
            "empty window",
            Box::new(|v| v["valid_until"] = v["valid_from"].clone()),
            "the validity window is empty",
        ),
        (
            "budget below one run",
            Box::new(|v| v["privacy"]["total_epsilon_per_dataset"] = json!("0.1")),
            "no run could ever happen",
        ),
        (
            "no groups per person",
            Box::new(|v| v["privacy"]["max_groups_per_person"] = json!(0)),
            "max_groups_per_person must be at least 1",
        ),
        (
            "shared signing key",
            Box::new(|v| v["parties"][1]["signing_key"] = v["parties"][0]["signing_key"].clone()),
            "have the same signing key",
        ),
        (
            "runtime without measurements",
            Box::new(|v| v["runtimes"][0]["measurements"] = json!([])),
            "no measurements are accepted",
        ),
        (
            "hardware runtime named by a measurement",
            Box::new(|v| v["runtimes"][0]["platform"] = json!("tdx")),
            "named by their registers in `accept`",
        ),
        (
            "hardware runtime with a short register",
            Box::new(|v| {
                v["runtimes"][0] = json!({"platform": "nitro", "accept": [{"pcr0": "00"}]})
            }),
            "pcr0 must be 48 bytes in lowercase hex",
        ),
        (
            "hardware runtime without registers",
            Box::new(|v| v["runtimes"][0] = json!({"platform": "nitro"})),
            "no runtime is accepted: add an `accept` set",
        ),
        (
            "simulator with a TCB policy",
            Box::new(|v| v["runtimes"][0]["accept_tcb_status"] = json!(["OutOfDate"])),
            "the simulator accepts measurements only",
        ),
        (
            "TCB status on a platform without one",
            Box::new(|v| {
                v["runtimes"][0] = json!({
                    "platform": "sev-snp",
                    "accept": [{"measurement": "ab".repeat(48)}],
                    "accept_tcb_status": ["OutOfDate"],
                })
            }),
            "reports no TCB status",
        ),
        (
            "unknown field",
            Box::new(|v| v["surprise"] = json!(1)),
            "unknown field `surprise`",
        ),
    ];
    for (what, break_it, expected) in cases {
        let mut value = sample();
        break_it(&mut value);
        let error = read(value).expect_err(what);
        assert!(error.contains(expected), "{what}: {error}");
    }
}

#[test]
fn code_builds_agreements_through_the_same_rules() {
    let mut f = fields();
    f.privacy.delta_per_run = f64::NAN;
    assert!(matches!(
        Agreement::new(f),
        Err(AgreementError::BadDelta { .. })
    ));
}

struct OnlyOverlap;

impl ProgramCatalog for OnlyOverlap {
    fn check_program(
        &self,
        p: &ProgramTerms,
        _: &[DatasetTerms],
    ) -> Result<Vec<String>, super::super::ProgramCheckError> {
        if p.params.get("bad").is_some() {
            return Err(super::super::ProgramCheckError::BadParameters(
                "bad is bad".into(),
            ));
        }
        Ok(vec!["overlap".into()])
    }
}

#[test]
fn the_program_checks_its_parameters_and_outputs() {
    let agreement = Agreement::new(fields()).unwrap();
    assert_eq!(agreement.check_program(&OnlyOverlap), Ok(()));
    let mut f = fields();
    f.program.params = json!({ "bad": true });
    assert!(matches!(
        Agreement::new(f).unwrap().check_program(&OnlyOverlap),
        Err(AgreementError::BadProgramParameters { .. })
    ));
    let mut f = fields();
    f.outputs[0].name = "other".into();
    assert!(matches!(
        Agreement::new(f).unwrap().check_program(&OnlyOverlap),
        Err(AgreementError::BadOutput { .. })
    ));
}
