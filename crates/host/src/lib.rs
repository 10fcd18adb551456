//! The operator's services: blob store, job runner and HTTP API.
//!
//! The host is untrusted. It stores ciphertext and metadata, starts one fresh
//! isolate process per job with only references to ciphertext, and stores the
//! sealed outputs and signed receipt the isolate hands back. It never holds a
//! dataset key or a plaintext row.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod blobs;
pub mod client;
pub mod jobs;
pub mod log_api;
pub mod programs;
pub mod refusal;
pub mod runner;
pub mod store;
mod upload;

pub use api::{Host, HostConfig, HostError};
pub use jobs::{JobRecord, JobStatus};
pub use refusal::HostRefusal;
pub use store::HostStore;
