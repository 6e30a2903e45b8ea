/**
 * One plan's instance and its steps, in a dedicated worker (worker.mjs for wasip1 plans,
 * goworker.mjs for js plans): the protocol's steps and host functions, with values crossing
 * into and out of Wasm only as integer bits through the trampolines of runners/js/wasm.mjs
 * (f32/f64 NaN payloads survive; i64 is BigInt).
 */

import { decode, encode, fromJs, resultsFromJs, resultsToJs, toJs } from '../js/values.mjs';
import { callTrampoline, hostTrampoline } from '../js/wasm.mjs';
import { base64, SinkWriter } from './sink.mjs';
import { trapKind } from './traps.mjs';
import { ExitError, makeWasi, StepTimeout, WasiTrap } from './wasi.mjs';

/** A host function failing on purpose (the `trap` op) or on a bad memory access. */
export class HostTrap extends Error {}
/** A write or read step outside the guest's memory: a trap, as a guest access would be. */
export class OutOfBounds extends Error {}
/** A step that cannot be attempted (outcome `error`). */
export class StepError extends Error {}

const trampolines = new Map(); // kind + signature -> compiled trampoline module

export function trampoline(kind, sig) {
  const key = `${kind}:${sig.params}->${sig.results}`;
  if (!trampolines.has(key)) {
    const make = kind === 'call' ? callTrampoline : hostTrampoline;
    trampolines.set(key, new WebAssembly.Module(make(sig)));
  }
  return trampolines.get(key);
}

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const unhex = (s) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
export const unbase64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

/** A step's outcome for an error thrown out of a Wasm call or a step. */
export function outcomeOf(err) {
  if (err instanceof ExitError) return { outcome: 'exit', code: err.code, message: err.message };
  const message = String(err?.message ?? err);
  if (err instanceof StepError) return { outcome: 'error', message };
  if (err instanceof OutOfBounds) return { outcome: 'trap', trap: 'memory_out_of_bounds', message };
  if (err instanceof StepTimeout) return { outcome: 'trap', trap: 'timeout', message };
  if (err instanceof WasiTrap) return { outcome: 'trap', trap: 'other', message };
  if (err instanceof HostTrap) return { outcome: 'trap', trap: 'host_error', message };
  return { outcome: 'trap', trap: trapKind(err) ?? 'host_error', message };
}

export class Run {
  constructor({ plan, module, info, sinks }) {
    this.plan = plan;
    this.module = module;
    this.info = info;
    this.sinks = { stdout: new SinkWriter(sinks.stdout), stderr: new SinkWriter(sinks.stderr) };
    this.signatures = new Map(info.exports.filter((e) => e.kind === 'func').map((e) => [e.name, e]));
    this.bindings = new Map();
    this.callers = new Map();
    this.trace = [];
    this.deadline = null;
    this.memoryExport = 'memory'; // the exported memory write and read steps and ops use
  }

  /** The outcome of `err`, thrown out of a Wasm call or a step. */
  classify(err) {
    return outcomeOf(err);
  }

  load() {
    const wasi = makeWasi({
      args: this.plan.wasi.args, env: this.plan.wasi.env,
      stdin: unbase64(this.plan.wasi.stdin_b64 ?? ''), memory: () => this.guestMemory(),
      sinks: this.sinks, deadline: () => this.deadline,
    });
    const imports = {};
    // An (empty) namespace for every module the guest imports from, so a missing function is
    // reported by the engine under its own name rather than as a missing namespace.
    for (const imp of this.info.imports) imports[imp.module] ??= {};
    imports.wasi_snapshot_preview1 = wasi;
    for (const spec of this.plan.imports) {
      imports[spec.module] ??= {};
      imports[spec.module][spec.name] = this.hostFunction(spec);
    }
    try {
      this.instance = new WebAssembly.Instance(this.module, imports);
    } catch (e) {
      return { ok: false, stage: 'instantiate', message: String(e?.message ?? e) };
    }
    return { ok: true };
  }

  guestMemory() {
    const mem = this.instance?.exports[this.memoryExport];
    return mem instanceof WebAssembly.Memory ? mem : undefined;
  }

  mismatch(name, args) {
    if (!this.signatures.has(name)) return `no function export named '${name}'`;
    const want = this.signatures.get(name).params.join(', ');
    const got = args.map((a) => a.t).join(', ');
    return want === got ? null : `arguments (${got}) do not match the export's parameters (${want})`;
  }

  call(name, args) {
    const sig = this.signatures.get(name);
    if (!this.callers.has(name)) {
      const imports = { t: { f: this.instance.exports[name] } };
      this.callers.set(name, new WebAssembly.Instance(trampoline('call', sig), imports).exports.fn);
    }
    return resultsFromJs(sig.results, this.callers.get(name)(...args.map(toJs)));
  }

  /** Host function `spec` as a Wasm function (through a trampoline: values move as bits). */
  hostFunction(spec) {
    const sig = { params: spec.params, results: spec.results };
    return new WebAssembly.Instance(trampoline('host', sig), { t: { f: this.hostCall(spec) } }).exports.fn;
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
          if (!this.bindings.has(x.ref)) throw new HostTrap(`${name}: no earlier step bound a value to '${x.ref}'`);
          return this.bindings.get(x.ref);
        }
        return decode(x.value);
      };
      for (const op of spec.do) {
        if ('call' in op) {
          last = this.nested(op.call, (op.args ?? []).map(value));
        } else if ('read' in op) {
          const bytes = this.memory(value(op.read.ptr).bits, value(op.read.len).bits, HostTrap);
          this.trace.push({ ev: 'read', hex: hex(bytes) });
        } else if ('write' in op) {
          const data = unhex(op.write.hex);
          this.memory(value(op.write.ptr).bits, BigInt(data.length), HostTrap).set(data);
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

  /** A live view of [ptr, ptr+len) of the exported memory; `Fail` is thrown when impossible. */
  memory(ptr, len, Fail) {
    const mem = this.guestMemory();
    if (!mem) {
      if (Fail === HostTrap) throw new HostTrap('the guest exports no memory');
      throw new StepError(`the instance exports no memory named '${this.memoryExport}'`);
    }
    const size = BigInt(mem.buffer.byteLength);
    if (ptr + len > size) {
      throw new Fail(`memory access [${ptr}, ${ptr + len}) is outside the ${size}-byte memory`);
    }
    return new Uint8Array(mem.buffer, Number(ptr), Number(len));
  }

  operand(x) {
    if (!('ref' in x)) return decode(x);
    if (!this.bindings.has(x.ref)) throw new StepError(`no earlier step bound a value to '${x.ref}'`);
    return this.bindings.get(x.ref);
  }

  address(x, what) {
    const v = this.operand(x);
    if (v.t !== 'i32') throw new StepError(`${what} must be an i32, not an ${v.t}`);
    return v.bits;
  }

  attempt(step) {
    if ('run' in step) throw new StepError('a run step is for js plans (target js) only');
    if ('write' in step) {
      const data = unhex(step.write.hex);
      this.memory(this.address(step.write.ptr, 'write.ptr'), BigInt(data.length), OutOfBounds).set(data);
      return { outcome: 'ok', results: [] };
    }
    if ('read' in step) {
      const ptr = this.address(step.read.ptr, 'read.ptr');
      const len = this.address(step.read.len, 'read.len');
      const data = base64(this.memory(ptr, len, OutOfBounds));
      return { outcome: 'ok', results: [], data_b64: data };
    }
    const args = (step.args ?? []).map((x) => this.operand(x));
    const why = this.mismatch(step.call, args);
    if (why) throw new StepError(why);
    const bind = step.bind ?? [];
    const count = this.signatures.get(step.call).results.length;
    if (bind.length > count) throw new StepError(`bind names ${bind.length} results; '${step.call}' returns ${count}`);
    const results = this.call(step.call, args);
    bind.forEach((name, i) => { if (name !== null) this.bindings.set(name, results[i]); });
    return { outcome: 'ok', results: results.map(encode) };
  }

  /** Empty both streams for step `index`; output before the first step counts towards it. */
  resetStreams(index) {
    if (index > 0) {
      this.sinks.stdout.reset();
      this.sinks.stderr.reset();
    }
  }

  step(index) {
    const step = this.plan.steps[index];
    this.resetStreams(index);
    this.trace = [];
    const started = performance.now();
    this.deadline = started + step.timeout_ms;
    let out;
    try {
      out = this.attempt(step);
    } catch (e) {
      out = this.classify(e);
    }
    this.deadline = null;
    out.duration_ms = performance.now() - started;
    out.trace = this.trace;
    return out;
  }
}
