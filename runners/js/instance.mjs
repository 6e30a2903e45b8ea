/**
 * One plan's instance and its steps: what the executor (executor.mjs) runs for the host, and
 * what bench mode (bench.mjs) runs in-process, through requests.mjs. `Run` is a wasip1 plan;
 * gorun.mjs's `GoRun` extends it for js plans.
 */

import { Buffer } from 'node:buffer';
import fs from 'node:fs';
import { captureWrites, environ, stdinReader } from './guestio.mjs';
import { charge, ModuleCache } from './modcache.mjs';
import { makeWasi, trapKind } from './platform.mjs';
import { decode, encode, fromJs, resultsFromJs, resultsToJs, toJs } from './values.mjs';
import { callTrampoline, capMemory, hostTrampoline, PAGE, parseModule } from './wasm.mjs';

/** proc_exit: unwinds the guest like a trap and becomes outcome `exit`. */
export class ExitError extends Error {
  constructor(code) {
    super(`exit status ${code}`);
    this.code = code;
  }
}

/** A host function failing on purpose (the `trap` op) or on a bad memory access. */
export class HostTrap extends Error {}

/** A write or read step outside the guest's memory: a trap, as a guest access would be. */
export class OutOfBounds extends Error {}

/** A step that cannot be attempted (outcome `error`): no such export, an unbound name, ... */
export class StepError extends Error {}

/** sha256 + memory cap -> {module, info, tooSmall}, for as long as this process lives. */
export const moduleCache = new ModuleCache();
const trampolines = new Map(); // kind + signature -> compiled trampoline module

export function trampolineModule(kind, sig) {
  const key = `${kind}:${sig.params}->${sig.results}`;
  if (!trampolines.has(key)) {
    const make = kind === 'call' ? callTrampoline : hostTrampoline;
    trampolines.set(key, new WebAssembly.Module(make(sig)));
  }
  return trampolines.get(key);
}

/**
 * The plan's module compiled with its memory cap, from the cache or compiled now; a module the
 * engine refuses is kept as its CompileError (the same bytes fail the same way). Throws that
 * error, or the error reading the file (not kept).
 */
export function compile(plan) {
  const key = moduleKey(plan);
  const compiled = moduleCache.get(key, () => {
    const original = fs.readFileSync(plan.module.path);
    const pages = pagesOf(plan);
    const { bytes, tooSmall } = pages === null ? { bytes: original, tooSmall: null }
      : capMemory(original, pages);
    try {
      return entry(new WebAssembly.Module(bytes), original, tooSmall);
    } catch (e) {
      return refusal(e);
    }
  });
  if (compiled.refused) throw compiled.refused;
  return compiled;
}

/** The plan's memory cap in pages, or null for none. */
export function pagesOf(plan) {
  return plan.limits?.memory_bytes ? Math.floor(plan.limits.memory_bytes / PAGE) : null;
}

/** The module cache's key of a plan (or a preload): its module and memory cap. */
export function moduleKey(plan) {
  return `${plan.module.sha256}:${pagesOf(plan)}`;
}

/** A module cache entry for a compiled module. */
export function entry(module, original, tooSmall) {
  return { value: { module, info: parseModule(original), tooSmall }, nbytes: charge(original.length) };
}

/** A module cache entry for a module the engine refuses (the same bytes fail the same way). */
export function refusal(e) {
  if (!(e instanceof WebAssembly.CompileError)) throw e;
  return { value: { refused: e }, nbytes: e.message.length };
}

/**
 * Classify an error thrown out of a Wasm call as a step outcome; `kindOf` names the trap kind
 * of an error that is no error of the runner's own (null: not a trap).
 */
export function outcomeOf(err, kindOf = trapKind) {
  if (err instanceof ExitError) return { outcome: 'exit', code: err.code, message: err.message };
  const message = String(err?.message ?? err);
  if (err instanceof StepError) return { outcome: 'error', message };
  if (err instanceof OutOfBounds) return { outcome: 'trap', trap: 'memory_out_of_bounds', message };
  if (err instanceof HostTrap) return { outcome: 'trap', trap: 'host_error', message };
  // Anything else a host function threw (not a Wasm trap) fails the call as a host error.
  return { outcome: 'trap', trap: kindOf(err) ?? 'host_error', message };
}

/** One plan: its instance and the current step's trace. */
export class Run {
  /** `emit(fd, bytes)` takes what the guest writes to fd 1 and fd 2, as it writes it. */
  constructor(plan, emit) {
    this.plan = plan;
    this.emit = emit;
    this.trace = [];
    this.bindings = new Map(); // name -> raw value, bound by call steps of this plan
    this.fds = [];
    this.memoryExport = 'memory'; // the exported memory write and read steps and ops use
  }

  close() {
    for (const fd of this.fds) fs.closeSync(fd);
    this.fds = [];
  }

  /** The outcome of `err`, thrown out of a Wasm call or a step. */
  classify(err) {
    return outcomeOf(err);
  }

  load() {
    let compiled;
    try {
      compiled = compile(this.plan);
    } catch (e) {
      // The engine refused the module, or there was no module to read. Anything else (the
      // section parser failing on a module the engine accepted) is the runner's own failure.
      if (!(e instanceof WebAssembly.CompileError || e?.code)) throw e;
      const load = { ok: false, stage: 'compile', message: String(e.message) };
      return { load, exports: null, imports: null };
    }
    const { module, info, tooSmall } = compiled;
    this.signatures = new Map(info.exports.filter((e) => e.kind === 'func').map((e) => [e.name, e]));
    const reflected = { exports: info.exports, imports: info.imports };
    if (tooSmall) {
      const message = `memory ${tooSmall.index} needs ${tooSmall.min} pages at instantiation, `
        + `more than the limit of ${tooSmall.limit} pages`;
      return { load: { ok: false, stage: 'instantiate', message }, ...reflected };
    }
    // The engine's WASI gets /dev/null for all three streams: reads from fd 0 and writes to
    // fd 1 and fd 2 never reach it (guestio.mjs answers them).
    this.fds = [fs.openSync('/dev/null', 'r'), fs.openSync('/dev/null', 'w'),
      fs.openSync('/dev/null', 'w')];
    const [stdin, stdout, stderr] = this.fds;
    const wasi = makeWasi({ args: this.plan.wasi.args, stdin, stdout, stderr, emit: this.emit });
    const memory = () => this.guestMemory();
    const imports = {};
    // An (empty) namespace for every module the guest imports from, so a missing function is
    // reported by the engine under its own name rather than as a missing namespace.
    for (const imp of info.imports) imports[imp.module] ??= {};
    imports.wasi_snapshot_preview1 = {
      ...wasi.imports,
      ...environ(memory, this.plan.wasi.env),
      proc_exit: (code) => { throw new ExitError(code >>> 0); }, // a u32, handed over as an i32
      fd_write: captureWrites(memory, wasi.imports.fd_write, this.emit),
      fd_read: stdinReader(memory, Buffer.from(this.plan.wasi.stdin_b64 ?? '', 'base64'),
        wasi.imports.fd_read),
    };
    for (const spec of this.plan.imports) {
      imports[spec.module] ??= {};
      imports[spec.module][spec.name] = this.hostFunction(spec);
    }
    try {
      this.instance = new WebAssembly.Instance(module, imports);
    } catch (e) {
      return { load: { ok: false, stage: 'instantiate', message: String(e?.message ?? e) },
        ...reflected };
    }
    this.exports = this.instance.exports;
    if (this.exports.memory instanceof WebAssembly.Memory) wasi.bindMemory(this.exports.memory);
    this.callers = new Map();
    return { load: { ok: true }, ...reflected };
  }

  /** The instance's exported memory (`memoryExport`), or undefined: its `buffer` is read. */
  guestMemory() {
    const mem = this.exports?.[this.memoryExport];
    return mem instanceof WebAssembly.Memory ? mem : undefined;
  }

  /** Why export `name` cannot be called with `args`, or null when it can. */
  mismatch(name, args) {
    if (!this.signatures.has(name)) return `no function export named '${name}'`;
    const want = this.signatures.get(name).params.join(', ');
    const got = args.map((a) => a.t).join(', ');
    return want === got ? null : `arguments (${got}) do not match the export's parameters (${want})`;
  }

  /** Call export `name` with raw args, exactly; returns raw results. Throws what it throws. */
  call(name, args) {
    const sig = this.signatures.get(name);
    if (!this.callers.has(name)) {
      const imports = { t: { f: this.exports[name] } };
      this.callers.set(name, new WebAssembly.Instance(trampolineModule('call', sig), imports).exports.fn);
    }
    return resultsFromJs(sig.results, this.callers.get(name)(...args.map(toJs)));
  }

  /** Host function `spec` as a Wasm function (through a trampoline: values move as bits). */
  hostFunction(spec) {
    const sig = { params: spec.params, results: spec.results };
    const imports = { t: { f: this.hostCall(spec) } };
    return new WebAssembly.Instance(trampolineModule('host', sig), imports).exports.fn;
  }

  /** The protocol's host-function interpreter for `spec`, as the JS function a trampoline calls. */
  hostCall(spec) {
    const name = `${spec.module}.${spec.name}`;
    return (...jsArgs) => {
      const params = spec.params.map((t, i) => fromJs(t, jsArgs[i]));
      this.trace.push({ ev: 'import', name, args: params.map(encode) });
      let last = [];
      const value = (x) => {
        if ('param' in x) return params[x.param];
        if ('result' in x) {
          if (x.result >= last.length) throw new HostTrap(`${name}: result ${x.result} of the last call is missing`);
          return last[x.result];
        }
        if ('ref' in x) {
          if (!this.bindings.has(x.ref)) {
            throw new HostTrap(`${name}: no earlier step bound a value to '${x.ref}'`);
          }
          return this.bindings.get(x.ref);
        }
        return decode(x.value);
      };
      for (const op of spec.do) {
        if ('call' in op) {
          last = this.nested(op.call, (op.args ?? []).map(value));
        } else if ('read' in op) {
          const bytes = this.memory(value(op.read.ptr).bits, value(op.read.len).bits);
          this.trace.push({ ev: 'read', hex: Buffer.from(bytes).toString('hex') });
        } else if ('write' in op) {
          const data = Buffer.from(op.write.hex, 'hex');
          this.memory(value(op.write.ptr).bits, BigInt(data.length)).set(data);
          this.trace.push({ ev: 'write', len: data.length });
        } else {
          throw new HostTrap(op.trap);
        }
      }
      const results = spec.return.map(value);
      this.trace.push({ ev: 'import_return', values: results.map(encode) });
      return resultsToJs(results);
    };
  }

  nested(name, args) {
    this.trace.push({ ev: 'export', name, args: args.map(encode) });
    const why = this.mismatch(name, args);
    if (why) throw new HostTrap(why);
    let out;
    try {
      out = this.call(name, args);
    } catch (e) {
      if (e instanceof ExitError) this.trace.push({ ev: 'export_exit', code: e.code });
      else this.trace.push({ ev: 'export_trap', kind: this.classify(e).trap });
      throw e;
    }
    this.trace.push({ ev: 'export_return', values: out.map(encode) });
    return out;
  }

  /** A live view of guest memory [ptr, ptr+len), or a HostTrap. */
  memory(ptr, len) {
    const mem = this.guestMemory();
    if (!mem) throw new HostTrap('the guest exports no memory');
    const size = BigInt(mem.buffer.byteLength);
    if (ptr + len > size) {
      throw new HostTrap(`memory access [${ptr}, ${ptr + len}) is outside the ${size}-byte memory`);
    }
    return new Uint8Array(mem.buffer, Number(ptr), Number(len));
  }

  /** A step's operand as a raw value: a value, or {ref} to one an earlier call step bound. */
  operand(x) {
    if (!('ref' in x)) return decode(x);
    if (!this.bindings.has(x.ref)) {
      throw new StepError(`no earlier step bound a value to '${x.ref}'`);
    }
    return this.bindings.get(x.ref);
  }

  /** An i32 operand of a write or read step, as the unsigned 32-bit BigInt it stands for. */
  address(x, what) {
    const v = this.operand(x);
    if (v.t !== 'i32') throw new StepError(`${what} must be an i32, not an ${v.t}`);
    return v.bits;
  }

  /** A live view of [ptr, ptr+len) of the exported memory, for a write or read step. */
  stepMemory(ptr, len) {
    const mem = this.guestMemory();
    if (!mem) throw new StepError(`the instance exports no memory named '${this.memoryExport}'`);
    const size = BigInt(mem.buffer.byteLength);
    if (ptr + len > size) {
      const range = `[${ptr}, ${ptr + len})`;
      throw new OutOfBounds(`memory access ${range} is outside the ${size}-byte memory`);
    }
    return new Uint8Array(mem.buffer, Number(ptr), Number(len));
  }

  /** Run one step; returns its outcome, or throws what the guest threw. */
  attempt(step) {
    if ('run' in step) throw new StepError('a run step is for js plans (target js) only');
    if ('write' in step) {
      const ptr = this.address(step.write.ptr, 'write.ptr');
      const data = Buffer.from(step.write.hex, 'hex');
      this.stepMemory(ptr, BigInt(data.length)).set(data);
      return { outcome: 'ok', results: [] };
    }
    if ('read' in step) {
      const ptr = this.address(step.read.ptr, 'read.ptr');
      const len = this.address(step.read.len, 'read.len');
      const data = Buffer.from(this.stepMemory(ptr, len)).toString('base64');
      return { outcome: 'ok', results: [], data_b64: data };
    }
    const args = (step.args ?? []).map((x) => this.operand(x));
    const why = this.mismatch(step.call, args);
    if (why) throw new StepError(why);
    const bind = step.bind ?? [];
    const count = this.signatures.get(step.call).results.length;
    if (bind.length > count) {
      throw new StepError(`bind names ${bind.length} results; '${step.call}' returns ${count}`);
    }
    const results = this.call(step.call, args);
    bind.forEach((name, i) => { if (name !== null) this.bindings.set(name, results[i]); });
    return { outcome: 'ok', results: results.map(encode) };
  }

  step(index) {
    this.trace = [];
    const started = performance.now();
    let out;
    try {
      out = this.attempt(this.plan.steps[index]);
    } catch (e) {
      out = this.classify(e);
    }
    out.duration_ms = performance.now() - started;
    out.trace = this.trace;
    return out;
  }
}
