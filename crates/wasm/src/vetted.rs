//! The vetted mode: the guest sees every person's rows in one call and answers the whole output,
//! `groups × coordinates` numbers. The platform cannot bound how far one person moves that
//! answer; the agreement states it, every input owner's review vouches for it, and the platform
//! adds noise sized from it to every number.

use rand_core::Rng;
use sealroom_guest::abi;
use sealroom_programs::wasm::{Mode, WasmParams};
use sealroom_tables::Table;

use crate::engine::GuestModule;
use crate::error::WasmError;
use crate::joined::Joined;
use crate::per_person::{GuestRun, RoundNoise, check_answer_len};

/// The largest magnitude an answer's number may have in units: larger numbers are saturated to
/// it (which moves no two answers further apart), so that adding noise cannot overflow.
const MAX_ANSWER_UNITS: i64 = 1 << 62;

/// A number of the guest's answer in fixed point: `value × units` rounded to the nearest unit,
/// saturated to ±[`MAX_ANSWER_UNITS`] (infinities too, so saturation moves no two answers
/// further apart); NaN, which has no place on the line, is 0.
fn to_units(value: f64, units: u64) -> i64 {
    if value.is_nan() {
        return 0;
    }
    let limit = MAX_ANSWER_UNITS as f64;
    (value * units as f64).round().clamp(-limit, limit) as i64
}

/// Runs `guest` in the vetted mode over `tables` (in the order of `params.inputs`): one call to
/// `analyze` with the inputs joined by person, its answer turned into units and noised with
/// `noise`, sized from the agreement's stated sensitivity.
pub fn run_vetted(
    guest: &GuestModule,
    params: &WasmParams,
    tables: Vec<&Table>,
    noise: &RoundNoise,
    rng: &mut impl Rng,
) -> Result<GuestRun, WasmError> {
    if params.mode != Mode::Vetted {
        return Err(WasmError::Invalid {
            program: guest.name().into(),
            reason: format!("it runs {}, not vetted", params.mode.name()),
        });
    }
    let joined = Joined::new(guest.name(), &params.inputs, tables)?;
    let input = joined.everyone_input(params);
    drop(joined);
    // The guest must hold the whole input in its memory: say so plainly rather than let the
    // copy fail inside the engine.
    if input.len() as u64 >= params.memory_bytes {
        return Err(WasmError::MemoryLimit {
            program: guest.name().into(),
            export: abi::EXPORT_ANALYZE,
            limit: params.memory_bytes,
        });
    }
    let answer = guest.call(abi::EXPORT_ANALYZE, &input)?;
    drop(input);
    check_answer_len(guest, params, abi::EXPORT_ANALYZE, &answer)?;
    let sums = answer
        .iter()
        .map(|v| to_units(*v, params.units).saturating_add(noise.mechanism.sample(rng)))
        .collect();
    Ok(GuestRun {
        sums,
        state: Vec::new(),
        noise: *noise,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_become_units_rounded_and_saturated() {
        assert_eq!(to_units(1.4, 10), 14);
        assert_eq!(to_units(-0.26, 10), -3);
        assert_eq!(to_units(f64::NAN, 10), 0);
        assert_eq!(to_units(f64::INFINITY, 10), MAX_ANSWER_UNITS);
        assert_eq!(to_units(f64::NEG_INFINITY, 10), -MAX_ANSWER_UNITS);
        assert_eq!(to_units(1e300, 1), MAX_ANSWER_UNITS);
        assert_eq!(to_units(-1e300, 1), -MAX_ANSWER_UNITS);
    }
}
