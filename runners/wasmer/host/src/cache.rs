//! The in-memory compiled-module cache: least-recently-used modules are dropped past a byte
//! budget (`WASMEXPORT_MODULE_CACHE_MB`, default 256).
//!
//! Each entry owns the engine that compiled or deserialized it: a wasmer engine keeps the code
//! memory of every module it ever loaded until the engine itself is dropped, so a module shares
//! its engine with nothing but its own stores and evicting it returns its code to the system.
//!
//! An entry is charged its `Module::serialize` length (the disk cache file's size) times
//! `RSS_PER_SERIALIZED_BYTE`: a loaded module holds its serialized artifact (the cache file,
//! mapped) and a copy of its machine code, measured at about 1.3 × the serialized length for the
//! suite's Go modules.

use wasmer::{Engine, Module};
use wasmexport_runner_shared::lru::ByteLru;

/// Resident bytes per serialized byte of a loaded module (measured: see the module comment).
const RSS_PER_SERIALIZED_BYTE: f64 = 1.3;
pub const DEFAULT_BUDGET_MB: u64 = 256;

pub struct ModuleCache(ByteLru<(Module, Engine)>);

impl ModuleCache {
    /// A cache with the budget from `WASMEXPORT_MODULE_CACHE_MB`, else `default_mb` (None:
    /// unbounded).
    pub fn from_env(default_mb: Option<u64>) -> Self {
        ModuleCache(ByteLru::from_env(default_mb))
    }

    pub fn get(&mut self, key: &str) -> Option<(Module, Engine)> {
        self.0.get(key)
    }

    /// Keep a module whose serialized artifact is `serialized` bytes long.
    pub fn insert(&mut self, key: &str, module: Module, engine: Engine, serialized: u64) {
        self.0.insert(key, (module, engine), (serialized as f64 * RSS_PER_SERIALIZED_BYTE) as u64);
    }
}
