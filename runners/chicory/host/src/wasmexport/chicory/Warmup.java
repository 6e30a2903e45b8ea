package wasmexport.chicory;

import wasmexport.shared.Json;

import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * A tiny module run through the whole plan path (parse, compile, WASI, a host function, a loop
 * and calls, captured output), so the JVM has loaded and begun compiling the classes a plan
 * needs before the first plan arrives. The runner does it on a background thread after its
 * hello; the build does it once with {@code --train} to record the classes in a CDS archive.
 */
final class Warmup {
    private Warmup() {}

    /** run(n): sums n*n for n..1 through a call, writes "ok" to stdout, returns host.h(sum). */
    private static final String WASM = "0061736d0100000001130360047f7f7f7f017f60017e017e60017f017e"
            + "022c0216776173695f736e617073686f745f70726576696577310866645f7772697465000004686f7374"
            + "0168000103030201020503010001071002066d656d6f727902000372756e00030a46020700200020007e"
            + "0b3c01017e034020012000ad10027c2101200041016b2100200041004a0d000b410041103602004104"
            + "4102360200410141004101410810001a200110010b0b08010041100b026f6b";

    private static final String PLAN = "{\"type\":\"plan\",\"protocol\":3,\"id\":\"warm-up\","
            + "\"module\":{\"path\":\"\",\"sha256\":\"\"},"
            + "\"wasi\":{\"args\":[\"warm-up\"],\"env\":[[\"K\",\"V\"]],\"stdin_b64\":\"\"},"
            + "\"limits\":{\"memory_bytes\":1048576,\"output_bytes\":16},"
            + "\"imports\":[{\"module\":\"host\",\"name\":\"h\",\"params\":[\"i64\"],\"results\":[\"i64\"],"
            + "\"do\":[{\"read\":{\"ptr\":{\"value\":{\"t\":\"i32\",\"v\":\"16\"}},"
            + "\"len\":{\"value\":{\"t\":\"i32\",\"v\":\"2\"}}}}],\"return\":[{\"param\":0}]}],"
            + "\"steps\":[{\"call\":\"run\",\"args\":[{\"t\":\"i32\",\"v\":\"2000\"}],\"timeout_ms\":10000},"
            + "{\"read\":{\"ptr\":{\"t\":\"i32\",\"v\":\"16\"},\"len\":{\"t\":\"i32\",\"v\":\"2\"}},"
            + "\"timeout_ms\":10000}]}";

    /** Runs the module {@code rounds} times; true when every run gave the expected result. */
    static boolean run(boolean compile, int rounds) {
        boolean good = true;
        for (int i = 0; i < rounds; i++) {
            try {
                ModuleCache.Loaded m = ModuleCache.load(HexFormat.of().parseHex(WASM), compile, null);
                Map<String, Object> plan = Json.obj(Json.parse(PLAN), "the warm-up plan");
                PlanRun run = new PlanRun(plan);
                try {
                    good &= run.instantiate(m) == null;
                    for (Object s : Json.list(plan.get("steps"), "steps")) {
                        good &= "ok".equals(run.step(Json.obj(s, "a step")).get("outcome"));
                    }
                } finally {
                    run.close();
                }
                Json.write(m.exports());
            } catch (Exception e) {
                return false;
            }
        }
        return good;
    }

    /** The background warm-up: low priority, a daemon, failures ignored (plans will tell). */
    static void inBackground(boolean compile) {
        Thread t = new Thread(() -> run(compile, 3), "chicory-warm-up");
        t.setDaemon(true);
        t.setPriority(Thread.MIN_PRIORITY);
        t.start();
    }

    static List<Boolean> train() {
        return List.of(run(false, 3), run(true, 3));
    }
}
