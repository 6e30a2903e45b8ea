/**
 * The executor's requests, answered by one plan's run (instance.mjs for wasip1 plans,
 * gorun.mjs for js plans): {op: 'load', plan}, {op: 'step', index}, {op: 'unload'}, and
 * {op: 'preload', module, limits} (preload.mjs). Replies: {op: 'loaded', load, exports,
 * imports} and {op: 'stepped', step}, or a promise of one (a load waits for its module's
 * preload; a js plan's run step waits for Go's timers); 'unload' and 'preload' have none.
 */

import { GoRun } from './gorun.mjs';
import { Run } from './instance.mjs';
import { preload, settled } from './preload.mjs';

function newRun(plan, emit) {
  const target = plan.target ?? 'wasip1';
  if (target === 'wasip1') return new Run(plan, emit);
  if (target === 'js') return new GoRun(plan, emit);
  throw new Error(`unknown target '${target}': this runner runs wasip1 and js plans`);
}

/**
 * The request handler of one executor: `emit(fd, bytes)` takes the guest's output. Returns
 * `answer(msg)`, the reply to a request (undefined for 'unload'); it throws what it fails on.
 */
export function handler(emit) {
  let run = null;
  return (msg) => {
    if (msg.op === 'load') {
      run?.close();
      run = null;
      const load = () => {
        run = newRun(msg.plan, emit);
        return { op: 'loaded', ...run.load() };
      };
      return settled(msg.plan)?.then(load) ?? load();
    }
    if (msg.op === 'preload') {
      preload(msg);
      return undefined;
    }
    if (msg.op === 'step') {
      const step = run.step(msg.index);
      return step instanceof Promise ? step.then((s) => ({ op: 'stepped', step: s }))
        : { op: 'stepped', step };
    }
    if (msg.op === 'unload') {
      run?.close();
      run = null;
    }
    return undefined;
  };
}
