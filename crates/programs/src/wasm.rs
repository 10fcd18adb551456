//! `wasm` v1: a program written by a party, compiled to WebAssembly, named in the agreement by
//! the SHA-256 digest of its module. This module checks its terms wherever an agreement is
//! accepted; the isolate's engine (`sealroom-wasm`) runs it, never [`Program::run`].
//!
//! In the **per-person** mode (the only one so far) the platform joins the inputs by person and
//! calls the guest once per person in a fresh instance; it clamps each contribution, a vector of
//! `groups × coordinates` numbers, to the declared norm `bound`, sums it over people in fixed
//! point (`units` per whole unit) and adds noise sized from that bound, `rounds` times, the
//! privacy loss composed over rounds; the guest's `update` sees only the noised sums.

use std::collections::BTreeSet;

use sealroom_core::agreement::{DatasetTerms, PrivacyTerms};
use serde::Deserialize;

use crate::catalog::ProgramError;
use crate::program::{Params, Plan, Program, ProgramInfo};
use crate::result::ProgramResult;
use sealroom_tables::Table;

/// Program id.
pub const ID: &str = "wasm";
/// Program version.
pub const VERSION: u32 = 1;

/// The most fuel one call may be given.
pub const MAX_FUEL_PER_CALL: u64 = 1_000_000_000_000;
/// The most linear memory a guest may be given (4 GiB, all a 32-bit guest can address).
pub const MAX_MEMORY_BYTES: u64 = 1 << 32;
/// The least: one Wasm page.
pub const MIN_MEMORY_BYTES: u64 = 1 << 16;
/// The most numbers in one contribution (groups × coordinates).
pub const MAX_CONTRIBUTION_LEN: usize = 10_000;
/// The most rounds.
pub const MAX_ROUNDS: u32 = 1_000;
/// The largest norm bound in units: sums of up to 2^32 people stay within i64 after noise.
pub const MAX_BOUND_UNITS: u64 = 1 << 28;

/// How a Wasm program runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Once per person, in a fresh instance; the platform clamps, sums and noises.
    PerPerson,
}

/// The norm a contribution is clamped in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Norm {
    /// Σ |x_i| ≤ bound.
    L1,
    /// √(Σ x_i²) ≤ bound.
    L2,
}

/// Parameters of `wasm` v1, as the agreement's `[program.params]` gives them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WasmParams {
    /// The program's name, for messages (e.g. `logistic-regression`).
    pub name: String,
    /// SHA-256 of the module's bytes, 64 lowercase hex digits.
    pub module: String,
    /// How it runs.
    pub mode: Mode,
    /// The datasets it reads (`owner/name`), in the order the guest receives them.
    pub inputs: Vec<String>,
    /// Fuel for one call into the guest (roughly, Wasm instructions).
    pub fuel_per_call: u64,
    /// Linear memory one instance may grow to, in bytes.
    pub memory_bytes: u64,
    /// Public numbers handed to the guest (no data).
    #[serde(default)]
    pub params: Vec<f64>,
    /// The groups a contribution covers, declared (each is always released).
    pub groups: Vec<String>,
    /// The numbers per group, by name: the released table's value columns.
    pub coordinates: Vec<String>,
    /// The norm each person's whole contribution is clamped in.
    pub norm: Norm,
    /// The norm bound, in whole units.
    pub bound: f64,
    /// Fixed-point units per whole unit in which contributions are summed and noised.
    pub units: u64,
    /// Rounds of contribute, noised sum, update.
    #[serde(default = "one_round")]
    pub rounds: u32,
    /// The output's name.
    pub output: String,
    /// Names of the final state's numbers, released as figures computed from the noised sums
    /// (none: the state is not released).
    #[serde(default)]
    pub state_names: Vec<String>,
}

fn one_round() -> u32 {
    1
}

impl WasmParams {
    /// Numbers in one contribution.
    pub fn contribution_len(&self) -> usize {
        self.groups.len() * self.coordinates.len()
    }

    /// The norm bound in units, rounded down (the platform clamps to this exactly).
    pub fn bound_units(&self) -> u64 {
        (self.bound * self.units as f64).floor() as u64
    }

    /// Checks that the agreement's privacy terms can protect this program: per-person mode
    /// exists to add noise, so an agreement that waives it is refused.
    pub fn check_privacy(&self, privacy: &PrivacyTerms) -> Result<(), String> {
        if privacy.noise == sealroom_core::agreement::NoiseMechanism::None {
            return Err(format!(
                "Wasm program {}: the per-person mode adds noise, and the agreement waives it",
                self.name
            ));
        }
        Ok(())
    }
}

fn unique(what: &str, names: &[String]) -> Result<(), String> {
    if names.is_empty() {
        return Err(format!("{what}: none declared"));
    }
    let mut seen = BTreeSet::new();
    for n in names {
        if n.is_empty() {
            return Err(format!("{what}: an empty name"));
        }
        if !seen.insert(n) {
            return Err(format!("{what}: {n:?} twice"));
        }
    }
    Ok(())
}

impl Params for WasmParams {
    fn check(params: &serde_json::Value, datasets: &[DatasetTerms]) -> Result<Self, String> {
        let p: Self = serde_json::from_value(params.clone()).map_err(|e| e.to_string())?;
        if p.name.is_empty() {
            return Err("name: empty".into());
        }
        if p.module.len() != 64
            || !p
                .module
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(format!(
                "module: {:?} is not a SHA-256 digest (64 lowercase hex digits)",
                p.module
            ));
        }
        unique("inputs", &p.inputs)?;
        for input in &p.inputs {
            if !datasets.iter().any(|d| d.qualified_name() == *input) {
                return Err(format!("inputs: {input} is not a dataset of the agreement"));
            }
        }
        if !(1..=MAX_FUEL_PER_CALL).contains(&p.fuel_per_call) {
            return Err(format!("fuel_per_call: must be 1 to {MAX_FUEL_PER_CALL}"));
        }
        if !(MIN_MEMORY_BYTES..=MAX_MEMORY_BYTES).contains(&p.memory_bytes) {
            return Err(format!(
                "memory_bytes: must be {MIN_MEMORY_BYTES} to {MAX_MEMORY_BYTES}"
            ));
        }
        if let Some(bad) = p.params.iter().find(|v| !v.is_finite()) {
            return Err(format!("params: {bad} is not a finite number"));
        }
        unique("groups", &p.groups)?;
        unique("coordinates", &p.coordinates)?;
        if p.contribution_len() > MAX_CONTRIBUTION_LEN {
            return Err(format!(
                "groups × coordinates = {}, more than {MAX_CONTRIBUTION_LEN}",
                p.contribution_len()
            ));
        }
        if !(p.bound.is_finite() && p.bound > 0.0) {
            return Err(format!("bound: {} is not a positive number", p.bound));
        }
        if p.units == 0 {
            return Err("units: must be at least 1".into());
        }
        let b = p.bound_units();
        if b == 0 || b > MAX_BOUND_UNITS || !(p.bound * p.units as f64).is_finite() {
            return Err(format!(
                "bound × units = {}: must be 1 to {MAX_BOUND_UNITS} units",
                p.bound * p.units as f64
            ));
        }
        if !(1..=MAX_ROUNDS).contains(&p.rounds) {
            return Err(format!("rounds: must be 1 to {MAX_ROUNDS}"));
        }
        if p.output.is_empty() {
            return Err("output: empty".into());
        }
        if !p.state_names.is_empty() {
            unique("state_names", &p.state_names)?;
        }
        Ok(p)
    }

    fn inputs(&self) -> Vec<String> {
        self.inputs.clone()
    }
}

/// `wasm` v1 in the registry: its terms are checked here; it runs in the isolate's engine.
pub struct Wasm;

impl Program for Wasm {
    fn info(&self) -> ProgramInfo {
        ProgramInfo {
            id: ID,
            version: VERSION,
            summary: "a party's WebAssembly module, named by digest, run once per person in a \
                      fresh instance; the platform clamps, sums and noises what it contributes",
            params: "name, module (SHA-256), mode = \"per_person\", inputs, fuel_per_call, \
                     memory_bytes, params, groups, coordinates, norm (l1|l2), bound, units, \
                     rounds, output, state_names",
        }
    }

    fn plan(&self, params: &serde_json::Value, datasets: &[DatasetTerms]) -> Result<Plan, String> {
        let p = WasmParams::check(params, datasets)?;
        Ok(Plan {
            inputs: p.inputs(),
            outputs: vec![p.output],
        })
    }

    fn run(
        &self,
        _params: &serde_json::Value,
        _datasets: &[DatasetTerms],
        _inputs: &[&Table],
        _privacy: &PrivacyTerms,
    ) -> Result<ProgramResult, ProgramError> {
        Err(ProgramError::NeedsEngine)
    }
}
