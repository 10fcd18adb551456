//! Dataset schemas: typed columns, one of which identifies a person.

use serde::{Deserialize, Serialize};

use crate::canonical::{CanonicalError, canonical_digest};
use crate::ids::Digest;
use crate::labels;

/// The type of a column's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// UTF-8 text.
    String,
    /// A signed 64-bit integer.
    Integer,
}

impl ColumnType {
    /// The type's name as written in agreements.
    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
        }
    }
}

/// One typed column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// Column name, as in the CSV header.
    pub name: String,
    /// Value type.
    #[serde(rename = "type")]
    pub kind: ColumnType,
}

/// The columns of a dataset, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// Columns in the order they appear in the file.
    pub columns: Vec<Column>,
    /// The column whose value identifies a person (the unit of privacy).
    pub person_column: String,
}

impl Schema {
    /// The labeled digest of the canonical schema.
    pub fn digest(&self) -> Result<Digest, CanonicalError> {
        canonical_digest(labels::SCHEMA, self)
    }

    /// The position of a column by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// A column by name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}
