//! Writing the generated rows: CSV directly, Parquet through the owner-side reader (the CSV
//! typed by its schema, then written with Parquet's Arrow writer).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use parquet::arrow::ArrowWriter;
use sealroom_core::schema::{Column, ColumnType, Schema};
use sealroom_party::source::{SourceError, SourceFormat, read_source};

/// The format of generated files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FileFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// Apache Parquet (Snappy).
    Parquet,
}

impl FileFormat {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Parquet => "parquet",
        }
    }

    /// The owner-side reader's format.
    pub fn source(self) -> SourceFormat {
        match self {
            Self::Csv => SourceFormat::Csv,
            Self::Parquet => SourceFormat::Parquet,
        }
    }
}

/// One generated file's schema: its columns, the person column first.
pub type FileSchema = &'static [(&'static str, ColumnType, Option<&'static [&'static str]>)];

/// The platform's touches.
pub const TOUCHES: FileSchema = &[
    ("person", ColumnType::String, None),
    ("at", ColumnType::Timestamp, None),
    ("kind", ColumnType::String, Some(&["click", "view"])),
    ("campaign", ColumnType::String, None),
    ("ad_set", ColumnType::String, None),
];
/// The platform's holdout study.
pub const STUDY: FileSchema = &[
    ("person", ColumnType::String, None),
    ("arm", ColumnType::String, Some(&["test", "control"])),
];
/// The advertiser's conversions (value: decimal with 2 digits).
pub const CONVERSIONS: FileSchema = &[
    ("person", ColumnType::String, None),
    ("at", ColumnType::Timestamp, None),
    ("type", ColumnType::String, None),
    ("value", ColumnType::Decimal, None),
];
/// A publisher's exposures.
pub const EXPOSURES: FileSchema = &[
    ("person", ColumnType::String, None),
    ("campaign", ColumnType::String, None),
];

/// The agreement schema of a generated file.
pub fn schema(file: FileSchema) -> Schema {
    Schema {
        columns: file
            .iter()
            .map(|(name, kind, values)| {
                let column = if *kind == ColumnType::Decimal {
                    Column::decimal(*name, 2)
                } else {
                    Column::new(*name, *kind)
                };
                match values {
                    Some(v) => column.one_of(v.iter().copied()),
                    None => column,
                }
            })
            .collect(),
        person_column: file[0].0.into(),
    }
}

/// Writes rows to a CSV file, or to a CSV file turned into Parquet when finished.
pub struct RowWriter {
    csv: BufWriter<File>,
    csv_path: PathBuf,
    path: PathBuf,
    file: FileSchema,
    format: FileFormat,
    rows: u64,
}

impl RowWriter {
    /// Starts the file at `path`.
    pub fn create(path: &Path, file: FileSchema, format: FileFormat) -> anyhow::Result<Self> {
        let csv_path = match format {
            FileFormat::Csv => path.to_path_buf(),
            FileFormat::Parquet => path.with_extension("csv.partial"),
        };
        let mut csv = BufWriter::with_capacity(1 << 20, File::create(&csv_path)?);
        let header: Vec<&str> = file.iter().map(|c| c.0).collect();
        writeln!(csv, "{}", header.join(","))?;
        Ok(Self {
            csv,
            csv_path,
            path: path.to_path_buf(),
            file,
            format,
            rows: 0,
        })
    }

    /// Writes one row (fields without commas or quotes, as generated).
    pub fn row(&mut self, fields: &[&str]) -> std::io::Result<()> {
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                self.csv.write_all(b",")?;
            }
            self.csv.write_all(field.as_bytes())?;
        }
        self.csv.write_all(b"\n")?;
        self.rows += 1;
        Ok(())
    }

    /// Finishes the file; returns its rows.
    pub fn finish(mut self) -> anyhow::Result<u64> {
        self.csv.flush()?;
        drop(self.csv);
        if self.format == FileFormat::Parquet {
            let schema = schema(self.file);
            let arrow = sealroom_tables::arrow_schema(&schema);
            let mut writer = ArrowWriter::try_new(File::create(&self.path)?, arrow.clone(), None)?;
            let parquet_error = |message: String| SourceError::Columnar {
                format: "parquet",
                message,
            };
            read_source(
                &self.csv_path,
                SourceFormat::Csv,
                &schema,
                &mut |_| {},
                &mut |batch| {
                    let typed = sealroom_tables::RecordBatch::try_new(
                        arrow.clone(),
                        batch.columns().to_vec(),
                    )
                    .map_err(|e| parquet_error(e.to_string()))?;
                    writer
                        .write(&typed)
                        .map_err(|e| parquet_error(e.to_string()))
                },
            )?;
            writer.close()?;
            std::fs::remove_file(&self.csv_path)?;
        }
        Ok(self.rows)
    }
}

/// `micros` since the epoch as RFC 3339 UTC with six fractional digits.
pub fn rfc3339(micros: i64) -> String {
    let seconds = micros.div_euclid(1_000_000);
    let fraction = micros.rem_euclid(1_000_000);
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (the inverse of "days from civil").
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{fraction:06}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// Cents as a decimal with two digits.
pub fn cents(value: i64) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let v = value.unsigned_abs();
    format!("{sign}{}.{:02}", v / 100, v % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_cents_are_written_as_the_owner_side_reader_reads_them() {
        for micros in [0, 1, 1_772_323_200_123_456, 951_782_400_000_000, -1] {
            let text = rfc3339(micros);
            assert_eq!(
                sealroom_core::clock::rfc3339_micros(&text),
                Some(micros),
                "{text}"
            );
        }
        assert_eq!(cents(-50), "-0.50");
        assert_eq!(cents(123_456), "1234.56");
    }
}
