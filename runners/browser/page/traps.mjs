/**
 * The protocol's trap kinds for the errors a Wasm call throws in V8 (Chromium) and
 * SpiderMonkey (Firefox), from their messages (same table for V8 as runners/js/platform.mjs,
 * which cannot be loaded in a page: it imports node:wasi).
 *
 * SpiderMonkey words a table index out of bounds exactly like a memory access out of bounds
 * ("index out of bounds"), so both map to memory_out_of_bounds there; it reports a float to
 * integer truncation out of range as "integer overflow" (V8: "float unrepresentable in integer
 * range"), and a stack overflow as an InternalError "too much recursion".
 */

const V8 = [
  [/^unreachable$/, 'unreachable'],
  [/memory access out of bounds/, 'memory_out_of_bounds'],
  [/^(divide|remainder) by zero$/, 'integer_divide_by_zero'],
  [/^divide result unrepresentable$/, 'integer_overflow'],
  [/^float unrepresentable in integer range$/, 'invalid_conversion'],
  [/^(null function|function signature mismatch|null function or function signature mismatch)$/,
    'indirect_call'],
];

const SPIDERMONKEY = [
  [/^unreachable executed$/, 'unreachable'],
  [/^index out of bounds$/, 'memory_out_of_bounds'],
  [/^integer divide by zero$/, 'integer_divide_by_zero'],
  [/^integer overflow$/, 'integer_overflow'],
  [/^invalid conversion to integer$/, 'invalid_conversion'],
  [/^indirect call (to null|signature mismatch)$/, 'indirect_call'],
];

/**
 * The trap kind of `err` thrown out of a Wasm call, or null when it is no Wasm trap (a host
 * function's own exception). Traps this table does not single out are 'other'.
 */
export function trapKind(err) {
  if (err instanceof RangeError && /^Maximum call stack size exceeded/.test(err.message)) {
    return 'stack_overflow';
  }
  if (err?.constructor?.name === 'InternalError' && /^too much recursion/.test(err.message)) {
    return 'stack_overflow';
  }
  if (!(err instanceof WebAssembly.RuntimeError)) return null;
  for (const [re, kind] of [...V8, ...SPIDERMONKEY]) if (re.test(err.message)) return kind;
  return 'other';
}
