/**
 * One plan, from the host's side: send it to an executor, time each step, answer for a step
 * that outlives its timeout or an executor that dies, and build the observation, with each
 * step's output counted, hashed and kept up to the plan's limit (runners/PROTOCOL.md).
 */

import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { executor } from './remote.mjs';

export const PROTOCOL = 3;
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

/**
 * The observation of one plan, run by executor `ex` (remote.mjs's Executor, or bench.mjs's
 * in-process one with the same interface). Throws on the runner's own failure.
 */
export async function execute(plan, ex = executor()) {
  const obs = { type: 'observation', protocol: PROTOCOL, id: plan.id, exports: null, imports: null,
    steps: [] };
  const limit = plan.limits?.output_bytes ?? DEFAULT_OUTPUT_BYTES;
  // Output goes to the step under way; anything written before the first step (a start
  // function) counts towards the first.
  let streams = { 1: new Sink(limit), 2: new Sink(limit) };
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
