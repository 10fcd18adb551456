//! `lift` against an independent reference (the rules read literally, with plain maps), on
//! hand-made edge cases and random data; and its derived figures on hand-made tables.

use std::collections::{BTreeMap, BTreeSet};

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use sealroom_core::agreement::DatasetTerms;
use sealroom_core::output::{ReleasedRow, ReleasedTable};
use sealroom_core::schema::{Column, ColumnType, Schema};
use sealroom_programs::lift::{Arm, LiftArms, LiftParams, LiftRules, derive, measure};
use sealroom_tables::{Cell, Table};

const START: i64 = 1_780_000_000_000_000;
const END: i64 = START + 14 * 86_400_000_000;

struct Conversion {
    person: &'static str,
    at: i64,
    kind: &'static str,
    value: i64,
}

fn c(person: &'static str, at: i64, kind: &'static str, value: i64) -> Conversion {
    Conversion {
        person,
        at,
        kind,
        value,
    }
}

fn reference(study: &[(&str, &str)], conversions: &[Conversion], rules: &LiftRules) -> LiftArms {
    let mut arms: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (person, arm) in study {
        arms.entry(person).or_default().insert(arm);
    }
    let mut result = LiftArms::default();
    for (person, in_arms) in &arms {
        if in_arms.len() != 1 {
            continue;
        }
        let index = if in_arms.contains("test") { 0 } else { 1 };
        let arm: &mut Arm = &mut result[index];
        arm.people += 1;
        let mut mine: Vec<&Conversion> = conversions
            .iter()
            .filter(|c| c.person == *person && c.at >= rules.start && c.at <= rules.end)
            .collect();
        mine.sort_by(|a, b| (a.at, a.kind, a.value).cmp(&(b.at, b.kind, b.value)));
        mine.truncate(rules.max_conversions as usize);
        if mine.is_empty() {
            continue;
        }
        let total: i128 = mine
            .iter()
            .map(|c| i128::from(c.value.max(0).min(rules.max_value)))
            .sum();
        arm.converters += 1;
        arm.conversions += mine.len() as u64;
        arm.value += total;
        arm.value_squared += total * total;
    }
    result
}

fn datasets() -> [DatasetTerms; 2] {
    [
        DatasetTerms {
            owner: "platform".into(),
            name: "study".into(),
            schema: Schema {
                columns: vec![
                    Column::new("person", ColumnType::String),
                    Column::new("arm", ColumnType::String).one_of(["test", "control"]),
                ],
                person_column: "person".into(),
            },
        },
        DatasetTerms {
            owner: "shop".into(),
            name: "conversions".into(),
            schema: Schema {
                columns: vec![
                    Column::new("person", ColumnType::String),
                    Column::new("at", ColumnType::Timestamp),
                    Column::new("type", ColumnType::String),
                    Column::decimal("value", 2),
                ],
                person_column: "person".into(),
            },
        },
    ]
}

fn params(k: u32) -> LiftParams {
    serde_json::from_value(serde_json::json!({
        "study": "platform/study", "conversions": "shop/conversions", "arm_column": "arm",
        "conversion_time": "at", "conversion_type": "type", "conversion_value": "value",
        "study_start": "2026-05-28T20:26:40Z", "study_end": "2026-06-11T20:26:40Z",
        "max_conversions_per_person": k, "max_value": "100.00",
    }))
    .unwrap()
}

fn run(study: &[(&str, &str)], conversions: &[Conversion], k: u32) -> LiftArms {
    let p = params(k);
    let [s, c] = datasets();
    let rules = p.rules(&[s.clone(), c.clone()]).unwrap();
    assert_eq!((rules.start, rules.end), (START, END));
    let mut study_table = Table::new(s.schema);
    for (person, arm) in study {
        study_table
            .push_row(&[Cell::Text(person), Cell::Text(arm)])
            .unwrap();
    }
    let mut conversion_table = Table::new(c.schema);
    for x in conversions {
        conversion_table
            .push_row(&[
                Cell::Text(x.person),
                Cell::Number(x.at),
                Cell::Text(x.kind),
                Cell::Number(x.value),
            ])
            .unwrap();
    }
    let program = measure(&p, &rules, &study_table, &conversion_table).unwrap();
    assert_eq!(
        program,
        reference(study, conversions, &rules),
        "program ≠ reference"
    );
    program
}

#[test]
fn hand_made_edge_cases() {
    let arms = run(
        &[
            ("t1", "test"),
            ("t1", "test"), // listed twice in one arm: once
            ("t2", "test"),
            ("c1", "control"), // only in control, never converts
            ("both", "test"),
            ("both", "control"), // in both arms: in neither
        ],
        &[
            c("t1", START, "buy", 3_000),       // on the window's first instant: in
            c("t1", END, "buy", 50_000),        // on its last: in, clamped to 100.00
            c("t1", END + 1, "buy", 100),       // a microsecond late: out
            c("t2", START - 1, "buy", 100),     // a microsecond early: out
            c("t2", START + 5, "refund", -700), // a value below zero counts, as 0
            c("both", START + 5, "buy", 100),
            c("outsider", START + 5, "buy", 100), // not in the study: ignored
        ],
        2,
    );
    assert_eq!(arms[0].people, 2);
    assert_eq!(arms[1].people, 1);
    assert_eq!((arms[0].converters, arms[0].conversions), (2, 3));
    assert_eq!(arms[0].value, 3_000 + 10_000);
    // Σ value² per person over each person's total: (30.00 + 100.00)² + 0².
    assert_eq!(arms[0].value_squared, 13_000 * 13_000);
    assert_eq!(
        arms[1],
        Arm {
            people: 1,
            ..Arm::default()
        }
    );

    // Over the cap: the first K by (time, type, value) are credited.
    let capped = run(
        &[("t1", "test")],
        &[
            c("t1", START + 10, "buy", 100),
            c("t1", START + 10, "add", 900),
            c("t1", START + 20, "buy", 5_000),
        ],
        2,
    );
    assert_eq!((capped[0].conversions, capped[0].value), (2, 1_000));
}

#[test]
fn bounds_whose_product_would_overflow_or_not_fit_are_refused() {
    let terms = datasets();
    for max_value in ["61489146912365172.06", "10000.01"] {
        let mut json = serde_json::to_value(serde_json::json!({
            "study": "platform/study", "conversions": "shop/conversions", "arm_column": "arm",
            "conversion_time": "at", "conversion_type": "type", "conversion_value": "value",
            "study_start": "2026-05-28T20:26:40Z", "study_end": "2026-06-11T20:26:40Z",
            "max_conversions_per_person": 3,
        }))
        .unwrap();
        json["max_value"] = max_value.into();
        let p: LiftParams = serde_json::from_value(json).unwrap();
        let err = p.rules(&terms).unwrap_err();
        assert!(err.contains("Σ value²"), "{max_value}: {err}");
    }
}

#[test]
fn random_data_from_several_seeds_matches_the_reference_exactly() {
    const PEOPLE: [&str; 30] = [
        "p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9", "p10", "p11", "p12", "p13",
        "p14", "p15", "p16", "p17", "p18", "p19", "p20", "p21", "p22", "p23", "p24", "p25", "p26",
        "p27", "p28", "p29",
    ];
    for seed in 0..12 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut pick = |n: u64| (rng.next_u64() % n) as usize;
        let study: Vec<(&str, &str)> = (0..pick(40))
            .map(|_| (PEOPLE[pick(25)], ["test", "control"][pick(2)]))
            .collect();
        let conversions: Vec<Conversion> = (0..pick(120))
            .map(|_| {
                let at = START - 86_400_000_000 + pick(16) as i64 * 86_400_000_000;
                c(
                    PEOPLE[pick(30)],
                    at,
                    ["buy", "add"][pick(2)],
                    pick(20_000) as i64 - 2_000,
                )
            })
            .collect();
        run(&study, &conversions, 1 + pick(3) as u32);
    }
}

/// Many converters outside the study: people are numbered in two shards that fill unevenly,
/// so some outsiders get numbers the study left unused, and must still count nowhere.
#[test]
fn converters_outside_the_study_count_nowhere_whatever_their_number() {
    let names: &'static [String] = Vec::leak((0..200).map(|i| format!("person-{i}")).collect());
    for seed in 0..20 {
        let mut rng = ChaCha8Rng::seed_from_u64(1000 + seed);
        let mut pick = |n: u64| (rng.next_u64() % n) as usize;
        let study: Vec<(&str, &str)> = (0..120)
            .map(|_| (names[pick(100)].as_str(), ["test", "control"][pick(2)]))
            .collect();
        let conversions: Vec<Conversion> = (0..300)
            .map(|_| {
                let at = START - 86_400_000_000 + pick(16) as i64 * 86_400_000_000;
                c(
                    &names[pick(200)],
                    at,
                    ["buy", "add"][pick(2)],
                    pick(20_000) as i64 - 2_000,
                )
            })
            .collect();
        run(&study, &conversions, 2);
    }
}

fn released(test: [i64; 5], control: [i64; 5]) -> ReleasedTable {
    ReleasedTable {
        format: String::new(),
        output: "lift".into(),
        key_columns: vec!["arm".into()],
        columns: Vec::new(),
        rows: vec![
            ReleasedRow {
                key: vec!["test".into()],
                values: test.to_vec(),
            },
            ReleasedRow {
                key: vec!["control".into()],
                values: control.to_vec(),
            },
        ],
        derived: Vec::new(),
        simulator: false,
        wasm: None,
    }
}

#[test]
fn derived_figures_follow_the_noised_counts_and_are_null_without_a_denominator() {
    let figures = derive(
        &released([1000, 120, 150, 0, 0], [1000, 100, 110, 0, 0]),
        &[0.0; 5],
    );
    let lift = &figures[0];
    assert!((lift.value.unwrap() - 20.0).abs() < 1e-9);
    let (low, high) = (lift.low_95.unwrap(), lift.high_95.unwrap());
    assert!(low < 20.0 && 20.0 < high, "{low} {high}");
    assert!((figures[1].value.unwrap() - 40.0).abs() < 1e-9);
    // More noise, a wider interval.
    let noisy = derive(
        &released([1000, 120, 150, 0, 0], [1000, 100, 110, 0, 0]),
        &[50.0; 5],
    );
    assert!(noisy[0].high_95.unwrap() - noisy[0].low_95.unwrap() > high - low);
    // No control converters: the lift is not defined; no control people: nothing is.
    let none = derive(
        &released([1000, 120, 150, 0, 0], [1000, 0, 0, 0, 0]),
        &[0.0; 5],
    );
    assert_eq!((none[0].value, none[0].low_95), (None, None));
    let empty = derive(
        &released([1000, 120, 150, 0, 0], [-3, 0, 0, 0, 0]),
        &[0.0; 5],
    );
    assert_eq!((empty[0].value, empty[1].value), (None, None));
}
