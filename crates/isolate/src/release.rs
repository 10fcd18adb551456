//! Turning exact aggregates into released, sealed tables.

use rand_core::Rng;
use sealroom_core::agreement::{Agreement, NoiseMechanism, PrivacyTerms};
use sealroom_core::ids::JobId;
use sealroom_core::labels;
use sealroom_core::output::{
    NoiseAnnotation, RELEASED_TABLE_FORMAT, ReleasedRow, ReleasedTable, SEALED_OUTPUT_FORMAT,
    SealedOutput,
};
use sealroom_crypto::seal_to;
use sealroom_privacy::{Mechanism, MechanismKind};
use std::collections::HashMap;

use sealroom_programs::{Aggregate, BuiltinCatalog, Table};

use crate::error::IsolateError;

/// The noise one aggregate gets, decided from the agreement and the program's parameters only.
#[derive(Debug, Clone, PartialEq)]
pub struct NoisePlan {
    /// The sized mechanism; `None` when the agreement waived noise.
    pub mechanism: Option<Mechanism>,
    /// δ the Gaussian uses.
    pub delta_mechanism: f64,
    /// δ the threshold for discovered groups uses.
    pub delta_threshold: f64,
    /// τ for discovered groups, when the program discovers groups.
    pub threshold: Option<u64>,
}

/// Sizes the noise for `aggregate` under the agreement's `privacy` terms. Nothing here depends on
/// the data, so an
/// isolate can call it on an empty run before it asks for any key.
pub fn plan_noise(
    aggregate: &Aggregate,
    privacy: &PrivacyTerms,
) -> Result<NoisePlan, IsolateError> {
    let discovering = aggregate.discovers_groups;
    let kind = match privacy.noise {
        NoiseMechanism::DiscreteLaplace => Some(MechanismKind::Laplace),
        NoiseMechanism::DiscreteGaussian => Some(MechanismKind::Gaussian),
        NoiseMechanism::None => None,
    };
    let delta = privacy.delta_per_run;
    let (delta_mechanism, delta_threshold) = match (kind, discovering) {
        (Some(MechanismKind::Gaussian), true) => (delta / 2.0, delta / 2.0),
        (Some(MechanismKind::Gaussian), false) => (delta, 0.0),
        (_, true) => (0.0, delta),
        (_, false) => (0.0, 0.0),
    };
    let mechanism = kind
        .map(|kind| {
            Mechanism::size(
                kind,
                privacy.epsilon_per_run.as_fraction(),
                delta_mechanism,
                aggregate.l1_sensitivity,
                aggregate.l2_sensitivity,
            )
        })
        .transpose()?;
    let threshold = discovering.then(|| match &mechanism {
        Some(m) => m.threshold(
            aggregate.per_group_sensitivity,
            aggregate.groups_per_person,
            delta_threshold,
            privacy.min_aggregation,
        ),
        None => privacy.min_aggregation,
    });
    Ok(NoisePlan {
        mechanism,
        delta_mechanism,
        delta_threshold,
        threshold,
    })
}

/// Sizes the noise of everything the agreement's program would release, by running it over
/// empty tables (sizing never depends on the data). An isolate does this before asking for any
/// key; `sealroom agreement check` does it at authoring time.
pub fn plan_agreement_noise(agreement: &Agreement) -> Result<Vec<NoisePlan>, IsolateError> {
    let empty: HashMap<String, Table> = agreement
        .datasets
        .iter()
        .map(|d| (d.qualified_name(), Table::new(d.schema.clone())))
        .collect();
    BuiltinCatalog
        .run(agreement, &|name| empty.get(name))?
        .iter()
        .map(|aggregate| plan_noise(aggregate, &agreement.privacy))
        .collect()
}

/// Adds the agreement's noise to every cell and annotates the table with how it was protected.
///
/// Declared groups are always released. Discovered groups are released only when their noisy
/// value reaches the threshold τ (δ of the run split evenly with the Gaussian, if both need it).
pub fn add_noise(
    aggregate: &Aggregate,
    privacy: &PrivacyTerms,
    simulator: bool,
    rng: &mut impl Rng,
) -> Result<ReleasedTable, IsolateError> {
    let epsilon = privacy.epsilon_per_run;
    let NoisePlan {
        mechanism,
        delta_mechanism,
        delta_threshold,
        threshold,
    } = plan_noise(aggregate, privacy)?;
    let noisy = |value: i64, rng: &mut _| match &mechanism {
        Some(m) => value.saturating_add(m.sample(rng)),
        None => value,
    };
    let mut rows: Vec<ReleasedRow> = aggregate
        .cells
        .iter()
        .map(|(group, value)| ReleasedRow {
            group: group.clone(),
            value: noisy(*value, rng),
        })
        .collect();
    for (group, value) in &aggregate.discovered {
        let value = noisy(*value, rng);
        if threshold.is_some_and(|tau| value >= tau as i64) {
            rows.push(ReleasedRow {
                group: group.clone(),
                value,
            });
        }
    }
    let noise = match &mechanism {
        Some(m) => NoiseAnnotation {
            mechanism: m.name().into(),
            scale: m.parameter(),
            epsilon,
            delta: delta_mechanism + delta_threshold,
            rho: m.rho(),
            sensitivity: aggregate.l1_sensitivity,
            l2_sensitivity: aggregate.l2_sensitivity,
            error_bound_95: m.error_bound(0.95),
            units: aggregate.units,
            threshold,
        },
        None => NoiseAnnotation {
            mechanism: "none".into(),
            scale: "0/1".into(),
            epsilon,
            delta: 0.0,
            rho: None,
            sensitivity: aggregate.l1_sensitivity,
            l2_sensitivity: aggregate.l2_sensitivity,
            error_bound_95: 0,
            units: aggregate.units,
            threshold,
        },
    };
    Ok(ReleasedTable {
        format: RELEASED_TABLE_FORMAT.into(),
        output: aggregate.output.clone(),
        group_column: aggregate.group_column.clone(),
        value_column: aggregate.value_column.clone(),
        rows,
        noise,
        simulator,
    })
}

/// Seals a released table to each reader the agreement names for it.
pub fn seal_for_readers(
    table: &ReleasedTable,
    agreement: &Agreement,
    job_id: JobId,
) -> Result<Vec<SealedOutput>, IsolateError> {
    let terms = agreement
        .outputs
        .iter()
        .find(|o| o.name == table.output)
        .ok_or_else(|| {
            IsolateError::Program(sealroom_programs::ProgramError::BadParameters(format!(
                "the program produced output {:?}, which the agreement does not name",
                table.output
            )))
        })?;
    let plaintext =
        sealroom_core::canonical_json(table).map_err(|source| IsolateError::Encoding {
            what: "a released table",
            source,
        })?;
    terms
        .readers
        .iter()
        .map(|reader| {
            let card = agreement.party(reader).ok_or_else(|| {
                IsolateError::InvalidAgreement(sealroom_core::AgreementError::UnknownParty {
                    party: reader.clone(),
                    context: format!("output {:?}", table.output),
                })
            })?;
            let fingerprint = card
                .fingerprint()
                .map_err(|source| IsolateError::Encoding {
                    what: "a reader's card",
                    source,
                })?;
            let aad = SealedOutput::aad(&job_id, &table.output, &fingerprint);
            let sealed =
                seal_to(&card.hpke_key, labels::OUTPUT, &aad, &plaintext).map_err(|source| {
                    IsolateError::Seal {
                        reader: reader.clone(),
                        source,
                    }
                })?;
            Ok(SealedOutput {
                format: SEALED_OUTPUT_FORMAT.into(),
                job_id,
                output: table.output.clone(),
                reader: reader.clone(),
                reader_fingerprint: fingerprint,
                sealed,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use sealroom_core::epsilon::Epsilon;
    use sealroom_privacy::NoiseRng;

    use super::*;

    fn privacy(noise: NoiseMechanism) -> PrivacyTerms {
        PrivacyTerms {
            epsilon_per_run: Epsilon::from_f64(0.5).unwrap(),
            delta_per_run: 1e-9,
            total_epsilon_per_dataset: Epsilon::from_f64(1.0).unwrap(),
            max_groups_per_person: 2,
            max_rows_per_person_per_group: 1,
            max_rows_per_person: 2,
            min_aggregation: 0,
            noise,
        }
    }

    fn aggregate() -> Aggregate {
        Aggregate {
            output: "overlap".into(),
            group_column: "g".into(),
            value_column: "v".into(),
            cells: (0..50).map(|i| (format!("g{i}"), 1000)).collect(),
            discovered: vec![],
            discovers_groups: false,
            l1_sensitivity: 2,
            l2_sensitivity: 2,
            per_group_sensitivity: 1,
            groups_per_person: 2,
            units: 1,
        }
    }

    #[test]
    fn laplace_noise_is_annotated_with_its_exact_scale_and_changes_values() {
        let table = add_noise(
            &aggregate(),
            &privacy(NoiseMechanism::DiscreteLaplace),
            true,
            &mut NoiseRng::from_test_seed(3),
        )
        .unwrap();
        assert_eq!(table.noise.mechanism, "discrete-laplace");
        assert_eq!(table.noise.scale, "4/1");
        assert_eq!(table.noise.sensitivity, 2);
        assert!(table.simulator);
        assert!(
            table.rows.iter().any(|r| r.value != 1000),
            "50 noisy cells are not all exact"
        );
        assert!(table.rows.iter().all(|r| (r.value - 1000).abs() <= 100));
    }

    #[test]
    fn waived_noise_is_exact_and_says_so() {
        let table = add_noise(
            &aggregate(),
            &privacy(NoiseMechanism::None),
            false,
            &mut NoiseRng::from_test_seed(3),
        )
        .unwrap();
        assert_eq!(table.noise.mechanism, "none");
        assert_eq!(table.noise.error_bound_95, 0);
        assert!(table.rows.iter().all(|r| r.value == 1000));
    }

    #[test]
    fn gaussian_noise_states_sigma2_rho_and_delta() {
        let table = add_noise(
            &aggregate(),
            &privacy(NoiseMechanism::DiscreteGaussian),
            false,
            &mut NoiseRng::from_test_seed(4),
        )
        .unwrap();
        assert_eq!(table.noise.mechanism, "discrete-gaussian");
        assert!(
            table.noise.scale.ends_with("/1000"),
            "{}",
            table.noise.scale
        );
        assert_eq!(table.noise.delta, 1e-9);
        assert!(table.noise.rho.unwrap() > 0.0);
        assert!(table.rows.iter().any(|r| r.value != 1000));
    }

    #[test]
    fn declared_empty_groups_are_released_noised_and_rare_discovered_groups_are_suppressed() {
        let mut agg = aggregate();
        agg.cells = vec![("declared-but-empty".into(), 0)];
        agg.discovered = vec![("big".into(), 5_000), ("rare".into(), 1)];
        agg.discovers_groups = true;
        let privacy = privacy(NoiseMechanism::DiscreteLaplace);
        let mut rng = NoiseRng::from_test_seed(5);
        let mut empty_values = Vec::new();
        for _ in 0..200 {
            let table = add_noise(&agg, &privacy, false, &mut rng).unwrap();
            let groups: Vec<&str> = table.rows.iter().map(|r| r.group.as_str()).collect();
            assert_eq!(
                groups[0], "declared-but-empty",
                "a declared group is always released"
            );
            assert!(groups.contains(&"big"), "a large discovered group clears τ");
            assert!(
                !groups.contains(&"rare"),
                "a one-person group must not appear"
            );
            assert!(table.noise.threshold.unwrap() > 1);
            assert_eq!(table.noise.delta, 1e-9);
            empty_values.push(table.rows[0].value);
        }
        assert!(
            empty_values.iter().any(|&v| v != 0),
            "the empty group is noised"
        );
    }

    #[test]
    fn a_rare_group_appears_only_when_it_clears_the_noisy_threshold() {
        let mut agg = aggregate();
        agg.cells = vec![];
        agg.discovers_groups = true;
        let privacy = privacy(NoiseMechanism::DiscreteLaplace);
        let tau = Mechanism::size(MechanismKind::Laplace, (1, 2), 0.0, 2, 2)
            .unwrap()
            .threshold(1, 2, 1e-9, 0) as i64;
        let mut rng = NoiseRng::from_test_seed(6);
        let (mut released, mut runs) = (0, 0);
        // At exactly τ the noisy value clears it about half the time; far below, never.
        for (value, expect_some) in [(tau, true), (tau - 60, false)] {
            agg.discovered = vec![("edge".into(), value)];
            let mut seen = 0;
            for _ in 0..400 {
                let table = add_noise(&agg, &privacy, false, &mut rng).unwrap();
                assert_eq!(table.noise.threshold, Some(tau as u64));
                if let Some(row) = table.rows.first() {
                    assert!(row.value >= tau, "released below τ");
                    seen += 1;
                }
            }
            assert_eq!(
                seen > 0,
                expect_some,
                "value {value}, τ {tau}: released {seen}/400"
            );
            released += seen;
            runs += 400;
        }
        assert!(released < runs);
    }
}
