//! Built-in analyses as pure functions over typed tables.
//!
//! Programs have no I/O and no randomness of their own: they turn input
//! tables into exact aggregates with a declared sensitivity, and the isolate
//! adds noise. [`csv_input`] reads CSV from any byte stream into typed rows.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod catalog;
pub mod csv_input;
pub mod matching;
pub mod overlap;
pub mod program;
pub mod sum;
pub mod table;

pub use catalog::{Aggregate, BuiltinCatalog, ProgramError};
pub use program::{Params, Plan, Program, ProgramInfo, REGISTRY, checked_inputs};
pub use table::{Table, TableError, Value};
