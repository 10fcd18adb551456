//! Built-in analyses as pure functions over typed tables.
//!
//! Programs have no I/O and no randomness of their own: they turn input
//! tables into exact aggregates with a declared sensitivity, and the isolate
//! adds noise. Tables come from `sealroom-tables`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod attribution;
pub mod catalog;
pub mod columns;
pub mod lift;
pub mod matching;
pub mod overlap;
pub mod people;
pub mod program;
pub mod reach;
pub mod result;
pub mod sum;
pub mod wasm;

pub use catalog::{BuiltinCatalog, ProgramError};
pub use program::{Params, Plan, Program, ProgramInfo, REGISTRY, checked_inputs};
pub use result::{Measure, ProgramResult, ResultRow, ResultTable};
pub use sealroom_tables::{PersonKey, Table, TableError};
