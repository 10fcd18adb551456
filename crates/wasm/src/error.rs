//! Why a Wasm program could not run; every variant names the program.

/// A Wasm program failed; nothing it computed is released.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WasmError {
    /// The module's bytes are not the ones the agreement names.
    #[error(
        "Wasm program {program}: the module's SHA-256 is {actual}, the agreement names {expected}"
    )]
    DigestMismatch {
        /// The program's name.
        program: String,
        /// The agreement's digest.
        expected: String,
        /// The digest of the bytes given.
        actual: String,
    },
    /// The module does not compile or does not follow the ABI.
    #[error("Wasm program {program}: {reason}")]
    Invalid {
        /// The program's name.
        program: String,
        /// What is wrong.
        reason: String,
    },
    /// A call used up its fuel.
    #[error("Wasm program {program}: {export} ran out of fuel (limit: {fuel} per call)")]
    OutOfFuel {
        /// The program's name.
        program: String,
        /// The entry point.
        export: &'static str,
        /// The agreement's fuel per call.
        fuel: u64,
    },
    /// The guest asked for more memory than the agreement allows.
    #[error(
        "Wasm program {program}: {export} tried to grow its memory past the limit ({limit} bytes)"
    )]
    MemoryLimit {
        /// The program's name.
        program: String,
        /// The entry point.
        export: &'static str,
        /// The agreement's memory limit.
        limit: u64,
    },
    /// The guest trapped.
    #[error("Wasm program {program}: {export} trapped: {trap}")]
    Trap {
        /// The program's name.
        program: String,
        /// The entry point.
        export: &'static str,
        /// The trap.
        trap: String,
    },
    /// The guest answered something other than the ABI's numbers, or not as many as declared
    /// (for `contribute`, without saying how many: the guest chose that after seeing a person).
    #[error("Wasm program {program}: {export} returned {problem}")]
    BadAnswer {
        /// The program's name.
        program: String,
        /// The entry point.
        export: &'static str,
        /// What was wrong.
        problem: String,
    },
    /// The noise could not be sized, or the sums do not fit.
    #[error("Wasm program {program}: {reason}")]
    Noise {
        /// The program's name.
        program: String,
        /// What failed.
        reason: String,
    },
    /// An input table is missing or not as planned.
    #[error("Wasm program {program}: input {input}: {reason}")]
    Input {
        /// The program's name.
        program: String,
        /// The input.
        input: String,
        /// What was wrong.
        reason: String,
    },
}
