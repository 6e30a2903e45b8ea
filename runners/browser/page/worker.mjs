/**
 * The dedicated worker that holds one plan's instance at a time and runs its steps, so the
 * page can terminate it when a step outlives its timeout (a page cannot interrupt synchronous
 * Wasm). The page keeps one worker across plans until a timeout or a failure ends it.
 *
 * Requests (postMessage from the page): {op: 'load', plan, module, info, sinks} with the
 * compiled WebAssembly.Module and the shared buffers of the two output sinks (sink.mjs);
 * {op: 'step', index}; {op: 'unload'}. Replies: {op: 'loaded', load}, {op: 'stepped', step}
 * (without the stream fields: the page reads those from the sinks), {op: 'failed', error}.
 *
 * Values cross into and out of Wasm only as integer bits, through the trampolines of
 * runners/js/wasm.mjs, so f32/f64 NaN payloads survive; i64 is BigInt. Host functions follow
 * the protocol's interpreter (record import, run the ops, record import_return).
 */

import { Run } from './run.mjs';

let run = null;

self.onmessage = ({ data: msg }) => {
  try {
    if (msg.op === 'load') {
      run = new Run(msg);
      self.postMessage({ op: 'loaded', load: run.load() });
    } else if (msg.op === 'step') {
      self.postMessage({ op: 'stepped', step: run.step(msg.index) });
    } else if (msg.op === 'unload') {
      run = null;
    }
  } catch (e) {
    self.postMessage({ op: 'failed', error: String(e?.stack ?? e) });
  }
};
