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

use std::collections::HashMap;

use wasmer::{Engine, Module};

/// Resident bytes per serialized byte of a loaded module (measured: see the module comment).
const RSS_PER_SERIALIZED_BYTE: f64 = 1.3;
pub const DEFAULT_BUDGET_MB: u64 = 256;

struct Entry {
    module: Module,
    engine: Engine,
    bytes: u64,
    used: u64,
}

pub struct ModuleCache {
    budget: u64,
    held: u64,
    clock: u64,
    entries: HashMap<String, Entry>,
}

impl ModuleCache {
    /// A cache with the budget from `WASMEXPORT_MODULE_CACHE_MB` (a whole number of MiB), else
    /// `default_mb` (None: unbounded).
    pub fn from_env(default_mb: Option<u64>) -> Self {
        let mb = std::env::var("WASMEXPORT_MODULE_CACHE_MB").ok().and_then(|v| v.trim().parse::<u64>().ok());
        let budget = mb.or(default_mb).map_or(u64::MAX, |mb| mb.saturating_mul(1 << 20));
        ModuleCache { budget, held: 0, clock: 0, entries: HashMap::new() }
    }

    pub fn get(&mut self, key: &str) -> Option<(Module, Engine)> {
        self.clock += 1;
        let e = self.entries.get_mut(key)?;
        e.used = self.clock;
        Some((e.module.clone(), e.engine.clone()))
    }

    /// Keep a module charged `serialized` bytes, then evict least-recently-used others until the
    /// cache fits its budget. The new module stays even when it alone exceeds the budget: the
    /// plan that loaded it needs it, and the next insertion evicts it.
    pub fn insert(&mut self, key: &str, module: Module, engine: Engine, serialized: u64) {
        self.clock += 1;
        let bytes = (serialized as f64 * RSS_PER_SERIALIZED_BYTE) as u64;
        let entry = Entry { module, engine, bytes, used: self.clock };
        if let Some(old) = self.entries.insert(key.to_string(), entry) {
            self.held -= old.bytes;
        }
        self.held += bytes;
        while self.held > self.budget {
            let oldest = self
                .entries
                .iter()
                .filter(|(k, _)| k.as_str() != key)
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone());
            let Some(oldest) = oldest else { break };
            if let Some(e) = self.entries.remove(&oldest) {
                self.held -= e.bytes;
            }
        }
    }
}
