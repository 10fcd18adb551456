//! The example pooled logistic regression (examples/logistic-regression, built by
//! scripts/build-examples.sh) trained through the per-person mode on synthetic data with known
//! coefficients, against a non-private fit of the same model on the pooled plaintext.

use sealroom_core::agreement::{NoiseMechanism, PrivacyTerms};
use sealroom_core::epsilon::Epsilon;
use sealroom_core::schema::{Column, ColumnType, Schema};
use sealroom_privacy::NoiseRng;
use sealroom_programs::wasm::WasmParams;
use sealroom_tables::{Cell, Table};
use sealroom_wasm::{GuestModule, Limits, RoundNoise, module_digest, run_per_person};

const MODULE: &[u8] = include_bytes!("../../../examples/modules/logistic-regression.wasm");
const TRUE_COEFFICIENTS: [f64; 4] = [-1.0, 1.2, -0.8, 0.5];
const FEATURE_SCALE: f64 = 4.0;
const PEOPLE: usize = 10_000;
const ROUNDS: u32 = 20;

/// A small deterministic generator for the synthetic people.
struct Lcg(u64);

impl Lcg {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// People with exposure counts 0..=8 in three categories and a purchase drawn from the true
/// model; the platform holds the features, the advertiser the labels.
fn synthetic(people: usize, seed: u64) -> (Table, Table, Vec<([f64; 3], f64)>) {
    let mut rng = Lcg(seed);
    let mut features = Table::new(Schema {
        columns: ["sports", "travel", "tech", "person"]
            .iter()
            .map(|c| {
                Column::new(
                    *c,
                    if *c == "person" {
                        ColumnType::String
                    } else {
                        ColumnType::Integer
                    },
                )
            })
            .collect(),
        person_column: "person".into(),
    });
    let mut labels = Table::new(Schema {
        columns: vec![
            Column::new("person", ColumnType::String),
            Column::new("purchased", ColumnType::Boolean),
        ],
        person_column: "person".into(),
    });
    let mut plain = Vec::new();
    for i in 0..people {
        let counts = [0; 3].map(|_| (rng.uniform() * 9.0).floor());
        let x = counts.map(|c| c / FEATURE_SCALE);
        let z = TRUE_COEFFICIENTS[0] + (0..3).map(|k| TRUE_COEFFICIENTS[k + 1] * x[k]).sum::<f64>();
        let y = rng.uniform() < sigmoid(z);
        let person = format!("p{i}");
        features
            .push_row(&[
                Cell::Number(counts[0] as i64),
                Cell::Number(counts[1] as i64),
                Cell::Number(counts[2] as i64),
                Cell::Text(&person),
            ])
            .unwrap();
        labels
            .push_row(&[Cell::Text(&person), Cell::Bool(y)])
            .unwrap();
        plain.push((x, if y { 1.0 } else { 0.0 }));
    }
    (features, labels, plain)
}

fn log_loss_and_accuracy(w: &[f64], data: &[([f64; 3], f64)]) -> (f64, f64) {
    let (mut loss, mut right) = (0.0, 0usize);
    for (x, y) in data {
        let p =
            sigmoid(w[0] + (0..3).map(|k| w[k + 1] * x[k]).sum::<f64>()).clamp(1e-12, 1.0 - 1e-12);
        loss -= y * p.ln() + (1.0 - y) * (1.0 - p).ln();
        right += usize::from((p >= 0.5) == (*y == 1.0));
    }
    (loss / data.len() as f64, right as f64 / data.len() as f64)
}

/// The non-private fit: Newton's method on the pooled plaintext, to convergence.
#[allow(clippy::needless_range_loop)] // matrix arithmetic reads best with indices
fn plaintext_fit(data: &[([f64; 3], f64)]) -> [f64; 4] {
    let mut w = [0.0; 4];
    for _ in 0..25 {
        let mut g = [0.0; 4];
        let mut h = [[0.0; 4]; 4];
        for (x, y) in data {
            let v = [1.0, x[0], x[1], x[2]];
            let p = sigmoid((0..4).map(|k| w[k] * v[k]).sum());
            for a in 0..4 {
                g[a] += (p - y) * v[a];
                for b in 0..4 {
                    h[a][b] += p * (1.0 - p) * v[a] * v[b];
                }
            }
        }
        // Solve h · step = g by Gaussian elimination.
        let mut m = h;
        let mut r = g;
        for c in 0..4 {
            for row in c + 1..4 {
                let f = m[row][c] / m[c][c];
                for k in c..4 {
                    m[row][k] -= f * m[c][k];
                }
                r[row] -= f * r[c];
            }
        }
        let mut step = [0.0; 4];
        for c in (0..4).rev() {
            step[c] = (r[c] - (c + 1..4).map(|k| m[c][k] * step[k]).sum::<f64>()) / m[c][c];
        }
        for k in 0..4 {
            w[k] -= step[k];
        }
    }
    w
}

fn params(rounds: u32) -> WasmParams {
    serde_json::from_value(serde_json::json!({
        "name": "logistic-regression",
        "module": module_digest(MODULE),
        "mode": "per_person",
        "inputs": ["platform/exposures", "advertiser/purchases"],
        "fuel_per_call": 10_000_000,
        "memory_bytes": 4 << 20,
        "params": [1.0, FEATURE_SCALE, 3.0],
        "groups": ["all"],
        "coordinates": ["g_intercept", "g_sports", "g_travel", "g_tech", "people"],
        "norm": "l2",
        "bound": 2.0,
        "units": 1_000_000,
        "rounds": rounds,
        "output": "model",
        "state_names": ["intercept", "sports", "travel", "tech"],
    }))
    .unwrap()
}

#[test]
fn the_private_model_predicts_about_as_well_as_the_plaintext_fit() {
    let (features, labels, plain) = synthetic(PEOPLE, 11);
    let params = params(ROUNDS);
    let privacy = PrivacyTerms {
        epsilon_per_run: Epsilon::from_f64(1.0).unwrap(),
        delta_per_run: 1e-6,
        total_epsilon_per_dataset: Epsilon::from_f64(10.0).unwrap(),
        max_groups_per_person: 1,
        max_rows_per_person_per_group: 1,
        max_rows_per_person: 1,
        min_aggregation: 0,
        noise: NoiseMechanism::DiscreteGaussian,
    };
    let noise = RoundNoise::size(&params, &privacy).unwrap();
    let guest = GuestModule::compile(
        &params.name,
        MODULE,
        &params.module,
        Limits {
            fuel_per_call: params.fuel_per_call,
            memory_bytes: params.memory_bytes,
        },
    )
    .unwrap();
    let started = std::time::Instant::now();
    let run = run_per_person(
        &guest,
        &params,
        vec![&features, &labels],
        &noise,
        &mut NoiseRng::from_test_seed(5),
    )
    .unwrap();
    let took = started.elapsed();
    let exact = plaintext_fit(&plain);
    let (private_loss, private_accuracy) = log_loss_and_accuracy(&run.state, &plain);
    let (plain_loss, plain_accuracy) = log_loss_and_accuracy(&exact, &plain);
    let (true_loss, _) = log_loss_and_accuracy(&TRUE_COEFFICIENTS, &plain);
    println!(
        "{PEOPLE} people × {ROUNDS} rounds in {took:.1?}: private {:.3?} log loss {private_loss:.4} accuracy {private_accuracy:.4}; plaintext {:.3?} log loss {plain_loss:.4} accuracy {plain_accuracy:.4}; true {TRUE_COEFFICIENTS:?} log loss {true_loss:.4}; noise σ {:.4} per round on sums of ±2",
        run.state,
        exact,
        noise.mechanism.variance().sqrt() / 1e6,
    );
    // The plaintext fit finds the true model; the private one comes close to its quality.
    for (fit, truth) in exact.iter().zip(TRUE_COEFFICIENTS) {
        assert!((fit - truth).abs() < 0.15, "{exact:?}");
    }
    assert!(
        private_loss < plain_loss + 0.01,
        "{private_loss} vs {plain_loss}"
    );
    assert!(
        private_accuracy > plain_accuracy - 0.01,
        "{private_accuracy} vs {plain_accuracy}"
    );
    assert_eq!(run.sums.len(), 5);
}
