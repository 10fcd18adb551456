//! The sealed payload (`application/vnd.apache.arrow.stream`): an Arrow IPC stream of record
//! batches typed by the dataset's schema, without compression or dictionaries.
//!
//! Owners write it with [`PayloadWriter`], which checks every batch before it is written; the
//! isolate reads it with [`read_payload`], which checks every batch again with the same code
//! (a hand-crafted envelope is refused cleanly, never trusted) and appends it to a [`Table`].

use std::io::{Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch, StringArray};
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{ArrowError, DataType, Field, SchemaRef, TimeUnit};
use sealroom_core::schema::{Column, ColumnType, Schema};

use crate::error::{TableError, excerpt};
use crate::table::{ColumnData, Table, TextColumn};

pub use sealroom_core::envelope::{LEGACY_CSV_CONTENT_TYPE, PAYLOAD_CONTENT_TYPE as CONTENT_TYPE};

/// Decimal precision in the payload: 18 digits, so every value fits a 64-bit integer.
pub const DECIMAL_PRECISION: u8 = 18;

const DECIMAL_LIMIT: i128 = 10_i128.pow(DECIMAL_PRECISION as u32);

/// The Arrow type that holds values of `column` in the payload.
pub fn arrow_type(column: &Column) -> DataType {
    match column.kind {
        ColumnType::String => DataType::Utf8,
        ColumnType::Integer => DataType::Int64,
        ColumnType::Decimal => {
            let scale = column.scale.unwrap_or(0).min(DECIMAL_PRECISION);
            DataType::Decimal128(DECIMAL_PRECISION, scale as i8)
        }
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
    }
}

/// The Arrow schema of the payload for `schema`: one field per column, in order, nullable
/// exactly when the column is optional.
pub fn arrow_schema(schema: &Schema) -> SchemaRef {
    Arc::new(arrow_schema::Schema::new(
        schema
            .columns
            .iter()
            .map(|c| Field::new(&c.name, arrow_type(c), c.optional))
            .collect::<Vec<_>>(),
    ))
}

/// Whether a batch's fields must say "nullable" exactly where the schema allows empty values
/// (payloads, as the isolate reads them), or may say it anywhere (batches an owner is about to
/// write, whose empty values the value check then names by row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nullability {
    Exact,
    Relaxed,
}

fn check_stream_schema(
    found: &arrow_schema::Schema,
    schema: &Schema,
    nullability: Nullability,
) -> Result<(), TableError> {
    let expected = arrow_schema(schema);
    if found.fields().len() != expected.fields().len() {
        return Err(TableError::SchemaMismatch(format!(
            "{} columns where the schema declares {}",
            found.fields().len(),
            expected.fields().len()
        )));
    }
    for (f, e) in found.fields().iter().zip(expected.fields()) {
        if f.name() != e.name() {
            return Err(TableError::SchemaMismatch(format!(
                "column {:?} where the schema declares {:?}",
                f.name(),
                e.name()
            )));
        }
        let nullable_differs =
            nullability == Nullability::Exact && f.is_nullable() != e.is_nullable();
        if f.data_type() != e.data_type() || nullable_differs {
            return Err(TableError::SchemaMismatch(format!(
                "column {:?} is {}{} where the schema needs {}{}",
                f.name(),
                f.data_type(),
                if f.is_nullable() { " (nullable)" } else { "" },
                e.data_type(),
                if e.is_nullable() { " (nullable)" } else { "" },
            )));
        }
    }
    Ok(())
}

/// Checks every value of `array` (rows numbered from `first_row`) against `column`: no empty
/// value unless optional, only declared values, decimals within 18 digits; appends the values
/// to `out` when given.
fn check_column(
    column: &Column,
    array: &dyn Array,
    first_row: u64,
    mut out: Option<&mut ColumnData>,
) -> Result<(), TableError> {
    let row = |i: usize| first_row + i as u64;
    let empty = |i: usize| TableError::EmptyValue {
        row: row(i),
        column: column.name.clone(),
    };
    if !column.optional
        && let Some(nulls) = array.logical_nulls()
        && let Some(i) = (0..array.len()).find(|&i| nulls.is_null(i))
    {
        return Err(empty(i));
    }
    let wrong = || {
        TableError::SchemaMismatch(format!(
            "column {:?} is {} where the schema needs {}",
            column.name,
            array.data_type(),
            arrow_type(column)
        ))
    };
    if array.data_type() != &arrow_type(column) {
        return Err(wrong());
    }
    match column.kind {
        ColumnType::String => {
            let strings = array.as_string::<i32>();
            let mut sink = match out {
                Some(ColumnData::Text(c)) => Some(c),
                _ => None,
            };
            if strings.null_count() == 0 {
                return check_present_strings(column, strings, first_row, sink);
            }
            for i in 0..strings.len() {
                let value = if strings.is_null(i) {
                    ""
                } else {
                    strings.value(i)
                };
                if value.is_empty() {
                    if !column.optional {
                        return Err(empty(i));
                    }
                } else if !column.allows(value) {
                    return Err(TableError::NotAllowed {
                        row: row(i),
                        column: column.name.clone(),
                        value: excerpt(value),
                        allowed: column.values.clone().unwrap_or_default(),
                    });
                }
                if let Some(sink) = sink.as_mut() {
                    sink.push(value).map_err(|e| e.in_column(&column.name))?;
                }
            }
        }
        ColumnType::Integer | ColumnType::Timestamp => {
            let values = match column.kind {
                ColumnType::Integer => array.as_primitive::<Int64Type>().values(),
                _ => array.as_primitive::<TimestampMicrosecondType>().values(),
            };
            if let Some(ColumnData::Number(sink)) = out.as_mut() {
                match array.logical_nulls() {
                    Some(nulls) if nulls.null_count() > 0 => {
                        for (i, v) in values.iter().enumerate() {
                            sink.push(nulls.is_valid(i).then_some(*v));
                        }
                    }
                    _ => sink.extend_present(values),
                }
            }
        }
        ColumnType::Decimal => {
            let decimals = array.as_primitive::<Decimal128Type>();
            for (i, v) in decimals.iter().enumerate() {
                let value = match v {
                    Some(v) if v.unsigned_abs() >= DECIMAL_LIMIT.unsigned_abs() => {
                        return Err(TableError::Unparseable {
                            row: row(i),
                            column: column.name.clone(),
                            value: v.to_string(),
                            expected: format!("a decimal of at most {DECIMAL_PRECISION} digits"),
                        });
                    }
                    Some(v) => Some(i64::try_from(v).map_err(|_| wrong())?),
                    None => None,
                };
                if let Some(ColumnData::Number(sink)) = out.as_mut() {
                    sink.push(value);
                }
            }
        }
        ColumnType::Boolean => {
            if let Some(ColumnData::Bool(sink)) = out.as_mut() {
                for v in array.as_boolean().iter() {
                    sink.push(v);
                }
            }
        }
    }
    Ok(())
}

/// [`check_column`] for a string array without empty slots, whose values are appended to
/// `sink` in one copy: the bulk of every payload (person ids, keys).
fn check_present_strings(
    column: &Column,
    strings: &StringArray,
    first_row: u64,
    sink: Option<&mut TextColumn>,
) -> Result<(), TableError> {
    let offsets = strings.value_offsets();
    // The first bad row is named, whichever way it is bad.
    let first_empty = match column.optional {
        true => None,
        false => offsets.windows(2).position(|w| w[0] == w[1]),
    };
    if column.values.is_some()
        && let Some((i, value)) = strings
            .iter()
            .take(first_empty.unwrap_or(strings.len()))
            .enumerate()
            .find_map(|(i, v)| {
                v.filter(|v| !v.is_empty() && !column.allows(v))
                    .map(|v| (i, v))
            })
    {
        return Err(TableError::NotAllowed {
            row: first_row + i as u64,
            column: column.name.clone(),
            value: excerpt(value),
            allowed: column.values.clone().unwrap_or_default(),
        });
    }
    if let Some(i) = first_empty {
        return Err(TableError::EmptyValue {
            row: first_row + i as u64,
            column: column.name.clone(),
        });
    }
    let Some(sink) = sink else { return Ok(()) };
    // Arrow checked that every value is UTF-8 and that the offsets ascend within the data, so
    // the values' text is one string; `extend` checks the boundaries again rather than trust it.
    let (start, end) = match (offsets.first(), offsets.last()) {
        (Some(&s), Some(&e)) => (s as usize, e as usize),
        _ => return Ok(()),
    };
    let bytes = strings.value_data().get(start..end).ok_or_else(|| {
        TableError::Malformed(format!(
            "column {:?}: its value offsets run past its text",
            column.name
        ))
    })?;
    let text = std::str::from_utf8(bytes).map_err(|_| {
        TableError::Malformed(format!("column {:?}: its text is not UTF-8", column.name))
    })?;
    sink.extend(
        text,
        offsets[1..]
            .iter()
            .map(|&o| (o as usize).wrapping_sub(start)),
    )
    .map_err(|e| e.in_column(&column.name))
}

/// Checks every row of `batch` (numbered from `first_row`) against `schema`, and appends it to
/// `table` when given. The same check runs when owners seal and when the isolate reads. On an
/// error, `table` may hold part of the batch (the columns before the bad one): discard it.
pub fn check_batch(
    schema: &Schema,
    batch: &RecordBatch,
    first_row: u64,
    table: Option<&mut Table>,
) -> Result<(), TableError> {
    check_rows(schema, batch, first_row, table, Nullability::Exact)
}

/// [`check_batch`] for a batch an owner is about to seal, whose fields may be marked nullable
/// anywhere: an empty value where the schema allows none is named by row and column.
pub fn check_owner_batch(
    schema: &Schema,
    batch: &RecordBatch,
    first_row: u64,
    table: Option<&mut Table>,
) -> Result<(), TableError> {
    check_rows(schema, batch, first_row, table, Nullability::Relaxed)
}

fn check_rows(
    schema: &Schema,
    batch: &RecordBatch,
    first_row: u64,
    mut table: Option<&mut Table>,
    nullability: Nullability,
) -> Result<(), TableError> {
    check_stream_schema(batch.schema_ref(), schema, nullability)?;
    for (i, column) in schema.columns.iter().enumerate() {
        let out = table.as_mut().map(|t| &mut t.columns_mut()[i]);
        check_column(column, batch.column(i).as_ref(), first_row, out)?;
    }
    match table {
        Some(t) => t.check_lengths(),
        None => Ok(()),
    }
}

fn from_arrow(e: ArrowError) -> TableError {
    match e {
        ArrowError::IoError(_, io) => TableError::Read(io),
        other => TableError::Malformed(other.to_string()),
    }
}

/// Runs `f`, turning a panic into [`TableError::Malformed`]: Arrow's decoder is not
/// sealroom's code, and a hand-crafted payload that makes it panic must fail the read like any
/// other malformed payload instead of taking the isolate down.
fn guarded<T>(f: impl FnOnce() -> Result<T, TableError>) -> Result<T, TableError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(TableError::Malformed(
            "the Arrow decoder gave up on it".into(),
        ))
    })
}

/// Reads a payload from `input` into a table, checking the stream's schema and every row.
/// Reads one batch at a time: memory holds the table and one batch. Stops at the stream's end
/// marker; the caller decides what may follow it.
pub fn read_payload(input: impl Read, schema: &Schema) -> Result<Table, TableError> {
    read_payload_sized(input, schema, None)
}

/// [`read_payload`] for a payload of about `payload_bytes` bytes: after the first batch every
/// column gets room for the whole payload, estimated from that batch's share of it, so each
/// column is allocated once instead of doubling as it grows (under an allocator that wipes
/// every freed block, each doubling copies and wipes the column). The estimate only sizes
/// allocations, never what is read, and stays within a few times `payload_bytes`.
pub fn read_payload_sized(
    input: impl Read,
    schema: &Schema,
    payload_bytes: Option<u64>,
) -> Result<Table, TableError> {
    let tail = Tail {
        inner: input,
        ended: false,
    };
    let mut stream = guarded(|| StreamReader::try_new(tail, None).map_err(from_arrow))?;
    check_stream_schema(&stream.schema(), schema, Nullability::Exact)?;
    let mut table = Table::new(schema.clone());
    let mut rows: u64 = 0;
    while let Some(batch) = guarded(|| stream.next().transpose().map_err(from_arrow))? {
        if rows + batch.num_rows() as u64 > MAX_ROWS {
            return Err(TableError::TooManyRows(MAX_ROWS as usize));
        }
        if rows == 0
            && let Some(bytes) = payload_bytes
        {
            reserve_for_payload(&mut table, &batch, bytes);
        }
        check_batch(schema, &batch, rows + 1, Some(&mut table))?;
        rows += batch.num_rows() as u64;
    }
    // The decoder also stops quietly at the end of the input; it stops before it, at the end
    // marker, only when nothing is missing.
    if stream.get_ref().ended {
        return Err(TableError::Malformed(
            "the stream ends without its end-of-stream marker".into(),
        ));
    }
    Ok(table)
}

/// Gives each column of `table` room for a payload of `payload_bytes` whose rows look like
/// `first`'s: the batch's share of the payload, counted by the bytes of its buffers, plus 2%.
fn reserve_for_payload(table: &mut Table, first: &RecordBatch, payload_bytes: u64) {
    let buffer_bytes = |array: &dyn Array| -> u64 {
        let data = array.to_data();
        let nulls = data.nulls().map_or(0, |n| n.buffer().len());
        (data.buffers().iter().map(|b| b.len()).sum::<usize>() + nulls) as u64
    };
    let batch_bytes: u64 = first
        .columns()
        .iter()
        .map(|c| buffer_bytes(c.as_ref()))
        .sum();
    if first.num_rows() == 0 || batch_bytes == 0 {
        return;
    }
    let scale = payload_bytes as f64 / batch_bytes as f64 * 1.02;
    // What a row takes in the table beyond its text; rows that claim less room in the payload
    // than that (flags, empty strings) cannot make the table reserve more than twice the payload.
    let optional: Vec<bool> = table.schema().columns.iter().map(|c| c.optional).collect();
    let row_bytes: u64 = table
        .columns_mut()
        .iter()
        .zip(optional)
        .map(|(c, optional)| match c {
            ColumnData::Text(_) => 4,
            // An optional number's presence flag takes a byte.
            ColumnData::Number(_) => 8 + u64::from(optional),
            ColumnData::Bool(_) => 1,
        })
        .sum();
    let most_rows = (payload_bytes.saturating_mul(2) / row_bytes.max(1)).min(u64::from(u32::MAX));
    let rows = (first.num_rows() as f64 * scale).min(most_rows as f64) as usize;
    for (column, array) in table.columns_mut().iter_mut().zip(first.columns()) {
        match column {
            ColumnData::Text(text) => {
                let bytes = array
                    .as_string_opt::<i32>()
                    .map_or(0, |s| s.value_data().len());
                let bytes = (bytes as f64 * scale).min(payload_bytes as f64) as usize;
                text.reserve(rows, bytes);
            }
            ColumnData::Number(numbers) => numbers.reserve(rows),
            ColumnData::Bool(booleans) => booleans.reserve(rows),
        }
    }
}

/// Notes whether the input ran out under the decoder. The decoder reads exactly what it
/// decodes (it does not buffer ahead), so at a real end marker it never sees the input's end.
struct Tail<R> {
    inner: R,
    ended: bool,
}

impl<R: Read> Read for Tail<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.ended = true;
        }
        Ok(n)
    }
}

/// The most rows a payload holds: programs index rows with 32 bits.
const MAX_ROWS: u64 = u32::MAX as u64;

/// Writes a payload: every batch is checked against the schema before it is written, and no
/// string column may grow past what the isolate's table holds ([`TextColumn::MAX_TEXT`]), so
/// that an owner learns it at sealing, not from a failed job after its key was released.
pub struct PayloadWriter<W: Write> {
    stream: StreamWriter<W>,
    schema: Schema,
    arrow_schema: SchemaRef,
    rows: u64,
    /// Bytes of text written so far, per column (0 for columns that are not strings).
    text_bytes: Vec<u64>,
    /// The most text a column may hold: [`TextColumn::MAX_TEXT`] (lowered by tests).
    text_limit: u64,
    /// The most rows a payload may hold: what the isolate indexes (lowered by tests).
    row_limit: u64,
}

impl<W: Write> PayloadWriter<W> {
    /// Starts a payload for `schema` on `out`.
    pub fn new(out: W, schema: &Schema) -> Result<Self, TableError> {
        let arrow_schema = arrow_schema(schema);
        let stream = StreamWriter::try_new(out, &arrow_schema).map_err(write_error)?;
        Ok(Self {
            stream,
            schema: schema.clone(),
            arrow_schema,
            rows: 0,
            text_bytes: vec![0; schema.columns.len()],
            text_limit: TextColumn::MAX_TEXT as u64,
            row_limit: MAX_ROWS,
        })
    }

    /// The same writer with lower limits on each column's text and on the rows, to test them.
    #[cfg(test)]
    pub(crate) fn with_limits(mut self, text: u64, rows: u64) -> Self {
        self.text_limit = text;
        self.row_limit = rows;
        self
    }

    /// Checks `batch` (its rows numbered after those already written) and writes it. Its
    /// fields may be marked nullable anywhere: an empty value where the schema allows none is
    /// refused, naming its row and column.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), TableError> {
        check_owner_batch(&self.schema, batch, self.rows + 1, None)?;
        if self.rows + batch.num_rows() as u64 > self.row_limit {
            return Err(TableError::TooManyRows(self.row_limit as usize));
        }
        let mut text_bytes = self.text_bytes.clone();
        for ((held, column), array) in text_bytes
            .iter_mut()
            .zip(&self.schema.columns)
            .zip(batch.columns())
        {
            if let Some(strings) = array.as_string_opt::<i32>() {
                let offsets = strings.value_offsets();
                let more = match (offsets.first(), offsets.last()) {
                    (Some(&start), Some(&end)) => end.abs_diff(start).into(),
                    _ => 0,
                };
                if held.saturating_add(more) > self.text_limit {
                    return Err(TextColumn::full(&column.name));
                }
                *held += more;
            }
        }
        let typed = RecordBatch::try_new(self.arrow_schema.clone(), batch.columns().to_vec())
            .map_err(|e| TableError::SchemaMismatch(e.to_string()))?;
        self.stream.write(&typed).map_err(write_error)?;
        self.rows += batch.num_rows() as u64;
        self.text_bytes = text_bytes;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Ends the stream; returns the output.
    pub fn finish(mut self) -> Result<W, TableError> {
        self.stream.finish().map_err(write_error)?;
        self.stream.into_inner().map_err(write_error)
    }
}

fn write_error(e: ArrowError) -> TableError {
    match e {
        ArrowError::IoError(_, io) => TableError::Write(io),
        other => TableError::Write(std::io::Error::other(other.to_string())),
    }
}
