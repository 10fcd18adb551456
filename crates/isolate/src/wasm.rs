//! The agreement's Wasm program: its module read, checked against the agreement's digest and
//! compiled before any key is asked for, then run in the agreement's mode (per person or
//! vetted).

use std::collections::HashMap;
use std::io::Read;

use rand_core::Rng;
use sealroom_core::agreement::Agreement;
use sealroom_core::output::ReleasedTable;
use sealroom_core::program::MAX_MODULE_BYTES;
use sealroom_core::wire::JobModule;
use sealroom_programs::wasm::{ID, Mode, WasmParams};
use sealroom_programs::{Params, ProgramError, Table};
use sealroom_wasm::release::released_table;
use sealroom_wasm::{GuestModule, Limits, RoundNoise, initial_state, run_per_person, run_vetted};

use crate::error::IsolateError;

/// A Wasm program ready to run: its terms, its compiled module, its initial state and each
/// round's noise.
#[derive(Debug)]
pub struct WasmJob {
    params: WasmParams,
    guest: GuestModule,
    state: Vec<f64>,
    noise: RoundNoise,
}

impl WasmJob {
    /// The agreement's Wasm program, if its program is one: terms checked, noise sized, the
    /// module at `module` checked against the agreement's digest and compiled, and its initial
    /// state made (`init` sees no data): whatever fails here fails before any key is asked for.
    pub fn prepare(
        agreement: &Agreement,
        module: Option<&JobModule>,
    ) -> Result<Option<Self>, IsolateError> {
        if agreement.program.id != ID {
            return Ok(None);
        }
        let params = WasmParams::check(&agreement.program.params, &agreement.datasets)
            .map_err(ProgramError::BadParameters)?;
        let noise = RoundNoise::size(&params, &agreement.privacy)?;
        let missing = |reason: String| IsolateError::ModuleMissing {
            program: params.name.clone(),
            reason,
        };
        let module = module.ok_or_else(|| missing("the host gave no module".into()))?;
        let mut bytes = Vec::new();
        std::fs::File::open(&module.path)
            .and_then(|f| f.take(MAX_MODULE_BYTES + 1).read_to_end(&mut bytes))
            .map_err(|e| missing(format!("cannot read {}: {e}", module.path)))?;
        if bytes.len() as u64 > MAX_MODULE_BYTES {
            return Err(missing(format!(
                "the module is over {MAX_MODULE_BYTES} bytes"
            )));
        }
        let limits = Limits {
            fuel_per_call: params.fuel_per_call,
            memory_bytes: params.memory_bytes,
        };
        let guest = GuestModule::compile(&params.name, &bytes, &params.module, limits)?;
        let state = initial_state(&guest, &params)?;
        Ok(Some(Self {
            params,
            guest,
            state,
            noise,
        }))
    }

    /// Runs the program over `tables` (by `owner/name`) and returns its released table.
    pub fn run(
        &self,
        agreement: &Agreement,
        tables: &HashMap<String, Table>,
        simulator: bool,
        rng: &mut impl Rng,
    ) -> Result<ReleasedTable, IsolateError> {
        let inputs = self
            .params
            .inputs
            .iter()
            .map(|name| {
                tables
                    .get(name)
                    .ok_or_else(|| ProgramError::MissingInput(name.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let run = match self.params.mode {
            Mode::PerPerson => run_per_person(
                &self.guest,
                &self.params,
                inputs,
                self.state.clone(),
                &self.noise,
                rng,
            )?,
            Mode::Vetted => run_vetted(&self.guest, &self.params, inputs, &self.noise, rng)?,
        };
        Ok(released_table(
            &self.params,
            &run,
            &agreement.privacy,
            simulator,
        )?)
    }
}
