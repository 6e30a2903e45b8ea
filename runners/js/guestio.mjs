/**
 * The WASI preview1 functions the executor answers itself instead of the engine's `node:wasi`,
 * the same on every engine:
 *
 * - fd_write on fds 1 and 2: bytes go straight from guest memory to the host as output frames
 *   (in bench mode: to the step's sinks), where they are counted, hashed and kept up to the
 *   plan's limit. No copy stays here, so a flood costs no memory.
 * - fd_read on fd 0: the plan's stdin bytes, then end of file. Nothing on disk, no pipe to fill.
 * - environ_sizes_get / environ_get: the plan's env in its order. Every node:wasi takes the
 *   environment as an object, which moves integer-like names ("1") to the front and keeps one
 *   value per repeated name.
 *
 * Everything else (fdstat of fds 0-2, poll_oneoff, ...) stays the engine's, on /dev/null.
 * Each takes `memory()`, the guest's exported memory or undefined, read at call time.
 */

import { Buffer } from 'node:buffer';

const ERRNO_FAULT = 21; // WASI preview1 errno: bad address

/** u32 views of a WASI call's pointer arguments (they arrive as signed i32). */
const u32 = (...xs) => xs.map((x) => x >>> 0);

/**
 * The guest's iovec array at `iovs` as subarrays of its memory, or null if any part of it lies
 * outside (checked before anything is read or written).
 */
function iovecs(mem, iovs, count) {
  const bytes = new Uint8Array(mem.buffer);
  const view = new DataView(mem.buffer);
  if (iovs + count * 8 > bytes.length) return null;
  const pieces = [];
  for (let i = 0; i < count; i++) {
    const ptr = view.getUint32(iovs + i * 8, true);
    const len = view.getUint32(iovs + i * 8 + 4, true);
    if (ptr + len > bytes.length) return null;
    pieces.push(bytes.subarray(ptr, ptr + len));
  }
  return pieces;
}

/**
 * fd_write: fds 1 and 2 to `emit(fd, bytes)` (the executor's: frames to the host), with a view
 * of guest memory that is only valid during the call; other fds to the engine's `fdWrite`.
 */
export function captureWrites(memory, fdWrite, emit) {
  return (fd, iovs, iovsLen, nwrittenPtr) => {
    if (fd !== 1 && fd !== 2) return fdWrite(fd, iovs, iovsLen, nwrittenPtr);
    const mem = memory();
    if (!mem) return ERRNO_FAULT;
    [iovs, iovsLen, nwrittenPtr] = u32(iovs, iovsLen, nwrittenPtr);
    const pieces = iovecs(mem, iovs, iovsLen);
    if (!pieces || nwrittenPtr + 4 > mem.buffer.byteLength) return ERRNO_FAULT;
    let total = 0;
    for (const piece of pieces) {
      if (piece.length) emit(fd, piece);
      total += piece.length;
    }
    new DataView(mem.buffer).setUint32(nwrittenPtr, total >>> 0, true);
    return 0;
  };
}

/** fd_read: fd 0 reads `data` from the start, then 0 bytes (end of file) for ever. */
export function stdinReader(memory, data, fdRead) {
  let pos = 0;
  return (fd, iovs, iovsLen, nreadPtr) => {
    if (fd !== 0) return fdRead(fd, iovs, iovsLen, nreadPtr);
    const mem = memory();
    if (!mem) return ERRNO_FAULT;
    [iovs, iovsLen, nreadPtr] = u32(iovs, iovsLen, nreadPtr);
    const pieces = iovecs(mem, iovs, iovsLen);
    if (!pieces || nreadPtr + 4 > mem.buffer.byteLength) return ERRNO_FAULT;
    const start = pos;
    for (const piece of pieces) {
      const take = Math.min(piece.length, data.length - pos);
      piece.set(data.subarray(pos, pos + take));
      pos += take;
      if (take < piece.length) break; // a short read: the rest would be end of file anyway
    }
    new DataView(mem.buffer).setUint32(nreadPtr, pos - start, true);
    return 0;
  };
}

/** environ_sizes_get and environ_get over `env` ([name, value] pairs) in its order. */
export function environ(memory, env) {
  const strings = env.map(([k, v]) => Buffer.from(`${k}=${v}\0`, 'utf8'));
  const size = strings.reduce((n, s) => n + s.length, 0);
  return {
    environ_sizes_get(countPtr, sizePtr) {
      const mem = memory();
      if (!mem) return ERRNO_FAULT;
      [countPtr, sizePtr] = u32(countPtr, sizePtr);
      const end = mem.buffer.byteLength;
      if (countPtr + 4 > end || sizePtr + 4 > end) return ERRNO_FAULT;
      const view = new DataView(mem.buffer);
      view.setUint32(countPtr, strings.length, true);
      view.setUint32(sizePtr, size, true);
      return 0;
    },
    environ_get(environPtr, bufPtr) {
      const mem = memory();
      if (!mem) return ERRNO_FAULT;
      [environPtr, bufPtr] = u32(environPtr, bufPtr);
      const end = mem.buffer.byteLength;
      if (environPtr + 4 * strings.length > end || bufPtr + size > end) return ERRNO_FAULT;
      const view = new DataView(mem.buffer);
      const bytes = new Uint8Array(mem.buffer);
      let at = bufPtr;
      strings.forEach((s, i) => {
        view.setUint32(environPtr + 4 * i, at, true);
        bytes.set(s, at);
        at += s.length;
      });
      return 0;
    },
  };
}
