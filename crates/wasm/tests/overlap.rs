//! `overlap` written as a Wasm program (`examples/overlap`) gives the built-in `overlap` v1's
//! counts, person for person: the same join, the same declared groups, the same cap on groups
//! per person, whether it runs once per person or, vetted, once over everyone. Its noise is set
//! negligible here so that the counts compare exactly.

#[path = "support/overlap.rs"]
mod support;

use sealroom_core::epsilon::Epsilon;
use sealroom_privacy::mechanism::{Mechanism, MechanismKind};
use sealroom_programs::overlap;
use sealroom_wasm::RoundNoise;
use support::{
    builtin, builtin_params, privacy, tables, vetted_guest, vetted_params, vetted_with, wasm,
    wasm_params,
};

#[test]
fn overlap_as_wasm_counts_what_the_builtin_counts() {
    for (people, seed, max_groups) in [(2_000, 1, 1), (2_000, 2, 2), (500, 3, 4)] {
        let (left, right) = tables(people, seed);
        let expected = builtin(&left, &right, max_groups);
        assert!(expected.iter().all(|&c| c > 0), "{expected:?}");
        assert_eq!(
            wasm(&left, &right, max_groups),
            expected,
            "{people} people, at most {max_groups} groups each"
        );
    }
}

#[test]
fn overlap_vetted_counts_what_the_builtin_counts() {
    for (people, seed, max_groups) in [(2_000, 1, 1), (2_000, 2, 2), (500, 3, 4)] {
        let (left, right) = tables(people, seed);
        let expected = builtin(&left, &right, max_groups);
        assert_eq!(
            vetted_with(&vetted_guest(max_groups), &left, &right, max_groups),
            expected,
            "{people} people, at most {max_groups} groups each"
        );
    }
}

#[test]
fn overlap_vetted_is_noised_at_the_stated_sensitivity() {
    let mut terms = privacy(2);
    terms.epsilon_per_run = Epsilon::from_f64(1.0).unwrap();
    let stated = RoundNoise::size(&vetted_params(2), &terms).unwrap();
    assert_eq!(stated, RoundNoise::size(&wasm_params(2), &terms).unwrap());
    assert_eq!(stated.l1_sensitivity, 2);
    let mut four = vetted_params(2);
    four.bound = 4.0;
    let wider = RoundNoise::size(&four, &terms).unwrap();
    assert_eq!(wider.l1_sensitivity, 4);
    assert!(wider.mechanism.variance() > stated.mechanism.variance());
}

#[test]
fn overlap_as_wasm_is_noised_on_the_builtins_scale() {
    let (left, right) = tables(100, 4);
    let mut terms = privacy(2);
    terms.epsilon_per_run = Epsilon::from_f64(1.0).unwrap();
    let result = overlap::run(&builtin_params(), &left, &right, &terms).unwrap();
    let noise = RoundNoise::size(&wasm_params(2), &terms).unwrap();
    let measure = &result.measures[0];
    assert_eq!(noise.l1_sensitivity, measure.l1_sensitivity);
    // The distribution the isolate draws the built-in's noise from, for the same terms.
    let builtins = Mechanism::size(
        MechanismKind::Laplace,
        terms.epsilon_per_run.as_fraction(),
        terms.delta_per_run,
        measure.l1_sensitivity,
        measure.l2_sensitivity,
    )
    .unwrap();
    assert_eq!(noise.mechanism, builtins);
}
