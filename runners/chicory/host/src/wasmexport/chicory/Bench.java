package wasmexport.chicory;

import wasmexport.shared.Json;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Bench mode, the bare in-process loop the suite's per-item cost is compared to: every plan of
 * the file (one per line, as the harness sends them) runs once to warm up, then the whole list
 * {@code repeat} times through {@link Main#execute}, with no JSON round trip and no observation
 * written. Prints one JSON line: {engine, engine_version, plans, repeat, per_plan_ms {median,
 * mean, p90}, cpu_ms_per_plan, total_s, module_cache {budget_mb, modules, bytes, hits, misses}},
 * the times, hits and misses being the timed runs'.
 */
final class Bench {
    private Bench() {}

    static int run(Main main, Path file, int repeat, PrintStream out) throws IOException {
        List<Map<String, Object>> plans = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (!line.isBlank()) {
                plans.add(Json.obj(Json.parse(line), "a plan"));
            }
        }
        if (plans.isEmpty()) {
            System.err.println("no plans in " + file);
            return 2;
        }
        int errors = 0;
        for (Map<String, Object> p : plans) {
            errors += check(main.execute(p));
        }
        main.modules.hits = 0;
        main.modules.misses = 0;
        var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        long cpu0 = os.getProcessCpuTime();
        long t0 = System.nanoTime();
        List<Double> times = new ArrayList<>();
        for (int r = 0; r < repeat; r++) {
            for (Map<String, Object> p : plans) {
                long s = System.nanoTime();
                main.execute(p);
                times.add((System.nanoTime() - s) / 1e6);
            }
        }
        double total = (System.nanoTime() - t0) / 1e9;
        double cpu = (os.getProcessCpuTime() - cpu0) / 1e6;
        Collections.sort(times);
        Map<String, Object> ms = new LinkedHashMap<>();
        ms.put("median", times.isEmpty() ? 0.0 : times.get(times.size() / 2));
        ms.put("mean", times.stream().mapToDouble(Double::doubleValue).average().orElse(0));
        ms.put("p90", times.isEmpty() ? 0.0 : times.get(Math.min(times.size() - 1, times.size() * 9 / 10)));
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("engine", main.engine);
        doc.put("engine_version", Main.chicoryVersion());
        doc.put("plans", (long) plans.size());
        doc.put("repeat", (long) repeat);
        doc.put("per_plan_ms", ms);
        doc.put("cpu_ms_per_plan", times.isEmpty() ? 0.0 : cpu / times.size());
        doc.put("total_s", total);
        doc.put("module_cache", main.modules.stats());
        out.println(Json.write(doc));
        out.flush();
        if (errors > 0) {
            System.err.println(errors + " of " + plans.size() + " plans answered with a runner error");
        }
        if (main.modules.misses > 0) {
            System.err.println(main.modules.misses + " of " + times.size() + " timed runs parsed again"
                    + " a module the cache had evicted (budget " + main.modules.stats().get("budget_mb")
                    + " MiB): raise WASMEXPORT_MODULE_CACHE_MB to time warm plans only");
        }
        return 0;
    }

    private static int check(Map<String, Object> obs) {
        if (obs.containsKey("error")) {
            System.err.println("runner error in plan " + obs.get("id") + ": " + obs.get("error"));
            return 1;
        }
        return 0;
    }
}
