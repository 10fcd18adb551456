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
//!
//! The same module runs in the vetted mode too: `analyze` adds up every person's contribution
//! in one call over the joined tables, and the agreement states the answer's L1 sensitivity,
//! `max_groups_per_person`.
#![forbid(unsafe_code)]

use sealroom_guest::{Cell, Joined, PerPerson, Person, Rows, Vetted};

/// The text of a group cell (an empty value is the empty group name).
fn group_name<'a>(cell: Option<&Cell<'a>>) -> Option<&'a str> {
    match cell? {
        Cell::Text(text) => Some(text),
        Cell::Empty => Some(""),
        _ => None,
    }
}

struct Overlap;

/// Adds one person's contribution to `counts`: 1 for each of the first `most` declared groups
/// (in declared order) among the person's left rows, when the person also has a right row.
fn add_person(datasets: &[Rows<'_>], groups: &[&str], params: &[f64], counts: &mut [f64]) {
    let (Some(left), Some(right)) = (datasets.first(), datasets.get(1)) else {
        return;
    };
    if left.is_empty() || right.is_empty() {
        return;
    }
    let column = params.first().copied().unwrap_or(0.0) as usize;
    let most = params.get(1).copied().unwrap_or(1.0) as usize;
    let mut counted = 0;
    for (count, group) in counts.iter_mut().zip(groups) {
        if counted == most {
            break;
        }
        if left
            .iter()
            .any(|row| group_name(row.get(column)) == Some(*group))
        {
            *count += 1.0;
            counted += 1;
        }
    }
}

impl PerPerson for Overlap {
    fn contribute(person: &Person<'_>) -> Vec<f64> {
        let mut counts = vec![0.0; person.groups.len()];
        add_person(&person.datasets, &person.groups, &person.params, &mut counts);
        counts
    }
}

impl Vetted for Overlap {
    fn analyze(joined: &Joined<'_>) -> Vec<f64> {
        let mut counts = vec![0.0; joined.groups.len()];
        for person in joined.people() {
            let datasets = person.expect("the isolate sends valid input");
            add_person(&datasets, &joined.groups, &joined.params, &mut counts);
        }
        counts
    }
}

sealroom_guest::per_person_program!(Overlap);
sealroom_guest::vetted_entry_point!(Overlap);
