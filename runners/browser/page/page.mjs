/**
 * The page's side of a plan (`window.runPlan(plan, moduleUrl, wasmExecUrl)`, called by the runner through
 * puppeteer): compile the module here (modules.mjs), run the instance and its steps in a
 * dedicated worker (worker.mjs), time each step here, and build the observation.
 *
 * A step that outlives its timeout_ms is a trap of kind `timeout`: the page terminates the
 * worker (synchronous Wasm cannot be interrupted otherwise) and the plan's later steps are
 * outcome `error` ("instance terminated after timeout"); a worker that fails the same way ends
 * its step as `error`. The step's output survives the worker: it is in shared memory
 * (sink.mjs). The next plan gets a fresh worker, started at once.
 *
 * A js plan (Go's js/wasm target) runs in a worker of its own (goworker.mjs), ended with the
 * plan; the next js plan's is started as soon as one begins, to load its modules meanwhile.
 */

import { CompileFailure, compile } from './modules.mjs';
import { readSink, sinkBuffers } from './sink.mjs';

const PROTOCOL = 3;
const DEFAULT_OUTPUT_BYTES = 1 << 20;
const LOAD_TIMEOUT_MS = 30_000; // instantiation (Go modules have no start function to run)
const EMPTY = { b64: '', len: 0, sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' };

/**
 * The worker of the current plan: requests in, one reply out at a time. A wasip1 plan's worker
 * (worker.mjs) talks on its own message channel and serves plan after plan; a js plan's
 * (goworker.mjs) is started for that plan only and talks on a MessagePort handed to it with the
 * first request: the page never reads what that worker's guest may post itself.
 */
class Executor {
  constructor(script = './worker.mjs') {
    this.worker = new Worker(new URL(script, import.meta.url), { type: 'module' });
    this.pending = null;
    this.death = null;
    this.port = null;
    if (script === './worker.mjs') {
      this.worker.onmessage = ({ data }) => this.settle({ reply: data });
    } else {
      const channel = new MessageChannel();
      this.port = channel.port1;
      this.port.onmessage = ({ data }) => this.settle({ reply: data });
      this.remote = channel.port2;
    }
    this.worker.onerror = (e) => {
      e.preventDefault?.();
      this.kill(`the worker failed: ${e.message ?? e}`);
    };
    this.worker.onmessageerror = () => this.kill('a message from the worker could not be read');
  }

  settle(result) {
    const p = this.pending;
    this.pending = null;
    if (p) {
      clearTimeout(p.timer);
      p.resolve(result);
    }
  }

  /** Send `msg`; resolves to {reply}, {timeout: true} after `timeoutMs`, or {died: why}. */
  request(msg, timeoutMs) {
    return new Promise((resolve) => {
      if (this.death) {
        resolve({ died: this.death });
        return;
      }
      this.pending = { resolve, timer: setTimeout(() => this.settle({ timeout: true }), timeoutMs) };
      this.send(msg);
    });
  }

  send(msg) {
    if (this.remote) { // the first request of a js plan's worker brings its port
      const port = this.remote;
      this.remote = null;
      this.worker.postMessage({ ...msg, port }, [port]);
    } else {
      (this.port ?? this.worker).postMessage(msg);
    }
  }

  tell(msg) {
    if (!this.death) this.send(msg);
  }

  kill(why) {
    this.death ??= why;
    this.worker.terminate();
    this.port?.close();
    this.settle({ died: this.death });
  }
}

let live = null;
let spare = null; // the next js plan's worker, loading its modules meanwhile

/** A fresh worker for one js plan (the spare, never used), and a new spare behind it. */
function goExecutor() {
  const ex = spare && !spare.death ? spare : new Executor('./goworker.mjs');
  spare = new Executor('./goworker.mjs');
  return ex;
}

function executor() {
  if (live?.death) live = null;
  live ??= new Executor();
  return live;
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/** Both streams' report fields, read from the sinks once the writer holds still. */
async function report(sinks, out) {
  for (let tries = 0; ; tries++) {
    const stdout = readSink(sinks.stdout, 'stdout');
    const stderr = readSink(sinks.stderr, 'stderr');
    if (stdout && stderr) return Object.assign(out, stdout, stderr);
    if (tries > 2000) throw new Error('the worker kept writing output after it was terminated');
    await sleep(1); // a terminated worker that has not stopped yet
  }
}

function lostStep(message) {
  return { outcome: 'error', message, duration_ms: 0, trace: [],
    stdout_b64: EMPTY.b64, stdout_len: EMPTY.len, stdout_sha256: EMPTY.sha256,
    stderr_b64: EMPTY.b64, stderr_len: EMPTY.len, stderr_sha256: EMPTY.sha256 };
}

async function execute(plan, url, wasmExec, obs) {
  let compiled;
  try {
    compiled = await compile(plan, url);
  } catch (e) {
    if (!(e instanceof CompileFailure)) throw e;
    obs.load = { ok: false, stage: 'compile', message: e.message };
    return;
  }
  const { module, info, tooSmall } = compiled;
  obs.exports = info.exports;
  obs.imports = info.imports;
  if (tooSmall) {
    const message = `memory ${tooSmall.index} needs ${tooSmall.min} pages at instantiation, `
      + `more than the limit of ${tooSmall.limit} pages`;
    obs.load = { ok: false, stage: 'instantiate', message };
    return;
  }
  const limit = plan.limits?.output_bytes ?? DEFAULT_OUTPUT_BYTES;
  const sinks = { stdout: sinkBuffers(limit), stderr: sinkBuffers(limit) };
  const js = plan.target === 'js';
  const ex = js ? goExecutor() : executor();
  try {
    await steps(plan, ex, { op: 'load', plan, module, info, sinks, wasmExec }, sinks, obs);
  } finally {
    if (js) ex.kill('the plan is done');
  }
}

/** Load the instance in `ex` with request `load`, then run the plan's steps into `obs`. */
async function steps(plan, ex, load, sinks, obs) {
  const loaded = await ex.request(load, LOAD_TIMEOUT_MS);
  if (loaded.timeout) ex.kill('instantiation did not finish');
  if (!loaded.reply) throw new Error(`the worker was lost while instantiating: ${ex.death}`);
  if (loaded.reply.op === 'failed') throw new Error(loaded.reply.error);
  obs.load = loaded.reply.load;
  obs.steps = [];
  if (!obs.load.ok) return;
  let lost = null; // why the instance is gone, once it is
  for (const [index, step] of plan.steps.entries()) {
    if (lost) {
      obs.steps.push(lostStep(lost));
      continue;
    }
    const started = performance.now();
    const answer = await ex.request({ op: 'step', index }, step.timeout_ms);
    const duration = performance.now() - started;
    let out;
    if (answer.timeout || answer.reply?.step?.trap === 'timeout') {
      ex.kill('timeout');
      lost = 'instance terminated after timeout';
      out = { outcome: 'trap', trap: 'timeout', trace: answer.reply?.step?.trace ?? [],
        duration_ms: duration,
        message: `the call ran past its ${step.timeout_ms} ms timeout; the instance was terminated` };
    } else if (answer.died) {
      lost = `instance lost: the worker died (${answer.died}) during an earlier step`;
      out = { outcome: 'error', trace: [], duration_ms: duration,
        message: `the worker died (${answer.died}) during the call; the instance is gone` };
    } else if (answer.reply.op === 'failed') {
      throw new Error(answer.reply.error);
    } else {
      out = answer.reply.step;
    }
    obs.steps.push(await report(sinks, out));
  }
  if (!lost) ex.tell({ op: 'unload' });
  if (plan.target !== 'js') executor(); // a fresh worker starts now if this plan cost the last one
}

/**
 * The observation of `plan`, whose module the runner serves at `url`, as JSON text (what a
 * browser hands back from an evaluation loses repeated references). Never throws.
 */
window.runPlan = async (plan, url, wasmExec) => {
  const obs = { type: 'observation', protocol: PROTOCOL, id: plan?.id ?? null, exports: null,
    imports: null };
  try {
    await execute(plan, url, wasmExec, obs);
    return JSON.stringify(obs);
  } catch (e) { // the runner's own failure: report it, start a fresh worker
    live?.kill('the runner failed');
    return JSON.stringify({ type: 'observation', protocol: PROTOCOL, id: plan?.id ?? null,
      error: String(e?.stack ?? e) });
  }
};

executor(); // the first plan's worker, up before it arrives
window.runnerReady = true;
