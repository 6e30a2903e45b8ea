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

use std::collections::HashMap;

use serde_json::Value as Json;
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

struct Entry {
    compiled: Compiled,
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

    pub fn get(&mut self, key: &str) -> Option<Compiled> {
        self.clock += 1;
        let e = self.entries.get_mut(key)?;
        e.used = self.clock;
        Some(e.compiled.clone())
    }

    /// Drop a module (its plan panicked inside the engine, which may have left it unusable).
    pub fn forget(&mut self, key: &str) {
        if let Some(e) = self.entries.remove(key) {
            self.held -= e.bytes;
        }
    }

    /// Keep a module compiled from `wasm_len` bytes, then evict least-recently-used others until
    /// the cache fits its budget. The new module stays even when it alone exceeds the budget:
    /// the plan that loaded it needs it, and the next insertion evicts it.
    pub fn insert(&mut self, key: &str, compiled: Compiled, wasm_len: u64) {
        self.clock += 1;
        let bytes = (wasm_len as f64 * RSS_PER_WASM_BYTE) as u64;
        if let Some(old) = self.entries.insert(key.to_string(), Entry { compiled, bytes, used: self.clock }) {
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
