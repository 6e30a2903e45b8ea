//! What the Rust runners (runners/wasmer/host, runners/wasmi/host) share, engine-independent:
//! the bench loop over a file of plans and the byte-bounded least-recently-used module cache.

pub mod bench;
pub mod lru;
pub mod protocol;
