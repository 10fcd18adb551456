//! Typed columnar tables: what programs read.
//!
//! Columns are plain vectors owned by the table (not Arrow buffers), so a table is built one
//! batch at a time while the payload is decrypted, and memory grows with the rows a program
//! holds, not with the file plus a copy. Empty values exist only in columns the schema
//! declares optional.

use sealroom_core::schema::{ColumnType, Schema};

use crate::error::TableError;

/// A string column: every value's text, back to back, with each value's end as a 32-bit
/// offset (half the room of a `usize` on the tens of millions of values a job holds; a column
/// is limited to [`TextColumn::MAX_TEXT`] bytes of text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextColumn {
    text: String,
    ends: Vec<u32>,
}

impl TextColumn {
    /// The most text a column holds, in bytes.
    pub const MAX_TEXT: usize = u32::MAX as usize;

    /// The value of row `i` (0-based); an empty value is `""`.
    ///
    /// # Panics
    /// If `i` is not a row of the column.
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the column has no values.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Every value in row order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Room for `values` more values holding `bytes` more bytes of text, if memory allows
    /// (otherwise the column grows as values come).
    pub fn reserve(&mut self, values: usize, bytes: usize) {
        let _ = self.ends.try_reserve_exact(values);
        let _ = self.text.try_reserve_exact(bytes);
    }

    /// Whether `bytes` more bytes of text fit in the column.
    pub fn fits(&self, bytes: usize) -> bool {
        Self::text_fits(self.text.len(), bytes)
    }

    /// Whether a column holding `held` bytes of text has room for `more`.
    fn text_fits(held: usize, more: usize) -> bool {
        held.checked_add(more)
            .is_some_and(|total| total <= Self::MAX_TEXT)
    }

    /// The error for text that does not fit in `column` (empty when the caller names it with
    /// [`TableError::in_column`]).
    pub fn full(column: &str) -> TableError {
        TableError::TooMuchText {
            column: column.into(),
            limit: Self::MAX_TEXT,
        }
    }

    /// Appends a value; nothing is appended if the column's text would grow past
    /// [`TextColumn::MAX_TEXT`] (a column knows no name: the caller names it with
    /// [`TableError::in_column`]).
    pub fn push(&mut self, value: &str) -> Result<(), TableError> {
        if !self.fits(value.len()) {
            return Err(Self::full(""));
        }
        self.text.push_str(value);
        self.ends.push(self.text.len() as u32);
        Ok(())
    }

    /// Appends the values of `text` that end at `ends`, byte offsets into `text`, in one copy
    /// (how a decoded batch joins the column). Nothing is appended unless the offsets ascend,
    /// stay within `text` and fall on character boundaries, and the column's text stays within
    /// [`TextColumn::MAX_TEXT`].
    pub fn extend(
        &mut self,
        text: &str,
        ends: impl ExactSizeIterator<Item = usize> + Clone,
    ) -> Result<(), TableError> {
        let mut previous = 0;
        for end in ends.clone() {
            if end < previous || !text.is_char_boundary(end) {
                return Err(TableError::Malformed(format!(
                    "a string value ends at byte {end}, which is not a value boundary"
                )));
            }
            previous = end;
        }
        if !self.fits(previous) {
            return Err(Self::full(""));
        }
        // Every end is at most `base + previous`, which fits in 32 bits.
        let base = self.text.len();
        self.text.push_str(&text[..previous]);
        self.ends.reserve(ends.len());
        self.ends.extend(ends.map(|end| {
            debug_assert!(end <= previous, "the offsets changed between passes");
            (base + end) as u32
        }));
        Ok(())
    }
}

/// An integer, decimal or timestamp column: integers as they are, decimals in units of
/// 10^-scale, timestamps in microseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NumberColumn {
    values: Vec<i64>,
    /// Which values are present; `None` while none is empty.
    present: Option<Vec<bool>>,
}

impl NumberColumn {
    /// The value of row `i`, `None` if empty.
    ///
    /// # Panics
    /// If `i` is not a row of the column.
    pub fn get(&self, i: usize) -> Option<i64> {
        match &self.present {
            Some(present) if !present[i] => None,
            _ => Some(self.values[i]),
        }
    }

    /// Every value, empty ones as 0: for columns the schema does not declare optional, these
    /// are exactly the values.
    pub fn values(&self) -> &[i64] {
        &self.values
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the column has no values.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Room for `values` more values, if memory allows (otherwise the column grows as values
    /// come).
    pub fn reserve(&mut self, values: usize) {
        let _ = self.values.try_reserve_exact(values);
    }

    /// Appends a value or an empty one.
    pub fn push(&mut self, value: Option<i64>) {
        if value.is_none() && self.present.is_none() {
            // As much room as the values have: a column sized once stays sized once.
            let mut present = Vec::new();
            let _ = present.try_reserve_exact(self.values.capacity());
            present.resize(self.values.len(), true);
            self.present = Some(present);
        }
        if let Some(present) = &mut self.present {
            present.push(value.is_some());
        }
        self.values.push(value.unwrap_or(0));
    }

    /// Appends values that are all present.
    pub fn extend_present(&mut self, values: &[i64]) {
        self.values.extend_from_slice(values);
        if let Some(present) = &mut self.present {
            present.resize(self.values.len(), true);
        }
    }
}

/// A boolean column.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoolColumn {
    values: Vec<Option<bool>>,
}

impl BoolColumn {
    /// The value of row `i`, `None` if empty.
    ///
    /// # Panics
    /// If `i` is not a row of the column.
    pub fn get(&self, i: usize) -> Option<bool> {
        self.values[i]
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the column has no values.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Room for `values` more values, if memory allows (otherwise the column grows as values
    /// come).
    pub fn reserve(&mut self, values: usize) {
        let _ = self.values.try_reserve_exact(values);
    }

    /// Appends a value or an empty one.
    pub fn push(&mut self, value: Option<bool>) {
        self.values.push(value);
    }
}

/// One column's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnData {
    /// A string column.
    Text(TextColumn),
    /// An integer, decimal or timestamp column.
    Number(NumberColumn),
    /// A boolean column.
    Bool(BoolColumn),
}

impl ColumnData {
    /// An empty column for values of `kind`.
    pub fn for_type(kind: ColumnType) -> Self {
        match kind {
            ColumnType::String => Self::Text(TextColumn::default()),
            ColumnType::Integer | ColumnType::Decimal | ColumnType::Timestamp => {
                Self::Number(NumberColumn::default())
            }
            ColumnType::Boolean => Self::Bool(BoolColumn::default()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Text(c) => c.len(),
            Self::Number(c) => c.len(),
            Self::Bool(c) => c.len(),
        }
    }
}

#[cfg(test)]
impl ColumnData {
    /// How many values the column has room for without growing, and the bytes it reserved.
    pub(crate) fn capacity(&self) -> (usize, usize) {
        match self {
            Self::Text(c) => (c.ends.capacity(), c.ends.capacity() * 4 + c.text.capacity()),
            Self::Number(c) => (c.values.capacity(), c.values.capacity() * 8),
            Self::Bool(c) => (c.values.capacity(), c.values.capacity()),
        }
    }
}

/// A person's id, as a program matches people across datasets: byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PersonKey<'t> {
    /// From a string person column.
    Text(&'t str),
    /// From an integer person column.
    Integer(i64),
}

/// One value of a row given as a whole, for building small tables (tests, examples).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell<'a> {
    /// A string value.
    Text(&'a str),
    /// An integer, a decimal in units of 10^-scale, or a timestamp in microseconds.
    Number(i64),
    /// A boolean.
    Bool(bool),
    /// An empty value.
    Empty,
}

/// A dataset's rows, typed by its schema, column by column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    schema: Schema,
    columns: Vec<ColumnData>,
}

impl Table {
    /// An empty table for `schema`.
    pub fn new(schema: Schema) -> Self {
        let columns = schema
            .columns
            .iter()
            .map(|c| ColumnData::for_type(c.kind))
            .collect();
        Self { schema, columns }
    }

    /// The schema the rows follow.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, ColumnData::len)
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every column, in schema order, to append rows to. Callers keep the columns the same
    /// length (checked by [`Table::check_lengths`]).
    pub fn columns_mut(&mut self) -> &mut [ColumnData] {
        &mut self.columns
    }

    /// Checks that every column has as many values as the first.
    pub fn check_lengths(&self) -> Result<(), TableError> {
        let len = self.len();
        match self.columns.iter().position(|c| c.len() != len) {
            None => Ok(()),
            Some(i) => Err(TableError::SchemaMismatch(format!(
                "column {:?} has {} values where the first has {len}",
                self.schema.columns[i].name,
                self.columns[i].len()
            ))),
        }
    }

    /// Appends one row, each cell of its column's type.
    pub fn push_row(&mut self, row: &[Cell<'_>]) -> Result<(), TableError> {
        if row.len() != self.columns.len() {
            return Err(TableError::SchemaMismatch(format!(
                "a row of {} values for {} columns",
                row.len(),
                self.columns.len()
            )));
        }
        for (i, (cell, column)) in row.iter().zip(&self.schema.columns).enumerate() {
            let fits = match (cell, &self.columns[i]) {
                (Cell::Empty, _) => column.optional,
                (Cell::Text(v), ColumnData::Text(_)) => !v.is_empty() || column.optional,
                (Cell::Number(_), ColumnData::Number(_)) | (Cell::Bool(_), ColumnData::Bool(_)) => {
                    true
                }
                _ => false,
            };
            if !fits {
                return Err(TableError::SchemaMismatch(format!(
                    "{cell:?} does not fit column {:?} ({})",
                    column.name,
                    column.kind.name()
                )));
            }
        }
        // Nothing is appended unless every value fits (the value itself is not quoted).
        if let Some((_, column)) = row.iter().zip(&self.columns).zip(&self.schema.columns).find(
            |((cell, data), _)| {
                matches!((cell, data), (Cell::Text(v), ColumnData::Text(c)) if !c.fits(v.len()))
            },
        ) {
            return Err(TextColumn::full(&column.name));
        }
        for (cell, data) in row.iter().zip(&mut self.columns) {
            match (cell, data) {
                (Cell::Text(v), ColumnData::Text(c)) => c.push(v)?,
                (Cell::Empty, ColumnData::Text(c)) => c.push("")?,
                (Cell::Number(v), ColumnData::Number(c)) => c.push(Some(*v)),
                (Cell::Empty, ColumnData::Number(c)) => c.push(None),
                (Cell::Bool(v), ColumnData::Bool(c)) => c.push(Some(*v)),
                (_, ColumnData::Bool(c)) => c.push(None),
                _ => unreachable!("checked above"),
            }
        }
        Ok(())
    }

    /// The value in `row` of column number `column` (schema order); empty past the end. An empty
    /// string reads as [`Cell::Empty`] (only optional columns hold one).
    pub fn cell(&self, row: usize, column: usize) -> Cell<'_> {
        match self.columns.get(column) {
            Some(ColumnData::Text(c)) if row < c.len() => match c.get(row) {
                "" => Cell::Empty,
                text => Cell::Text(text),
            },
            Some(ColumnData::Number(c)) if row < c.len() => {
                c.get(row).map_or(Cell::Empty, Cell::Number)
            }
            Some(ColumnData::Bool(c)) if row < c.len() => {
                c.get(row).map_or(Cell::Empty, Cell::Bool)
            }
            _ => Cell::Empty,
        }
    }

    fn data(&self, column: &str) -> Option<(&ColumnData, ColumnType)> {
        let i = self.schema.index_of(column)?;
        Some((&self.columns[i], self.schema.columns[i].kind))
    }

    /// A string column by name.
    pub fn text(&self, column: &str) -> Result<&TextColumn, TableError> {
        match self.data(column) {
            Some((ColumnData::Text(c), _)) => Ok(c),
            _ => Err(no_such(column, "string")),
        }
    }

    /// A number column of type `kind` (integer, decimal or timestamp) by name.
    pub fn numbers(&self, column: &str, kind: ColumnType) -> Result<&NumberColumn, TableError> {
        match self.data(column) {
            Some((ColumnData::Number(c), k)) if k == kind => Ok(c),
            _ => Err(no_such(column, kind.name())),
        }
    }

    /// A boolean column by name.
    pub fn booleans(&self, column: &str) -> Result<&BoolColumn, TableError> {
        match self.data(column) {
            Some((ColumnData::Bool(c), _)) => Ok(c),
            _ => Err(no_such(column, "boolean")),
        }
    }

    /// The person column, read row by row without copying.
    pub fn person_column(&self) -> Result<PersonColumn<'_>, TableError> {
        let column = &self.schema.person_column;
        match self.data(column) {
            Some((ColumnData::Text(c), _)) => Ok(PersonColumn::Text(c)),
            Some((ColumnData::Number(c), ColumnType::Integer)) => {
                Ok(PersonColumn::Integer(c.values()))
            }
            _ => Err(no_such(column, "person (string or integer)")),
        }
    }

    /// The person of every row, in row order.
    pub fn persons(&self) -> Result<Vec<PersonKey<'_>>, TableError> {
        let column = self.person_column()?;
        Ok((0..column.len()).map(|row| column.get(row)).collect())
    }
}

/// A table's person column.
#[derive(Debug, Clone, Copy)]
pub enum PersonColumn<'t> {
    /// A string person column.
    Text(&'t TextColumn),
    /// An integer person column.
    Integer(&'t [i64]),
}

impl<'t> PersonColumn<'t> {
    /// The number of rows.
    pub fn len(&self) -> usize {
        match self {
            Self::Text(c) => c.len(),
            Self::Integer(v) => v.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The person of row `row`.
    ///
    /// # Panics
    /// If `row` is not a row of the column.
    pub fn get(&self, row: usize) -> PersonKey<'t> {
        match self {
            Self::Text(c) => PersonKey::Text(c.get(row)),
            Self::Integer(v) => PersonKey::Integer(v[row]),
        }
    }
}

fn no_such(column: &str, expected: &'static str) -> TableError {
    TableError::NoSuchColumn {
        column: column.into(),
        expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealroom_core::schema::Column;

    #[test]
    fn columns_hold_values_and_empties_by_row() {
        let mut text = TextColumn::default();
        for v in ["a", "", "ccc"] {
            text.push(v).unwrap();
        }
        assert_eq!(text.iter().collect::<Vec<_>>(), ["a", "", "ccc"]);
        let mut numbers = NumberColumn::default();
        numbers.extend_present(&[1, 2]);
        numbers.push(None);
        numbers.extend_present(&[4]);
        assert_eq!(
            (0..4).map(|i| numbers.get(i)).collect::<Vec<_>>(),
            [Some(1), Some(2), None, Some(4)]
        );
        let schema = Schema {
            columns: vec![
                Column::new("id", ColumnType::Integer),
                Column::new("ok", ColumnType::Boolean),
            ],
            person_column: "id".into(),
        };
        let mut table = Table::new(schema);
        if let [ColumnData::Number(id), ColumnData::Bool(ok)] = table.columns_mut() {
            id.extend_present(&[7, 8]);
            ok.push(Some(true));
        }
        assert!(table.check_lengths().is_err());
        if let ColumnData::Bool(ok) = &mut table.columns_mut()[1] {
            ok.push(None);
        }
        table.check_lengths().unwrap();
        assert_eq!(
            table.persons().unwrap(),
            [PersonKey::Integer(7), PersonKey::Integer(8)]
        );
        assert!(table.text("id").is_err());
        assert!(table.numbers("id", ColumnType::Timestamp).is_err());
        assert_eq!(table.booleans("ok").unwrap().get(1), None);
    }

    #[test]
    fn a_column_holds_text_up_to_its_32_bit_offsets() {
        const MAX: usize = TextColumn::MAX_TEXT;
        assert_eq!(MAX as u64, u64::from(u32::MAX));
        assert!(TextColumn::text_fits(0, MAX));
        assert!(TextColumn::text_fits(MAX - 10, 10));
        assert!(TextColumn::text_fits(MAX, 0));
        assert!(!TextColumn::text_fits(MAX - 10, 11));
        assert!(!TextColumn::text_fits(1, MAX));
        assert!(!TextColumn::text_fits(usize::MAX, 1));
        // A column's own error is named by its caller; a named one stays as it is.
        assert_eq!(
            TextColumn::full("").in_column("campaign").to_string(),
            format!("column \"campaign\" would hold more than {MAX} bytes of text")
        );
        assert!(matches!(
            TextColumn::full("kind").in_column("campaign"),
            TableError::TooMuchText { column, .. } if column == "kind"
        ));
    }
}
