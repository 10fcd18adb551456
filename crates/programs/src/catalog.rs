//! The built-in programs by id and version.

use sealroom_core::agreement::{
    Agreement, DatasetTerms, ProgramCatalog, ProgramCheckError, ProgramTerms,
};

use crate::program::{ProgramInfo, REGISTRY, find};
use sealroom_tables::Table;

use crate::result::ProgramResult;

/// A program could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProgramError {
    /// The agreement's program is not built in (the agreement was not validated by this build).
    #[error("program {id} version {version} is not built into this runtime")]
    Unknown {
        /// The program's id, as agreements name it.
        id: String,
        /// The program's version, as agreements name it.
        version: u32,
    },
    /// The parameters are invalid.
    #[error("bad program parameters: {0}")]
    BadParameters(String),
    /// An input table is missing.
    #[error("input {0} was not provided")]
    MissingInput(String),
    /// More input tables were given than the program reads.
    #[error("the program reads {expected} inputs, {given} were given")]
    TooManyInputs {
        /// How many it reads.
        expected: usize,
        /// How many it was given.
        given: usize,
    },
    /// A Wasm program runs in the isolate's engine (`sealroom-wasm`), not as a built-in.
    #[error("a Wasm program runs in the isolate's Wasm engine, not as a built-in program")]
    NeedsEngine,
    /// An input table lacks a column the program reads, with the type it reads (the table
    /// does not follow the schema the program was planned against).
    #[error("input table: {0}")]
    Table(#[from] sealroom_tables::TableError),
}

/// The programs built into this runtime (the [`REGISTRY`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct BuiltinCatalog;

impl BuiltinCatalog {
    /// Every built-in program.
    pub fn list(&self) -> Vec<ProgramInfo> {
        REGISTRY.iter().map(|p| p.info()).collect()
    }

    /// Runs the agreement's program over `tables`, found by `owner/name`.
    pub fn run<'t>(
        &self,
        agreement: &Agreement,
        tables: &dyn Fn(&str) -> Option<&'t Table>,
    ) -> Result<ProgramResult, ProgramError> {
        let p = &agreement.program;
        let program = find(&p.id, p.version).ok_or_else(|| ProgramError::Unknown {
            id: p.id.clone(),
            version: p.version,
        })?;
        let plan = program
            .plan(&p.params, &agreement.datasets)
            .map_err(ProgramError::BadParameters)?;
        let inputs = plan
            .inputs
            .iter()
            .map(|name| tables(name).ok_or_else(|| ProgramError::MissingInput(name.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        let result = program.run(&p.params, &agreement.datasets, &inputs, &agreement.privacy)?;
        result.check_shape().map_err(ProgramError::BadParameters)?;
        Ok(result)
    }
}

impl BuiltinCatalog {
    /// The figures the agreement's program derives from one of its released tables.
    pub fn derive(
        &self,
        agreement: &Agreement,
        table: &sealroom_core::output::ReleasedTable,
        variances: &[f64],
    ) -> Vec<sealroom_core::output::DerivedFigure> {
        let p = &agreement.program;
        find(&p.id, p.version).map_or_else(Vec::new, |program| program.derive(table, variances))
    }
}

impl ProgramCatalog for BuiltinCatalog {
    fn check_program(
        &self,
        program: &ProgramTerms,
        datasets: &[DatasetTerms],
    ) -> Result<Vec<String>, ProgramCheckError> {
        let found =
            find(&program.id, program.version).ok_or_else(|| ProgramCheckError::Unknown {
                id: program.id.clone(),
                version: program.version,
            })?;
        found
            .plan(&program.params, datasets)
            .map(|plan| plan.outputs)
            .map_err(ProgramCheckError::BadParameters)
    }
}
