package wasmexport.chicory;

import wasmexport.shared.Json;

import com.dylibso.chicory.runtime.ExportFunction;
import com.dylibso.chicory.runtime.ImportValues;
import com.dylibso.chicory.runtime.Instance;
import com.dylibso.chicory.runtime.Memory;
import com.dylibso.chicory.wasi.WasiOptions;
import com.dylibso.chicory.wasi.WasiPreview1;
import com.dylibso.chicory.wasm.types.Export;
import com.dylibso.chicory.wasm.types.ExternalType;
import com.dylibso.chicory.wasm.types.FunctionType;
import com.dylibso.chicory.wasm.types.MemoryLimits;
import java.io.ByteArrayInputStream;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import wasmexport.chicory.Traps.HostTrap;
import wasmexport.chicory.Values.Val;

/**
 * One plan's instance and its steps: WASI with exactly the plan's args, env and stdin, captured
 * stdout and stderr, the plan's host functions, linear memory capped at the plan's limit, and
 * nothing run at instantiation but the module's own start section (no _initialize or _start).
 */
final class PlanRun {
    /** Instantiation is no step, but a start section must end too. */
    static final long INSTANTIATE_MS = 10_000;

    private final Map<String, Object> plan;
    private final Capture stdout;
    private final Capture stderr;
    private final Map<String, Val> bindings = new HashMap<>();
    private List<Object> trace = new ArrayList<>();
    private Instance instance;
    private WasiPreview1 wasi;
    private String dead; // why the instance cannot be used any more, once it cannot
    private volatile boolean timedOut; // the running step passed its timeout

    PlanRun(Map<String, Object> plan) {
        this.plan = plan;
        long output = Json.num(Json.obj(plan.get("limits"), "limits").get("output_bytes"),
                "limits.output_bytes");
        stdout = new Capture(output);
        stderr = new Capture(output);
    }

    /** Instantiates the module; null on success, else the failure's message. */
    String instantiate(ModuleCache.Loaded m) {
        Map<String, Object> w = Json.obj(plan.get("wasi"), "wasi");
        WasiOptions.Builder opts = WasiOptions.builder()
                .withArguments(strings(w.get("args")))
                .withStdin(new ByteArrayInputStream(
                        Base64.getDecoder().decode(Json.str(w.get("stdin_b64"), "stdin_b64"))))
                .withStdout(stdout)
                .withStderr(stderr)
                // Chicory's default is ThreadLocalRandom.current() of the thread building the
                // options; used from the guest's thread, which never seeded it, Java 17 gives
                // the same bytes in every run.
                .withRandom(new SecureRandom());
        for (Object kv : Json.list(w.get("env"), "wasi.env")) {
            List<String> pair = strings(kv);
            opts.withEnvironment(pair.get(0), pair.get(1));
        }
        wasi = WasiPreview1.builder().withOptions(opts.build()).build();
        ImportValues.Builder imports = ImportValues.builder().addFunction(wasi.toHostFunctions());
        for (Object spec : Json.list(plan.get("imports"), "imports")) {
            imports.addFunction(HostFuncs.define(this, Json.obj(spec, "an import")));
        }
        Instance.Builder b = Instance.builder(m.module()).withImportValues(imports.build())
                .withStart(false);
        if (m.machine() != null) {
            b.withMachineFactory(m.machine());
        }
        String capped = capMemory(m, b);
        if (capped != null) {
            return capped;
        }
        Worker.Outcome out = Worker.run(b::build, INSTANTIATE_MS, () -> {});
        if (out.deadline) {
            return "instantiation (the module's start function) did not end within "
                    + INSTANTIATE_MS + " ms";
        }
        if (out.error != null) {
            return Traps.message(out.error);
        }
        instance = (Instance) out.value;
        return null;
    }

    /** Chicory takes the limits of memory 0 from the builder in place of the module's. */
    private String capMemory(ModuleCache.Loaded m, Instance.Builder b) {
        long limit = Json.num(Json.obj(plan.get("limits"), "limits").get("memory_bytes"),
                "limits.memory_bytes");
        var section = m.module().memorySection();
        if (limit <= 0 || section.isEmpty() || section.get().memoryCount() == 0) {
            return null;
        }
        MemoryLimits declared = section.get().getMemory(0).limits();
        long pages = Math.min(limit / Memory.PAGE_SIZE, MemoryLimits.MAX_PAGES);
        if (declared.initialPages() > pages) {
            return "the module's memory needs " + declared.initialPages()
                    + " pages, more than the plan's limit of " + pages;
        }
        b.withMemoryLimits(new MemoryLimits(declared.initialPages(),
                (int) Math.min(declared.maximumPages(), pages), declared.shared()));
        return null;
    }

    private static List<String> strings(Object v) {
        List<String> out = new ArrayList<>();
        for (Object x : Json.list(v, "a string list")) {
            out.add(Json.str(x, "a string"));
        }
        return out;
    }

    void close() {
        if (wasi != null) {
            wasi.close();
        }
    }

    // -- steps --------------------------------------------------------------------------------

    Map<String, Object> step(Map<String, Object> s) {
        List<Object> events = new ArrayList<>();
        synchronized (this) {
            trace = events;
        }
        long started = System.nanoTime();
        Map<String, Object> out;
        try {
            out = attempt(s);
        } catch (IllegalArgumentException e) {
            out = failed(e.getMessage());
        }
        out.put("duration_ms", (System.nanoTime() - started) / 1e6);
        stdout.drainInto(out, "stdout");
        stderr.drainInto(out, "stderr");
        synchronized (this) {
            out.put("trace", new ArrayList<>(events));
            trace = new ArrayList<>(); // an abandoned guest's later events go nowhere
        }
        return out;
    }

    synchronized void event(Object... kv) {
        Map<String, Object> e = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            e.put((String) kv[i], kv[i + 1]);
        }
        trace.add(e);
    }

    Val binding(String name) {
        return bindings.get(name);
    }

    private static Map<String, Object> failed(String message) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("outcome", "error");
        out.put("message", message);
        return out;
    }

    private static Map<String, Object> ok(List<Val> results) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("outcome", "ok");
        out.put("results", Values.toJson(results));
        return out;
    }

    private Map<String, Object> attempt(Map<String, Object> s) {
        if (dead != null) {
            return failed("the instance cannot be used again: " + dead);
        }
        if (s.containsKey("call")) {
            return call(s);
        }
        if (s.containsKey("write")) {
            Map<String, Object> w = Json.obj(s.get("write"), "write");
            byte[] data = HexFormat.of().parseHex(Json.str(w.get("hex"), "write.hex"));
            int ptr = address(w.get("ptr"), "ptr");
            return access(ptr, data.length, data);
        }
        if (s.containsKey("read")) {
            Map<String, Object> r = Json.obj(s.get("read"), "read");
            return access(address(r.get("ptr"), "ptr"), address(r.get("len"), "len"), null);
        }
        return failed("the step has no call, write or read");
    }

    /** A write step (data) or a read step (data null) on the exported memory "memory". */
    private Map<String, Object> access(int ptr, int len, byte[] data) {
        Memory mem;
        try {
            mem = instance.exports().memory("memory");
        } catch (RuntimeException e) {
            return failed("the instance exports no memory named \"memory\"");
        }
        long size = (long) mem.pages() * Memory.PAGE_SIZE;
        long start = Integer.toUnsignedLong(ptr);
        long end = start + Integer.toUnsignedLong(len);
        if (end > size) {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("outcome", "trap");
            out.put("trap", "memory_out_of_bounds");
            out.put("message", "memory access [" + start + ", " + end + ") is outside the "
                    + size + "-byte memory");
            return out;
        }
        Map<String, Object> out = ok(List.of());
        if (data != null) {
            mem.write(ptr, data);
        } else {
            out.put("data_b64", Base64.getEncoder().encodeToString(mem.readBytes(ptr, len)));
        }
        return out;
    }

    /** An operand: a value, or what an earlier call step bound to its name. */
    private Val resolve(Object operand) {
        Map<String, Object> o = Json.obj(operand, "an operand");
        if (o.containsKey("ref")) {
            String ref = Json.str(o.get("ref"), "ref");
            Val v = bindings.get(ref);
            if (v == null) {
                throw new IllegalArgumentException("no earlier call step bound the name \"" + ref + "\"");
            }
            return v;
        }
        return Values.decode(o);
    }

    private int address(Object operand, String what) {
        Val v = resolve(operand);
        if (!v.t().equals("i32")) {
            throw new IllegalArgumentException(what + " is an " + v.t() + ", not an i32");
        }
        return (int) v.bits();
    }

    private FunctionType exportType(String name) {
        var exports = instance.module().exportSection();
        for (int i = 0; i < exports.exportCount(); i++) {
            Export e = exports.getExport(i);
            if (e.name().equals(name) && e.exportType() == ExternalType.FUNCTION) {
                return instance.exportType(name);
            }
        }
        return null;
    }

    private long[] checkArgs(String name, FunctionType type, List<Val> args) {
        List<String> want = Values.names(type.params());
        List<String> got = new ArrayList<>();
        for (Val a : args) {
            got.add(a.t());
        }
        if (!want.equals(got)) {
            throw new IllegalArgumentException("arguments (" + String.join(", ", got)
                    + ") do not match the parameters of " + name + " (" + String.join(", ", want) + ")");
        }
        long[] raw = new long[args.size()];
        for (int i = 0; i < raw.length; i++) {
            raw[i] = Values.raw(args.get(i));
        }
        return raw;
    }

    private Map<String, Object> call(Map<String, Object> s) {
        String name = Json.str(s.get("call"), "call");
        FunctionType type = exportType(name);
        if (type == null) {
            return failed("no function export named \"" + name + "\"");
        }
        List<Val> args = new ArrayList<>();
        for (Object a : Json.list(s.get("args"), "args")) {
            args.add(resolve(a));
        }
        List<Object> bind = Json.list(s.get("bind"), "bind");
        if (bind.size() > type.returns().size()) {
            return failed("bind names " + bind.size() + " results; " + name + " returns "
                    + type.returns().size());
        }
        long[] raw = checkArgs(name, type, args);
        ExportFunction fn = instance.export(name);
        long timeout = Json.num(s.get("timeout_ms"), "timeout_ms");
        timedOut = false;
        Worker.Outcome out = Worker.run(() -> fn.apply(raw), timeout, () -> timedOut = true);
        if (out.abandoned) {
            dead = "a step timed out after " + timeout + " ms and its guest did not stop";
            return trap("timeout", "the guest did not stop within " + Worker.grace(timeout)
                    + " ms of its interrupt; the instance is abandoned");
        }
        if (out.error == null) {
            List<Val> results = Values.results(type.returns(), (long[]) out.value);
            for (int i = 0; i < bind.size(); i++) {
                if (bind.get(i) != null) {
                    bindings.put(Json.str(bind.get(i), "a bind name"), results.get(i));
                }
            }
            return ok(results);
        }
        Long code = Traps.exitCode(out.error);
        if (code != null) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("outcome", "exit");
            r.put("code", code);
            r.put("message", Traps.message(out.error));
            return r;
        }
        if (out.deadline && Traps.interrupted(out.error)) {
            return trap("timeout", Traps.message(out.error));
        }
        return trap(Traps.kind(out.error), Traps.message(out.error));
    }

    private static Map<String, Object> trap(String kind, String message) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("outcome", "trap");
        out.put("trap", kind);
        out.put("message", message);
        return out;
    }

    /**
     * A host function re-entering an export of the calling instance: the trace records the call
     * and how it ended; a trap or exit is re-thrown so the outer call fails the same way.
     */
    List<Val> nested(Instance inst, String name, List<Val> args) {
        event("ev", "export", "name", name, "args", Values.toJson(args));
        FunctionType type = exportType(name);
        if (type == null) {
            throw new HostTrap("the guest has no function export \"" + name + "\"");
        }
        long[] raw;
        try {
            raw = checkArgs(name, type, args);
        } catch (IllegalArgumentException e) {
            throw new HostTrap(e.getMessage());
        }
        long[] results;
        try {
            results = inst.export(name).apply(raw);
        } catch (RuntimeException | Error e) {
            Long code = Traps.exitCode(e);
            if (code != null) {
                event("ev", "export_exit", "code", code);
            } else {
                boolean timeout = timedOut && Traps.interrupted(e);
                event("ev", "export_trap", "kind", timeout ? "timeout" : Traps.kind(e));
            }
            throw e;
        }
        List<Val> out = Values.results(type.returns(), results);
        event("ev", "export_return", "values", Values.toJson(out));
        return out;
    }
}
