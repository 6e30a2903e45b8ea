/**
 * The JavaScript runner: one host program for Node.js, Deno and Bun (see platform.mjs for
 * what differs). Speaks runners/PROTOCOL.md on stdin/stdout: a hello line, then one observation
 * line per plan line. It never judges.
 *
 * Bench mode: `<runner command> --bench PLANS.jsonl [--repeat N]` (N default 5) serves no
 * protocol. It runs every plan of the file (one plan a line, as the harness sends them) once
 * through the executor process as when serving, and leaves out of the timed loop any plan that
 * timed out or lost its executor there (one thread cannot stop a guest). Then, in one thread
 * of its own process where the executor would run them (a worker thread on Node and Deno, the
 * main thread on Bun), it runs the others once to warm up and N times timed, and prints one
 * JSON line (bench.mjs). A timed plan is the same call that builds an observation when
 * serving, observe.mjs's `execute`, with the executor's request handler (instance.mjs) called
 * in-process instead of over the executor's pipes. It includes: the module cache lookup, a
 * fresh WASI and host functions, instantiation, every step with its trace and outcome, the
 * output sinks (kept bytes, length, SHA-256, base64), step timing, and the observation
 * document. It leaves out: reading and parsing the plan line, serialising and writing the
 * observation, the runner<->executor request lines and reply frames, and timeout enforcement.
 *
 * Configuration, the same on all three engines:
 * - When serving, the instance lives in an executor process (child.mjs, executor.mjs), never in
 *   this one. This process times each step and, when a step outlives its timeout_ms, kills the
 *   executor with SIGKILL: the step is a trap of kind `timeout` and the plan's later steps are
 *   outcome `error` ("instance terminated after timeout"), because JS cannot interrupt a Wasm
 *   call, or a WASI call such as poll_oneoff, and keep its instance. An executor that dies on
 *   its own (the engine crashed) ends its step as outcome `error` saying how it died, and the
 *   later steps likewise. Either way the trace of that step is lost with the executor, its
 *   output is not, and a fresh executor takes the next plan.
 * - WASI preview1 is the engine's own `node:wasi`, with exactly the plan's args and no preopens,
 *   except for what the executor answers itself (guestio.mjs), the same on every engine: reads
 *   from fd 0 give the plan's stdin bytes then end of file; the environment is the plan's, in
 *   its order; writes to fd 1 and fd 2 are streamed here, where each step keeps the first
 *   limits.output_bytes of each stream and counts and hashes all of it. No files: nothing to
 *   leave behind.
 *   `proc_exit` is replaced so that an exit unwinds the guest and is reported as outcome `exit`
 *   with its code; the runner and the instance live on.
 * - `_start` and `_initialize` run when a step calls them, like any other export.
 * - The memory limit is the module's own: each defined memory's maximum is lowered to
 *   limits.memory_bytes before compiling, so growing past it fails (wasm.mjs).
 * - Values cross the JS boundary only as integer bits (wasm.mjs trampolines), so f32 and f64
 *   NaN payloads survive; i64 travels as BigInt.
 * - Export and import signatures and memory limits come from the module's own bytes (wasm.mjs).
 * - Bindings (`bind`, `{ref}`) live with the instance in the executor, one set per plan.
 * - Compiled modules are cached in the executor by sha256 (and memory cap) while it lives, and
 *   it lives across plans until a timeout or a crash ends it: least recently used dropped
 *   first past WASMEXPORT_MODULE_CACHE_MB (default 256; the charge per module is its .wasm
 *   size times a factor measured per engine, see modcache.mjs). A case whose plans share a
 *   module compiles it once. Nothing is kept on disk: these engines cannot serialize a module.
 * - The Wasm stack is the engine's default for the executor's thread, not tuned: 4 MiB in a
 *   Node worker, V8's 984 KiB in a Deno worker, JavaScriptCore's 5 MiB on Bun's main thread.
 * - js plans (Go's js/wasm target, capability go_js): the module runs with the Go class of the
 *   plan's own wasm_exec.js in a fresh node:vm realm per plan that holds nothing of the host
 *   (gojs.mjs, gojs-prelude.js); a `run` step starts go.run and waits for Go's timers
 *   (gorun.mjs). Everything above holds for them too, on the memory exported as `mem`.
 */

import process from 'node:process';
import readline from 'node:readline';
import { budgetBytes } from './modcache.mjs';
import { execute, PROTOCOL } from './observe.mjs';
import { ENGINE, engineVersion } from './platform.mjs';
import { discard, executor } from './remote.mjs';

const CAPABILITIES = ['host_imports', 'command_mode', 'exact_f32', 'export_types', 'import_types',
  'memory_types', 'memory_limit', 'timeout', 'go_js', 'preload'];

function send(doc) {
  process.stdout.write(`${JSON.stringify(doc)}\n`);
}

async function serve() {
  await executor().ready; // up before the hello, so the first plan need not wait for it
  send({ type: 'hello', protocol: PROTOCOL, engine: ENGINE, engine_version: engineVersion(),
    capabilities: CAPABILITIES });
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let plan = null;
    let obs;
    try {
      plan = JSON.parse(line);
      if (plan?.type === 'preload') { // a hint, never answered: the executor compiles meanwhile
        executor().tell({ op: 'preload', module: plan.module, limits: plan.limits });
        continue;
      }
      obs = await execute(plan);
    } catch (e) { // the runner's own failure: report it, start a fresh executor, keep serving
      discard('the runner failed');
      obs = { type: 'observation', protocol: PROTOCOL, id: plan?.id ?? null,
        error: String(e?.stack ?? e) };
    }
    send(obs);
    executor(); // a fresh one warms up while the harness reads, if this plan cost the last one
  }
  discard('stdin closed'); // let the process end
}

try {
  budgetBytes(); // a bad setting stops the runner here, not in every executor
} catch (e) {
  console.error(e.message);
  process.exit(2);
}
const args = process.argv.slice(2);
if (args[0] === '--bench') {
  const { bench } = await import('./bench.mjs');
  process.exitCode = await bench(args.slice(1));
  discard('bench done'); // let the process end
} else {
  serve();
}
