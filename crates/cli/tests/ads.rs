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
use sealroom_party::source::csv_table;
use sealroom_programs::{BuiltinCatalog, ProgramResult};
use sealroom_tables::Table;

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

/// Runs the attribution scenario once; returns the tables the advertiser opened and the exact
/// answer.
fn run(noise: &'static str, seed: u64) -> (Vec<ReleasedTable>, ProgramResult) {
    let (touches, conversions) = data(seed);
    run_scenario(
        &agreement(noise),
        [
            ("adplatform", "touches", touches),
            ("advertiser", "conversions", conversions),
        ],
    )
}

/// Runs a two-party scenario once: the first dataset is the ad platform's, the second the
/// advertiser's (who reads every output); returns the opened tables and the exact answer.
fn run_scenario(
    agreement: &dyn Fn(&Identity, &Identity, &Measurement) -> String,
    datasets: [(&str, &str, String); 2],
) -> (Vec<ReleasedTable>, ProgramResult) {
    let files: Vec<String> = datasets
        .iter()
        .map(|(owner, name, _)| format!("{owner}-{name}.csv"))
        .collect();
    let scenario = Scenario {
        agreement,
        datasets: datasets
            .iter()
            .zip(&files)
            .map(|((owner, name, csv), file)| {
                (*owner, *name, file.as_str(), csv.clone().into_bytes())
            })
            .collect(),
    };
    let options = DemoOptions::new(common::executables());
    let d = Deployment::start_scenario(&options, scenario, &|_| {}).unwrap();
    let record = d.run_job().unwrap();
    assert_eq!(record.status, JobStatus::Finished, "{:?}", record.error);
    let opened = d
        .open_outputs(&d.advertiser, &d.agreement, &record)
        .unwrap();
    // The exact answer, from the same files read in the clear (what only this test can do).
    let a = &d.agreement.agreement;
    let tables: Vec<(String, Table)> = datasets
        .iter()
        .map(|(owner, name, csv)| {
            let schema = &a.dataset(owner, name).unwrap().schema;
            (
                format!("{owner}/{name}"),
                csv_table(csv.as_bytes(), schema).unwrap(),
            )
        })
        .collect();
    let exact = BuiltinCatalog
        .run(a, &|name| {
            tables.iter().find(|(n, _)| n == name).map(|(_, t)| t)
        })
        .unwrap();
    (opened, exact)
}

/// The agreement TOML around two datasets, a program and its outputs, read by the advertiser.
fn two_party_agreement(
    ad: &Identity,
    shop: &Identity,
    measurement: &Measurement,
    body: &str,
    outputs: &[&str],
    noise: &str,
) -> String {
    let outputs: String = outputs
        .iter()
        .map(|o| format!("[[output]]\nname = \"{o}\"\nreaders = [\"advertiser\"]\n\n"))
        .collect();
    format!(
        r#"format = "sealroom-agreement/v1"
name = "ads"
valid_from = 2026-01-01T00:00:00Z
valid_until = 2036-01-01T00:00:00Z

{ad}
{shop}
{body}

[[runtime]]
platform = "sim"
measurements = ["{measurement}"]

{outputs}[privacy]
epsilon_per_run = 1.0
delta_per_run = 1e-9
total_epsilon_per_dataset = 4.0
max_groups_per_person = 1
noise = "{noise}"
"#,
        ad = party_block(&ad.card()),
        shop = party_block(&shop.card()),
    )
}

/// Checks that every released table has the exact rows (without noise) or rows within
/// `bound(column)` of them.
fn compare(tables: &[ReleasedTable], exact: &ProgramResult, noisy: bool) {
    assert_eq!(tables.len(), exact.tables.len());
    for expected in &exact.tables {
        let released = released_by_output(tables, &expected.output);
        assert_eq!(released.key_columns, expected.key_columns);
        assert_eq!(
            released.rows.len(),
            expected.rows.len(),
            "{}",
            expected.output
        );
        for (i, column) in released.columns.iter().enumerate() {
            let bound = if noisy {
                let (num, den) = column.noise.scale.split_once('/').unwrap();
                sealroom_privacy::DiscreteLaplace::new(num.parse().unwrap(), den.parse().unwrap())
                    .unwrap()
                    .error_bound(1.0 - 1e-9) as i64
            } else {
                assert_eq!(column.noise.mechanism, "none");
                0
            };
            for (got, want) in released.rows.iter().zip(&expected.rows) {
                assert_eq!(got.key, want.key);
                let diff = (got.values[i] - want.values[i]).abs();
                assert!(
                    diff <= bound,
                    "{} {:?} {}: {diff} > {bound}",
                    expected.output,
                    got.key,
                    column.name
                );
            }
        }
    }
}

fn lift_data(seed: u64) -> (String, String) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut study = String::from("person,arm\n");
    let mut conversions = String::from("person,at,type,value\n");
    for person in 0..3000 {
        let test = rng.next_u32() % 2 == 0;
        writeln!(study, "p{person},{}", if test { "test" } else { "control" }).unwrap();
        let chance = if test { 15 } else { 10 };
        for _ in 0..3 {
            if rng.next_u32() % 100 < chance {
                let at = 1_780_000_000 + u64::from(rng.next_u32() % (20 * 86_400));
                writeln!(
                    conversions,
                    "p{person},{at},buy,{}.00",
                    rng.next_u32() % 300
                )
                .unwrap();
            }
        }
    }
    (study, conversions)
}

fn lift_agreement(noise: &'static str) -> impl Fn(&Identity, &Identity, &Measurement) -> String {
    move |ad, shop, m| {
        let body = r#"[[dataset]]
owner = "adplatform"
name = "study"
person_column = "person"
columns = [{ name = "person", type = "string" }, { name = "arm", type = "string", values = ["test", "control"] }]

[[dataset]]
owner = "advertiser"
name = "conversions"
person_column = "person"
columns = [
  { name = "person", type = "string" },
  { name = "at", type = "timestamp" },
  { name = "type", type = "string" },
  { name = "value", type = "decimal", scale = 2 },
]

[program]
id = "lift"
version = 1
params = { study = "adplatform/study", conversions = "advertiser/conversions", arm_column = "arm", conversion_time = "at", conversion_type = "type", conversion_value = "value", study_start = "2026-05-28T20:26:40Z", study_end = "2026-06-11T20:26:40Z", max_conversions_per_person = 2, max_value = "250.00" }"#;
        two_party_agreement(ad, shop, m, body, &["lift"], noise)
    }
}

#[test]
fn lift_through_the_services_is_exact_without_noise_and_derives_its_figures_with_it() {
    for (noise, noisy) in [("none", false), ("discrete-laplace", true)] {
        let (study, conversions) = lift_data(5);
        let (tables, exact) = run_scenario(
            &lift_agreement(noise),
            [
                ("adplatform", "study", study),
                ("advertiser", "conversions", conversions),
            ],
        );
        compare(&tables, &exact, noisy);
        let lift = &tables[0];
        let names: Vec<&str> = lift.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "people",
                "converters",
                "conversions",
                "value",
                "value_squared"
            ]
        );
        let figure = &lift.derived[0];
        assert_eq!(figure.name, "conversion_rate_lift_percent");
        let (low, value, high) = (
            figure.low_95.unwrap(),
            figure.value.unwrap(),
            figure.high_95.unwrap(),
        );
        assert!(
            low < value && value < high && low > 0.0,
            "{low} {value} {high}"
        );
    }
}

fn reach_agreement(noise: &'static str) -> impl Fn(&Identity, &Identity, &Measurement) -> String {
    move |ad, shop, m| {
        let body = r#"[[dataset]]
owner = "adplatform"
name = "exposures"
person_column = "person"
columns = [{ name = "person", type = "string" }, { name = "campaign", type = "string" }]

[[dataset]]
owner = "advertiser"
name = "exposures"
person_column = "person"
columns = [{ name = "person", type = "string" }, { name = "campaign", type = "string" }]

[program]
id = "reach_frequency"
version = 1
params = { exposures = ["adplatform/exposures", "advertiser/exposures"], campaign_column = "campaign", max_frequency = 4, max_campaigns_per_person = 2, campaigns = ["spring", "summer", "autumn"] }"#;
        two_party_agreement(ad, shop, m, body, &["reach", "reach_total"], noise)
    }
}

#[test]
fn reach_across_two_publishers_through_the_services() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut publisher = || {
        let mut csv = String::from("person,campaign\n");
        for _ in 0..4000 {
            let campaign = ["spring", "summer", "autumn", "winter"][(rng.next_u32() % 4) as usize];
            writeln!(csv, "p{},{campaign}", rng.next_u32() % 1500).unwrap();
        }
        csv
    };
    let (a, b) = (publisher(), publisher());
    for (noise, noisy) in [("none", false), ("discrete-laplace", true)] {
        let (tables, exact) = run_scenario(
            &reach_agreement(noise),
            [
                ("adplatform", "exposures", a.clone()),
                ("advertiser", "exposures", b.clone()),
            ],
        );
        compare(&tables, &exact, noisy);
        let reach = released_by_output(&tables, "reach");
        let names: Vec<&str> = reach.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "reach",
                "frequency_1",
                "frequency_2",
                "frequency_3",
                "frequency_4_or_more"
            ]
        );
        // G = 2 campaigns and the total: L1 sensitivity 2 × 3 over the one measure.
        assert_eq!(reach.columns[0].noise.sensitivity, 6);
    }
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

/// Runs `program` of a `synth ads` truth file through the services; returns the opened tables.
fn run_synthetic(
    dir: &std::path::Path,
    truth: &serde_json::Value,
    program: &str,
) -> Vec<ReleasedTable> {
    use sealroom_cli::synth::agreement::{agreement_toml, file_stem, holdings};
    let agreement = |ad: &Identity, shop: &Identity, m: &Measurement| {
        agreement_toml(
            truth,
            program,
            sealroom_core::agreement::NoiseMechanism::DiscreteLaplace,
            ad,
            shop,
            m,
        )
        .unwrap()
    };
    let [first, second] = holdings(program);
    let read = |source: &str| {
        std::fs::read_to_string(dir.join(format!("{}.csv", file_stem(source)))).unwrap()
    };
    let (tables, _) = run_scenario(
        &agreement,
        [
            (first.0, first.1, read(first.2)),
            (second.0, second.1, read(second.2)),
        ],
    );
    tables
}

#[test]
fn noisy_releases_lie_within_their_stated_bounds_of_the_synthetic_truth_over_several_seeds() {
    let (mut cells, mut outside_99) = (0, 0);
    for seed in 1..=4 {
        let dir = tempfile::tempdir().unwrap();
        let options = sealroom_cli::synth::AdsOptions {
            people: 4000,
            campaigns: 10,
            publishers: 2,
            seed,
            true_lift_percent: 20.0,
            format: sealroom_cli::synth::FileFormat::Csv,
            out: dir.path().to_path_buf(),
        };
        sealroom_cli::synth::ads(&options, &|_| {}).unwrap();
        let truth: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("truth.json")).unwrap()).unwrap();
        for program in ["attribution", "lift", "reach_frequency"] {
            let released = run_synthetic(dir.path(), &truth, program);
            for expected in truth[program]["tables"].as_array().unwrap() {
                let table = released_by_output(&released, expected["output"].as_str().unwrap());
                let rows = expected["rows"].as_array().unwrap();
                assert_eq!(table.rows.len(), rows.len(), "{program}");
                for (got, want) in table.rows.iter().zip(rows) {
                    for (i, column) in table.columns.iter().enumerate() {
                        let want = want["values"][i].as_i64().unwrap();
                        let diff = (got.values[i] - want).unsigned_abs();
                        let (num, den) = column.noise.scale.split_once('/').unwrap();
                        let far = sealroom_privacy::DiscreteLaplace::new(
                            num.parse().unwrap(),
                            den.parse().unwrap(),
                        )
                        .unwrap()
                        .error_bound(1.0 - 1e-9);
                        assert!(
                            diff <= far,
                            "{program} {:?} {}: {diff} > {far}",
                            got.key,
                            column.name
                        );
                        cells += 1;
                        if diff > column.noise.error_bound_99 {
                            outside_99 += 1;
                        }
                    }
                }
            }
        }
    }
    // Each cell is within its 99% bound with probability ≥ 99%: over ~400 cells about 4 are
    // expected outside; 16 or more would happen by chance about once in a million runs.
    assert!(cells > 300, "{cells} cells");
    assert!(
        f64::from(outside_99) <= 0.04 * f64::from(cells),
        "{outside_99} of {cells} cells outside their stated 99% bound"
    );
    println!("{outside_99} of {cells} cells outside their stated 99% bound");
}
