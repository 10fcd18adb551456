//! Parquet and Arrow IPC sources: batches converted column by column to the payload's types.
//!
//! A column already of the payload's Arrow type is passed through as it is. Others convert
//! exactly or are refused, naming the row: text is read by the rules of `text`; integers,
//! decimals and floats become integers or decimals only when no digit is lost, and integers
//! or floats become timestamps as epoch seconds; timestamps of any unit and zone, and dates,
//! become UTC microseconds.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type, Float32Type, Float64Type,
    Int8Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sealroom_core::schema::{Column, ColumnType, Schema};
use sealroom_tables::payload::{DECIMAL_PRECISION, arrow_type};
use sealroom_tables::{TableError, error::excerpt};

use super::builder::{BATCH_ROWS, ColumnBuilder};
use super::text::{Parsed, expected, parse};
use super::{SourceError, column_positions};

/// A number as a source holds it, before it is fitted to the schema's type.
#[derive(Debug, Clone, Copy)]
enum SourceNumber {
    /// `mantissa × 10^-scale`.
    Exact { mantissa: i128, scale: u32 },
    /// A binary floating-point number.
    Float(f64),
}

impl SourceNumber {
    /// The number in units of 10^-`scale`, if it is exactly that and within 18 digits.
    fn fixed(self, scale: u32) -> Option<i64> {
        let limit = 10_i128.pow(u32::from(DECIMAL_PRECISION));
        let value = match self {
            Self::Exact { mantissa, scale: s } if s <= scale => {
                mantissa.checked_mul(10_i128.checked_pow(scale - s)?)?
            }
            Self::Exact { mantissa, scale: s } => {
                let divisor = 10_i128.checked_pow(s - scale)?;
                if mantissa % divisor != 0 {
                    return None;
                }
                mantissa / divisor
            }
            Self::Float(v) => {
                let factor = 10_f64.powi(scale as i32);
                let scaled = (v * factor).round();
                if !scaled.is_finite() || scaled.abs() >= limit as f64 || scaled / factor != v {
                    return None;
                }
                scaled as i128
            }
        };
        if value.abs() >= limit {
            return None;
        }
        i64::try_from(value).ok()
    }

    fn text(self) -> String {
        match self {
            Self::Exact { mantissa, scale: 0 } => mantissa.to_string(),
            Self::Exact { mantissa, scale } => format!("{mantissa}e-{scale}"),
            Self::Float(v) => v.to_string(),
        }
    }
}

/// The numbers of `array` (`None` for nulls), or `None` if it holds no numbers.
fn numbers(array: &dyn Array) -> Option<Vec<Option<SourceNumber>>> {
    macro_rules! exact {
        ($t:ty, $scale:expr) => {
            array
                .as_primitive::<$t>()
                .iter()
                .map(|v| {
                    v.map(|m| SourceNumber::Exact {
                        mantissa: i128::from(m),
                        scale: $scale,
                    })
                })
                .collect()
        };
    }
    macro_rules! float {
        ($t:ty) => {
            array
                .as_primitive::<$t>()
                .iter()
                .map(|v| v.map(|f| SourceNumber::Float(f64::from(f))))
                .collect()
        };
    }
    Some(match array.data_type() {
        DataType::Int8 => exact!(Int8Type, 0),
        DataType::Int16 => exact!(Int16Type, 0),
        DataType::Int32 => exact!(Int32Type, 0),
        DataType::Int64 => exact!(Int64Type, 0),
        DataType::UInt8 => exact!(UInt8Type, 0),
        DataType::UInt16 => exact!(UInt16Type, 0),
        DataType::UInt32 => exact!(UInt32Type, 0),
        DataType::UInt64 => exact!(UInt64Type, 0),
        DataType::Decimal32(_, s) if *s >= 0 => exact!(Decimal32Type, *s as u32),
        DataType::Decimal64(_, s) if *s >= 0 => exact!(Decimal64Type, *s as u32),
        DataType::Decimal128(_, s) if *s >= 0 => exact!(Decimal128Type, *s as u32),
        DataType::Float32 => float!(Float32Type),
        DataType::Float64 => float!(Float64Type),
        _ => return None,
    })
}

/// The instants of a timestamp or date array in microseconds (`None` for nulls), or `None` if
/// it holds no instants. An instant that is not a whole number of microseconds, or does not fit
/// in 64 bits of them, is `Err` with its raw value, for the caller to name.
fn instants(array: &dyn Array) -> Option<Vec<Option<Result<i64, i64>>>> {
    macro_rules! scaled {
        ($t:ty, $factor:expr) => {
            array
                .as_primitive::<$t>()
                .iter()
                .map(|v| v.map(|x| x.checked_mul($factor).ok_or(x)))
                .collect()
        };
    }
    Some(match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => scaled!(TimestampSecondType, 1_000_000),
        DataType::Timestamp(TimeUnit::Millisecond, _) => scaled!(TimestampMillisecondType, 1_000),
        DataType::Timestamp(TimeUnit::Microsecond, _) => scaled!(TimestampMicrosecondType, 1),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => array
            .as_primitive::<TimestampNanosecondType>()
            .iter()
            .map(|v| v.map(|x| if x % 1000 == 0 { Ok(x / 1000) } else { Err(x) }))
            .collect(),
        DataType::Date32 => array
            .as_primitive::<Date32Type>()
            .iter()
            .map(|v| v.map(|d| i64::from(d).checked_mul(86_400_000_000).ok_or(i64::from(d))))
            .collect(),
        DataType::Date64 => scaled!(Date64Type, 1_000),
        _ => return None,
    })
}

/// The values of `array` (`None` for nulls) if it holds text.
fn texts(array: &dyn Array) -> Option<Vec<Option<&str>>> {
    Some(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().collect(),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().collect(),
        DataType::Utf8View => array.as_string_view().iter().collect(),
        _ => return None,
    })
}

/// `array` as the payload's array for `column`, its rows numbered from `first_row`.
fn conform_column(
    column: &Column,
    array: &ArrayRef,
    first_row: u64,
) -> Result<ArrayRef, SourceError> {
    let target = arrow_type(column);
    if array.data_type() == &target {
        return Ok(array.clone());
    }
    let unparseable = |i: usize, value: String| TableError::Unparseable {
        row: first_row + i as u64,
        column: column.name.clone(),
        value: excerpt(&value),
        expected: expected(column),
    };
    let mut builder = ColumnBuilder::new(column);
    let mut push = |value: Parsed<'_>| {
        let pushed = builder.push(value);
        debug_assert!(pushed, "converted to the column's type");
    };
    if let Some(values) = texts(array.as_ref()) {
        for (i, v) in values.into_iter().enumerate() {
            let text = v.unwrap_or("");
            push(parse(column, text).ok_or_else(|| unparseable(i, text.into()))?);
        }
    } else if let (
        Some(values),
        ColumnType::Integer | ColumnType::Decimal | ColumnType::Timestamp,
    ) = (numbers(array.as_ref()), column.kind)
    {
        let scale = match column.kind {
            ColumnType::Decimal => u32::from(column.scale.unwrap_or(0)),
            ColumnType::Timestamp => 6,
            _ => 0,
        };
        for (i, v) in values.into_iter().enumerate() {
            push(match v {
                None => Parsed::Empty,
                Some(n) => Parsed::Number(n.fixed(scale).ok_or_else(|| unparseable(i, n.text()))?),
            });
        }
    } else if let (Some(values), ColumnType::Timestamp) = (instants(array.as_ref()), column.kind) {
        for (i, v) in values.into_iter().enumerate() {
            push(match v {
                None => Parsed::Empty,
                Some(Ok(micros)) => Parsed::Number(micros),
                Some(Err(raw)) => return Err(unparseable(i, raw.to_string()).into()),
            });
        }
    } else {
        return Err(SourceError::Unconvertible {
            column: column.name.clone(),
            found: array.data_type().to_string(),
            expected: column.kind.name(),
        });
    }
    Ok(builder.finish(column)?)
}

/// A source batch as a payload batch: the schema's columns, found by name, converted.
fn conform(
    batch: &RecordBatch,
    schema: &Schema,
    first_row: u64,
) -> Result<RecordBatch, SourceError> {
    let arrays = schema
        .columns
        .iter()
        .map(|c| {
            let array =
                batch
                    .column_by_name(&c.name)
                    .ok_or_else(|| SourceError::MissingColumn {
                        column: c.name.clone(),
                        found: names(batch.schema_ref()),
                    })?;
            conform_column(c, array, first_row)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let fields = schema
        .columns
        .iter()
        .zip(&arrays)
        .map(|(c, a)| arrow_schema::Field::new(&c.name, a.data_type().clone(), true))
        .collect::<Vec<_>>();
    RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), arrays)
        .map_err(|e| TableError::SchemaMismatch(e.to_string()).into())
}

fn names(schema: &arrow_schema::Schema) -> Vec<String> {
    schema.fields().iter().map(|f| f.name().clone()).collect()
}

fn parquet_error(e: impl std::fmt::Display) -> SourceError {
    SourceError::Columnar {
        format: "parquet",
        message: e.to_string(),
    }
}

fn arrow_error(e: impl std::fmt::Display) -> SourceError {
    SourceError::Columnar {
        format: "arrow",
        message: e.to_string(),
    }
}

/// Reads the schema's columns of a Parquet file (and only those), batch by batch.
pub fn read_parquet(
    file: File,
    schema: &Schema,
    progress: &mut dyn FnMut(u64),
    visit: &mut dyn FnMut(RecordBatch) -> Result<(), SourceError>,
) -> Result<Vec<String>, SourceError> {
    let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_error)?;
    let found = names(builder.schema());
    let (positions, ignored) = column_positions(&found, schema)?;
    let total_rows = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    let mask = ProjectionMask::roots(builder.parquet_schema(), positions);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(parquet_error)?;
    let mut rows: u64 = 0;
    for batch in reader {
        let batch = batch.map_err(parquet_error)?;
        visit(conform(&batch, schema, rows + 1)?)?;
        rows += batch.num_rows() as u64;
        if let Some(done) = bytes.saturating_mul(rows).checked_div(total_rows) {
            progress(done);
        }
    }
    if rows == 0 {
        visit(conform(
            &RecordBatch::new_empty(sealroom_tables::arrow_schema(schema)),
            schema,
            1,
        )?)?;
    }
    Ok(ignored)
}

/// The Arrow IPC file format's magic bytes.
const ARROW_FILE_MAGIC: &[u8; 6] = b"ARROW1";

/// Reads an Arrow IPC file or stream, batch by batch.
pub fn read_arrow(
    mut file: File,
    schema: &Schema,
    progress: &mut dyn FnMut(u64),
    visit: &mut dyn FnMut(RecordBatch) -> Result<(), SourceError>,
) -> Result<Vec<String>, SourceError> {
    let io = |e| SourceError::Table(TableError::Read(e));
    let bytes = file.metadata().map_err(io)?.len();
    let mut magic = [0u8; 6];
    let is_file = file.read_exact(&mut magic).is_ok() && &magic == ARROW_FILE_MAGIC;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let batches: Box<dyn Iterator<Item = Result<RecordBatch, arrow_schema::ArrowError>>>;
    let found;
    if is_file {
        let reader = arrow_ipc::reader::FileReader::try_new(file, None).map_err(arrow_error)?;
        found = names(&reader.schema());
        batches = Box::new(reader);
    } else {
        let reader =
            arrow_ipc::reader::StreamReader::try_new_buffered(file, None).map_err(arrow_error)?;
        found = names(&reader.schema());
        batches = Box::new(reader);
    }
    let (_, ignored) = column_positions(&found, schema)?;
    let mut rows: u64 = 0;
    for batch in batches {
        let batch = batch.map_err(arrow_error)?;
        visit(conform(&batch, schema, rows + 1)?)?;
        rows += batch.num_rows() as u64;
    }
    if rows == 0 {
        visit(conform(
            &RecordBatch::new_empty(sealroom_tables::arrow_schema(schema)),
            schema,
            1,
        )?)?;
    }
    progress(bytes);
    Ok(ignored)
}
