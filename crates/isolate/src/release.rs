//! Turning exact aggregates into released, sealed tables.

use rand_core::Rng;
use sealroom_core::agreement::{Agreement, NoiseMechanism, PrivacyTerms};
use sealroom_core::ids::JobId;
use sealroom_core::labels;
use sealroom_core::output::{
    DerivedFigure, NoiseAnnotation, RELEASED_TABLE_FORMAT, ReleasedColumn, ReleasedRow,
    ReleasedTable, SEALED_OUTPUT_FORMAT, SealedOutput,
};
use sealroom_crypto::seal_to;
use sealroom_privacy::{Mechanism, MechanismKind};
use std::collections::HashMap;

use sealroom_programs::{BuiltinCatalog, Measure, ProgramResult, ResultRow, Table};

use crate::error::IsolateError;

/// The noise of one measure, decided from the agreement and the program's parameters only.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasureNoise {
    /// The sized mechanism; `None` when the agreement waived noise.
    pub mechanism: Option<Mechanism>,
    /// This measure's share of the run's ε, `(numerator, denominator)`.
    pub epsilon_share: (u64, u64),
    /// δ its Gaussian uses.
    pub delta_mechanism: f64,
}

/// The noise of a whole program result: one mechanism per measure, one threshold per table
/// that discovers keys.
#[derive(Debug, Clone, PartialEq)]
pub struct NoisePlan {
    /// Per measure, in the result's order.
    pub measures: Vec<MeasureNoise>,
    /// Per table: τ for discovered keys (on the table's first measure) and the δ it uses.
    pub thresholds: Vec<Option<(u64, f64)>>,
}

/// Sizes the noise for `result` under the agreement's `privacy` terms. Every measure gets an
/// equal share of ε (and of the Gaussian's δ); tables that discover keys share the threshold's
/// δ equally. Nothing here depends on the data, so an isolate can call it on an empty run
/// before it asks for any key.
pub fn plan_noise(
    result: &ProgramResult,
    privacy: &PrivacyTerms,
) -> Result<NoisePlan, IsolateError> {
    let kind = match privacy.noise {
        NoiseMechanism::DiscreteLaplace => Some(MechanismKind::Laplace),
        NoiseMechanism::DiscreteGaussian => Some(MechanismKind::Gaussian),
        NoiseMechanism::None => None,
    };
    let discovering = result.tables.iter().filter(|t| t.discovers_keys).count();
    let delta = privacy.delta_per_run;
    let (delta_mechanisms, delta_thresholds) = match (kind, discovering > 0) {
        (Some(MechanismKind::Gaussian), true) => (delta / 2.0, delta / 2.0),
        (Some(MechanismKind::Gaussian), false) => (delta, 0.0),
        (_, true) => (0.0, delta),
        (_, false) => (0.0, 0.0),
    };
    let shares = result.measures.len().max(1) as u64;
    let (eps_num, eps_den) = privacy.epsilon_per_run.as_fraction();
    let measures = result
        .measures
        .iter()
        .map(|m| {
            let epsilon_share = (1, shares);
            let delta_mechanism = delta_mechanisms / shares as f64;
            let mechanism = kind
                .map(|kind| {
                    Mechanism::size(
                        kind,
                        (eps_num, eps_den.saturating_mul(shares)),
                        delta_mechanism,
                        m.l1_sensitivity,
                        m.l2_sensitivity,
                    )
                })
                .transpose()?;
            Ok(MeasureNoise {
                mechanism,
                epsilon_share,
                delta_mechanism,
            })
        })
        .collect::<Result<Vec<_>, IsolateError>>()?;
    let thresholds = result
        .tables
        .iter()
        .map(|t| {
            if !t.discovers_keys {
                return None;
            }
            let delta_threshold = delta_thresholds / discovering as f64;
            let first = t.measures.first().copied().unwrap_or(0);
            let tau = match (measures.get(first), result.measures.get(first)) {
                (
                    Some(MeasureNoise {
                        mechanism: Some(m), ..
                    }),
                    Some(measure),
                ) => m.threshold(
                    measure.per_cell_sensitivity,
                    result.rows_per_person,
                    delta_threshold,
                    privacy.min_aggregation,
                ),
                _ => privacy.min_aggregation,
            };
            Some((tau, delta_threshold))
        })
        .collect();
    Ok(NoisePlan {
        measures,
        thresholds,
    })
}

/// Sizes the noise of everything the agreement's program would release, by running it over
/// empty tables (sizing never depends on the data). An isolate does this before asking for any
/// key; `sealroom agreement check` does it at authoring time.
pub fn plan_agreement_noise(agreement: &Agreement) -> Result<NoisePlan, IsolateError> {
    if agreement.program.id == sealroom_programs::wasm::ID {
        return plan_wasm_noise(agreement);
    }
    let empty: HashMap<String, Table> = agreement
        .datasets
        .iter()
        .map(|d| (d.qualified_name(), Table::new(d.schema.clone())))
        .collect();
    let result = BuiltinCatalog.run(agreement, &|name| empty.get(name))?;
    plan_noise(&result, &agreement.privacy)
}

/// A Wasm program's noise: one mechanism for every number of each round's sums, each round
/// spending `1/rounds` of the run's privacy loss.
fn plan_wasm_noise(agreement: &Agreement) -> Result<NoisePlan, IsolateError> {
    use sealroom_programs::Params;
    let params =
        sealroom_programs::wasm::WasmParams::check(&agreement.program.params, &agreement.datasets)
            .map_err(sealroom_programs::ProgramError::BadParameters)?;
    let round = sealroom_wasm::RoundNoise::size(&params, &agreement.privacy)?;
    Ok(NoisePlan {
        measures: vec![MeasureNoise {
            mechanism: Some(round.mechanism),
            epsilon_share: (1, u64::from(round.rounds)),
            delta_mechanism: if round.mechanism.rho().is_some() {
                agreement.privacy.delta_per_run
            } else {
                0.0
            },
        }],
        thresholds: vec![None],
    })
}

fn annotation(
    noise: &MeasureNoise,
    measure: &Measure,
    privacy: &PrivacyTerms,
    threshold: Option<(u64, f64)>,
) -> NoiseAnnotation {
    let (num, den) = noise.epsilon_share;
    let threshold_delta = threshold.map_or(0.0, |(_, d)| d);
    let (mechanism, scale, rho, (error_bound_95, error_bound_99), delta) = match &noise.mechanism {
        Some(m) => (
            m.name().to_string(),
            m.parameter(),
            m.rho(),
            (m.error_bound(0.95), m.error_bound(0.99)),
            noise.delta_mechanism + threshold_delta,
        ),
        None => ("none".into(), "0/1".into(), None, (0, 0), 0.0),
    };
    NoiseAnnotation {
        mechanism,
        scale,
        epsilon: privacy.epsilon_per_run,
        epsilon_share: format!("{num}/{den}"),
        delta,
        rho,
        sensitivity: measure.l1_sensitivity,
        l2_sensitivity: measure.l2_sensitivity,
        error_bound_95,
        error_bound_99,
        units: measure.units,
        threshold: threshold.map(|(tau, _)| tau),
    }
}

/// Noises every cell of `result` (each measure with its own mechanism), releases every
/// declared row and the discovered rows whose first noisy value reaches the table's threshold,
/// and adds the figures `derive` computes from each released table and its columns' noise
/// variances.
pub fn add_noise(
    result: &ProgramResult,
    privacy: &PrivacyTerms,
    simulator: bool,
    rng: &mut impl Rng,
    derive: &dyn Fn(&ReleasedTable, &[f64]) -> Vec<DerivedFigure>,
) -> Result<Vec<ReleasedTable>, IsolateError> {
    let plan = plan_noise(result, privacy)?;
    let mut tables = Vec::with_capacity(result.tables.len());
    for (table, threshold) in result.tables.iter().zip(&plan.thresholds) {
        let noisy_row = |row: &ResultRow, rng: &mut _| ReleasedRow {
            key: row.key.clone(),
            values: row
                .values
                .iter()
                .zip(&table.measures)
                .map(|(&value, &m)| match &plan.measures[m].mechanism {
                    Some(mechanism) => value.saturating_add(mechanism.sample(rng)),
                    None => value,
                })
                .collect(),
        };
        let mut rows: Vec<ReleasedRow> = table.rows.iter().map(|r| noisy_row(r, rng)).collect();
        for row in &table.discovered {
            let noisy = noisy_row(row, rng);
            let clears = match (threshold, noisy.values.first()) {
                (Some((tau, _)), Some(&first)) => first >= i64::try_from(*tau).unwrap_or(i64::MAX),
                _ => false,
            };
            if clears {
                rows.push(noisy);
            }
        }
        let columns = table
            .measures
            .iter()
            .enumerate()
            .map(|(i, &m)| ReleasedColumn {
                name: table
                    .column_names
                    .get(i)
                    .unwrap_or(&result.measures[m].name)
                    .clone(),
                noise: annotation(
                    &plan.measures[m],
                    &result.measures[m],
                    privacy,
                    if i == 0 { *threshold } else { None },
                ),
            })
            .collect();
        let mut released = ReleasedTable {
            format: RELEASED_TABLE_FORMAT.into(),
            output: table.output.clone(),
            key_columns: table.key_columns.clone(),
            columns,
            rows,
            derived: Vec::new(),
            simulator,
            wasm: None,
        };
        let variances: Vec<f64> = table
            .measures
            .iter()
            .map(|&m| {
                plan.measures[m]
                    .mechanism
                    .as_ref()
                    .map_or(0.0, Mechanism::variance)
            })
            .collect();
        released.derived = derive(&released, &variances);
        tables.push(released);
    }
    Ok(tables)
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

    fn result() -> ProgramResult {
        ProgramResult::single(
            "overlap",
            "g",
            Measure {
                name: "v".into(),
                units: 1,
                l1_sensitivity: 2,
                l2_sensitivity: 2,
                per_cell_sensitivity: 1,
            },
            ((0..50).map(|i| (format!("g{i}"), 1000)).collect(), vec![]),
            false,
            2,
        )
    }

    /// The one table of a single-measure result, noised.
    fn noised(result: &ProgramResult, privacy: &PrivacyTerms, rng: &mut NoiseRng) -> ReleasedTable {
        add_noise(result, privacy, false, rng, &|_, _| Vec::new())
            .unwrap()
            .remove(0)
    }

    #[test]
    fn laplace_noise_is_annotated_with_its_exact_scale_and_changes_values() {
        let table = add_noise(
            &result(),
            &privacy(NoiseMechanism::DiscreteLaplace),
            true,
            &mut NoiseRng::from_test_seed(3),
            &|_, _| Vec::new(),
        )
        .unwrap()
        .remove(0);
        assert_eq!(table.columns[0].noise.mechanism, "discrete-laplace");
        assert_eq!(table.columns[0].noise.scale, "4/1");
        assert_eq!(table.columns[0].noise.sensitivity, 2);
        assert!(table.simulator);
        assert!(
            table.rows.iter().any(|r| r.values[0] != 1000),
            "50 noisy cells are not all exact"
        );
        assert!(table.rows.iter().all(|r| (r.values[0] - 1000).abs() <= 100));
    }

    #[test]
    fn waived_noise_is_exact_and_says_so() {
        let table = noised(
            &result(),
            &privacy(NoiseMechanism::None),
            &mut NoiseRng::from_test_seed(3),
        );
        assert_eq!(table.columns[0].noise.mechanism, "none");
        assert_eq!(table.columns[0].noise.error_bound_95, 0);
        assert!(table.rows.iter().all(|r| r.values[0] == 1000));
    }

    #[test]
    fn gaussian_noise_states_sigma2_rho_and_delta() {
        let table = noised(
            &result(),
            &privacy(NoiseMechanism::DiscreteGaussian),
            &mut NoiseRng::from_test_seed(4),
        );
        assert_eq!(table.columns[0].noise.mechanism, "discrete-gaussian");
        assert!(
            table.columns[0].noise.scale.ends_with("/1000"),
            "{}",
            table.columns[0].noise.scale
        );
        assert_eq!(table.columns[0].noise.delta, 1e-9);
        assert!(table.columns[0].noise.rho.unwrap() > 0.0);
        assert!(table.rows.iter().any(|r| r.values[0] != 1000));
    }

    #[test]
    fn declared_empty_groups_are_released_noised_and_rare_discovered_groups_are_suppressed() {
        let mut agg = result();
        let row = |key: &str, value| ResultRow {
            key: vec![key.into()],
            values: vec![value],
        };
        agg.tables[0].rows = vec![row("declared-but-empty", 0)];
        agg.tables[0].discovered = vec![row("big", 5_000), row("rare", 1)];
        agg.tables[0].discovers_keys = true;
        let privacy = privacy(NoiseMechanism::DiscreteLaplace);
        let mut rng = NoiseRng::from_test_seed(5);
        let mut empty_values = Vec::new();
        for _ in 0..200 {
            let table = noised(&agg, &privacy, &mut rng);
            let groups: Vec<&str> = table.rows.iter().map(|r| r.key[0].as_str()).collect();
            assert_eq!(
                groups[0], "declared-but-empty",
                "a declared group is always released"
            );
            assert!(groups.contains(&"big"), "a large discovered group clears τ");
            assert!(
                !groups.contains(&"rare"),
                "a one-person group must not appear"
            );
            assert!(table.columns[0].noise.threshold.unwrap() > 1);
            assert_eq!(table.columns[0].noise.delta, 1e-9);
            empty_values.push(table.rows[0].values[0]);
        }
        assert!(
            empty_values.iter().any(|&v| v != 0),
            "the empty group is noised"
        );
    }

    #[test]
    fn a_rare_group_appears_only_when_it_clears_the_noisy_threshold() {
        let mut agg = result();
        agg.tables[0].rows = vec![];
        agg.tables[0].discovers_keys = true;
        let privacy = privacy(NoiseMechanism::DiscreteLaplace);
        let tau = Mechanism::size(MechanismKind::Laplace, (1, 2), 0.0, 2, 2)
            .unwrap()
            .threshold(1, 2, 1e-9, 0) as i64;
        let mut rng = NoiseRng::from_test_seed(6);
        let (mut released, mut runs) = (0, 0);
        // At exactly τ the noisy value clears it about half the time; far below, never.
        for (value, expect_some) in [(tau, true), (tau - 60, false)] {
            agg.tables[0].discovered = vec![ResultRow {
                key: vec!["edge".into()],
                values: vec![value],
            }];
            let mut seen = 0;
            for _ in 0..400 {
                let table = noised(&agg, &privacy, &mut rng);
                assert_eq!(table.columns[0].noise.threshold, Some(tau as u64));
                if let Some(row) = table.rows.first() {
                    assert!(row.values[0] >= tau, "released below τ");
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
