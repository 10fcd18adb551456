//! People as dense numbers, and rows grouped by person: what every program that joins or
//! bounds by person needs, at tens of millions of rows.
//!
//! Person ids are hashed with `ahash` (randomly seeded, so a dishonest owner cannot choose ids
//! that collide) and rows are grouped with a counting sort on the dense numbers, which keeps
//! each person's rows in file order and touches memory in order.

use std::collections::HashMap;

use sealroom_tables::{PersonKey, Table, TableError};

/// Every person seen so far, numbered densely in order of first appearance.
#[derive(Default)]
pub struct People<'t> {
    ids: HashMap<PersonKey<'t>, u32, ahash::RandomState>,
}

impl<'t> People<'t> {
    /// The dense number of each row's person in `table`, numbering new people as they come.
    pub fn ids(&mut self, table: &'t Table) -> Result<Vec<u32>, TableError> {
        let persons = table.persons()?;
        self.ids.reserve(persons.len() / 2);
        Ok(persons
            .into_iter()
            .map(|p| {
                let next = self.ids.len() as u32;
                *self.ids.entry(p).or_insert(next)
            })
            .collect())
    }

    /// The dense number of `person`, if seen.
    pub fn get(&self, person: &PersonKey<'t>) -> Option<u32> {
        self.ids.get(person).copied()
    }

    /// How many people have been numbered.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether nobody has been numbered.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// Rows grouped by person: `rows[starts[p]..starts[p + 1]]` are person p's rows, in file order.
pub struct ByPerson {
    starts: Vec<usize>,
    rows: Vec<u32>,
}

impl ByPerson {
    /// Groups rows by their person's dense number (`ids[row]`, each below `people`).
    pub fn new(ids: &[u32], people: usize) -> Self {
        let mut starts = vec![0usize; people + 1];
        for &id in ids {
            starts[id as usize + 1] += 1;
        }
        for p in 0..people {
            starts[p + 1] += starts[p];
        }
        let mut next = starts.clone();
        let mut rows = vec![0u32; ids.len()];
        for (row, &id) in ids.iter().enumerate() {
            let at = &mut next[id as usize];
            rows[*at] = row as u32;
            *at += 1;
        }
        Self { starts, rows }
    }

    /// Person `person`'s rows (none for a person beyond those grouped).
    pub fn rows(&self, person: u32) -> &[u32] {
        let p = person as usize;
        match (self.starts.get(p), self.starts.get(p + 1)) {
            (Some(&start), Some(&end)) => &self.rows[start..end],
            _ => &[],
        }
    }

    /// Calls `f` with each person's rows, mutably (to sort them).
    pub fn for_each_mut(&mut self, mut f: impl FnMut(&mut [u32])) {
        for p in 0..self.starts.len().saturating_sub(1) {
            f(&mut self.rows[self.starts[p]..self.starts[p + 1]]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_grouped_by_person_in_file_order() {
        let ids = [2, 0, 2, 1, 0, 2];
        let mut grouped = ByPerson::new(&ids, 4);
        assert_eq!(grouped.rows(0), [1, 4]);
        assert_eq!(grouped.rows(1), [3]);
        assert_eq!(grouped.rows(2), [0, 2, 5]);
        assert!(grouped.rows(3).is_empty() && grouped.rows(9).is_empty());
        let mut sizes = Vec::new();
        grouped.for_each_mut(|rows| {
            rows.reverse();
            sizes.push(rows.len());
        });
        assert_eq!(sizes, [2, 1, 3, 0]);
        assert_eq!(grouped.rows(2), [5, 2, 0]);
    }
}
