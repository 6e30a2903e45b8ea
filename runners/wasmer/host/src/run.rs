//! One plan: compile, reflect the exports and imports, link WASI and the host functions,
//! instantiate, run the steps (calls, and writes and reads of the exported memory), forget
//! everything.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value as Json, json};
use wasmer::sys::NativeEngineExt;
use wasmer::{Engine, Function, FunctionEnv, FunctionType, Instance, Module, Store};
use wasmer_middlewares::metering::set_remaining_points;
use wasmer_wasix::virtual_fs::{EmptyFileSystem, FileSystem, StaticFile};
use wasmer_wasix::{WasiEnv, WasiFunctionEnv, WasiVersion, generate_import_object_from_env};

use crate::capture::Capture;
use crate::host::{Failure, Host, failure, host_call, read_bytes, write_bytes};
use crate::limits::LimitTunables;
use crate::values::{address, check_args, encode_all, hex_bytes, operand, parse_type};
use crate::{PROTOCOL, Runner, reflect};

/// What a runner keeps of each stream per step when a plan does not say.
const DEFAULT_OUTPUT_BYTES: u64 = 1 << 20;
const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// The state of one plan: store, instance, WASI env, captured streams.
struct Run<'a> {
    runner: &'a Runner,
    store: Store,
    host: FunctionEnv<Host>,
    wasi: WasiFunctionEnv,
    stdout: Capture,
    stderr: Capture,
    fuel: bool,
    /// Whether the WASI env is bound to an instance (it needs an exported memory for that).
    bound: bool,
    /// Why the instance can run no more steps (its WASI thread was killed at a timeout).
    dead: Option<String>,
}

pub fn execute(runner: &mut Runner, plan: &Json) -> Result<Json, String> {
    let mut obs = json!({"type": "observation", "protocol": PROTOCOL, "id": plan["id"],
                         "exports": null, "imports": null, "steps": []});
    let fuel = plan["limits"]["fuel"].as_u64();
    let module_path = plan["module"]["path"].as_str().ok_or("plan without module.path")?;
    let sha = plan["module"]["sha256"].as_str().ok_or("plan without module.sha256")?;
    let (module, mut engine) = match runner.module(module_path, sha, fuel.is_some()) {
        Ok(m) => m,
        Err(message) => {
            obs["load"] = json!({"ok": false, "stage": "compile", "message": message});
            return Ok(obs);
        }
    };
    obs["exports"] = reflect::exports(&module);
    obs["imports"] = reflect::imports(&module);
    let limit = plan["limits"]["memory_bytes"].as_u64().unwrap_or(1 << 32);
    engine.set_tunables(LimitTunables::new(limit));
    let runner: &Runner = runner;
    let mut run = match Run::new(runner, engine, plan, fuel.is_some()) {
        Ok(run) => run,
        Err(message) => {
            obs["load"] = json!({"ok": false, "stage": "instantiate", "message": message});
            return Ok(obs);
        }
    };
    let instance = match run.instantiate(&module, plan) {
        Ok(i) => i,
        Err(message) => {
            obs["load"] = json!({"ok": false, "stage": "instantiate", "message": message});
            run.finish();
            return Ok(obs);
        }
    };
    if let Some(points) = fuel {
        set_remaining_points(&mut run.store, &instance, points);
    }
    obs["load"] = json!({"ok": true});
    let steps: Vec<Json> =
        plan["steps"].as_array().into_iter().flatten().map(|s| run.step(&instance, s)).collect();
    obs["steps"] = Json::Array(steps);
    run.finish();
    Ok(obs)
}

impl<'a> Run<'a> {
    fn new(runner: &'a Runner, engine: Engine, plan: &Json, fuel: bool) -> Result<Self, String> {
        let mut store = Store::new(engine);
        let output_bytes = plan["limits"]["output_bytes"].as_u64().unwrap_or(DEFAULT_OUTPUT_BYTES);
        let (stdout, stderr) = (Capture::new(output_bytes), Capture::new(output_bytes));
        let stdin = BASE64
            .decode(plan["wasi"]["stdin_b64"].as_str().unwrap_or(""))
            .map_err(|e| format!("bad wasi.stdin_b64: {e}"))?;
        // a read-only file: reads return its bytes, then 0 (end of file), never block
        let mut builder = WasiEnv::builder("")
            .stdin(Box::new(StaticFile::new(stdin)))
            .stdout(Box::new(stdout.clone()))
            .stderr(Box::new(stderr.clone()))
            .fs(Arc::new(EmptyFileSystem::default()) as Arc<dyn FileSystem + Send + Sync>)
            .runtime(runner.wasi_runtime.clone());
        // exactly the plan's argv: the builder's program name would otherwise be argv[0]
        *builder.get_args_mut() = plan["wasi"]["args"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| a.as_str().unwrap_or("").to_string())
            .collect();
        // exactly the plan's environment in its order: `envs` would merge repeated names
        *builder.get_env_mut() = plan["wasi"]["env"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|kv| {
                (kv[0].as_str().unwrap_or("").to_string(), kv[1].as_str().unwrap_or("").as_bytes().to_vec())
            })
            .collect();
        let wasi = builder.finalize(&mut store).map_err(|e| e.to_string())?;
        let host = FunctionEnv::new(
            &mut store,
            Host { instance: None, trace: Vec::new(), fuel, bound: Default::default() },
        );
        Ok(Run { runner, store, host, wasi, stdout, stderr, fuel, bound: false, dead: None })
    }

    fn instantiate(&mut self, module: &Module, plan: &Json) -> Result<Instance, String> {
        let store = &mut self.store;
        let mut imports = generate_import_object_from_env(store, &self.wasi.env, WasiVersion::Snapshot1);
        for spec in plan["imports"].as_array().into_iter().flatten() {
            let (m, n) = (spec["module"].as_str().unwrap_or(""), spec["name"].as_str().unwrap_or(""));
            let types = |k: &str| {
                spec[k].as_array().into_iter().flatten().map(parse_type).collect::<Result<Vec<_>, _>>()
            };
            let ty = FunctionType::new(types("params")?, types("results")?);
            let (spec, name) = (spec.clone(), format!("{m}.{n}"));
            let func = Function::new_with_env(store, &self.host, ty, move |mut env, args| {
                host_call(&mut env, &spec, &name, args)
            });
            imports.define(m, n, func);
        }
        let instance = Instance::new(store, module, &imports).map_err(|e| e.to_string())?;
        self.host.as_mut(store).instance = Some(instance.clone());
        if instance.exports.get_memory("memory").is_ok() {
            // binds WASI to the instance's memory; calls neither _initialize nor _start
            self.wasi.initialize(store, instance.clone()).map_err(|e| e.to_string())?;
            self.bound = true;
        }
        Ok(instance)
    }

    fn step(&mut self, instance: &Instance, step: &Json) -> Json {
        self.host.as_mut(&mut self.store).trace.clear();
        let timeout = Duration::from_millis(step["timeout_ms"].as_u64().unwrap_or(DEFAULT_TIMEOUT_MS));
        let started = Instant::now();
        let mut out = if let Some(write) = step.get("write") {
            self.write(instance, write)
        } else if let Some(read) = step.get("read") {
            self.read(instance, read)
        } else if let Some(why) = &self.dead {
            json!({"outcome": "error", "message": why})
        } else {
            let name = step["call"].as_str().unwrap_or("");
            self.call(instance, name, step, timeout)
        };
        out["duration_ms"] = json!(started.elapsed().as_secs_f64() * 1000.0);
        self.stdout.report(&mut out, "stdout");
        self.stderr.report(&mut out, "stderr");
        out["trace"] = Json::Array(std::mem::take(&mut self.host.as_mut(&mut self.store).trace));
        out
    }

    /// A write step: the bytes into the exported memory (no wasm runs, so no timeout applies).
    fn write(&mut self, instance: &Instance, write: &Json) -> Json {
        let bound = &self.host.as_ref(&self.store).bound;
        let target = address(&write["ptr"], bound)
            .and_then(|ptr| Ok((ptr, hex_bytes(write["hex"].as_str().ok_or("a write step without hex")?)?)));
        let (ptr, data) = match target {
            Ok(t) => t,
            Err(e) => return json!({"outcome": "error", "message": e}),
        };
        match instance.exports.get_memory("memory") {
            Err(_) => {
                json!({"outcome": "error", "message": "the instance exports no memory named \"memory\""})
            }
            Ok(memory) => match write_bytes(&memory.view(&self.store), ptr, &data) {
                Ok(()) => json!({"outcome": "ok", "results": []}),
                Err(e) => json!({"outcome": "trap", "trap": "memory_out_of_bounds", "message": e}),
            },
        }
    }

    /// A read step: bytes of the exported memory, as `data_b64`.
    fn read(&mut self, instance: &Instance, read: &Json) -> Json {
        let bound = &self.host.as_ref(&self.store).bound;
        let (ptr, len) =
            match address(&read["ptr"], bound).and_then(|p| Ok((p, address(&read["len"], bound)?))) {
                Ok(t) => t,
                Err(e) => return json!({"outcome": "error", "message": e}),
            };
        match instance.exports.get_memory("memory") {
            Err(_) => {
                json!({"outcome": "error", "message": "the instance exports no memory named \"memory\""})
            }
            Ok(memory) => match read_bytes(&memory.view(&self.store), ptr, len) {
                Ok(data) => json!({"outcome": "ok", "results": [], "data_b64": BASE64.encode(data)}),
                Err(e) => json!({"outcome": "trap", "trap": "memory_out_of_bounds", "message": e}),
            },
        }
    }

    fn call(&mut self, instance: &Instance, name: &str, step: &Json, timeout: Duration) -> Json {
        let Ok(func) = instance.exports.get_function(name) else {
            return json!({"outcome": "error", "message": format!("no function export named {name:?}")});
        };
        let bound = &self.host.as_ref(&self.store).bound;
        let args = step["args"].as_array().into_iter().flatten().map(|a| operand(a, bound));
        let args = match args.collect::<Result<Vec<_>, _>>() {
            Ok(a) => a,
            Err(e) => return json!({"outcome": "error", "message": e}),
        };
        if let Err(e) = check_args(&func.ty(&self.store), &args) {
            return json!({"outcome": "error", "message": e});
        }
        let thread = self.wasi.data(&self.store).thread.clone();
        let armed = self.runner.watchdog.arm(self.store.interrupter(), thread, timeout);
        let result = func.call(&mut self.store, &args);
        let end = armed.finish();
        if end.killed || end.cut {
            // the deadline ended a WASI wait: whatever the call did next is not the guest's own
            let ms = timeout.as_millis();
            let how = match &result {
                Err(e) => format!(": {e}"),
                Ok(_) => String::new(),
            };
            let message = if end.killed {
                let why = format!("the guest was killed when its step timed out ({ms} ms) in a WASI call");
                self.dead = Some(format!("not run: {why}"));
                format!("{why}{how}")
            } else {
                format!("the step timed out ({ms} ms) while the guest waited in a WASI call{how}")
            };
            return json!({"outcome": "trap", "trap": "timeout", "message": message});
        }
        match result {
            Ok(values) => {
                let names = step["bind"].as_array().into_iter().flatten();
                let bound = &mut self.host.as_mut(&mut self.store).bound;
                for (name, value) in names.zip(values.iter()) {
                    if let Some(name) = name.as_str() {
                        bound.insert(name.to_string(), value.clone());
                    }
                }
                json!({"outcome": "ok", "results": encode_all(&values)})
            }
            Err(e) => {
                let message = e.to_string();
                match failure(&e, &mut self.store, Some(instance), self.fuel) {
                    Failure::Exit(code) => json!({"outcome": "exit", "code": code, "message": message}),
                    Failure::Trap(kind) => json!({"outcome": "trap", "trap": kind, "message": message}),
                }
            }
        }
    }

    /// Lets wasmer-wasix release the plan's process state.
    fn finish(mut self) {
        if self.bound {
            self.wasi.on_exit(&mut self.store, None);
        }
    }
}
