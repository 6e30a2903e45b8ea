/**
 * A js plan (Go's js/wasm target, runners/PROTOCOL.md "js plans"): the module runs with the Go
 * class of the toolchain's own wasm_exec.js, in a realm of its own (gojs.mjs).
 *
 * - Load: wasi.args become go.argv and wasi.env go.env (wasm_exec.js passes the environment
 *   sorted by name); stdin must be empty. The instance is made with go.importObject (module
 *   `gojs`) plus the plan's host functions. Nothing runs: the steps start Go.
 * - A `run` step calls go.run(instance) and waits: promise jobs run, then the timer due first
 *   fires once its time comes (wasm_exec.js schedules Go's timeout events with setTimeout),
 *   until the program has exited (outcome `exit`, wasm_exec's exit code), or nothing is
 *   pending (outcome `ok`: idle), or the host stops the step at its timeout.
 * - `call`, `write` and `read` steps are a wasip1 plan's, on the memory exported as `mem`.
 *   Timers fire only while a run step waits. A step during which the program exited (main
 *   returned, os.Exit, a panic's exit 2) is outcome `exit` with that code, whatever the call
 *   returned. A JavaScript exception out of the call (wasm_exec.js throws a TypeError when an
 *   export runs before go.run or after the exit) is a trap of kind `host_error`.
 */

import { setImmediate, setTimeout } from 'node:timers';
import { GoRealm } from './gojs.mjs';
import { compile, outcomeOf, Run, trampolineModule } from './instance.mjs';
import { inherits, trapKind } from './platform.mjs';

const tick = () => new Promise((resolve) => { setImmediate(resolve); });
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });
const memoryBuffer = Object.getOwnPropertyDescriptor(WebAssembly.Memory.prototype, 'buffer').get;

/** The guest exited inside a nested export call: the host function ends, as on wasip1. */
class ExitInside extends Error {}

export class GoRun extends Run {
  constructor(plan, emit) {
    super(plan, emit);
    this.memoryExport = 'mem';
    this.exits = 0; // how many times wasm_exec's exit was called
    this.exitCode = null; // the code it was last called with
    this.hostFailure = null; // what the last failing host function threw, this step
  }

  load() {
    let compiled;
    try {
      compiled = compile(this.plan);
    } catch (e) {
      if (!(e instanceof WebAssembly.CompileError || e?.code)) throw e;
      return { load: { ok: false, stage: 'compile', message: String(e.message) }, exports: null,
        imports: null };
    }
    const { module, info, tooSmall } = compiled;
    this.signatures = new Map(info.exports.filter((e) => e.kind === 'func').map((e) => [e.name, e]));
    const reflected = { exports: info.exports, imports: info.imports };
    const refuse = (message) => ({ load: { ok: false, stage: 'instantiate', message }, ...reflected });
    if (tooSmall) {
      return refuse(`memory ${tooSmall.index} needs ${tooSmall.min} pages at instantiation, `
        + `more than the limit of ${tooSmall.limit} pages`);
    }
    if (this.plan.wasi.stdin_b64) {
      return refuse('a js plan has no stdin: wasm_exec.js gives Go no fd 0 to read, so '
        + 'wasi.stdin_b64 must be empty');
    }
    this.realm = new GoRealm(this.plan.go_js, {
      emit: this.emit,
      onExit: (code) => {
        this.exits += 1;
        this.exitCode = code;
      },
      failure: () => String(this.hostFailure?.message ?? this.hostFailure),
    });
    this.inner = this.realm.intrinsics;
    this.go = this.realm.newGo(this.plan.wasi.args, this.plan.wasi.env);
    for (const imp of info.imports) this.realm.namespace(this.go, imp.module);
    for (const spec of this.plan.imports) {
      this.realm.namespace(this.go, spec.module)[spec.name] = this.hostFunction(spec);
    }
    try {
      this.instance = this.realm.instantiate(module, this.go);
    } catch (e) {
      return refuse(String(e?.message ?? e));
    }
    this.exports = this.instance.exports;
    this.callers = new Map();
    return { load: { ok: true }, ...reflected };
  }

  /** The `mem` export, its buffer read through this realm's getter. */
  guestMemory() {
    const mem = this.exports?.[this.memoryExport];
    if (!inherits(mem, this.inner.Memory)) return undefined;
    return { get buffer() { return Reflect.apply(memoryBuffer, mem, []); } };
  }

  /** A host function made in the guest's realm; its failures stay on this side. */
  hostFunction(spec) {
    const js = this.hostCall(spec);
    const call = (args) => {
      try {
        return js(...spec.params.map((_, i) => args[i]));
      } catch (e) {
        this.hostFailure = e;
        return this.realm.FAILED;
      }
    };
    const sig = { params: spec.params, results: spec.results };
    return this.realm.hostFunction(trampolineModule('host', sig), call);
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

  /**
   * A failing host function's own error stands for what the guest's realm threw in its place;
   * errors of either realm are classified by their realm's prototypes.
   */
  classify(err) {
    if (err instanceof ExitInside) return { outcome: 'exit', code: this.exitCode, message: err.message };
    if (this.hostFailure !== null) {
      const failure = this.hostFailure;
      this.hostFailure = null;
      return this.classify(failure);
    }
    return outcomeOf(err, (e) => trapKind(e) ?? trapKind(e, this.inner));
  }

  /** Start go.run and wait until the program exits or is idle (see the header). */
  async runProgram() {
    const exits = this.exits;
    const idle = { outcome: 'ok', results: [] }; // or the exit, which the step reports
    this.realm.start(this.go, this.instance);
    for (;;) {
      await tick(); // promise jobs, go.run's rejection among them
      const { failed, error } = this.realm.runOutcome();
      if (failed) throw error;
      if (this.exits > exits) return idle;
      const next = this.realm.nextTimer();
      if (!next) return idle;
      const wait = next.due - performance.now();
      if (wait > 0) await sleep(wait);
      this.realm.fire(next.id);
    }
  }

  /** One step: an outcome, or a promise of one for a run step. */
  step(index) {
    const step = this.plan.steps[index];
    this.trace = [];
    this.hostFailure = null;
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
    if ('run' in step) {
      return this.runProgram().then(finish, (e) => finish(this.classify(e)));
    }
    try {
      return finish(this.attempt(step));
    } catch (e) {
      return finish(this.classify(e));
    }
  }
}
