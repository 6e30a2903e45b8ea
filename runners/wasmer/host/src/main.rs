//! The wasmer runner: executes plans with the Wasmer engine and reports observations.
//!
//! Speaks runners/PROTOCOL.md on stdin/stdout: a hello line, then one observation line per
//! plan line. It never judges. Run as `wasmexport-wasmer-runner --cache DIR`.
//!
//! Configured the way an embedder of the `wasmer` and `wasmer-wasix` crates would:
//! - the sys backend with Cranelift, one engine for the process, compiled modules cached on disk
//!   with `Module::serialize` (keyed by the module's SHA-256 and the wasmer version);
//! - a 1 MiB wasm stack (wasmer's default, set explicitly, the same as the wasmtime runner);
//! - per plan, a store whose engine carries `LimitTunables`: every linear memory's maximum is
//!   capped at `limits.memory_bytes`, so `memory.grow` past it returns -1;
//! - WASI preview1 from wasmer-wasix with exactly the plan's args and env, stdin empty (a null
//!   file), stdout and stderr into in-memory pipes drained after each step, and no directories
//!   granted: the filesystem is an empty in-memory one. wasmer-wasix always exposes it as a
//!   virtual root at fd 3; nothing of the host is reachable through it;
//! - the instance is created with `Instance::new` and the WASI env is then bound to it
//!   (`WasiFunctionEnv::initialize`); neither `_initialize` nor `_start` is called here, the steps
//!   call them;
//! - per-step timeouts with wasmer's host interrupt (`Store::interrupter`, a SIGUSR1 to the
//!   thread running wasm, which traps with `HostInterrupt`): a watchdog thread fires it at the
//!   deadline and repeats it until the call returns, as wasmer asks embedders to do. A call
//!   blocked inside a host function (a WASI sleep) is interrupted when it returns to wasm;
//! - `limits.fuel`, when a plan sets it, with the `wasmer-middlewares` Metering middleware (one
//!   point per operator, one budget for the whole plan), compiled by a separate engine so that
//!   plans without fuel run uninstrumented code;
//! - wasmer-wasix needs a tokio runtime for its blocking syscalls (`poll_oneoff` sleeps are tokio
//!   timers awaited from the wasm thread), so the runner keeps one with a single worker thread: a
//!   current-thread runtime would never drive those timers while the wasm thread waits on them.

use std::collections::HashMap;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value as Json, json};
use wasmer::sys::vm::{
    MemoryError, MemoryStyle, TableStyle, VMConfig, VMMemory, VMMemoryDefinition, VMTable, VMTableDefinition,
};
use wasmer::sys::{BaseTunables, CompilerConfig, Cranelift, NativeEngineExt, Tunables};
use wasmer::{
    AsStoreMut, Engine, ExternType, Function, FunctionEnv, FunctionEnvMut, FunctionType, Instance,
    Interrupter, Memory, MemoryType, Module, Pages, RuntimeError, Store, TableType, Type, Value,
    wasmparser::Operator,
};
use wasmer_middlewares::Metering;
use wasmer_middlewares::metering::{MeteringPoints, get_remaining_points, set_remaining_points};
use wasmer_types::TrapCode;
use wasmer_wasix::runtime::task_manager::tokio::TokioTaskManager;
use wasmer_wasix::virtual_fs::{EmptyFileSystem, NullFile};
use wasmer_wasix::{
    Pipe, PluggableRuntime, WasiEnv, WasiError, WasiFunctionEnv, WasiVersion, generate_import_object_from_env,
};

const PROTOCOL: u64 = 1;
const STACK_BYTES: usize = 1 << 20;
/// How often the watchdog repeats an interrupt that has not stopped the call yet.
const INTERRUPT_RETRY: Duration = Duration::from_millis(5);
const CAPABILITIES: [&str; 7] =
    ["host_imports", "command_mode", "exact_f32", "export_types", "memory_limit", "fuel", "timeout"];

// -- values ----------------------------------------------------------------------------------

/// A protocol value (`{"t": "f32", "v": "0x7fa00001"}`) as a wasmer value, bits kept exactly.
fn decode(v: &Json) -> Result<Value, String> {
    let t = v["t"].as_str().ok_or_else(|| format!("bad value {v}"))?;
    let s = v["v"].as_str().ok_or_else(|| format!("bad value {v}"))?;
    let bits: u64 = match t {
        "f32" | "f64" => {
            u64::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|e| format!("bad {t} {s:?}: {e}"))?
        }
        _ => s.parse::<i128>().map_err(|e| format!("bad {t} {s:?}: {e}"))? as u64,
    };
    Ok(match t {
        "i32" => Value::I32(bits as u32 as i32),
        "i64" => Value::I64(bits as i64),
        "f32" => Value::F32(f32::from_bits(bits as u32)),
        "f64" => Value::F64(f64::from_bits(bits)),
        _ => return Err(format!("unknown value type {t:?}")),
    })
}

fn encode(v: &Value) -> Json {
    match v {
        Value::I32(n) => json!({"t": "i32", "v": n.to_string()}),
        Value::I64(n) => json!({"t": "i64", "v": n.to_string()}),
        Value::F32(f) => json!({"t": "f32", "v": format!("0x{:08x}", f.to_bits())}),
        Value::F64(f) => json!({"t": "f64", "v": format!("0x{:016x}", f.to_bits())}),
        other => json!({"t": type_name(&other.ty()), "v": "0"}),
    }
}

/// The value's bits as an unsigned number (pointers and lengths in host ops).
fn unsigned(v: &Value) -> u64 {
    match v {
        Value::I32(n) => *n as u32 as u64,
        Value::I64(n) => *n as u64,
        Value::F32(f) => f.to_bits() as u64,
        Value::F64(f) => f.to_bits(),
        _ => 0,
    }
}

fn type_name(t: &Type) -> String {
    match t {
        Type::I32 => "i32".into(),
        Type::I64 => "i64".into(),
        Type::F32 => "f32".into(),
        Type::F64 => "f64".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

fn parse_type(t: &Json) -> Result<Type, String> {
    match t.as_str() {
        Some("i32") => Ok(Type::I32),
        Some("i64") => Ok(Type::I64),
        Some("f32") => Ok(Type::F32),
        Some("f64") => Ok(Type::F64),
        _ => Err(format!("unknown value type {t}")),
    }
}

fn type_list(types: &[Type]) -> String {
    types.iter().map(type_name).collect::<Vec<_>>().join(", ")
}

// -- memory limit and stack ------------------------------------------------------------------

/// wasmer's `BaseTunables` with every linear memory's maximum capped at `limit` (the pattern of
/// wasmer's own limit-memory example, clamping instead of refusing modules that declare a larger
/// maximum) and an explicit wasm stack size.
struct LimitTunables {
    base: BaseTunables,
    limit: Pages,
    vmconfig: VMConfig,
}

impl LimitTunables {
    fn new(limit_bytes: u64) -> Self {
        let pages = (limit_bytes / wasmer::WASM_PAGE_SIZE as u64).min(wasmer::WASM_MAX_PAGES as u64);
        LimitTunables {
            base: BaseTunables::new(),
            limit: Pages(pages as u32),
            vmconfig: VMConfig { wasm_stack_size: Some(STACK_BYTES) },
        }
    }

    fn capped(&self, ty: &MemoryType) -> Result<MemoryType, MemoryError> {
        if ty.minimum > self.limit {
            return Err(MemoryError::Generic(format!(
                "the memory's minimum of {} pages exceeds the limit of {} pages",
                ty.minimum.0, self.limit.0
            )));
        }
        let mut capped = *ty;
        capped.maximum = Some(ty.maximum.map_or(self.limit, |m| m.min(self.limit)));
        Ok(capped)
    }
}

impl Tunables for LimitTunables {
    // The style depends on the declared type only, so code compiled by the plain engine (whose
    // tunables see the same declared types) matches the memories created here.
    fn memory_style(&self, memory: &MemoryType) -> MemoryStyle {
        self.base.memory_style(memory)
    }

    fn table_style(&self, table: &TableType) -> TableStyle {
        self.base.table_style(table)
    }

    fn create_host_memory(&self, ty: &MemoryType, style: &MemoryStyle) -> Result<VMMemory, MemoryError> {
        self.base.create_host_memory(&self.capped(ty)?, style)
    }

    unsafe fn create_vm_memory(
        &self,
        ty: &MemoryType,
        style: &MemoryStyle,
        location: NonNull<VMMemoryDefinition>,
    ) -> Result<VMMemory, MemoryError> {
        unsafe { self.base.create_vm_memory(&self.capped(ty)?, style, location) }
    }

    fn create_host_table(&self, ty: &TableType, style: &TableStyle) -> Result<VMTable, String> {
        self.base.create_host_table(ty, style)
    }

    unsafe fn create_vm_table(
        &self,
        ty: &TableType,
        style: &TableStyle,
        location: NonNull<VMTableDefinition>,
    ) -> Result<VMTable, String> {
        unsafe { self.base.create_vm_table(ty, style, location) }
    }

    fn vmconfig(&self) -> &VMConfig {
        &self.vmconfig
    }
}

// -- timeouts --------------------------------------------------------------------------------

/// A thread that interrupts the running store once the current step's deadline has passed,
/// and again every few milliseconds until the step disarms it (an interrupt can be missed).
#[derive(Clone, Default)]
struct Watchdog {
    state: Arc<(Mutex<Option<Deadline>>, Condvar)>,
}

/// When to interrupt, and the store to interrupt.
type Deadline = (Instant, Interrupter);

impl Watchdog {
    fn start() -> Self {
        let dog = Watchdog::default();
        let state = dog.state.clone();
        std::thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || {
                let (lock, cvar) = &*state;
                let mut armed = lock.lock().unwrap();
                loop {
                    let wait = match armed.as_ref() {
                        None => None,
                        Some((deadline, interrupter)) => {
                            let now = Instant::now();
                            if now >= *deadline {
                                interrupter.interrupt();
                                Some(INTERRUPT_RETRY)
                            } else {
                                Some(*deadline - now)
                            }
                        }
                    };
                    armed = match wait {
                        None => cvar.wait(armed).unwrap(),
                        Some(d) => cvar.wait_timeout(armed, d).unwrap().0,
                    };
                }
            })
            .expect("cannot start the watchdog thread");
        dog
    }

    /// Interrupt the store `timeout` from now, until the returned guard is dropped.
    fn arm(&self, interrupter: Interrupter, timeout: Duration) -> Armed<'_> {
        *self.state.0.lock().unwrap() = Some((Instant::now() + timeout, interrupter));
        self.state.1.notify_one();
        Armed(self)
    }
}

/// Disarms the watchdog when the call is over, however it ended.
struct Armed<'a>(&'a Watchdog);

impl Drop for Armed<'_> {
    fn drop(&mut self) {
        *self.0.state.0.lock().unwrap() = None;
        self.0.state.1.notify_one();
    }
}

// -- engine and compiled-module cache --------------------------------------------------------

struct Runner {
    /// The plain Cranelift engine: compiles every module of a plan without fuel.
    engine: Engine,
    /// Compiled modules on disk, under a directory named after the wasmer version.
    cache: Option<PathBuf>,
    modules: HashMap<String, Module>,
    wasi_runtime: Arc<PluggableRuntime>,
    watchdog: Watchdog,
}

impl Runner {
    fn new(cache: Option<&Path>, tokio: &tokio::runtime::Runtime) -> Self {
        let engine: Engine = Cranelift::default().into();
        let cache = cache.map(|c| c.join(format!("wasmer-{}-cranelift", wasmer_types::VERSION)));
        if let Some(dir) = &cache {
            let _ = std::fs::create_dir_all(dir);
        }
        let mut rt = PluggableRuntime::new(Arc::new(TokioTaskManager::new(tokio.handle().clone())));
        rt.set_engine(engine.clone());
        Runner {
            engine,
            cache,
            modules: HashMap::new(),
            wasi_runtime: Arc::new(rt),
            watchdog: Watchdog::start(),
        }
    }

    /// The compiled module, from memory, from the disk cache, or compiled now. With `fuel`, a
    /// fresh engine with the Metering middleware compiles it (a Metering instance serves one
    /// module only) and that engine is returned for the plan's store.
    fn module(&mut self, path: &str, sha256: &str, fuel: bool) -> Result<(Module, Engine), String> {
        let engine = if fuel {
            let mut compiler = Cranelift::default();
            compiler.push_middleware(Arc::new(Metering::new(u64::MAX, |_: &Operator| 1)));
            compiler.into()
        } else {
            self.engine.clone()
        };
        if !fuel && let Some(m) = self.modules.get(sha256) {
            return Ok((m.clone(), engine));
        }
        let file = self
            .cache
            .as_ref()
            .map(|dir| dir.join(format!("{sha256}{}.bin", if fuel { "-metered" } else { "" })));
        // SAFETY: the files are written by this program from `Module::serialize` for this
        // wasmer version (the directory name); a stale or corrupt file fails to deserialize
        // and is replaced.
        let cached = file
            .as_ref()
            .filter(|f| f.exists())
            .and_then(|f| unsafe { Module::deserialize_from_file(&engine, f).ok() });
        let module = match cached {
            Some(m) => m,
            None => {
                let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
                let m = Module::new(&engine, bytes).map_err(|e| e.to_string())?;
                if let (Some(f), Ok(data)) = (&file, m.serialize()) {
                    let tmp = f.with_extension(format!("{}.tmp", std::process::id()));
                    if std::fs::write(&tmp, &data).is_ok() {
                        let _ = std::fs::rename(&tmp, f);
                    }
                }
                m
            }
        };
        if !fuel {
            self.modules.insert(sha256.to_string(), module.clone());
        }
        Ok((module, engine))
    }
}

fn export_types(module: &Module) -> Json {
    Json::Array(
        module
            .exports()
            .map(|e| match e.ty() {
                ExternType::Function(f) => json!({
                    "name": e.name(), "kind": "func",
                    "params": f.params().iter().map(type_name).collect::<Vec<_>>(),
                    "results": f.results().iter().map(type_name).collect::<Vec<_>>(),
                }),
                ExternType::Memory(_) => json!({"name": e.name(), "kind": "memory"}),
                ExternType::Table(_) => json!({"name": e.name(), "kind": "table"}),
                _ => json!({"name": e.name(), "kind": "global"}),
            })
            .collect(),
    )
}

// -- traps -----------------------------------------------------------------------------------

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
enum Failure {
    Exit(i32),
    Trap(&'static str),
}

/// Classify a call's error; `out_of_fuel` is a metering trap (Metering stops the guest with
/// `unreachable` after marking its points exhausted).
fn failure(
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

/// The state host functions share with the runner: the instance to re-enter and the current
/// step's trace.
struct Host {
    instance: Option<Instance>,
    trace: Vec<Json>,
    fuel: bool,
}

/// A plan-defined host function: record the call, run its ops, record the return.
fn host_call(
    env: &mut FunctionEnvMut<Host>,
    spec: &Json,
    name: &str,
    params: &[Value],
) -> Result<Vec<Value>, RuntimeError> {
    env.data_mut().trace.push(json!({"ev": "import", "name": name,
                                     "args": params.iter().map(encode).collect::<Vec<_>>()}));
    let mut last: Vec<Value> = Vec::new();
    let value = |x: &Json, last: &[Value]| -> Result<Value, RuntimeError> {
        if let Some(n) = x.get("param").and_then(Json::as_u64) {
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
                .map(|a| value(a, &last))
                .collect::<Result<Vec<_>, _>>()?;
            last = nested(env, export, &args)?;
        } else if let Some(read) = op.get("read") {
            let ptr = unsigned(&value(&read["ptr"], &last)?);
            let len = unsigned(&value(&read["len"], &last)?);
            let view = memory(env)?.view(env);
            if ptr.saturating_add(len) > view.data_size() {
                return Err(out_of_bounds(ptr, len, view.data_size()));
            }
            let mut buf = vec![0u8; len as usize];
            view.read(ptr, &mut buf).map_err(|_| out_of_bounds(ptr, len, view.data_size()))?;
            let hex: String = buf.iter().map(|b| format!("{b:02x}")).collect();
            env.data_mut().trace.push(json!({"ev": "read", "hex": hex}));
        } else if let Some(write) = op.get("write") {
            let ptr = unsigned(&value(&write["ptr"], &last)?);
            let data = hex_bytes(write["hex"].as_str().unwrap_or("")).map_err(host_trap)?;
            let view = memory(env)?.view(env);
            view.write(ptr, &data).map_err(|_| out_of_bounds(ptr, data.len() as u64, view.data_size()))?;
            env.data_mut().trace.push(json!({"ev": "write", "len": data.len()}));
        } else {
            return Err(host_trap(op["trap"].as_str().unwrap_or("trap").to_string()));
        }
    }
    let results = spec["return"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| value(x, &last))
        .collect::<Result<Vec<_>, _>>()?;
    env.data_mut().trace.push(json!({"ev": "import_return",
                                     "values": results.iter().map(encode).collect::<Vec<_>>()}));
    Ok(results)
}

/// Re-enter an export of the calling instance from a host function.
fn nested(env: &mut FunctionEnvMut<Host>, export: &str, args: &[Value]) -> Result<Vec<Value>, RuntimeError> {
    env.data_mut().trace.push(json!({"ev": "export", "name": export,
                                     "args": args.iter().map(encode).collect::<Vec<_>>()}));
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
                                             "values": out.iter().map(encode).collect::<Vec<_>>()}));
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

fn out_of_bounds(ptr: u64, len: u64, size: u64) -> RuntimeError {
    host_trap(format!("memory access [{ptr}, {}) is outside the {size}-byte memory", ptr.saturating_add(len)))
}

fn hex_bytes(s: &str) -> Result<Vec<u8>, String> {
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(s.get(i..i + 2).unwrap_or("?"), 16).map_err(|e| format!("bad hex {s:?}: {e}"))
        })
        .collect()
}

fn check_args(ty: &FunctionType, args: &[Value]) -> Result<(), String> {
    let got: Vec<Type> = args.iter().map(Value::ty).collect();
    if got != ty.params() {
        return Err(format!(
            "arguments ({}) do not match the export's parameters ({})",
            type_list(&got),
            type_list(ty.params())
        ));
    }
    Ok(())
}

// -- one plan --------------------------------------------------------------------------------

/// The state of one plan: store, instance, WASI env, captured streams.
struct Run<'a> {
    runner: &'a Runner,
    store: Store,
    host: FunctionEnv<Host>,
    wasi: WasiFunctionEnv,
    stdout: Pipe,
    stderr: Pipe,
    fuel: bool,
    /// Whether the WASI env is bound to an instance (it needs an exported memory for that).
    bound: bool,
}

fn execute(runner: &mut Runner, plan: &Json) -> Result<Json, String> {
    let mut obs = json!({"type": "observation", "protocol": PROTOCOL, "id": plan["id"],
                         "exports": null, "steps": []});
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
    obs["exports"] = export_types(&module);
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
        let (stdout_wasi, stdout) = Pipe::channel();
        let (stderr_wasi, stderr) = Pipe::channel();
        let mut builder = WasiEnv::builder("")
            .envs(
                plan["wasi"]["env"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|kv| (kv[0].as_str().unwrap_or(""), kv[1].as_str().unwrap_or(""))),
            )
            .stdin(Box::new(NullFile::default()))
            .stdout(Box::new(stdout_wasi))
            .stderr(Box::new(stderr_wasi))
            .fs(Arc::new(EmptyFileSystem::default())
                as Arc<dyn wasmer_wasix::virtual_fs::FileSystem + Send + Sync>)
            .runtime(runner.wasi_runtime.clone());
        // exactly the plan's argv: the builder's program name would otherwise be argv[0]
        *builder.get_args_mut() = plan["wasi"]["args"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| a.as_str().unwrap_or("").to_string())
            .collect();
        let wasi = builder.finalize(&mut store).map_err(|e| e.to_string())?;
        let host = FunctionEnv::new(&mut store, Host { instance: None, trace: Vec::new(), fuel });
        Ok(Run { runner, store, host, wasi, stdout, stderr, fuel, bound: false })
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
        let name = step["call"].as_str().unwrap_or("");
        let timeout = Duration::from_millis(step["timeout_ms"].as_u64().unwrap_or(10_000));
        let started = Instant::now();
        let mut out = self.call(instance, name, &step["args"], timeout);
        out["duration_ms"] = json!(started.elapsed().as_secs_f64() * 1000.0);
        out["stdout_b64"] = json!(drain(&mut self.stdout));
        out["stderr_b64"] = json!(drain(&mut self.stderr));
        out["trace"] = Json::Array(std::mem::take(&mut self.host.as_mut(&mut self.store).trace));
        out
    }

    fn call(&mut self, instance: &Instance, name: &str, args: &Json, timeout: Duration) -> Json {
        let Ok(func) = instance.exports.get_function(name) else {
            return json!({"outcome": "error", "message": format!("no function export named {name:?}")});
        };
        let args = match args.as_array().into_iter().flatten().map(decode).collect::<Result<Vec<_>, _>>() {
            Ok(a) => a,
            Err(e) => return json!({"outcome": "error", "message": e}),
        };
        if let Err(e) = check_args(&func.ty(&self.store), &args) {
            return json!({"outcome": "error", "message": e});
        }
        let armed = self.runner.watchdog.arm(self.store.interrupter(), timeout);
        let result = func.call(&mut self.store, &args);
        drop(armed);
        match result {
            Ok(values) => json!({"outcome": "ok", "results": values.iter().map(encode).collect::<Vec<_>>()}),
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

/// Everything written to a pipe since the last drain, base64.
fn drain(pipe: &mut Pipe) -> String {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    while let Some(n) = pipe.try_read(&mut buf) {
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
    }
    base64::engine::general_purpose::STANDARD.encode(data)
}

// -- the protocol loop -----------------------------------------------------------------------

fn send(out: &mut impl Write, doc: &Json) {
    // the harness reads one line per document; a failed write means it has gone away
    if writeln!(out, "{doc}").and_then(|_| out.flush()).is_err() {
        std::process::exit(0);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cache = args.iter().position(|a| a == "--cache").and_then(|i| args.get(i + 1)).map(PathBuf::from);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("cannot start the tokio runtime");
    let _guard = tokio.enter();
    let mut runner = Runner::new(cache.as_deref(), &tokio);
    let mut stdout = io::stdout().lock();
    send(
        &mut stdout,
        &json!({"type": "hello", "protocol": PROTOCOL, "engine": "wasmer",
                              "engine_version": wasmer_types::VERSION, "capabilities": CAPABILITIES}),
    );
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let plan: Json = serde_json::from_str(&line).unwrap_or(Json::Null);
        // the runner's own failure (a bad plan, a panic in the engine): report it, keep serving
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| execute(&mut runner, &plan)));
        let obs = match result {
            Ok(Ok(obs)) => obs,
            Ok(Err(e)) => json!({"type": "observation", "protocol": PROTOCOL, "id": plan["id"], "error": e}),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into());
                json!({"type": "observation", "protocol": PROTOCOL, "id": plan["id"],
                       "error": format!("runner panicked: {msg}")})
            }
        };
        send(&mut stdout, &obs);
    }
}
