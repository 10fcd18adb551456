//! Pooled logistic regression by differentially private gradient descent.
//!
//! Inputs: the ad platform's features (person, then one exposure count per campaign category)
//! and the advertiser's labels (person, purchased). Each round, each person present in both
//! contributes their gradient of the log loss at the current coefficients, and a 1 to count
//! themselves; the platform clips that vector to the agreement's L2 bound, sums it over people
//! and adds Gaussian noise, and `update` takes one gradient step with the noised mean.
//!
//! Public parameters: `[learning_rate, feature_scale, features]`; features are divided by
//! `feature_scale`, and `features` is their number. Contribution: `[gradient for the
//! intercept, one per feature…, 1]`.
//! State: the coefficients `[intercept, one per feature…]`.
#![forbid(unsafe_code)]

use sealroom_guest::{Cell, PerPerson, Person};

/// The features in the platform's first row for this person: its number columns in schema
/// order (an empty value counts as 0), skipping text (the person column is text).
fn features(person: &Person<'_>, scale: f64) -> Option<Vec<f64>> {
    let row = person.datasets[0].row(0)?;
    Some(
        row.iter()
            .filter_map(|cell| match cell {
                Cell::Number(n) => Some(*n as f64 / scale),
                Cell::Empty => Some(0.0),
                _ => None,
            })
            .collect(),
    )
}

/// Whether the advertiser's table says this person purchased.
fn label(person: &Person<'_>) -> Option<f64> {
    let row = person.datasets[1].row(0)?;
    row.iter().find_map(|cell| match cell {
        Cell::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    })
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

struct LogisticRegression;

impl PerPerson for LogisticRegression {
    fn init(params: &[f64]) -> Vec<f64> {
        // The number of features is public: params[2].
        vec![0.0; 1 + params.get(2).copied().unwrap_or(0.0) as usize]
    }

    fn contribute(person: &Person<'_>) -> Vec<f64> {
        let width = person.state.len() + 1;
        let scale = person.params.get(1).copied().unwrap_or(1.0);
        let (Some(x), Some(y)) = (features(person, scale), label(person)) else {
            return vec![0.0; width];
        };
        let w = &person.state;
        let z = w[0] + w[1..].iter().zip(&x).map(|(w, x)| w * x).sum::<f64>();
        let error = sigmoid(z) - y;
        let mut out = Vec::with_capacity(width);
        out.push(error);
        out.extend(x.iter().take(w.len() - 1).map(|x| error * x));
        out.resize(width - 1, 0.0);
        out.push(1.0);
        out
    }

    fn update(_round: u32, params: &[f64], state: &[f64], sums: &[f64]) -> Vec<f64> {
        let rate = params.first().copied().unwrap_or(1.0);
        let count = sums.last().copied().unwrap_or(0.0).max(1.0);
        state
            .iter()
            .zip(sums)
            .map(|(w, g)| w - rate * g / count)
            .collect()
    }
}

sealroom_guest::per_person_program!(LogisticRegression);
