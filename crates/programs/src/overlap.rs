//! `overlap` v1: how many distinct people appear in both of two datasets, per group.
//!
//! People are matched on each dataset's person column. The group comes from
//! `group_column` of the `left` dataset. With `groups` declared, exactly those
//! are reported, each always (noised even if empty); without, the groups are
//! found in the data and released only through the noisy threshold. One person
//! counts once per group and towards at most `max_groups_per_person` groups
//! (the first in declared order, or by name), so adding or removing one person
//! changes the table by at most that many in total.

use std::collections::BTreeMap;

use sealroom_core::agreement::{DatasetTerms, PrivacyTerms};
use sealroom_privacy::bounding::{ContributionBounds, bound_rows};
use serde::Deserialize;

use crate::catalog::ProgramError;
use crate::matching::{Groups, check_pair, match_people, split_cells};
use crate::program::{Params, Plan, Program, ProgramInfo, checked_inputs};
use crate::result::{Measure, ProgramResult};
use sealroom_tables::Table;

/// Program id.
pub const ID: &str = "overlap";
/// Program version.
pub const VERSION: u32 = 1;
/// The one output it produces.
pub const OUTPUT: &str = "overlap";

/// Parameters of `overlap`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverlapParams {
    /// `owner/dataset` holding the group column.
    pub left: String,
    /// `owner/dataset` to match against.
    pub right: String,
    /// A string column of `left`.
    pub group_column: String,
    /// The groups to report, in order; absent to discover them through the noisy threshold.
    #[serde(default)]
    pub groups: Option<Vec<String>>,
}

impl Params for OverlapParams {
    fn inputs(&self) -> Vec<String> {
        vec![self.left.clone(), self.right.clone()]
    }

    fn check(params: &serde_json::Value, datasets: &[DatasetTerms]) -> Result<Self, String> {
        let p: Self = serde_json::from_value(params.clone()).map_err(|e| e.to_string())?;
        check_pair(datasets, &p.left, &p.right, &p.group_column)?;
        Groups::from_param(p.groups.as_ref())?;
        Ok(p)
    }
}

/// The `overlap` program.
#[derive(Debug, Clone, Copy)]
pub struct Overlap;

impl Program for Overlap {
    fn info(&self) -> ProgramInfo {
        ProgramInfo {
            id: ID,
            version: VERSION,
            summary: "distinct people present in both datasets, per group of the left dataset",
            params: "left = \"owner/dataset\", right = \"owner/dataset\", group_column = \"column of left\", groups = [\"...\"] (leave out to discover groups through the noisy threshold)",
        }
    }

    fn plan(&self, params: &serde_json::Value, datasets: &[DatasetTerms]) -> Result<Plan, String> {
        Plan::of::<OverlapParams>(params, datasets, OUTPUT)
    }

    fn run(
        &self,
        params: &serde_json::Value,
        datasets: &[DatasetTerms],
        inputs: &[&Table],
        privacy: &PrivacyTerms,
    ) -> Result<ProgramResult, ProgramError> {
        let (params, [left, right]) = checked_inputs::<OverlapParams, 2>(params, datasets, inputs)?;
        run(&params, left, right, privacy)
    }
}

/// Runs `overlap` over the `left` and `right` tables.
pub fn run(
    params: &OverlapParams,
    left: &Table,
    right: &Table,
    privacy: &PrivacyTerms,
) -> Result<ProgramResult, ProgramError> {
    let groups = Groups::from_param(params.groups.as_ref()).map_err(ProgramError::BadParameters)?;
    let matched = match_people(left, right, &params.group_column, &groups)?;
    // Each (person, group) pair once; at most max_groups_per_person groups per person.
    let g = privacy.max_groups_per_person;
    let bounds = ContributionBounds {
        rows_per_group: 1,
        rows_total: g,
        groups: g,
    };
    let pairs: Vec<(usize, &str)> = matched
        .iter()
        .enumerate()
        .flat_map(|(i, m)| m.groups.iter().map(move |group| (i, *group)))
        .collect();
    let mut totals: BTreeMap<String, i64> = BTreeMap::new();
    for kept in bound_rows(pairs.iter().copied(), bounds) {
        *totals.entry(pairs[kept].1.to_string()).or_default() += 1;
    }
    let measure = Measure {
        name: "people_in_both".into(),
        units: 1,
        l1_sensitivity: bounds.l1_sensitivity(1),
        l2_sensitivity: bounds.l2_sensitivity(1),
        per_cell_sensitivity: 1,
    };
    Ok(ProgramResult::single(
        OUTPUT,
        &params.group_column,
        measure,
        split_cells(&groups, totals),
        groups == Groups::Discovered,
        g,
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use sealroom_core::agreement::NoiseMechanism;
    use sealroom_core::schema::{Column, ColumnType, Schema};
    use sealroom_tables::Cell;

    /// A single-measure result flattened for assertions.
    pub(crate) struct Flat {
        pub cells: crate::result::Cells,
        pub discovered: crate::result::Cells,
        pub l1_sensitivity: u64,
        pub l2_sensitivity: u64,
        pub per_group_sensitivity: u64,
        pub units: u64,
    }

    pub(crate) fn flat(result: ProgramResult) -> Flat {
        let (cells, discovered) = result.cells();
        let m = &result.measures[0];
        Flat {
            cells,
            discovered,
            l1_sensitivity: m.l1_sensitivity,
            l2_sensitivity: m.l2_sensitivity,
            per_group_sensitivity: m.per_cell_sensitivity,
            units: m.units,
        }
    }

    pub(crate) fn privacy(groups: u32) -> PrivacyTerms {
        PrivacyTerms {
            epsilon_per_run: sealroom_core::Epsilon::from_f64(1.0).unwrap(),
            delta_per_run: 1e-9,
            total_epsilon_per_dataset: sealroom_core::Epsilon::from_f64(5.0).unwrap(),
            max_groups_per_person: groups,
            max_rows_per_person_per_group: 1,
            max_rows_per_person: groups,
            min_aggregation: 0,
            noise: NoiseMechanism::DiscreteLaplace,
        }
    }

    pub(crate) fn table(cols: &[&str], rows: &[&[&str]]) -> Table {
        let mut table = Table::new(Schema {
            columns: cols
                .iter()
                .map(|c| Column::new(*c, ColumnType::String))
                .collect(),
            person_column: cols[0].into(),
        });
        for row in rows {
            let cells: Vec<Cell> = row.iter().map(|v| Cell::Text(v)).collect();
            table.push_row(&cells).unwrap();
        }
        table
    }

    fn params() -> OverlapParams {
        OverlapParams {
            left: "a/x".into(),
            right: "b/y".into(),
            group_column: "g".into(),
            groups: Some(vec!["g1".into(), "g2".into(), "empty".into()]),
        }
    }

    #[test]
    fn a_run_given_too_few_tables_names_the_missing_input() {
        let left = table(&["id", "g"], &[&["p1", "g1"]]);
        let right = table(&["id"], &[&["p1"]]);
        let datasets =
            [("a", "x", &left), ("b", "y", &right)].map(|(owner, name, t)| DatasetTerms {
                owner: owner.into(),
                name: name.into(),
                schema: t.schema().clone(),
            });
        let params = serde_json::json!({
            "left": "a/x", "right": "b/y", "group_column": "g", "groups": ["g1"]
        });
        let missing = Overlap.run(&params, &datasets, &[&left], &privacy(1));
        assert!(
            matches!(&missing, Err(ProgramError::MissingInput(name)) if name == "b/y"),
            "{missing:?}"
        );
        let ran = Overlap
            .run(&params, &datasets, &[&left, &right], &privacy(1))
            .unwrap();
        assert_eq!(flat(ran).cells[0], ("g1".into(), 1));
        let plan = Overlap.plan(&params, &datasets).unwrap();
        assert_eq!(plan.inputs, ["a/x", "b/y"]);
        assert_eq!(plan.outputs, [OUTPUT]);
    }

    #[test]
    fn counts_distinct_people_in_both_per_group() {
        let left = table(
            &["id", "g"],
            &[
                &["p1", "g1"],
                &["p1", "g1"],
                &["p2", "g1"],
                &["p2", "g2"],
                &["p3", "g2"],
                &["p4", "other"],
            ],
        );
        let right = table(&["id"], &[&["p1"], &["p2"], &["p4"], &["p9"]]);
        let out = flat(run(&params(), &left, &right, &privacy(2)).unwrap());
        assert_eq!(
            out.cells,
            vec![("g1".into(), 2), ("g2".into(), 1), ("empty".into(), 0)]
        );
        assert_eq!((out.l1_sensitivity, out.l2_sensitivity), (2, 2));
        assert!(out.discovered.is_empty());
        let bounded = flat(run(&params(), &left, &right, &privacy(1)).unwrap());
        assert_eq!(
            bounded.cells,
            vec![("g1".into(), 2), ("g2".into(), 0), ("empty".into(), 0)]
        );
    }

    #[test]
    fn one_person_with_many_rows_moves_the_total_by_at_most_the_bound() {
        let mut left = table(&["id", "g"], &[&["p1", "g1"]]);
        let right = table(&["id"], &[&["p1"], &["heavy"]]);
        let before = flat(run(&params(), &left, &right, &privacy(1)).unwrap());
        for i in 0..10_000 {
            let group = if i % 2 == 0 { "g1" } else { "g2" };
            left.push_row(&[Cell::Text("heavy"), Cell::Text(group)])
                .unwrap();
        }
        let after = flat(run(&params(), &left, &right, &privacy(1)).unwrap());
        let change: i64 = before
            .cells
            .iter()
            .zip(&after.cells)
            .map(|(a, b)| (a.1 - b.1).abs())
            .sum();
        assert!(change <= 1, "change {change}");
    }

    #[test]
    fn without_declared_groups_every_group_is_discovered() {
        let left = table(
            &["id", "g"],
            &[
                &["p1", "zeta"],
                &["p1", "alpha"],
                &["p2", "alpha"],
                &["p3", "rare"],
            ],
        );
        let right = table(&["id"], &[&["p1"], &["p2"]]);
        let discover = OverlapParams {
            groups: None,
            ..params()
        };
        let out = flat(run(&discover, &left, &right, &privacy(1)).unwrap());
        assert!(out.cells.is_empty());
        // p1 counts towards its first group by name only.
        assert_eq!(out.discovered, vec![("alpha".into(), 2)]);
        let out = flat(run(&discover, &left, &right, &privacy(2)).unwrap());
        assert_eq!(
            out.discovered,
            vec![("alpha".into(), 2), ("zeta".into(), 1)]
        );
    }
}
