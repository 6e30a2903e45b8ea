//! The wasmi runner: executes plans with the wasmi interpreter and reports observations.
//!
//! Speaks runners/PROTOCOL.md on stdin/stdout: a hello line, then one observation line per
//! plan line. It never judges. Run as `wasmexport-wasmi-runner`.
//!
//! `wasmexport-wasmi-runner --bench PLANS.jsonl [--repeat N]` (N default 5) is the bare
//! in-process loop over a file of plans (one plan per line, as the harness sends them): each plan
//! runs once to warm up, then the whole list N times through the same function the protocol loop
//! uses, with no JSON round trip and no observation written; it prints one line,
//! `{"engine", "plans", "repeat", "per_plan_ms": {"median", "mean", "p90"}, "total_s"}`, over
//! the per-plan wall times of the timed passes (bench.rs). In bench mode every module stays in
//! memory unless `WASMEXPORT_MODULE_CACHE_MB` is set.
//!
//! Configured the way an embedder of the `wasmi` and `wasmi_wasi` crates would:
//! - wasmi's default compilation (validated at load, each function translated on first call);
//!   compiled modules kept in memory only (wasmi cannot serialize them), each with its own
//!   engine, least-recently-used dropped past `WASMEXPORT_MODULE_CACHE_MB` (default 256;
//!   cache.rs);
//! - fuel metering on, which is how per-step timeouts and `limits.fuel` are enforced (exec.rs);
//! - a call stack of up to [`MAX_RECURSION_DEPTH`] frames and every linear memory capped at
//!   `limits.memory_bytes` with wasmi's `StoreLimits`, so `memory.grow` past it returns -1;
//! - WASI preview1 from wasmi_wasi (wasi-common) with exactly the plan's args and env (in its
//!   order), stdin a read pipe holding the plan's bytes (then end of file), stdout and stderr
//!   into capped in-memory captures (capture.rs), no directories, and a scheduler whose waits
//!   end at the step's deadline (sched.rs);
//! - neither `_initialize` nor `_start` is called here, the steps call them (run.rs).
//!
//! Plans run on a thread with a large stack (host functions that re-enter the guest nest the
//! interpreter on it: host.rs), and a panic in the engine costs only its plan.

mod cache;
mod capture;
mod exec;
mod host;
mod reflect;
mod run;
mod sched;
mod values;

use std::io::{self, BufRead, Write};
use wasmexport_runner_shared::bench;
use wasmexport_runner_shared::protocol::{flag, panic_message, send};

use serde_json::{Value as Json, json};
use wasmi::{Config, CustomFuelCosts, Engine, Module};

use crate::cache::{Compiled, ModuleCache};

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

/// Wasm call frames a call may hold at once. wasmi's default (1000) is below what Go programs
/// use: every Go call is a Wasm call, and lifecycle/deep-recursion (10 000 Go frames) traps with
/// it. With this bound, wasmi's value stack (its default, 1 000 000 cells) is what a deep
/// recursion exhausts: measured, the suite's `depth` function overflows between 80 000 and
/// 90 000 frames here, and between 20 000 and 25 000 on the wasmtime runner's 1 MiB stack.
const MAX_RECURSION_DEPTH: usize = 1_000_000;

/// The plan thread's stack: host functions re-entering the guest [`host::MAX_DEPTH`] levels deep
/// touched 3.9 MiB of it (measured); the rest is reserved, not committed.
const PLAN_STACK_BYTES: usize = 64 << 20;

/// The wasmi version, from the Cargo.lock the runner is built with.
fn wasmi_version() -> &'static str {
    let lock = include_str!("../Cargo.lock");
    lock.split("[[package]]")
        .find(|p| p.contains("\nname = \"wasmi\"\n"))
        .and_then(|p| p.split("\nversion = \"").nth(1))
        .and_then(|v| v.split('"').next())
        .unwrap_or("unknown")
}

fn config() -> Config {
    let mut config = Config::default();
    config.consume_fuel(true).set_max_recursion_depth(MAX_RECURSION_DEPTH).fuel_cost(CustomFuelCosts {
        // wasmi's default for copies; translation and validation cost nothing (exec.rs)
        bytes_copied_per_fuel: 64,
        fuel_per_bytes_translated: 0,
        fuel_per_bytes_validated: 0,
    });
    config
}

pub struct Runner {
    config: Config,
    modules: ModuleCache,
}

impl Runner {
    fn new(budget_mb: Option<u64>) -> Self {
        Runner { config: config(), modules: ModuleCache::from_env(budget_mb) }
    }

    /// The compiled module and its reflected sections, from memory or compiled now.
    fn module(&mut self, path: &str, sha256: &str) -> Result<Compiled, String> {
        if let Some(hit) = self.modules.get(sha256) {
            return Ok(hit);
        }
        let wasm = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let module = Module::new(&Engine::new(&self.config), &wasm).map_err(|e| e.to_string())?;
        let compiled = Compiled {
            exports: reflect::exports(&module, &wasm)?,
            imports: reflect::imports(&module),
            module,
        };
        self.modules.insert(sha256, compiled.clone(), wasm.len() as u64);
        Ok(compiled)
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
            if let Some(sha) = plan["module"]["sha256"].as_str() {
                runner.modules.forget(sha);
            }
            let msg = panic_message(&*panic);
            json!({"type": "observation", "protocol": PROTOCOL, "id": plan["id"],
                   "error": format!("runner panicked: {msg}")})
        }
    }
}

fn serve(args: &[String]) -> i32 {
    let bench = flag(args, "--bench");
    // the bench loop measures warm plans: every module stays unless the budget is set
    let budget = if bench.is_some() { None } else { Some(cache::DEFAULT_BUDGET_MB) };
    let mut runner = Runner::new(budget);
    if let Some(plans) = bench {
        let repeat = flag(args, "--repeat").map_or(Ok(5), str::parse::<usize>);
        let result = repeat
            .map_err(|e| format!("bad --repeat: {e}"))
            .and_then(|n| bench::run("wasmi", plans, n, |p| observe(&mut runner, p)));
        return match result {
            Ok(line) => {
                println!("{line}");
                0
            }
            Err(e) => {
                eprintln!("wasmexport-wasmi-runner --bench: {e}");
                2
            }
        };
    }
    let mut stdout = io::stdout().lock();
    send(
        &mut stdout,
        &json!({"type": "hello", "protocol": PROTOCOL, "engine": "wasmi",
                "engine_version": wasmi_version(), "capabilities": CAPABILITIES}),
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
    0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let worker = std::thread::Builder::new()
        .name("plans".into())
        .stack_size(PLAN_STACK_BYTES)
        .spawn(move || serve(&args))
        .expect("cannot start the plan thread");
    std::process::exit(worker.join().unwrap_or(70));
}
