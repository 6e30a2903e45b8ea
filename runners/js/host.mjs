/**
 * The JavaScript runner: one host program for Node.js, Deno and Bun (see platform.mjs for
 * what differs). Speaks runners/PROTOCOL.md on stdin/stdout: a hello line, then one observation
 * line per plan line. It never judges.
 *
 * Configuration, the same on all three engines:
 * - The instance lives in an executor process (child.mjs, executor.mjs), never in this one. This
 *   process times each step and, when a step outlives its timeout_ms, kills the executor with
 *   SIGKILL: the step is a trap of kind `timeout` and the plan's later steps are outcome
 *   `error` ("instance terminated after timeout"), because JS cannot interrupt a Wasm call, or
 *   a WASI call such as poll_oneoff, and keep its instance. An executor that dies on its own
 *   (the engine crashed) ends its step as outcome `error` saying how it died, and the later
 *   steps likewise. Either way the trace of that step is lost with the executor, its output
 *   is not, and a fresh executor takes the next plan.
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
 * - Compiled modules are cached in the executor by sha256 (and memory cap) while it lives.
 * - The Wasm stack is the engine's default for the executor's thread, not tuned: 4 MiB in a
 *   Node worker, V8's 984 KiB in a Deno worker, JavaScriptCore's 5 MiB on Bun's main thread.
 */

import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import process from 'node:process';
import readline from 'node:readline';
import { ENGINE, engineVersion } from './platform.mjs';
import { discard, executor } from './remote.mjs';

const PROTOCOL = 3;
const CAPABILITIES = ['host_imports', 'command_mode', 'exact_f32', 'export_types', 'import_types',
  'memory_types', 'memory_limit', 'timeout'];
const DEFAULT_OUTPUT_BYTES = 1 << 20;

/** One stream of one step: the first `limit` bytes kept, every byte counted and hashed. */
class Sink {
  constructor(limit) {
    this.limit = limit;
    this.kept = Buffer.alloc(0); // grown as needed, never past `limit`
    this.keptLen = 0;
    this.len = 0;
    this.hash = createHash('sha256');
  }

  write(bytes) {
    this.len += bytes.length;
    this.hash.update(bytes);
    const take = Math.min(bytes.length, this.limit - this.keptLen);
    if (take <= 0) return;
    if (this.keptLen + take > this.kept.length) {
      const size = Math.max(2 * this.kept.length, this.keptLen + take, 4096);
      const grown = Buffer.alloc(Math.min(this.limit, size));
      this.kept.copy(grown, 0, 0, this.keptLen);
      this.kept = grown;
    }
    this.kept.set(bytes.subarray(0, take), this.keptLen);
    this.keptLen += take;
  }

  /** Into step observation `out` as `<name>_b64`, `<name>_len`, `<name>_sha256`. */
  report(out, name) {
    out[`${name}_b64`] = this.kept.subarray(0, this.keptLen).toString('base64');
    out[`${name}_len`] = this.len;
    out[`${name}_sha256`] = this.hash.digest('hex');
  }
}

async function execute(plan) {
  const obs = { type: 'observation', protocol: PROTOCOL, id: plan.id, exports: null, imports: null,
    steps: [] };
  const limit = plan.limits?.output_bytes ?? DEFAULT_OUTPUT_BYTES;
  // Output goes to the step under way; anything written before the first step (a start
  // function) counts towards the first.
  let streams = { 1: new Sink(limit), 2: new Sink(limit) };
  const ex = executor();
  ex.onOutput = (fd, bytes) => streams[fd].write(bytes);
  const ready = await ex.ready;
  if (ready.died) throw new Error(`the executor process did not start: ${ready.died}`);
  const loaded = await ex.request({ op: 'load', plan });
  if (loaded.died) throw new Error(`the executor process died while loading the module: ${loaded.died}`);
  if (loaded.reply.op === 'failed') throw new Error(loaded.reply.error);
  obs.load = loaded.reply.load;
  obs.exports = loaded.reply.exports;
  obs.imports = loaded.reply.imports;
  if (!obs.load.ok) return obs;
  let lost = null; // why the instance is gone, once it is
  for (const [index, step] of plan.steps.entries()) {
    let out;
    if (lost) {
      out = { outcome: 'error', message: lost, duration_ms: 0, trace: [] };
    } else {
      const started = performance.now();
      const answer = await ex.request({ op: 'step', index }, step.timeout_ms);
      const duration = performance.now() - started;
      if (answer.timeout) {
        ex.kill();
        executor(); // the next plan's executor starts while this one's last output drains
        await ex.gone; // every frame it wrote before it died: the step's output
        lost = 'instance terminated after timeout';
        out = { outcome: 'trap', trap: 'timeout', trace: [], duration_ms: duration,
          message: `the call ran past its ${step.timeout_ms} ms timeout; the instance was terminated` };
      } else if (answer.died) {
        lost = `instance lost: the engine process died (${answer.died}) during an earlier step`;
        out = { outcome: 'error', trace: [], duration_ms: duration,
          message: `the engine process died (${answer.died}) during the call; the instance is gone` };
      } else if (answer.reply.op === 'failed') {
        throw new Error(answer.reply.error);
      } else {
        out = answer.reply.step;
      }
    }
    streams[1].report(out, 'stdout');
    streams[2].report(out, 'stderr');
    streams = { 1: new Sink(limit), 2: new Sink(limit) };
    obs.steps.push(out);
  }
  if (!lost) ex.tell({ op: 'unload' });
  ex.onOutput = () => {};
  return obs;
}

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

serve();
