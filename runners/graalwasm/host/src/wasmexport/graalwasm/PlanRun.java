package wasmexport.graalwasm;

import java.io.ByteArrayInputStream;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.graalvm.polyglot.Context;
import org.graalvm.polyglot.EnvironmentAccess;
import org.graalvm.polyglot.HostAccess;
import org.graalvm.polyglot.PolyglotException;
import org.graalvm.polyglot.Value;
import org.graalvm.polyglot.io.IOAccess;
import org.graalvm.polyglot.proxy.ProxyObject;
import wasmexport.graalwasm.Values.Val;

/**
 * One plan, run on its own worker thread (Main watches it through `watch`): a fresh polyglot
 * Context on the shared Engine with GraalWasm's wasi_snapshot_preview1 builtin, exactly the
 * plan's args (Context arguments), env (Context environment; no inherited variables) and stdin
 * (an in-memory stream), stdout and stderr captured per step, no host file system, no preopened
 * directories, no host access; then module.newInstance(importObject) and the steps in that one
 * instance. GraalWasm runs nothing at instantiation but a start section, which Go modules lack.
 */
final class PlanRun {
    static final int STACK_BYTES = 32 << 20; // the worker's Java stack holds the wasm call stack
    /**
     * A guest whose linear memory (one byte[] on the Java heap) grew past this is collected as
     * soon as its plan ends, so the JVM shrinks its heap before the harness measures the
     * runner's memory: lifecycle/call-after-stack-overflow grows to the 1 GiB limit and left the
     * runner at 2.7 GiB resident otherwise.
     */
    static final long BIG_GUEST_BYTES = 64L << 20;

    final Watch watch = new Watch();
    private final ModuleCache cache;
    private final Map<String, Object> plan;
    private final Capture out;
    private final Capture err;
    private final ByteArrayInputStream stdin;
    private final Map<String, Val> bindings = new HashMap<>();
    private final List<Map<String, Object>> steps = Collections.synchronizedList(new ArrayList<>());
    private final Map<String, Object> obs = Collections.synchronizedMap(new LinkedHashMap<>());
    private final Steps stepper = new Steps(this);
    private List<Object> trace = new ArrayList<>();
    private ModuleCache.Entry module;
    private Context context;
    private Value exports;
    private Value memory;
    private String dead; // why the instance can no longer be used, once it cannot
    private volatile long guestBytes; // the guest's linear memory when the plan ended

    @SuppressWarnings("unchecked")
    PlanRun(ModuleCache cache, Map<String, Object> plan) {
        this.cache = cache;
        this.plan = plan;
        Map<String, Object> limits = (Map<String, Object>) plan.get("limits");
        long outputBytes = limits.get("output_bytes") instanceof Long l ? l : 1L << 20;
        out = new Capture(outputBytes);
        err = new Capture(outputBytes);
        Map<String, Object> wasi = (Map<String, Object>) plan.get("wasi");
        stdin = new ByteArrayInputStream(Base64.getDecoder().decode((String) wasi.getOrDefault("stdin_b64", "")));
        obs.put("type", "observation");
        obs.put("protocol", Main.PROTOCOL);
        obs.put("id", plan.get("id"));
    }

    /** Runs the whole plan on a new worker thread and returns the observation, in time. */
    Map<String, Object> runWatched() {
        Thread worker = new Thread(null, this::execute, "plan-" + plan.get("id"), STACK_BYTES);
        worker.setDaemon(true);
        worker.start();
        int[] which = {-1};
        if (!watch.supervise(which)) {
            return abandon(which[0]);
        }
        if (guestBytes > BIG_GUEST_BYTES) {
            System.gc(); // hands the dead guest's heap back to the system (see BIG_GUEST_BYTES)
        }
        return snapshot();
    }

    private Map<String, Object> snapshot() {
        synchronized (obs) {
            Map<String, Object> copy = new LinkedHashMap<>(obs);
            if (copy.containsKey("load") && !copy.containsKey("error")) {
                copy.put("steps", new ArrayList<>(steps));
            }
            return copy;
        }
    }

    /** Answers for a plan whose step `index` (or load, -1) overran: the worker is left behind. */
    private Map<String, Object> abandon(int index) {
        Context c = context;
        Thread closer = new Thread(() -> {
            try {
                if (c != null) {
                    c.close(true);
                }
            } catch (RuntimeException e) {
                // the worker still holds it; it ends when the worker does
            }
        }, "abandon");
        closer.setDaemon(true);
        closer.start();
        Map<String, Object> o = snapshot();
        if (index < 0 || !o.containsKey("steps")) {
            o.remove("steps");
            o.put("error", "the plan's worker did not get past loading or between two steps within "
                            + Watch.LOAD_LIMIT_MS + " ms; the runner stopped waiting for it");
            return o;
        }
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> done = (List<Map<String, Object>>) o.get("steps");
        List<Object> planSteps = steps();
        for (int i = done.size(); i < planSteps.size(); i++) {
            Map<String, Object> r = new LinkedHashMap<>();
            if (i == index) {
                r.put("outcome", "trap");
                r.put("trap", "timeout");
                r.put("message", "the step did not end after its timeout although GraalWasm's context was interrupted; "
                                + "the runner stopped waiting for it and abandoned the instance");
            } else {
                r.put("outcome", "error");
                r.put("message", "the instance was abandoned when an earlier step overran its timeout");
            }
            r.put("trace", i == index ? copy(trace) : List.of());
            out.drain("stdout", r);
            err.drain("stderr", r);
            r.put("duration_ms", i == index ? watch.elapsedMs() : 0.0);
            done.add(r);
        }
        return o;
    }

    private static List<Object> copy(List<Object> list) {
        synchronized (list) {
            return new ArrayList<>(list);
        }
    }

    @SuppressWarnings("unchecked")
    List<Object> steps() {
        return (List<Object>) plan.get("steps");
    }

    private void execute() {
        try {
            watch.loading();
            load();
            if (Boolean.TRUE.equals(((Map<?, ?>) obs.get("load")).get("ok"))) {
                List<Object> planSteps = steps();
                for (int i = 0; i < planSteps.size() && !watch.abandoned(); i++) {
                    @SuppressWarnings("unchecked")
                    Map<String, Object> s = (Map<String, Object>) planSteps.get(i);
                    Map<String, Object> r = stepper.run(i, s);
                    if (!watch.abandoned()) {
                        steps.add(r);
                    }
                }
            }
        } catch (Throwable t) { // the runner's own failure, or GraalWasm's: this plan only
            obs.put("error", "runner failure: " + t);
            t.printStackTrace();
        } finally {
            try {
                guestBytes = memory == null ? 0 : memory.getBufferSize();
            } catch (RuntimeException e) {
                // an exited or cancelled context has no memory to ask about
            }
            if (context != null && !watch.abandoned()) {
                try {
                    context.close(true);
                } catch (RuntimeException e) {
                    // a context that exited or was cancelled is closed already
                }
            }
            watch.finish();
        }
    }

    @SuppressWarnings("unchecked")
    private void load() throws Exception {
        Map<String, Object> wasi = (Map<String, Object>) plan.get("wasi");
        Map<String, Object> mod = (Map<String, Object>) plan.get("module");
        Map<String, Object> limits = (Map<String, Object>) plan.get("limits");
        long memoryBytes = limits.get("memory_bytes") instanceof Long l ? l : 1L << 30;
        long capPages = Math.max(0, Math.min(65536, memoryBytes / 65536));
        module = cache.get((String) mod.get("sha256"), (String) mod.get("path"), capPages);
        List<String> args = new ArrayList<>();
        for (Object a : (List<Object>) wasi.get("args")) {
            args.add((String) a);
        }
        Map<String, String> env = new LinkedHashMap<>();
        for (Object kv : (List<Object>) wasi.get("env")) {
            List<Object> pair = (List<Object>) kv;
            env.put((String) pair.get(0), (String) pair.get(1));
        }
        context = Context.newBuilder("wasm").engine(module.engine())
                        .option("wasm.Builtins", "wasi_snapshot_preview1")
                        .arguments("wasm", args.toArray(new String[0]))
                        .environment(env)
                        .allowIO(IOAccess.NONE)
                        .allowEnvironmentAccess(EnvironmentAccess.NONE)
                        .allowHostAccess(HostAccess.NONE)
                        .allowCreateThread(false)
                        .allowNativeAccess(false)
                        .in(stdin).out(out).err(err)
                        .build();
        watch.attach(context);
        Value compiled;
        try {
            compiled = context.eval(module.source());
        } catch (PolyglotException e) {
            fail("compile", e.getMessage(), null);
            return;
        }
        if (module.binary() == null) {
            throw new IllegalStateException("GraalWasm compiled a module the runner cannot read: " + module.unreadable());
        }
        obs.put("exports", module.binary().exportsJson());
        obs.put("imports", module.binary().importsJson());
        if (module.minimumOver() >= 0) {
            fail("instantiate", "the memory's minimum of " + module.minimumOver() + " pages exceeds the plan's limit of "
                            + capPages + " pages (" + memoryBytes + " bytes)", module.binary());
            return;
        }
        HostFuncs hosts = new HostFuncs(this);
        PollOneoff poll = new PollOneoff(() -> memory, watch, stdin::available);
        Object imports = ProxyObject.fromMap(hosts.importObject((List<Object>) plan.get("imports"), poll));
        Value instance;
        try {
            instance = compiled.newInstance(imports);
        } catch (PolyglotException e) {
            fail("instantiate", e.getMessage() + unresolved(module.binary()), module.binary());
            return;
        }
        exports = instance.getMember("exports");
        memory = memoryExport(module.binary());
        obs.put("load", Map.of("ok", true));
    }

    private void fail(String stage, String message, WasmBinary w) {
        Map<String, Object> load = new LinkedHashMap<>();
        load.put("ok", false);
        load.put("stage", stage);
        load.put("message", message == null ? stage + " failed" : message);
        if (w == null) {
            obs.put("exports", null);
            obs.put("imports", null);
        }
        obs.put("load", load);
    }

    /** The guest's non-WASI imports the plan does not define, for the instantiation message. */
    @SuppressWarnings("unchecked")
    private String unresolved(WasmBinary w) {
        List<String> defined = new ArrayList<>();
        for (Object o : (List<Object>) plan.get("imports")) {
            Map<String, Object> h = (Map<String, Object>) o;
            defined.add(h.get("module") + "." + h.get("name"));
        }
        List<String> missing = w.undefinedImports(defined);
        return missing.isEmpty() ? "" : " (the plan defines no " + String.join(", ", missing) + ")";
    }

    private Value memoryExport(WasmBinary w) {
        String name = null;
        for (WasmBinary.Export e : w.exports) {
            if (e.kind().equals("memory") && (name == null || e.name().equals("memory"))) {
                name = e.name();
            }
        }
        return name == null ? null : exports.getMember(name);
    }

    // -- what Steps and HostFuncs use -----------------------------------------------------------

    Value exports() {
        return exports;
    }

    WasmBinary binary() {
        return module.binary();
    }

    String dead() {
        return dead;
    }

    void kill(String why) {
        if (dead == null) {
            dead = why;
        }
    }

    Val binding(String name) {
        return bindings.get(name);
    }

    void bind(String name, Val v) {
        bindings.put(name, v);
    }

    Capture out() {
        return out;
    }

    Capture err() {
        return err;
    }

    void newTrace() {
        trace = Collections.synchronizedList(new ArrayList<>());
    }

    List<Object> trace() {
        return trace;
    }

    /** Appends a trace event {ev, k1: v1, ...}. */
    void event(String ev, Object... kv) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("ev", ev);
        for (int i = 0; i + 1 < kv.length; i += 2) {
            e.put((String) kv[i], kv[i + 1]);
        }
        trace.add(e);
    }

    List<Val> nestedCall(String export, List<Val> args) {
        return stepper.nested(export, args);
    }

    /** Bytes [ptr, ptr+len) of the exported memory; `oob` makes the exception for a bad range. */
    byte[] readMemory(long ptr, long len, Function<String, RuntimeException> oob) {
        checkRange(ptr, len, oob);
        byte[] data = new byte[(int) len];
        if (len > 0) {
            memory.readBuffer(ptr, data, 0, (int) len);
        }
        return data;
    }

    void writeMemory(long ptr, byte[] data, Function<String, RuntimeException> oob) {
        checkRange(ptr, data.length, oob);
        for (int i = 0; i < data.length; i++) {
            memory.writeBufferByte(ptr + i, data[i]);
        }
    }

    private void checkRange(long ptr, long len, Function<String, RuntimeException> oob) {
        if (memory == null) {
            throw oob.apply("the instance exports no memory");
        }
        long size = memory.getBufferSize();
        if (ptr + len > size) {
            throw oob.apply("memory access [" + ptr + ", " + (ptr + len) + ") is outside the " + size + "-byte memory");
        }
    }
}
