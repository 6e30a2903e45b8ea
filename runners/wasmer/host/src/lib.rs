//! The wasmer runner: executes plans with the Wasmer engine and reports observations.
//!
//! A library with two binaries: `wasmexport-wasmer-runner` (src/main.rs) and, built with the
//! `llvm` feature, `wasmexport-wasmer-llvm-runner` (src/bin), both calling [`main`].
//!
//! Speaks runners/PROTOCOL.md on stdin/stdout: a hello line, then one observation line per
//! plan line. It never judges. Run as `wasmexport-wasmer-runner --cache DIR [--compiler C]`, C
//! `cranelift` (the default; engine `wasmer`) or `singlepass` (engine `wasmer-singlepass`). The
//! binary built with the `llvm` feature (`wasmexport-wasmer-llvm-runner`) also takes `llvm`
//! (engine `wasmer-llvm`: wasmer's LLVM compiler at its default settings, optimisation level
//! `Aggressive`, one compile thread per core).
//!
//! `wasmexport-wasmer-runner [--cache DIR] [--compiler C] --bench PLANS.jsonl [--repeat N]` (N default 5) is
//! the bare in-process loop over a file of plans (one plan per line, as the harness sends them):
//! each plan runs once to warm up, then the whole list N times through the same function the
//! protocol loop uses, with no JSON round trip and no observation written; it prints one line,
//! `{"engine", "plans", "repeat", "per_plan_ms": {"median", "mean", "p90"}, "total_s"}`, over
//! the per-plan wall times of the timed passes (bench.rs). In bench mode every module stays in
//! memory unless `WASMEXPORT_MODULE_CACHE_MB` is set.
//!
//! Configured the way an embedder of the `wasmer` and `wasmer-wasix` crates would:
//! - the sys backend with Cranelift, Singlepass or LLVM; compiled modules cached on disk with
//!   `Module::serialize` (keyed by the module's SHA-256, the wasmer version and the compiler:
//!   a directory per version and compiler) and in memory, each with its own
//!   engine, least-recently-used dropped past `WASMEXPORT_MODULE_CACHE_MB` (default 256;
//!   cache.rs), so memory stays bounded however many modules a run has;
//! - a 1 MiB wasm stack and every linear memory capped at `limits.memory_bytes`, so
//!   `memory.grow` past it returns -1 (limits.rs);
//! - WASI preview1 from wasmer-wasix with exactly the plan's args and env (in its order), stdin a
//!   read-only in-memory file holding the plan's bytes (then end of file), stdout and stderr
//!   into capped in-memory captures (capture.rs), and no directories
//!   granted: the filesystem is an empty in-memory one. wasmer-wasix always exposes it as a
//!   virtual root at fd 3; nothing of the host is reachable through it;
//! - the instance is created with `Instance::new` and the WASI env is then bound to it
//!   (`WasiFunctionEnv::initialize`); neither `_initialize` nor `_start` is called here, the steps
//!   call them (run.rs);
//! - per-step timeouts with wasmer's host interrupt, WASI timers that end at the deadline and, for
//!   a guest blocked in WASI with no timer, a WASI SIGKILL (timeout.rs);
//! - `limits.fuel`, when a plan sets it, with the `wasmer-middlewares` Metering middleware (one
//!   point per operator, one budget for the whole plan), compiled and cached apart so that plans
//!   without fuel run uninstrumented code;
//! - wasmer-wasix needs a tokio runtime for its blocking syscalls (`poll_oneoff` sleeps are tokio
//!   timers awaited from the wasm thread), so the runner keeps one with a single worker thread: a
//!   current-thread runtime would never drive those timers while the wasm thread waits on them.
//!
//! The runner writes no files but the compiled-module cache (each entry written to a temporary
//! file named after the process, then renamed); temporaries of runners that died are removed at
//! startup.

mod cache;
mod capture;
mod host;
mod limits;
mod reflect;
mod run;
mod timeout;
mod values;

use std::io::{self, BufRead};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wasmexport_runner_shared::bench;
use wasmexport_runner_shared::protocol::{flag, panic_message, send};

use serde_json::{Value as Json, json};
#[cfg(feature = "llvm")]
use wasmer::sys::LLVM;
use wasmer::sys::{CompilerConfig, Cranelift, Singlepass};
use wasmer::{Engine, Module, wasmparser::Operator};
use wasmer_middlewares::Metering;
use wasmer_wasix::PluggableRuntime;
use wasmer_wasix::runtime::task_manager::tokio::TokioTaskManager;

use crate::cache::ModuleCache;
use crate::timeout::Watchdog;

const PROTOCOL: u64 = 3;
const CAPABILITIES: [&str; 9] = [
    "host_imports",
    "command_mode",
    "exact_f32",
    "export_types",
    "import_types",
    "memory_types",
    "memory_limit",
    "fuel",
    "timeout",
];

// -- engines and compiled modules ------------------------------------------------------------

/// The compiler that turns modules into machine code.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Compiler {
    Cranelift,
    Singlepass,
    #[cfg(feature = "llvm")]
    Llvm,
}

impl Compiler {
    fn parse(name: Option<&str>) -> Result<Self, String> {
        match name {
            None | Some("cranelift") => Ok(Compiler::Cranelift),
            Some("singlepass") => Ok(Compiler::Singlepass),
            #[cfg(feature = "llvm")]
            Some("llvm") => Ok(Compiler::Llvm),
            #[cfg(not(feature = "llvm"))]
            Some("llvm") => Err("this binary has no LLVM compiler (built without the llvm feature)".into()),
            Some(other) => Err(format!("unknown --compiler {other:?} (cranelift, singlepass, llvm)")),
        }
    }

    /// The lowercase name used in the disk cache's directory name.
    fn id(self) -> &'static str {
        match self {
            Compiler::Cranelift => "cranelift",
            Compiler::Singlepass => "singlepass",
            #[cfg(feature = "llvm")]
            Compiler::Llvm => "llvm",
        }
    }

    /// The engine name the hello and the bench line report.
    fn engine_name(self) -> &'static str {
        match self {
            Compiler::Cranelift => "wasmer",
            Compiler::Singlepass => "wasmer-singlepass",
            #[cfg(feature = "llvm")]
            Compiler::Llvm => "wasmer-llvm",
        }
    }

    fn engine_version(self) -> String {
        match self {
            Compiler::Cranelift => wasmer_types::VERSION.to_string(),
            Compiler::Singlepass => format!("{} (Singlepass)", wasmer_types::VERSION),
            #[cfg(feature = "llvm")]
            Compiler::Llvm => format!("{} (LLVM {})", wasmer_types::VERSION, llvm_version()),
        }
    }
}

/// The version of the LLVM library linked in, `major.minor.patch`.
#[cfg(feature = "llvm")]
fn llvm_version() -> String {
    let (mut major, mut minor, mut patch) = (0, 0, 0);
    // SAFETY: LLVMGetVersion only writes the three integers.
    unsafe { llvm_sys::core::LLVMGetVersion(&mut major, &mut minor, &mut patch) };
    format!("{major}.{minor}.{patch}")
}

struct Runner {
    compiler: Compiler,
    /// Compiled modules on disk, under a directory named after the wasmer version and compiler.
    cache: Option<PathBuf>,
    /// Compiled modules in memory, each with its own engine (cache.rs).
    modules: ModuleCache,
    wasi_runtime: Arc<PluggableRuntime>,
    watchdog: Watchdog,
}

/// An engine for one module; with `fuel`, with the Metering middleware (one point per
/// operator; a Metering instance serves one module only).
fn engine(compiler: Compiler, fuel: bool) -> Engine {
    fn with_fuel(mut config: impl CompilerConfig + Into<Engine>, fuel: bool) -> Engine {
        if fuel {
            config.push_middleware(Arc::new(Metering::new(u64::MAX, |_: &Operator| 1)));
        }
        config.into()
    }
    match compiler {
        Compiler::Cranelift => with_fuel(Cranelift::default(), fuel),
        Compiler::Singlepass => with_fuel(Singlepass::default(), fuel),
        #[cfg(feature = "llvm")]
        Compiler::Llvm => with_fuel(LLVM::default(), fuel),
    }
}

impl Runner {
    fn new(
        compiler: Compiler,
        cache: Option<&Path>,
        budget_mb: Option<u64>,
        tokio: &tokio::runtime::Runtime,
    ) -> Self {
        let cache = cache.map(|c| c.join(format!("wasmer-{}-{}", wasmer_types::VERSION, compiler.id())));
        if let Some(dir) = &cache {
            let _ = std::fs::create_dir_all(dir);
            remove_orphans(dir);
        }
        let watchdog = Watchdog::start();
        let tasks = watchdog.task_manager(TokioTaskManager::new(tokio.handle().clone()));
        let mut rt = PluggableRuntime::new(Arc::new(tasks));
        // the runtime's own engine compiles nothing here: each store uses its module's engine
        rt.set_engine(engine(compiler, false));
        Runner {
            compiler,
            cache,
            modules: ModuleCache::from_env(budget_mb),
            wasi_runtime: Arc::new(rt),
            watchdog,
        }
    }

    /// The compiled module and its engine, from memory, from the disk cache, or compiled now.
    /// With `fuel`, the module is compiled with the Metering middleware (cached apart).
    fn module(&mut self, path: &str, sha256: &str, fuel: bool) -> Result<(Module, Engine), String> {
        let name = format!("{sha256}{}", if fuel { "-metered" } else { "" });
        let key = format!("{}-{name}", self.compiler.id());
        if let Some(hit) = self.modules.get(&key) {
            return Ok(hit);
        }
        let engine = engine(self.compiler, fuel);
        // the cache directory is named after the wasmer version and the compiler
        let file = self.cache.as_ref().map(|dir| dir.join(format!("{name}.bin")));
        // SAFETY: the files are written by this program from `Module::serialize` for this
        // wasmer version (the directory name); a stale or corrupt file fails to deserialize
        // and is replaced.
        let cached = file.as_ref().and_then(|f| {
            let size = std::fs::metadata(f).ok()?.len();
            unsafe { Module::deserialize_from_file(&engine, f).ok() }.map(|m| (m, size))
        });
        let (module, size) = match cached {
            Some(hit) => hit,
            None => {
                let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
                let wasm_len = bytes.len() as u64;
                let m = Module::new(&engine, bytes).map_err(|e| e.to_string())?;
                let Ok(data) = m.serialize() else {
                    // serialized Go modules measure about 4 times their .wasm
                    return Ok(self.keep(&key, m, engine, wasm_len * 4));
                };
                if let Some(f) = &file {
                    let tmp = f.with_extension(format!("bin.{}.tmp", std::process::id()));
                    if std::fs::write(&tmp, &data).is_ok() && std::fs::rename(&tmp, f).is_err() {
                        let _ = std::fs::remove_file(&tmp);
                    }
                }
                (m, data.len() as u64)
            }
        };
        Ok(self.keep(&key, module, engine, size))
    }

    /// Keep a module just loaded in memory, charged `serialized` bytes.
    fn keep(&mut self, key: &str, module: Module, engine: Engine, serialized: u64) -> (Module, Engine) {
        // libgcc sorts a newly registered module's unwind tables (allocating, under its lock) on
        // the next backtrace: take that one now, outside any step. Otherwise it comes with the
        // step's first trap, and wasmer's timeout interrupt, whose signal handler takes a
        // backtrace too, can land inside it and deadlock the thread.
        let _ = std::hint::black_box(std::backtrace::Backtrace::force_capture());
        self.modules.insert(key, module.clone(), engine.clone(), serialized);
        (module, engine)
    }
}

/// Remove the cache's temporaries (`<name>.bin.<pid>.tmp`) whose process is gone: a runner
/// killed while writing one leaves it behind.
fn remove_orphans(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_suffix(".tmp").and_then(|n| n.rsplit('.').next()) else { continue };
        if let Ok(pid) = pid.parse::<u32>()
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

// -- the protocol loop -----------------------------------------------------------------------

/// The observation of one plan; the runner's own failure (a bad plan, a panic in the engine) is
/// an observation with `error`, and the runner keeps serving.
fn observe(runner: &mut Runner, plan: &Json) -> Json {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run::execute(runner, plan)));
    match result {
        Ok(Ok(obs)) => obs,
        Ok(Err(e)) => json!({"type": "observation", "protocol": PROTOCOL, "id": plan["id"], "error": e}),
        Err(panic) => {
            let msg = panic_message(&*panic);
            json!({"type": "observation", "protocol": PROTOCOL, "id": plan["id"],
                   "error": format!("runner panicked: {msg}")})
        }
    }
}

/// The program: the protocol loop, or with `--bench` the bench loop (the crate docs).
pub fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cache = flag(&args, "--cache").map(PathBuf::from);
    let compiler = Compiler::parse(flag(&args, "--compiler")).unwrap_or_else(|e| {
        eprintln!("wasmexport-wasmer-runner: {e}");
        std::process::exit(2);
    });
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("cannot start the tokio runtime");
    let _guard = tokio.enter();
    let bench = flag(&args, "--bench");
    // the bench loop measures warm plans: every module stays unless the budget is set
    let budget = if bench.is_some() { None } else { Some(cache::DEFAULT_BUDGET_MB) };
    let mut runner = Runner::new(compiler, cache.as_deref(), budget, &tokio);
    if let Some(plans) = bench {
        let repeat = flag(&args, "--repeat").map_or(Ok(5), str::parse::<usize>);
        let result = repeat
            .map_err(|e| format!("bad --repeat: {e}"))
            .and_then(|n| bench::run(compiler.engine_name(), plans, n, |p| observe(&mut runner, p)));
        match result {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("wasmexport-wasmer-runner --bench: {e}");
                std::process::exit(2);
            }
        }
        return;
    }
    let mut stdout = io::stdout().lock();
    send(
        &mut stdout,
        &json!({"type": "hello", "protocol": PROTOCOL, "engine": compiler.engine_name(),
                              "engine_version": compiler.engine_version(), "capabilities": CAPABILITIES}),
    );
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let plan: Json = serde_json::from_str(&line).unwrap_or(Json::Null);
        let obs = observe(&mut runner, &plan);
        send(&mut stdout, &obs);
    }
}
