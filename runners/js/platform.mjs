/**
 * Everything that differs between Node.js, Deno and Bun, in one place; the rest of the host is
 * the same program on all three.
 *
 * - WASI: each engine's own `node:wasi`. Node's is uvwasi; Deno's is its own implementation of
 *   the same API; Bun's is a JS port (wasi-js) with a different shape: no `initialize()`, a
 *   `setMemory()`, stdout/stderr through callbacks. None of them is told about `_start` or
 *   `_initialize` (see `bindMemory`), and the executor replaces `proc_exit` in every one.
 * - Where a plan runs: in a worker thread on Node and Deno, whose `terminate()` stops a running
 *   Wasm loop; in a child process on Bun, whose `Worker.terminate()` cannot preempt a pure-Wasm
 *   loop (oven-sh/bun#36356), so a timed-out instance is stopped with SIGKILL instead.
 * - Trap messages: V8 (Node, Deno) and JavaScriptCore (Bun) word them differently.
 */

import { fork } from 'node:child_process';
import fs from 'node:fs';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { WASI } from 'node:wasi';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';

export const ENGINE = globalThis.Deno ? 'deno' : globalThis.Bun ? 'bun' : 'node';

/** The engine's own version, and the Wasm engine inside it. */
export function engineVersion() {
  if (ENGINE === 'deno') return `${Deno.version.deno} (V8 ${Deno.version.v8})`;
  if (ENGINE === 'bun') return `${Bun.version} (JavaScriptCore, bun ${Bun.revision.slice(0, 9)})`;
  return `${process.versions.node} (V8 ${process.versions.v8})`;
}

// -- WASI ---------------------------------------------------------------------------------------

/**
 * The engine's WASI preview1 with exactly these args and env (no inherited environment, no
 * preopens), stdin empty, stdout/stderr written to the given file descriptors. Returns the
 * import object and `bindMemory(memory)`, to call once the instance exists.
 */
export function makeWasi({ args, env, stdin, stdout, stderr }) {
  // Every node:wasi takes the environment as an object: insertion order is kept (keys that look
  // like array indices aside) and a repeated name keeps its last value.
  const envObject = Object.fromEntries(env);
  if (ENGINE === 'bun') {
    const wasi = new WASI({
      args, env: envObject, preopens: {},
      getStdin: () => undefined, // empty stdin, never the runner's own
      sendStdout: (buf) => fs.writeSync(stdout, buf),
      sendStderr: (buf) => fs.writeSync(stderr, buf),
    });
    return { imports: wasi.wasiImport, bindMemory: (memory) => wasi.setMemory(memory) };
  }
  const wasi = new WASI({
    version: 'preview1', args, env: envObject, preopens: {}, stdin, stdout, stderr,
  });
  return {
    imports: wasi.wasiImport,
    // initialize() on a view holding only the memory binds it and calls nothing: it would call
    // `_initialize` if the view had one (and start() calls `_start`), but the plan's steps say
    // when those run, so the executor calls them like any other export.
    bindMemory: (memory) => wasi.initialize({ exports: { memory } }),
  };
}

// -- traps --------------------------------------------------------------------------------------

const V8_TRAPS = [
  [/^unreachable$/, 'unreachable'],
  [/memory access out of bounds/, 'memory_out_of_bounds'],
  [/^(divide|remainder) by zero$/, 'integer_divide_by_zero'],
  [/^divide result unrepresentable$/, 'integer_overflow'],
  [/^float unrepresentable in integer range$/, 'invalid_conversion'],
  [/^(null function|function signature mismatch|null function or function signature mismatch)$/,
    'indirect_call'],
];

const JSC_TRAPS = [ // JavaScriptCore appends " (evaluating '...')" to each message
  [/^Unreachable code should not be executed/, 'unreachable'],
  [/^Out of bounds memory access/, 'memory_out_of_bounds'],
  [/^(Division|Remainder) by zero/, 'integer_divide_by_zero'],
  [/^Integer overflow/, 'integer_overflow'],
  [/^Out of bounds Trunc operation/, 'invalid_conversion'],
  [/^call_indirect to (a signature that does not match|a null table entry)/, 'indirect_call'],
];

const TRAPS = ENGINE === 'bun' ? JSC_TRAPS : V8_TRAPS;

/**
 * The protocol's trap kind for an error thrown by a Wasm call, or null when it is not a trap
 * (a host function's own exception). Kinds the reference runner does not single out either
 * (a table index out of bounds, say) are 'other'.
 */
export function trapKind(err) {
  if (err instanceof RangeError && /^Maximum call stack size exceeded/.test(err.message)) {
    return 'stack_overflow';
  }
  if (!(err instanceof WebAssembly.RuntimeError)) return null;
  for (const [re, kind] of TRAPS) if (re.test(err.message)) return kind;
  return 'other';
}

// -- where the instance runs --------------------------------------------------------------------

/**
 * Start the executor (executor.mjs) off the main thread. Returns {send, onMessage, onExit,
 * kill}; `kill()` stops it even in the middle of a Wasm call.
 */
export function startExecutor() {
  const url = new URL('./executor.mjs', import.meta.url);
  if (ENGINE === 'bun') {
    // fd 1 of the child is our stderr: nothing it prints can reach the protocol stream.
    const child = fork(fileURLToPath(url), [], { stdio: ['ignore', 2, 2, 'ipc'] });
    return {
      send: (msg) => child.send(msg),
      onMessage: (cb) => child.on('message', cb),
      onExit: (cb) => child.on('exit', (code, signal) => cb(signal ?? `code ${code}`)),
      kill: () => child.kill('SIGKILL'),
    };
  }
  const worker = new Worker(url, { stdout: true }); // the worker's stdout is piped to our stderr
  worker.stdout.pipe(process.stderr);
  return {
    send: (msg) => worker.postMessage(msg),
    onMessage: (cb) => worker.on('message', cb),
    onExit: (cb) => {
      worker.on('error', (e) => cb(`error: ${e?.stack ?? e}`));
      worker.on('exit', (code) => cb(`code ${code}`));
    },
    kill: () => { worker.terminate(); },
  };
}

/** The executor's side of the channel, once it is ready to take requests: {send, onMessage}. */
export async function executorPort() {
  if (!isMainThread) {
    return { send: (msg) => parentPort.postMessage(msg), onMessage: (cb) => parentPort.on('message', cb) };
  }
  // A child process: end with the host. Between requests the closed IPC channel says so; during
  // a Wasm call only another thread can tell, so a watchdog thread polls the host's pid.
  process.on('disconnect', () => process.exit(0));
  const watchdog = new Worker(new URL('./watchdog.mjs', import.meta.url), { workerData: { host: process.ppid } });
  watchdog.unref();
  await new Promise((resolve) => { watchdog.once('online', resolve); });
  return { send: (msg) => process.send(msg), onMessage: (cb) => process.on('message', cb) };
}
