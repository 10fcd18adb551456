//! `sealroom bench wasm`: `overlap` as the built-in against `overlap` as the Wasm example, run
//! per person and vetted, each a whole sealed job (run request → sealed outputs stored) over the
//! same data in one deployment.

use std::collections::HashSet;
use std::time::Instant;

use anyhow::Context;
use sealroom_core::agreement::SignedAgreement;
use sealroom_core::clock::SystemClock;
use sealroom_core::output::ReleasedTable;
use sealroom_host::JobStatus;
use serde::Serialize;

use crate::demo::{
    DemoOptions, DemoPrivacy, DemoProgram, Deployment, OVERLAP_DOCUMENTATION, OVERLAP_MODULE,
    RoomDataset, agreement_toml, data, exact_result,
};
use crate::services::Executables;

/// One program's sealed job.
#[derive(Debug, Clone, Serialize)]
pub struct WasmBenchJob {
    /// `builtin`, `wasm per_person` or `wasm vetted`.
    pub program: String,
    /// Seconds from the run request to the sealed outputs stored.
    pub job_seconds: f64,
    /// The job's time over the built-in's.
    pub ratio_to_builtin: f64,
    /// The largest distance of a released count from the exact count.
    pub max_error: u64,
    /// The release's stated 95% error bound per count.
    pub error_bound_95: u64,
    /// Rows of the released table (one per declared campaign).
    pub rows: usize,
    /// The mode stated on the released table (none for the built-in).
    pub mode: Option<String>,
}

/// What `sealroom bench wasm` reports.
#[derive(Debug, Clone, Serialize)]
pub struct WasmBench {
    /// Rows in each of the two datasets.
    pub rows_per_side: u32,
    /// Distinct people in either dataset: the per-person mode's calls.
    pub people: u64,
    /// SHA-256 of the example module.
    pub module: String,
    /// The three jobs, built-in first.
    pub jobs: Vec<WasmBenchJob>,
    /// Per-person calls (each a fresh instance) per second of the per-person job's whole time:
    /// a lower bound on the instantiation rate.
    pub per_person_calls_per_second: f64,
}

/// The released `overlap` table of `job` under `agreement`, opened by the advertiser.
fn released(
    d: &Deployment,
    agreement: &SignedAgreement,
    what: &str,
) -> anyhow::Result<(f64, ReleasedTable)> {
    let start = Instant::now();
    let job = d.run_agreement(agreement, &d.advertiser)?;
    let seconds = start.elapsed().as_secs_f64();
    anyhow::ensure!(
        job.status == JobStatus::Finished,
        "the {what} job failed: {}",
        job.error.as_ref().map_or("", |e| e.message.as_str())
    );
    let tables = d.open_outputs(&d.advertiser, agreement, &job)?;
    let table = tables
        .into_iter()
        .find(|t| t.output == "overlap")
        .with_context(|| format!("the {what} job released no overlap table"))?;
    Ok((seconds, table))
}

/// Runs the benchmark over `rows` rows per side, generated with `seed`.
pub fn wasm(
    rows: u32,
    seed: u64,
    executables: Executables,
    progress: &dyn Fn(&str),
) -> anyhow::Result<WasmBench> {
    let demo_data = data::generate_rows(rows, seed);
    let people = {
        let ids = |csv: &str| -> HashSet<String> {
            csv.lines()
                .skip(1)
                .filter_map(|l| l.split(',').next().map(str::to_owned))
                .collect()
        };
        let mut all = ids(&demo_data.exposures_csv);
        all.extend(ids(&demo_data.purchases_csv));
        all.len() as u64
    };
    let privacy = |program| DemoPrivacy {
        epsilon_per_run: 1.0,
        total_epsilon: 10.0,
        program,
        ..DemoPrivacy::default()
    };
    progress("starting the services; the built-in overlap's agreement, sealed data, approvals");
    let options = DemoOptions::new(executables);
    let d = Deployment::start(
        &options,
        privacy(DemoProgram::Overlap),
        demo_data.clone(),
        &|_| {},
    )?;
    let exact = exact_result(&d.agreement, &demo_data)?.cells().0;
    progress("the advertiser publishes the overlap example; both owners open its two rooms");
    sealroom_party::programs::publish_program(
        &d.host,
        &d.advertiser.identity,
        "overlap",
        OVERLAP_MODULE.to_vec(),
        OVERLAP_DOCUMENTATION.into(),
        None,
        &SystemClock,
    )?;
    let files: Vec<RoomDataset<'_>> = vec![
        ("adplatform", "exposures", d.dir.join("bench-exposures.csv")),
        ("advertiser", "purchases", d.dir.join("bench-purchases.csv")),
    ];
    std::fs::write(&files[0].2, &demo_data.exposures_csv)?;
    std::fs::write(&files[1].2, &demo_data.purchases_csv)?;
    let room = |vetted: bool| {
        let toml = agreement_toml(
            &d.adplatform.identity,
            &d.advertiser.identity,
            &d.measurement,
            privacy(DemoProgram::WasmOverlap { vetted }),
        );
        let name = if vetted {
            "wasm-vetted"
        } else {
            "wasm-per-person"
        };
        d.open_room(&toml, name, &files, &|_| {})
    };
    let per_person_room = room(false)?;
    let vetted_room = room(true)?;

    let mut jobs = Vec::new();
    let mut builtin_seconds = f64::NAN;
    for (what, agreement) in [
        ("builtin", &d.agreement),
        ("wasm per_person", &per_person_room),
        ("wasm vetted", &vetted_room),
    ] {
        progress(&format!(
            "the {what} job: run request → sealed outputs stored"
        ));
        let (seconds, table) = released(&d, agreement, what)?;
        if what == "builtin" {
            builtin_seconds = seconds;
        }
        let max_error = table
            .rows
            .iter()
            .map(|row| {
                let truth = exact
                    .iter()
                    .find(|(g, _)| *g == row.key[0])
                    .map_or(0, |(_, v)| *v);
                row.values[0].abs_diff(truth)
            })
            .max()
            .unwrap_or(0);
        jobs.push(WasmBenchJob {
            rows: table.rows.len(),
            program: what.into(),
            job_seconds: seconds,
            ratio_to_builtin: seconds / builtin_seconds,
            max_error,
            error_bound_95: table.columns.first().map_or(0, |c| c.noise.error_bound_95),
            mode: table.wasm.map(|w| w.mode),
        });
    }
    let per_person_seconds = jobs[1].job_seconds;
    Ok(WasmBench {
        rows_per_side: rows,
        people,
        module: sealroom_core::program::sha256_hex(OVERLAP_MODULE),
        jobs,
        per_person_calls_per_second: people as f64 / per_person_seconds,
    })
}
