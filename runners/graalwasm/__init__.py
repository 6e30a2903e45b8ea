"""GraalWasm (Maven Central polyglot + wasm artifacts, in a Java runner process)."""
