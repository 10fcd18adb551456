//! One program, one type: what every built-in analysis implements, and the registry that lists
//! them. Adding a program is one new module implementing [`Program`] and one line in
//! [`REGISTRY`].

use sealroom_core::agreement::{DatasetTerms, PrivacyTerms};
use sealroom_core::output::{DerivedFigure, ReleasedTable};

use crate::catalog::ProgramError;
use crate::result::ProgramResult;
use sealroom_tables::Table;

/// A program's description, for `sealroom programs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgramInfo {
    /// The program's id, as agreements name it.
    pub id: &'static str,
    /// The program's version, as agreements name it.
    pub version: u32,
    /// What it computes.
    pub summary: &'static str,
    /// Its parameters, as authors write them in the agreement's `[program]` block.
    pub params: &'static str,
}

/// What a program declares once its parameters are checked, before it sees any data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The datasets it reads (`owner/name`), in the order `run` receives them.
    pub inputs: Vec<String>,
    /// The outputs it produces, by name.
    pub outputs: Vec<String>,
}

/// A program's parameters, read from the agreement and checked against its datasets.
pub trait Params: Sized {
    /// Reads `params` and checks them against `datasets`.
    fn check(params: &serde_json::Value, datasets: &[DatasetTerms]) -> Result<Self, String>;

    /// The datasets the program reads (`owner/name`), in the order its run receives them.
    fn inputs(&self) -> Vec<String>;
}

impl Plan {
    /// The plan of a program whose parameters are `P` and whose one output is `output`.
    pub fn of<P: Params>(
        params: &serde_json::Value,
        datasets: &[DatasetTerms],
        output: &str,
    ) -> Result<Plan, String> {
        Self::with_outputs::<P>(params, datasets, &[output])
    }

    /// The plan of a program whose parameters are `P` and whose outputs are `outputs`.
    pub fn with_outputs<P: Params>(
        params: &serde_json::Value,
        datasets: &[DatasetTerms],
        outputs: &[&str],
    ) -> Result<Plan, String> {
        Ok(Plan {
            inputs: P::check(params, datasets)?.inputs(),
            outputs: outputs.iter().map(|o| (*o).to_string()).collect(),
        })
    }
}

/// `params` checked as `P`, and the program's `N` input tables in declared order; a missing one
/// is named.
pub fn checked_inputs<'t, P: Params, const N: usize>(
    params: &serde_json::Value,
    datasets: &[DatasetTerms],
    inputs: &[&'t Table],
) -> Result<(P, [&'t Table; N]), ProgramError> {
    let params = P::check(params, datasets).map_err(ProgramError::BadParameters)?;
    match <[&Table; N]>::try_from(inputs) {
        Ok(tables) => Ok((params, tables)),
        Err(_) if inputs.len() > N => Err(ProgramError::TooManyInputs {
            expected: N,
            given: inputs.len(),
        }),
        Err(_) => Err(ProgramError::MissingInput(
            params
                .inputs()
                .into_iter()
                .nth(inputs.len())
                .unwrap_or_else(|| format!("number {}", inputs.len() + 1)),
        )),
    }
}

/// A built-in analysis: parameters parsed and checked against the agreement's datasets, its
/// inputs and outputs declared, and a pure run over typed tables that returns exact tables of
/// measures with their sensitivities, which the isolate then noises through `sealroom-privacy`.
pub trait Program: Sync {
    /// Its id, version and help.
    fn info(&self) -> ProgramInfo;

    /// Checks `params` against `datasets` (columns exist and have the right types, groups are
    /// well formed, …); returns the inputs it reads and the outputs it produces.
    fn plan(&self, params: &serde_json::Value, datasets: &[DatasetTerms]) -> Result<Plan, String>;

    /// Runs over `inputs` (in the order of [`Plan::inputs`]) under the agreement's privacy
    /// terms, which bound each person's contribution.
    fn run(
        &self,
        params: &serde_json::Value,
        datasets: &[DatasetTerms],
        inputs: &[&Table],
        privacy: &PrivacyTerms,
    ) -> Result<ProgramResult, ProgramError>;

    /// Figures computed from a released table's noised values (`variances`: each value
    /// column's noise variance), added to the table before it is sealed. Post-processing: it
    /// sees nothing but what is released. None by default.
    fn derive(&self, _table: &ReleasedTable, _variances: &[f64]) -> Vec<DerivedFigure> {
        Vec::new()
    }
}

/// Every built-in program, one line each.
pub static REGISTRY: &[&dyn Program] = &[
    &crate::overlap::Overlap,
    &crate::sum::Sum,
    &crate::attribution::Attribute,
    &crate::lift::Lift,
    &crate::reach::ReachProgram,
    &crate::wasm::Wasm,
];

/// The registered program with this id and version.
pub fn find(id: &str, version: u32) -> Option<&'static dyn Program> {
    REGISTRY.iter().copied().find(|p| {
        let info = p.info();
        info.id == id && info.version == version
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_registered_program_is_found_by_its_id_and_version_only() {
        let mut seen = std::collections::BTreeSet::new();
        for program in REGISTRY {
            let info = program.info();
            assert!(seen.insert((info.id, info.version)), "{} twice", info.id);
            let found = find(info.id, info.version).expect("registered");
            assert_eq!(found.info(), info);
            assert!(find(info.id, info.version + 1).is_none());
        }
        assert!(find("no-such-program", 1).is_none());
    }
}
