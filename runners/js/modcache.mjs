/**
 * Compiled modules kept in memory while the executor lives, least recently used dropped first
 * once their bytes pass the budget: `WASMEXPORT_MODULE_CACHE_MB` (MiB, default 256, may be 0).
 * The module just asked for is always kept, so the plans of one case reuse it whatever the
 * budget; a hit costs a Map lookup: no reading, decoding, validating or compiling.
 *
 * Size measure: none of these engines can say how much memory a compiled module holds, nor
 * serialize one, so an entry is charged the size of its .wasm file times a factor measured per
 * engine: the growth of resident memory per module kept, code compiled by its runs included
 * (V8 compiles functions lazily and tiers hot ones up; so does JavaScriptCore), after a full
 * collection, over 40 of the suite's Go modules (~2.3 MB of .wasm each, every plan run 1 and 4
 * times): Node 20 ~2.1-2.2, Deno 2.9 ~2.1-2.2, Bun 1.4 ~3.0-3.3. The budget therefore stands
 * for resident memory, not for file sizes.
 *
 * No on-disk cache: none of the three engines can serialize a compiled module (V8's own
 * serializer needs an embedder hook that neither Node nor Deno provides, Bun cannot clone one),
 * so a new executor process compiles every module it is given once more.
 */

import process from 'node:process';
import { ENGINE } from './platform.mjs';

export const DEFAULT_BUDGET_MB = 256;

// Resident bytes per .wasm byte of a module kept (measured as described above).
const FACTOR = { node: 2.2, deno: 2.2, bun: 3.2 };

/** WASMEXPORT_MODULE_CACHE_MB as set, or undefined when unset (or empty, or unreadable). */
export function budgetSetting() {
  try {
    const text = process.env.WASMEXPORT_MODULE_CACHE_MB; // Deno: needs --allow-env for it
    return text?.trim() ? text : undefined;
  } catch {
    return undefined;
  }
}

/** The budget in bytes, from WASMEXPORT_MODULE_CACHE_MB or the default. */
export function budgetBytes() {
  const text = budgetSetting();
  const mb = text === undefined ? DEFAULT_BUDGET_MB : Number(text);
  if (!Number.isFinite(mb) || mb < 0) {
    throw new Error(`WASMEXPORT_MODULE_CACHE_MB must be a number of MiB, not '${text}'`);
  }
  return Math.floor(mb * 1024 * 1024);
}

/** What a module of `wasmBytes` bytes is charged against the budget on this engine. */
export function charge(wasmBytes) {
  return Math.ceil(wasmBytes * FACTOR[ENGINE]);
}

export class ModuleCache {
  constructor(budget = budgetBytes()) {
    this.budget = budget;
    this.entries = new Map(); // key -> {value, nbytes}, least recently used first
    this.bytes = 0;
    this.hits = 0;
    this.misses = 0;
  }

  /**
   * The value under `key`, or `make()`'s {value, nbytes} kept under it now. A `make` that
   * throws (the module does not compile) leaves nothing behind.
   */
  get(key, make) {
    const hit = this.entries.get(key);
    if (hit) {
      this.hits += 1;
      this.entries.delete(key); // re-inserted last: the most recently used
      this.entries.set(key, hit);
      return hit.value;
    }
    this.misses += 1;
    const entry = make();
    this.entries.set(key, entry);
    this.bytes += entry.nbytes;
    // An instance of an evicted module keeps it alive by itself until its plan ends.
    for (const [old, { nbytes }] of this.entries) {
      if (this.bytes <= this.budget || old === key) break;
      this.entries.delete(old);
      this.bytes -= nbytes;
    }
    return entry.value;
  }
}
