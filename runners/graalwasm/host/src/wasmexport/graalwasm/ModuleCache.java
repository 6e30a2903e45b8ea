package wasmexport.graalwasm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.List;
import java.util.function.Supplier;
import org.graalvm.polyglot.Engine;
import org.graalvm.polyglot.Source;
import org.graalvm.polyglot.io.ByteSequence;

/**
 * Modules in memory, keyed by sha256 and memory cap, within WASMEXPORT_MODULE_CACHE_MB (default
 * 256 MiB). An entry holds the polyglot Source of the rewritten binary; the Engine parses (and,
 * with the JIT, compiles) a module once and every later Context of that Engine reuses it, so a
 * module seen before costs no parsing, only the instantiation. A GraalWasm Engine keeps every
 * module it ever parsed, whether or not its Source is still referenced (measured: dropping the
 * Sources freed nothing, dropping the Engine freed it), so the budget is kept by generations:
 * when a new module would overrun it, the cache starts a fresh Engine and forgets the old one
 * with all its modules. Plans in flight keep the Engine of their entry.
 */
final class ModuleCache {
    /** Java heap per byte of .wasm for a parsed and instantiated Go module (measured: 3.1 to 3.9). */
    static final long SIZE_FACTOR = 4;

    /** One module: its Engine and Source, its reflection, or why the runner could not read it. */
    record Entry(Engine engine, Source source, WasmBinary binary, String unreadable, long minimumOver, long cost) {
    }

    private final long budget;
    private final Supplier<Engine> engines;
    private final HashMap<String, Entry> entries = new HashMap<>();
    private Engine engine;
    private long bytes;
    long hits;
    long misses;
    long generations = 1;

    ModuleCache(long budgetBytes, Supplier<Engine> engines) {
        this.budget = budgetBytes;
        this.engines = engines;
        this.engine = engines.get();
    }

    /** The current Engine (for warming up and closing). */
    synchronized Engine engine() {
        return engine;
    }

    static long budgetFromEnv() {
        String v = System.getenv("WASMEXPORT_MODULE_CACHE_MB");
        if (v == null || v.isBlank()) {
            return 256L << 20;
        }
        try {
            return Long.parseLong(v.trim()) << 20;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("WASMEXPORT_MODULE_CACHE_MB is not a number of MiB: " + v);
        }
    }

    int size() {
        return entries.size();
    }

    long bytes() {
        return bytes;
    }

    long budget() {
        return budget;
    }

    /** The module at `path` (named by `sha256`, or by its bytes when that is empty) under a cap. */
    synchronized Entry get(String sha256, String path, long capPages) throws IOException {
        byte[] binary = null;
        if (sha256 == null || sha256.isEmpty()) {
            binary = Files.readAllBytes(Path.of(path));
            sha256 = hex(binary);
        }
        String key = sha256 + "/" + capPages;
        Entry hit = entries.get(key);
        if (hit != null) {
            hits++;
            return hit;
        }
        misses++;
        if (binary == null) {
            binary = Files.readAllBytes(Path.of(path));
        }
        long cost = binary.length * SIZE_FACTOR;
        if (bytes + cost > budget && !entries.isEmpty()) {
            rotate();
        }
        Entry e = load(engine, binary, capPages, cost);
        entries.put(key, e);
        bytes += cost;
        return e;
    }

    /** A fresh Engine; the old one is closed (cancelling an abandoned plan still in it, if any). */
    private void rotate() {
        Engine old = engine;
        engine = engines.get();
        entries.clear();
        bytes = 0;
        generations++;
        try {
            old.close(true);
        } catch (RuntimeException e) {
            System.err.println("closing a module cache generation: " + e);
        }
    }

    private static Entry load(Engine engine, byte[] binary, long capPages, long cost) {
        WasmBinary w;
        try {
            w = WasmBinary.parse(binary);
        } catch (RuntimeException ex) { // GraalWasm gets the original bytes and says what is wrong
            return new Entry(engine, source(binary), null, String.valueOf(ex.getMessage()), -1, cost);
        }
        boolean polls = PollOneoff.SUPPLIED && w.imports.stream().anyMatch(i -> i.kind().equals("func")
                        && (i.module() + "." + i.name()).equals(PollOneoff.FUNCTION));
        List<String> renamed = polls ? List.of(PollOneoff.FUNCTION) : List.of();
        byte[] rewritten = w.rewrite(capPages, renamed, PollOneoff.MODULE);
        return new Entry(engine, source(rewritten), w, null, w.minimumOver(capPages), cost);
    }

    private static Source source(byte[] bytes) {
        return Source.newBuilder("wasm", ByteSequence.create(bytes), "guest").cached(true).buildLiteral();
    }

    private static String hex(byte[] data) {
        try {
            return java.util.HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
