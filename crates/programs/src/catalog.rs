//! The built-in programs by id and version.

use sealroom_core::agreement::{
    Agreement, DatasetTerms, ProgramCatalog, ProgramCheckError, ProgramTerms,
};

use crate::overlap::{self, OverlapParams};
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
    /// `(group, exact value)` in declared order.
    pub cells: Vec<(String, i64)>,
    /// How much one person can change the cells in total (L1).
    pub sensitivity: u64,
}

/// A program could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProgramError {
    /// The agreement's program is not built in (the agreement was not validated by this build).
    #[error("program {id} version {version} is not built into this runtime")]
    Unknown {
        /// Id.
        id: String,
        /// Version.
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
    /// Id.
    pub id: &'static str,
    /// Version.
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
        &[ProgramInfo {
            id: overlap::ID,
            version: overlap::VERSION,
            summary: "distinct people present in both datasets, per declared group of the left dataset",
            params: "left = \"owner/dataset\", right = \"owner/dataset\", group_column = \"column of left\", groups = [\"...\"]",
        }]
    }

    /// Runs the agreement's program over `tables`, found by `owner/name`.
    pub fn run<'t>(
        &self,
        agreement: &Agreement,
        tables: &dyn Fn(&str) -> Option<&'t Table>,
    ) -> Result<Vec<Aggregate>, ProgramError> {
        let p = &agreement.program;
        match (p.id.as_str(), p.version) {
            (overlap::ID, overlap::VERSION) => {
                let params = OverlapParams::check(&p.params, &agreement.datasets)
                    .map_err(ProgramError::BadParameters)?;
                let left = tables(&params.left)
                    .ok_or_else(|| ProgramError::MissingInput(params.left.clone()))?;
                let right = tables(&params.right)
                    .ok_or_else(|| ProgramError::MissingInput(params.right.clone()))?;
                Ok(vec![overlap::run(
                    &params,
                    left,
                    right,
                    agreement.privacy.max_groups_per_person,
                )?])
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
            _ => Err(ProgramCheckError::Unknown {
                id: program.id.clone(),
                version: program.version,
            }),
        }
    }
}
