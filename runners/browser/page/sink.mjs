/**
 * One output stream of one step, in shared memory: the first `limit` bytes kept, every byte
 * counted and hashed. The worker writes it (SinkWriter); the page reads it (readSink) when the
 * step ends, also when the step ended because the page terminated the worker, whose own
 * memory is gone by then: so everything lives in two SharedArrayBuffers.
 *
 * - `kept`: `limit` bytes, appended to, never rewritten within a step.
 * - `control`: Int32Array [generation, slot 0, slot 1]; a slot holds the hash state
 *   (sha256.mjs) and the count of kept bytes. A write fills the slot the current generation
 *   does not name, then publishes it by bumping the generation. A reader copies the slot the
 *   generation names and accepts the copy if the generation did not move meanwhile: the worker
 *   only ever writes the other slot until it publishes, so an accepted copy is whole, even one
 *   taken while a terminated worker has not stopped yet.
 */

import { Sha256, STATE_WORDS } from './sha256.mjs';

const SLOT = STATE_WORDS + 1;
const KEPT = STATE_WORDS; // index of the kept-bytes count within a slot

/** Shared buffers for a stream that keeps up to `limit` bytes. */
export function sinkBuffers(limit) {
  return { control: new SharedArrayBuffer(4 * (1 + 2 * SLOT)), kept: new SharedArrayBuffer(limit) };
}

export class SinkWriter {
  constructor({ control, kept }) {
    this.control = new Int32Array(control);
    this.kept = new Uint8Array(kept);
    this.reset();
  }

  /** Empty the stream (a new step's output starts). */
  reset() {
    this.hash = new Sha256();
    this.keptLen = 0;
    this.publish();
  }

  write(bytes) {
    this.hash.update(bytes);
    const take = Math.min(bytes.length, this.kept.length - this.keptLen);
    if (take > 0) {
      this.kept.set(bytes.subarray(0, take), this.keptLen);
      this.keptLen += take;
    }
    this.publish();
  }

  publish() {
    const gen = Atomics.load(this.control, 0) + 1;
    const at = 1 + (gen & 1) * SLOT;
    this.hash.save(this.control, at);
    this.control[at + KEPT] = this.keptLen;
    Atomics.store(this.control, 0, gen);
  }
}

/** Standard base64 of bytes. */
export function base64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/**
 * The stream's report under `name` (`<name>_b64`, `<name>_len`, `<name>_sha256`), or null if
 * the writer kept publishing while it was read (it is still running: try again later).
 */
export function readSink({ control, kept }, name) {
  const words = new Int32Array(control);
  const gen = Atomics.load(words, 0);
  const at = 1 + (gen & 1) * SLOT;
  const slot = words.slice(at, at + SLOT);
  const keptLen = slot[KEPT];
  const bytes = new Uint8Array(kept).slice(0, keptLen);
  if (Atomics.load(words, 0) !== gen) return null;
  const hash = Sha256.load(slot, 0);
  return { [`${name}_b64`]: base64(bytes), [`${name}_len`]: hash.total, [`${name}_sha256`]: hash.hex() };
}
