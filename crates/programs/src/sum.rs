//! `sum` v1: the total of a value column of the `right` dataset over the people
//! who appear in both datasets, per group of the `left` dataset (for example:
//! purchase value of the people each campaign reached).
//!
//! Values are read exactly as fixed-point integers (`units` per whole unit) and
//! clamped to `[lower, upper]`; each person contributes at most
//! `max_rows_per_person_per_group` rows to a group, `max_rows_per_person` rows in
//! all, to at most `max_groups_per_person` groups. Groups are declared (always
//! released) or discovered (released only through the noisy threshold), as for `overlap`.

use std::collections::BTreeMap;

use sealroom_core::agreement::{DatasetTerms, PrivacyTerms};
use sealroom_core::schema::ColumnType;
use sealroom_privacy::bounding::{
    ContributionBounds, FixedPointClamp, MAX_UNITS, bound_rows, parse_decimal,
};
use serde::Deserialize;

use crate::catalog::ProgramError;
use crate::matching::{Groups, check_pair, match_people, split_cells};
use crate::program::{Params, Plan, Program, ProgramInfo, checked_inputs};
use crate::result::{Measure, ProgramResult};
use sealroom_tables::{NumberColumn, Table, TextColumn};

/// Program id.
pub const ID: &str = "sum";
/// Program version.
pub const VERSION: u32 = 1;
/// The one output it produces.
pub const OUTPUT: &str = "sum";

/// A bound as written in the agreement: a whole number or a decimal string.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Bound {
    /// A whole number.
    Whole(i64),
    /// A decimal string, read exactly.
    Decimal(String),
}

impl Bound {
    /// The bound in `units` per whole unit, exactly (a bound that would need rounding is
    /// refused); `which` names it in errors.
    pub fn units(&self, units: u64, which: &str) -> Result<i64, String> {
        let scaled = match self {
            Bound::Whole(v) => i128::from(*v) * i128::from(units),
            Bound::Decimal(text) => {
                let scaled = parse_decimal(text, units).map_err(|e| format!("{which}: {e}"))?;
                let significant = text
                    .trim()
                    .split_once('.')
                    .map_or("", |(_, f)| f.trim_end_matches('0'));
                let exact = significant.is_empty()
                    || significant.len() <= 20
                        && significant.parse::<i128>().is_ok_and(|f| {
                            (f * i128::from(units)) % 10_i128.pow(significant.len() as u32) == 0
                        });
                if !exact {
                    return Err(format!(
                        "{which} = {text:?} is not a whole number of 1/{units}"
                    ));
                }
                scaled
            }
        };
        i64::try_from(scaled).map_err(|_| format!("{which} is too large for {units} units per 1"))
    }
}

/// Parameters of `sum`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SumParams {
    /// `owner/dataset` holding the group column.
    pub left: String,
    /// `owner/dataset` holding the values.
    pub right: String,
    /// A string column of `left`.
    pub group_column: String,
    /// An integer, decimal or decimal-text column of `right`.
    pub value_column: String,
    /// Fixed-point units per whole unit (e.g. 100 to count in cents).
    pub units: u64,
    /// Smallest value counted (values below are raised to it).
    pub lower: Bound,
    /// Largest value counted (values above are lowered to it).
    pub upper: Bound,
    /// The groups to report, in order; absent to discover them through the noisy threshold.
    #[serde(default)]
    pub groups: Option<Vec<String>>,
}

impl Params for SumParams {
    fn inputs(&self) -> Vec<String> {
        vec![self.left.clone(), self.right.clone()]
    }

    fn check(params: &serde_json::Value, datasets: &[DatasetTerms]) -> Result<Self, String> {
        let p: Self = serde_json::from_value(params.clone()).map_err(|e| e.to_string())?;
        let (_, right) = check_pair(datasets, &p.left, &p.right, &p.group_column)?;
        Groups::from_param(p.groups.as_ref())?;
        let Some(value) = right.schema.column(&p.value_column) else {
            return Err(format!(
                "value_column {:?} is not a column of {}",
                p.value_column, p.right
            ));
        };
        match value.kind {
            ColumnType::Integer | ColumnType::String => {}
            ColumnType::Decimal => {
                let per_unit = 10_u64.pow(u32::from(value.scale.unwrap_or(0)));
                if !p.units.is_multiple_of(per_unit) {
                    return Err(format!(
                        "units = {} cannot hold {}.{} exactly: it has {} digits after the point, so units must be a multiple of {per_unit}",
                        p.units,
                        p.right,
                        p.value_column,
                        value.scale.unwrap_or(0)
                    ));
                }
            }
            other => {
                return Err(format!(
                    "value_column {:?} is a {} column; sum reads integer, decimal or decimal-text columns",
                    p.value_column,
                    other.name()
                ));
            }
        }
        if p.value_column == right.schema.person_column {
            return Err("value_column cannot be the person column".into());
        }
        p.clamp()?;
        Ok(p)
    }
}

impl SumParams {
    /// The exact clamp the bounds describe.
    pub fn clamp(&self) -> Result<FixedPointClamp, String> {
        if !(1..=MAX_UNITS).contains(&self.units) {
            return Err(format!(
                "units must be from 1 to {MAX_UNITS}, not {}",
                self.units
            ));
        }
        let lower = self.lower.units(self.units, "lower")?;
        let upper = self.upper.units(self.units, "upper")?;
        if lower > upper {
            return Err(format!(
                "lower bound {lower} is above upper bound {upper} (in units of 1/{})",
                self.units
            ));
        }
        Ok(FixedPointClamp {
            units: self.units,
            lower,
            upper,
        })
    }
}

/// The `sum` program.
#[derive(Debug, Clone, Copy)]
pub struct Sum;

impl Program for Sum {
    fn info(&self) -> ProgramInfo {
        ProgramInfo {
            id: ID,
            version: VERSION,
            summary: "total of a value column of the right dataset over people in both, per group of the left dataset (fixed point, clamped, bounded per person)",
            params: "left, right, group_column as for overlap; value_column = \"column of right\", units = 100, lower = 0, upper = \"500.00\", groups = [\"...\"] (optional)",
        }
    }

    fn plan(&self, params: &serde_json::Value, datasets: &[DatasetTerms]) -> Result<Plan, String> {
        Plan::of::<SumParams>(params, datasets, OUTPUT)
    }

    fn run(
        &self,
        params: &serde_json::Value,
        datasets: &[DatasetTerms],
        inputs: &[&Table],
        privacy: &PrivacyTerms,
    ) -> Result<ProgramResult, ProgramError> {
        let (params, [left, right]) = checked_inputs::<SumParams, 2>(params, datasets, inputs)?;
        run(&params, left, right, privacy)
    }
}

/// Runs `sum` over the `left` and `right` tables.
pub fn run(
    params: &SumParams,
    left: &Table,
    right: &Table,
    privacy: &PrivacyTerms,
) -> Result<ProgramResult, ProgramError> {
    let groups = Groups::from_param(params.groups.as_ref()).map_err(ProgramError::BadParameters)?;
    let clamp = params.clamp().map_err(ProgramError::BadParameters)?;
    let values = ValueColumn::of(right, &params.value_column, clamp.units)?;
    let matched = match_people(left, right, &params.group_column, &groups)?;
    let mut contributions: Vec<((usize, &str), i64)> = Vec::new();
    for (i, m) in matched.iter().enumerate() {
        for group in &m.groups {
            for &row in &m.right_rows {
                let value = match &values {
                    ValueColumn::Units(column, factor) => match column.get(row) {
                        Some(v) => clamp.clamp(i128::from(v) * i128::from(*factor)),
                        None => continue,
                    },
                    ValueColumn::Text(column) => match column.get(row) {
                        "" => continue,
                        text => clamp.read(text).map_err(|e| {
                            ProgramError::BadParameters(format!(
                                "{}.{}: {e}",
                                params.right, params.value_column
                            ))
                        })?,
                    },
                };
                contributions.push(((i, *group), value));
            }
        }
    }
    let bounds = ContributionBounds {
        rows_per_group: privacy.max_rows_per_person_per_group,
        rows_total: privacy.max_rows_per_person,
        groups: privacy.max_groups_per_person,
    };
    let mut totals: BTreeMap<String, i64> = BTreeMap::new();
    for kept in bound_rows(contributions.iter().map(|(key, _)| *key), bounds) {
        let ((_, group), value) = contributions[kept];
        let total = totals.entry(group.to_string()).or_default();
        *total = total.saturating_add(value);
    }
    let max_abs = clamp.max_abs();
    let measure = Measure {
        name: format!("sum_of_{}", params.value_column),
        units: clamp.units,
        l1_sensitivity: bounds.l1_sensitivity(max_abs),
        l2_sensitivity: bounds.l2_sensitivity(max_abs),
        per_cell_sensitivity: u64::from(bounds.rows_per_group).saturating_mul(max_abs),
    };
    Ok(ProgramResult::single(
        OUTPUT,
        &params.group_column,
        measure,
        split_cells(&groups, totals),
        groups == Groups::Discovered,
        bounds.groups,
    ))
}

/// Where `sum` reads its values: empty values contribute nothing.
enum ValueColumn<'t> {
    /// An integer or decimal column, and the factor that turns its values into clamp units.
    Units(&'t NumberColumn, i64),
    /// A string column of decimal text, read exactly.
    Text(&'t TextColumn),
}

impl<'t> ValueColumn<'t> {
    /// The column `name` of `table`, read in `units` per whole unit.
    fn of(table: &'t Table, name: &str, units: u64) -> Result<Self, ProgramError> {
        let factor = |per_unit: u64| {
            i64::try_from(units / per_unit)
                .map_err(|_| ProgramError::BadParameters(format!("units {units} is too large")))
        };
        let column = table.schema().column(name);
        Ok(match column.map(|c| (c.kind, c.scale)) {
            Some((ColumnType::String, _)) => Self::Text(table.text(name)?),
            Some((ColumnType::Integer, _)) => {
                Self::Units(table.numbers(name, ColumnType::Integer)?, factor(1)?)
            }
            Some((ColumnType::Decimal, scale)) => {
                // The plan has checked that units is a multiple of 10^scale.
                let per_unit = 10_u64.pow(u32::from(scale.unwrap_or(0)));
                Self::Units(table.numbers(name, ColumnType::Decimal)?, factor(per_unit)?)
            }
            _ => {
                return Err(ProgramError::BadParameters(format!(
                    "no value column {name:?}"
                )));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::overlap::tests::{flat, privacy};
    use sealroom_core::schema::{Column, Schema};
    use sealroom_tables::Cell;

    fn table(cols: &[Column], rows: Vec<Vec<Cell>>) -> Table {
        let mut table = Table::new(Schema {
            columns: cols.to_vec(),
            person_column: cols[0].name.clone(),
        });
        for row in rows {
            table.push_row(&row).unwrap();
        }
        table
    }

    fn text(s: &str) -> Cell<'_> {
        Cell::Text(s)
    }

    fn string(name: &str) -> Column {
        Column::new(name, ColumnType::String)
    }

    fn params() -> SumParams {
        SumParams {
            left: "a/x".into(),
            right: "b/y".into(),
            group_column: "g".into(),
            value_column: "amount".into(),
            units: 100,
            lower: Bound::Whole(0),
            upper: Bound::Decimal("50.00".into()),
            groups: Some(vec!["g1".into(), "g2".into(), "empty".into()]),
        }
    }

    fn left() -> Table {
        table(
            &[string("id"), string("g")],
            vec![
                vec![text("p1"), text("g1")],
                vec![text("p2"), text("g1")],
                vec![text("p2"), text("g2")],
            ],
        )
    }

    #[test]
    fn sums_clamped_fixed_point_values_per_group() {
        let right = table(
            &[string("id"), string("amount")],
            vec![
                vec![text("p1"), text("12.34")],
                vec![text("p2"), text("99.99")],
                vec![text("p9"), text("1")],
            ],
        );
        let mut terms = privacy(2);
        terms.max_rows_per_person = 2;
        let out = flat(run(&params(), &left(), &right, &terms).unwrap());
        // p2's 99.99 is clamped to 50.00 and counts in both of its groups.
        assert_eq!(
            out.cells,
            vec![
                ("g1".into(), 1234 + 5000),
                ("g2".into(), 5000),
                ("empty".into(), 0)
            ]
        );
        assert_eq!(out.units, 100);
        assert_eq!(out.l1_sensitivity, 2 * 5000);
        assert_eq!(out.per_group_sensitivity, 5000);
    }

    #[test]
    fn one_person_with_ten_thousand_rows_moves_the_sums_by_at_most_the_sensitivity() {
        let right_rows = |heavy: bool| {
            let mut rows = vec![vec![text("p1"), Cell::Number(10)]];
            if heavy {
                rows.extend((0..10_000).map(|i| vec![text("p2"), Cell::Number(i)]));
            }
            table(
                &[string("id"), Column::new("amount", ColumnType::Integer)],
                rows,
            )
        };
        let mut terms = privacy(2);
        terms.max_rows_per_person_per_group = 3;
        terms.max_rows_per_person = 4;
        let without = flat(run(&params(), &left(), &right_rows(false), &terms).unwrap());
        let with = flat(run(&params(), &left(), &right_rows(true), &terms).unwrap());
        let change: u64 = without
            .cells
            .iter()
            .zip(&with.cells)
            .map(|(a, b)| (a.1 - b.1).unsigned_abs())
            .sum();
        assert!(
            change > 0 && change <= with.l1_sensitivity,
            "change {change}, sensitivity {}",
            with.l1_sensitivity
        );
        assert_eq!(with.l1_sensitivity, 4 * 5000);
    }

    #[test]
    fn decimal_columns_are_read_exactly_in_the_clamp_units_and_empty_values_skipped() {
        let right = table(
            &[string("id"), Column::decimal("amount", 2).optional()],
            vec![
                vec![text("p1"), Cell::Number(1234)],
                vec![text("p1"), Cell::Empty],
                vec![text("p2"), Cell::Number(99_99)],
            ],
        );
        let mut terms = privacy(2);
        terms.max_rows_per_person = 2;
        let out = flat(run(&params(), &left(), &right, &terms).unwrap());
        assert_eq!(out.cells[0], ("g1".into(), 1234 + 5000));
        let datasets =
            [("a", "x", left()), ("b", "y", right)].map(|(owner, name, t)| DatasetTerms {
                owner: owner.into(),
                name: name.into(),
                schema: t.schema().clone(),
            });
        let json = |units: u64| {
            serde_json::json!({"left": "a/x", "right": "b/y", "group_column": "g",
                "value_column": "amount", "units": units, "lower": 0, "upper": 50})
        };
        assert!(SumParams::check(&json(100), &datasets).is_ok());
        let coarse = SumParams::check(&json(10), &datasets).unwrap_err();
        assert!(coarse.contains("multiple of 100"), "{coarse}");
    }

    #[test]
    fn bounds_that_make_no_sense_are_refused() {
        let swapped = SumParams {
            lower: Bound::Whole(10),
            upper: Bound::Whole(1),
            ..params()
        };
        assert!(swapped.clamp().unwrap_err().contains("above upper bound"));
        let zero_units = SumParams {
            units: 0,
            ..params()
        };
        assert!(zero_units.clamp().unwrap_err().contains("units"));
        let garbage = SumParams {
            upper: Bound::Decimal("1e3".into()),
            ..params()
        };
        assert!(garbage.clamp().unwrap_err().contains("not a decimal"));
    }
}
