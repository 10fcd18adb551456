//! `sealroom bench dap`: reports per second from the first upload to the collected result, with
//! both aggregators as processes on loopback, and their CPU per report against the physical
//! limit measured in the same run: the cryptography no aggregator can skip (opening both input
//! shares, both aggregators' Prio3 verification, accumulating both output shares), done
//! in-process on one thread with nothing else.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use prio::vdaf::Aggregatable;
use sealroom_dap::client::ClientTask;
use sealroom_dap::hpke::HpkeKeypair;
use sealroom_dap::messages::{Report, VdafConfig};
use sealroom_dap::transport::DapClient;
use sealroom_dap::vdaf::DapVdaf;
use sealroom_dap::with_prio3;
use sealroom_dap_aggregator::AggregatorTask;
use sealroom_dap_aggregator::http::now;
use sealroom_dap_aggregator::prepare::{
    helper_step, leader_finish, leader_start, open_input_share,
};
use sealroom_dap_aggregator::provision::new_task;
use serde::Serialize;

use super::simulate::{SimulateOptions, hour_of, make_reports, task_spec, upload_all};
use super::{SplitDeployment, vdaf_label};

/// Reports the physical limit is measured on.
const LIMIT_SAMPLE: usize = 5000;

/// What the benchmark measured.
#[derive(Debug, Clone, Serialize)]
pub struct DapBenchReport {
    /// The VDAF.
    pub vdaf: String,
    /// Reports.
    pub reports: u64,
    /// Seconds from the first upload to the collected result.
    pub seconds: f64,
    /// Reports per second over that time.
    pub reports_per_second: f64,
    /// Leader and helper CPU seconds over that time, per report (microseconds).
    pub server_cpu_us_per_report: f64,
    /// Of which the leader's.
    pub leader_cpu_us_per_report: f64,
    /// Of which the helper's.
    pub helper_cpu_us_per_report: f64,
    /// The unavoidable cryptography per report (microseconds).
    pub limit_us_per_report: f64,
    /// Server CPU over the limit.
    pub ratio_to_limit: f64,
    /// Whether the collected aggregate equalled the plaintext one.
    pub exact: bool,
}

/// Runs the benchmark with the aggregators' stores under `dir`.
pub fn run(
    sealroom: &Path,
    dir: &Path,
    reports: u64,
    vdaf: VdafConfig,
    progress: &dyn Fn(&str),
) -> anyhow::Result<DapBenchReport> {
    let limit = physical_limit(vdaf, progress)?;
    progress("starting the leader and the helper");
    let deployment = SplitDeployment::start(sealroom, dir, |leader, helper| {
        task_spec(leader, helper, vdaf, "sealroom bench dap")
    })?;
    let http = DapClient::new(Duration::from_secs(600));
    let client = deployment.client(&http)?;
    let time = now();
    progress(&format!(
        "making {reports} reports (client side, not timed)"
    ));
    let options = SimulateOptions {
        clients: reports,
        vdaf,
        invalid_fraction: 0.0,
        seed: 7,
    };
    let (made, expected, _) = make_reports(&client, &options, time)?;

    let cpu = |d: &SplitDeployment| -> anyhow::Result<(f64, f64)> {
        Ok((d.leader.cpu_seconds()?, d.helper.cpu_seconds()?))
    };
    let before = cpu(&deployment)?;
    let started = Instant::now();
    upload_all(&http, &client, made, progress)?;
    progress("aggregating and collecting");
    let query = hour_of(time);
    let collection = deployment
        .collector(&http)
        .collect(query, Duration::from_secs(3600))
        .context("collecting")?;
    let seconds = started.elapsed().as_secs_f64();
    let after = cpu(&deployment)?;
    let per = |s: f64| s / reports as f64 * 1e6;
    let (leader, helper) = (per(after.0 - before.0), per(after.1 - before.1));
    Ok(DapBenchReport {
        vdaf: vdaf_label(&vdaf),
        reports,
        seconds,
        reports_per_second: reports as f64 / seconds,
        server_cpu_us_per_report: leader + helper,
        leader_cpu_us_per_report: leader,
        helper_cpu_us_per_report: helper,
        limit_us_per_report: limit,
        ratio_to_limit: (leader + helper) / limit,
        exact: collection.value.values() == expected && collection.report_count == reports,
    })
}

/// Microseconds per report of the cryptography both aggregators must do, on one thread.
fn physical_limit(vdaf: VdafConfig, progress: &dyn Fn(&str)) -> anyhow::Result<f64> {
    progress("measuring the cryptography per report (the physical limit)");
    let task = new_task(
        &task_spec(
            "http://leader.invalid/".into(),
            "http://helper.invalid/".into(),
            vdaf,
            "sealroom bench dap",
        ),
        None,
    )?;
    let keys = [HpkeKeypair::generate(1), HpkeKeypair::generate(2)];
    let client = ClientTask {
        task_id: task.task_id,
        configuration: task.configuration.clone(),
        leader_hpke: keys[0].config.clone(),
        helper_hpke: keys[1].config.clone(),
    };
    let options = SimulateOptions {
        clients: LIMIT_SAMPLE as u64,
        vdaf,
        invalid_fraction: 0.0,
        seed: 11,
    };
    let (reports, _, _) = make_reports(&client, &options, now())?;
    let prio3 = task.leader.vdaf()?;
    let started = Instant::now();
    with_prio3!(&prio3, v => crypto_only(v, &task.leader, &task.helper, &keys, &reports))?;
    Ok(started.elapsed().as_secs_f64() / reports.len() as f64 * 1e6)
}

fn crypto_only<V: DapVdaf>(
    vdaf: &V,
    leader: &AggregatorTask,
    helper: &AggregatorTask,
    keys: &[HpkeKeypair; 2],
    reports: &[Report],
) -> anyhow::Result<()> {
    let now = now();
    let mut sums = [vdaf.aggregate_init(&()), vdaf.aggregate_init(&())];
    let failed = |e| anyhow::anyhow!("a valid report failed: {e:?}");
    for report in reports {
        let metadata = &report.report_metadata;
        let (public, leader_input) = open_input_share(
            vdaf,
            leader,
            std::slice::from_ref(&keys[0]),
            metadata,
            &report.public_share,
            &report.leader_encrypted_input_share,
            now,
        )
        .map_err(failed)?;
        let (_, helper_input) = open_input_share(
            vdaf,
            helper,
            std::slice::from_ref(&keys[1]),
            metadata,
            &report.public_share,
            &report.helper_encrypted_input_share,
            now,
        )
        .map_err(failed)?;
        let (state, message) =
            leader_start(vdaf, leader, &metadata.report_id, &public, &leader_input)
                .map_err(failed)?;
        let (helper_output, reply) = helper_step(
            vdaf,
            helper,
            &metadata.report_id,
            &public,
            &helper_input,
            &message,
        )
        .map_err(failed)?;
        let leader_output = leader_finish(vdaf, leader, &state, &reply).map_err(failed)?;
        sums[0].accumulate(&leader_output)?;
        sums[1].accumulate(&helper_output)?;
    }
    std::hint::black_box(sums);
    Ok(())
}
