//! `overlap` as a Wasm program: how many distinct people appear in both of two datasets, per
//! declared group of the first, with the built-in `overlap` v1's semantics for declared groups.
//! It exists to measure what running a program as Wasm costs against the built-in.
//!
//! Inputs: the `left` dataset (with the group column) and the `right` one, in that order.
//! Public parameters: `[group_column, max_groups_per_person]`: the group column's position in
//! the left dataset's schema (from 0), and how many groups one person counts towards at most.
//! Contribution: one coordinate per declared group, 1 for each group among the person's left
//! rows (the first `max_groups_per_person` in declared order) when the person also has a row in
//! the right dataset, else 0. Under an L1 bound of `max_groups_per_person` the platform's
//! clamping never binds, and the noised sums are the built-in's counts with the same noise.
#![forbid(unsafe_code)]

use sealroom_guest::{Cell, PerPerson, Person};

/// The text of a group cell (an empty value is the empty group name).
fn group_name<'a>(cell: Option<&Cell<'a>>) -> Option<&'a str> {
    match cell? {
        Cell::Text(text) => Some(text),
        Cell::Empty => Some(""),
        _ => None,
    }
}

struct Overlap;

impl PerPerson for Overlap {
    fn contribute(person: &Person<'_>) -> Vec<f64> {
        let mut counts = vec![0.0; person.groups.len()];
        let (Some(left), Some(right)) = (person.datasets.first(), person.datasets.get(1)) else {
            return counts;
        };
        if left.is_empty() || right.is_empty() {
            return counts;
        }
        let column = person.params.first().copied().unwrap_or(0.0) as usize;
        let most = person.params.get(1).copied().unwrap_or(1.0) as usize;
        let mut counted = 0;
        for (count, group) in counts.iter_mut().zip(&person.groups) {
            if counted == most {
                break;
            }
            if left
                .iter()
                .any(|row| group_name(row.get(column)) == Some(*group))
            {
                *count = 1.0;
                counted += 1;
            }
        }
        counts
    }
}

sealroom_guest::per_person_program!(Overlap);
