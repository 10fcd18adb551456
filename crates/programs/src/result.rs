//! What a program returns: exact tables of measures, each measure with the sensitivity that
//! sizes its noise.

/// One measured quantity (a count, a sum of values, …). The isolate noises every cell of a
/// measure, in every table it appears in, with one mechanism sized from this sensitivity, and
/// gives each measure an equal share of the run's ε (and of the Gaussian's δ).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measure {
    /// Column name in released tables, e.g. `conversions`.
    pub name: String,
    /// Values are fixed point: this many units per whole unit (1 for counts).
    pub units: u64,
    /// How much one person can change all cells of this measure together, in L1 (after
    /// contribution bounding), across every table.
    pub l1_sensitivity: u64,
    /// The same in L2, rounded up to an integer.
    pub l2_sensitivity: u64,
    /// The most one person changes one cell.
    pub per_cell_sensitivity: u64,
}

/// One row of a result table: its key and one exact value per measure of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultRow {
    /// One value per key column (empty for a table of one row).
    pub key: Vec<String>,
    /// One exact value per measure of the table, in the table's order.
    pub values: Vec<i64>,
}

/// One output table, before noise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultTable {
    /// Output name, as the agreement lists it.
    pub output: String,
    /// What the key columns mean (empty for a table of one row).
    pub key_columns: Vec<String>,
    /// The table's value columns: indices into [`ProgramResult::measures`]. Several columns
    /// may share one measure (its sensitivity then counts every cell of it).
    pub measures: Vec<usize>,
    /// The value columns' names when they are not their measures' names (empty otherwise).
    pub column_names: Vec<String>,
    /// Rows always released (declared keys, fixed rows), in order.
    pub rows: Vec<ResultRow>,
    /// Rows found in the data, by key: released only if the noisy value of the table's first
    /// measure reaches the threshold.
    pub discovered: Vec<ResultRow>,
    /// True when the program discovers keys (set by its parameters, never by the data).
    pub discovers_keys: bool,
}

/// A program's exact result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramResult {
    /// The measures, each noised once across the tables.
    pub measures: Vec<Measure>,
    /// The output tables.
    pub tables: Vec<ResultTable>,
    /// How many rows of one table one person can touch (the threshold's L0 bound).
    pub rows_per_person: u32,
}

/// `(key, value)` cells in release order.
pub type Cells = Vec<(String, i64)>;

impl ProgramResult {
    /// The result of a program with one measure and one table keyed by one column, from
    /// declared and discovered cells.
    pub fn single(
        output: &str,
        key_column: &str,
        measure: Measure,
        (declared, discovered): (Cells, Cells),
        discovers_keys: bool,
        rows_per_person: u32,
    ) -> Self {
        let rows = |cells: Cells| {
            cells
                .into_iter()
                .map(|(key, value)| ResultRow {
                    key: vec![key],
                    values: vec![value],
                })
                .collect()
        };
        ProgramResult {
            measures: vec![measure],
            tables: vec![ResultTable {
                output: output.into(),
                key_columns: vec![key_column.into()],
                measures: vec![0],
                column_names: Vec::new(),
                rows: rows(declared),
                discovered: rows(discovered),
                discovers_keys,
            }],
            rows_per_person,
        }
    }

    /// The first table's rows as `(first key value, first measure's value)` cells: declared
    /// rows, then discovered ones (for single-measure results).
    pub fn cells(&self) -> (Cells, Cells) {
        let cells = |rows: &[ResultRow]| {
            rows.iter()
                .map(|r| {
                    let key = r.key.first().cloned().unwrap_or_default();
                    (key, r.values.first().copied().unwrap_or(0))
                })
                .collect()
        };
        match self.tables.first() {
            Some(t) => (cells(&t.rows), cells(&t.discovered)),
            None => (Vec::new(), Vec::new()),
        }
    }

    /// Checks the result's shape: every table's measures exist and every row has one value per
    /// measure and one key value per key column. A program that breaks this is refused before
    /// anything is noised.
    pub fn check_shape(&self) -> Result<(), String> {
        for t in &self.tables {
            let bad_names = !t.column_names.is_empty() && t.column_names.len() != t.measures.len();
            if t.measures.is_empty()
                || t.measures.iter().any(|&m| m >= self.measures.len())
                || bad_names
            {
                return Err(format!(
                    "output {:?} names measures it does not have",
                    t.output
                ));
            }
            for row in t.rows.iter().chain(&t.discovered) {
                if row.values.len() != t.measures.len() || row.key.len() != t.key_columns.len() {
                    return Err(format!(
                        "output {:?} has a row of the wrong shape",
                        t.output
                    ));
                }
            }
        }
        Ok(())
    }
}
