//! `wasmexport-wasmer-llvm-runner`: the wasmer runner built with the `llvm` feature, which adds
//! wasmer's LLVM compiler (`--compiler llvm`) to Cranelift and Singlepass (the crate docs).

fn main() {
    wasmexport_wasmer_runner::main();
}
