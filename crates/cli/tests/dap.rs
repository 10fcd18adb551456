//! Split aggregation through the `sealroom` binary: the leader and helper as processes, a task
//! made with `dap task new`, clients with `dap upload`, the collector with `dap collect` writing
//! files a pipeline reads; and aggregators killed with SIGKILL mid-aggregation, restarted on
//! their stores, still giving the exact result with nothing counted twice.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use sealroom_cli::dap::{Side, SplitDeployment};
use sealroom_cli::services::{ServiceProcess, free_port};
use sealroom_dap::messages::{
    Batch, BatchMode, Duration as DapDuration, Interval, Query, Report, Time, VdafConfig,
};
use sealroom_dap::transport::DapClient;
use sealroom_dap::vdaf::{AggregateValue, Measurement};
use sealroom_dap_aggregator::provision::TaskSpec;

fn sealroom(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sealroom"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("sealroom runs")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = sealroom(dir, args);
    assert!(
        out.status.success(),
        "sealroom {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn aggregator(dir: &Path, role: &str) -> ServiceProcess {
    let port = free_port().unwrap();
    let db = dir.join(format!("{role}.db"));
    let args: Vec<String> = vec![
        "dap".into(),
        role.into(),
        "--db".into(),
        db.display().to_string(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
    ];
    ServiceProcess::start(
        role,
        Path::new(env!("CARGO_BIN_EXE_sealroom")),
        &args,
        "/hpke_config",
        &dir.join(format!("{role}.log")),
        Duration::from_secs(20),
    )
    .unwrap()
}

#[test]
fn a_task_made_uploaded_to_and_collected_with_the_cli_gives_files_a_pipeline_reads() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let leader = aggregator(d, "leader");
    let helper = aggregator(d, "helper");
    let out = ok(
        d,
        &[
            "dap",
            "task",
            "new",
            "--leader-db",
            "leader.db",
            "--helper-db",
            "helper.db",
            "--leader",
            &leader.url,
            "--helper",
            &helper.url,
            "--vdaf",
            "sum:100",
            "--min-batch-size",
            "3",
            "--time-precision",
            "3600",
        ],
    );
    assert!(out.contains("collector credential"), "{out}");
    let listed = ok(d, &["dap", "task", "list", "--db", "leader.db"]);
    assert!(
        listed.contains("leader") && listed.contains("Prio3Sum"),
        "{listed}"
    );

    // Two reports, then a third: the batch of two is below the minimum of three.
    let uploaded = ok(d, &["dap", "upload", "--task", "task.json", "5", "7"]);
    assert!(uploaded.contains("uploaded 2 of 2"), "{uploaded}");
    let hour = now() / 3600 * 3600;
    let start = hour.to_string();
    let collect = |out: &str| {
        sealroom(
            d,
            &[
                "dap",
                "collect",
                "--task",
                "task.json",
                "--credential",
                "collector.json",
                "--start",
                &start,
                "--duration",
                "3600",
                "--out",
                out,
            ],
        )
    };
    let refused = collect("small.csv");
    assert_eq!(refused.status.code(), Some(1), "a refusal exits 1");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("invalidBatchSize"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(!d.join("small.csv").exists(), "no partial output");
    // A measurement out of range is refused by the client before anything is sent.
    let bad = sealroom(d, &["dap", "upload", "--task", "task.json", "101"]);
    assert!(!bad.status.success());
    ok(d, &["dap", "upload", "--task", "task.json", "30"]);
    let done = collect("result.csv");
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let csv = std::fs::read_to_string(d.join("result.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "task_id,interval_start,interval_end,report_count,index,value"
    );
    assert!(lines[1].ends_with(",3,0,42"), "{csv}");
    // The repeated request names the same collection job: the same result, in JSON and Parquet.
    let again = collect("result.json");
    assert!(again.status.success());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("result.json")).unwrap()).unwrap();
    assert_eq!(json["values"], serde_json::json!([42]));
    assert_eq!(json["report_count"], 3);
    assert_eq!(json["interval_start"], hour);
    assert!(collect("result.parquet").status.success());
    let parquet = std::fs::File::open(d.join("result.parquet")).unwrap();
    let reader = parquet::file::reader::SerializedFileReader::new(parquet).unwrap();
    use parquet::file::reader::FileReader;
    assert_eq!(reader.metadata().file_metadata().num_rows(), 1);
    drop((leader, helper));
}

/// A deployment of `n` count reports, uploaded; returns it with the expected count.
fn uploaded(dir: &Path, n: usize) -> (SplitDeployment, u128) {
    let sealroom = PathBuf::from(env!("CARGO_BIN_EXE_sealroom"));
    let deployment = SplitDeployment::start(&sealroom, dir, |leader, helper| TaskSpec {
        leader_endpoint: leader,
        helper_endpoint: helper,
        vdaf: VdafConfig::Prio3Count,
        time_precision: 3600,
        min_batch_size: 1,
        batch_mode: BatchMode::TimeInterval,
        task_info: b"crash test".to_vec(),
        task_interval: None,
        report_expiry_age: 3600 * 24,
        noise: None,
    })
    .unwrap();
    let http = DapClient::new(Duration::from_secs(120));
    let client = deployment.client(&http).unwrap();
    let time = now();
    let reports: Vec<Report> = (0..n)
        .map(|i| {
            client
                .report(&Measurement::Count(i % 3 == 0), time)
                .unwrap()
        })
        .collect();
    let expected = (0..n).filter(|i| i % 3 == 0).count() as u128;
    for chunk in reports.chunks(1000) {
        let refused = sealroom_dap::client::upload(&http, &client, chunk.to_vec()).unwrap();
        assert!(refused.is_empty());
    }
    (deployment, expected)
}

/// Waits until the leader has finished some but not all reports; returns how many.
fn mid_aggregation(deployment: &SplitDeployment, n: usize) -> usize {
    let db = rusqlite::Connection::open(deployment.store(Side::Leader)).unwrap();
    let started = Instant::now();
    loop {
        let done: i64 = db
            .query_row("SELECT COUNT(*) FROM reports WHERE state = 2", [], |r| {
                r.get(0)
            })
            .unwrap_or(0);
        if done > 0 {
            assert!((done as usize) < n, "aggregation finished before the kill");
            return done as usize;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no aggregation"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn collect_now(deployment: &SplitDeployment) -> sealroom_dap::collector::Collection {
    let http = DapClient::new(Duration::from_secs(120));
    let query = Query(Batch::TimeInterval(Interval {
        start: Time(now() / 3600 - 1),
        duration: DapDuration(3),
    }));
    deployment
        .collector(&http)
        .collect(query, Duration::from_secs(120))
        .unwrap()
}

/// Kills `side` with SIGKILL once the leader has finished some but not all of 12,000 reports,
/// restarts it on its store, and collects: exact, nothing counted twice or lost.
fn killed_mid_aggregation_then_exact(side: Side) {
    let dir = tempfile::tempdir().unwrap();
    let n = 12_000;
    let (mut deployment, expected) = uploaded(dir.path(), n);
    let done = mid_aggregation(&deployment, n);
    deployment.kill_and_restart(side).unwrap();
    let collection = collect_now(&deployment);
    assert_eq!(
        collection.report_count, n as u64,
        "killed after {done} reports"
    );
    assert_eq!(collection.value, AggregateValue::Scalar(expected));
}

#[test]
fn a_helper_killed_during_aggregation_restarts_and_the_result_is_exact() {
    killed_mid_aggregation_then_exact(Side::Helper);
}

#[test]
fn a_leader_killed_during_aggregation_restarts_and_the_result_is_exact() {
    killed_mid_aggregation_then_exact(Side::Leader);
}

#[test]
fn the_dap_demo_collects_the_exact_histogram_and_shows_the_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(dir.path(), &["--json", "demo", "dap"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["exact"], true);
    assert_eq!(report["browsers"], 10_000);
    assert_eq!(report["report_count"], 10_000);
    assert_eq!(report["collected"], report["truth"]);
    assert_eq!(report["replay"], "ReportReplayed");
    let second = report["second_collection"].as_str().unwrap();
    assert!(second.starts_with("batchOverlap"), "{second}");
    let outsider = report["wrong_token"].as_str().unwrap();
    assert!(
        outsider.starts_with("unauthorized (HTTP 403)"),
        "{outsider}"
    );
}
