//! `sealroom dap …`: the split-aggregation roles (leader, helper, client, collector), tasks, and
//! the load generator.

use std::path::Path;
use std::time::Duration;

use crate::args::{DapCommand, DapTaskCommand};
use sealroom_cli::dap::output::{CollectedBatch, write};
use sealroom_cli::dap::simulate::{SimulateOptions, simulate};
use sealroom_cli::dap::{create_new, parse_measurement, read_text};
use sealroom_dap::client::{ClientTask, upload};
use sealroom_dap::collector::{Collector, CollectorCredential};
use sealroom_dap::messages::{
    Batch, BatchMode, Duration as DapDuration, Interval, Query, Role, Time,
};
use sealroom_dap::task_file::TaskFile;
use sealroom_dap::transport::DapClient;
use sealroom_dap_aggregator::http::now;
use sealroom_dap_aggregator::provision::{TaskSpec, new_task};
use sealroom_dap_aggregator::{AggregatorTask, Store};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::*;

/// Unix seconds from `text`: a number, or an RFC 3339 time.
fn unix_seconds(text: &str) -> anyhow::Result<u64> {
    if let Ok(seconds) = text.trim().parse::<u64>() {
        return Ok(seconds);
    }
    let time = OffsetDateTime::parse(text.trim(), &Rfc3339)
        .with_context(|| format!("{text:?} is neither Unix seconds nor an RFC 3339 time"))?;
    u64::try_from(time.unix_timestamp()).context("a time before 1970")
}

fn read_task_file(path: &Path) -> anyhow::Result<TaskFile> {
    TaskFile::from_json(&read_text(path)?).with_context(|| format!("{}", path.display()))
}

#[derive(Serialize)]
struct TaskSummary {
    task_id: String,
    role: &'static str,
    summary: String,
}

fn summary(task: &AggregatorTask) -> TaskSummary {
    let file = TaskFile {
        task_id: task.task_id,
        configuration: task.configuration.clone(),
    };
    TaskSummary {
        task_id: task.task_id.to_string(),
        role: if task.role == Role::Leader {
            "leader"
        } else {
            "helper"
        },
        summary: file.summary(),
    }
}

/// Runs a `dap` command.
pub(crate) fn run(command: DapCommand, json: bool) -> anyhow::Result<()> {
    match command {
        DapCommand::Leader(a) => serve_aggregator(Role::Leader, &a.db, &a.listen),
        DapCommand::Helper(a) => serve_aggregator(Role::Helper, &a.db, &a.listen),
        DapCommand::Task(command) => task_command(command, json),
        DapCommand::Upload {
            task,
            time,
            measurements,
        } => {
            let file = read_task_file(&task)?;
            let vdaf = file.configuration.vdaf()?;
            let measurements = measurements
                .iter()
                .map(|m| parse_measurement(&vdaf, m).map_err(anyhow::Error::msg))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let http = DapClient::default();
            let client = ClientTask::fetch(&http, file.task_id, file.configuration)?;
            let time = time.unwrap_or_else(now);
            let reports = measurements
                .iter()
                .map(|m| client.report(m, time))
                .collect::<Result<Vec<_>, _>>()?;
            let count = reports.len();
            let refused = upload(&http, &client, reports)?;
            if json {
                #[derive(Serialize)]
                struct Refused {
                    report_id: String,
                    error: String,
                }
                print_json(&serde_json::json!({
                    "uploaded": count - refused.len(),
                    "refused": refused.iter().map(|r| Refused {
                        report_id: r.id.to_string(),
                        error: format!("{:?}", r.error),
                    }).collect::<Vec<_>>(),
                }))?;
            } else {
                println!("uploaded {} of {count} reports", count - refused.len());
                for r in &refused {
                    println!("refused {} ({:?})", r.id, r.error);
                }
            }
            if !refused.is_empty() {
                bail!(CommandRefusal::ReportsRefused(refused.len()));
            }
            Ok(())
        }
        DapCommand::Collect {
            task,
            credential,
            start,
            duration,
            out,
            timeout,
        } => {
            let file = read_task_file(&task)?;
            let credential = CollectorCredential::from_json(&read_text(&credential)?)
                .with_context(|| format!("{}", credential.display()))?;
            let precision = file.configuration.time_precision.max(1);
            let query = match (file.configuration.batch_mode, start, duration) {
                (BatchMode::TimeInterval, Some(start), Some(duration)) => {
                    let start = unix_seconds(&start)?;
                    if start % precision != 0 || duration % precision != 0 || duration == 0 {
                        bail!(
                            "the batch interval's start and duration are multiples of the task's time precision ({precision} s)"
                        );
                    }
                    Query(Batch::TimeInterval(Interval {
                        start: Time(start / precision),
                        duration: DapDuration(duration / precision),
                    }))
                }
                (BatchMode::TimeInterval, _, _) => {
                    bail!(
                        "a time_interval task is collected by interval: pass --start and --duration"
                    )
                }
                (_, None, None) => Query(Batch::LeaderSelected(None)),
                _ => bail!(
                    "a leader_selected task is collected batch by batch: the leader chooses it, so pass no --start or --duration"
                ),
            };
            let vdaf = file.configuration.vdaf()?;
            let collector = Collector {
                http: DapClient::default(),
                task_id: file.task_id,
                configuration: file.configuration,
                credential,
            };
            let collection = with_steps(json, |step| {
                step("collecting (the aggregators verify and aggregate first)");
                Ok(collector.collect(query, Duration::from_secs(timeout))?)
            })?;
            let batch = CollectedBatch::new(&file.task_id, &vdaf, precision, &collection);
            if let Some(out) = &out {
                write(&batch, out)?;
            }
            if json {
                print_json(&batch)?;
            } else {
                let interval = |s: u64| {
                    OffsetDateTime::from_unix_timestamp(s as i64)
                        .ok()
                        .and_then(|t| t.format(&Rfc3339).ok())
                        .unwrap_or_else(|| s.to_string())
                };
                println!(
                    "{} reports from {} to {}",
                    batch.report_count,
                    interval(batch.interval_start),
                    interval(batch.interval_end)
                );
                match batch.values.as_slice() {
                    [value] => println!("{} = {value}", batch.vdaf),
                    values => {
                        for (i, v) in values.iter().enumerate() {
                            println!("[{i}] {v}");
                        }
                    }
                }
                if let Some(out) = &out {
                    println!("written to {}", out.display());
                }
            }
            Ok(())
        }
        DapCommand::Simulate {
            clients,
            vdaf,
            invalid_fraction,
            seed,
            dir,
        } => {
            let scratch = tempfile::tempdir()?;
            let dir = dir.unwrap_or_else(|| scratch.path().to_path_buf());
            let options = SimulateOptions {
                clients,
                vdaf,
                invalid_fraction,
                seed,
            };
            let sealroom = std::env::current_exe()?;
            let report = with_steps(json, |step| simulate(&sealroom, &dir, &options, step))?;
            if json {
                print_json(&report)?;
            } else {
                println!(
                    "{} clients ({} invalid), {}: {} reports aggregated in {:.2} s ({:.0} reports/s)",
                    report.clients,
                    report.invalid,
                    report.vdaf,
                    report.report_count,
                    report.seconds,
                    report.reports_per_second
                );
                println!("collected {:?}", report.collected);
                println!("expected  {:?}", report.expected);
            }
            if !report.exact {
                bail!(CommandRefusal::NotExact);
            }
            if !json {
                println!("exact: the collected aggregate equals the plaintext aggregate");
            }
            Ok(())
        }
    }
}

fn serve_aggregator(role: Role, db: &Path, listen: &str) -> anyhow::Result<()> {
    let what = if role == Role::Leader {
        "dap leader"
    } else {
        "dap helper"
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(sealroom_dap_aggregator::serve(role, db, listen, |addr| {
        tracing::info!("{what} listening on http://{addr}");
        println!("{what}{}http://{addr}", sealroom_cli::services::LISTENING);
        let _ = std::io::Write::flush(&mut std::io::stdout());
    }))?;
    Ok(())
}

fn task_command(command: DapTaskCommand, json: bool) -> anyhow::Result<()> {
    match command {
        DapTaskCommand::New {
            leader_db,
            helper_db,
            leader,
            helper,
            vdaf,
            time_precision,
            min_batch_size,
            batch_mode,
            task_end,
            task_info,
            report_expiry_age,
            dp,
            collector_credential,
            out,
        } => {
            let precision = time_precision.max(1);
            let task_interval = task_end
                .map(|end| {
                    let end = unix_seconds(&end)?.div_ceil(precision);
                    Ok::<_, anyhow::Error>(Interval {
                        start: Time(0),
                        duration: DapDuration(end),
                    })
                })
                .transpose()?;
            let supplied = collector_credential
                .map(|path| {
                    CollectorCredential::from_json(&read_text(&path)?)
                        .with_context(|| format!("{}", path.display()))
                })
                .transpose()?;
            let generated = supplied.is_none();
            let spec = TaskSpec {
                leader_endpoint: leader,
                helper_endpoint: helper,
                vdaf,
                time_precision,
                min_batch_size,
                batch_mode: if batch_mode == "leader-selected" {
                    BatchMode::LeaderSelected
                } else {
                    BatchMode::TimeInterval
                },
                task_info: task_info.into_bytes(),
                task_interval,
                report_expiry_age,
                noise: dp,
            };
            let task = new_task(&spec, supplied)?;
            let task_path = out.join("task.json");
            let credential_path = out.join("collector.json");
            if task_path.exists() || (generated && credential_path.exists()) {
                bail!(
                    "{} already holds a task.json or collector.json; choose another --out",
                    out.display()
                );
            }
            // Both stores first: a task file naming a task no aggregator has helps nobody.
            Store::open(&leader_db)?.add_task(&task.leader)?;
            Store::open(&helper_db)?.add_task(&task.helper)?;
            let file = TaskFile {
                task_id: task.task_id,
                configuration: task.configuration.clone(),
            };
            create_new(&task_path, &file.to_json()?)?;
            if generated {
                create_new(&credential_path, &task.collector.to_json())?;
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(
                        &credential_path,
                        std::fs::Permissions::from_mode(0o600),
                    )?;
                }
            }
            if json {
                print_json(&serde_json::json!({
                    "task_id": task.task_id.to_string(),
                    "task_file": task_path,
                    "collector_credential": generated.then_some(&credential_path),
                    "summary": file.summary(),
                }))?;
            } else {
                println!("task {}", task.task_id);
                println!("  {}", file.summary());
                println!(
                    "task file (for clients and the collector): {}",
                    task_path.display()
                );
                if generated {
                    println!(
                        "collector credential (secret, 0600): {}",
                        credential_path.display()
                    );
                }
            }
            Ok(())
        }
        DapTaskCommand::Show { db, task_id } => {
            let task_id = task_id.parse()?;
            let task = Store::open(&db)?
                .task(&task_id)?
                .with_context(|| format!("{} has no task {task_id}", db.display()))?;
            if json {
                println!("{}", task.to_json());
            } else {
                let s = summary(&task);
                println!("task {} ({})", s.task_id, s.role);
                println!("  {}", s.summary);
                println!("{}", task.to_json());
            }
            Ok(())
        }
        DapTaskCommand::List { db } => {
            let tasks = Store::open(&db)?.tasks()?;
            let summaries: Vec<_> = tasks.iter().map(summary).collect();
            if json {
                print_json(&summaries)?;
            } else if summaries.is_empty() {
                println!("no tasks");
            } else {
                for s in summaries {
                    println!("{} {}  {}", s.task_id, s.role, s.summary);
                }
            }
            Ok(())
        }
    }
}
