//! A guest's run as a released table: one row per declared group (those under the agreement's
//! threshold withheld), one noised column per coordinate (the last round's sums, or the vetted
//! answer), the final state as figures computed from them, and how the program ran.

use sealroom_core::agreement::PrivacyTerms;
use sealroom_core::output::{
    DerivedFigure, NoiseAnnotation, RELEASED_TABLE_FORMAT, ReleasedColumn, ReleasedRow,
    ReleasedTable, WasmRunFacts,
};
use sealroom_programs::wasm::WasmParams;

use crate::error::WasmError;
use crate::per_person::GuestRun;

/// The key column of a per-person run's table.
pub const GROUP_COLUMN: &str = "group";

/// The released table of `run`. Its noise annotation describes one round (each round spent
/// `1/rounds` of the run's ε, or of its ρ for the Gaussian). A group whose noised first
/// coordinate is under the agreement's threshold is withheld: a choice made from noised figures
/// only, so it spends no privacy.
pub fn released_table(
    params: &WasmParams,
    run: &GuestRun,
    privacy: &PrivacyTerms,
    simulator: bool,
) -> Result<ReleasedTable, WasmError> {
    let noise = &run.noise;
    let derived = if params.state_names.is_empty() {
        Vec::new()
    } else if params.state_names.len() == run.state.len() {
        params
            .state_names
            .iter()
            .zip(&run.state)
            .map(|(name, value)| DerivedFigure {
                name: name.clone(),
                value: value.is_finite().then_some(*value),
                low_95: None,
                high_95: None,
            })
            .collect()
    } else {
        return Err(WasmError::BadAnswer {
            program: params.name.clone(),
            export: sealroom_guest::abi::EXPORT_UPDATE,
            problem: format!(
                "a state of {} numbers; the agreement names {}",
                run.state.len(),
                params.state_names.len()
            ),
        });
    };
    let annotation = NoiseAnnotation {
        mechanism: noise.mechanism.name().into(),
        scale: noise.mechanism.parameter(),
        epsilon: privacy.epsilon_per_run,
        epsilon_share: format!("1/{}", noise.rounds),
        delta: if noise.mechanism.rho().is_some() {
            privacy.delta_per_run
        } else {
            0.0
        },
        rho: noise.mechanism.rho(),
        sensitivity: noise.l1_sensitivity,
        l2_sensitivity: noise.l2_sensitivity,
        error_bound_95: noise.mechanism.error_bound(0.95),
        error_bound_99: noise.mechanism.error_bound(0.99),
        units: params.units,
        threshold: threshold_units(params),
    };
    let width = params.coordinates.len();
    Ok(ReleasedTable {
        format: RELEASED_TABLE_FORMAT.into(),
        output: params.output.clone(),
        key_columns: vec![GROUP_COLUMN.into()],
        columns: params
            .coordinates
            .iter()
            .map(|name| ReleasedColumn {
                name: name.clone(),
                noise: annotation.clone(),
            })
            .collect(),
        rows: params
            .groups
            .iter()
            .zip(run.sums.chunks(width))
            .filter(|(_, values)| threshold_units(params).is_none_or(|t| values[0] >= t as i64))
            .map(|(group, values)| ReleasedRow {
                key: vec![group.clone()],
                values: values.to_vec(),
            })
            .collect(),
        derived,
        simulator,
        wasm: Some(WasmRunFacts {
            program: params.name.clone(),
            module: params.module.clone(),
            mode: params.mode.name().into(),
            reviewed_by: params.reviewed_by.clone(),
        }),
    })
}

/// The agreement's threshold in units, rounded up (none when it sets none).
fn threshold_units(params: &WasmParams) -> Option<u64> {
    params
        .threshold
        .map(|t| (t * params.units as f64).ceil() as u64)
}
