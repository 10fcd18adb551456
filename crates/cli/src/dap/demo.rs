//! `sealroom demo dap`: a telemetry story. Ten thousand browsers each report which page-load
//! time bucket their last page fell in; the report is split between a leader and a helper run
//! as real processes on loopback, so neither sees any browser's time; a hundred broken or
//! malicious clients send reports that do not carry a valid measurement; the collector learns
//! only the histogram of the hour. Then the rules of the protocol refuse what they must.

use std::path::Path;
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use sealroom_dap::client::upload;
use sealroom_dap::collector::CollectError;
use sealroom_dap::messages::{Batch, Duration as DapDuration, Interval, Query, Time, VdafConfig};
use sealroom_dap::transport::{DapClient, TransportError};
use sealroom_dap::vdaf::Measurement;
use serde::Serialize;

use super::SplitDeployment;
use super::simulate::{task_spec, upload_all};

/// Upper edges of the page-load buckets, in milliseconds; the last bucket is everything above.
pub const BUCKET_EDGES_MS: [u32; 11] =
    [100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 8000];

/// What the demo showed.
#[derive(Debug, Clone, Serialize)]
pub struct DapDemoReport {
    /// Browsers that reported honestly.
    pub browsers: u64,
    /// Clients whose reports carried no valid measurement.
    pub invalid_clients: u64,
    /// Bucket labels.
    pub buckets: Vec<String>,
    /// The histogram the collector got.
    pub collected: Vec<u128>,
    /// The true histogram of the honest browsers (which no server saw).
    pub truth: Vec<u128>,
    /// Reports in the collected batch.
    pub report_count: u64,
    /// Whether the collected histogram equals the truth exactly.
    pub exact: bool,
    /// What the leader answered to a replayed report.
    pub replay: String,
    /// What the leader answered to a second, overlapping collection.
    pub second_collection: String,
    /// What the leader answered to a collector without the token.
    pub wrong_token: String,
    /// Wall time of the whole story, seconds.
    pub seconds: f64,
}

fn label(i: usize) -> String {
    match i {
        0 => format!("< {} ms", BUCKET_EDGES_MS[0]),
        i if i == BUCKET_EDGES_MS.len() => format!("≥ {} ms", BUCKET_EDGES_MS[i - 1]),
        i => format!("{}–{} ms", BUCKET_EDGES_MS[i - 1], BUCKET_EDGES_MS[i]),
    }
}

/// A page-load time drawn from a log-normal-like mix (most pages fast, a long tail).
fn page_load_ms(rng: &mut ChaCha20Rng) -> u32 {
    let mut uniform = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    // Box–Muller: a standard normal from two uniforms.
    let u = uniform().max(1e-12);
    let v = uniform();
    let normal = (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
    (650.0 * (0.8 * normal).exp()) as u32
}

fn bucket(ms: u32) -> usize {
    BUCKET_EDGES_MS
        .iter()
        .position(|&edge| ms < edge)
        .unwrap_or(BUCKET_EDGES_MS.len())
}

fn refusal(error: CollectError) -> String {
    match error {
        CollectError::Transport(TransportError::Problem {
            status,
            kind,
            detail,
            ..
        }) => {
            let name = kind.rsplit(':').next().unwrap_or(&kind);
            format!("{name} (HTTP {status}): {detail}")
        }
        other => other.to_string(),
    }
}

/// Runs the story with the aggregators' stores and logs in `dir`.
pub fn run(
    sealroom: &Path,
    dir: &Path,
    browsers: u64,
    seed: u64,
    step: &dyn Fn(&str),
) -> anyhow::Result<DapDemoReport> {
    let started = Instant::now();
    let length = BUCKET_EDGES_MS.len() as u32 + 1;
    let vdaf = VdafConfig::Prio3Histogram {
        length,
        chunk_length: 3,
    };
    step("starting the leader and the helper (two processes, two stores)");
    let deployment = SplitDeployment::start(sealroom, dir, |leader, helper| {
        let mut spec = task_spec(leader, helper, vdaf, "page-load times, demo");
        spec.min_batch_size = 1000;
        spec
    })?;
    let http = DapClient::new(Duration::from_secs(120));
    let client = deployment.client(&http)?;
    let now = sealroom_dap_aggregator::http::now();

    step(&format!(
        "{browsers} browsers measure and split their reports"
    ));
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut truth = vec![0u128; length as usize];
    let measurements: Vec<usize> = (0..browsers)
        .map(|_| {
            let b = bucket(page_load_ms(&mut rng));
            truth[b] += 1;
            b
        })
        .collect();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = measurements.len().div_ceil(threads).max(1);
    let mut reports = std::thread::scope(|scope| {
        let workers: Vec<_> = measurements
            .chunks(chunk)
            .map(|part| {
                let client = &client;
                scope.spawn(move || {
                    part.iter()
                        .map(|&b| client.report(&Measurement::Histogram(b), now))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a browser thread panicked"))
            .collect::<Result<Vec<Vec<_>>, _>>()
    })?
    .concat();
    let invalid_clients = browsers / 100;
    for i in 0..invalid_clients {
        reports.push(client.invalid_report(&Measurement::Histogram(i as usize % 3), now)?);
    }
    let replayed = reports[0].clone();
    upload_all(&http, &client, reports, step)?;
    let replay = match upload(&http, &client, vec![replayed])?.first() {
        Some(status) => format!("{:?}", status.error),
        None => "accepted (unexpected)".into(),
    };

    step("the collector asks for the hour's histogram");
    let collector = deployment.collector(&http);
    let hour = Query(Batch::TimeInterval(Interval {
        start: Time(now / 3600),
        duration: DapDuration(1),
    }));
    let collection = collector.collect(hour, Duration::from_secs(120))?;
    let collected = collection.value.values();

    step("what the protocol refuses");
    let wider = Query(Batch::TimeInterval(Interval {
        start: Time(now / 3600 - 1),
        duration: DapDuration(2),
    }));
    let second_collection = match collector.collect(wider, Duration::from_secs(60)) {
        Ok(_) => "collected again (unexpected)".into(),
        Err(e) => refusal(e),
    };
    let mut outsider = collector.clone();
    outsider.credential.token = "guessed".into();
    let wrong_token = match outsider.collect(hour, Duration::from_secs(10)) {
        Ok(_) => "collected (unexpected)".into(),
        Err(e) => refusal(e),
    };
    Ok(DapDemoReport {
        browsers,
        invalid_clients,
        buckets: (0..length as usize).map(label).collect(),
        exact: collected == truth && collection.report_count == browsers,
        collected,
        truth,
        report_count: collection.report_count,
        replay,
        second_collection,
        wrong_token,
        seconds: started.elapsed().as_secs_f64(),
    })
}
