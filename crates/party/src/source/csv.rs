//! CSV sources: a header row naming the columns, then one row per record.

use std::io::Read;

use sealroom_core::schema::Schema;
use sealroom_tables::{RecordBatch, TableError};

use super::builder::BatchBuilder;
use super::{SourceError, column_positions};

/// Reads CSV from `input`, typed by `schema`, handing `visit` one batch at a time. Returns the
/// rows read and the header's columns the schema does not name (left out of the payload).
pub fn read(
    input: impl Read,
    schema: &Schema,
    visit: &mut dyn FnMut(RecordBatch) -> Result<(), SourceError>,
) -> Result<Vec<String>, SourceError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .buffer_capacity(1 << 20)
        .from_reader(input);
    let mut record = csv::ByteRecord::new();
    if !reader
        .read_byte_record(&mut record)
        .map_err(|e| csv_error(0, e))?
    {
        return Err(SourceError::NoHeader);
    }
    let header: Vec<String> = record
        .iter()
        .map(|f| String::from_utf8_lossy(f).trim().to_string())
        .collect();
    let (positions, ignored) = column_positions(&header, schema)?;
    let mut batch = BatchBuilder::new(schema);
    let mut row: u64 = 0;
    loop {
        if !reader
            .read_byte_record(&mut record)
            .map_err(|e| csv_error(row + 1, e))?
        {
            break;
        }
        row += 1;
        if record.len() != header.len() {
            return Err(SourceError::FieldCount {
                row,
                expected: header.len(),
                found: record.len(),
            });
        }
        for (index, &at) in positions.iter().enumerate() {
            let text = std::str::from_utf8(&record[at]).map_err(|_| SourceError::NotUtf8 {
                row,
                column: schema.columns[index].name.clone(),
            })?;
            batch.push_text(index, text, row)?;
        }
        if batch.end_row() {
            visit(batch.finish()?)?;
        }
    }
    if batch.rows() > 0 || row == 0 {
        visit(batch.finish()?)?;
    }
    Ok(ignored)
}

fn csv_error(row: u64, e: csv::Error) -> SourceError {
    if !e.is_io_error() {
        return SourceError::Csv {
            row,
            message: e.to_string(),
        };
    }
    match e.into_kind() {
        csv::ErrorKind::Io(io) => SourceError::Table(TableError::Read(io)),
        other => SourceError::Csv {
            row,
            message: format!("{other:?}"),
        },
    }
}
