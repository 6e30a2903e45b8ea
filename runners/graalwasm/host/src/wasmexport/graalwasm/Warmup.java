package wasmexport.graalwasm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Runs a tiny plan before the hello: a guest spinning in a loop, timed out twice. The first
 * Context.interrupt of a fresh JVM took 150 ms (interpreter) to 670 ms (JIT) on a loaded machine,
 * against 3 to 50 ms once warm, which would make a short first timeout overrun its 1.5x.
 */
final class Warmup {
    // (module (func (export "spin") (loop br 0)))
    private static final byte[] SPIN = {0, 'a', 's', 'm', 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0,
        7, 8, 1, 4, 's', 'p', 'i', 'n', 0, 0, 10, 9, 1, 7, 0, 3, 0x40, 0x0c, 0, 0x0b, 0x0b};

    private Warmup() {
    }

    static void run(ModuleCache cache) throws IOException {
        Path file = Files.createTempFile("graalwasm-warmup", ".wasm");
        try {
            Files.write(file, SPIN);
            Map<String, Object> step = Map.of("call", "spin", "args", List.of(), "timeout_ms", 100L);
            Map<String, Object> plan = Map.of("type", "plan", "protocol", (long) Main.PROTOCOL, "id", "warmup",
                            "module", Map.of("path", file.toString(), "sha256", ""),
                            "wasi", Map.of("args", List.of(), "env", List.of(), "stdin_b64", ""),
                            "limits", Map.of("memory_bytes", 1L << 20, "output_bytes", 0L),
                            "imports", List.of(), "steps", List.of(step, step));
            new PlanRun(cache, plan).runWatched();
        } finally {
            Files.deleteIfExists(file);
        }
    }
}
