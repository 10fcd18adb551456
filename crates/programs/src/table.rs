//! Typed in-memory tables.

use sealroom_core::schema::Schema;
use zeroize::Zeroize;

/// One typed cell.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    /// Text, as the CSV gave it.
    Text(String),
    /// A 64-bit integer.
    Integer(i64),
}

impl Value {
    /// The value as text, the way it was written.
    pub fn to_text(&self) -> String {
        match self {
            Self::Text(s) => s.clone(),
            Self::Integer(i) => i.to_string(),
        }
    }
}

/// A dataset's rows, typed by its schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The schema the rows follow.
    pub schema: Schema,
    /// Rows in file order.
    pub rows: Vec<Vec<Value>>,
}

impl Drop for Table {
    /// Plaintext rows are wiped before their memory is freed.
    fn drop(&mut self) {
        for row in &mut self.rows {
            for value in row.iter_mut() {
                match value {
                    Value::Text(s) => s.zeroize(),
                    Value::Integer(i) => i.zeroize(),
                }
            }
        }
    }
}

/// Input data does not match its schema.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// The header row differs from the schema's columns.
    #[error("the CSV header is [{}] but the schema declares [{}]", found.join(", "), expected.join(", "))]
    HeaderMismatch {
        /// Columns declared.
        expected: Vec<String>,
        /// Columns found.
        found: Vec<String>,
    },
    /// A row has the wrong number of fields.
    #[error("row {row} has {found} fields, expected {expected}")]
    WrongFieldCount {
        /// One-based data row number.
        row: u64,
        /// How many there should be.
        expected: usize,
        /// How many there are.
        found: usize,
    },
    /// An integer column holds something else.
    #[error("row {row}, column {column:?}: {value:?} is not an integer")]
    NotAnInteger {
        /// One-based data row number.
        row: u64,
        /// The column concerned.
        column: String,
        /// The text found (truncated).
        value: String,
    },
    /// The person column is empty.
    #[error("row {row}: the person column {column:?} is empty")]
    EmptyPerson {
        /// One-based data row number.
        row: u64,
        /// The column concerned.
        column: String,
    },
    /// The bytes are not CSV, or not UTF-8.
    #[error("row {row}: {message}")]
    Csv {
        /// One-based data row number (0 for the header).
        row: u64,
        /// The parser's message.
        message: String,
    },
    /// The byte stream itself failed (for a sealed input: a chunk did not authenticate).
    #[error("reading the input failed: {0}")]
    Read(std::io::Error),
    /// The file has no header row.
    #[error("the CSV file is empty: it needs a header row")]
    Empty,
}
