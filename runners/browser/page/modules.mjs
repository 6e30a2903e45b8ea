/**
 * Compiled modules, kept in the page by sha256 and memory cap, least recently used dropped
 * first once their charge passes the budget (WASMEXPORT_MODULE_CACHE_MB, given by the runner
 * in the page's address). The module just asked for is always kept, so the plans of one case
 * compile it once. A WebAssembly.Module is handed to the worker by postMessage, which shares
 * the compiled code instead of compiling again.
 *
 * Charge: a module's .wasm size times a factor per engine (`FACTOR`): the growth of the
 * resident memory of the browser's whole process tree per .wasm byte kept, measured over 40 of
 * the suite's Go modules (88 MiB of .wasm) run once each with an unbounded and with an empty
 * cache: Chromium 156 ~1.5 (V8 compiles lazily), Firefox 153 ~5.0 (SpiderMonkey compiles every
 * function with its baseline compiler and in the background with its optimizing one). Nothing
 * is kept on disk: neither engine lets a page serialize a module.
 */

import { capMemory, PAGE, parseModule } from '../js/wasm.mjs';

// Resident bytes per .wasm byte of a module kept and run (measured as described above).
const FACTOR = { chromium: 1.5, firefox: 5.0 };
const params = new URLSearchParams(location.search);
const ENGINE = params.get('engine');
const BUDGET = Number(params.get('budget') ?? 256 * 1024 * 1024);

/** The module did not compile, or could not be read: a load failure at stage `compile`. */
export class CompileFailure extends Error {}

class ModuleCache {
  constructor(budget) {
    this.budget = budget;
    this.entries = new Map(); // key -> {value, nbytes}, least recently used first
    this.bytes = 0;
  }

  async get(key, make) {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.value;
    }
    const entry = await make();
    if (this.entries.has(key)) return this.entries.get(key).value; // made twice meanwhile
    this.entries.set(key, entry);
    this.bytes += entry.nbytes;
    for (const [old, { nbytes }] of this.entries) {
      if (this.bytes <= this.budget || old === key) break;
      this.entries.delete(old);
      this.bytes -= nbytes;
    }
    return entry.value;
  }
}

const cache = new ModuleCache(BUDGET);

/** The module's bytes from the runner's server, or a CompileFailure saying why there are none. */
async function fetchModule(url) {
  const response = await fetch(url, { cache: 'no-store' });
  if (!response.ok) throw new CompileFailure(await response.text());
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * {module, info, tooSmall} for the plan's module with its memory cap (`info`: exports and
 * imports as runners/js/wasm.mjs parses them); throws CompileFailure when it does not compile.
 */
export async function compile(plan, url) {
  const pages = plan.limits?.memory_bytes ? Math.floor(plan.limits.memory_bytes / PAGE) : null;
  const compiled = await cache.get(`${plan.module.sha256}:${pages}`, async () => {
    const original = await fetchModule(url);
    const { bytes, tooSmall } = pages === null ? { bytes: original, tooSmall: null }
      : capMemory(original, pages);
    try {
      const module = await WebAssembly.compile(bytes);
      const value = { module, info: parseModule(original), tooSmall };
      return { value, nbytes: Math.ceil(original.length * (FACTOR[ENGINE] ?? 5)) };
    } catch (e) {
      if (!(e instanceof WebAssembly.CompileError)) throw e;
      return { value: { refused: e.message }, nbytes: e.message.length };
    }
  });
  if (compiled.refused) throw new CompileFailure(compiled.refused);
  return compiled;
}
