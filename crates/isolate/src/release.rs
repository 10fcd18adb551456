//! Turning exact aggregates into released, sealed tables.

use rand_core::RngCore;
use sealroom_core::agreement::{Agreement, NoiseMechanism};
use sealroom_core::ids::JobId;
use sealroom_core::labels;
use sealroom_core::output::{
    NoiseAnnotation, RELEASED_TABLE_FORMAT, ReleasedRow, ReleasedTable, SEALED_OUTPUT_FORMAT,
    SealedOutput,
};
use sealroom_crypto::seal_to;
use sealroom_privacy::DiscreteLaplace;
use sealroom_programs::Aggregate;

use crate::error::IsolateError;

/// Adds the agreement's noise to every cell and annotates the table with how it was protected.
pub fn add_noise(
    aggregate: &Aggregate,
    agreement: &Agreement,
    simulator: bool,
    rng: &mut impl RngCore,
) -> Result<ReleasedTable, IsolateError> {
    let epsilon = agreement.privacy.epsilon_per_run;
    let (rows, noise) = match agreement.privacy.noise {
        NoiseMechanism::DiscreteLaplace => {
            let (num, den) = epsilon.as_fraction();
            let dist = DiscreteLaplace::for_epsilon(aggregate.sensitivity, num, den)?;
            let rows = aggregate
                .cells
                .iter()
                .map(|(group, value)| ReleasedRow {
                    group: group.clone(),
                    value: value.saturating_add(dist.sample(rng)),
                })
                .collect();
            let (s, t) = dist.scale();
            let annotation = NoiseAnnotation {
                mechanism: "discrete-laplace".into(),
                scale: format!("{s}/{t}"),
                epsilon,
                sensitivity: aggregate.sensitivity,
                error_bound_95: dist.error_bound(0.95),
            };
            (rows, annotation)
        }
        NoiseMechanism::None => {
            let rows = aggregate
                .cells
                .iter()
                .map(|(group, value)| ReleasedRow {
                    group: group.clone(),
                    value: *value,
                })
                .collect();
            let annotation = NoiseAnnotation {
                mechanism: "none".into(),
                scale: "0/1".into(),
                epsilon,
                sensitivity: aggregate.sensitivity,
                error_bound_95: 0,
            };
            (rows, annotation)
        }
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
        sealroom_core::canonical_json(table).expect("a released table has a canonical form");
    terms
        .readers
        .iter()
        .map(|reader| {
            let card = agreement
                .party(reader)
                .expect("validated agreement names only its parties");
            let fingerprint = card.fingerprint().expect("card has a canonical form");
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
    use sealroom_core::agreement::{Agreement, OutputTerms, PrivacyTerms, ProgramTerms};
    use sealroom_core::clock::Timestamp;
    use sealroom_core::epsilon::Epsilon;
    use sealroom_privacy::NoiseRng;

    use super::*;

    fn agreement(noise: NoiseMechanism) -> Agreement {
        Agreement {
            format: "sealroom-agreement/v1".into(),
            name: "t".into(),
            valid_from: Timestamp(0),
            valid_until: Timestamp(1),
            parties: vec![],
            datasets: vec![],
            program: ProgramTerms {
                id: "overlap".into(),
                version: 1,
                params: serde_json::json!({}),
            },
            runtimes: vec![],
            outputs: vec![OutputTerms {
                name: "overlap".into(),
                readers: vec![],
            }],
            privacy: PrivacyTerms {
                epsilon_per_run: Epsilon::from_f64(0.5).unwrap(),
                delta_per_run: 1e-9,
                total_epsilon_per_dataset: Epsilon::from_f64(1.0).unwrap(),
                max_groups_per_person: 2,
                noise,
            },
        }
    }

    fn aggregate() -> Aggregate {
        Aggregate {
            output: "overlap".into(),
            group_column: "g".into(),
            value_column: "v".into(),
            cells: (0..50).map(|i| (format!("g{i}"), 1000)).collect(),
            sensitivity: 2,
        }
    }

    #[test]
    fn laplace_noise_is_annotated_with_its_exact_scale_and_changes_values() {
        let table = add_noise(
            &aggregate(),
            &agreement(NoiseMechanism::DiscreteLaplace),
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
            &agreement(NoiseMechanism::None),
            false,
            &mut NoiseRng::from_test_seed(3),
        )
        .unwrap();
        assert_eq!(table.noise.mechanism, "none");
        assert_eq!(table.noise.error_bound_95, 0);
        assert!(table.rows.iter().all(|r| r.value == 1000));
    }
}
