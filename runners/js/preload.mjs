/**
 * Preloads (capability `preload`, runners/PROTOCOL.md "Preloads"): the harness names a module a
 * later plan runs, and the executor starts compiling it with `WebAssembly.compile`, which the
 * engine does on its own background threads while this thread runs the current plan. A plan
 * whose module is preloaded waits for that compile (`settled`) instead of starting over; the
 * module then joins the module cache as if the plan had compiled it. A preload that fails is
 * forgotten: its plan compiles the module itself and reports what happens as usual.
 */

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { entry, moduleCache, moduleKey, pagesOf, refusal } from './instance.mjs';
import { capMemory } from './wasm.mjs';

// Compiles held outside the cache's budget at once; further preloads are dropped.
const MAX_PENDING = 8;
const pending = new Map(); // module key -> promise of a module cache entry, or of null

/** Start compiling the module of a preload message ({module, limits}), unless held already. */
export function preload(msg) {
  const key = moduleKey(msg);
  if (moduleCache.entries.has(key) || pending.has(key) || pending.size >= MAX_PENDING) return;
  let original;
  let capped;
  try {
    original = fs.readFileSync(msg.module.path);
    // not the module the hint names: a plan must never run it under that name
    if (createHash('sha256').update(original).digest('hex') !== msg.module.sha256) return;
    const pages = pagesOf(msg);
    capped = pages === null ? { bytes: original, tooSmall: null } : capMemory(original, pages);
  } catch {
    return; // unreadable or malformed: the plan meets it again and says so
  }
  pending.set(key, WebAssembly.compile(capped.bytes).then(
    (module) => entry(module, original, capped.tooSmall),
    (e) => (e instanceof WebAssembly.CompileError ? refusal(e) : null),
  ));
}

/**
 * A promise that settles once the preload of the plan's module (if any) is in the module
 * cache, or null when none is pending: the plan then loads as it always does.
 */
export function settled(plan) {
  const key = moduleKey(plan);
  const compiling = pending.get(key);
  if (!compiling) return null;
  return compiling.then((done) => {
    pending.delete(key);
    if (done && !moduleCache.entries.has(key)) moduleCache.get(key, () => done);
  });
}
