//! The isolate's WebAssembly engine: a party's program, named in the agreement by digest, runs
//! once per person in a fresh instance under fuel and memory caps, and what it contributes is
//! clamped, summed and noised by the platform, so what leaves is differentially private whatever
//! the guest does.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod clamp;
pub mod engine;
pub mod error;
pub mod per_person;
pub mod release;

pub use engine::{GuestModule, Limits, module_digest};
pub use error::WasmError;
pub use per_person::{PerPersonRun, RoundNoise, initial_state, run_per_person};
