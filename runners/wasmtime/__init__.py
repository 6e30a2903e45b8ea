"""wasmtime (wasmtime-py, in a runner process)."""
