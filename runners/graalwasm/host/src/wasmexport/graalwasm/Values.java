package wasmexport.graalwasm;

import wasmexport.shared.Json;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.graalvm.polyglot.Value;

/**
 * Protocol values as raw bits. GraalWasm takes and gives i32 as Integer, i64 as Long, f32 as Float
 * and f64 as Double; floats cross as Float.intBitsToFloat / floatToRawIntBits (and the double
 * equivalents), which keep NaN payloads and -0.0.
 */
final class Values {
    private Values() {
    }

    /** A typed wasm value: t is i32, i64, f32 or f64, bits its raw pattern (i32/f32 in the low half). */
    record Val(String t, long bits) {
        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("t", t);
            m.put("v", switch (t) {
                case "i32" -> Integer.toString((int) bits);
                case "i64" -> Long.toString(bits);
                case "f32" -> String.format("0x%08x", (int) bits);
                default -> String.format("0x%016x", bits);
            });
            return m;
        }

        /** The boxed Java value GraalWasm expects for this type. */
        Object toGuest() {
            return switch (t) {
                case "i32" -> (int) bits;
                case "i64" -> bits;
                case "f32" -> Float.intBitsToFloat((int) bits);
                default -> Double.longBitsToDouble(bits);
            };
        }

        @Override
        public String toString() {
            return t + ":" + toJson().get("v");
        }
    }

    /** A value document {t, v}. */
    static Val parse(Object doc) {
        if (!(doc instanceof Map<?, ?> m) || !(m.get("t") instanceof String t) || !(m.get("v") instanceof String v)) {
            throw new IllegalArgumentException("not a value: " + Json.write(doc));
        }
        return switch (t) {
            case "i32" -> new Val(t, Integer.toUnsignedLong((int) Long.parseLong(v)));
            case "i64" -> new Val(t, Long.parseLong(v));
            case "f32" -> new Val(t, Long.parseUnsignedLong(hex(v), 16) & 0xffffffffL);
            case "f64" -> new Val(t, Long.parseUnsignedLong(hex(v), 16));
            default -> throw new IllegalArgumentException("unknown value type " + t);
        };
    }

    private static String hex(String v) {
        if (!v.startsWith("0x")) {
            throw new IllegalArgumentException("a float value is hex bits, not " + v);
        }
        return v.substring(2);
    }

    /** A value GraalWasm handed over (a result, or a host function's argument) of wasm type t. */
    static Val fromGuest(String t, Value v) {
        return switch (t) {
            case "i32" -> new Val(t, Integer.toUnsignedLong(v.asInt()));
            case "i64" -> new Val(t, v.asLong());
            case "f32" -> new Val(t, Integer.toUnsignedLong(Float.floatToRawIntBits(v.asFloat())));
            case "f64" -> new Val(t, Double.doubleToRawLongBits(v.asDouble()));
            default -> throw new IllegalArgumentException("the protocol has no value type " + t);
        };
    }

    /** A call's results by its signature: none, one value, or GraalWasm's interop array of several. */
    static List<Val> results(List<String> types, Value r) {
        List<Val> out = new ArrayList<>(types.size());
        if (types.size() == 1) {
            out.add(fromGuest(types.get(0), r));
        } else if (types.size() > 1) {
            for (int i = 0; i < types.size(); i++) {
                out.add(fromGuest(types.get(i), r.getArrayElement(i)));
            }
        }
        return out;
    }

    static List<Object> toJson(List<Val> vals) {
        List<Object> out = new ArrayList<>(vals.size());
        for (Val v : vals) {
            out.add(v.toJson());
        }
        return out;
    }
}
