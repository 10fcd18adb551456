//! A collected aggregate as a file a data pipeline reads directly: one row per value (a count or
//! sum has one, a vector one per entry), with the batch's interval and report count.
//!
//! CSV columns: `task_id,interval_start,interval_end,report_count,index,value`, times in RFC
//! 3339 UTC. Parquet: the same columns, times as UTC timestamps in seconds, counts and values
//! as 64-bit integers. JSON: one object with `values` as an array.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use arrow_array::{
    Int64Array, RecordBatch, StringArray, TimestampSecondArray, UInt32Array, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use sealroom_dap::collector::Collection;
use sealroom_dap::messages::{TaskId, VdafConfig};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A collection with what a reader needs to interpret it.
#[derive(Debug, Clone, Serialize)]
pub struct CollectedBatch {
    /// The task id.
    pub task_id: String,
    /// The VDAF, as the CLI names it.
    pub vdaf: String,
    /// Start of the smallest interval holding every report (Unix seconds).
    pub interval_start: u64,
    /// Its end (exclusive, Unix seconds).
    pub interval_end: u64,
    /// Reports aggregated.
    pub report_count: u64,
    /// The aggregate: one value for count and sum, one per entry otherwise (signed: with
    /// differential privacy a small total can fall below zero).
    pub values: Vec<i128>,
}

impl CollectedBatch {
    /// The batch of `collection` in a task with `time_precision`.
    pub fn new(
        task_id: &TaskId,
        vdaf: &VdafConfig,
        time_precision: u64,
        collection: &Collection,
    ) -> Self {
        let start = collection.interval.start.0.saturating_mul(time_precision);
        Self {
            task_id: task_id.to_string(),
            vdaf: super::vdaf_label(vdaf),
            interval_start: start,
            interval_end: start.saturating_add(
                collection
                    .interval
                    .duration
                    .0
                    .saturating_mul(time_precision),
            ),
            report_count: collection.report_count,
            values: collection.value.signed(vdaf),
        }
    }
}

fn rfc3339(seconds: u64) -> anyhow::Result<String> {
    Ok(OffsetDateTime::from_unix_timestamp(i64::try_from(seconds)?)?.format(&Rfc3339)?)
}

/// Writes `batch` to `path` as CSV, JSON or Parquet, chosen by the file's extension.
pub fn write(batch: &CollectedBatch, path: &Path) -> anyhow::Result<()> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let temporary = path.with_extension(format!("{extension}.partial"));
    match extension.as_str() {
        "csv" => write_csv(batch, &temporary)?,
        "json" => std::fs::write(&temporary, serde_json::to_string_pretty(batch)? + "\n")?,
        "parquet" => write_parquet(batch, &temporary)?,
        _ => bail!(
            "{}: the output's extension says its format: .csv, .json or .parquet",
            path.display()
        ),
    }
    // Renamed into place only when complete: a failed write leaves no partial output.
    std::fs::rename(&temporary, path).with_context(|| format!("cannot write {}", path.display()))
}

fn write_csv(batch: &CollectedBatch, path: &Path) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_path(path)?;
    writer.write_record([
        "task_id",
        "interval_start",
        "interval_end",
        "report_count",
        "index",
        "value",
    ])?;
    let (start, end) = (rfc3339(batch.interval_start)?, rfc3339(batch.interval_end)?);
    for (index, value) in batch.values.iter().enumerate() {
        writer.write_record([
            batch.task_id.as_str(),
            &start,
            &end,
            &batch.report_count.to_string(),
            &index.to_string(),
            &value.to_string(),
        ])?;
    }
    writer.flush()?;
    Ok(())
}

fn write_parquet(batch: &CollectedBatch, path: &Path) -> anyhow::Result<()> {
    let rows = batch.values.len();
    let utc = || DataType::Timestamp(TimeUnit::Second, Some("UTC".into()));
    let schema = Arc::new(Schema::new(vec![
        Field::new("task_id", DataType::Utf8, false),
        Field::new("interval_start", utc(), false),
        Field::new("interval_end", utc(), false),
        Field::new("report_count", DataType::UInt64, false),
        Field::new("index", DataType::UInt32, false),
        Field::new("value", DataType::Int64, false),
    ]));
    let values = batch
        .values
        .iter()
        .map(|&v| i64::try_from(v))
        .collect::<Result<Vec<_>, _>>()
        .context("a value beyond ±2^63, which Parquet's Int64 cannot hold: write CSV or JSON")?;
    let seconds = |s: u64| i64::try_from(s).context("a time past 2^63 seconds");
    let (start, end) = (seconds(batch.interval_start)?, seconds(batch.interval_end)?);
    let columns: Vec<arrow_array::ArrayRef> = vec![
        Arc::new(StringArray::from(vec![batch.task_id.as_str(); rows])),
        Arc::new(TimestampSecondArray::from(vec![start; rows]).with_timezone("UTC")),
        Arc::new(TimestampSecondArray::from(vec![end; rows]).with_timezone("UTC")),
        Arc::new(UInt64Array::from(vec![batch.report_count; rows])),
        Arc::new(UInt32Array::from_iter_values(0..rows as u32)),
        Arc::new(Int64Array::from(values)),
    ];
    let record = RecordBatch::try_new(schema.clone(), columns)?;
    let file = std::fs::File::create(path)?;
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None)?;
    writer.write(&record)?;
    writer.close()?;
    Ok(())
}
