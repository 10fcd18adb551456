//! A guest module compiled once, and each call into it made in a fresh instance under the
//! agreement's fuel and memory caps, with nothing to import: no I/O, no clock, no randomness.

use wasmtime::{
    Config, Engine, ExternType, InstanceAllocationStrategy, InstancePre, Linker, Module,
    PoolingAllocationConfig, ResourceLimiter, Store, Trap,
};

use sealroom_guest::abi;

use crate::error::WasmError;

/// The most table elements a guest may have (function tables of compiled Rust are small).
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// What one call may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Fuel for one call (roughly, Wasm instructions).
    pub fuel_per_call: u64,
    /// Linear memory one instance may grow to, in bytes.
    pub memory_bytes: u64,
}

/// Caps an instance's memory and tables, and remembers a refused growth so that the trap it
/// causes is reported as the memory limit.
struct Limiter {
    memory_bytes: u64,
    refused: Option<u64>,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.memory_bytes {
            self.refused = Some(desired as u64);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        1
    }
}

/// A guest module, checked against the agreement's digest and the ABI, compiled, ready to be
/// instantiated afresh for every call.
pub struct GuestModule {
    name: String,
    limits: Limits,
    pre: InstancePre<Limiter>,
    has_contribute: bool,
    has_update: bool,
    has_analyze: bool,
}

impl std::fmt::Debug for GuestModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestModule")
            .field("name", &self.name)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// SHA-256 of a module's bytes, as agreements name it (lowercase hex).
pub fn module_digest(bytes: &[u8]) -> String {
    sealroom_core::program::sha256_hex(bytes)
}

/// Instance slots in the pool: one per worker thread, and spares for `init` and `update`.
const POOL_SLOTS: u32 = 8;

/// Linear memory kept mapped in a slot between instances, wiped with `memset` (the rest is
/// returned to the kernel, which zeroes it): a small guest's memory is reused without faults.
const KEEP_RESIDENT_BYTES: usize = 1 << 20;

/// The engine's settings: Cranelift, fuel metering, canonical NaNs (so a guest's results do not
/// depend on the CPU), no relaxed SIMD (whose results may), and instances from a pool of slots,
/// each slot's memory, tables and globals wiped before it is used again.
fn engine() -> Result<Engine, String> {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_core_instances(POOL_SLOTS)
        .total_memories(POOL_SLOTS)
        .total_tables(POOL_SLOTS)
        .max_memories_per_module(1)
        .max_tables_per_module(1)
        .table_elements(MAX_TABLE_ELEMENTS)
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        .table_keep_resident(KEEP_RESIDENT_BYTES);
    let mut config = Config::new();
    config
        .consume_fuel(true)
        .cranelift_nan_canonicalization(true)
        .wasm_relaxed_simd(false)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).map_err(|e| format!("the Wasm engine could not start: {e}"))
}

/// Whether a call into `export` has seen people's rows.
fn sees_data(export: &str) -> bool {
    export == abi::EXPORT_CONTRIBUTE || export == abi::EXPORT_ANALYZE
}

impl GuestModule {
    /// Checks `bytes` against the agreement's `digest` (before anything else), compiles them,
    /// and checks the ABI: no imports, the entry points with their types (`contribute`,
    /// `update` and `analyze` are each optional; the mode decides which it needs), and the ABI
    /// version ([`abi::ABI_VERSION`]).
    pub fn compile(
        name: &str,
        bytes: &[u8],
        digest: &str,
        limits: Limits,
    ) -> Result<Self, WasmError> {
        let actual = module_digest(bytes);
        if actual != digest {
            return Err(WasmError::DigestMismatch {
                program: name.into(),
                expected: digest.into(),
                actual,
            });
        }
        let invalid = |reason: String| WasmError::Invalid {
            program: name.into(),
            reason,
        };
        let engine = engine().map_err(invalid)?;
        let module = Module::new(&engine, bytes)
            .map_err(|e| invalid(format!("the module does not compile: {e:#}")))?;
        if let Some(import) = module.imports().next() {
            return Err(invalid(format!(
                "the module imports {}::{}; a guest may import nothing",
                import.module(),
                import.name()
            )));
        }
        let export = |n: &str| module.get_export(n);
        match export("memory") {
            Some(ExternType::Memory(m)) if !m.is_64() && !m.is_shared() => {}
            _ => {
                return Err(invalid(
                    "the module exports no 32-bit memory named \"memory\"".into(),
                ));
            }
        }
        let func = |n: &str, params: usize, results: usize| match export(n) {
            Some(ExternType::Func(f)) => f.params().len() == params && f.results().len() == results,
            _ => false,
        };
        for (entry, params) in [
            (abi::EXPORT_ABI_VERSION, 0),
            (abi::EXPORT_INPUT, 1),
            (abi::EXPORT_INIT, 0),
        ] {
            if !func(entry, params, 1) {
                return Err(invalid(format!(
                    "the module does not export {entry} with {params} parameter(s) and one result"
                )));
            }
        }
        let optional = |entry: &str| {
            let exported = export(entry).is_some();
            if exported && !func(entry, 0, 1) {
                return Err(invalid(format!(
                    "{entry} takes no parameter and returns one result"
                )));
            }
            Ok(exported)
        };
        let has_contribute = optional(abi::EXPORT_CONTRIBUTE)?;
        let has_update = optional(abi::EXPORT_UPDATE)?;
        let has_analyze = optional(abi::EXPORT_ANALYZE)?;
        let pre = Linker::new(&engine)
            .instantiate_pre(&module)
            .map_err(|e| invalid(format!("the module cannot be instantiated: {e:#}")))?;
        let guest = Self {
            name: name.into(),
            limits,
            pre,
            has_contribute,
            has_update,
            has_analyze,
        };
        let version = guest
            .with_instance(abi::EXPORT_ABI_VERSION, |store, instance| {
                instance
                    .get_typed_func::<(), i32>(&mut *store, abi::EXPORT_ABI_VERSION)?
                    .call(&mut *store, ())
            })
            .map_err(|e| invalid(format!("the module cannot start: {e}")))?;
        if version != abi::ABI_VERSION {
            return Err(invalid(format!(
                "the module speaks ABI version {version}; this runtime speaks {}",
                abi::ABI_VERSION
            )));
        }
        Ok(guest)
    }

    /// The program's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the module exports `sealroom_update`.
    pub fn has_update(&self) -> bool {
        self.has_update
    }

    /// Whether the module exports `export` (`sealroom_contribute`, `sealroom_update` or
    /// `sealroom_analyze`; the required entry points always).
    pub fn exports(&self, export: &str) -> bool {
        match export {
            abi::EXPORT_CONTRIBUTE => self.has_contribute,
            abi::EXPORT_UPDATE => self.has_update,
            abi::EXPORT_ANALYZE => self.has_analyze,
            abi::EXPORT_ABI_VERSION | abi::EXPORT_INPUT | abi::EXPORT_INIT => true,
            _ => false,
        }
    }

    /// Calls entry point `export` with `input` in a fresh instance and returns the numbers it
    /// answers. Nothing of the instance outlives the call.
    pub fn call(&self, export: &'static str, input: &[u8]) -> Result<Vec<f64>, WasmError> {
        let bytes = self.with_instance(export, |store, instance| {
            let memory = instance
                .get_memory(&mut *store, "memory")
                .ok_or_else(|| wasmtime::Error::msg("no memory"))?;
            let len = i32::try_from(input.len())
                .map_err(|_| wasmtime::Error::msg("the input is over 2 GiB"))?;
            let address = instance
                .get_typed_func::<i32, i32>(&mut *store, abi::EXPORT_INPUT)?
                .call(&mut *store, len)?;
            memory.write(&mut *store, address as u32 as usize, input)?;
            let packed = instance
                .get_typed_func::<(), i64>(&mut *store, export)?
                .call(&mut *store, ())?;
            let (address, len) = abi::unpack(packed);
            let (start, len) = (address as usize, len as usize);
            // Checked before anything is allocated: a guest cannot make the isolate reserve
            // gigabytes by answering a large length.
            let inside = start
                .checked_add(len)
                .is_some_and(|end| end <= memory.data_size(&*store));
            Ok(inside.then(|| memory.data(&*store)[start..start + len].to_vec()))
        })?;
        let bytes = bytes.ok_or_else(|| WasmError::BadAnswer {
            program: self.name.clone(),
            export,
            problem: "an answer outside its memory".into(),
        })?;
        let mut reader = abi::Reader::new(&bytes);
        let numbers = reader
            .f64s("answer")
            .and_then(|n| reader.finish().map(|()| n));
        numbers.map_err(|e| WasmError::BadAnswer {
            program: self.name.clone(),
            export,
            // Where a contribution's answer went wrong is the guest's choice, made after seeing
            // a person's rows: it is not repeated.
            problem: if sees_data(export) {
                "an answer that is not a list of numbers".into()
            } else {
                e.to_string()
            },
        })
    }

    /// Runs `f` in a fresh store and instance with a full tank of fuel, and names the limit
    /// that stopped it, if any.
    fn with_instance<R>(
        &self,
        export: &'static str,
        f: impl FnOnce(&mut Store<Limiter>, &wasmtime::Instance) -> wasmtime::Result<R>,
    ) -> Result<R, WasmError> {
        let mut store = Store::new(
            self.pre.module().engine(),
            Limiter {
                memory_bytes: self.limits.memory_bytes,
                refused: None,
            },
        );
        store.limiter(|limiter| limiter);
        let result = store
            .set_fuel(self.limits.fuel_per_call)
            .and_then(|()| self.pre.instantiate(&mut store))
            .and_then(|instance| f(&mut store, &instance));
        result.map_err(|error| self.stopped(export, store.data().refused, &error))
    }

    /// What stopped a call. Running out of fuel comes first (a refused growth the guest
    /// survived is not what stopped it). For `contribute` and `analyze`, which have seen rows, the
    /// error names only the limit or the kind of trap, never a number the guest chose.
    fn stopped(
        &self,
        export: &'static str,
        refused: Option<u64>,
        error: &wasmtime::Error,
    ) -> WasmError {
        let program = self.name.clone();
        let trap = error.downcast_ref::<Trap>();
        if trap == Some(&Trap::OutOfFuel) {
            return WasmError::OutOfFuel {
                program,
                export,
                fuel: self.limits.fuel_per_call,
            };
        }
        if refused.is_some() {
            return WasmError::MemoryLimit {
                program,
                export,
                limit: self.limits.memory_bytes,
            };
        }
        let trap = match trap {
            // A trap code's text is fixed (no addresses or sizes).
            Some(trap) => trap.to_string(),
            None if sees_data(export) => "an error outside its code".into(),
            None => format!("{error:#}"),
        };
        WasmError::Trap {
            program,
            export,
            trap,
        }
    }
}
