//! `wasmexport-wasmer-runner`: the wasmer runner with Cranelift and Singlepass (the crate docs).

fn main() {
    wasmexport_wasmer_runner::main();
}
