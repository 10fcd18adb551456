//! Reading CSV into typed rows, checking every row against the schema.

use std::io::Read;

use sealroom_core::schema::{ColumnType, Schema};

use crate::table::{Table, TableError, Value};

/// Scans CSV from `input`, checking the header and every field against the schema, and hands
/// each checked record to `visit`. Returns the number of data rows. Allocates nothing per row.
fn scan(
    input: impl Read,
    schema: &Schema,
    mut visit: impl FnMut(&csv::ByteRecord),
) -> Result<u64, TableError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .buffer_capacity(1 << 16)
        .from_reader(input);
    let mut record = csv::ByteRecord::new();
    let csv_error = |row: u64, e: csv::Error| {
        if !e.is_io_error() {
            return TableError::Csv {
                row,
                message: e.to_string(),
            };
        }
        match e.into_kind() {
            csv::ErrorKind::Io(io) => TableError::Read(io),
            other => TableError::Csv {
                row,
                message: format!("{other:?}"),
            },
        }
    };
    if !reader
        .read_byte_record(&mut record)
        .map_err(|e| csv_error(0, e))?
    {
        return Err(TableError::Empty);
    }
    let expected: Vec<String> = schema.columns.iter().map(|c| c.name.clone()).collect();
    let found: Vec<String> = record
        .iter()
        .map(|f| String::from_utf8_lossy(f).trim().to_string())
        .collect();
    if found != expected {
        return Err(TableError::HeaderMismatch { expected, found });
    }
    let person = schema
        .index_of(&schema.person_column)
        .expect("validated schema has its person column");
    let mut row: u64 = 0;
    loop {
        row += 1;
        if !reader
            .read_byte_record(&mut record)
            .map_err(|e| csv_error(row, e))?
        {
            return Ok(row - 1);
        }
        if record.len() != schema.columns.len() {
            return Err(TableError::WrongFieldCount {
                row,
                expected: schema.columns.len(),
                found: record.len(),
            });
        }
        for (i, (field, column)) in record.iter().zip(&schema.columns).enumerate() {
            let text = std::str::from_utf8(field).map_err(|_| TableError::Csv {
                row,
                message: format!("column {:?} is not valid UTF-8", column.name),
            })?;
            if column.kind == ColumnType::Integer && text.trim().parse::<i64>().is_err() {
                return Err(TableError::NotAnInteger {
                    row,
                    column: column.name.clone(),
                    value: text.chars().take(40).collect(),
                });
            }
            if i == person && text.trim().is_empty() {
                return Err(TableError::EmptyPerson {
                    row,
                    column: column.name.clone(),
                });
            }
        }
        visit(&record);
    }
}

/// Checks CSV from `input` against the schema without keeping anything; returns the number of rows.
pub fn check_rows(input: impl Read, schema: &Schema) -> Result<u64, TableError> {
    scan(input, schema, |_| {})
}

/// Reads CSV from `input`, calling `on_row` with each typed row; returns the number of rows.
/// Stops at the first row that does not match the schema. Memory use does not grow with input size.
pub fn for_each_row(
    input: impl Read,
    schema: &Schema,
    mut on_row: impl FnMut(Vec<Value>),
) -> Result<u64, TableError> {
    scan(input, schema, |record| {
        let values = record
            .iter()
            .zip(&schema.columns)
            .map(|(field, column)| {
                // `scan` has checked that every field is UTF-8 and every integer parses.
                let text = String::from_utf8_lossy(field);
                match column.kind {
                    ColumnType::String => Value::Text(text.into_owned()),
                    ColumnType::Integer => Value::Integer(text.trim().parse().unwrap_or_default()),
                }
            })
            .collect();
        on_row(values);
    })
}

/// Reads a whole CSV input into a [`Table`].
pub fn read_table(input: impl Read, schema: &Schema) -> Result<Table, TableError> {
    let mut rows = Vec::new();
    for_each_row(input, schema, |r| rows.push(r))?;
    Ok(Table {
        schema: schema.clone(),
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealroom_core::schema::Column;

    fn schema() -> Schema {
        Schema {
            columns: vec![
                Column {
                    name: "id".into(),
                    kind: ColumnType::String,
                },
                Column {
                    name: "n".into(),
                    kind: ColumnType::Integer,
                },
            ],
            person_column: "id".into(),
        }
    }

    #[test]
    fn reads_typed_rows_and_names_bad_ones() {
        let t = read_table("id,n\na,1\nb,-2\n".as_bytes(), &schema()).unwrap();
        assert_eq!(t.rows[1], vec![Value::Text("b".into()), Value::Integer(-2)]);
        assert!(matches!(
            read_table("id,m\n".as_bytes(), &schema()),
            Err(TableError::HeaderMismatch { .. })
        ));
        assert!(matches!(
            read_table("id,n\na,1\nb,x\n".as_bytes(), &schema()),
            Err(TableError::NotAnInteger { row: 2, .. })
        ));
        assert!(matches!(
            read_table("id,n\na\n".as_bytes(), &schema()),
            Err(TableError::Csv { row: 1, .. } | TableError::WrongFieldCount { row: 1, .. })
        ));
        assert!(matches!(
            read_table("id,n\n,1\n".as_bytes(), &schema()),
            Err(TableError::EmptyPerson { row: 1, .. })
        ));
        assert!(matches!(
            read_table("".as_bytes(), &schema()),
            Err(TableError::Empty)
        ));
    }
}
