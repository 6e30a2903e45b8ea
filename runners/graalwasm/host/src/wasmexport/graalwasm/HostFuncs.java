package wasmexport.graalwasm;

import wasmexport.shared.Json;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.graalvm.polyglot.proxy.ProxyArray;
import org.graalvm.polyglot.proxy.ProxyExecutable;
import org.graalvm.polyglot.proxy.ProxyObject;
import wasmexport.graalwasm.Values.Val;

/**
 * The plan's host functions: the protocol's small interpreter, as executable proxies in the
 * import object GraalWasm's module.newInstance takes (one member per import module). Values
 * cross as Integer, Long, Float and Double; several results as an interop array.
 */
final class HostFuncs {
    private final PlanRun run;

    HostFuncs(PlanRun run) {
        this.run = run;
    }

    /** module -> (name -> function) for module.newInstance, plus the runner's own WASI module. */
    Map<String, Object> importObject(List<Object> specs, ProxyExecutable pollOneoff) {
        Map<String, Map<String, Object>> modules = new LinkedHashMap<>();
        for (Object o : specs) {
            @SuppressWarnings("unchecked")
            Map<String, Object> spec = (Map<String, Object>) o;
            modules.computeIfAbsent((String) spec.get("module"), k -> new LinkedHashMap<>())
                            .put((String) spec.get("name"), function(spec));
        }
        Map<String, Object> out = new LinkedHashMap<>();
        modules.forEach((k, v) -> out.put(k, ProxyObject.fromMap(v)));
        out.put(PollOneoff.MODULE, ProxyObject.fromMap(new LinkedHashMap<>(Map.of("poll_oneoff", pollOneoff))));
        return out;
    }

    @SuppressWarnings("unchecked")
    private ProxyExecutable function(Map<String, Object> spec) {
        String name = spec.get("module") + "." + spec.get("name");
        List<String> params = (List<String>) (List<?>) spec.get("params");
        List<Object> ops = (List<Object>) spec.get("do");
        List<Object> ret = (List<Object>) spec.get("return");
        return args -> {
            List<Val> in = new ArrayList<>();
            for (int i = 0; i < params.size() && i < args.length; i++) {
                in.add(Values.fromGuest(params.get(i), args[i]));
            }
            run.event("import", "name", name, "args", Values.toJson(in));
            List<Val> last = List.of();
            for (Object op : ops) {
                last = op((Map<String, Object>) op, name, in, last);
            }
            List<Val> results = new ArrayList<>();
            for (Object x : ret) {
                results.add(eval(x, name, in, last));
            }
            run.event("import_return", "values", Values.toJson(results));
            if (results.isEmpty()) {
                return null;
            }
            if (results.size() == 1) {
                return results.get(0).toGuest();
            }
            Object[] boxed = new Object[results.size()];
            for (int i = 0; i < boxed.length; i++) {
                boxed[i] = results.get(i).toGuest();
            }
            return ProxyArray.fromArray(boxed);
        };
    }

    @SuppressWarnings("unchecked")
    private List<Val> op(Map<String, Object> op, String name, List<Val> in, List<Val> last) {
        if (op.containsKey("call")) {
            List<Val> args = new ArrayList<>();
            for (Object a : (List<Object>) op.getOrDefault("args", List.of())) {
                args.add(eval(a, name, in, last));
            }
            return run.nestedCall((String) op.get("call"), args);
        }
        if (op.get("read") instanceof Map<?, ?> r) {
            long ptr = address(eval(r.get("ptr"), name, in, last));
            long len = address(eval(r.get("len"), name, in, last));
            byte[] data = run.readMemory(ptr, len, Traps.HostTrap::new);
            run.event("read", "hex", HexFormat.of().formatHex(data));
            return last;
        }
        if (op.get("write") instanceof Map<?, ?> w) {
            long ptr = address(eval(w.get("ptr"), name, in, last));
            byte[] data = HexFormat.of().parseHex((String) w.get("hex"));
            run.writeMemory(ptr, data, Traps.HostTrap::new);
            run.event("write", "len", (long) data.length);
            return last;
        }
        if (op.containsKey("trap")) {
            throw new Traps.HostTrap(String.valueOf(op.get("trap")));
        }
        throw new Traps.HostTrap(name + ": unknown op " + Json.write(op));
    }

    private static long address(Val v) {
        return v.bits() & 0xffffffffL;
    }

    private Val eval(Object expr, String name, List<Val> in, List<Val> last) {
        if (!(expr instanceof Map<?, ?> x)) {
            throw new Traps.HostTrap(name + ": an operand is not an object");
        }
        if (x.get("param") instanceof Long i) {
            if (i < 0 || i >= in.size()) {
                throw new Traps.HostTrap(name + ": there is no parameter " + i);
            }
            return in.get(i.intValue());
        }
        if (x.get("result") instanceof Long i) {
            if (i < 0 || i >= last.size()) {
                throw new Traps.HostTrap(name + ": result " + i + " of the last call is missing");
            }
            return last.get(i.intValue());
        }
        if (x.containsKey("value")) {
            return Values.parse(x.get("value"));
        }
        if (x.get("ref") instanceof String ref) {
            Val v = run.binding(ref);
            if (v == null) {
                throw new Traps.HostTrap(name + ": no earlier call step bound the name \"" + ref + "\"");
            }
            return v;
        }
        throw new Traps.HostTrap(name + ": an operand names no value, param, result or ref");
    }
}
