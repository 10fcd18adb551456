//! `sealroom bench attribution|lift|reach`: the whole sealed job on synthetic data (10 million
//! touches, about a million conversions) against DuckDB running the same semantics in SQL over
//! the same data as plaintext Parquet, in the same run, on the same machine.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use sealroom_core::agreement::NoiseMechanism;
use sealroom_core::ids::Measurement;
use sealroom_crypto::Identity;
use sealroom_host::JobStatus;
use serde::Serialize;

use crate::demo::{DemoOptions, Deployment, Scenario};
use crate::services::Executables;
use crate::synth::agreement::{agreement_toml, file_stem, holdings};
use crate::synth::{AdsOptions, FileFormat};

/// One program's benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct AdsBench {
    /// The program.
    pub program: String,
    /// People generated (about 2.3 touches each).
    pub people: u64,
    /// Rows of the two inputs.
    pub input_rows: [u64; 2],
    /// Seconds from the signed run request to the sealed outputs stored (isolate start, key
    /// release, decrypt, decode, join, bound, noise, seal).
    pub job_seconds: f64,
    /// DuckDB's query time in seconds, 2 threads, over the same data as Parquet.
    pub duckdb_seconds: f64,
    /// The DuckDB version.
    pub duckdb_version: String,
    /// Whether DuckDB's exact answer equals the program's noise-free answer (`truth.json`).
    pub duckdb_agrees: bool,
    /// The isolate's peak resident memory (VmHWM), sampled while the job ran, in bytes.
    pub isolate_peak_rss: u64,
    /// The SQL DuckDB ran.
    pub sql: String,
}

/// The SQL with the same semantics as `program` (over the files in `dir`, `{…}` replaced).
fn sql(program: &str, dir: &Path, truth: &serde_json::Value) -> anyhow::Result<String> {
    let file = |source: &str| {
        format!(
            "'{}'",
            dir.join(format!("{}.parquet", file_stem(source))).display()
        )
    };
    let p = &truth[program]["params"];
    let text = match program {
        "attribution" => format!(
            "WITH conv AS (
  SELECT person, \"at\", value, row_number() OVER (PARTITION BY person ORDER BY \"at\", \"type\", value) AS rn
  FROM read_parquet({conversions})),
credited AS (SELECT person, \"at\", value, row_number() OVER () AS cid FROM conv WHERE rn <= {k}),
candidates AS (
  SELECT c.cid, t.kind, t.\"at\" AS touched, t.campaign
  FROM credited c JOIN read_parquet({touches}) t ON t.person = c.person
  WHERE t.\"at\" <= c.\"at\" AND ((t.kind = 'click' AND t.\"at\" >= c.\"at\" - INTERVAL 7 DAY)
                       OR (t.kind = 'view' AND t.\"at\" >= c.\"at\" - INTERVAL 1 DAY))),
winners AS (
  SELECT cid, campaign FROM candidates
  QUALIFY row_number() OVER (PARTITION BY cid ORDER BY kind = 'click' DESC, touched DESC, campaign) = 1)
SELECT w.campaign, count(*) AS conversions,
       CAST(sum(least(greatest(c.value, 0), {v})) * 100 AS BIGINT) AS value
FROM credited c LEFT JOIN winners w USING (cid)
GROUP BY w.campaign ORDER BY w.campaign NULLS LAST",
            conversions = file("advertiser/conversions"),
            touches = file("platform/touches"),
            k = p["max_conversions_per_person"],
            v = p["max_value"].as_str().unwrap_or("0"),
        ),
        "lift" => format!(
            "WITH listed AS (SELECT person, min(arm) AS arm, count(DISTINCT arm) AS arms
                FROM read_parquet({study}) GROUP BY person),
study AS (SELECT person, arm FROM listed WHERE arms = 1),
conv AS (
  SELECT c.person, c.value, row_number() OVER (PARTITION BY c.person ORDER BY c.\"at\", c.\"type\", c.value) AS rn
  FROM read_parquet({conversions}) c SEMI JOIN study USING (person)
  WHERE c.\"at\" BETWEEN TIMESTAMPTZ '{start}' AND TIMESTAMPTZ '{end}'),
per_person AS (
  SELECT person, count(*) AS n, sum(least(greatest(value, 0), {v})) * 100 AS cents
  FROM conv WHERE rn <= {k} GROUP BY person)
SELECT arm, count(*) AS people, count(p.person) AS converters, coalesce(sum(n), 0) AS conversions,
       CAST(coalesce(sum(cents), 0) AS BIGINT) AS value,
       CAST(coalesce(sum(cents * cents), 0) AS BIGINT) AS value_squared
FROM study LEFT JOIN per_person p USING (person)
GROUP BY arm ORDER BY arm = 'control'",
            study = file("platform/study"),
            conversions = file("advertiser/conversions"),
            start = p["study_start"].as_str().unwrap_or(""),
            end = p["study_end"].as_str().unwrap_or(""),
            k = p["max_conversions_per_person"],
            v = p["max_value"].as_str().unwrap_or("0"),
        ),
        _ => {
            let f = p["max_frequency"].as_u64().unwrap_or(5);
            let g = p["max_campaigns_per_person"].as_u64().unwrap_or(3);
            let buckets: Vec<String> = (1..f)
                .map(|i| format!("count(*) FILTER (WHERE n = {i})"))
                .chain(std::iter::once(format!("count(*) FILTER (WHERE n >= {f})")))
                .collect();
            format!(
                "WITH exposures AS (SELECT person, campaign FROM read_parquet({a})
                   UNION ALL SELECT person, campaign FROM read_parquet({b})),
per_campaign AS (SELECT person, campaign, count(*) AS n FROM exposures GROUP BY person, campaign),
kept AS (SELECT * FROM per_campaign QUALIFY row_number() OVER (PARTITION BY person ORDER BY campaign) <= {g})
SELECT campaign, count(*), {buckets} FROM kept GROUP BY campaign
UNION ALL
SELECT NULL, count(*), {buckets} FROM (SELECT person, sum(n) AS n FROM kept GROUP BY person)
ORDER BY 1 NULLS LAST",
                a = file("publisher1/exposures"),
                b = file("publisher2/exposures"),
                buckets = buckets.join(", "),
            )
        }
    };
    Ok(text)
}

/// Runs `sql` in DuckDB (2 threads); returns its seconds and rows (every value as text, nulls
/// as empty).
fn duckdb(sql: &str) -> anyhow::Result<(f64, Vec<Vec<String>>)> {
    let script = "import duckdb, json, sys, time\n\
         con = duckdb.connect()\n\
         con.execute('SET threads TO 2')\n\
         con.execute('SET enable_progress_bar = false')\n\
         sql = sys.stdin.read()\n\
         t = time.perf_counter()\n\
         rows = con.execute(sql).fetchall()\n\
         elapsed = time.perf_counter() - t\n\
         print(json.dumps({'seconds': elapsed, 'rows': [[('' if v is None else str(v)) for v in r] for r in rows]}))\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    std::io::Write::write_all(&mut child.stdin.take().context("stdin")?, sql.as_bytes())?;
    let out = child.wait_with_output()?;
    anyhow::ensure!(
        out.status.success(),
        "DuckDB failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let rows = answer["rows"]
        .as_array()
        .context("rows")?
        .iter()
        .map(|r| {
            r.as_array()
                .map(|v| {
                    v.iter()
                        .map(|x| x.as_str().unwrap_or("").to_string())
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect();
    Ok((answer["seconds"].as_f64().context("seconds")?, rows))
}

/// The truth file's tables as text rows `key…, values…`, in the order DuckDB's SQL sorts them
/// (declared keys by key, the one-row table last with an empty key).
fn truth_rows(truth: &serde_json::Value, program: &str) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    for table in truth[program]["tables"].as_array().into_iter().flatten() {
        for row in table["rows"].as_array().into_iter().flatten() {
            let mut key: Vec<String> = row["key"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect();
            if key.is_empty() && program != "lift" {
                key.push(String::new());
            }
            let values = row["values"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| v.to_string());
            rows.push(key.into_iter().chain(values).collect());
        }
    }
    // Attribution's keys with nothing credited are absent from DuckDB's GROUP BY.
    if program == "attribution" {
        rows.retain(|r| r.get(1).is_some_and(|n| n != "0") || r[0].is_empty());
    }
    rows
}

/// The largest VmHWM of any running `sealroom-isolate`, sampled until `stop`.
fn watch_isolates(stop: Arc<AtomicBool>, peak: Arc<AtomicU64>) {
    while !stop.load(Ordering::Relaxed) {
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.flatten() {
                let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
                // The kernel keeps 15 bytes of a command's name.
                if !"sealroom-isolate".starts_with(comm.trim()) || comm.trim().len() < 15 {
                    continue;
                }
                let status =
                    std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
                if let Some(kb) = status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                {
                    peak.fetch_max(kb * 1024, Ordering::Relaxed);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Benchmarks `program` (`attribution`, `lift` or `reach_frequency`) over `people` generated
/// people (data generated once into `dir` and reused).
pub fn ads(
    program: &str,
    people: u64,
    dir: &Path,
    executables: Executables,
    progress: &dyn Fn(&str),
) -> anyhow::Result<AdsBench> {
    let duckdb_version = super::sources::ensure_duckdb()?;
    let data: PathBuf = dir.join(format!("ads-{people}"));
    if !data.join("truth.json").exists() {
        progress("generating the data (once) and its exact answers");
        crate::synth::ads(
            &AdsOptions {
                people,
                campaigns: 20,
                publishers: 2,
                seed: 1,
                true_lift_percent: 10.0,
                format: FileFormat::Parquet,
                out: data.clone(),
            },
            progress,
        )?;
    }
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("truth.json"))?)?;
    let [first, second] = holdings(program);
    let read = |source: &str| std::fs::read(data.join(format!("{}.parquet", file_stem(source))));
    let agreement = |ad: &Identity, shop: &Identity, m: &Measurement| {
        agreement_toml(
            &truth,
            program,
            NoiseMechanism::DiscreteLaplace,
            ad,
            shop,
            m,
        )
        .unwrap_or_default()
    };
    let files = [
        format!("{}.parquet", file_stem(first.2)),
        format!("{}.parquet", file_stem(second.2)),
    ];
    progress("starting the services, sealing and uploading both datasets");
    let scenario = Scenario {
        agreement: &agreement,
        datasets: vec![
            (first.0, first.1, files[0].as_str(), read(first.2)?),
            (second.0, second.1, files[1].as_str(), read(second.2)?),
        ],
    };
    let options = DemoOptions {
        dir: Some(dir.join(format!("deployment-{program}"))),
        ..DemoOptions::new(executables)
    };
    if let Some(d) = &options.dir {
        let _ = std::fs::remove_dir_all(d);
    }
    let deployment = Deployment::start_scenario(&options, scenario, &|_| {})?;
    let input_rows = [first.2, second.2].map(|source| {
        let path = data.join(format!("{}.parquet", file_stem(source)));
        std::fs::File::open(path)
            .ok()
            .and_then(|f| parquet::file::reader::SerializedFileReader::new(f).ok())
            .map_or(0, |r| {
                use parquet::file::reader::FileReader;
                r.metadata().file_metadata().num_rows() as u64
            })
    });
    // The envelopes were just written: their pages go to disk now, not under the timed job
    // (an owner's upload comes well before a run, as DuckDB's Parquet files were written well
    // before its query).
    let _ = Command::new("sync").status();
    progress("the sealed job: run request → sealed outputs stored");
    let (stop, peak) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let watcher = {
        let (stop, peak) = (stop.clone(), peak.clone());
        std::thread::spawn(move || watch_isolates(stop, peak))
    };
    let start = Instant::now();
    let record = deployment.run_job();
    let job_seconds = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    let record = record?;
    anyhow::ensure!(
        record.status == JobStatus::Finished,
        "the job failed: {:?}",
        record.error
    );
    progress("DuckDB: the same semantics in SQL over the Parquet files");
    let sql = sql(program, &data, &truth)?;
    let (duckdb_seconds, rows) = duckdb(&sql)?;
    let duckdb_agrees = rows == truth_rows(&truth, program);
    Ok(AdsBench {
        program: program.into(),
        people,
        input_rows,
        job_seconds,
        duckdb_seconds,
        duckdb_version,
        duckdb_agrees,
        isolate_peak_rss: peak.load(Ordering::Relaxed),
        sql,
    })
}
