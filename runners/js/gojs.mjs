/**
 * The realm a js plan's guest runs in (Go's js/wasm target, runners/PROTOCOL.md "js plans").
 *
 * syscall/js hands a guest the global object of the realm wasm_exec.js was evaluated in, and
 * every object it can walk to from there. In this process that would be the host: `process`,
 * `require`, `Deno`, `Bun`, and any object of this realm leads to its `Function` constructor
 * (`x.constructor.constructor`). So each js plan gets a fresh node:vm context:
 * - its global object is created with a null prototype (a sandbox object with one would lend
 *   the context this realm's Object.prototype), and code generation from strings is off, so no
 *   Function constructor compiles anything in it;
 * - the prelude (gojs-prelude.js) builds, inside it, the stubs wasm_exec.js needs, drops every
 *   global the language does not define, fixes Error.prepareStackTrace, and keeps the hooks
 *   below only in closures; then wasm_exec.js runs there (compiled once per SHA-256);
 * - the hooks take and give only primitives and views they read through this realm's own
 *   intrinsics, and never throw into the guest; the instance, host functions and every object
 *   the guest can reach are made by that realm's WebAssembly and Object.
 * A fresh realm per plan also means nothing one guest changes in its realm outlives its plan.
 */

import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import vm from 'node:vm';

const PRELUDE_FILE = new URL('./gojs-prelude.js', import.meta.url);
const PRELUDE = new vm.Script(fs.readFileSync(PRELUDE_FILE, 'utf8'),
  { filename: 'gojs-prelude.js' });
const SCRIPTS_KEPT = 8;
const scripts = new Map(); // wasm_exec.js SHA-256 -> its compiled vm.Script, newest last

/** The plan's wasm_exec.js, read and checked against its SHA-256 once, compiled once. */
function wasmExec({ wasm_exec: path, wasm_exec_sha256: sha256 }) {
  const hit = scripts.get(sha256);
  if (hit) return hit;
  const text = fs.readFileSync(path);
  const got = createHash('sha256').update(text).digest('hex');
  if (got !== sha256) throw new Error(`${path} has SHA-256 ${got}, not the plan's ${sha256}`);
  const script = new vm.Script(text.toString('utf8'), { filename: path });
  scripts.set(sha256, script);
  if (scripts.size > SCRIPTS_KEPT) scripts.delete(scripts.keys().next().value);
  return script;
}

// This realm's getters, which read any realm's buffers and views by their internal slots.
const TYPED = Object.getPrototypeOf(Uint8Array.prototype);
const getter = (proto, name) => Object.getOwnPropertyDescriptor(proto, name).get;
const typed = { buffer: getter(TYPED, 'buffer'), offset: getter(TYPED, 'byteOffset'),
  length: getter(TYPED, 'byteLength'), tag: getter(TYPED, Symbol.toStringTag) };
const dataView = { buffer: getter(DataView.prototype, 'buffer'),
  offset: getter(DataView.prototype, 'byteOffset'), length: getter(DataView.prototype, 'byteLength') };
const bufferLength = getter(ArrayBuffer.prototype, 'byteLength');
const read = (get, x) => Reflect.apply(get, x, []);

/** A view of this realm over the bytes of another realm's typed array, or null. */
function typedBytes(x) {
  if (read(typed.tag, x) === undefined) return null;
  return new Uint8Array(read(typed.buffer, x), read(typed.offset, x), read(typed.length, x));
}

/** A view of this realm over another realm's typed array, DataView or ArrayBuffer. */
function bytesOf(x) {
  if (ArrayBuffer.isView(x)) {
    const bytes = typedBytes(x);
    if (bytes) return bytes;
    return new Uint8Array(read(dataView.buffer, x), read(dataView.offset, x), read(dataView.length, x));
  }
  return new Uint8Array(x, 0, read(bufferLength, x)); // throws unless x is an ArrayBuffer
}

/** `fn` as a hook: what it throws becomes its message (a primitive), never an exception. */
const guarded = (fn) => (...args) => {
  try {
    return fn(...args);
  } catch (e) {
    return String(e?.message ?? e);
  }
};

const RANDOM_MAX = 65536; // bytes getRandomValues fills at once
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * One plan's realm with wasm_exec.js's `Go` class in it. `emit(fd, bytes)` takes what the
 * guest writes to fd 1 and 2, `onExit(code)` wasm_exec's exit, `failure()` the message of the
 * host function that failed last.
 */
export class GoRealm {
  constructor(goJs, { emit, onExit, failure }) {
    this.timers = new Map(); // timer id -> due time (performance.now())
    const script = wasmExec(goJs);
    const hooks = {
      write: guarded((fd, buf) => {
        if (fd !== 1 && fd !== 2) return 'EBADF: bad file descriptor';
        const bytes = bytesOf(buf);
        if (bytes.length) emit(fd, bytes);
        return bytes.length;
      }),
      schedule: guarded((id, delay) => {
        const ms = Number.isFinite(delay) && delay > 0 ? delay : 0;
        this.timers.set(id, performance.now() + ms);
        return 0;
      }),
      unschedule: guarded((id) => { this.timers.delete(id); return 0; }),
      now: () => performance.now(),
      random: guarded((array) => {
        const tag = read(typed.tag, array);
        if (!/^(Big)?(Int|Uint)(8|16|32|64)(Clamped)?Array$/.test(tag ?? '')) {
          return 'getRandomValues takes an integer typed array';
        }
        const bytes = typedBytes(array);
        if (bytes.length > RANDOM_MAX) return `getRandomValues fills at most ${RANDOM_MAX} bytes`;
        globalThis.crypto.getRandomValues(bytes);
        return 0;
      }),
      encodedLength: (s) => Buffer.byteLength(s, 'utf8'),
      encodeInto: guarded((s, out) => {
        const bytes = typedBytes(out);
        const { written } = encoder.encodeInto(s, bytes);
        return written === bytes.length ? 0 : 'the string did not fit';
      }),
      decode: (x) => {
        try {
          return decoder.decode(bytesOf(x));
        } catch {
          return null;
        }
      },
      exit: (code) => { onExit(Number(code)); },
      failure: () => String(failure()),
    };
    this.context = vm.createContext(Object.create(null),
      { codeGeneration: { strings: false, wasm: true } });
    this.helpers = PRELUDE.runInContext(this.context)(hooks);
    if (this.helpers.leftovers) {
      throw new Error(`the guest's realm keeps globals it cannot lose: ${this.helpers.leftovers}`);
    }
    script.runInContext(this.context);
    this.FAILED = this.helpers.FAILED;
    this.intrinsics = this.helpers.intrinsics();
  }

  /** A Go instance with `args` as argv and `env` ([name, value] pairs) as its environment. */
  newGo(args, env) {
    return this.helpers.newGo(JSON.stringify(args), JSON.stringify(env));
  }

  namespace(go, module) { return this.helpers.namespace(go, module); }

  hostFunction(trampoline, call) { return this.helpers.hostFunction(trampoline, call); }

  instantiate(module, go) { return this.helpers.instantiate(module, go); }

  start(go, instance) { this.helpers.start(go, instance); }

  /** {failed, error} of go.run's promise so far. */
  runOutcome() {
    const outcome = this.helpers.runOutcome(); // read by index: no iterator of the guest's realm
    return { failed: outcome[0] === true, error: outcome[1] };
  }

  /** The timer due first ({id, due}), or null when none is pending. */
  nextTimer() {
    let next = null;
    for (const [id, due] of this.timers) {
      if (!next || due < next.due) next = { id, due };
    }
    return next;
  }

  /** Run timer `id` now (throws what its callback throws). */
  fire(id) {
    this.timers.delete(id);
    this.helpers.fire(id);
  }

  /** Whether `x` (from either realm) has `proto` (of the guest's realm) on its prototype chain. */
  static inherits(x, proto) {
    let o = x;
    for (let depth = 0; depth < 64 && o !== null && (typeof o === 'object' || typeof o === 'function'); depth++) {
      o = Object.getPrototypeOf(o);
      if (o === proto) return true;
    }
    return false;
  }
}
