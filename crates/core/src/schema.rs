//! Dataset schemas: typed columns, one of which identifies a person.
//!
//! A schema is part of the agreement every party signs, and its digest is in every envelope
//! header: owners check their files against it before sealing, and the isolate checks every
//! decrypted batch against it again before a program sees a row.

use serde::{Deserialize, Serialize};

use crate::canonical::{CanonicalError, canonical_digest};
use crate::ids::Digest;
use crate::labels;

/// The largest decimal scale (digits after the point) a column may declare: values are held
/// as 64-bit integers in units of 10^-scale.
pub const MAX_DECIMAL_SCALE: u8 = 18;

/// The type of a column's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// UTF-8 text, compared byte for byte.
    String,
    /// A signed 64-bit integer.
    Integer,
    /// An exact fixed-point number with the column's `scale` digits after the point.
    Decimal,
    /// `true` or `false`.
    Boolean,
    /// An instant in UTC with microsecond precision.
    Timestamp,
}

impl ColumnType {
    /// The type's name as written in agreements.
    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Decimal => "decimal",
            Self::Boolean => "boolean",
            Self::Timestamp => "timestamp",
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One typed column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// Column name, as in the owner's file.
    pub name: String,
    /// Value type.
    #[serde(rename = "type")]
    pub kind: ColumnType,
    /// Digits after the point, for (and only for) a decimal column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<u8>,
    /// Whether a value may be empty (null, or an empty string). Off unless declared: sealing
    /// refuses an empty value, so programs never see one.
    #[serde(default, skip_serializing_if = "is_false")]
    pub optional: bool,
    /// The only values a string column may hold (e.g. `["click", "view"]`); any other is
    /// refused at sealing, naming its row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
}

impl Column {
    /// A required column of type `kind` (for a decimal, [`Column::decimal`]).
    pub fn new(name: impl Into<String>, kind: ColumnType) -> Self {
        Self {
            name: name.into(),
            kind,
            scale: None,
            optional: false,
            values: None,
        }
    }

    /// A decimal column with `scale` digits after the point.
    pub fn decimal(name: impl Into<String>, scale: u8) -> Self {
        Self {
            scale: Some(scale),
            ..Self::new(name, ColumnType::Decimal)
        }
    }

    /// The same column, allowed to be empty.
    pub fn optional(self) -> Self {
        Self {
            optional: true,
            ..self
        }
    }

    /// The same column, restricted to `values`.
    pub fn one_of<S: Into<String>>(self, values: impl IntoIterator<Item = S>) -> Self {
        Self {
            values: Some(values.into_iter().map(Into::into).collect()),
            ..self
        }
    }

    /// Whether `value` is allowed by the column's list of values (always, without a list).
    pub fn allows(&self, value: &str) -> bool {
        self.values
            .as_ref()
            .is_none_or(|list| list.iter().any(|v| v == value))
    }

    /// What is wrong with the declaration itself, if anything (the scale, the list of values).
    pub fn problem(&self) -> Option<String> {
        match (self.kind, self.scale) {
            (ColumnType::Decimal, None) => {
                return Some("a decimal column needs a scale (digits after the point)".into());
            }
            (ColumnType::Decimal, Some(s)) if s > MAX_DECIMAL_SCALE => {
                return Some(format!(
                    "scale {s} is above the largest, {MAX_DECIMAL_SCALE}"
                ));
            }
            (ColumnType::Decimal, Some(_)) | (_, None) => {}
            (kind, Some(_)) => {
                return Some(format!("a {} column has no scale", kind.name()));
            }
        }
        if let Some(values) = &self.values {
            if self.kind != ColumnType::String {
                return Some("only a string column can list its values".into());
            }
            if values.is_empty() {
                return Some("the list of values is empty".into());
            }
            if let Some(v) = values.iter().find(|v| v.is_empty()) {
                return Some(format!(
                    "the list of values holds {v:?}; declare the column optional instead"
                ));
            }
            for (i, v) in values.iter().enumerate() {
                if values[..i].contains(v) {
                    return Some(format!("the list of values holds {v:?} twice"));
                }
            }
        }
        None
    }
}

/// The columns of a dataset, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// Columns in the order they appear in the file.
    pub columns: Vec<Column>,
    /// The column whose value identifies a person (the unit of privacy). It is a string or
    /// integer column and is never empty.
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

    /// The position of the person column (schemas in agreements always have one).
    pub fn person_index(&self) -> Option<usize> {
        self.index_of(&self.person_column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_with_a_misplaced_scale_or_list_are_named() {
        assert!(Column::decimal("v", 2).problem().is_none());
        assert!(Column::new("v", ColumnType::Decimal).problem().is_some());
        assert!(Column::decimal("v", 19).problem().is_some());
        let mut integer = Column::new("n", ColumnType::Integer);
        integer.scale = Some(2);
        assert!(integer.problem().unwrap().contains("no scale"));
        let kind = Column::new("kind", ColumnType::String).one_of(["click", "view"]);
        assert!(kind.problem().is_none());
        assert!(kind.allows("click") && !kind.allows("Click") && !kind.allows(""));
        let twice = Column::new("kind", ColumnType::String).one_of(["a", "a"]);
        assert!(twice.problem().unwrap().contains("twice"));
        let empty = Column::new("kind", ColumnType::String).one_of(Vec::<String>::new());
        assert!(empty.problem().is_some());
        let on_integer = Column::new("n", ColumnType::Integer).one_of(["1"]);
        assert!(on_integer.problem().is_some());
    }

    #[test]
    fn the_digest_of_a_plain_schema_is_unchanged_by_the_new_optional_fields() {
        let schema = Schema {
            columns: vec![Column::new("id", ColumnType::String)],
            person_column: "id".into(),
        };
        let json = serde_json::to_string(&schema).unwrap();
        assert_eq!(
            json,
            r#"{"columns":[{"name":"id","type":"string"}],"person_column":"id"}"#
        );
    }
}
