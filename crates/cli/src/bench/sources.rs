//! `sealroom bench sources`: sealing an owner's CSV and Parquet files (every value typed and
//! checked, encrypted, written) against DuckDB converting the same CSV to Parquet, and the
//! isolate's side: decrypting and decoding the sealed payload into a table.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use sealroom_core::agreement::SignedAgreement;
use sealroom_core::clock::{Clock, SystemClock};
use sealroom_crypto::{EnvelopeReader, Identity};
use sealroom_party::authoring::{compile, party_block};
use sealroom_party::owner::{SealOptions, seal_dataset};
use sealroom_party::source::SourceFormat;
use serde::Serialize;

use super::peak_rss;

/// The touches schema the benchmark seals, as agreement TOML columns.
const COLUMNS: &str = r#"[
  { name = "person", type = "string" },
  { name = "at", type = "timestamp" },
  { name = "kind", type = "string", values = ["click", "view"] },
  { name = "campaign", type = "string" },
  { name = "cost", type = "decimal", scale = 2 },
]"#;

/// The same columns as DuckDB reads them.
const DUCKDB_COLUMNS: &str = "{'person': 'VARCHAR', 'at': 'TIMESTAMPTZ', 'kind': 'VARCHAR', 'campaign': 'VARCHAR', 'cost': 'DECIMAL(18,2)'}";

/// One `bench sources` run; times in seconds.
#[derive(Debug, Clone, Serialize)]
pub struct SourcesBench {
    /// Rows in each file.
    pub rows: u64,
    /// Size of the CSV file.
    pub csv_bytes: u64,
    /// Size of the Parquet file DuckDB wrote from it.
    pub parquet_bytes: u64,
    /// DuckDB's `COPY (SELECT * FROM read_csv(…)) TO … (FORMAT parquet)`, 2 threads, timed in
    /// its own process around the statement.
    pub duckdb_csv_to_parquet: f64,
    /// The DuckDB version.
    pub duckdb_version: String,
    /// `sealroom seal` from the CSV file.
    pub seal_csv: f64,
    /// `sealroom seal` from the Parquet file.
    pub seal_parquet: f64,
    /// Decrypting the sealed payload and decoding it into a checked table, as the isolate does.
    pub open_and_decode: f64,
    /// Peak resident memory of this process (VmHWM), in bytes.
    pub peak_rss: u64,
}

/// Writes `rows` touches as CSV: people with several touches each, RFC 3339 times with
/// microseconds over 60 days, one click in ten, 100 campaigns, costs in cents.
fn write_touches(path: &Path, rows: u64, seed: u64) -> anyhow::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    out.write_all(b"person,at,kind,campaign,cost\n")?;
    let people = (rows / 5).max(1);
    let start = time::macros::datetime!(2026-03-01 00:00:00 UTC);
    for _ in 0..rows {
        let person = rng.next_u64() % people;
        let offset = time::Duration::microseconds((rng.next_u64() % (60 * 86_400_000_000)) as i64);
        let at = start + offset;
        let kind = if rng.next_u32() % 10 == 0 {
            "click"
        } else {
            "view"
        };
        let campaign = rng.next_u32() % 100;
        let cents = rng.next_u32() % 50_000;
        writeln!(
            out,
            "p{person:09},{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z,{kind},c{campaign:03},{}.{:02}",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            at.microsecond(),
            cents / 100,
            cents % 100
        )?;
    }
    out.flush()?;
    Ok(())
}

/// Makes sure the `duckdb` Python package is importable, installing it with pip if it is not.
pub(super) fn ensure_duckdb() -> anyhow::Result<String> {
    let version = || {
        Command::new("python3")
            .args(["-c", "import duckdb; print(duckdb.__version__)"])
            .output()
    };
    let out = version().context("python3 is needed to run DuckDB, the peer")?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).trim().to_string());
    }
    let installed = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "duckdb"])
        .status()
        .context("installing the duckdb Python package")?;
    anyhow::ensure!(installed.success(), "pip could not install duckdb");
    let out = version()?;
    anyhow::ensure!(
        out.status.success(),
        "duckdb does not import after installing it"
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// DuckDB converts `csv` to `parquet` with the bench's column types on 2 threads; returns the
/// seconds the statement took.
fn duckdb_csv_to_parquet(csv: &Path, parquet: &Path) -> anyhow::Result<f64> {
    let script = format!(
        "import duckdb, time\n\
         con = duckdb.connect()\n\
         con.execute('SET threads TO 2')\n\
         con.execute('SET enable_progress_bar = false')\n\
         t = time.perf_counter()\n\
         con.execute(\"COPY (SELECT * FROM read_csv('{csv}', header=true, columns={DUCKDB_COLUMNS})) TO '{parquet}' (FORMAT parquet)\")\n\
         print(time.perf_counter() - t)\n",
        csv = csv.display(),
        parquet = parquet.display(),
    );
    let out = Command::new("python3").args(["-c", &script]).output()?;
    anyhow::ensure!(
        out.status.success(),
        "DuckDB failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}

fn agreement(owner: &Identity, other: &Identity) -> anyhow::Result<SignedAgreement> {
    let text = format!(
        r#"format = "sealroom-agreement/v1"
name = "bench-sources"
valid_from = 2026-01-01T00:00:00Z
valid_until = 2036-01-01T00:00:00Z

{owner}
{other}
[[dataset]]
owner = "adplatform"
name = "touches"
person_column = "person"
columns = {COLUMNS}

[[dataset]]
owner = "advertiser"
name = "buyers"
person_column = "person"
columns = [{{ name = "person", type = "string" }}]

[program]
id = "overlap"
version = 1
params = {{ left = "adplatform/touches", right = "advertiser/buyers", group_column = "campaign" }}

[[runtime]]
platform = "sim"
measurements = ["{m}"]

[[output]]
name = "overlap"
readers = ["advertiser"]

[privacy]
epsilon_per_run = 1.0
delta_per_run = 1e-9
total_epsilon_per_dataset = 10.0
max_groups_per_person = 1
"#,
        owner = party_block(&owner.card()),
        other = party_block(&other.card()),
        m = "00".repeat(32),
    );
    Ok(SignedAgreement::unsigned(compile(
        &text,
        &sealroom_programs::BuiltinCatalog,
    )?))
}

/// Runs the benchmark over `rows` touches in `dir` (the CSV is kept there and reused when it
/// has the same size); `progress` is told the phase.
pub fn sources(rows: u64, dir: &Path, progress: &dyn Fn(&str)) -> anyhow::Result<SourcesBench> {
    let duckdb_version = ensure_duckdb()?;
    let owner = Identity::generate("adplatform", Some("http://127.0.0.1:1".into()))?;
    let other = Identity::generate("advertiser", Some("http://127.0.0.1:2".into()))?;
    let agreement = agreement(&owner, &other)?;
    let csv = dir.join(format!("touches-{rows}.csv"));
    if !csv.exists() {
        progress("writing the touches CSV");
        let partial = dir.join(format!("touches-{rows}.csv.partial"));
        write_touches(&partial, rows, 7)?;
        std::fs::rename(&partial, &csv)?;
    }
    let parquet = dir.join(format!("touches-{rows}.parquet"));
    progress("DuckDB: CSV to Parquet");
    let duckdb = duckdb_csv_to_parquet(&csv, &parquet)?;
    let seal = |input: &Path, format| -> anyhow::Result<(f64, std::path::PathBuf)> {
        let out = dir.join("touches.envelope");
        let start = Instant::now();
        let summary = seal_dataset(
            &owner,
            &agreement,
            "touches",
            input,
            &out,
            &SealOptions {
                format: Some(format),
                chunk_size: None,
            },
            SystemClock.now_millis(),
            Box::new(|_| {}),
        )?;
        anyhow::ensure!(
            summary.rows == rows,
            "sealed {} rows of {rows}",
            summary.rows
        );
        Ok((start.elapsed().as_secs_f64(), out))
    };
    progress("sealroom seal from CSV");
    let (seal_csv, _) = seal(&csv, SourceFormat::Csv)?;
    progress("sealroom seal from Parquet");
    let (seal_parquet, envelope) = seal(&parquet, SourceFormat::Parquet)?;
    progress("opening and decoding the payload, as the isolate does");
    let start = Instant::now();
    let envelope_bytes = std::fs::metadata(&envelope)?.len();
    let mut file = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&envelope)?);
    let (header, digest) = sealroom_crypto::envelope::read_header(&mut file)?;
    let key = sealroom_crypto::envelope::unwrap_own_key(&owner, &header)?;
    let reader = EnvelopeReader::new(file, &header, digest, &key);
    let schema = &agreement.agreement.datasets[0].schema;
    // Sized from the envelope's length, as the isolate sizes its tables.
    let table = sealroom_tables::read_payload_sized(reader, schema, Some(envelope_bytes))?;
    let open_and_decode = start.elapsed().as_secs_f64();
    anyhow::ensure!(table.len() as u64 == rows, "decoded {} rows", table.len());
    drop(table);
    Ok(SourcesBench {
        rows,
        csv_bytes: std::fs::metadata(&csv)?.len(),
        parquet_bytes: std::fs::metadata(&parquet)?.len(),
        duckdb_csv_to_parquet: duckdb,
        duckdb_version,
        seal_csv,
        seal_parquet,
        open_and_decode,
        peak_rss: peak_rss(),
    })
}
