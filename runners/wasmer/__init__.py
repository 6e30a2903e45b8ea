"""Wasmer (the wasmer and wasmer-wasix crates, in a Rust runner process)."""
