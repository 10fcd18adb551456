//! The built-in programs by id and version.

use sealroom_core::agreement::{
    Agreement, DatasetTerms, ProgramCatalog, ProgramCheckError, ProgramTerms,
};

use crate::program::{ProgramInfo, REGISTRY, find};
use sealroom_tables::Table;

/// An exact aggregate, before noise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate {
    /// Output name.
    pub output: String,
    /// Name of the group column.
    pub group_column: String,
    /// Name of the value column.
    pub value_column: String,
    /// Declared groups with their exact values, in declared order: all released, noised.
    pub cells: Vec<(String, i64)>,
    /// Groups found in the data, by name: released only if the noisy value clears the threshold.
    pub discovered: Vec<(String, i64)>,
    /// True when the program discovers groups (set by its parameters, never by the data).
    pub discovers_groups: bool,
    /// How much one person can change all cells together, in L1 (after bounding).
    pub l1_sensitivity: u64,
    /// The same in L2, rounded up to an integer.
    pub l2_sensitivity: u64,
    /// The most one person adds to any single cell.
    pub per_group_sensitivity: u64,
    /// How many cells one person can touch.
    pub groups_per_person: u32,
    /// Fixed-point units per whole unit of the values (1 for counts).
    pub units: u64,
}

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
    ) -> Result<Vec<Aggregate>, ProgramError> {
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
        program.run(&p.params, &agreement.datasets, &inputs, &agreement.privacy)
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
