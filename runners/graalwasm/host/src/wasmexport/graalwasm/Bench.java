package wasmexport.graalwasm;

import wasmexport.shared.Json;

import java.io.IOException;
import java.io.PrintStream;
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
 * `repeat` times through PlanRun, as the protocol loop runs it, with no JSON round trip and no
 * observation written. Prints one JSON line: {engine, engine_version, plans, repeat,
 * per_plan_ms: {median, mean, p90}, total_s, module_cache: {budget_mb, modules, bytes, hits,
 * misses, generations}}, the times, hits and misses being the timed runs' (generations: Engines
 * the cache has started, see ModuleCache).
 */
final class Bench {
    private Bench() {
    }

    @SuppressWarnings("unchecked")
    static int run(ModuleCache cache, String name, String version, Path file, int repeat, PrintStream out)
                    throws IOException {
        List<Map<String, Object>> plans = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (!line.isBlank()) {
                plans.add((Map<String, Object>) Json.parse(line));
            }
        }
        for (Map<String, Object> p : plans) {
            new PlanRun(cache, p).runWatched();
        }
        long hits = cache.hits;
        long misses = cache.misses;
        List<Double> times = new ArrayList<>();
        long started = System.nanoTime();
        for (int r = 0; r < repeat; r++) {
            for (Map<String, Object> p : plans) {
                long t = System.nanoTime();
                new PlanRun(cache, p).runWatched();
                times.add((System.nanoTime() - t) / 1e6);
            }
        }
        double total = (System.nanoTime() - started) / 1e9;
        Collections.sort(times);
        Map<String, Object> perPlan = new LinkedHashMap<>();
        double sum = 0;
        for (double t : times) {
            sum += t;
        }
        perPlan.put("median", times.isEmpty() ? 0.0 : round(times.get(times.size() / 2)));
        perPlan.put("mean", times.isEmpty() ? 0.0 : round(sum / times.size()));
        perPlan.put("p90", times.isEmpty() ? 0.0 : round(times.get((int) Math.min(times.size() - 1, times.size() * 0.9))));
        Map<String, Object> mc = new LinkedHashMap<>();
        mc.put("budget_mb", cache.budget() >> 20);
        mc.put("modules", (long) cache.size());
        mc.put("bytes", cache.bytes());
        mc.put("hits", cache.hits - hits);
        mc.put("misses", cache.misses - misses);
        mc.put("generations", cache.generations);
        if (cache.misses - misses > 0) {
            System.err.println("the module cache budget is too small to keep every module of the file warm");
        }
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("engine", name);
        doc.put("engine_version", version);
        doc.put("plans", (long) plans.size());
        doc.put("repeat", (long) repeat);
        doc.put("per_plan_ms", perPlan);
        doc.put("total_s", round(total));
        doc.put("module_cache", mc);
        out.print(Json.write(doc) + "\n");
        out.flush();
        return 0;
    }

    private static double round(double v) {
        return Math.round(v * 100) / 100.0;
    }
}
