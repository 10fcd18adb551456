//! The isolate's WebAssembly engine: a party's program, named in the agreement by digest, runs
//! under fuel and memory caps with nothing to import. In the per-person mode it runs once per
//! person in a fresh instance, and what it contributes is clamped, summed and noised by the
//! platform, so what leaves is differentially private whatever the guest does. In the vetted
//! mode it sees the whole joined tables, and its answer is noised at the sensitivity the
//! agreement states and every input owner vouched for.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod clamp;
pub mod engine;
pub mod error;
mod joined;
pub mod per_person;
pub mod release;
pub mod vetted;

pub use engine::{GuestModule, Limits, module_digest};
pub use error::WasmError;
pub use per_person::{GuestRun, RoundNoise, initial_state, run_per_person};
pub use vetted::run_vetted;
