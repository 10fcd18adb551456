//! The per-person mode: the inputs joined by person, the guest called once per person in a
//! fresh instance, each contribution clamped, the contributions summed exactly in fixed point,
//! noise added once per round, and the guest's `update` fed the noised sums only.

use rand_core::Rng;
use sealroom_core::agreement::{NoiseMechanism, PrivacyTerms};
use sealroom_guest::abi::{self, Person, Rows, Writer};
use sealroom_privacy::accounting::{gaussian_for_rho, rho_for};
use sealroom_privacy::{DiscreteLaplace, Mechanism};
use sealroom_programs::people::{ByPerson, People};
use sealroom_programs::wasm::{Norm, WasmParams};
use sealroom_tables::{Cell, Table};

use crate::clamp::Clamp;
use crate::engine::GuestModule;
use crate::error::WasmError;

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
        let bound = params.bound_units();
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

/// What a per-person run produced: only noised figures.
#[derive(Debug, Clone, PartialEq)]
pub struct PerPersonRun {
    /// The last round's noised sums, in units, group by group.
    pub sums: Vec<i64>,
    /// The state after the last `update` (the initial state when the guest has no `update`).
    pub state: Vec<f64>,
    /// The noise of each round.
    pub noise: RoundNoise,
}

/// The tables' rows grouped by person, people numbered across every table.
struct Joined<'t> {
    tables: Vec<&'t Table>,
    by_person: Vec<ByPerson>,
    people: usize,
}

impl<'t> Joined<'t> {
    fn new(program: &str, names: &[String], tables: Vec<&'t Table>) -> Result<Self, WasmError> {
        let mut people = People::default();
        let ids = tables
            .iter()
            .zip(names)
            .map(|(t, name)| {
                people.ids(t).map_err(|e| WasmError::Input {
                    program: program.into(),
                    input: name.clone(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let count = people.len();
        Ok(Self {
            by_person: ids.iter().map(|ids| ByPerson::new(ids, count)).collect(),
            tables,
            people: count,
        })
    }

    /// The contribution call's input for person number `person`, or none when the number is
    /// unused.
    fn input(
        &self,
        person: u32,
        round: u32,
        params: &WasmParams,
        state: &[f64],
    ) -> Option<Vec<u8>> {
        let rows: Vec<&[u32]> = self.by_person.iter().map(|b| b.rows(person)).collect();
        if rows.iter().all(|r| r.is_empty()) {
            return None;
        }
        let mut w = Writer::new();
        Person::write_header(
            &mut w,
            round,
            &params.params,
            state,
            self.tables.len() as u32,
        );
        for (table, rows) in self.tables.iter().zip(rows) {
            let columns = table.schema().columns.len();
            Rows::write_header(&mut w, columns as u32, rows.len() as u32);
            for &row in rows {
                for column in 0..columns {
                    w.cell(match table.cell(row as usize, column) {
                        Cell::Empty => abi::Cell::Empty,
                        Cell::Text(t) => abi::Cell::Text(t),
                        Cell::Number(n) => abi::Cell::Number(n),
                        Cell::Bool(b) => abi::Cell::Bool(b),
                    });
                }
            }
        }
        Person::write_groups(&mut w, &params.groups);
        Some(w.into_bytes())
    }
}

/// The guest's state before the first round, from `init` (which sees no data), after checking
/// what can be checked before any data is read: that an iterative program exports `update`, and
/// that a state released as `init` made it has as many numbers as the agreement names. The
/// isolate calls it before it asks for any key.
pub fn initial_state(guest: &GuestModule, params: &WasmParams) -> Result<Vec<f64>, WasmError> {
    let invalid = |reason: String| WasmError::Invalid {
        program: guest.name().into(),
        reason,
    };
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
) -> Result<PerPersonRun, WasmError> {
    let program = guest.name();
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
                            if let Some(input) =
                                joined.input(person, round, params, state)
                            {
                                let raw = guest.call(abi::EXPORT_CONTRIBUTE, &input)?;
                                if raw.len() != len {
                                    return Err(WasmError::BadAnswer {
                                        program: guest.name().into(),
                                        export: abi::EXPORT_CONTRIBUTE,
                                        problem: format!(
                                            "not the {len} numbers the agreement declares ({} groups × {} coordinates)",
                                            params.groups.len(),
                                            params.coordinates.len()
                                        ),
                                    });
                                }
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
    Ok(PerPersonRun {
        sums: noised,
        state,
        noise: *noise,
    })
}
