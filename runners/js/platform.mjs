/**
 * Everything that differs between Node.js, Deno and Bun, in one place; the rest of the host is
 * the same program on all three.
 *
 * - WASI: each engine's own `node:wasi`. Node's is uvwasi; Deno's is its own implementation of
 *   the same API; Bun's is a JS port (wasi-js) with a different shape: no `initialize()`, a
 *   `setMemory()`, stdout/stderr through callbacks. None of them is told about `_start` or
 *   `_initialize` (see `bindMemory`), and the executor replaces `proc_exit` in every one.
 * - How the executor process is started (`executorCommand`), and where in it the instance runs
 *   (`EXECUTOR_IN_WORKER`): every engine runs plans in a child process that the host can kill
 *   (a timeout) or lose (an engine crash) without going down itself. Node's own WASI segfaults
 *   the whole process on some calls (sock_accept on a stdio fd), and Bun's `Worker.terminate()`
 *   cannot preempt a pure-Wasm loop (oven-sh/bun#36356): a thread would not do for either.
 * - Trap messages: V8 (Node, Deno) and JavaScriptCore (Bun) word them differently.
 */

import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { WASI } from 'node:wasi';

export const ENGINE = globalThis.Deno ? 'deno' : globalThis.Bun ? 'bun' : 'node';

/** The engine's own version, and the Wasm engine inside it. */
export function engineVersion() {
  if (ENGINE === 'deno') return `${Deno.version.deno} (V8 ${Deno.version.v8})`;
  if (ENGINE === 'bun') return `${Bun.version} (JavaScriptCore, bun ${Bun.revision.slice(0, 9)})`;
  return `${process.versions.node} (V8 ${process.versions.v8})`;
}

// -- WASI ---------------------------------------------------------------------------------------

/**
 * The engine's WASI preview1 with exactly these args, no environment (the executor answers
 * environ_* itself, in the plan's order: guestio.mjs), no preopens, and the given file
 * descriptors for stdio (Bun's takes callbacks instead: output goes to `emit(fd, bytes)`). The
 * executor also answers fd_read on fd 0 and fd_write on fds 1 and 2 itself. Returns the import
 * object and `bindMemory(memory)`, to call once the instance exists.
 */
export function makeWasi({ args, stdin, stdout, stderr, emit }) {
  if (ENGINE === 'bun') {
    const wasi = new WASI({
      args, env: {}, preopens: {},
      getStdin: () => undefined, // never the runner's own stdin
      sendStdout: (buf) => emit(1, buf),
      sendStderr: (buf) => emit(2, buf),
    });
    return { imports: wasi.wasiImport, bindMemory: (memory) => wasi.setMemory(memory) };
  }
  const wasi = new WASI({
    version: 'preview1', args, env: {}, preopens: {}, stdin, stdout, stderr,
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

/** Whether `x` has `proto` on its prototype chain (works across realms, unlike instanceof). */
export function inherits(x, proto) {
  let o = x;
  for (let depth = 0; depth < 64; depth++) {
    if (o === null || (typeof o !== 'object' && typeof o !== 'function')) return false;
    o = Object.getPrototypeOf(o);
    if (o === proto) return true;
  }
  return false;
}

const OWN_REALM = { RangeError: RangeError.prototype, RuntimeError: WebAssembly.RuntimeError.prototype };

/**
 * The protocol's trap kind for an error thrown by a Wasm call, or null when it is not a trap
 * (a host function's own exception). Kinds the reference runner does not single out either
 * (a table index out of bounds, say) are 'other'. `realm` holds the RangeError and RuntimeError
 * prototypes of the realm the error may come from (this one by default).
 */
export function trapKind(err, realm = OWN_REALM) {
  if (inherits(err, realm.RangeError) && /^Maximum call stack size exceeded/.test(err.message)) {
    return 'stack_overflow';
  }
  if (!inherits(err, realm.RuntimeError)) return null;
  for (const [re, kind] of TRAPS) if (re.test(err.message)) return kind;
  return 'other';
}

// -- where the instance runs --------------------------------------------------------------------

/** Node and Deno run the executor in a worker thread of the executor process; Bun on its main. */
export const EXECUTOR_IN_WORKER = ENGINE !== 'bun';

/** The command line that starts the executor process on this engine, running `entry` (a URL). */
export function executorCommand(entry) {
  const file = fileURLToPath(entry);
  if (ENGINE === 'deno') {
    // Only what the executor needs: read the modules; /dev/null for the guest's stdio; its
    // module cache's budget.
    return [Deno.execPath(), 'run', '--quiet', '--no-prompt', '--allow-read',
      '--allow-write=/dev/null', '--allow-env=WASMEXPORT_MODULE_CACHE_MB', file];
  }
  if (ENGINE === 'bun') return [process.execPath, '--no-install', file];
  return [process.execPath, ...process.execArgv, file]; // the host's flags are the executor's
}

// What Deno's executor process needs of the host's environment (the adapter sets these and lets
// the host read exactly these); Node and Bun pass theirs on whole.
const DENO_ENV = ['DENO_DIR', 'DENO_NO_UPDATE_CHECK', 'DENO_NO_PROMPT', 'NO_COLOR',
  'WASMEXPORT_MODULE_CACHE_MB'];

/** The executor process's environment, or undefined for the host's own. */
export function executorEnv() {
  if (ENGINE !== 'deno') return undefined;
  return Object.fromEntries(DENO_ENV.flatMap((k) => {
    const v = Deno.env.get(k);
    return v === undefined ? [] : [[k, v]];
  }));
}
