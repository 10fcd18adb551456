//! `sealroom demo ml`: an ad platform and an advertiser train a purchase model on their pooled
//! data in a sealed room. The model is the example Wasm program `logistic-regression`
//! (`examples/`), published by the advertiser and named in the agreement by digest; the
//! platform clips each person's gradient, sums and noises it every round, so the coefficients
//! both parties receive are differentially private. The demo compares them with a non-private
//! fit of the same model on the pooled plaintext, which only the demo can see.

use std::time::Instant;

use anyhow::Context;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use sealroom_core::agreement::{AGREEMENT_FORMAT, NoiseMechanism, OutputTerms};
use sealroom_core::clock::SystemClock;
use sealroom_core::ids::Measurement;
use sealroom_core::schema::{Column, ColumnType};
use sealroom_crypto::Identity;
use sealroom_host::JobStatus;
use sealroom_party::authoring::{
    AgreementToml, DatasetToml, PartyToml, PrivacyToml, ProgramToml, RuntimeToml, TomlTime,
};
use serde::Serialize;

use super::{DemoOptions, Deployment, Scenario};

/// The example module (built from `examples/logistic-regression` by
/// `scripts/build-examples.sh`, which CI checks reproduces these bytes).
pub const MODULE: &[u8] = include_bytes!("../../../../examples/modules/logistic-regression.wasm");
/// Its documentation, published with it.
pub const DOCUMENTATION: &str = include_str!("../../../../examples/logistic-regression/README.md");
/// The demo's features, which the ad platform holds: exposures per campaign category.
pub const FEATURES: [&str; 3] = ["sports", "travel", "tech"];
/// The model the demo's synthetic purchases follow: intercept, then one coefficient per feature.
pub const TRUE_COEFFICIENTS: [f64; 4] = [-1.0, 1.2, -0.8, 0.5];
/// Features are exposure counts divided by this.
pub const FEATURE_SCALE: f64 = 4.0;
/// The demo's gradient steps.
pub const ROUNDS: u32 = 20;
/// The demo's step size.
pub const LEARNING_RATE: f64 = 2.0;
/// Each person's gradient (and count) is clipped to this L2 norm.
pub const CLIP: f64 = 2.0;
/// ε of the demo's whole training run.
pub const EPSILON: f64 = 1.0;

/// The model synthetic purchases follow, and how long it is trained.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The features the ad platform holds (exposure counts per campaign category).
    pub features: Vec<String>,
    /// Intercept, then one coefficient per feature.
    pub truth: Vec<f64>,
    /// Gradient steps.
    pub rounds: u32,
    /// The step size.
    pub learning_rate: f64,
    /// ε of the whole training run (δ = 10⁻⁶).
    pub epsilon: f64,
}

impl Model {
    /// The demo's model: [`FEATURES`], [`TRUE_COEFFICIENTS`], [`ROUNDS`] steps.
    pub fn demo() -> Self {
        Self {
            features: FEATURES.iter().map(|f| (*f).to_string()).collect(),
            truth: TRUE_COEFFICIENTS.to_vec(),
            rounds: ROUNDS,
            learning_rate: LEARNING_RATE,
            epsilon: EPSILON,
        }
    }

    /// `features` categories (`c01`, `c02`, …) whose coefficients alternate in sign and range
    /// over 0.3 to 0.7, intercept −1, trained for `rounds` steps of a size that shrinks with
    /// the features (the demo's step for its three), so that gradient descent does not
    /// overshoot.
    pub fn wide(features: usize, rounds: u32) -> Self {
        let mut truth = vec![-1.0];
        truth.extend((0..features).map(|i| {
            let size = 0.3 + 0.1 * (i % 5) as f64;
            if i % 2 == 0 { size } else { -size }
        }));
        Self {
            features: (1..=features).map(|i| format!("c{i:02}")).collect(),
            truth,
            rounds,
            learning_rate: LEARNING_RATE * 4.0 / (features as f64 + 1.0),
            epsilon: EPSILON,
        }
    }

    /// The coefficients' names: `intercept`, then the features.
    pub fn coefficient_names(&self) -> Vec<String> {
        std::iter::once("intercept".to_string())
            .chain(self.features.iter().cloned())
            .collect()
    }
}

/// One coefficient: private, non-private and true.
#[derive(Debug, Clone, Serialize)]
pub struct Coefficient {
    /// `intercept` or a feature.
    pub name: String,
    /// As released by the sealed room.
    pub private: Option<f64>,
    /// A non-private fit on the pooled plaintext.
    pub plaintext: f64,
    /// The model the data was drawn from.
    pub truth: f64,
}

/// What `sealroom demo ml` (and `sealroom bench ml`) reports.
#[derive(Debug, Clone, Serialize)]
pub struct MlReport {
    /// People in both datasets.
    pub people: u32,
    /// Features per person.
    pub features: usize,
    /// Gradient steps.
    pub rounds: u32,
    /// ε of the run (δ = 10⁻⁶).
    pub epsilon: f64,
    /// The module's SHA-256, as the agreement names it.
    pub module: String,
    /// Its *program published* log entry.
    pub published_at_log_index: u64,
    /// The coefficients.
    pub coefficients: Vec<Coefficient>,
    /// σ of the Gaussian noise on each summed gradient coordinate, per round.
    pub noise_sigma_per_round: f64,
    /// Mean log loss over the data: private model, non-private fit.
    pub log_loss: (f64, f64),
    /// Accuracy (purchase predicted when p ≥ 0.5): private model, non-private fit.
    pub accuracy: (f64, f64),
    /// Seconds the training job took at the host (queue to receipt).
    pub job_seconds: f64,
    /// Guest calls (people × rounds, each in a fresh instance) per second of the training job.
    pub calls_per_second: f64,
    /// Seconds the whole demo took.
    pub total_seconds: f64,
}

/// One person's features (scaled) and label.
pub type Example = (Vec<f64>, f64);

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn predict(w: &[f64], x: &[f64]) -> f64 {
    sigmoid(w[0] + w[1..].iter().zip(x).map(|(w, x)| w * x).sum::<f64>())
}

/// `people` with exposure counts 0 to 8 per category of `model` and purchases drawn from its
/// true coefficients: the platform's CSV, the advertiser's CSV, and the pooled plaintext.
pub fn synthetic(model: &Model, people: u32, seed: u64) -> (String, String, Vec<Example>) {
    use std::fmt::Write as _;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut features = format!("user_id,{}\n", model.features.join(","));
    let mut labels = String::from("user_id,purchased\n");
    let mut plain = Vec::with_capacity(people as usize);
    for i in 0..people {
        let counts: Vec<u32> = model
            .features
            .iter()
            .map(|_| super::data::below(&mut rng, 9))
            .collect();
        let x: Vec<f64> = counts
            .iter()
            .map(|c| f64::from(*c) / FEATURE_SCALE)
            .collect();
        let uniform = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let purchased = uniform < predict(&model.truth, &x);
        write!(features, "u{i:07}").expect("string write");
        for c in &counts {
            write!(features, ",{c}").expect("string write");
        }
        features.push('\n');
        writeln!(labels, "u{i:07},{purchased}").expect("string write");
        plain.push((x, if purchased { 1.0 } else { 0.0 }));
    }
    (features, labels, plain)
}

/// Mean log loss and accuracy of coefficients `w` on `data`.
pub fn log_loss_and_accuracy(w: &[f64], data: &[Example]) -> (f64, f64) {
    let (mut loss, mut right) = (0.0, 0usize);
    for (x, y) in data {
        let p = predict(w, x).clamp(1e-12, 1.0 - 1e-12);
        loss -= y * p.ln() + (1.0 - y) * (1.0 - p).ln();
        right += usize::from((p >= 0.5) == (*y == 1.0));
    }
    (loss / data.len() as f64, right as f64 / data.len() as f64)
}

/// The non-private fit: Newton's method on the pooled plaintext, to convergence.
#[allow(clippy::needless_range_loop)] // matrix arithmetic reads best with indices
pub fn plaintext_fit(data: &[Example]) -> Vec<f64> {
    let n = data.first().map_or(0, |(x, _)| x.len()) + 1;
    let mut w = vec![0.0; n];
    let mut v = vec![0.0; n];
    for _ in 0..25 {
        let (mut g, mut h) = (vec![0.0; n], vec![vec![0.0; n]; n]);
        for (x, y) in data {
            v[0] = 1.0;
            v[1..].copy_from_slice(x);
            let p = predict(&w, x);
            let weight = p * (1.0 - p);
            for a in 0..n {
                g[a] += (p - y) * v[a];
                let wa = weight * v[a];
                for b in 0..=a {
                    h[a][b] += wa * v[b];
                }
            }
        }
        for a in 0..n {
            for b in a + 1..n {
                h[a][b] = h[b][a];
            }
        }
        // h · step = g, by Gaussian elimination (h is positive definite).
        for c in 0..n {
            for row in c + 1..n {
                let f = h[row][c] / h[c][c];
                for k in c..n {
                    h[row][k] -= f * h[c][k];
                }
                g[row] -= f * g[c];
            }
        }
        let mut step = vec![0.0; n];
        for c in (0..n).rev() {
            step[c] = (g[c] - (c + 1..n).map(|k| h[c][k] * step[k]).sum::<f64>()) / h[c][c];
        }
        for k in 0..n {
            w[k] -= step[k];
        }
        if step.iter().all(|s| s.abs() < 1e-12) {
            break;
        }
    }
    w
}

/// The SHA-256 of [`MODULE`], as the agreement names it.
pub fn module_digest() -> String {
    sealroom_core::program::sha256_hex(MODULE)
}

/// The agreement: the platform's features and the advertiser's labels, the published module
/// `module` (a SHA-256) in the per-person mode training `model`, the coefficients to both
/// parties.
pub fn agreement_toml(
    model: &Model,
    module: &str,
    ad: &Identity,
    shop: &Identity,
    measurement: &Measurement,
) -> String {
    let mut params = toml::Table::new();
    let strings = |items: &[&str]| toml::Value::Array(items.iter().map(|s| (*s).into()).collect());
    params.insert("name".into(), "logistic-regression".into());
    params.insert("module".into(), module.into());
    params.insert("mode".into(), "per_person".into());
    params.insert(
        "inputs".into(),
        strings(&["adplatform/exposures", "advertiser/purchases"]),
    );
    params.insert("fuel_per_call".into(), 10_000_000.into());
    params.insert("memory_bytes".into(), (4 << 20).into());
    params.insert(
        "params".into(),
        toml::Value::Array(vec![
            model.learning_rate.into(),
            FEATURE_SCALE.into(),
            (model.features.len() as f64).into(),
        ]),
    );
    params.insert("groups".into(), strings(&["all"]));
    let names = model.coefficient_names();
    let mut coordinates: Vec<String> = names.iter().map(|n| format!("g_{n}")).collect();
    coordinates.push("people".into());
    let owned =
        |items: &[String]| toml::Value::Array(items.iter().map(|s| s.as_str().into()).collect());
    params.insert("coordinates".into(), owned(&coordinates));
    params.insert("norm".into(), "l2".into());
    params.insert("bound".into(), CLIP.into());
    params.insert("units".into(), 1_000_000.into());
    params.insert("rounds".into(), i64::from(model.rounds).into());
    params.insert("output".into(), "model".into());
    params.insert("state_names".into(), owned(&names));
    let mut feature_columns = vec![Column::new("user_id", ColumnType::String)];
    feature_columns.extend(
        model
            .features
            .iter()
            .map(|f| Column::new(f, ColumnType::Integer)),
    );
    let authored = AgreementToml {
        format: AGREEMENT_FORMAT.into(),
        name: "pooled-purchase-model".into(),
        valid_from: TomlTime::Text("2020-01-01T00:00:00Z".into()),
        valid_until: TomlTime::Text("2100-01-01T00:00:00Z".into()),
        parties: vec![
            PartyToml::from_card(&ad.card()),
            PartyToml::from_card(&shop.card()),
        ],
        datasets: vec![
            DatasetToml {
                owner: "adplatform".into(),
                name: "exposures".into(),
                person_column: "user_id".into(),
                columns: feature_columns,
            },
            DatasetToml {
                owner: "advertiser".into(),
                name: "purchases".into(),
                person_column: "user_id".into(),
                columns: vec![
                    Column::new("user_id", ColumnType::String),
                    Column::new("purchased", ColumnType::Boolean),
                ],
            },
        ],
        program: ProgramToml {
            id: sealroom_programs::wasm::ID.into(),
            version: sealroom_programs::wasm::VERSION,
            params,
        },
        runtimes: vec![RuntimeToml::sim(vec![measurement.to_string()])],
        outputs: vec![OutputTerms {
            name: "model".into(),
            readers: vec!["adplatform".into(), "advertiser".into()],
        }],
        privacy: PrivacyToml {
            epsilon_per_run: model.epsilon,
            delta_per_run: 1e-6,
            total_epsilon_per_dataset: model.epsilon.max(5.0),
            max_groups_per_person: 1,
            max_rows_per_person_per_group: None,
            max_rows_per_person: None,
            min_aggregation: None,
            noise: NoiseMechanism::DiscreteGaussian,
        },
        runs: None,
    };
    format!(
        "# A purchase model trained on pooled data; neither side sees the other's rows.\n{}",
        authored.to_toml()
    )
}

/// A deployment whose agreement names the module `module` (a SHA-256), with the synthetic
/// data sealed and uploaded and the isolate approved; and the pooled plaintext.
pub fn start(
    options: &DemoOptions,
    model: &Model,
    module: &str,
    step: &dyn Fn(&str),
) -> anyhow::Result<(Deployment, Vec<Example>)> {
    step(
        "generating synthetic people: exposures per category, and purchases drawn from a known model",
    );
    let (features, labels, plain) = synthetic(model, options.people, options.seed);
    let agreement = |ad: &Identity, shop: &Identity, m: &Measurement| {
        agreement_toml(model, module, ad, shop, m)
    };
    let d = Deployment::start_scenario(
        options,
        Scenario {
            agreement: &agreement,
            datasets: vec![
                (
                    "adplatform",
                    "exposures",
                    "exposures.csv",
                    features.into_bytes(),
                ),
                (
                    "advertiser",
                    "purchases",
                    "purchases.csv",
                    labels.into_bytes(),
                ),
            ],
        },
        step,
    )?;
    Ok((d, plain))
}

/// Runs the story: deployment, publication, training, and the comparison with plaintext.
pub fn run(options: &DemoOptions, step: &dyn Fn(&str)) -> anyhow::Result<MlReport> {
    train(options, &Model::demo(), step)
}

/// Trains `model` on `options.people` synthetic people end to end: deployment, publication,
/// the training job, and the comparison with plaintext.
pub fn train(
    options: &DemoOptions,
    model: &Model,
    step: &dyn Fn(&str),
) -> anyhow::Result<MlReport> {
    let started = Instant::now();
    let (d, plain) = start(options, model, &module_digest(), step)?;
    step("the advertiser publishes the program's module and documentation; the host logs it");
    let (publication, index) = sealroom_party::programs::publish_program(
        &d.host,
        &d.advertiser.identity,
        "logistic-regression",
        MODULE.to_vec(),
        DOCUMENTATION.into(),
        None,
        &SystemClock,
    )?;
    step(&format!(
        "training: {} rounds of one fresh Wasm instance per person, clipped, summed and noised",
        model.rounds
    ));
    let job_started = Instant::now();
    let job = d.run_job()?;
    let job_seconds = job_started.elapsed().as_secs_f64();
    if job.status != JobStatus::Finished {
        anyhow::bail!(
            "the training job is {:?}: {}",
            job.status,
            job.error.as_ref().map_or("", |e| e.message.as_str())
        );
    }
    let tables = d.open_outputs(&d.advertiser, &d.agreement, &job)?;
    let released = tables
        .iter()
        .find(|t| t.output == "model")
        .context("the job released no model")?;
    // The platform opens the same model.
    d.open_outputs(&d.adplatform, &d.agreement, &job)?;
    step("fitting the same model on the pooled plaintext (only the demo has it), to compare");
    let exact = plaintext_fit(&plain);
    let coefficients: Vec<Coefficient> = model
        .coefficient_names()
        .into_iter()
        .enumerate()
        .map(|(i, name)| Coefficient {
            private: released
                .derived
                .iter()
                .find(|f| f.name == name)
                .and_then(|f| f.value),
            name,
            plaintext: exact[i],
            truth: model.truth[i],
        })
        .collect();
    let private_w: Vec<f64> = coefficients
        .iter()
        .map(|c| c.private.unwrap_or(f64::NAN))
        .collect();
    let (private_loss, private_accuracy) = log_loss_and_accuracy(&private_w, &plain);
    let (plain_loss, plain_accuracy) = log_loss_and_accuracy(&exact, &plain);
    let noise = &released.columns[0].noise;
    let sigma = noise
        .scale
        .split_once('/')
        .and_then(|(n, d)| Some(n.parse::<f64>().ok()? / d.parse::<f64>().ok()?))
        .map_or(f64::NAN, |sigma2| sigma2.sqrt() / noise.units as f64);
    Ok(MlReport {
        people: options.people,
        features: model.features.len(),
        rounds: model.rounds,
        epsilon: model.epsilon,
        module: publication.publication.module,
        published_at_log_index: index,
        coefficients,
        noise_sigma_per_round: sigma,
        log_loss: (private_loss, plain_loss),
        accuracy: (private_accuracy, plain_accuracy),
        job_seconds,
        calls_per_second: f64::from(options.people) * f64::from(model.rounds) / job_seconds,
        total_seconds: started.elapsed().as_secs_f64(),
    })
}
