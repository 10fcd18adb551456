//! Typed columnar tables and the sealed dataset payload.
//!
//! Owners write a dataset as an Arrow IPC stream typed by its schema ([`PayloadWriter`]); the
//! isolate decodes it batch by batch into a [`Table`] ([`read_payload`]), and both run the same
//! check of every row against the schema ([`check_batch`]). Programs read tables column by
//! column. This crate is inside the trusted computing base: it depends on the Arrow array and
//! IPC crates only (no compression codecs, no Parquet).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod payload;
pub mod table;

pub use arrow_array::RecordBatch;
pub use error::TableError;
pub use payload::{
    CONTENT_TYPE, PayloadWriter, arrow_schema, check_batch, check_owner_batch, read_payload,
    read_payload_sized,
};
pub use table::{
    BoolColumn, Cell, ColumnData, NumberColumn, PersonColumn, PersonKey, Table, TextColumn,
};

#[cfg(test)]
mod tests;
