"""wasmi (the wasmi and wasmi_wasi crates, in a Rust runner process)."""
