//! The per-person mode: the inputs joined by person, the guest called once per person in a
//! fresh instance, each contribution clamped, the contributions summed exactly in fixed point,
//! noise added once per round, and the guest's `update` fed the noised sums only.

use rand_core::Rng;
use sealroom_core::agreement::{NoiseMechanism, PrivacyTerms};
use sealroom_guest::abi::{self, Writer};
use sealroom_privacy::accounting::{gaussian_for_rho, rho_for};
use sealroom_privacy::{DiscreteLaplace, Mechanism};
use sealroom_programs::wasm::{Mode, Norm, WasmParams};
use sealroom_tables::Table;

use crate::clamp::Clamp;
use crate::engine::GuestModule;
use crate::error::WasmError;
use crate::joined::Joined;

/// The noise of one round, sized from the agreement: every round spends an equal share of the
/// run's privacy loss (ε/R under pure DP; ρ/R of the run's zCDP ρ for the Gaussian).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoundNoise {
    /// The sized mechanism, added to every number of a round's sums.
    pub mechanism: Mechanism,
    /// How far one person moves a round's sums, in L1, in units.
    pub l1_sensitivity: u64,
    /// The same in L2.
    pub l2_sensitivity: u64,
    /// The rounds sharing the run's privacy loss.
    pub rounds: u32,
}

impl RoundNoise {
    /// Sizes the noise of one round for `params` under `privacy`; refuses an agreement that
    /// waives noise.
    pub fn size(params: &WasmParams, privacy: &PrivacyTerms) -> Result<Self, WasmError> {
        let failed = |reason: String| WasmError::Noise {
            program: params.name.clone(),
            reason,
        };
        params.check_privacy(privacy).map_err(failed)?;
        let bound = params.sensitivity_units();
        let l1 = match params.norm {
            Norm::L1 => bound,
            // ‖x‖₁ ≤ √n · ‖x‖₂.
            Norm::L2 => ((params.contribution_len() as f64).sqrt() * bound as f64).ceil() as u64,
        };
        // ‖x‖₂ ≤ ‖x‖₁, so the bound is the L2 sensitivity in either norm.
        let l2 = bound;
        let rounds = params.rounds;
        let (eps_num, eps_den) = privacy.epsilon_per_run.as_fraction();
        let mechanism = match privacy.noise {
            NoiseMechanism::DiscreteLaplace => Mechanism::Laplace(
                DiscreteLaplace::for_epsilon(
                    l1,
                    eps_num,
                    eps_den.saturating_mul(u64::from(rounds)),
                )
                .map_err(|e| failed(e.to_string()))?,
            ),
            NoiseMechanism::DiscreteGaussian => {
                let epsilon = eps_num as f64 / eps_den as f64;
                let rho = rho_for(epsilon, privacy.delta_per_run) / f64::from(rounds);
                let (dist, achieved) =
                    gaussian_for_rho(l2, rho).map_err(|e| failed(e.to_string()))?;
                Mechanism::Gaussian(dist, achieved)
            }
            NoiseMechanism::None => unreachable!("refused by check_privacy"),
        };
        Ok(Self {
            mechanism,
            l1_sensitivity: l1,
            l2_sensitivity: l2,
            rounds,
        })
    }
}

/// Exact sums of clamped contributions, in units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sums {
    clamp: Clamp,
    totals: Vec<i128>,
}

impl Sums {
    /// Zero sums of `len` numbers, each contribution clamped by `clamp`.
    pub fn new(clamp: Clamp, len: usize) -> Self {
        Self {
            clamp,
            totals: vec![0; len],
        }
    }

    /// Adds one person's raw contribution, clamped.
    pub fn add(&mut self, raw: &[f64]) {
        for (total, v) in self.totals.iter_mut().zip(self.clamp.apply(raw)) {
            *total += i128::from(v);
        }
    }

    /// Adds another part's sums.
    pub fn merge(&mut self, other: &Sums) {
        for (a, b) in self.totals.iter_mut().zip(&other.totals) {
            *a += b;
        }
    }

    /// The exact sums, in units.
    pub fn exact(&self) -> &[i128] {
        &self.totals
    }

    /// The sums with independent noise added to each, in units: the only way sums leave.
    pub fn noised(&self, mechanism: &Mechanism, rng: &mut impl Rng) -> Option<Vec<i64>> {
        self.totals
            .iter()
            .map(|t| i64::try_from(*t).ok()?.checked_add(mechanism.sample(rng)))
            .collect()
    }
}

/// What a run of a guest produced, in either mode: only noised figures.
#[derive(Debug, Clone, PartialEq)]
pub struct GuestRun {
    /// The last round's noised sums, in units, group by group.
    pub sums: Vec<i64>,
    /// The state after the last `update` (the initial state when the guest has no `update`).
    pub state: Vec<f64>,
    /// The noise of each round.
    pub noise: RoundNoise,
}

/// The guest's state before the first round, from `init` (which sees no data), after checking
/// what can be checked before any data is read: that the module exports the mode's entry point
/// (`contribute`, or `analyze` when vetted), that an iterative program exports `update`, and
/// that a state released as `init` made it has as many numbers as the agreement names. The
/// isolate calls it before it asks for any key.
pub fn initial_state(guest: &GuestModule, params: &WasmParams) -> Result<Vec<f64>, WasmError> {
    let invalid = |reason: String| WasmError::Invalid {
        program: guest.name().into(),
        reason,
    };
    let entry = match params.mode {
        Mode::PerPerson => abi::EXPORT_CONTRIBUTE,
        Mode::Vetted => abi::EXPORT_ANALYZE,
    };
    if !guest.exports(entry) {
        return Err(invalid(format!(
            "the {} mode calls {entry}, which the module does not export",
            params.mode.name()
        )));
    }
    if params.rounds > 1 && !guest.has_update() {
        return Err(invalid(format!(
            "{} rounds need {}, which the module does not export",
            params.rounds,
            abi::EXPORT_UPDATE
        )));
    }
    let mut input = Writer::new();
    input.f64s(&params.params);
    let state = guest.call(abi::EXPORT_INIT, &input.into_bytes())?;
    let released_as_is = !guest.has_update() && !params.state_names.is_empty();
    if released_as_is && state.len() != params.state_names.len() {
        return Err(invalid(format!(
            "its state has {} numbers; the agreement names {}",
            state.len(),
            params.state_names.len()
        )));
    }
    Ok(state)
}

/// Fails unless `answer`, from `export`, has the numbers the agreement declares (the error
/// names the declared length only: the answer's is the guest's choice after seeing data).
pub(crate) fn check_answer_len(
    guest: &GuestModule,
    params: &WasmParams,
    export: &'static str,
    answer: &[f64],
) -> Result<(), WasmError> {
    let len = params.contribution_len();
    if answer.len() == len {
        return Ok(());
    }
    Err(WasmError::BadAnswer {
        program: guest.name().into(),
        export,
        problem: format!(
            "not the {len} numbers the agreement declares ({} groups × {} coordinates)",
            params.groups.len(),
            params.coordinates.len()
        ),
    })
}

/// How many threads share the people (the isolate's machine has two cores).
const WORKERS: u32 = 2;

/// Runs `guest` in the per-person mode over `tables` (in the order of `params.inputs`) from
/// `state` (what [`initial_state`] gave): `params.rounds` rounds of one `contribute` per person
/// (clamped and summed), noise, and `update`. Every call runs in a fresh instance.
pub fn run_per_person(
    guest: &GuestModule,
    params: &WasmParams,
    tables: Vec<&Table>,
    mut state: Vec<f64>,
    noise: &RoundNoise,
    rng: &mut impl Rng,
) -> Result<GuestRun, WasmError> {
    let program = guest.name();
    if params.mode != Mode::PerPerson {
        return Err(WasmError::Invalid {
            program: program.into(),
            reason: format!("it runs {}, not per_person", params.mode.name()),
        });
    }
    let joined = Joined::new(program, &params.inputs, tables)?;
    let clamp = Clamp {
        norm: params.norm,
        bound: params.bound_units(),
        units: params.units,
    };
    let len = params.contribution_len();
    let mut noised = Vec::new();
    for round in 0..params.rounds {
        let sums = std::thread::scope(|scope| {
            let parts: Vec<_> = (0..WORKERS)
                .map(|worker| {
                    let (joined, state) = (&joined, &state);
                    scope.spawn(move || {
                        let mut sums = Sums::new(clamp, len);
                        let mut person = worker;
                        while (person as usize) < joined.people {
                            if let Some(input) = joined.person_input(person, round, params, state) {
                                let raw = guest.call(abi::EXPORT_CONTRIBUTE, &input)?;
                                check_answer_len(guest, params, abi::EXPORT_CONTRIBUTE, &raw)?;
                                sums.add(&raw);
                            }
                            person += WORKERS;
                        }
                        Ok(sums)
                    })
                })
                .collect();
            let mut total = Sums::new(clamp, len);
            for part in parts {
                let part = part
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
                total.merge(&part);
            }
            Ok::<_, WasmError>(total)
        })?;
        noised = sums
            .noised(&noise.mechanism, rng)
            .ok_or_else(|| WasmError::Noise {
                program: program.into(),
                reason: "the sums do not fit in 64 bits".into(),
            })?;
        if guest.has_update() {
            let whole: Vec<f64> = noised
                .iter()
                .map(|v| *v as f64 / params.units as f64)
                .collect();
            let mut input = Writer::new();
            input
                .u32(round)
                .f64s(&params.params)
                .f64s(&state)
                .f64s(&whole);
            state = guest.call(abi::EXPORT_UPDATE, &input.into_bytes())?;
        }
    }
    Ok(GuestRun {
        sums: noised,
        state,
        noise: *noise,
    })
}
