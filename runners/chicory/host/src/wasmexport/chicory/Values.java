package wasmexport.chicory;

import wasmexport.shared.Json;

import com.dylibso.chicory.wasm.types.ValType;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Protocol values as raw bits. Chicory passes every value as a {@code long}: i32 and f32 in the
 * low 32 bits (f32 as its raw bit pattern), i64 and f64 whole, so no value is ever converted
 * to a Java float on its way through the runner.
 */
final class Values {
    private Values() {}

    /** One typed value; {@code bits} holds the low 32 bits for i32 and f32. */
    record Val(String t, long bits) {
        Map<String, Object> toJson() {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("t", t);
            out.put("v", text());
            return out;
        }

        String text() {
            switch (t) {
                case "i32":
                    return Integer.toString((int) bits);
                case "i64":
                    return Long.toString(bits);
                case "f32":
                    return String.format("0x%08x", (int) bits);
                default:
                    return String.format("0x%016x", bits);
            }
        }
    }

    /** A value document {t, v}. */
    static Val decode(Map<String, Object> doc) {
        String t = Json.str(doc.get("t"), "a value's t");
        String v = Json.str(doc.get("v"), "a value's v");
        try {
            switch (t) {
                case "i32":
                    return new Val(t, Long.parseLong(v) & 0xFFFFFFFFL);
                case "i64":
                    return new Val(t, Long.parseLong(v));
                case "f32":
                    return new Val(t, Long.parseUnsignedLong(hex(v), 16) & 0xFFFFFFFFL);
                case "f64":
                    return new Val(t, Long.parseUnsignedLong(hex(v), 16));
                default:
                    throw new IllegalArgumentException("unknown value type " + t);
            }
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad " + t + " value " + v, e);
        }
    }

    private static String hex(String v) {
        if (!v.startsWith("0x")) {
            throw new NumberFormatException("no 0x prefix");
        }
        return v.substring(2);
    }

    /** The value of type {@code t} that Chicory passed as {@code raw}. */
    static Val of(ValType t, long raw) {
        String name = name(t);
        boolean narrow = name.equals("i32") || name.equals("f32");
        return new Val(name, narrow ? raw & 0xFFFFFFFFL : raw);
    }

    /** What Chicory takes for the value: i32 sign-extended, as its own i32 values are. */
    static long raw(Val v) {
        return v.t().equals("i32") ? (long) (int) v.bits() : v.bits();
    }

    static String name(ValType t) {
        if (t.equals(ValType.I32)) {
            return "i32";
        } else if (t.equals(ValType.I64)) {
            return "i64";
        } else if (t.equals(ValType.F32)) {
            return "f32";
        } else if (t.equals(ValType.F64)) {
            return "f64";
        }
        return t.toString().toLowerCase(java.util.Locale.ROOT);
    }

    static boolean isProtocolType(ValType t) {
        return t.equals(ValType.I32) || t.equals(ValType.I64) || t.equals(ValType.F32)
                || t.equals(ValType.F64);
    }

    static ValType type(String name) {
        switch (name) {
            case "i32":
                return ValType.I32;
            case "i64":
                return ValType.I64;
            case "f32":
                return ValType.F32;
            case "f64":
                return ValType.F64;
            default:
                throw new IllegalArgumentException("unknown value type " + name);
        }
    }

    static List<String> names(List<ValType> types) {
        List<String> out = new ArrayList<>(types.size());
        for (ValType t : types) {
            out.add(name(t));
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

    /** Results Chicory returned (null for none) as typed values. */
    static List<Val> results(List<ValType> types, long[] raw) {
        List<Val> out = new ArrayList<>(types.size());
        for (int i = 0; i < types.size(); i++) {
            out.add(of(types.get(i), raw == null ? 0 : raw[i]));
        }
        return out;
    }
}
