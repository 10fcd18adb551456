//! `overlap` v1: how many distinct people appear in both of two datasets, per group.
//!
//! People are matched on each dataset's person column. The group comes from
//! `group_column` of the `left` dataset; only the groups declared in the
//! agreement are counted, each always reported (zero if empty). One person
//! counts towards at most `max_groups_per_person` groups (the first ones in
//! declared order), and at most once per group, so adding or removing one
//! person changes the table by at most that many in total (L1 sensitivity).

use std::collections::{BTreeSet, HashMap, HashSet};

use sealroom_core::agreement::DatasetTerms;
use sealroom_core::schema::ColumnType;
use serde::Deserialize;

use crate::catalog::{Aggregate, ProgramError};
use crate::table::{Table, Value};

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
    /// The groups to report, in order.
    pub groups: Vec<String>,
}

impl OverlapParams {
    /// Reads and checks the parameters against the agreement's datasets.
    pub fn check(params: &serde_json::Value, datasets: &[DatasetTerms]) -> Result<Self, String> {
        let p: Self = serde_json::from_value(params.clone()).map_err(|e| e.to_string())?;
        let find = |name: &str, which: &str| {
            datasets
                .iter()
                .find(|d| d.qualified_name() == name)
                .ok_or_else(|| {
                    format!(
                        "{which} = {name:?} is not a dataset of this agreement (write owner/name)"
                    )
                })
        };
        let left = find(&p.left, "left")?;
        let right = find(&p.right, "right")?;
        if p.left == p.right {
            return Err("left and right must be different datasets".into());
        }
        let column = left.schema.column(&p.group_column).ok_or_else(|| {
            format!(
                "group_column {:?} is not a column of {}",
                p.group_column, p.left
            )
        })?;
        if column.kind != ColumnType::String {
            return Err(format!(
                "group_column {:?} must be a string column",
                p.group_column
            ));
        }
        let person_type =
            |d: &DatasetTerms| d.schema.column(&d.schema.person_column).map(|c| c.kind);
        if person_type(left) != person_type(right) {
            return Err(format!(
                "the person columns of {} and {} have different types",
                p.left, p.right
            ));
        }
        if p.groups.is_empty() {
            return Err("groups must declare at least one group".into());
        }
        let unique: BTreeSet<&String> = p.groups.iter().collect();
        if unique.len() != p.groups.len() {
            return Err("groups lists a group twice".into());
        }
        Ok(p)
    }
}

/// Runs `overlap` over the `left` and `right` tables.
pub fn run(
    params: &OverlapParams,
    left: &Table,
    right: &Table,
    max_groups_per_person: u32,
) -> Result<Aggregate, ProgramError> {
    let person_at = |t: &Table| {
        t.schema
            .index_of(&t.schema.person_column)
            .expect("validated schema")
    };
    let group_at = left
        .schema
        .index_of(&params.group_column)
        .expect("validated params");
    let (left_person, right_person) = (person_at(left), person_at(right));

    let in_right: HashSet<&Value> = right.rows.iter().map(|r| &r[right_person]).collect();
    let rank: HashMap<&str, usize> = params
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.as_str(), i))
        .collect();

    // For each matched person, the declared groups they appear in (as ranks, deduplicated).
    let mut groups_of: HashMap<&Value, BTreeSet<usize>> = HashMap::new();
    for row in &left.rows {
        let person = &row[left_person];
        if !in_right.contains(person) {
            continue;
        }
        if let Value::Text(group) = &row[group_at]
            && let Some(&r) = rank.get(group.as_str())
        {
            groups_of.entry(person).or_default().insert(r);
        }
    }

    let mut counts = vec![0i64; params.groups.len()];
    for ranks in groups_of.values() {
        for &r in ranks.iter().take(max_groups_per_person as usize) {
            counts[r] += 1;
        }
    }
    Ok(Aggregate {
        output: OUTPUT.into(),
        group_column: params.group_column.clone(),
        value_column: "people_in_both".into(),
        cells: params.groups.iter().cloned().zip(counts).collect(),
        sensitivity: u64::from(max_groups_per_person),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealroom_core::schema::{Column, Schema};

    fn table(cols: &[&str], rows: &[&[&str]]) -> Table {
        Table {
            schema: Schema {
                columns: cols
                    .iter()
                    .map(|c| Column {
                        name: c.to_string(),
                        kind: ColumnType::String,
                    })
                    .collect(),
                person_column: cols[0].into(),
            },
            rows: rows
                .iter()
                .map(|r| r.iter().map(|v| Value::Text(v.to_string())).collect())
                .collect(),
        }
    }

    fn params() -> OverlapParams {
        OverlapParams {
            left: "a/x".into(),
            right: "b/y".into(),
            group_column: "g".into(),
            groups: vec!["g1".into(), "g2".into(), "empty".into()],
        }
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
        let out = run(&params(), &left, &right, 2).unwrap();
        assert_eq!(
            out.cells,
            vec![("g1".into(), 2), ("g2".into(), 1), ("empty".into(), 0)]
        );
        assert_eq!(out.sensitivity, 2);
        let bounded = run(&params(), &left, &right, 1).unwrap();
        assert_eq!(
            bounded.cells,
            vec![("g1".into(), 2), ("g2".into(), 0), ("empty".into(), 0)]
        );
    }

    #[test]
    fn one_person_with_many_rows_moves_the_total_by_at_most_the_bound() {
        let mut rows: Vec<Vec<Value>> = Vec::new();
        for i in 0..10_000 {
            rows.push(vec![
                Value::Text("heavy".into()),
                Value::Text(if i % 2 == 0 { "g1" } else { "g2" }.into()),
            ]);
        }
        let mut left = table(&["id", "g"], &[&["p1", "g1"]]);
        let right = table(&["id"], &[&["p1"], &["heavy"]]);
        let before = run(&params(), &left, &right, 1).unwrap();
        left.rows.extend(rows);
        let after = run(&params(), &left, &right, 1).unwrap();
        let change: i64 = before
            .cells
            .iter()
            .zip(&after.cells)
            .map(|(a, b)| (a.1 - b.1).abs())
            .sum();
        assert!(change <= 1, "change {change}");
    }
}
