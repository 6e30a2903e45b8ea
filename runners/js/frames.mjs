/**
 * The executor process's stdout, as the host reads it: a stream of frames, each a kind byte and
 * a 32-bit little-endian payload length, then the payload.
 *
 * - kind 1 / 2: bytes the guest wrote to fd 1 / fd 2, straight from its memory.
 * - kind 0x4a ('J'): one JSON message (a reply to a request).
 *
 * One ordered stream carries both, so a step's output always arrives before its reply. Frames
 * are written synchronously: a full pipe blocks the guest until the host has read (and hashed)
 * what came before, so a flooding guest is held back instead of buffered.
 */

import { Buffer } from 'node:buffer';
import fs from 'node:fs';

export const JSON_FRAME = 0x4a;
const HEADER = 5;
const OUT_FD = 1;
const pause = new Int32Array(new SharedArrayBuffer(4));

/** Write all of `bytes` to `fd`, waiting out a non-blocking pipe that is full. */
function writeAll(fd, bytes) {
  let off = 0;
  while (off < bytes.length) {
    try {
      off += fs.writeSync(fd, bytes, off, bytes.length - off);
    } catch (e) {
      if (e?.code !== 'EAGAIN') throw e;
      Atomics.wait(pause, 0, 0, 1); // some engines hand the child a non-blocking pipe
    }
  }
}

const SMALL = 1 << 16; // a payload up to this size is copied behind its header: one write

/** Send one frame of `kind` with `payload` (a Uint8Array) on the executor's stdout. */
export function writeFrame(kind, payload) {
  const small = payload.length <= SMALL;
  const frame = Buffer.allocUnsafe(HEADER + (small ? payload.length : 0));
  frame[0] = kind;
  frame.writeUInt32LE(payload.length, 1);
  if (small) frame.set(payload, HEADER);
  writeAll(OUT_FD, frame);
  if (!small) writeAll(OUT_FD, payload);
}

export function writeMessage(msg) {
  writeFrame(JSON_FRAME, Buffer.from(JSON.stringify(msg)));
}

/**
 * The host's side: feed it chunks of the executor's stdout in order. Output payloads are passed
 * on piece by piece as they arrive (never held whole); a JSON payload is collected, then parsed.
 */
export class FrameReader {
  constructor({ onOutput, onMessage }) {
    this.onOutput = onOutput;
    this.onMessage = onMessage;
    this.header = Buffer.alloc(HEADER);
    this.have = 0; // header bytes collected
    this.kind = null; // the current frame's kind, once its header is complete
    this.left = 0; // payload bytes still to come
    this.parts = [];
  }

  push(chunk) {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.kind === null) {
        const n = Math.min(HEADER - this.have, chunk.length - pos);
        chunk.copy(this.header, this.have, pos, pos + n);
        this.have += n;
        pos += n;
        if (this.have < HEADER) return;
        this.kind = this.header[0];
        this.left = this.header.readUInt32LE(1);
        this.have = 0;
        if (this.kind !== 1 && this.kind !== 2 && this.kind !== JSON_FRAME) {
          throw new Error(`the executor's output stream is corrupt (frame kind ${this.kind})`);
        }
      }
      const piece = chunk.subarray(pos, pos + this.left);
      pos += piece.length;
      this.left -= piece.length;
      if (this.kind === JSON_FRAME) this.parts.push(piece);
      else if (piece.length) this.onOutput(this.kind, piece);
      if (this.left === 0) {
        if (this.kind === JSON_FRAME) {
          const text = Buffer.concat(this.parts).toString('utf8');
          this.parts = [];
          this.onMessage(JSON.parse(text));
        }
        this.kind = null;
      }
    }
  }
}
