//! What the two-dataset programs share: matching people across datasets, the
//! groups each matched person belongs to, and splitting results into declared
//! and discovered groups.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sealroom_core::agreement::DatasetTerms;
use sealroom_core::schema::ColumnType;

use sealroom_tables::{PersonKey, Table, TableError};

use crate::result::Cells;

/// The groups a program reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Groups {
    /// Declared in the agreement: always released (noised, even when empty), in this order.
    Declared(Vec<String>),
    /// Found in the data: released only through the noisy threshold, in name order.
    Discovered,
}

impl Groups {
    /// From an optional `groups` parameter, refusing an empty or repeating list.
    pub fn from_param(groups: Option<&Vec<String>>) -> Result<Self, String> {
        let Some(list) = groups else {
            return Ok(Groups::Discovered);
        };
        if list.is_empty() {
            return Err("groups must declare at least one group (or be left out to discover groups through the noisy threshold)".into());
        }
        let unique: BTreeSet<&String> = list.iter().collect();
        if unique.len() != list.len() {
            return Err("groups lists a group twice".into());
        }
        Ok(Groups::Declared(list.clone()))
    }
}

/// Checks the `left`, `right` and `group_column` parameters shared by the two-dataset programs.
pub fn check_pair<'a>(
    datasets: &'a [DatasetTerms],
    left: &str,
    right: &str,
    group_column: &str,
) -> Result<(&'a DatasetTerms, &'a DatasetTerms), String> {
    let find = |name: &str, which: &str| {
        datasets
            .iter()
            .find(|d| d.qualified_name() == name)
            .ok_or_else(|| {
                format!("{which} = {name:?} is not a dataset of this agreement (write owner/name)")
            })
    };
    let l = find(left, "left")?;
    let r = find(right, "right")?;
    if left == right {
        return Err("left and right must be different datasets".into());
    }
    let column = l
        .schema
        .column(group_column)
        .ok_or_else(|| format!("group_column {group_column:?} is not a column of {left}"))?;
    if column.kind != ColumnType::String {
        return Err(format!(
            "group_column {group_column:?} must be a string column"
        ));
    }
    let person_type = |d: &DatasetTerms| d.schema.column(&d.schema.person_column).map(|c| c.kind);
    if person_type(l) != person_type(r) {
        return Err(format!(
            "the person columns of {left} and {right} have different types"
        ));
    }
    Ok((l, r))
}

/// A person present in both datasets, with the groups they appear in on the left
/// (declared order, or by name when discovering) and their rows on the right.
pub struct Matched<'t> {
    /// The person's id.
    pub person: PersonKey<'t>,
    /// Their groups, deduplicated and ordered.
    pub groups: Vec<&'t str>,
    /// Their rows in the right dataset (0-based), in input order.
    pub right_rows: Vec<usize>,
}

/// Every person of `left` also in `right`, in order of first appearance on the left.
pub fn match_people<'t>(
    left: &'t Table,
    right: &'t Table,
    group_column: &str,
    groups: &Groups,
) -> Result<Vec<Matched<'t>>, TableError> {
    let group_of = left.text(group_column)?;
    let mut right_rows: HashMap<PersonKey<'t>, Vec<usize>> = HashMap::new();
    for (row, person) in right.persons()?.into_iter().enumerate() {
        right_rows.entry(person).or_default().push(row);
    }
    let rank: HashMap<&str, usize> = match groups {
        Groups::Declared(list) => list
            .iter()
            .enumerate()
            .map(|(i, g)| (g.as_str(), i))
            .collect(),
        Groups::Discovered => HashMap::new(),
    };
    let mut order: Vec<PersonKey<'t>> = Vec::new();
    let mut groups_of: HashMap<PersonKey<'t>, BTreeSet<(usize, &'t str)>> = HashMap::new();
    for (row, person) in left.persons()?.into_iter().enumerate() {
        if !right_rows.contains_key(&person) {
            continue;
        }
        let group = group_of.get(row);
        let key = match groups {
            Groups::Declared(_) => match rank.get(group) {
                Some(&r) => (r, group),
                None => continue,
            },
            Groups::Discovered => (0, group),
        };
        let entry = groups_of.entry(person).or_insert_with(|| {
            order.push(person);
            BTreeSet::new()
        });
        entry.insert(key);
    }
    Ok(order
        .into_iter()
        .map(|person| Matched {
            person,
            groups: groups_of[&person].iter().map(|(_, g)| *g).collect(),
            right_rows: right_rows.remove(&person).unwrap_or_default(),
        })
        .collect())
}

/// Splits per-group totals into the declared cells (every declared group, zero when absent)
/// and the discovered ones (by name).
pub fn split_cells(groups: &Groups, mut totals: BTreeMap<String, i64>) -> (Cells, Cells) {
    match groups {
        Groups::Declared(list) => (
            list.iter()
                .map(|g| (g.clone(), totals.remove(g).unwrap_or(0)))
                .collect(),
            Vec::new(),
        ),
        Groups::Discovered => (Vec::new(), totals.into_iter().collect()),
    }
}
