package wasmexport.graalwasm;

import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.graalvm.polyglot.PolyglotException;
import org.graalvm.polyglot.Value;
import wasmexport.graalwasm.Values.Val;

/**
 * A plan's steps (call, write, read) and the host functions' nested calls, in the plan's one
 * instance. GraalWasm's proc_exit exits the whole polyglot context (PolyglotException.isExit), so
 * steps after an exit are reported as errors: the instance no longer exists. A timed-out step
 * (Context.interrupt) leaves the context usable, so later steps run.
 */
final class Steps {
    private final PlanRun run;

    /** A step operand or range that cannot be used: outcome error, or a bounds trap. */
    private static final class Unusable extends RuntimeException {
        private static final long serialVersionUID = 1L;

        final boolean trap;

        Unusable(String message, boolean trap) {
            super(message, null, false, false);
            this.trap = trap;
        }
    }

    Steps(PlanRun run) {
        this.run = run;
    }

    Map<String, Object> run(int index, Map<String, Object> step) {
        run.newTrace();
        long timeout = step.get("timeout_ms") instanceof Long l ? l : 10_000L;
        long started = System.nanoTime();
        Map<String, Object> r;
        run.watch.begin(index, timeout);
        try {
            r = attempt(step, timeout);
        } finally {
            run.watch.end();
        }
        r.put("duration_ms", (System.nanoTime() - started) / 1e6);
        synchronized (run.trace()) {
            r.put("trace", new ArrayList<>(run.trace()));
        }
        run.out().drain("stdout", r);
        run.err().drain("stderr", r);
        return r;
    }

    private Map<String, Object> attempt(Map<String, Object> step, long timeout) {
        if (run.dead() != null) {
            return error(run.dead());
        }
        try {
            if (step.get("call") instanceof String name) {
                return call(name, step, timeout);
            }
            if (step.get("write") instanceof Map<?, ?> w) {
                long ptr = address(w.get("ptr"), "ptr");
                byte[] data = HexFormat.of().parseHex((String) w.get("hex"));
                run.writeMemory(ptr, data, m -> new Unusable(m, true));
                return ok(List.of());
            }
            if (step.get("read") instanceof Map<?, ?> rd) {
                long ptr = address(rd.get("ptr"), "ptr");
                long len = address(rd.get("len"), "len");
                byte[] data = run.readMemory(ptr, len, m -> new Unusable(m, true));
                Map<String, Object> r = ok(List.of());
                r.put("data_b64", Base64.getEncoder().encodeToString(data));
                return r;
            }
        } catch (Unusable u) {
            if (u.trap && !u.getMessage().equals("the instance exports no memory")) {
                return trap("memory_out_of_bounds", u.getMessage());
            }
            return error(u.getMessage());
        }
        return error("the step has no call, write or read");
    }

    private Map<String, Object> call(String name, Map<String, Object> step, long timeout) {
        WasmBinary.FuncType type = funcType(name);
        if (type == null) {
            return error("no function export named \"" + name + "\"");
        }
        List<Val> args = new ArrayList<>();
        if (step.get("args") instanceof List<?> list) {
            for (Object a : list) {
                args.add(resolve(a));
            }
        }
        String mismatch = mismatch(type, args);
        if (mismatch != null) {
            return error(mismatch);
        }
        List<?> bind = step.get("bind") instanceof List<?> b ? b : List.of();
        if (bind.size() > type.results().size()) {
            return error("bind names " + bind.size() + " results; " + name + " returns " + type.results().size());
        }
        Value fn = run.exports().getMember(name);
        try {
            List<Val> results = Values.results(type.results(), fn.execute(boxed(args)));
            for (int i = 0; i < bind.size(); i++) {
                if (bind.get(i) instanceof String n) {
                    run.bind(n, results.get(i));
                }
            }
            return ok(results);
        } catch (PolyglotException e) {
            return failure(e, timeout);
        }
    }

    private Map<String, Object> failure(PolyglotException e, long timeout) {
        if (e.isInternalError()) {
            throw new IllegalStateException("GraalWasm internal error: " + e.getMessage(), e);
        }
        if (e.isExit()) {
            long code = Integer.toUnsignedLong(e.getExitStatus());
            run.kill("GraalWasm exited the context when the guest called proc_exit(" + code + ") in an earlier step; "
                            + "the instance cannot be used again");
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("outcome", "exit");
            r.put("code", code);
            r.put("message", String.valueOf(e.getMessage()));
            return r;
        }
        if (e.isCancelled()) {
            run.kill("GraalWasm cancelled the context in an earlier step; the instance cannot be used again");
        }
        if (run.watch.timedOut()) {
            return trap("timeout", "the step timed out after " + timeout + " ms: " + e.getMessage());
        }
        return trap(Traps.kind(e), String.valueOf(e.getMessage()));
    }

    /** A host function's `call` op: re-enters the instance, tracing the call and its end. */
    List<Val> nested(String name, List<Val> args) {
        run.event("export", "name", name, "args", Values.toJson(args));
        WasmBinary.FuncType type = funcType(name);
        if (type == null) {
            throw new Traps.HostTrap("the guest has no function export \"" + name + "\"");
        }
        String mismatch = mismatch(type, args);
        if (mismatch != null) {
            throw new Traps.HostTrap(mismatch);
        }
        try {
            List<Val> results = Values.results(type.results(), run.exports().getMember(name).execute(boxed(args)));
            run.event("export_return", "values", Values.toJson(results));
            return results;
        } catch (PolyglotException e) {
            if (e.isExit()) {
                run.event("export_exit", "code", Integer.toUnsignedLong(e.getExitStatus()));
            } else {
                run.event("export_trap", "kind", run.watch.timedOut() ? "timeout" : Traps.kind(e));
            }
            throw e; // the outer call fails the same way: polyglot unwraps it back to the guest's
        }
    }

    private WasmBinary.FuncType funcType(String name) {
        for (WasmBinary.Export e : run.binary().exports) {
            if (e.name().equals(name) && e.kind().equals("func")) {
                return e.type();
            }
        }
        return null;
    }

    private static String mismatch(WasmBinary.FuncType type, List<Val> args) {
        List<String> got = new ArrayList<>();
        for (Val v : args) {
            got.add(v.t());
        }
        if (got.equals(type.params())) {
            return null;
        }
        return "arguments (" + String.join(", ", got) + ") do not match the export's parameters ("
                        + String.join(", ", type.params()) + ")";
    }

    private static Object[] boxed(List<Val> args) {
        Object[] out = new Object[args.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = args.get(i).toGuest();
        }
        return out;
    }

    /** An operand: a value, or {ref: NAME} that an earlier call step bound. */
    private Val resolve(Object operand) {
        if (operand instanceof Map<?, ?> m && m.get("ref") instanceof String ref) {
            Val v = run.binding(ref);
            if (v == null) {
                throw new Unusable("no earlier call step bound the name \"" + ref + "\"", false);
            }
            return v;
        }
        try {
            return Values.parse(operand);
        } catch (IllegalArgumentException e) {
            throw new Unusable(e.getMessage(), false);
        }
    }

    private long address(Object operand, String what) {
        Val v = resolve(operand);
        if (!v.t().equals("i32")) {
            throw new Unusable(what + " is an " + v.t() + ", not an i32", false);
        }
        return v.bits() & 0xffffffffL;
    }

    private static Map<String, Object> ok(List<Val> results) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("outcome", "ok");
        r.put("results", Values.toJson(results));
        return r;
    }

    private static Map<String, Object> trap(String kind, String message) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("outcome", "trap");
        r.put("trap", kind);
        r.put("message", message);
        return r;
    }

    private static Map<String, Object> error(String message) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("outcome", "error");
        r.put("message", message);
        return r;
    }
}
