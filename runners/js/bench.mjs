/**
 * Bench mode (host.mjs --bench PLANS.jsonl [--repeat N]): the bare in-process loop over the
 * same plans that the suite sends, for comparing the suite's cost per item against. What one
 * timed plan includes and leaves out is in host.mjs's header.
 *
 * 1. Screen: every plan once through the executor process, exactly as when serving. A plan
 *    that timed out or lost its executor is left out of the loop, named in `excluded`: in one
 *    thread nothing could stop it.
 * 2. In the thread where the executor runs its instances (a worker thread on Node and Deno,
 *    with the same default resource limits; the main thread on Bun): every remaining plan once
 *    to warm up (compile, fill the module cache), then the whole list `repeat` times, timed
 *    plan by plan. The module cache keeps every module of the file unless
 *    WASMEXPORT_MODULE_CACHE_MB is set, so the timed loop compiles nothing (`module_cache`
 *    counts its hits and misses).
 * 3. Print one JSON line: {engine, plans, repeat, per_plan_ms: {median, mean, p90}, total_s,
 *    excluded: [{id, why}], module_cache: {budget_mb, hits, misses, modules}}, where plans is
 *    the number of plans timed, per_plan_ms is over every timed run of every plan, and total_s
 *    is the wall time of the timed passes.
 */

import fs from 'node:fs';
import process from 'node:process';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { moduleCache } from './instance.mjs';
import { budgetSetting } from './modcache.mjs';
import { execute } from './observe.mjs';
import { ENGINE, EXECUTOR_IN_WORKER } from './platform.mjs';
import { discard, executor } from './remote.mjs';
import { handler } from './requests.mjs';

const USAGE = 'usage: <runner> --bench PLANS.jsonl [--repeat N]';

/** The executor's interface (remote.mjs) over its request handler, called in this thread. */
class LocalExecutor {
  constructor() {
    this.onOutput = () => {};
    this.answer = handler((fd, bytes) => this.onOutput(fd, bytes));
    this.ready = Promise.resolve({ reply: { op: 'ready' } });
  }

  async request(msg) {
    let reply;
    try {
      reply = await this.answer(msg);
    } catch (e) {
      reply = { op: 'failed', error: String(e?.stack ?? e) };
    }
    return { reply };
  }

  tell(msg) {
    this.answer(msg);
  }
}

function stats(ms) {
  const sorted = [...ms].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { median: null, mean: null, p90: null };
  const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  const mean = sorted.reduce((a, b) => a + b, 0) / n;
  const p90 = sorted[Math.ceil(0.9 * n) - 1]; // nearest rank
  const round = (x) => Math.round(x * 1000) / 1000;
  return { median: round(median), mean: round(mean), p90: round(p90) };
}

/** Warm-up and timed passes in this thread; what the JSON line reports of them. */
async function loop(plans, repeat, unbounded) {
  if (unbounded) moduleCache.budget = Infinity;
  const local = new LocalExecutor();
  const excluded = [];
  const kept = [];
  const first = []; // the warm-up pass: each module compiled, and its code run, a first time
  for (const plan of plans) {
    const t0 = performance.now();
    const obs = await execute(plan, local);
    first.push(performance.now() - t0);
    if (obs.error) excluded.push({ id: plan.id, why: `the runner failed: ${obs.error}` });
    else kept.push(plan);
  }
  moduleCache.hits = 0;
  moduleCache.misses = 0;
  const times = [];
  const started = performance.now();
  for (let pass = 0; pass < repeat; pass++) {
    for (const plan of kept) {
      const t0 = performance.now();
      await execute(plan, local);
      times.push(performance.now() - t0);
    }
  }
  const total = (performance.now() - started) / 1000;
  const budget = moduleCache.budget;
  return { plans: kept.length, per_plan_ms: stats(times), first_pass_ms: stats(first), total_s: Math.round(total * 1e4) / 1e4,
    excluded,
    module_cache: { budget_mb: Number.isFinite(budget) ? budget / (1 << 20) : null,
      hits: moduleCache.hits, misses: moduleCache.misses, modules: moduleCache.entries.size } };
}

function parseArgs(args) {
  const [file, ...rest] = args;
  let repeat = 5;
  if (!file || file.startsWith('--')) throw new Error(USAGE);
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--repeat' && /^[1-9]\d*$/.test(rest[i + 1] ?? '')) repeat = Number(rest[++i]);
    else throw new Error(USAGE);
  }
  return { file, repeat };
}

/** Bench mode, from host.mjs's main thread; returns the exit status. */
export async function bench(args) {
  let file;
  let repeat;
  let plans;
  try {
    ({ file, repeat } = parseArgs(args));
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
    plans = lines.map((l) => JSON.parse(l));
  } catch (e) {
    console.error(String(e?.message ?? e));
    return 2;
  }
  const screened = [];
  const excluded = [];
  for (const plan of plans) {
    const ex = executor();
    let obs;
    try {
      obs = await execute(plan, ex);
    } catch (e) {
      obs = { error: String(e?.message ?? e) };
    }
    if (ex.death) excluded.push({ id: plan.id, why: `its executor ended (${ex.death})` });
    else if (obs.error) excluded.push({ id: plan.id, why: `the runner failed: ${obs.error}` });
    else screened.push(plan);
  }
  discard('screening done'); // no idle executor process beside the timed loop
  const unbounded = budgetSetting() === undefined;
  let result;
  if (EXECUTOR_IN_WORKER) {
    const worker = new Worker(new URL(import.meta.url),
      { workerData: { bench: true, plans: screened, repeat, unbounded } });
    result = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
  } else {
    result = await loop(screened, repeat, unbounded);
  }
  process.stdout.write(`${JSON.stringify({ engine: ENGINE, plans: result.plans, repeat,
    per_plan_ms: result.per_plan_ms, first_pass_ms: result.first_pass_ms, total_s: result.total_s,
    excluded: [...excluded, ...result.excluded], module_cache: result.module_cache })}\n`);
  return 0;
}

if (!isMainThread && workerData?.bench) {
  const { plans, repeat, unbounded } = workerData;
  parentPort.postMessage(await loop(plans, repeat, unbounded));
}
