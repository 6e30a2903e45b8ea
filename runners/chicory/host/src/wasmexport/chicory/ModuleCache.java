package wasmexport.chicory;

import com.dylibso.chicory.compiler.MachineFactoryCompiler;
import com.dylibso.chicory.runtime.Instance;
import com.dylibso.chicory.runtime.Machine;
import com.dylibso.chicory.wasm.Parser;
import com.dylibso.chicory.wasm.WasmModule;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Modules kept in memory by sha256, least recently used dropped first past a byte budget
 * ({@code WASMEXPORT_MODULE_CACHE_MB}, default 256, MiB): a module seen before costs no reading,
 * parsing, validating, compiling or reflecting, only the instantiation. Size measure: the .wasm
 * size times a factor, the memory a module held costs, measured over the suite's Go modules
 * (2-2.5 MB .wasm each): Chicory's parsed module takes 25 times its binary on the Java heap
 * (its decoded instructions), and the compiler's generated classes add about 1.5 times more
 * (metaspace and code). The module just added always stays.
 */
final class ModuleCache {
    static final double INTERPRETER_FACTOR = 25.0;
    static final double COMPILER_FACTOR = 26.5;
    static final long DEFAULT_BUDGET_MB = 256;

    /** A parsed (and, for the compiler, compiled) module with its reflections. */
    record Loaded(WasmModule module, Function<Instance, Machine> machine,
                  List<Map<String, Object>> exports, List<Map<String, Object>> imports, long bytes) {}

    /** The module itself failed to parse, validate or compile: a load failure of the plan. */
    static final class CompileError extends Exception {
        CompileError(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private final long budget;
    private final boolean compiler;
    private final DiskCache disk; // the compiler's generated classes on disk, or null
    private final LinkedHashMap<String, Loaded> byKey = new LinkedHashMap<>(16, 0.75f, true);
    private long bytes;
    long hits;
    long misses;

    ModuleCache(long budget, boolean compiler, DiskCache disk) {
        this.budget = budget;
        this.compiler = compiler;
        this.disk = disk;
    }

    boolean compiler() {
        return compiler;
    }

    static long budgetFromEnv() {
        String text = System.getenv("WASMEXPORT_MODULE_CACHE_MB");
        if (text == null || text.isBlank()) {
            return DEFAULT_BUDGET_MB << 20;
        }
        double mb;
        try {
            mb = Double.parseDouble(text.trim());
        } catch (NumberFormatException e) {
            mb = -1;
        }
        if (!(mb >= 0 && mb <= (1 << 30))) {
            throw new IllegalArgumentException("WASMEXPORT_MODULE_CACHE_MB must be a number of MiB, not " + text);
        }
        return (long) (mb * (1 << 20));
    }

    Loaded get(String sha256, Path path) throws IOException, CompileError {
        Loaded hit = byKey.get(sha256);
        if (hit != null) {
            hits++;
            return hit;
        }
        Loaded m = load(Files.readAllBytes(path), compiler, disk);
        misses++; // a module that cannot be read or parsed is no miss a bigger budget would fix
        put(sha256, m);
        return m;
    }

    /** Parses (validating) and reflects a module, and compiles it when {@code compile}. */
    static Loaded load(byte[] binary, boolean compile, DiskCache disk) throws CompileError {
        WasmModule module;
        try {
            module = Parser.parse(binary);
        } catch (RuntimeException e) {
            throw new CompileError(Traps.message(e), e);
        }
        List<Map<String, Object>> exports = Reflect.exports(module, binary);
        List<Map<String, Object>> imports = Reflect.imports(module);
        Function<Instance, Machine> machine = null;
        if (compile) {
            try {
                var compiler = MachineFactoryCompiler.builder(module);
                machine = (disk != null ? compiler.withCache(disk) : compiler).compile();
            } catch (RuntimeException | LinkageError e) {
                throw new CompileError("Chicory's compiler failed: " + Traps.message(e), e);
            }
        }
        double factor = compile ? COMPILER_FACTOR : INTERPRETER_FACTOR;
        return new Loaded(module, machine, exports, imports, (long) (binary.length * factor));
    }

    private void put(String key, Loaded m) {
        byKey.put(key, m);
        bytes += m.bytes();
        var it = byKey.entrySet().iterator();
        while (bytes > budget && byKey.size() > 1) {
            var oldest = it.next();
            if (oldest.getValue() == m) {
                break;
            }
            bytes -= oldest.getValue().bytes();
            it.remove();
        }
    }

    Map<String, Object> stats() {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("budget_mb", budget / (double) (1 << 20));
        out.put("modules", (long) byKey.size());
        out.put("bytes", bytes);
        out.put("hits", hits);
        out.put("misses", misses);
        return out;
    }
}
