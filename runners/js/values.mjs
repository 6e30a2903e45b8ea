/**
 * Protocol values <-> raw bits <-> the JS values a bits trampoline (wasm.mjs) takes and gives.
 *
 * A raw value is {t, bits} with `bits` an unsigned BigInt of the type's width. Across a
 * trampoline, i32 and f32 travel as i32 (a JS number) and i64 and f64 as i64 (a BigInt), so no
 * value ever passes through a JS double.
 */

const WIDTH = { i32: 32, i64: 64, f32: 32, f64: 64 };

/** {t: 'f32', v: '0x7fa00001'} or {t: 'i32', v: '-1'} -> raw. */
export function decode(v) {
  const { t } = v;
  if (!(t in WIDTH)) throw new TypeError(`unknown value type ${t}`);
  return { t, bits: BigInt.asUintN(WIDTH[t], BigInt(v.v)) };
}

/** raw -> protocol value: integers signed decimal, floats as lower-case hex bits. */
export function encode({ t, bits }) {
  if (t === 'i32' || t === 'i64') return { t, v: BigInt.asIntN(WIDTH[t], bits).toString() };
  return { t, v: `0x${bits.toString(16).padStart(WIDTH[t] / 4, '0')}` };
}

/** raw -> the JS value for a trampoline parameter. */
export function toJs({ t, bits }) {
  return WIDTH[t] === 32 ? Number(BigInt.asIntN(32, bits)) : BigInt.asIntN(64, bits);
}

/** A trampoline's JS value -> raw of type `t`. */
export function fromJs(t, x) {
  return { t, bits: BigInt.asUintN(WIDTH[t], BigInt(x)) };
}

/** A trampoline's return value (undefined, one value, or an array) as a list of raws. */
export function resultsFromJs(types, ret) {
  if (types.length === 0) return [];
  const list = types.length === 1 ? [ret] : [...ret];
  return types.map((t, i) => fromJs(t, list[i]));
}

/** A list of raws as what a JS function returns to a trampoline. */
export function resultsToJs(raws) {
  if (raws.length === 0) return undefined;
  const list = raws.map(toJs);
  return list.length === 1 ? list[0] : list;
}
