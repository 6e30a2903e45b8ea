//! Traps and plan-defined host functions (runners/PROTOCOL.md, "Host functions").

use serde_json::{Value as Json, json};
use wasmer::{AsStoreMut, FunctionEnvMut, Instance, Memory, MemoryView, RuntimeError, Value};
use wasmer_middlewares::metering::{MeteringPoints, get_remaining_points};
use wasmer_types::TrapCode;
use wasmer_wasix::WasiError;

use crate::values::{Bindings, check_args, decode, encode_all, hex, hex_bytes, unsigned};

/// A host function failing on purpose (the `trap` op) or on a bad memory access.
#[derive(Debug)]
struct HostTrap(String);

impl std::fmt::Display for HostTrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HostTrap {}

fn host_trap(msg: impl Into<String>) -> RuntimeError {
    RuntimeError::user(Box::new(HostTrap(msg.into())))
}

/// How a failed call ended.
pub enum Failure {
    Exit(i32),
    Trap(&'static str),
}

/// Classify a call's error; `out_of_fuel` is a metering trap (Metering stops the guest with
/// `unreachable` after marking its points exhausted).
pub fn failure(
    err: &RuntimeError,
    store: &mut impl AsStoreMut,
    instance: Option<&Instance>,
    fuel: bool,
) -> Failure {
    if let Some(WasiError::Exit(code)) = err.downcast_ref::<WasiError>() {
        return Failure::Exit(code.raw());
    }
    if err.downcast_ref::<HostTrap>().is_some() {
        return Failure::Trap("host_error");
    }
    let kind = match err.clone().to_trap() {
        Some(TrapCode::StackOverflow) => "stack_overflow",
        Some(TrapCode::HeapAccessOutOfBounds) => "memory_out_of_bounds",
        Some(TrapCode::IntegerOverflow) => "integer_overflow",
        Some(TrapCode::IntegerDivisionByZero) => "integer_divide_by_zero",
        Some(TrapCode::BadConversionToInteger) => "invalid_conversion",
        Some(TrapCode::IndirectCallToNull | TrapCode::BadSignature) => "indirect_call",
        Some(TrapCode::HostInterrupt) => "timeout",
        Some(TrapCode::UnreachableCodeReached) => match instance {
            Some(i) if fuel && matches!(get_remaining_points(store, i), MeteringPoints::Exhausted) => {
                "out_of_fuel"
            }
            _ => "unreachable",
        },
        _ => "other",
    };
    Failure::Trap(kind)
}

// -- host functions --------------------------------------------------------------------------

/// The state host functions share with the runner: the instance to re-enter, the current
/// step's trace and the values steps bound so far.
pub struct Host {
    pub instance: Option<Instance>,
    pub trace: Vec<Json>,
    pub fuel: bool,
    pub bound: Bindings,
}

/// A plan-defined host function: record the call, run its ops, record the return.
pub fn host_call(
    env: &mut FunctionEnvMut<Host>,
    spec: &Json,
    name: &str,
    params: &[Value],
) -> Result<Vec<Value>, RuntimeError> {
    env.data_mut().trace.push(json!({"ev": "import", "name": name,
                                     "args": encode_all(params)}));
    let mut last: Vec<Value> = Vec::new();
    let value = |env: &FunctionEnvMut<Host>, x: &Json, last: &[Value]| -> Result<Value, RuntimeError> {
        if let Some(r) = x.get("ref") {
            let r = r.as_str().unwrap_or("");
            env.data()
                .bound
                .get(r)
                .cloned()
                .ok_or_else(|| host_trap(format!("{name}: no earlier step bound the name {r:?}")))
        } else if let Some(n) = x.get("param").and_then(Json::as_u64) {
            params.get(n as usize).cloned().ok_or_else(|| host_trap(format!("{name}: no param {n}")))
        } else if let Some(n) = x.get("result").and_then(Json::as_u64) {
            last.get(n as usize)
                .cloned()
                .ok_or_else(|| host_trap(format!("{name}: result {n} of the last call is missing")))
        } else {
            decode(&x["value"]).map_err(host_trap)
        }
    };
    for op in spec["do"].as_array().into_iter().flatten() {
        if let Some(export) = op.get("call").and_then(Json::as_str) {
            let args = op["args"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| value(env, a, &last))
                .collect::<Result<Vec<_>, _>>()?;
            last = nested(env, export, &args)?;
        } else if let Some(read) = op.get("read") {
            let ptr = unsigned(&value(env, &read["ptr"], &last)?);
            let len = unsigned(&value(env, &read["len"], &last)?);
            let buf = read_bytes(&memory(env)?.view(env), ptr, len).map_err(host_trap)?;
            env.data_mut().trace.push(json!({"ev": "read", "hex": hex(&buf)}));
        } else if let Some(write) = op.get("write") {
            let ptr = unsigned(&value(env, &write["ptr"], &last)?);
            let data = hex_bytes(write["hex"].as_str().unwrap_or("")).map_err(host_trap)?;
            write_bytes(&memory(env)?.view(env), ptr, &data).map_err(host_trap)?;
            env.data_mut().trace.push(json!({"ev": "write", "len": data.len()}));
        } else {
            return Err(host_trap(op["trap"].as_str().unwrap_or("trap").to_string()));
        }
    }
    let results = spec["return"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| value(env, x, &last))
        .collect::<Result<Vec<_>, _>>()?;
    env.data_mut().trace.push(json!({"ev": "import_return",
                                     "values": encode_all(&results)}));
    Ok(results)
}

/// Re-enter an export of the calling instance from a host function.
fn nested(env: &mut FunctionEnvMut<Host>, export: &str, args: &[Value]) -> Result<Vec<Value>, RuntimeError> {
    env.data_mut().trace.push(json!({"ev": "export", "name": export,
                                     "args": encode_all(args)}));
    let instance = env.data().instance.clone().ok_or_else(|| host_trap("no instance yet"))?;
    let func = instance
        .exports
        .get_function(export)
        .map_err(|_| host_trap(format!("the guest has no function export {export:?}")))?
        .clone();
    check_args(&func.ty(env), args).map_err(host_trap)?;
    match func.call(env, args) {
        Ok(out) => {
            env.data_mut().trace.push(json!({"ev": "export_return",
                                             "values": encode_all(&out)}));
            Ok(out.into_vec())
        }
        Err(e) => {
            let fuel = env.data().fuel;
            let ev = match failure(&e, env, Some(&instance), fuel) {
                Failure::Exit(code) => json!({"ev": "export_exit", "code": code}),
                Failure::Trap(kind) => json!({"ev": "export_trap", "kind": kind}),
            };
            env.data_mut().trace.push(ev);
            Err(e) // wasmer hands a RuntimeError returned by a host function to the caller as is
        }
    }
}

fn memory(env: &FunctionEnvMut<Host>) -> Result<Memory, RuntimeError> {
    env.data()
        .instance
        .as_ref()
        .and_then(|i| i.exports.get_memory("memory").ok().cloned())
        .ok_or_else(|| host_trap("the guest exports no memory"))
}

/// `len` bytes of guest memory at `ptr`, or why not (the access is out of bounds).
pub fn read_bytes(view: &MemoryView, ptr: u64, len: u64) -> Result<Vec<u8>, String> {
    in_bounds(view, ptr, len)?;
    let mut buf = vec![0u8; len as usize];
    view.read(ptr, &mut buf).map_err(|_| out_of_bounds(view, ptr, len))?;
    Ok(buf)
}

/// Store `data` in guest memory at `ptr`, or say why not (the access is out of bounds).
pub fn write_bytes(view: &MemoryView, ptr: u64, data: &[u8]) -> Result<(), String> {
    in_bounds(view, ptr, data.len() as u64)?;
    view.write(ptr, data).map_err(|_| out_of_bounds(view, ptr, data.len() as u64))
}

fn in_bounds(view: &MemoryView, ptr: u64, len: u64) -> Result<(), String> {
    match ptr.checked_add(len) {
        Some(end) if end <= view.data_size() => Ok(()),
        _ => Err(out_of_bounds(view, ptr, len)),
    }
}

fn out_of_bounds(view: &MemoryView, ptr: u64, len: u64) -> String {
    format!(
        "memory access [{ptr}, {}) is outside the {}-byte memory",
        ptr.saturating_add(len),
        view.data_size()
    )
}
