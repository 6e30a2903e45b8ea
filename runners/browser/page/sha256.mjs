/**
 * Incremental SHA-256 in plain JS, whose state can be saved to and restored from 27 uint32
 * words: the worker keeps each output stream's hash in shared memory this way, so the page can
 * finish it even after it has terminated the worker (sink.mjs). WebCrypto has no incremental
 * digest.
 */

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const INIT = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
  0x5be0cd19];

/** Words a saved state takes: h[8], the pending block (16 words), its length, total length. */
export const STATE_WORDS = 27;

const rotr = (x, n) => (x >>> n) | (x << (32 - n));

export class Sha256 {
  constructor() {
    this.h = new Uint32Array(INIT);
    this.block = new Uint8Array(64);
    this.blockWords = new Uint32Array(this.block.buffer);
    this.blockLen = 0;
    this.total = 0; // bytes hashed so far (exact up to 2^53)
    this.w = new Uint32Array(64);
  }

  /** Hash 64 bytes of `bytes` at `pos`. */
  compress(bytes, pos) {
    const { w, h } = this;
    for (let i = 0; i < 16; i++, pos += 4) {
      w[i] = (bytes[pos] << 24) | (bytes[pos + 1] << 16) | (bytes[pos + 2] << 8) | bytes[pos + 3];
    }
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15];
      const b = w[i - 2];
      const s0 = rotr(a, 7) ^ rotr(a, 18) ^ (a >>> 3);
      const s1 = rotr(b, 17) ^ rotr(b, 19) ^ (b >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let [a, b, c, d, e, f, g, k] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = (k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
  }

  update(bytes) {
    this.total += bytes.length;
    let pos = 0;
    if (this.blockLen) {
      const take = Math.min(64 - this.blockLen, bytes.length);
      this.block.set(bytes.subarray(0, take), this.blockLen);
      this.blockLen += take;
      pos = take;
      if (this.blockLen < 64) return;
      this.compress(this.block, 0);
      this.blockLen = 0;
    }
    for (; pos + 64 <= bytes.length; pos += 64) this.compress(bytes, pos);
    this.block.set(bytes.subarray(pos), 0);
    this.blockLen = bytes.length - pos;
  }

  /** The digest as lower-case hex; the hash cannot be updated afterwards. */
  hex() {
    const bits = this.total * 8;
    const pad = new Uint8Array(((this.blockLen + 9 + 63) & ~63) - this.blockLen);
    pad[0] = 0x80;
    const view = new DataView(pad.buffer);
    view.setUint32(pad.length - 8, Math.floor(bits / 2 ** 32));
    view.setUint32(pad.length - 4, bits >>> 0);
    const total = this.total;
    this.update(pad);
    this.total = total;
    return Array.from(this.h, (x) => x.toString(16).padStart(8, '0')).join('');
  }

  /** Store the state in `words` (a Uint32Array or Int32Array) at `at`. */
  save(words, at) {
    words.set(this.h, at);
    words.set(this.blockWords, at + 8);
    words[at + 24] = this.blockLen;
    words[at + 25] = this.total % 2 ** 32;
    words[at + 26] = Math.floor(this.total / 2 ** 32);
  }

  /** A hash continuing from a state saved at `at` of `words`. */
  static load(words, at) {
    const s = new Sha256();
    s.h.set(words.subarray(at, at + 8));
    s.blockWords.set(words.subarray(at + 8, at + 24));
    s.blockLen = words[at + 24] >>> 0;
    s.total = (words[at + 25] >>> 0) + (words[at + 26] >>> 0) * 2 ** 32;
    return s;
  }
}
