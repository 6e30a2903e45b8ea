package wasmexport.graalwasm;

import wasmexport.shared.Json;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.jar.JarFile;
import org.graalvm.polyglot.Engine;

/**
 * The GraalWasm runner: speaks runners/PROTOCOL.md on stdin/stdout (a hello line, then one
 * observation line per plan line) and never judges.
 *
 * <pre>
 * java ... wasmexport.graalwasm.Main --engine NAME --lib DIR [--jit] [--bench PLANS.jsonl [--repeat N]]
 * </pre>
 *
 * A polyglot Engine serves every plan (one per module-cache generation), so GraalWasm parses
 * (and, with --jit, compiles) a module once (ModuleCache); each plan gets its own Context and
 * instance (PlanRun). Before the hello a tiny plan warms the interrupt path (Warmup). --lib is the
 * directory of the GraalVM jars, whose wasm-language manifest gives the engine version
 * (GraalWasm's own getVersion() says "Development Build" for Maven Central artifacts). --jit
 * refuses to start unless the Truffle runtime is the optimizing one (GraalVM CE with the Graal
 * compiler on the upgrade module path), so the JIT configuration never measures the fallback
 * interpreter by mistake. Bench mode: see Bench.
 */
public final class Main {
    static final int PROTOCOL = 3;
    /** Everything here is really implemented; GraalWasm has no instruction budget (no fuel). */
    static final List<String> CAPABILITIES = List.of("host_imports", "command_mode", "exact_f32", "export_types",
                    "import_types", "memory_types", "memory_limit", "timeout");

    private Main() {
    }

    public static void main(String[] argv) throws Exception {
        Map<String, String> opts = new LinkedHashMap<>();
        for (int i = 0; i < argv.length; i++) {
            if (argv[i].equals("--jit")) {
                opts.put("jit", "true");
            } else if (argv[i].startsWith("--") && i + 1 < argv.length) {
                opts.put(argv[i].substring(2), argv[++i]);
            } else {
                System.err.println("unknown argument " + argv[i]);
                System.exit(2);
            }
        }
        PrintStream stdout = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), false, StandardCharsets.UTF_8);
        System.setOut(System.err); // nothing but protocol lines on the real stdout
        ModuleCache cache = new ModuleCache(ModuleCache.budgetFromEnv(), Main::newEngine);
        String impl = cache.engine().getImplementationName();
        if (opts.containsKey("jit") && impl.equals("Interpreted")) {
            System.err.println("--jit: the Truffle runtime is the fallback interpreter; the JVM needs "
                            + "-XX:+EnableJVMCI and the Graal compiler jar on --upgrade-module-path");
            System.exit(3);
        }
        String name = opts.getOrDefault("engine", "graalwasm");
        String version = version(opts.get("lib"));
        if (opts.containsKey("bench")) {
            int repeat = Integer.parseInt(opts.getOrDefault("repeat", "5"));
            System.exit(Bench.run(cache, name, version, Path.of(opts.get("bench")), repeat, stdout));
        }
        Warmup.run(cache);
        Map<String, Object> hello = new LinkedHashMap<>();
        hello.put("type", "hello");
        hello.put("protocol", PROTOCOL);
        hello.put("engine", name);
        hello.put("engine_version", version);
        hello.put("capabilities", CAPABILITIES);
        send(stdout, hello);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (!line.isBlank()) {
                send(stdout, serve(cache, line));
            }
        }
        System.exit(0); // abandoned workers, if any, are daemons
    }

    /** One Engine: the polyglot engine's own log goes to the runner's stderr, never to a guest's. */
    static Engine newEngine() {
        return Engine.newBuilder("wasm")
                        .option("engine.WarnInterpreterOnly", "false")
                        .logHandler(System.err)
                        .build();
    }

    private static void send(PrintStream out, Map<String, Object> doc) {
        out.print(Json.write(doc) + "\n");
        out.flush();
    }

    /** One plan line's observation; a plan the runner cannot read still gets one. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> serve(ModuleCache cache, String line) {
        Object id = null;
        try {
            Map<String, Object> plan = (Map<String, Object>) Json.parse(line);
            id = plan.get("id");
            return new PlanRun(cache, plan).runWatched();
        } catch (RuntimeException e) {
            e.printStackTrace();
            Map<String, Object> obs = new LinkedHashMap<>();
            obs.put("type", "observation");
            obs.put("protocol", PROTOCOL);
            obs.put("id", id instanceof String ? id : null);
            obs.put("error", "bad plan: " + e);
            obs.put("steps", new ArrayList<>());
            return obs;
        }
    }

    /** The Implementation-Version of the wasm-language jar in `lib` (its Maven artifact version). */
    static String version(String lib) throws IOException {
        if (lib != null) {
            try (var files = Files.list(Path.of(lib))) {
                for (Path p : (Iterable<Path>) files::iterator) {
                    if (p.getFileName().toString().startsWith("wasm-language-") && p.toString().endsWith(".jar")) {
                        try (JarFile jar = new JarFile(p.toFile())) {
                            String v = jar.getManifest().getMainAttributes().getValue("Implementation-Version");
                            if (v != null) {
                                return v;
                            }
                        }
                    }
                }
            }
        }
        return "unknown";
    }
}
