//! The load generator (`sealroom dap simulate`) and benchmark (`sealroom bench dap`): clients
//! make reports of known measurements through the real client, upload them to a leader and
//! helper running as processes, the collector collects, and the result must equal the
//! plaintext aggregate of the valid measurements exactly.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use sealroom_dap::client::{ClientTask, upload};
use sealroom_dap::messages::{
    Batch, BatchMode, Duration as DapDuration, Interval, Query, Report, Time, VdafConfig,
};
use sealroom_dap::transport::DapClient;
use sealroom_dap::vdaf::{AggregateValue, Measurement};
use sealroom_dap_aggregator::http::now;
use sealroom_dap_aggregator::provision::TaskSpec;
use sealroom_dap_aggregator::task::DEFAULT_REPORT_EXPIRY_AGE;
use serde::Serialize;

use super::{SplitDeployment, vdaf_label};

/// Reports per upload request.
const UPLOAD_BATCH: usize = 1000;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimulateOptions {
    /// Clients, one report each.
    pub clients: u64,
    /// The task's VDAF.
    pub vdaf: VdafConfig,
    /// Share of clients that send an invalid report (bypassing the encoder).
    pub invalid_fraction: f64,
    /// Seed of the measurements.
    pub seed: u64,
}

/// What a simulation showed.
#[derive(Debug, Clone, Serialize)]
pub struct SimulationReport {
    /// The VDAF.
    pub vdaf: String,
    /// Clients that reported.
    pub clients: u64,
    /// Of which sent invalid reports.
    pub invalid: u64,
    /// Reports in the collected batch.
    pub report_count: u64,
    /// The plaintext aggregate of the valid measurements.
    pub expected: Vec<u128>,
    /// What the collector got.
    pub collected: Vec<u128>,
    /// Whether they are equal and the count is that of the valid reports.
    pub exact: bool,
    /// Seconds making reports (client side, before the clock starts).
    pub client_seconds: f64,
    /// Seconds from the first upload to the collected result.
    pub seconds: f64,
    /// Reports per second from the first upload to the collected result.
    pub reports_per_second: f64,
}

fn measurement(vdaf: &VdafConfig, rng: &mut ChaCha20Rng) -> Measurement {
    let below = |rng: &mut ChaCha20Rng, n: u64| rng.next_u64() % n.max(1);
    match *vdaf {
        VdafConfig::Prio3Count => Measurement::Count(rng.next_u32().is_multiple_of(4)),
        VdafConfig::Prio3Sum { max_measurement } => {
            Measurement::Sum(below(rng, max_measurement.saturating_add(1)))
        }
        VdafConfig::Prio3SumVec {
            length,
            max_measurement,
            ..
        } => Measurement::SumVec(
            (0..length)
                .map(|_| u128::from(below(rng, max_measurement.saturating_add(1))))
                .collect(),
        ),
        VdafConfig::Prio3Histogram { length, .. } => {
            // A skewed histogram (like page-load times): low buckets more likely.
            let a = below(rng, length.into());
            let b = below(rng, length.into());
            Measurement::Histogram(a.min(b) as usize)
        }
        VdafConfig::Prio3MultihotCountVec {
            length, max_weight, ..
        } => {
            let mut set = vec![false; length as usize];
            for _ in 0..below(rng, max_weight.saturating_add(1)) {
                set[below(rng, length.into()) as usize] = true;
            }
            Measurement::MultihotCountVec(set)
        }
    }
}

fn add(total: &mut Vec<u128>, measurement: &Measurement) {
    let values: Vec<u128> = match measurement {
        Measurement::Count(b) => vec![u128::from(*b)],
        Measurement::Sum(v) => vec![u128::from(*v)],
        Measurement::SumVec(v) => v.clone(),
        Measurement::Histogram(i) => {
            let mut v = vec![0; total.len().max(*i + 1)];
            v[*i] = 1;
            v
        }
        Measurement::MultihotCountVec(set) => set.iter().map(|&b| u128::from(b)).collect(),
    };
    if total.len() < values.len() {
        total.resize(values.len(), 0);
    }
    for (t, v) in total.iter_mut().zip(values) {
        *t += v;
    }
}

fn expected_length(vdaf: &VdafConfig) -> usize {
    match *vdaf {
        VdafConfig::Prio3Count | VdafConfig::Prio3Sum { .. } => 1,
        VdafConfig::Prio3SumVec { length, .. }
        | VdafConfig::Prio3Histogram { length, .. }
        | VdafConfig::Prio3MultihotCountVec { length, .. } => length as usize,
    }
}

/// Makes `options.clients` reports on all cores; returns them with the plaintext aggregate of
/// the valid ones and how many are invalid.
pub fn make_reports(
    client: &ClientTask,
    options: &SimulateOptions,
    time: u64,
) -> anyhow::Result<(Vec<Report>, Vec<u128>, u64)> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let per = options.clients.div_ceil(threads as u64);
    let parts = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads as u64)
            .map(|t| {
                scope.spawn(move || -> anyhow::Result<_> {
                    let mut rng = ChaCha20Rng::seed_from_u64(options.seed ^ (t << 32));
                    let mut reports = Vec::new();
                    let mut total = vec![0u128; expected_length(&options.vdaf)];
                    let mut invalid = 0u64;
                    let range = (t * per)..((t + 1) * per).min(options.clients);
                    for _ in range {
                        let m = measurement(&options.vdaf, &mut rng);
                        let draw = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                        if draw < options.invalid_fraction {
                            invalid += 1;
                            reports.push(client.invalid_report(&m, time)?);
                        } else {
                            add(&mut total, &m);
                            reports.push(client.report(&m, time)?);
                        }
                    }
                    Ok((reports, total, invalid))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a report maker panicked"))
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let mut reports = Vec::with_capacity(options.clients as usize);
    let mut total = vec![0u128; expected_length(&options.vdaf)];
    let mut invalid = 0;
    for (r, t, i) in parts {
        reports.extend(r);
        for (a, b) in total.iter_mut().zip(t) {
            *a += b;
        }
        invalid += i;
    }
    Ok((reports, total, invalid))
}

/// A time-interval task of `vdaf` with a minimum batch of one, at `leader` and `helper`.
pub fn task_spec(leader: String, helper: String, vdaf: VdafConfig, info: &str) -> TaskSpec {
    TaskSpec {
        leader_endpoint: leader,
        helper_endpoint: helper,
        vdaf,
        time_precision: 3600,
        min_batch_size: 1,
        batch_mode: BatchMode::TimeInterval,
        task_info: info.as_bytes().to_vec(),
        task_interval: None,
        report_expiry_age: DEFAULT_REPORT_EXPIRY_AGE,
        noise: None,
    }
}

/// Uploads `reports` in requests of a thousand; every report must be accepted.
pub fn upload_all(
    http: &DapClient,
    client: &ClientTask,
    reports: Vec<Report>,
    progress: &dyn Fn(&str),
) -> anyhow::Result<()> {
    let total = reports.len();
    let mut sent = 0;
    let mut reports = reports.into_iter().peekable();
    while reports.peek().is_some() {
        let chunk: Vec<Report> = reports.by_ref().take(UPLOAD_BATCH).collect();
        sent += chunk.len();
        let refused = upload(http, client, chunk)?;
        if !refused.is_empty() {
            bail!(
                "the leader refused {} reports: {:?}",
                refused.len(),
                &refused[..1]
            );
        }
        progress(&format!("uploaded {sent} of {total} reports"));
    }
    Ok(())
}

/// The time-interval query of the time unit (3600 s) holding `time`.
pub fn hour_of(time: u64) -> Query {
    Query(Batch::TimeInterval(Interval {
        start: Time(time / 3600),
        duration: DapDuration(1),
    }))
}

/// Runs a simulation with both aggregators as processes under `dir`.
pub fn simulate(
    sealroom: &Path,
    dir: &Path,
    options: &SimulateOptions,
    progress: &dyn Fn(&str),
) -> anyhow::Result<SimulationReport> {
    if !(0.0..=1.0).contains(&options.invalid_fraction) {
        bail!("--invalid-fraction is between 0 and 1");
    }
    progress("starting the leader and the helper");
    let deployment = SplitDeployment::start(sealroom, dir, |leader, helper| {
        task_spec(leader, helper, options.vdaf, "sealroom dap simulate")
    })?;
    let http = DapClient::new(Duration::from_secs(600));
    let client = deployment.client(&http)?;
    let time = now();
    progress(&format!("{} clients making reports", options.clients));
    let started = Instant::now();
    let (reports, expected, invalid) = make_reports(&client, options, time)?;
    let client_seconds = started.elapsed().as_secs_f64();

    let started = Instant::now();
    upload_all(&http, &client, reports, progress)?;
    progress("collecting");
    let query = hour_of(time);
    let collection = deployment
        .collector(&http)
        .collect(query, Duration::from_secs(3600))
        .context("collecting the batch")?;
    let seconds = started.elapsed().as_secs_f64();
    let collected = match &collection.value {
        AggregateValue::Scalar(v) => vec![*v],
        AggregateValue::Vector(v) => v.clone(),
    };
    let valid = options.clients - invalid;
    Ok(SimulationReport {
        vdaf: vdaf_label(&options.vdaf),
        clients: options.clients,
        invalid,
        report_count: collection.report_count,
        exact: collected == expected && collection.report_count == valid,
        expected,
        collected,
        client_seconds,
        seconds,
        reports_per_second: options.clients as f64 / seconds,
    })
}
