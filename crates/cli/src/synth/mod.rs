//! `sealroom synth ads`: realistic ad-measurement data with its exact answers.
//!
//! An ad platform's touches (heavy-tailed per person: most people see a few ads, some see
//! hundreds; clicks about one touch in twenty), a randomised holdout (control people see no ads)
//! with a stated true conversion-rate lift, an advertiser's conversions (delays spread across
//! and beyond the attribution windows, conversions without any touch, refunds, values above any
//! sensible clamp) and several publishers' overlapping audiences. `truth.json` holds the
//! parameters of each program and its exact answer on the data, computed by the programs
//! themselves without noise (the programs are checked against independent references in their
//! own tests; this file is what noisy releases are compared with).

mod write;

use std::path::{Path, PathBuf};

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use serde::Serialize;

pub use write::FileFormat;
use write::RowWriter;

/// What to generate.
#[derive(Debug, Clone)]
pub struct AdsOptions {
    /// People in the population.
    pub people: u64,
    /// Campaigns.
    pub campaigns: u32,
    /// Publishers with their own exposure logs (for reach), at least 2.
    pub publishers: u32,
    /// Seed.
    pub seed: u64,
    /// True conversion-rate lift of the test arm over control, in percent.
    pub true_lift_percent: f64,
    /// File format.
    pub format: FileFormat,
    /// Output directory.
    pub out: PathBuf,
}

/// What was written.
#[derive(Debug, Clone, Serialize)]
pub struct AdsSummary {
    /// Rows per file, by file name.
    pub files: Vec<(String, u64)>,
    /// Where `truth.json` is.
    pub truth: PathBuf,
    /// Seconds spent generating and writing the data files.
    pub generate_seconds: f64,
    /// Seconds spent computing the exact answers.
    pub truth_seconds: f64,
}

/// The first instant of the generated period: 2026-03-01T00:00:00Z, in seconds.
pub const PERIOD_START: i64 = 1_772_323_200;
/// The generated period: 28 days of touches, conversions up to 10 days later.
pub const PERIOD_DAYS: i64 = 28;
const DAY_MICROS: i64 = 86_400_000_000;
/// Share of people in the control arm (held out: they see no ads).
const CONTROL_SHARE: f64 = 0.2;
/// Conversion probability of a control person in the study window.
const BASE_CONVERSION: f64 = 0.15;

fn uniform(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

fn below(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    // Lemire's multiply-shift: no modulo bias worth speaking of for these sizes.
    ((u128::from(rng.next_u64()) * u128::from(n)) >> 64) as u64
}

/// A heavy-tailed count ≥ 1: a Pareto draw with shape 1.2, capped.
fn heavy_tail(rng: &mut ChaCha8Rng, cap: u64) -> u64 {
    let u = uniform(rng).max(1e-12);
    (u.powf(-1.0 / 1.2) as u64).clamp(1, cap)
}

/// Generates the data set into `options.out`; `progress` is told the file being written.
pub fn ads(options: &AdsOptions, progress: &dyn Fn(&str)) -> anyhow::Result<AdsSummary> {
    anyhow::ensure!(options.people >= 1, "--people must be at least 1");
    anyhow::ensure!(options.campaigns >= 1, "--campaigns must be at least 1");
    anyhow::ensure!(options.publishers >= 2, "--publishers must be at least 2");
    anyhow::ensure!(
        options.true_lift_percent > -100.0 && options.true_lift_percent <= 1000.0,
        "--true-lift must be above -100 and at most 1000 (percent)"
    );
    std::fs::create_dir_all(&options.out)?;
    let out = &options.out;
    let path = |name: &str| out.join(format!("{name}.{}", options.format.extension()));
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let started = std::time::Instant::now();
    progress("touches, study and conversions");
    let mut touches = RowWriter::create(&path("touches"), write::TOUCHES, options.format)?;
    let mut study = RowWriter::create(&path("study"), write::STUDY, options.format)?;
    let mut conversions =
        RowWriter::create(&path("conversions"), write::CONVERSIONS, options.format)?;
    let start = PERIOD_START * 1_000_000;
    let period = PERIOD_DAYS * DAY_MICROS;
    let lift = 1.0 + options.true_lift_percent / 100.0;
    let mut times: Vec<i64> = Vec::new();
    for person in 0..options.people {
        let id = format!("u{person:09}");
        let control = uniform(&mut rng) < CONTROL_SHARE;
        study.row(&[&id, if control { "control" } else { "test" }])?;
        times.clear();
        if !control && uniform(&mut rng) < 0.7 {
            let touched = heavy_tail(&mut rng, 400);
            // Each person sees a few campaigns, mostly one.
            let favourite = below(&mut rng, u64::from(options.campaigns));
            for _ in 0..touched {
                let campaign = if uniform(&mut rng) < 0.8 {
                    favourite
                } else {
                    below(&mut rng, u64::from(options.campaigns))
                };
                let at = start + below(&mut rng, period as u64) as i64;
                let kind = if uniform(&mut rng) < 0.05 {
                    "click"
                } else {
                    "view"
                };
                let ad_set = below(&mut rng, 3);
                touches.row(&[
                    &id,
                    &write::rfc3339(at),
                    kind,
                    &format!("c{campaign:03}"),
                    &format!("s{ad_set}"),
                ])?;
                times.push(at);
            }
        }
        let p = if control {
            BASE_CONVERSION
        } else {
            (BASE_CONVERSION * lift).min(1.0)
        };
        if uniform(&mut rng) < p {
            let count =
                1 + u64::from(uniform(&mut rng) < 0.25) + u64::from(uniform(&mut rng) < 0.1);
            for _ in 0..count {
                // After one of the person's touches (delays up to 10 days: some inside the view
                // window, more inside the click window, some beyond both), or at any time.
                let at = match times.get(below(&mut rng, times.len().max(1) as u64) as usize) {
                    Some(&t) if uniform(&mut rng) < 0.8 => {
                        t + below(&mut rng, (10 * DAY_MICROS) as u64) as i64
                    }
                    _ => start + below(&mut rng, period as u64) as i64,
                };
                let roll = uniform(&mut rng);
                let (kind, cents) = if roll < 0.02 {
                    ("refund", -(below(&mut rng, 10_000) as i64))
                } else if roll < 0.05 {
                    ("purchase", 100_000 + below(&mut rng, 500_000) as i64)
                } else if roll < 0.3 {
                    ("signup", 0)
                } else {
                    ("purchase", 500 + below(&mut rng, 30_000) as i64)
                };
                conversions.row(&[&id, &write::rfc3339(at), kind, &write::cents(cents)])?;
            }
        }
    }
    let mut files = vec![
        ("touches".to_string(), touches.finish()?),
        ("study".to_string(), study.finish()?),
        ("conversions".to_string(), conversions.finish()?),
    ];
    progress("publishers' exposures");
    for publisher in 1..=options.publishers {
        let name = format!("exposures_{publisher}");
        let mut exposures = RowWriter::create(&path(&name), write::EXPOSURES, options.format)?;
        let reach = 0.2 + 0.4 * f64::from(publisher % 3) / 2.0;
        for person in 0..options.people {
            if uniform(&mut rng) < reach {
                let id = format!("u{person:09}");
                let seen = heavy_tail(&mut rng, 50);
                let favourite = below(&mut rng, u64::from(options.campaigns));
                for _ in 0..seen {
                    let campaign = if uniform(&mut rng) < 0.7 {
                        favourite
                    } else {
                        below(&mut rng, u64::from(options.campaigns))
                    };
                    exposures.row(&[&id, &format!("c{campaign:03}")])?;
                }
            }
        }
        files.push((name, exposures.finish()?));
    }
    let generate_seconds = started.elapsed().as_secs_f64();
    progress("the exact answers (truth.json)");
    let started = std::time::Instant::now();
    let truth = truth::compute(options)?;
    let truth_path = out.join("truth.json");
    std::fs::write(&truth_path, serde_json::to_vec_pretty(&truth)?)?;
    Ok(AdsSummary {
        files,
        truth: truth_path,
        generate_seconds,
        truth_seconds: started.elapsed().as_secs_f64(),
    })
}

pub mod agreement;
pub mod truth;

/// The path of a generated file.
pub fn file(dir: &Path, name: &str, format: FileFormat) -> PathBuf {
    dir.join(format!("{name}.{}", format.extension()))
}
