//! The wasmer runner: executes plans with the Wasmer engine and reports observations.
//!
//! Speaks runners/PROTOCOL.md on stdin/stdout: a hello line, then one observation line per
//! plan line. It never judges. Run as `wasmexport-wasmer-runner --cache DIR`.
//!
//! Configured the way an embedder of the `wasmer` and `wasmer-wasix` crates would:
//! - the sys backend with Cranelift, one engine for the process, compiled modules cached on disk
//!   with `Module::serialize` (keyed by the module's SHA-256 and the wasmer version);
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
//!   point per operator, one budget for the whole plan), compiled by a separate engine so that
//!   plans without fuel run uninstrumented code;
//! - wasmer-wasix needs a tokio runtime for its blocking syscalls (`poll_oneoff` sleeps are tokio
//!   timers awaited from the wasm thread), so the runner keeps one with a single worker thread: a
//!   current-thread runtime would never drive those timers while the wasm thread waits on them.
//!
//! The runner writes no files but the compiled-module cache (each entry written to a temporary
//! file named after the process, then renamed); temporaries of runners that died are removed at
//! startup.

mod capture;
mod host;
mod limits;
mod reflect;
mod run;
mod timeout;
mod values;

use std::collections::HashMap;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value as Json, json};
use wasmer::sys::{CompilerConfig, Cranelift};
use wasmer::{Engine, Module, wasmparser::Operator};
use wasmer_middlewares::Metering;
use wasmer_wasix::PluggableRuntime;
use wasmer_wasix::runtime::task_manager::tokio::TokioTaskManager;

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
            remove_orphans(dir);
        }
        let watchdog = Watchdog::start();
        let tasks = watchdog.task_manager(TokioTaskManager::new(tokio.handle().clone()));
        let mut rt = PluggableRuntime::new(Arc::new(tasks));
        rt.set_engine(engine.clone());
        Runner { engine, cache, modules: HashMap::new(), wasi_runtime: Arc::new(rt), watchdog }
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
                    let tmp = f.with_extension(format!("bin.{}.tmp", std::process::id()));
                    if std::fs::write(&tmp, &data).is_ok() && std::fs::rename(&tmp, f).is_err() {
                        let _ = std::fs::remove_file(&tmp);
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
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run::execute(&mut runner, &plan)));
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
