//! An owner's files, read as typed record batches ready to seal: CSV, Parquet, or Arrow IPC
//! (file or stream). Parsing happens here, on the owner's machine, never in the isolate.
//!
//! Columns are found by name (in any order); columns the schema does not name are left out of
//! the payload. Every value is read as its column's type (`text` has the rules for values
//! written as text) and every batch is then checked by `sealroom-tables`, the check the isolate
//! repeats.

mod builder;
mod columnar;
mod csv;
pub mod text;

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::str::FromStr;

use sealroom_core::schema::Schema;
use sealroom_tables::{RecordBatch, Table, TableError, check_owner_batch};

pub use builder::{BATCH_ROWS, BatchBuilder};

/// The file formats an owner can seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
    /// Apache Arrow IPC, as a file (`.arrow`, `.feather`) or a stream (`.arrows`).
    Arrow,
}

impl SourceFormat {
    /// The format a file's extension names, if any.
    pub fn of_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Self::Csv),
            "parquet" | "pq" => Some(Self::Parquet),
            "arrow" | "arrows" | "feather" | "ipc" => Some(Self::Arrow),
            _ => None,
        }
    }

    /// The format's name, as `--format` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Parquet => "parquet",
            Self::Arrow => "arrow",
        }
    }
}

impl FromStr for SourceFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "csv" => Ok(Self::Csv),
            "parquet" => Ok(Self::Parquet),
            "arrow" => Ok(Self::Arrow),
            other => Err(format!(
                "unknown format {other:?}: use csv, parquet or arrow"
            )),
        }
    }
}

/// A source file does not fit the dataset's schema, or cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// A value does not fit its column (row, column and value are named).
    #[error(transparent)]
    Table(#[from] TableError),
    /// A column the schema declares is not in the file.
    #[error("the file has no column {column:?} (its columns: {})", found.join(", "))]
    MissingColumn {
        /// The column missing.
        column: String,
        /// The file's columns.
        found: Vec<String>,
    },
    /// A column name appears twice in the file.
    #[error("the file has two columns named {0:?}")]
    DuplicateColumn(String),
    /// The file's column cannot be converted to the schema's type.
    #[error("column {column:?} is {found} in the file, which cannot be read as {expected}")]
    Unconvertible {
        /// The column.
        column: String,
        /// Its type in the file.
        found: String,
        /// The schema's type.
        expected: &'static str,
    },
    /// The file's format is neither given nor known from its extension.
    #[error("cannot tell the file's format from its name: give --format csv, parquet or arrow")]
    UnknownFormat,
    /// A CSV file without a header row.
    #[error("the CSV file is empty: it needs a header row naming the columns")]
    NoHeader,
    /// A CSV row with another number of fields than the header.
    #[error("row {row} has {found} fields, the header {expected}")]
    FieldCount {
        /// The row.
        row: u64,
        /// Fields in the header.
        expected: usize,
        /// Fields in the row.
        found: usize,
    },
    /// A CSV field that is not UTF-8.
    #[error("row {row}, column {column:?}: the value is not valid UTF-8")]
    NotUtf8 {
        /// The row.
        row: u64,
        /// The column.
        column: String,
    },
    /// CSV that does not parse.
    #[error("row {row}: {message}")]
    Csv {
        /// The row (0 for the header).
        row: u64,
        /// The parser's message.
        message: String,
    },
    /// A Parquet or Arrow file that does not parse.
    #[error("{format} file: {message}")]
    Columnar {
        /// `parquet` or `arrow`.
        format: &'static str,
        /// The reader's message.
        message: String,
    },
}

/// For each schema column, its position among `found`; and the found columns the schema does
/// not name.
fn column_positions(
    found: &[String],
    schema: &Schema,
) -> Result<(Vec<usize>, Vec<String>), SourceError> {
    if let Some(i) = (0..found.len()).find(|&i| found[..i].contains(&found[i])) {
        return Err(SourceError::DuplicateColumn(found[i].clone()));
    }
    let positions = schema
        .columns
        .iter()
        .map(|c| {
            found
                .iter()
                .position(|f| *f == c.name)
                .ok_or_else(|| SourceError::MissingColumn {
                    column: c.name.clone(),
                    found: found.to_vec(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ignored = found
        .iter()
        .filter(|f| schema.index_of(f).is_none())
        .cloned()
        .collect();
    Ok((positions, ignored))
}

/// What reading a source found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSummary {
    /// The file's columns the schema does not name, left out of the payload.
    pub ignored_columns: Vec<String>,
}

/// Reads the file at `path` as `format`, typed by `schema`, handing `visit` one batch at a
/// time (each already typed as the payload's schema, not yet checked). `progress` is told how
/// many bytes of the file have been read so far.
pub fn read_source(
    path: &Path,
    format: SourceFormat,
    schema: &Schema,
    progress: &mut dyn FnMut(u64),
    visit: &mut dyn FnMut(RecordBatch) -> Result<(), SourceError>,
) -> Result<SourceSummary, SourceError> {
    let open = || File::open(path).map_err(|e| SourceError::Table(TableError::Read(e)));
    let ignored_columns = match format {
        SourceFormat::Csv => {
            let counted = CountingReader {
                inner: BufReader::with_capacity(1 << 20, open()?),
                count: 0,
                progress,
            };
            csv::read(counted, schema, visit)?
        }
        SourceFormat::Parquet => columnar::read_parquet(open()?, schema, progress, visit)?,
        SourceFormat::Arrow => columnar::read_arrow(open()?, schema, progress, visit)?,
    };
    Ok(SourceSummary { ignored_columns })
}

/// Reads CSV from `input` into a table, with the checks that sealing and the isolate apply:
/// what a party uses to compute on its own data in the clear (references, previews).
pub fn csv_table(input: impl std::io::Read, schema: &Schema) -> Result<Table, SourceError> {
    collect_table(schema, |visit| csv::read(input, schema, visit).map(drop))
}

/// The batches `read` hands its visitor, checked and gathered into one table.
fn collect_table(
    schema: &Schema,
    read: impl FnOnce(&mut dyn FnMut(RecordBatch) -> Result<(), SourceError>) -> Result<(), SourceError>,
) -> Result<Table, SourceError> {
    let mut table = Table::new(schema.clone());
    let mut rows: u64 = 0;
    read(&mut |batch| {
        check_owner_batch(schema, &batch, rows + 1, Some(&mut table))?;
        rows += batch.num_rows() as u64;
        Ok(())
    })?;
    Ok(table)
}

/// Reads the file at `path` into a table, with the checks that sealing and the isolate apply.
pub fn read_table(
    path: &Path,
    format: SourceFormat,
    schema: &Schema,
) -> Result<Table, SourceError> {
    collect_table(schema, |visit| {
        read_source(path, format, schema, &mut |_| {}, visit).map(drop)
    })
}

/// Counts bytes read and reports the running total.
struct CountingReader<'p, R> {
    inner: R,
    count: u64,
    progress: &'p mut dyn FnMut(u64),
}

impl<R: std::io::Read> std::io::Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        (self.progress)(self.count);
        Ok(n)
    }
}
