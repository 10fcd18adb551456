//! Building payload batches from values read as text or converted from another Arrow type.

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Decimal128Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use sealroom_core::schema::{Column, ColumnType, Schema};
use sealroom_tables::payload::{DECIMAL_PRECISION, arrow_schema};
use sealroom_tables::{TableError, error::excerpt};

use super::text::{Parsed, expected, parse};

/// Rows per payload batch: large enough that per-batch costs vanish, small enough that the
/// isolate holds little besides the table it builds.
pub const BATCH_ROWS: usize = 64 * 1024;

/// One column's values being gathered, typed as the payload holds them.
pub(super) enum ColumnBuilder {
    Text(StringBuilder),
    Integer(Int64Builder),
    Decimal(Decimal128Builder),
    Bool(BooleanBuilder),
    Timestamp(TimestampMicrosecondBuilder),
}

impl ColumnBuilder {
    pub(super) fn new(column: &Column) -> Self {
        match column.kind {
            ColumnType::String => {
                Self::Text(StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 16))
            }
            ColumnType::Integer => Self::Integer(Int64Builder::with_capacity(BATCH_ROWS)),
            ColumnType::Decimal => Self::Decimal(Decimal128Builder::with_capacity(BATCH_ROWS)),
            ColumnType::Boolean => Self::Bool(BooleanBuilder::with_capacity(BATCH_ROWS)),
            ColumnType::Timestamp => {
                Self::Timestamp(TimestampMicrosecondBuilder::with_capacity(BATCH_ROWS))
            }
        }
    }

    /// Appends a value; `false` (and nothing appended) if it is of another type.
    pub(super) fn push(&mut self, value: Parsed<'_>) -> bool {
        match (self, value) {
            (Self::Text(b), Parsed::Text(v)) => b.append_value(v),
            (Self::Text(b), Parsed::Empty) => b.append_null(),
            (Self::Integer(b), Parsed::Number(v)) => b.append_value(v),
            (Self::Integer(b), Parsed::Empty) => b.append_null(),
            (Self::Decimal(b), Parsed::Number(v)) => b.append_value(i128::from(v)),
            (Self::Decimal(b), Parsed::Empty) => b.append_null(),
            (Self::Bool(b), Parsed::Bool(v)) => b.append_value(v),
            (Self::Bool(b), Parsed::Empty) => b.append_null(),
            (Self::Timestamp(b), Parsed::Number(v)) => b.append_value(v),
            (Self::Timestamp(b), Parsed::Empty) => b.append_null(),
            _ => return false,
        }
        true
    }

    /// The values gathered, as an array; starts anew.
    pub(super) fn finish(&mut self, column: &Column) -> Result<ArrayRef, TableError> {
        let invalid = |e: arrow_schema::ArrowError| TableError::SchemaMismatch(e.to_string());
        Ok(match self {
            Self::Text(b) => Arc::new(b.finish()),
            Self::Integer(b) => Arc::new(b.finish()),
            Self::Decimal(b) => Arc::new(
                b.finish()
                    .with_precision_and_scale(DECIMAL_PRECISION, column.scale.unwrap_or(0) as i8)
                    .map_err(invalid)?,
            ),
            Self::Bool(b) => Arc::new(b.finish()),
            Self::Timestamp(b) => Arc::new(b.finish().with_timezone("UTC")),
        })
    }
}

/// Rows of one schema being gathered into a payload batch.
pub struct BatchBuilder<'s> {
    schema: &'s Schema,
    columns: Vec<ColumnBuilder>,
    rows: usize,
}

impl<'s> BatchBuilder<'s> {
    /// An empty batch for `schema`.
    pub fn new(schema: &'s Schema) -> Self {
        Self {
            schema,
            columns: schema.columns.iter().map(ColumnBuilder::new).collect(),
            rows: 0,
        }
    }

    /// Appends `text` as the value of column `index` in file row `row`, read as the column's
    /// type. Call for every column of a row, then [`BatchBuilder::end_row`].
    pub fn push_text(&mut self, index: usize, text: &str, row: u64) -> Result<(), TableError> {
        let column = &self.schema.columns[index];
        let parsed = parse(column, text).ok_or_else(|| TableError::Unparseable {
            row,
            column: column.name.clone(),
            value: excerpt(text),
            expected: expected(column),
        })?;
        self.push(index, parsed);
        Ok(())
    }

    /// Appends an already typed value to column `index`.
    pub fn push(&mut self, index: usize, value: Parsed<'_>) {
        let pushed = self.columns[index].push(value);
        debug_assert!(pushed, "a value of another type than column {index}");
    }

    /// Ends a row; returns whether the batch is full.
    pub fn end_row(&mut self) -> bool {
        self.rows += 1;
        self.rows >= BATCH_ROWS
    }

    /// Rows gathered so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The gathered rows as a batch of the payload's Arrow schema; starts a new batch.
    pub fn finish(&mut self) -> Result<RecordBatch, TableError> {
        let arrays = self
            .columns
            .iter_mut()
            .zip(&self.schema.columns)
            .map(|(b, c)| b.finish(c))
            .collect::<Result<Vec<_>, _>>()?;
        self.rows = 0;
        // The payload schema marks required columns non-nullable; an empty value in one is
        // named (row and column) by the check that follows, so build without that constraint
        // and let the check speak.
        let relaxed = Arc::new(arrow_schema::Schema::new(
            arrow_schema(self.schema)
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect::<Vec<_>>(),
        ));
        RecordBatch::try_new(relaxed, arrays).map_err(|e| TableError::SchemaMismatch(e.to_string()))
    }
}
