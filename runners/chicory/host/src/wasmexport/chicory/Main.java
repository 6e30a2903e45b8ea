package wasmexport.chicory;

import wasmexport.shared.Json;

import java.io.BufferedReader;
import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * The Chicory runner: executes plans with Chicory and reports observations, speaking
 * runners/PROTOCOL.md on stdin/stdout (a hello line, then one observation line per plan line).
 * It never judges.
 *
 * <p>{@code --engine chicory} runs Chicory's interpreter; {@code --engine chicory-compiler}
 * its bytecode compiler (com.dylibso.chicory:compiler), which turns each module into JVM classes
 * at load time, kept on disk under {@code --cache DIR} by module digest and Chicory version.
 * Modules stay in memory (ModuleCache); a plan's instance and WASI are dropped after it.
 *
 * <p>Bench mode (Bench): {@code --bench PLANS.jsonl [--repeat N]}. {@code --train} runs the
 * warm-up (Warmup) on both machines and exits: the build records the classes it loads.
 */
public final class Main {
    static final int PROTOCOL = 3;
    static final List<String> CAPABILITIES = List.of("host_imports", "command_mode", "exact_f32",
            "export_types", "import_types", "memory_types", "memory_limit", "timeout");

    final String engine;
    final ModuleCache modules;

    Main(String engine, ModuleCache modules) {
        this.engine = engine;
        this.modules = modules;
    }

    public static void main(String[] argv) throws IOException {
        String engine = "chicory";
        String cache = null;
        String bench = null;
        int repeat = 5;
        boolean train = false;
        for (int i = 0; i < argv.length; i++) {
            switch (argv[i]) {
                case "--engine": engine = argv[++i]; break;
                case "--cache": cache = argv[++i]; break;
                case "--bench": bench = argv[++i]; break;
                case "--repeat": repeat = Integer.parseInt(argv[++i]); break;
                case "--train": train = true; break;
                default:
                    System.err.println("unknown argument " + argv[i]);
                    System.exit(2);
            }
        }
        if (!engine.equals("chicory") && !engine.equals("chicory-compiler")) {
            System.err.println("unknown engine " + engine + ": chicory or chicory-compiler");
            System.exit(2);
        }
        if (repeat < 1) {
            System.err.println("--repeat must be at least 1");
            System.exit(2);
        }
        long budget = 0;
        try {
            budget = ModuleCache.budgetFromEnv();
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.exit(2);
        }
        if (train) { // the build's class-list run (adapter.py): both machines, then exit
            List<Boolean> ok = Warmup.train();
            System.exit(ok.contains(false) ? 1 : 0);
        }
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false,
                StandardCharsets.UTF_8);
        System.setOut(System.err); // nothing but protocol documents reaches the real stdout
        boolean compiler = engine.equals("chicory-compiler");
        DiskCache disk = null;
        if (compiler) {
            Path dir = cache != null ? Path.of(cache) : Path.of(System.getProperty("java.io.tmpdir"),
                    "chicory-compiled");
            disk = new DiskCache(dir.resolve(chicoryVersion()));
        }
        Main main = new Main(engine, new ModuleCache(budget, compiler, disk));
        if (bench != null) {
            System.exit(Bench.run(main, Path.of(bench), repeat, out));
        }
        main.serve(System.in, out);
    }

    static String chicoryVersion() {
        try (InputStream in = Main.class.getResourceAsStream(
                "/META-INF/maven/com.dylibso.chicory/runtime/pom.properties")) {
            Properties p = new Properties();
            if (in != null) {
                p.load(in);
            }
            return p.getProperty("version", "unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }

    void serve(InputStream stdin, PrintStream out) throws IOException {
        Map<String, Object> hello = new LinkedHashMap<>();
        hello.put("type", "hello");
        hello.put("protocol", (long) PROTOCOL);
        hello.put("engine", engine);
        hello.put("engine_version", chicoryVersion());
        hello.put("capabilities", new ArrayList<Object>(CAPABILITIES));
        send(out, hello);
        Warmup.inBackground(modules.compiler());
        BufferedReader in = new BufferedReader(new InputStreamReader(stdin, StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null; ) {
            if (line.isBlank()) {
                continue;
            }
            Map<String, Object> plan;
            try {
                plan = Json.obj(Json.parse(line), "the plan");
            } catch (RuntimeException e) {
                send(out, failure(null, "bad plan: " + e.getMessage()));
                continue;
            }
            send(out, execute(plan));
        }
    }

    private static void send(PrintStream out, Map<String, Object> doc) {
        out.print(Json.write(doc));
        out.print('\n');
        out.flush();
    }

    static Map<String, Object> failure(Object id, String error) {
        Map<String, Object> obs = new LinkedHashMap<>();
        obs.put("type", "observation");
        obs.put("protocol", (long) PROTOCOL);
        obs.put("id", id instanceof String ? id : null);
        obs.put("error", error);
        obs.put("steps", new ArrayList<>());
        return obs;
    }

    /** One plan; a failure of the runner's own becomes the observation's error. */
    Map<String, Object> execute(Map<String, Object> plan) {
        Object id = plan.get("id");
        try {
            return executeUnsafe(plan);
        } catch (Throwable t) {
            StringWriter trace = new StringWriter();
            t.printStackTrace(new PrintWriter(trace));
            return failure(id, "runner error: " + trace);
        }
    }

    private Map<String, Object> executeUnsafe(Map<String, Object> plan) throws IOException {
        Map<String, Object> obs = new LinkedHashMap<>();
        obs.put("type", "observation");
        obs.put("protocol", (long) PROTOCOL);
        obs.put("id", plan.get("id"));
        Map<String, Object> module = Json.obj(plan.get("module"), "module");
        Path path = Path.of(Json.str(module.get("path"), "module.path"));
        Object sha = module.get("sha256");
        String key = sha instanceof String && !((String) sha).isEmpty() ? (String) sha : "path:" + path;
        Map<String, Object> load = new LinkedHashMap<>();
        List<Object> steps = new ArrayList<>();
        ModuleCache.Loaded m;
        try {
            m = modules.get(key, path);
        } catch (ModuleCache.CompileError e) {
            load.put("ok", false);
            load.put("stage", "compile");
            load.put("message", e.getMessage());
            obs.put("load", load);
            obs.put("exports", null);
            obs.put("imports", null);
            obs.put("steps", steps);
            return obs;
        }
        obs.put("exports", m.exports());
        obs.put("imports", m.imports());
        PlanRun run = new PlanRun(plan);
        try {
            String failed = run.instantiate(m);
            if (failed != null) {
                load.put("ok", false);
                load.put("stage", "instantiate");
                load.put("message", failed);
            } else {
                load.put("ok", true);
                for (Object s : Json.list(plan.get("steps"), "steps")) {
                    steps.add(run.step(Json.obj(s, "a step")));
                }
            }
        } finally {
            run.close();
        }
        obs.put("load", load);
        obs.put("steps", steps);
        return obs;
    }
}
