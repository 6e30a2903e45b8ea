//! A least-recently-used map bounded by a byte budget (`WASMEXPORT_MODULE_CACHE_MB`, default
//! given by the runner): each entry is charged the bytes its runner measures a loaded module to
//! hold, and inserting past the budget evicts the least recently used others.

use std::collections::HashMap;

struct Entry<T> {
    value: T,
    bytes: u64,
    used: u64,
}

pub struct ByteLru<T> {
    budget: u64,
    held: u64,
    clock: u64,
    entries: HashMap<String, Entry<T>>,
}

impl<T: Clone> ByteLru<T> {
    /// A cache with the budget from `WASMEXPORT_MODULE_CACHE_MB` (a whole number of MiB), else
    /// `default_mb` (None: unbounded).
    pub fn from_env(default_mb: Option<u64>) -> Self {
        let mb = std::env::var("WASMEXPORT_MODULE_CACHE_MB").ok().and_then(|v| v.trim().parse::<u64>().ok());
        let budget = mb.or(default_mb).map_or(u64::MAX, |mb| mb.saturating_mul(1 << 20));
        ByteLru { budget, held: 0, clock: 0, entries: HashMap::new() }
    }

    pub fn get(&mut self, key: &str) -> Option<T> {
        self.clock += 1;
        let e = self.entries.get_mut(key)?;
        e.used = self.clock;
        Some(e.value.clone())
    }

    /// Keep `value` charged `bytes`, then evict least-recently-used others until the cache fits
    /// its budget. The new entry stays even when it alone exceeds the budget: the plan that
    /// loaded it needs it, and the next insertion evicts it.
    pub fn insert(&mut self, key: &str, value: T, bytes: u64) {
        self.clock += 1;
        if let Some(old) = self.entries.insert(key.to_string(), Entry { value, bytes, used: self.clock }) {
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

    pub fn remove(&mut self, key: &str) {
        if let Some(e) = self.entries.remove(key) {
            self.held -= e.bytes;
        }
    }
}
