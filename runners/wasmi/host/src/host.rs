//! Plan-defined host functions (runners/PROTOCOL.md, "Host functions").

use serde_json::{Value as Json, json};
use wasmi::{AsContext, Caller, Error, Memory, Val};

use crate::exec::{Failure, State, Stop, call, failure, stop};
use crate::values::{check_args, decode, encode_all, hex, hex_bytes, unsigned};

/// How deep host functions may re-enter the guest: each level holds about 4 KiB of the runner's
/// own (native) stack, and the plan thread's stack is sized for this many (main.rs). Deeper
/// nesting traps as `stack_overflow`, as it would once an engine's own wasm stack ran out.
pub const MAX_DEPTH: u32 = 1000;

fn host_error(msg: impl Into<String>) -> Error {
    stop(Stop::Host(msg.into()))
}

/// A plan-defined host function: record the call, run its ops, record the return.
pub fn host_call(
    caller: &mut Caller<'_, State>,
    spec: &Json,
    name: &str,
    params: &[Val],
    results: &mut [Val],
) -> Result<(), Error> {
    caller.data_mut().trace.push(json!({"ev": "import", "name": name, "args": encode_all(params)}));
    let mut last: Vec<Val> = Vec::new();
    let value = |caller: &Caller<'_, State>, x: &Json, last: &[Val]| -> Result<Val, Error> {
        if let Some(r) = x.get("ref") {
            let r = r.as_str().unwrap_or("");
            let bound = &caller.data().bound;
            bound
                .get(r)
                .cloned()
                .ok_or_else(|| host_error(format!("{name}: no earlier step bound the name {r:?}")))
        } else if let Some(n) = x.get("param").and_then(Json::as_u64) {
            params.get(n as usize).cloned().ok_or_else(|| host_error(format!("{name}: no param {n}")))
        } else if let Some(n) = x.get("result").and_then(Json::as_u64) {
            last.get(n as usize)
                .cloned()
                .ok_or_else(|| host_error(format!("{name}: result {n} of the last call is missing")))
        } else {
            decode(&x["value"]).map_err(host_error)
        }
    };
    for op in spec["do"].as_array().into_iter().flatten() {
        if let Some(export) = op.get("call").and_then(Json::as_str) {
            let args = op["args"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| value(caller, a, &last))
                .collect::<Result<Vec<_>, _>>()?;
            last = nested(caller, export, &args)?;
        } else if let Some(read) = op.get("read") {
            let ptr = unsigned(&value(caller, &read["ptr"], &last)?);
            let len = unsigned(&value(caller, &read["len"], &last)?);
            let data = read_bytes(memory(caller)?.data(&*caller), ptr, len).map_err(host_error)?;
            caller.data_mut().trace.push(json!({"ev": "read", "hex": hex(&data)}));
        } else if let Some(write) = op.get("write") {
            let ptr = unsigned(&value(caller, &write["ptr"], &last)?);
            let data = hex_bytes(write["hex"].as_str().unwrap_or("")).map_err(host_error)?;
            write_bytes(memory(caller)?.data_mut(&mut *caller), ptr, &data).map_err(host_error)?;
            caller.data_mut().trace.push(json!({"ev": "write", "len": data.len()}));
        } else {
            return Err(host_error(op["trap"].as_str().unwrap_or("trap")));
        }
    }
    let values = spec["return"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| value(caller, x, &last))
        .collect::<Result<Vec<_>, _>>()?;
    let types_match =
        values.len() == results.len() && values.iter().zip(&*results).all(|(v, r)| v.ty() == r.ty());
    if !types_match {
        return Err(host_error(format!("{name}: the return values do not match the declared results")));
    }
    results.clone_from_slice(&values);
    caller.data_mut().trace.push(json!({"ev": "import_return", "values": encode_all(&values)}));
    Ok(())
}

/// Re-enter an export of the calling instance from a host function.
fn nested(caller: &mut Caller<'_, State>, export: &str, args: &[Val]) -> Result<Vec<Val>, Error> {
    caller.data_mut().trace.push(json!({"ev": "export", "name": export, "args": encode_all(args)}));
    let instance = caller.data().instance.ok_or_else(|| host_error("no instance yet"))?;
    let func = instance
        .get_func(&*caller, export)
        .ok_or_else(|| host_error(format!("the guest has no function export {export:?}")))?;
    check_args(&func.ty(&*caller), args).map_err(host_error)?;
    if caller.data().depth >= MAX_DEPTH {
        return Err(stop(Stop::TooDeep(MAX_DEPTH)));
    }
    caller.data_mut().depth += 1;
    let result = call(caller, &func, args);
    caller.data_mut().depth -= 1;
    match result {
        Ok(out) => {
            caller.data_mut().trace.push(json!({"ev": "export_return", "values": encode_all(&out)}));
            Ok(out)
        }
        Err(e) => {
            let ev = match failure(&e, &caller.data().deadline) {
                Failure::Exit(code) => json!({"ev": "export_exit", "code": code}),
                Failure::Trap(kind) => json!({"ev": "export_trap", "kind": kind}),
            };
            caller.data_mut().trace.push(ev);
            Err(e) // returned by the host function, it reaches the outer call as it is
        }
    }
}

fn memory(caller: &Caller<'_, State>) -> Result<Memory, Error> {
    let instance = caller.data().instance.ok_or_else(|| host_error("no instance yet"))?;
    instance
        .get_memory(caller.as_context(), "memory")
        .ok_or_else(|| host_error("the guest exports no memory"))
}

/// `len` bytes of guest memory at `ptr`, or why not (the access is out of bounds).
pub fn read_bytes(mem: &[u8], ptr: u64, len: u64) -> Result<Vec<u8>, String> {
    Ok(mem[range(mem.len(), ptr, len)?].to_vec())
}

/// Store `data` in guest memory at `ptr`, or say why not (the access is out of bounds).
pub fn write_bytes(mem: &mut [u8], ptr: u64, data: &[u8]) -> Result<(), String> {
    let r = range(mem.len(), ptr, data.len() as u64)?;
    mem[r].copy_from_slice(data);
    Ok(())
}

fn range(size: usize, ptr: u64, len: u64) -> Result<std::ops::Range<usize>, String> {
    match ptr.checked_add(len) {
        Some(end) if end <= size as u64 => Ok(ptr as usize..end as usize),
        _ => Err(format!(
            "memory access [{ptr}, {}) is outside the {size}-byte memory",
            ptr.saturating_add(len)
        )),
    }
}
