//! One plan: compile, reflect the exports and imports, link WASI and the host functions,
//! instantiate, run the steps (calls, and writes and reads of the exported memory), forget
//! everything.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value as Json, json};
use wasmi::{Caller, Error, FuncType, Instance, Linker, Module, Store, StoreLimitsBuilder, Val};
use wasmi_wasi::wasi_common::pipe::{ReadPipe, WritePipe};
use wasmi_wasi::wasi_common::sync::{clocks_ctx, random_ctx};
use wasmi_wasi::wasi_common::{Table, WasiCtx};

use crate::capture::Capture;
use crate::exec::{Failure, INSTANTIATE_FUEL, State, call, failure, grant};
use crate::host::{host_call, read_bytes, write_bytes};
use crate::sched::{Deadline, StepSched};
use crate::values::{address, check_args, encode_all, hex_bytes, operand, parse_type};
use crate::{PROTOCOL, Runner};

/// What a runner keeps of each stream per step when a plan does not say.
const DEFAULT_OUTPUT_BYTES: u64 = 1 << 20;
const DEFAULT_TIMEOUT_MS: u64 = 10_000;

pub fn execute(runner: &mut Runner, plan: &Json) -> Result<Json, String> {
    let mut obs = json!({"type": "observation", "protocol": PROTOCOL, "id": plan["id"],
                         "exports": null, "imports": null, "steps": []});
    let path = plan["module"]["path"].as_str().ok_or("plan without module.path")?;
    let sha = plan["module"]["sha256"].as_str().ok_or("plan without module.sha256")?;
    let compiled = match runner.module(path, sha) {
        Ok(m) => m,
        Err(message) => {
            obs["load"] = json!({"ok": false, "stage": "compile", "message": message});
            return Ok(obs);
        }
    };
    obs["exports"] = compiled.exports.clone();
    obs["imports"] = compiled.imports.clone();
    let output_bytes = plan["limits"]["output_bytes"].as_u64().unwrap_or(DEFAULT_OUTPUT_BYTES);
    let (stdout, stderr) = (Capture::new(output_bytes), Capture::new(output_bytes));
    let mut store = match new_store(&compiled.module, plan, &stdout, &stderr) {
        Ok(s) => s,
        Err(message) => {
            obs["load"] = json!({"ok": false, "stage": "instantiate", "message": message});
            return Ok(obs);
        }
    };
    let instance = match instantiate(&mut store, &compiled.module, plan) {
        Ok(i) => i,
        Err(message) => {
            obs["load"] = json!({"ok": false, "stage": "instantiate", "message": message});
            return Ok(obs);
        }
    };
    obs["load"] = json!({"ok": true});
    let mut run = Run { store, instance, stdout, stderr };
    obs["steps"] = plan["steps"].as_array().into_iter().flatten().map(|s| run.step(s)).collect();
    Ok(obs)
}

/// A store for one plan: WASI with exactly the plan's args, env (in its order) and stdin, the
/// captured streams, no directories; linear memory capped at `limits.memory_bytes`.
fn new_store(
    module: &Module,
    plan: &Json,
    stdout: &Capture,
    stderr: &Capture,
) -> Result<Store<State>, String> {
    let deadline = Arc::new(Deadline::default());
    let sched = Box::new(StepSched(deadline.clone()));
    let mut wasi = WasiCtx::new(random_ctx(), clocks_ctx(), sched, Table::new());
    for arg in plan["wasi"]["args"].as_array().into_iter().flatten() {
        wasi.push_arg(arg.as_str().unwrap_or("")).map_err(|e| e.to_string())?;
    }
    for kv in plan["wasi"]["env"].as_array().into_iter().flatten() {
        wasi.push_env(kv[0].as_str().unwrap_or(""), kv[1].as_str().unwrap_or(""))
            .map_err(|e| e.to_string())?;
    }
    let stdin = BASE64
        .decode(plan["wasi"]["stdin_b64"].as_str().unwrap_or(""))
        .map_err(|e| format!("bad wasi.stdin_b64: {e}"))?;
    // a read pipe: reads return its bytes, then 0 (end of file), never block
    wasi.set_stdin(Box::new(ReadPipe::from(stdin)));
    wasi.set_stdout(Box::new(WritePipe::new(stdout.clone())));
    wasi.set_stderr(Box::new(WritePipe::new(stderr.clone())));
    let limit = plan["limits"]["memory_bytes"].as_u64().unwrap_or(1 << 32);
    let limits = StoreLimitsBuilder::new().memory_size(usize::try_from(limit).unwrap_or(usize::MAX)).build();
    let state = State {
        wasi,
        limits,
        instance: None,
        trace: Vec::new(),
        bound: Default::default(),
        deadline,
        budget: plan["limits"]["fuel"].as_u64(),
        granted: 0,
        depth: 0,
    };
    let mut store = Store::new(module.engine(), state);
    store.limiter(|s| &mut s.limits);
    Ok(store)
}

/// Link WASI preview1 and the plan's host functions, and instantiate (which runs a start
/// function, if the module has one; neither `_initialize` nor `_start` is called here).
fn instantiate(store: &mut Store<State>, module: &Module, plan: &Json) -> Result<Instance, String> {
    let mut linker = Linker::<State>::new(module.engine());
    wasmi_wasi::add_to_linker(&mut linker, |s: &mut State| &mut s.wasi).map_err(|e| e.to_string())?;
    // a plan's host function replaces a WASI function of the same name
    linker.allow_shadowing(true);
    for spec in plan["imports"].as_array().into_iter().flatten() {
        let (m, n) = (spec["module"].as_str().unwrap_or(""), spec["name"].as_str().unwrap_or(""));
        let types =
            |k: &str| spec[k].as_array().into_iter().flatten().map(parse_type).collect::<Result<Vec<_>, _>>();
        let ty = FuncType::new(types("params")?, types("results")?);
        let (spec, name) = (spec.clone(), format!("{m}.{n}"));
        let func = move |mut caller: Caller<'_, State>, params: &[Val], results: &mut [Val]| {
            host_call(&mut caller, &spec, &name, params, results)
        };
        linker.func_new(m, n, ty, func).map_err(|e| e.to_string())?;
    }
    // a start function runs now, on a fuel grant of its own (no step deadline applies)
    grant(store, INSTANTIATE_FUEL, 0).map_err(|e| e.to_string())?;
    let instance = linker.instantiate_and_start(&mut *store, module).map_err(|e| e.to_string())?;
    store.data_mut().instance = Some(instance);
    Ok(instance)
}

/// The state of one instantiated plan: store, instance, captured streams.
struct Run {
    store: Store<State>,
    instance: Instance,
    stdout: Capture,
    stderr: Capture,
}

impl Run {
    fn step(&mut self, step: &Json) -> Json {
        self.store.data_mut().trace.clear();
        let timeout = Duration::from_millis(step["timeout_ms"].as_u64().unwrap_or(DEFAULT_TIMEOUT_MS));
        let started = Instant::now();
        let mut out = if let Some(write) = step.get("write") {
            self.write(write)
        } else if let Some(read) = step.get("read") {
            self.read(read)
        } else {
            self.call(step["call"].as_str().unwrap_or(""), step, started + timeout, timeout)
        };
        out["duration_ms"] = json!(started.elapsed().as_secs_f64() * 1000.0);
        self.stdout.report(&mut out, "stdout");
        self.stderr.report(&mut out, "stderr");
        out["trace"] = Json::Array(std::mem::take(&mut self.store.data_mut().trace));
        out
    }

    /// A write step: the bytes into the exported memory (no wasm runs, so no timeout applies).
    fn write(&mut self, write: &Json) -> Json {
        let bound = &self.store.data().bound;
        let target = address(&write["ptr"], bound)
            .and_then(|ptr| Ok((ptr, hex_bytes(write["hex"].as_str().ok_or("a write step without hex")?)?)));
        let (ptr, data) = match target {
            Ok(t) => t,
            Err(e) => return json!({"outcome": "error", "message": e}),
        };
        match self.instance.get_memory(&self.store, "memory") {
            None => json!({"outcome": "error", "message": "the instance exports no memory named \"memory\""}),
            Some(memory) => match write_bytes(memory.data_mut(&mut self.store), ptr, &data) {
                Ok(()) => json!({"outcome": "ok", "results": []}),
                Err(e) => json!({"outcome": "trap", "trap": "memory_out_of_bounds", "message": e}),
            },
        }
    }

    /// A read step: bytes of the exported memory, as `data_b64`.
    fn read(&mut self, read: &Json) -> Json {
        let bound = &self.store.data().bound;
        let (ptr, len) =
            match address(&read["ptr"], bound).and_then(|p| Ok((p, address(&read["len"], bound)?))) {
                Ok(t) => t,
                Err(e) => return json!({"outcome": "error", "message": e}),
            };
        match self.instance.get_memory(&self.store, "memory") {
            None => json!({"outcome": "error", "message": "the instance exports no memory named \"memory\""}),
            Some(memory) => match read_bytes(memory.data(&self.store), ptr, len) {
                Ok(data) => json!({"outcome": "ok", "results": [], "data_b64": BASE64.encode(data)}),
                Err(e) => json!({"outcome": "trap", "trap": "memory_out_of_bounds", "message": e}),
            },
        }
    }

    fn call(&mut self, name: &str, step: &Json, deadline: Instant, timeout: Duration) -> Json {
        let Some(func) = self.instance.get_func(&self.store, name) else {
            return json!({"outcome": "error", "message": format!("no function export named {name:?}")});
        };
        let bound = &self.store.data().bound;
        let args = step["args"].as_array().into_iter().flatten().map(|a| operand(a, bound));
        let args = match args.collect::<Result<Vec<_>, _>>() {
            Ok(a) => a,
            Err(e) => return json!({"outcome": "error", "message": e}),
        };
        if let Err(e) = check_args(&func.ty(&self.store), &args) {
            return json!({"outcome": "error", "message": e});
        }
        self.store.data().deadline.arm(deadline);
        let result = call(&mut self.store, &func, &args);
        match result {
            Ok(values) => {
                let names = step["bind"].as_array().into_iter().flatten();
                let bound = &mut self.store.data_mut().bound;
                for (name, value) in names.zip(values.iter()) {
                    if let Some(name) = name.as_str() {
                        bound.insert(name.to_string(), value.clone());
                    }
                }
                json!({"outcome": "ok", "results": encode_all(&values)})
            }
            Err(e) => self.failed(&e, timeout),
        }
    }

    fn failed(&self, e: &Error, timeout: Duration) -> Json {
        let deadline = &self.store.data().deadline;
        let message = if deadline.cut() {
            format!("the step timed out ({} ms) while the guest waited in a WASI call", timeout.as_millis())
        } else {
            e.to_string()
        };
        match failure(e, deadline) {
            Failure::Exit(code) => json!({"outcome": "exit", "code": code, "message": message}),
            Failure::Trap(kind) => json!({"outcome": "trap", "trap": kind, "message": message}),
        }
    }
}
