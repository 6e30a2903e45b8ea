//! The in-memory compiled-module cache: least-recently-used modules are dropped past a byte
//! budget (`WASMEXPORT_MODULE_CACHE_MB`, default 256).
//!
//! Each module is compiled by an engine of its own: a wasmi engine keeps every function it ever
//! translated in its code map until the engine itself is dropped, so a module shares its engine
//! with nothing but its own stores and evicting it returns its code to the system.
//!
//! An entry is charged `RSS_PER_WASM_BYTE` times the size of its `.wasm` file: a loaded module
//! holds the bodies of its functions (validated at load, translated on first call) and, once
//! translated, their wasmi bytecode. Measured: the suite's 124 Go modules (278 MiB of `.wasm`),
//! each run once and all kept, left the runner at 601 MiB resident.

use serde_json::Value as Json;
use wasmexport_runner_shared::lru::ByteLru;
use wasmi::Module;

/// Resident bytes per `.wasm` byte of a loaded and used module (see the module comment).
const RSS_PER_WASM_BYTE: f64 = 2.2;
pub const DEFAULT_BUDGET_MB: u64 = 256;

/// A compiled module and its reflected sections.
#[derive(Clone)]
pub struct Compiled {
    pub module: Module,
    pub exports: Json,
    pub imports: Json,
}

pub struct ModuleCache(ByteLru<Compiled>);

impl ModuleCache {
    /// A cache with the budget from `WASMEXPORT_MODULE_CACHE_MB`, else `default_mb` (None:
    /// unbounded).
    pub fn from_env(default_mb: Option<u64>) -> Self {
        ModuleCache(ByteLru::from_env(default_mb))
    }

    pub fn get(&mut self, key: &str) -> Option<Compiled> {
        self.0.get(key)
    }

    /// Drop a module (its plan panicked inside the engine, which may have left it unusable).
    pub fn forget(&mut self, key: &str) {
        self.0.remove(key);
    }

    /// Keep a module compiled from `wasm_len` bytes.
    pub fn insert(&mut self, key: &str, compiled: Compiled, wasm_len: u64) {
        self.0.insert(key, compiled, (wasm_len as f64 * RSS_PER_WASM_BYTE) as u64);
    }
}
