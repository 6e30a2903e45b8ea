package wasmexport.chicory;

import wasmexport.shared.Json;

import com.dylibso.chicory.runtime.HostFunction;
import com.dylibso.chicory.runtime.Instance;
import com.dylibso.chicory.runtime.Memory;
import com.dylibso.chicory.wasm.types.FunctionType;
import com.dylibso.chicory.wasm.types.ValType;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import wasmexport.chicory.Traps.HostTrap;
import wasmexport.chicory.Values.Val;

/** The plan's host functions: the protocol's small interpreter of {do, return}. */
final class HostFuncs {
    private HostFuncs() {}

    static HostFunction define(PlanRun run, Map<String, Object> spec) {
        String module = Json.str(spec.get("module"), "an import's module");
        String name = Json.str(spec.get("name"), "an import's name");
        List<ValType> params = types(spec.get("params"));
        List<ValType> results = types(spec.get("results"));
        List<Object> ops = Json.list(spec.get("do"), "an import's do");
        List<Object> ret = Json.list(spec.get("return"), "an import's return");
        String full = module + "." + name;
        return new HostFunction(module, name, FunctionType.of(params, results),
                (instance, args) -> call(run, instance, full, params, results, ops, ret, args));
    }

    private static List<ValType> types(Object names) {
        List<ValType> out = new ArrayList<>();
        for (Object n : Json.list(names, "a value type list")) {
            out.add(Values.type(Json.str(n, "a value type")));
        }
        return out;
    }

    private static long[] call(PlanRun run, Instance instance, String name, List<ValType> paramTypes,
                               List<ValType> resultTypes, List<Object> ops, List<Object> ret,
                               long[] raw) {
        List<Val> params = new ArrayList<>();
        for (int i = 0; i < paramTypes.size(); i++) {
            params.add(Values.of(paramTypes.get(i), raw[i]));
        }
        run.event("ev", "import", "name", name, "args", Values.toJson(params));
        List<Val> last = List.of(); // the results of the last call op
        for (Object o : ops) {
            Map<String, Object> op = Json.obj(o, "an op");
            if (op.containsKey("call")) {
                List<Val> args = new ArrayList<>();
                for (Object a : Json.list(op.get("args"), "a call op's args")) {
                    args.add(eval(run, name, params, last, a));
                }
                last = run.nested(instance, Json.str(op.get("call"), "a call op's export"), args);
            } else if (op.containsKey("read")) {
                Map<String, Object> r = Json.obj(op.get("read"), "a read op");
                int ptr = (int) eval(run, name, params, last, r.get("ptr")).bits();
                int len = (int) eval(run, name, params, last, r.get("len")).bits();
                byte[] data = guestBytes(instance, ptr, len);
                run.event("ev", "read", "hex", HexFormat.of().formatHex(data));
            } else if (op.containsKey("write")) {
                Map<String, Object> w = Json.obj(op.get("write"), "a write op");
                int ptr = (int) eval(run, name, params, last, w.get("ptr")).bits();
                byte[] data = HexFormat.of().parseHex(Json.str(w.get("hex"), "a write op's hex"));
                guestBytes(instance, ptr, data.length);
                memory(instance).write(ptr, data);
                run.event("ev", "write", "len", (long) data.length);
            } else if (op.containsKey("trap")) {
                throw new HostTrap(String.valueOf(op.get("trap")));
            } else {
                throw new HostTrap(name + ": unknown op " + op.keySet());
            }
        }
        List<Val> results = new ArrayList<>();
        for (Object x : ret) {
            results.add(eval(run, name, params, last, x));
        }
        run.event("ev", "import_return", "values", Values.toJson(results));
        if (results.size() != resultTypes.size()) {
            throw new HostTrap(name + " returns " + results.size() + " values for "
                    + resultTypes.size() + " results");
        }
        long[] out = new long[results.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = Values.raw(results.get(i));
        }
        return out;
    }

    private static Val eval(PlanRun run, String name, List<Val> params, List<Val> last, Object x) {
        Map<String, Object> e = Json.obj(x, "an operand");
        if (e.containsKey("param")) {
            long i = Json.num(e.get("param"), "param");
            if (i < 0 || i >= params.size()) {
                throw new HostTrap(name + ": there is no parameter " + i);
            }
            return params.get((int) i);
        } else if (e.containsKey("result")) {
            long i = Json.num(e.get("result"), "result");
            if (i < 0 || i >= last.size()) {
                throw new HostTrap(name + ": result " + i + " of the last call is missing");
            }
            return last.get((int) i);
        } else if (e.containsKey("value")) {
            return Values.decode(Json.obj(e.get("value"), "value"));
        } else if (e.containsKey("ref")) {
            String ref = Json.str(e.get("ref"), "ref");
            Val v = run.binding(ref);
            if (v == null) { // mid-call, so the call fails rather than the step being unattempted
                throw new HostTrap(name + ": no earlier call step bound the name \"" + ref + "\"");
            }
            return v;
        }
        throw new HostTrap(name + ": an operand names no value, param, result or ref");
    }

    private static Memory memory(Instance instance) {
        try {
            return instance.exports().memory("memory");
        } catch (RuntimeException e) {
            throw new HostTrap("the guest exports no memory named \"memory\"");
        }
    }

    /** A copy of [ptr, ptr+len) of the guest's memory, or the host call fails. */
    static byte[] guestBytes(Instance instance, int ptr, int len) {
        Memory mem = memory(instance);
        long size = (long) mem.pages() * Memory.PAGE_SIZE;
        long start = Integer.toUnsignedLong(ptr);
        long end = start + Integer.toUnsignedLong(len);
        if (end > size) {
            throw new HostTrap("memory access [" + start + ", " + end + ") is outside the "
                    + size + "-byte memory");
        }
        return mem.readBytes(ptr, len);
    }
}
