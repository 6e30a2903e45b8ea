/**
 * The dedicated worker of one js plan (Go's js/wasm target, runners/PROTOCOL.md "js plans"):
 * a fresh worker per plan, ended with it, running the module with the Go class of the
 * toolchain's own wasm_exec.js (served by the runner under a token while the plan runs).
 *
 * syscall/js hands the guest this worker's global object. Before wasm_exec.js is imported:
 * - Requests and replies travel on a MessagePort that arrives with the first message and is
 *   kept only in this module's closures; the worker's own postMessage and every other global
 *   that is not ECMAScript or needed by wasm_exec.js (crypto, performance, TextEncoder,
 *   TextDecoder) is deleted from the global object and its prototypes: no fetch, XHR,
 *   WebSocket, importScripts, nested workers, BroadcastChannel or storage (the page's CSP and
 *   the runner's request interception stop the network besides).
 * - fs (writes into the step's sinks as they happen), console, setTimeout and clearTimeout
 *   (deadlines kept here, fired only while a run step waits) are this module's stubs.
 * The guest shares this realm with the runner's worker code, so it can change what that code
 * reports about its own plan; nothing it does reaches another plan (a new worker each time)
 * or anything outside the page's origin.
 *
 * Steps are the Node runner's (runners/js/gorun.mjs): `run` starts go.run(instance) and waits
 * until the program exits or is idle; a step during which wasm_exec's exit was called is
 * outcome `exit`; a JavaScript exception out of a call is a trap of kind `host_error`.
 */

import { outcomeOf, Run } from './run.mjs';

const wait = setTimeout; // this module's own timer, kept before the guest's stubs replace it
const then = Promise.prototype.then;
const { apply } = Reflect;

/** Globals kept: ECMAScript's, what wasm_exec.js needs, and what the runner's code uses. */
const KEEP = new Set(['Object', 'Function', 'Array', 'Number', 'parseFloat', 'parseInt',
  'Infinity', 'NaN', 'undefined', 'Boolean', 'String', 'Symbol', 'Date', 'Promise', 'RegExp',
  'Error', 'AggregateError', 'EvalError', 'RangeError', 'ReferenceError', 'SyntaxError',
  'TypeError', 'URIError', 'SuppressedError', 'InternalError', 'globalThis', 'JSON', 'Math',
  'Intl', 'ArrayBuffer', 'SharedArrayBuffer', 'Atomics', 'Uint8Array', 'Int8Array',
  'Uint16Array', 'Int16Array', 'Uint32Array', 'Int32Array', 'Float16Array', 'Float32Array',
  'Float64Array', 'Uint8ClampedArray', 'BigUint64Array', 'BigInt64Array', 'DataView', 'Map',
  'Set', 'WeakMap', 'WeakSet', 'WeakRef', 'FinalizationRegistry', 'BigInt', 'Proxy', 'Reflect',
  'Iterator', 'decodeURI', 'decodeURIComponent', 'encodeURI', 'encodeURIComponent', 'escape',
  'unescape', 'eval', 'isFinite', 'isNaN', 'DisposableStack', 'AsyncDisposableStack',
  'WebAssembly', 'constructor', 'crypto', 'performance', 'TextEncoder', 'TextDecoder', 'btoa',
  'atob', 'fs', 'console', 'setTimeout', 'clearTimeout']);
/** Globals that must be gone, or the plan is refused. */
const MUST_GO = ['fetch', 'XMLHttpRequest', 'WebSocket', 'WebTransport', 'EventSource',
  'importScripts', 'postMessage', 'Worker', 'SharedWorker', 'BroadcastChannel', 'indexedDB',
  'caches', 'close', 'onmessage', 'addEventListener'];

/**
 * Delete every global (own or inherited, up to Object.prototype) that KEEP does not name, and
 * fix Error.prepareStackTrace to undefined.
 */
function strip() {
  for (let o = globalThis; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const name of Object.getOwnPropertyNames(o)) {
      if (!KEEP.has(name)) Reflect.deleteProperty(o, name);
    }
  }
  // A stack-trace hook (V8's Error.prepareStackTrace) would be handed the runner's frames.
  Object.defineProperty(Error, 'prepareStackTrace', { value: undefined, writable: false,
    enumerable: false, configurable: false });
  Object.defineProperty(globalThis, 'Error', { value: Error, writable: false, enumerable: false,
    configurable: false });
  const left = MUST_GO.filter((name) => name in globalThis);
  if (left.length) throw new Error(`the worker keeps globals it cannot lose: ${left.join(', ')}`);
}

/** A Uint8Array over the bytes of a view or buffer; throws for anything else. */
function bytesOf(x) {
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  if (x instanceof ArrayBuffer) return new Uint8Array(x);
  throw new TypeError('fs.writeSync takes an ArrayBuffer or a view of one');
}

/** The guest exited inside a nested export call: the host function ends, as on wasip1. */
class ExitInside extends Error {}

class GoRun extends Run {
  constructor(msg) {
    super(msg);
    this.memoryExport = 'mem';
    this.exits = 0;
    this.exitCode = null;
    this.timers = new Map(); // id -> {due, callback}
    this.nextTimer = 1;
  }

  /** This worker's globals, as the guest will find them (see the header). */
  install() {
    const sinks = this.sinks;
    const write = (fd, buf) => {
      if (fd !== 1 && fd !== 2) throw new Error('EBADF: bad file descriptor');
      const bytes = bytesOf(buf);
      sinks[fd === 1 ? 'stdout' : 'stderr'].write(bytes);
      return bytes.length;
    };
    const enosys = () => Object.assign(new Error('not implemented'), { code: 'ENOSYS' });
    const fails = (n) => function () { arguments[n](enosys()); };
    globalThis.fs = {
      constants: { O_WRONLY: -1, O_RDWR: -1, O_CREAT: -1, O_TRUNC: -1, O_APPEND: -1, O_EXCL: -1,
        O_DIRECTORY: -1 },
      writeSync: write,
      write(fd, buf, offset, length, position, callback) {
        if (offset !== 0 || length !== buf.length || position !== null) {
          callback(enosys());
          return;
        }
        let n;
        try {
          n = write(fd, buf);
        } catch (e) {
          callback(e);
          return;
        }
        callback(null, n);
      },
      chmod: fails(2), chown: fails(3), close: fails(1), fchmod: fails(2), fchown: fails(3),
      fstat: fails(1), fsync(fd, callback) { callback(null); }, ftruncate: fails(2),
      lchown: fails(3), link: fails(2), lstat: fails(1), mkdir: fails(2), open: fails(3),
      read: fails(5), readdir: fails(1), readlink: fails(1), rename: fails(2), rmdir: fails(1),
      stat: fails(1), symlink: fails(2), truncate: fails(2), unlink: fails(1), utimes: fails(3),
    };
    const encoder = new TextEncoder();
    const print = (fd) => (...args) => write(fd, encoder.encode(`${args.map(String).join(' ')}\n`));
    globalThis.console = { log: print(1), info: print(1), debug: print(1), warn: print(2),
      error: print(2), trace: print(2) };
    globalThis.setTimeout = (callback, delay, ...args) => {
      const id = this.nextTimer++;
      const ms = Number.isFinite(+delay) && +delay > 0 ? +delay : 0;
      this.timers.set(id, { due: performance.now() + ms, callback: () => callback(...args) });
      return id;
    };
    globalThis.clearTimeout = (id) => { this.timers.delete(id); };
    strip();
  }

  /** Import wasm_exec.js, make the Go instance and instantiate; the load's outcome. */
  async loadGo(wasmExec) {
    if (this.plan.wasi.stdin_b64) {
      return { ok: false, stage: 'instantiate', message: 'a js plan has no stdin: wasm_exec.js '
        + 'gives Go no fd 0 to read, so wasi.stdin_b64 must be empty' };
    }
    this.install();
    await import(wasmExec);
    const go = this.go = new globalThis.Go();
    go.argv = [...this.plan.wasi.args];
    go.env = {};
    for (const [k, v] of this.plan.wasi.env) {
      Object.defineProperty(go.env, k, { value: v, writable: true, enumerable: true, configurable: true });
    }
    go.exit = (code) => {
      this.exits += 1;
      this.exitCode = code;
    };
    for (const imp of this.info.imports) go.importObject[imp.module] ??= {};
    for (const spec of this.plan.imports) {
      go.importObject[spec.module] ??= {};
      go.importObject[spec.module][spec.name] = this.hostFunction(spec);
    }
    try {
      this.instance = new WebAssembly.Instance(this.module, go.importObject);
    } catch (e) {
      return { ok: false, stage: 'instantiate', message: String(e?.message ?? e) };
    }
    return { ok: true };
  }

  nested(name, args) {
    const exits = this.exits;
    const out = super.nested(name, args);
    if (this.exits > exits) {
      this.trace.pop(); // export_return: the program exited inside the call
      this.trace.push({ ev: 'export_exit', code: this.exitCode });
      throw new ExitInside(`exit status ${this.exitCode}`);
    }
    return out;
  }

  classify(err) {
    if (err instanceof ExitInside) return { outcome: 'exit', code: this.exitCode, message: err.message };
    return outcomeOf(err);
  }

  /** Start go.run and wait until the program exits or is idle. */
  async runProgram() {
    const exits = this.exits;
    let failed = false;
    let error;
    apply(then, this.go.run(this.instance), [undefined, (e) => { failed = true; error = e; }]);
    for (;;) {
      await new Promise((resolve) => { wait(resolve, 0); }); // promise jobs run meanwhile
      if (failed) throw error;
      if (this.exits > exits) return { outcome: 'ok', results: [] };
      let next = null;
      for (const [id, t] of this.timers) if (!next || t.due < next.due) next = { id, ...t };
      if (!next) return { outcome: 'ok', results: [] };
      const ms = next.due - performance.now();
      if (ms > 0) await new Promise((resolve) => { wait(resolve, ms); });
      this.timers.delete(next.id);
      next.callback();
    }
  }

  /** One step's outcome (a promise of one for a run step). */
  step(index) {
    const step = this.plan.steps[index];
    this.resetStreams(index);
    this.trace = [];
    const exits = this.exits;
    const started = performance.now();
    const finish = (out) => {
      if (this.exits > exits) {
        out = { outcome: 'exit', code: this.exitCode, message: `exit status ${this.exitCode}` };
      }
      out.duration_ms = performance.now() - started;
      out.trace = this.trace;
      return out;
    };
    if ('run' in step) return this.runProgram().then(finish, (e) => finish(this.classify(e)));
    try {
      return finish(this.attempt(step));
    } catch (e) {
      return finish(this.classify(e));
    }
  }
}

self.onmessage = async ({ data: first }) => {
  self.onmessage = null;
  const { port } = first;
  const reply = (msg) => port.postMessage(msg);
  let run = null;
  const answer = async (msg) => {
    if (msg.op === 'load') {
      run = new GoRun(msg);
      return { op: 'loaded', load: await run.loadGo(msg.wasmExec) };
    }
    if (msg.op === 'step') return { op: 'stepped', step: await run.step(msg.index) };
    return null;
  };
  const handle = async (msg) => {
    try {
      const out = await answer(msg);
      if (out) reply(out);
    } catch (e) {
      reply({ op: 'failed', error: String(e?.stack ?? e) });
    }
  };
  port.onmessage = ({ data }) => { handle(data); };
  await handle(first);
};
