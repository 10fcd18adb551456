//! The ad-measurement programs through the real services: owners seal typed files, the host
//! runs the isolate, each owner's broker releases its key, and the reader opens tables of
//! several measures whose values match the exact answer (without noise) or lie within the
//! stated noise bound (with it).

mod common;

use std::fmt::Write as _;

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use sealroom_cli::demo::{DemoOptions, Deployment, Scenario};
use sealroom_core::ids::Measurement;
use sealroom_core::output::ReleasedTable;
use sealroom_crypto::Identity;
use sealroom_host::JobStatus;
use sealroom_party::authoring::party_block;
use sealroom_party::reader;
use sealroom_party::source::csv_table;
use sealroom_programs::{BuiltinCatalog, ProgramResult};

const KEYS: [[&str; 2]; 4] = [
    ["spring", "a"],
    ["spring", "b"],
    ["summer", "a"],
    ["winter", "a"],
];

/// Touches and conversions of a few hundred people: times on a minute grid over two weeks (so
/// window edges and ties happen), kinds, campaigns and ad sets, conversions with values.
fn data(seed: u64) -> (String, String) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pick = |n: u64| rng.next_u64() % n;
    let base = 1_780_000_000u64;
    let mut touches = String::from("person,at,kind,campaign,ad_set\n");
    for _ in 0..3000 {
        let [campaign, ad_set] = KEYS[pick(4) as usize];
        let kind = if pick(4) == 0 { "click" } else { "view" };
        let at = base + 60 * pick(14 * 24 * 60);
        writeln!(touches, "p{},{at},{kind},{campaign},{ad_set}", pick(400)).unwrap();
    }
    let mut conversions = String::from("person,at,type,value\n");
    for _ in 0..800 {
        let at = base + 60 * pick(14 * 24 * 60);
        let kind = ["purchase", "signup"][pick(2) as usize];
        let cents = pick(60_000) as i64 - 2_000;
        let sign = if cents < 0 { "-" } else { "" };
        let cents = cents.abs();
        writeln!(
            conversions,
            "p{},{at},{kind},{sign}{}.{:02}",
            pick(450),
            cents / 100,
            cents % 100
        )
        .unwrap();
    }
    (touches, conversions)
}

fn agreement(noise: &'static str) -> impl Fn(&Identity, &Identity, &Measurement) -> String {
    move |ad, shop, measurement| {
        let keys: Vec<String> = KEYS
            .iter()
            .map(|[c, a]| format!("[\"{c}\", \"{a}\"]"))
            .collect();
        format!(
            r#"format = "sealroom-agreement/v1"
name = "attribution"
valid_from = 2026-01-01T00:00:00Z
valid_until = 2036-01-01T00:00:00Z

{ad}
{shop}
[[dataset]]
owner = "adplatform"
name = "touches"
person_column = "person"
columns = [
  {{ name = "person", type = "string" }},
  {{ name = "at", type = "timestamp" }},
  {{ name = "kind", type = "string", values = ["click", "view"] }},
  {{ name = "campaign", type = "string" }},
  {{ name = "ad_set", type = "string" }},
]

[[dataset]]
owner = "advertiser"
name = "conversions"
person_column = "person"
columns = [
  {{ name = "person", type = "string" }},
  {{ name = "at", type = "timestamp" }},
  {{ name = "type", type = "string" }},
  {{ name = "value", type = "decimal", scale = 2 }},
]

[program]
id = "attribution"
version = 1
params = {{ touches = "adplatform/touches", conversions = "advertiser/conversions", touch_time = "at", touch_kind = "kind", breakdown = ["campaign", "ad_set"], conversion_time = "at", conversion_type = "type", conversion_value = "value", click_window = "7d", view_window = "1d", max_conversions_per_person = 3, max_value = "400.00", keys = [{keys}] }}

[[runtime]]
platform = "sim"
measurements = ["{measurement}"]

[[output]]
name = "attribution"
readers = ["advertiser"]

[[output]]
name = "unattributed"
readers = ["advertiser"]

[privacy]
epsilon_per_run = 1.0
delta_per_run = 1e-9
total_epsilon_per_dataset = 4.0
max_groups_per_person = 1
noise = "{noise}"
"#,
            ad = party_block(&ad.card()),
            shop = party_block(&shop.card()),
            keys = keys.join(", "),
        )
    }
}

/// Runs the scenario once; returns the tables the advertiser opened and the exact answer.
fn run(noise: &'static str, seed: u64) -> (Vec<ReleasedTable>, ProgramResult) {
    let (touches, conversions) = data(seed);
    let agreement = agreement(noise);
    let scenario = Scenario {
        agreement: &agreement,
        datasets: vec![
            (
                "adplatform",
                "touches",
                "touches.csv",
                touches.clone().into_bytes(),
            ),
            (
                "advertiser",
                "conversions",
                "conversions.csv",
                conversions.clone().into_bytes(),
            ),
        ],
    };
    let options = DemoOptions::new(common::executables());
    let d = Deployment::start_scenario(&options, scenario, &|_| {}).unwrap();
    let record = d.run_job().unwrap();
    assert_eq!(record.status, JobStatus::Finished, "{:?}", record.error);
    let bundle = d
        .host
        .outputs(&d.advertiser.identity, &record.job_id)
        .unwrap();
    let opened = reader::open_outputs(
        &d.advertiser.identity,
        &d.agreement,
        &record.job_id,
        &bundle,
        &d.verifier(),
        &d.log_key().unwrap(),
    )
    .unwrap();
    // The exact answer, from the same files read in the clear (what only this test can do).
    let a = &d.agreement.agreement;
    let schema = |i: usize| &a.datasets[i].schema;
    let t = csv_table(touches.as_bytes(), schema(0)).unwrap();
    let c = csv_table(conversions.as_bytes(), schema(1)).unwrap();
    let exact = BuiltinCatalog
        .run(a, &|name| match name {
            "adplatform/touches" => Some(&t),
            "advertiser/conversions" => Some(&c),
            _ => None,
        })
        .unwrap();
    (opened.tables, exact)
}

fn released_by_output<'t>(tables: &'t [ReleasedTable], output: &str) -> &'t ReleasedTable {
    tables.iter().find(|t| t.output == output).expect(output)
}

#[test]
fn attribution_without_noise_releases_the_exact_answer_in_two_tables() {
    let (tables, exact) = run("none", 1);
    assert_eq!(tables.len(), 2);
    for expected in &exact.tables {
        let released = released_by_output(&tables, &expected.output);
        let names: Vec<&str> = released.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["conversions", "value"]);
        assert_eq!(released.key_columns, expected.key_columns);
        let rows: Vec<(Vec<String>, Vec<i64>)> = released
            .rows
            .iter()
            .map(|r| (r.key.clone(), r.values.clone()))
            .collect();
        let want: Vec<(Vec<String>, Vec<i64>)> = expected
            .rows
            .iter()
            .map(|r| (r.key.clone(), r.values.clone()))
            .collect();
        assert_eq!(rows, want, "{}", expected.output);
        for c in &released.columns {
            assert_eq!(c.noise.mechanism, "none");
        }
    }
    let attribution = released_by_output(&tables, "attribution");
    assert_eq!(
        attribution.rows.len(),
        KEYS.len(),
        "every declared key is released"
    );
    assert_eq!(attribution.columns[1].noise.units, 100);
    let unattributed = released_by_output(&tables, "unattributed");
    assert!(unattributed.key_columns.is_empty() && unattributed.rows.len() == 1);
    assert!(
        unattributed.rows[0].values[0] > 0,
        "some conversions have no touch"
    );
}

#[test]
fn attribution_with_noise_splits_epsilon_between_its_measures_and_stays_within_the_bound() {
    let (tables, exact) = run("discrete-laplace", 2);
    for expected in &exact.tables {
        let released = released_by_output(&tables, &expected.output);
        for (i, column) in released.columns.iter().enumerate() {
            let n = &column.noise;
            assert_eq!(n.epsilon_share, "1/2", "two measures share ε");
            // K = 3 conversions per person; V = 400.00 in cents.
            let sensitivity = if i == 0 { 3 } else { 3 * 40_000 };
            assert_eq!(n.sensitivity, sensitivity);
            let (num, den) = n.scale.split_once('/').unwrap();
            let bound =
                sealroom_privacy::DiscreteLaplace::new(num.parse().unwrap(), den.parse().unwrap())
                    .unwrap()
                    .error_bound(1.0 - 1e-9) as i64;
            for (got, want) in released.rows.iter().zip(&expected.rows) {
                let diff = (got.values[i] - want.values[i]).abs();
                assert!(
                    diff <= bound,
                    "{} {:?}: {diff} > {bound}",
                    column.name,
                    got.key
                );
            }
        }
    }
}
