//! The built-in programs by id and version.

use sealroom_core::agreement::{
    Agreement, DatasetTerms, ProgramCatalog, ProgramCheckError, ProgramTerms,
};

use crate::overlap::{self, OverlapParams};
use crate::sum::{self, SumParams};
use crate::table::Table;

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
}

/// A program's one-line description, for `sealroom programs`.
#[derive(Debug, Clone, Copy)]
pub struct ProgramInfo {
    /// The program's id, as agreements name it.
    pub id: &'static str,
    /// The program's version, as agreements name it.
    pub version: u32,
    /// What it computes.
    pub summary: &'static str,
    /// Its parameters.
    pub params: &'static str,
}

/// The programs built into this runtime.
#[derive(Debug, Default, Clone, Copy)]
pub struct BuiltinCatalog;

impl BuiltinCatalog {
    /// Every built-in program.
    pub fn list(&self) -> &'static [ProgramInfo] {
        &[
            ProgramInfo {
                id: overlap::ID,
                version: overlap::VERSION,
                summary: "distinct people present in both datasets, per group of the left dataset",
                params: "left = \"owner/dataset\", right = \"owner/dataset\", group_column = \"column of left\", groups = [\"...\"] (leave out to discover groups through the noisy threshold)",
            },
            ProgramInfo {
                id: sum::ID,
                version: sum::VERSION,
                summary: "total of a value column of the right dataset over people in both, per group of the left dataset (fixed point, clamped, bounded per person)",
                params: "left, right, group_column as for overlap; value_column = \"column of right\", units = 100, lower = 0, upper = \"500.00\", groups = [\"...\"] (optional)",
            },
        ]
    }

    /// Runs the agreement's program over `tables`, found by `owner/name`.
    pub fn run<'t>(
        &self,
        agreement: &Agreement,
        tables: &dyn Fn(&str) -> Option<&'t Table>,
    ) -> Result<Vec<Aggregate>, ProgramError> {
        let p = &agreement.program;
        let pair = |left: &str, right: &str| -> Result<(&'t Table, &'t Table), ProgramError> {
            let find =
                |name: &str| tables(name).ok_or_else(|| ProgramError::MissingInput(name.into()));
            Ok((find(left)?, find(right)?))
        };
        let bad = ProgramError::BadParameters;
        match (p.id.as_str(), p.version) {
            (overlap::ID, overlap::VERSION) => {
                let params = OverlapParams::check(&p.params, &agreement.datasets).map_err(bad)?;
                let (left, right) = pair(&params.left, &params.right)?;
                Ok(vec![overlap::run(
                    &params,
                    left,
                    right,
                    &agreement.privacy,
                )?])
            }
            (sum::ID, sum::VERSION) => {
                let params = SumParams::check(&p.params, &agreement.datasets).map_err(bad)?;
                let (left, right) = pair(&params.left, &params.right)?;
                Ok(vec![sum::run(&params, left, right, &agreement.privacy)?])
            }
            _ => Err(ProgramError::Unknown {
                id: p.id.clone(),
                version: p.version,
            }),
        }
    }
}

impl ProgramCatalog for BuiltinCatalog {
    fn check_program(
        &self,
        program: &ProgramTerms,
        datasets: &[DatasetTerms],
    ) -> Result<Vec<String>, ProgramCheckError> {
        match (program.id.as_str(), program.version) {
            (overlap::ID, overlap::VERSION) => {
                OverlapParams::check(&program.params, datasets)
                    .map_err(ProgramCheckError::BadParameters)?;
                Ok(vec![overlap::OUTPUT.into()])
            }
            (sum::ID, sum::VERSION) => {
                SumParams::check(&program.params, datasets)
                    .map_err(ProgramCheckError::BadParameters)?;
                Ok(vec![sum::OUTPUT.into()])
            }
            _ => Err(ProgramCheckError::Unknown {
                id: program.id.clone(),
                version: program.version,
            }),
        }
    }
}
