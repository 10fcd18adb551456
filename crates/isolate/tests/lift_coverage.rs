//! The lift's 95% interval, computed from noised counts with the noise's variance added to the
//! sampling variance, covers the true lift in about 95% of repeated studies: 300 randomised
//! holdouts of 8,000 people with a known lift, each run through the program and the isolate's
//! noise.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use sealroom_core::agreement::{DatasetTerms, NoiseMechanism, PrivacyTerms};
use sealroom_core::epsilon::Epsilon;
use sealroom_core::schema::{Column, ColumnType, Schema};
use sealroom_isolate::release::add_noise;
use sealroom_privacy::NoiseRng;
use sealroom_programs::lift::{LiftParams, derive, measure, result};
use sealroom_tables::{Cell, Table};

const START: i64 = 1_780_000_000_000_000;

#[test]
fn the_lift_interval_covers_the_true_lift_about_95_percent_of_the_time() {
    let datasets = [
        DatasetTerms {
            owner: "platform".into(),
            name: "study".into(),
            schema: Schema {
                columns: vec![
                    Column::new("person", ColumnType::Integer),
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
                    Column::new("person", ColumnType::Integer),
                    Column::new("at", ColumnType::Timestamp),
                    Column::new("type", ColumnType::String),
                    Column::decimal("value", 2),
                ],
                person_column: "person".into(),
            },
        },
    ];
    let params: LiftParams = serde_json::from_value(serde_json::json!({
        "study": "platform/study", "conversions": "shop/conversions", "arm_column": "arm",
        "conversion_time": "at", "conversion_type": "type", "conversion_value": "value",
        "study_start": "2026-05-28T20:26:40Z", "study_end": "2026-06-11T20:26:40Z",
        "max_conversions_per_person": 1, "max_value": "100.00",
    }))
    .unwrap();
    let rules = params.rules(&datasets).unwrap();
    let privacy = PrivacyTerms {
        epsilon_per_run: Epsilon::from_f64(0.5).unwrap(),
        delta_per_run: 1e-9,
        total_epsilon_per_dataset: Epsilon::from_f64(10.0).unwrap(),
        max_groups_per_person: 1,
        max_rows_per_person_per_group: 1,
        max_rows_per_person: 1,
        min_aggregation: 0,
        noise: NoiseMechanism::DiscreteLaplace,
    };
    // Control converts at 10%, test at 12%: a true conversion-rate lift of 20%.
    let (base, true_lift) = (0.10, 20.0);
    let mut data_rng = ChaCha8Rng::seed_from_u64(17);
    let mut noise_rng = NoiseRng::from_test_seed(18);
    let (runs, mut covered) = (300, 0);
    for _ in 0..runs {
        let mut study = Table::new(datasets[0].schema.clone());
        let mut conversions = Table::new(datasets[1].schema.clone());
        for person in 0..8000i64 {
            let test = data_rng.next_u32() % 2 == 0;
            let arm = if test { "test" } else { "control" };
            study
                .push_row(&[Cell::Number(person), Cell::Text(arm)])
                .unwrap();
            let p = if test {
                base * (1.0 + true_lift / 100.0)
            } else {
                base
            };
            if (data_rng.next_u64() as f64 / u64::MAX as f64) < p {
                conversions
                    .push_row(&[
                        Cell::Number(person),
                        Cell::Number(START + person),
                        Cell::Text("buy"),
                        Cell::Number(2_500),
                    ])
                    .unwrap();
            }
        }
        let exact = result(
            &rules,
            measure(&params, &rules, &study, &conversions).unwrap(),
        );
        let released = add_noise(&exact, &privacy, false, &mut noise_rng, &|t, v| {
            derive(t, v)
        })
        .unwrap()
        .remove(0);
        let lift = &released.derived[0];
        assert_eq!(lift.name, "conversion_rate_lift_percent");
        if let (Some(low), Some(high)) = (lift.low_95, lift.high_95)
            && low <= true_lift
            && true_lift <= high
        {
            covered += 1;
        }
    }
    let coverage = f64::from(covered) / f64::from(runs);
    assert!(
        (0.915..=0.98).contains(&coverage),
        "the interval covered the true lift in {covered} of {runs} studies"
    );
    println!("coverage {covered}/{runs} = {coverage:.3}");
}
