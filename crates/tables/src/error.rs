//! What can be wrong with a dataset's rows, named by row, column and value.

/// The longest excerpt of an offending value an error repeats.
const EXCERPT_CHARS: usize = 40;

/// The start of `value`, for an error message.
pub fn excerpt(value: &str) -> String {
    let mut chars = value.chars();
    let mut out: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// Rows that do not match their schema, or a payload that is not one.
///
/// Rows are numbered from 1 in file order (a CSV file's header is not a row).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// A required column is empty (null, or an empty string).
    #[error(
        "row {row}, column {column:?}: the value is empty, and the schema does not declare the column optional"
    )]
    EmptyValue {
        /// The row.
        row: u64,
        /// The column.
        column: String,
    },
    /// A value cannot be read as the column's type.
    #[error("row {row}, column {column:?}: {value:?} is not {expected}")]
    Unparseable {
        /// The row.
        row: u64,
        /// The column.
        column: String,
        /// The value found (its start).
        value: String,
        /// What the column holds, e.g. "an integer" or "a decimal with at most 2 digits after the point".
        expected: String,
    },
    /// A string column holds a value outside its declared list.
    #[error("row {row}, column {column:?}: {value:?} is not one of the declared values [{}]", allowed.join(", "))]
    NotAllowed {
        /// The row.
        row: u64,
        /// The column.
        column: String,
        /// The value found (its start).
        value: String,
        /// The values allowed.
        allowed: Vec<String>,
    },
    /// The payload's columns or types differ from the schema's.
    #[error("the payload does not follow the schema: {0}")]
    SchemaMismatch(String),
    /// The payload is not a well-formed Arrow IPC stream.
    #[error("the payload is not a well-formed Arrow IPC stream: {0}")]
    Malformed(String),
    /// The byte stream itself failed (for a sealed input: a chunk did not authenticate).
    #[error("reading the input failed: {0}")]
    Read(std::io::Error),
    /// Writing the payload failed.
    #[error("writing the payload failed: {0}")]
    Write(std::io::Error),
    /// A program asked for a column the table does not have with that type.
    #[error("the table has no {expected} column {column:?}")]
    NoSuchColumn {
        /// The column asked for.
        column: String,
        /// The type asked for.
        expected: &'static str,
    },
    /// More rows than a table can index.
    #[error("more than {0} rows")]
    TooManyRows(usize),
    /// A string column with more text than a table holds.
    #[error("column {column:?} would hold more than {limit} bytes of text")]
    TooMuchText {
        /// The column.
        column: String,
        /// The most text a column holds, in bytes.
        limit: usize,
    },
}

impl TableError {
    /// Names `column` in an error raised by a column's own values, which know no name.
    pub fn in_column(self, column: &str) -> Self {
        match self {
            Self::TooMuchText { column: c, limit } if c.is_empty() => Self::TooMuchText {
                column: column.into(),
                limit,
            },
            other => other,
        }
    }

    /// The same error without the values it quotes: what the isolate reports, so that no
    /// decrypted value leaves it, only rows and columns.
    pub fn without_values(self) -> Self {
        match self {
            Self::Unparseable {
                row,
                column,
                expected,
                ..
            } => Self::Unparseable {
                row,
                column,
                value: "(withheld)".into(),
                expected,
            },
            Self::NotAllowed {
                row,
                column,
                allowed,
                ..
            } => Self::NotAllowed {
                row,
                column,
                value: "(withheld)".into(),
                allowed,
            },
            other => other,
        }
    }
}
