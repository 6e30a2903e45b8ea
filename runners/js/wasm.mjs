/**
 * The little of the Wasm binary format the JS host needs, on bytes, without the engine:
 *
 * - `parseModule`: the export and import sections with function signatures and memory limits.
 *   `WebAssembly.Module.exports()` and `.imports()` name entries and kinds but give no types;
 *   read from the bytes they are exact and the same on every engine.
 * - `capMemory`: give every defined memory a maximum no larger than the plan's memory limit.
 *   JS engines have no per-store memory limiter; a declared maximum is how a Wasm module itself
 *   says "growth beyond this fails" (memory.grow returns -1), which is what the limit means.
 * - `callTrampoline` / `hostTrampoline`: tiny modules that move f32/f64 values as i32/i64 bits.
 *   A JS number is a double: V8 canonicalises an f32 signalling NaN on the way in and out, and
 *   JavaScriptCore's NaN-boxing canonicalises every NaN. A wasm-to-wasm call never converts, so
 *   the host calls an export through a trampoline taking i32/i64 bits and reinterpreting them,
 *   and host functions are reached from the guest through one doing the reverse.
 */

const SECTION = { type: 1, import: 2, function: 3, memory: 5, export: 7, code: 10 };
const VALTYPE = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128',
  0x70: 'funcref', 0x6f: 'externref' };
const CODE = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c };
const EXPORT_KIND = ['func', 'table', 'memory', 'global', 'tag'];
const PAGE = 65536;

class Reader {
  constructor(bytes, pos = 0, end = bytes.length) {
    this.b = bytes;
    this.pos = pos;
    this.end = end;
  }

  byte() {
    if (this.pos >= this.end) throw new Error('unexpected end of the module');
    return this.b[this.pos++];
  }

  /** An unsigned LEB128 as a Number (exact up to 2^53, enough for every count and size). */
  u() {
    let result = 0;
    let scale = 1;
    for (;;) {
      const x = this.byte();
      result += (x & 0x7f) * scale;
      if (!(x & 0x80)) return result;
      scale *= 128;
    }
  }

  name() {
    const n = this.u();
    if (this.pos + n > this.end) throw new Error('a name runs past its section');
    const s = new TextDecoder('utf-8', { fatal: true }).decode(this.b.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }

  valtype() {
    const code = this.byte();
    if (code === 0x64 || code === 0x63) { // (ref ht) / (ref null ht): skip the s33 heap type
      while (this.byte() & 0x80);
      return 'ref';
    }
    const t = VALTYPE[code];
    if (!t) throw new Error(`unknown value type 0x${code.toString(16)}`);
    return t;
  }

  limits() {
    const flags = this.byte();
    const min = this.u();
    const max = flags & 1 ? this.u() : null;
    const pageLog = flags & 8 ? this.u() : null; // custom-page-sizes proposal
    return { flags, min, max, pageLog };
  }
}

/** The sections of a module, in order: {id, start, end} where [start, end) is the payload. */
function sections(bytes) {
  const magic = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  if (bytes.length < 8 || magic.some((m, i) => bytes[i] !== m)) throw new Error('not a Wasm module');
  const out = [];
  const r = new Reader(bytes, 8);
  while (r.pos < bytes.length) {
    const at = r.pos;
    const id = r.byte();
    const size = r.u();
    const start = r.pos;
    if (start + size > bytes.length) throw new Error(`section ${id} runs past the end`);
    out.push({ id, at, start, end: start + size });
    r.pos = start + size;
  }
  return out;
}

/**
 * What the host needs to know about a module, in module order: `exports` as
 * {name, kind, params?, results?, min?, max?} (signatures of functions, pages of memories) and
 * `imports` as {module, name, kind, params?, results?}.
 */
export function parseModule(bytes) {
  const types = [];
  const funcs = []; // type index of every function, imported ones first
  const memories = []; // limits of every memory, imported ones first
  const imports = [];
  const exports = [];
  const signature = (index, what) => {
    const ty = types[index];
    if (!ty) throw new Error(`${what} has type ${index}, which does not exist`);
    return { params: ty.params, results: ty.results };
  };
  for (const s of sections(bytes)) {
    const r = new Reader(bytes, s.start, s.end);
    if (s.id === SECTION.type) {
      for (let n = r.u(); n > 0; n--) {
        const form = r.byte();
        if (form !== 0x60) throw new Error(`unsupported type form 0x${form.toString(16)}`);
        const params = Array.from({ length: r.u() }, () => r.valtype());
        const results = Array.from({ length: r.u() }, () => r.valtype());
        types.push({ params, results });
      }
    } else if (s.id === SECTION.import) {
      for (let n = r.u(); n > 0; n--) {
        const module = r.name();
        const name = r.name();
        const kind = r.byte();
        const entry = { module, name, kind: EXPORT_KIND[kind] };
        if (kind === 0) {
          const index = r.u();
          funcs.push(index);
          Object.assign(entry, signature(index, `import ${module}.${name}`));
        } else if (kind === 1) { r.valtype(); r.limits(); }
        else if (kind === 2) memories.push(r.limits());
        else if (kind === 3) { r.valtype(); r.byte(); }
        else if (kind === 4) { r.byte(); r.u(); }
        else throw new Error(`unknown import kind ${kind}`);
        imports.push(entry);
      }
    } else if (s.id === SECTION.function) {
      for (let n = r.u(); n > 0; n--) funcs.push(r.u());
    } else if (s.id === SECTION.memory) {
      for (let n = r.u(); n > 0; n--) memories.push(r.limits());
    } else if (s.id === SECTION.export) {
      for (let n = r.u(); n > 0; n--) {
        const name = r.name();
        const kind = EXPORT_KIND[r.byte()];
        const index = r.u();
        if (kind === 'func') {
          if (!(index in funcs)) throw new Error(`export ${name} names missing function ${index}`);
          exports.push({ name, kind, ...signature(funcs[index], `export ${name}`) });
        } else if (kind === 'memory') {
          const mem = memories[index];
          if (!mem) throw new Error(`export ${name} names missing memory ${index}`);
          exports.push({ name, kind, min: mem.min, max: mem.max });
        } else {
          exports.push({ name, kind });
        }
      }
    }
  }
  return { exports, imports };
}

// -- writing --------------------------------------------------------------------------------

function leb(n) {
  const out = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function section(id, payload) {
  return [id, ...leb(payload.length), ...payload];
}

function vec(items) {
  return [...leb(items.length), ...items.flat()];
}

function str(s) {
  return vec([...new TextEncoder().encode(s)]);
}

function functype(params, results) {
  return [0x60, ...vec(params.map((t) => CODE[t])), ...vec(results.map((t) => CODE[t]))];
}

/**
 * `bytes` with every defined 32-bit memory's maximum lowered to `pages` (added if absent; an
 * existing smaller maximum is kept). Returns {bytes, tooSmall}: `tooSmall` names a memory whose
 * minimum already exceeds the limit (the caller fails instantiation, as a store limit would).
 * Bytes that do not parse are returned unchanged, for the engine to reject with its own words.
 */
export function capMemory(bytes, pages) {
  let secs;
  try {
    secs = sections(bytes);
  } catch {
    return { bytes, tooSmall: null };
  }
  const mem = secs.find((s) => s.id === SECTION.memory);
  if (!mem) return { bytes, tooSmall: null };
  const r = new Reader(bytes, mem.start, mem.end);
  const limits = [];
  let tooSmall = null;
  try {
    for (let n = r.u(); n > 0; n--) limits.push(r.limits());
  } catch {
    return { bytes, tooSmall: null };
  }
  const payload = vec(limits.map(({ flags, min, max, pageLog }, i) => {
    if (flags & 12) { // memory64 or custom page size: untouched
      const page = flags & 8 ? leb(pageLog) : [];
      return [flags, ...leb(min), ...(max === null ? [] : leb(max)), ...page];
    }
    if (min > pages) tooSmall = { index: i, min, limit: pages };
    const capped = max === null ? pages : Math.min(max, pages);
    return [flags | 1, ...leb(min), ...leb(Math.max(capped, min))];
  }));
  const body = section(SECTION.memory, payload);
  const out = new Uint8Array(mem.at + body.length + bytes.length - mem.end);
  out.set(bytes.subarray(0, mem.at), 0);
  out.set(body, mem.at);
  out.set(bytes.subarray(mem.end), mem.at + body.length);
  return { bytes: out, tooSmall };
}

/** The integer type that carries a value type's bits. */
export function carrier(t) {
  return t === 'f32' ? 'i32' : t === 'f64' ? 'i64' : t;
}

const REINTERPRET = { // opcodes: float <- bits, bits <- float
  f32: { toFloat: 0xbe, toBits: 0xbc }, f64: { toFloat: 0xbf, toBits: 0xbd },
};

/**
 * A module importing t.f with signature `inner` and exporting "fn" with signature `outer`; the
 * two differ only in f32<->i32 and f64<->i64. "fn" converts each float param with `paramOp`
 * ('toFloat' or 'toBits'), calls f, and converts each float result with `resultOp`.
 */
function trampoline(outer, inner, paramOp, resultOp) {
  const op = (a, b, which) => REINTERPRET[a]?.[which] ?? REINTERPRET[b]?.[which] ?? null;
  const nparams = outer.params.length;
  const body = [];
  outer.params.forEach((t, i) => {
    body.push(0x20, ...leb(i)); // local.get
    const code = op(t, inner.params[i], paramOp);
    if (code !== null) body.push(code);
  });
  body.push(0x10, 0); // call f
  // Results come back on the stack, last on top: park them in locals, then convert in order.
  const rs = inner.results;
  for (let i = rs.length - 1; i >= 0; i--) body.push(0x21, ...leb(nparams + i)); // local.set
  rs.forEach((t, i) => {
    body.push(0x20, ...leb(nparams + i));
    const code = op(t, outer.results[i], resultOp);
    if (code !== null) body.push(code);
  });
  body.push(0x0b);
  const code = [...vec(rs.map((t) => [1, CODE[t]])), ...body];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(SECTION.type, vec([functype(inner.params, inner.results),
      functype(outer.params, outer.results)])),
    ...section(SECTION.import, vec([[...str('t'), ...str('f'), 0x00, 0x00]])),
    ...section(SECTION.function, vec([[1]])),
    ...section(SECTION.export, vec([[...str('fn'), 0x00, 1]])),
    ...section(SECTION.code, vec([[...leb(code.length), ...code]])),
  ]);
}

const bits = (sig) => ({ params: sig.params.map(carrier), results: sig.results.map(carrier) });

/** "fn" calls an export of signature `sig` (imported as t.f), every float passed as its bits. */
export function callTrampoline(sig) {
  return trampoline(bits(sig), sig, 'toFloat', 'toBits');
}

/** "fn" has signature `sig` and calls t.f (a JS function), every float passed as its bits. */
export function hostTrampoline(sig) {
  return trampoline(sig, bits(sig), 'toBits', 'toFloat');
}

export { PAGE };
