/**
 * The JavaScript runner: one host program for Node.js, Deno and Bun (see platform.mjs for
 * what differs). Speaks runners/PROTOCOL.md on stdin/stdout: a hello line, then one observation
 * line per plan line. It never judges.
 *
 * Configuration, the same on all three engines:
 * - The instance lives in an executor (executor.mjs) off the main thread. The main thread times
 *   each step and, when a step outlives its timeout_ms, kills the executor: the step is a trap
 *   of kind `timeout` and the plan's later steps are outcome `error` ("instance terminated
 *   after timeout"), because JS cannot interrupt a Wasm call and keep its instance. The trace
 *   of a step cut off this way is lost with the executor; its stdout/stderr are kept.
 * - WASI preview1 is the engine's own `node:wasi`, with exactly the plan's args and env, no
 *   preopens, stdin empty and stdout/stderr appended to two temp files that the main thread
 *   reads after each step. `proc_exit` is replaced so that an exit unwinds the guest and is
 *   reported as outcome `exit` with its code; the runner and the instance live on.
 * - `_start` and `_initialize` run when a step calls them, like any other export.
 * - The memory limit is the module's own: each defined memory's maximum is lowered to
 *   limits.memory_bytes before compiling, so growing past it fails (wasm.mjs).
 * - Values cross the JS boundary only as integer bits (wasm.mjs trampolines), so f32 and f64
 *   NaN payloads survive; i64 travels as BigInt.
 * - Export signatures come from the module's own type, function and export sections.
 * - Compiled modules are cached in the executor by sha256 (and memory cap) while it lives.
 * - The Wasm stack is the engine's default for the executor's thread, not tuned: 4 MiB in a
 *   Node worker, V8's 984 KiB in a Deno worker, JavaScriptCore's 5 MiB in Bun's child process.
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import readline from 'node:readline';
import { ENGINE, engineVersion, startExecutor } from './platform.mjs';

const PROTOCOL = 1;
const CAPABILITIES = ['host_imports', 'command_mode', 'exact_f32', 'export_types', 'memory_limit',
  'timeout'];

/** The executor, with one request in flight at a time. */
class Executor {
  constructor() {
    this.channel = startExecutor();
    this.channel.onMessage((msg) => this.settle((p) => p.resolve(msg)));
    this.channel.onExit((why) => {
      this.exited = new Error(`the executor exited (${why})`);
      this.settle((p) => p.reject(this.exited));
    });
    this.ready = new Promise((resolve, reject) => { this.pending = { resolve, reject }; }); // {op: 'ready'}
  }

  settle(how) {
    const p = this.pending;
    this.pending = null;
    if (p) {
      clearTimeout(p.timer);
      how(p);
    }
  }

  /** Send `msg`; resolves with the reply, or with null when `timeoutMs` passes first. */
  request(msg, timeoutMs) {
    return new Promise((resolve, reject) => {
      if (this.exited) {
        reject(this.exited);
        return;
      }
      this.pending = { resolve, reject };
      if (timeoutMs !== undefined) {
        this.pending.timer = setTimeout(() => this.settle((p) => p.resolve(null)), timeoutMs);
      }
      this.channel.send(msg);
    });
  }

  kill() {
    this.pending = null;
    this.channel.kill();
  }
}

/** A capture file read incrementally: what was appended since the last drain, as base64. */
class Capture {
  constructor(file) {
    this.file = file;
    this.offset = 0;
    fs.writeFileSync(file, '');
  }

  drain() {
    const data = fs.readFileSync(this.file).subarray(this.offset);
    this.offset += data.length;
    return data.toString('base64');
  }
}

let executor = null;

async function execute(plan, dir) {
  const obs = { type: 'observation', protocol: PROTOCOL, id: plan.id, exports: null, steps: [] };
  const stdout = new Capture(path.join(dir, 'stdout'));
  const stderr = new Capture(path.join(dir, 'stderr'));
  executor ??= new Executor();
  await executor.ready;
  const loaded = await executor.request({ op: 'load', plan, stdout: stdout.file, stderr: stderr.file });
  if (loaded.op === 'failed') throw new Error(loaded.error);
  obs.load = loaded.load;
  obs.exports = loaded.exports;
  if (!loaded.load.ok) return obs;
  let killed = false;
  for (const [index, step] of plan.steps.entries()) {
    let out;
    if (killed) {
      out = { outcome: 'error', message: 'instance terminated after timeout', duration_ms: 0, trace: [] };
    } else {
      const started = performance.now();
      const reply = await executor.request({ op: 'step', index }, step.timeout_ms);
      if (reply === null) {
        executor.kill();
        executor = null;
        killed = true;
        out = { outcome: 'trap', trap: 'timeout', trace: [], duration_ms: performance.now() - started,
          message: `the call ran past its ${step.timeout_ms} ms timeout; the instance was terminated` };
      } else if (reply.op === 'failed') {
        throw new Error(reply.error);
      } else {
        out = reply.step;
      }
    }
    out.stdout_b64 = stdout.drain();
    out.stderr_b64 = stderr.drain();
    obs.steps.push(out);
  }
  executor?.channel.send({ op: 'unload' });
  return obs;
}

function send(doc) {
  process.stdout.write(`${JSON.stringify(doc)}\n`);
}

async function serve() {
  send({ type: 'hello', protocol: PROTOCOL, engine: ENGINE, engine_version: engineVersion(),
    capabilities: CAPABILITIES });
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let plan = null;
    let obs;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${ENGINE}-run-`));
    try {
      plan = JSON.parse(line);
      obs = await execute(plan, dir);
    } catch (e) { // the runner's own failure: report it, start a fresh executor, keep serving
      executor?.kill();
      executor = null;
      obs = { type: 'observation', protocol: PROTOCOL, id: plan?.id ?? null,
        error: String(e?.stack ?? e) };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    send(obs);
  }
  executor?.kill(); // stdin closed: let the process end
}

serve();
