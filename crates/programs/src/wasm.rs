//! `wasm` v1: a program written by a party, compiled to WebAssembly, named in the agreement by
//! the SHA-256 digest of its module. This module checks its terms wherever an agreement is
//! accepted; the isolate's engine (`sealroom-wasm`) runs it, never [`Program::run`].
//!
//! In the **per-person** mode the platform joins the inputs by person and calls the guest once
//! per person in a fresh instance; it clamps each contribution, a vector of
//! `groups × coordinates` numbers, to the declared norm `bound`, sums it over people in fixed
//! point (`units` per whole unit) and adds noise sized from that bound, `rounds` times, the
//! privacy loss composed over rounds; the guest's `update` sees only the noised sums.
//!
//! In the **vetted** mode the guest sees the whole joined tables in one call and answers the
//! output table itself (`groups × coordinates` numbers). The platform cannot bound what one
//! person changes in that answer, so the agreement must state it (`bound` in `norm`: the
//! output's sensitivity) and name every owner of an input in `reviewed_by`, the owners' signed
//! word that they reviewed the program and its stated sensitivity; the platform adds noise sized
//! from the stated sensitivity and applies the `threshold`.

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

/// The largest threshold in units (2^62).
pub const MAX_THRESHOLD_UNITS: f64 = 4_611_686_018_427_387_904.0;

/// How a Wasm program runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Once per person, in a fresh instance; the platform clamps, sums and noises.
    PerPerson,
    /// Once over the whole joined tables; every owner reviewed the program and the agreement
    /// states its output's sensitivity; the platform noises the answer and thresholds it.
    Vetted,
}

impl Mode {
    /// The mode's name in agreements and released tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::PerPerson => "per_person",
            Self::Vetted => "vetted",
        }
    }
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
    /// Per person: the norm each person's whole contribution is clamped in. Vetted: the norm in
    /// which the output's sensitivity is stated.
    pub norm: Norm,
    /// Per person: the norm bound, in whole units. Vetted: the stated sensitivity, how far one
    /// person can move the whole answer in `norm`, in whole units.
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
    /// Vetted mode: the parties that reviewed the program and its stated sensitivity; every
    /// owner of an input must be named (the agreement every party signs carries their word).
    #[serde(default)]
    pub reviewed_by: Vec<String>,
    /// Groups whose noised first coordinate (in whole units) is below this are withheld from
    /// the released table (a minimum-aggregation rule applied to noised figures, which spends
    /// no privacy). None: every declared group is released.
    #[serde(default)]
    pub threshold: Option<f64>,
}

fn one_round() -> u32 {
    1
}

impl WasmParams {
    /// The norm's name, as agreements write it (`l1`, `l2`).
    pub fn norm_name(&self) -> &'static str {
        match self.norm {
            Norm::L1 => "l1",
            Norm::L2 => "l2",
        }
    }

    /// The sensitivity the noise is sized for, in units: per person the clamp's bound
    /// (rounded down, as the platform clamps to it exactly); vetted the stated bound rounded up
    /// (the statement covers the answer as rounded to whole units, which is all that leaves).
    pub fn sensitivity_units(&self) -> u64 {
        match self.mode {
            Mode::PerPerson => self.bound_units(),
            Mode::Vetted => (self.bound * self.units as f64).ceil() as u64,
        }
    }

    /// Numbers in one contribution.
    pub fn contribution_len(&self) -> usize {
        self.groups.len() * self.coordinates.len()
    }

    /// The norm bound in units, rounded down (the platform clamps to this exactly).
    pub fn bound_units(&self) -> u64 {
        (self.bound * self.units as f64).floor() as u64
    }

    /// Checks that the agreement's privacy terms can protect this program: both modes exist to
    /// add noise, so an agreement that waives it is refused.
    pub fn check_privacy(&self, privacy: &PrivacyTerms) -> Result<(), String> {
        if privacy.noise == sealroom_core::agreement::NoiseMechanism::None {
            return Err(format!(
                "Wasm program {}: the {} mode adds noise, and the agreement waives it",
                self.name,
                self.mode.name()
            ));
        }
        Ok(())
    }

    /// Checks the vetted mode's terms: one round, no state, and every owner of an input named
    /// in `reviewed_by`, which names only owners of the agreement's datasets.
    fn check_vetted(&self, datasets: &[DatasetTerms]) -> Result<(), String> {
        if self.mode != Mode::Vetted {
            if !self.reviewed_by.is_empty() {
                return Err(format!(
                    "reviewed_by: only the vetted mode takes reviewers; this program runs {}",
                    self.mode.name()
                ));
            }
            return Ok(());
        }
        if self.rounds != 1 {
            return Err(format!(
                "rounds: the vetted mode runs once; the agreement asks for {}",
                self.rounds
            ));
        }
        if !self.state_names.is_empty() {
            return Err("state_names: the vetted mode has no state to release".into());
        }
        unique("reviewed_by", &self.reviewed_by).map_err(|e| {
            format!(
                "{e}: the vetted mode needs every owner of an input to say it reviewed the program"
            )
        })?;
        let owners: BTreeSet<&str> = datasets
            .iter()
            .filter(|d| self.inputs.contains(&d.qualified_name()))
            .map(|d| d.owner.as_str())
            .collect();
        for reviewer in &self.reviewed_by {
            if !datasets.iter().any(|d| d.owner == *reviewer) {
                return Err(format!(
                    "reviewed_by: {reviewer} owns no dataset of the agreement"
                ));
            }
        }
        if let Some(missing) = owners
            .iter()
            .find(|o| !self.reviewed_by.iter().any(|r| r == *o))
        {
            return Err(format!(
                "reviewed_by: {missing} owns an input and has not said it reviewed the program; \
                 the vetted mode needs every input owner's review"
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
        if let Some(t) = p.threshold
            && !(t.is_finite() && t > 0.0 && t * p.units as f64 <= MAX_THRESHOLD_UNITS)
        {
            return Err(format!(
                "threshold: {t} must be a positive number of at most {MAX_THRESHOLD_UNITS} units"
            ));
        }
        p.check_vetted(datasets)?;
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
                      fresh instance (the platform clamps, sums and noises what it contributes) \
                      or, vetted by every input owner, once over the joined tables (the platform \
                      noises its answer at the stated sensitivity)",
            params: "name, module (SHA-256), mode (per_person|vetted), inputs, fuel_per_call, \
                     memory_bytes, params, groups, coordinates, norm (l1|l2), bound, units, \
                     rounds, output, state_names, reviewed_by (vetted), threshold",
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

#[cfg(test)]
mod tests {
    use sealroom_core::schema::{Column, ColumnType, Schema};

    use super::*;

    fn dataset(owner: &str, name: &str) -> DatasetTerms {
        DatasetTerms {
            owner: owner.into(),
            name: name.into(),
            schema: Schema {
                columns: vec![Column::new("id", ColumnType::String)],
                person_column: "id".into(),
            },
        }
    }

    /// Three datasets by three owners; the program reads the first two.
    fn datasets() -> Vec<DatasetTerms> {
        vec![
            dataset("platform", "touches"),
            dataset("shop", "sales"),
            dataset("bystander", "other"),
        ]
    }

    fn vetted(changes: serde_json::Value) -> serde_json::Value {
        let mut params = serde_json::json!({
            "name": "custom",
            "module": "ab".repeat(32),
            "mode": "vetted",
            "inputs": ["platform/touches", "shop/sales"],
            "fuel_per_call": 1_000_000_000,
            "memory_bytes": 1 << 28,
            "groups": ["all"],
            "coordinates": ["count"],
            "norm": "l1",
            "bound": 1.0,
            "units": 1,
            "output": "out",
            "reviewed_by": ["platform", "shop"],
        });
        for (k, v) in changes.as_object().unwrap() {
            params[k] = v.clone();
        }
        params
    }

    fn refused(changes: serde_json::Value) -> String {
        WasmParams::check(&vetted(changes), &datasets()).unwrap_err()
    }

    #[test]
    fn vetted_terms_need_every_input_owners_review() {
        let p = WasmParams::check(&vetted(serde_json::json!({})), &datasets()).unwrap();
        assert_eq!(p.mode, Mode::Vetted);
        let e = refused(serde_json::json!({ "reviewed_by": ["platform"] }));
        assert!(
            e.contains("shop owns an input and has not said it reviewed the program"),
            "{e}"
        );
        let e = refused(serde_json::json!({ "reviewed_by": [] }));
        assert!(e.contains("reviewed_by: none declared"), "{e}");
        let e = refused(serde_json::json!({ "reviewed_by": ["platform", "shop", "operator"] }));
        assert!(
            e.contains("operator owns no dataset of the agreement"),
            "{e}"
        );
        let e = refused(serde_json::json!({ "reviewed_by": ["platform", "shop", "shop"] }));
        assert!(e.contains("\"shop\" twice"), "{e}");
        // An owner whose data the program does not read may also review it.
        WasmParams::check(
            &vetted(serde_json::json!({ "reviewed_by": ["platform", "shop", "bystander"] })),
            &datasets(),
        )
        .unwrap();
    }

    #[test]
    fn vetted_terms_run_once_and_release_no_state() {
        let e = refused(serde_json::json!({ "rounds": 3 }));
        assert!(e.contains("the vetted mode runs once"), "{e}");
        let e = refused(serde_json::json!({ "state_names": ["w"] }));
        assert!(e.contains("no state to release"), "{e}");
    }

    #[test]
    fn reviewers_belong_to_the_vetted_mode_only() {
        let e = refused(serde_json::json!({ "mode": "per_person" }));
        assert!(e.contains("only the vetted mode takes reviewers"), "{e}");
        WasmParams::check(
            &vetted(serde_json::json!({ "mode": "per_person", "reviewed_by": [] })),
            &datasets(),
        )
        .unwrap();
    }

    #[test]
    fn a_threshold_is_a_positive_number() {
        for bad in [0.0, -1.0, 1e300] {
            let e = refused(serde_json::json!({ "threshold": bad }));
            assert!(e.contains("threshold"), "{e}");
        }
        let p = WasmParams::check(
            &vetted(serde_json::json!({ "threshold": 20.5 })),
            &datasets(),
        )
        .unwrap();
        assert_eq!(p.threshold, Some(20.5));
    }
}
