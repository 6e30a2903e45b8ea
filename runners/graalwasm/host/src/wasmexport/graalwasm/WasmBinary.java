package wasmexport.graalwasm;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parts of a module binary the runner needs and GraalWasm's polyglot API does not reflect:
 * the import and export sections in module order with function signatures and memory limits.
 * It also rewrites two things before GraalWasm sees the module: memory maxima clamped to the
 * plan's cap (GraalWasm 25 has no memory-limit option; memory.grow past a declared maximum
 * returns -1, as under an embedder's limiter), and the module of chosen function imports
 * renamed, so the runner can supply those WASI functions itself (see PollOneoff).
 */
final class WasmBinary {
    record FuncType(List<String> params, List<String> results) {
    }

    /** A memory's limits in pages; max is null when the module declares none. */
    record Limits(long min, Long max) {
    }

    record Import(String module, String name, String kind, FuncType type) {
    }

    record Export(String name, String kind, FuncType type, Limits memory) {
    }

    private record Span(int start, int end) {
    }

    private record ImportSpan(Span entry, Span module, Import imp) {
    }

    private static final String[] KINDS = {"func", "table", "memory", "global"};

    final List<Import> imports = new ArrayList<>();
    final List<Export> exports = new ArrayList<>();
    private final byte[] b;
    private final List<FuncType> types = new ArrayList<>();
    private final List<FuncType> funcs = new ArrayList<>();
    private final List<Limits> memories = new ArrayList<>();
    private final List<ImportSpan> importSpans = new ArrayList<>();
    private final List<Span> sections = new ArrayList<>(); // each from its id byte to its end
    private final List<Span> definedMemories = new ArrayList<>();
    private int pos;

    private WasmBinary(byte[] b) {
        this.b = b;
    }

    /** Reads a binary GraalWasm has accepted or will judge; throws on anything it cannot read. */
    static WasmBinary parse(byte[] b) {
        WasmBinary w = new WasmBinary(b);
        w.read();
        return w;
    }

    private void read() {
        if (b.length < 8 || b[0] != 0 || b[1] != 'a' || b[2] != 's' || b[3] != 'm') {
            throw new IllegalArgumentException("not a wasm binary");
        }
        pos = 8;
        List<long[]> exportRaw = new ArrayList<>();
        List<String> exportNames = new ArrayList<>();
        while (pos < b.length) {
            int start = pos;
            int id = u8();
            int size = (int) leb();
            int end = pos + size;
            if (size < 0 || end > b.length) {
                throw new IllegalArgumentException("truncated section " + id);
            }
            sections.add(new Span(start, end));
            switch (id) {
                case 1 -> readTypes();
                case 2 -> readImports();
                case 3 -> {
                    long n = leb();
                    for (long i = 0; i < n; i++) {
                        funcs.add(type(leb()));
                    }
                }
                case 5 -> {
                    long n = leb();
                    for (long i = 0; i < n; i++) {
                        int s = pos;
                        memories.add(limits());
                        definedMemories.add(new Span(s, pos));
                    }
                }
                case 7 -> {
                    long n = leb();
                    for (long i = 0; i < n; i++) {
                        exportNames.add(name());
                        exportRaw.add(new long[] {u8(), leb()});
                    }
                }
                default -> {
                }
            }
            pos = end;
        }
        for (int i = 0; i < exportNames.size(); i++) {
            int kind = (int) exportRaw.get(i)[0];
            int index = (int) exportRaw.get(i)[1];
            if (kind >= KINDS.length) {
                throw new IllegalArgumentException("export " + exportNames.get(i) + " has kind " + kind + ", which the protocol cannot name");
            }
            exports.add(new Export(exportNames.get(i), KINDS[kind], kind == 0 ? funcs.get(index) : null,
                            kind == 2 ? memories.get(index) : null));
        }
    }

    private void readTypes() {
        long n = leb();
        for (long i = 0; i < n; i++) {
            int form = u8();
            if (form != 0x60) {
                throw new IllegalArgumentException("type form 0x" + Integer.toHexString(form) + " is not a function type");
            }
            List<String> params = valTypes();
            types.add(new FuncType(params, valTypes()));
        }
    }

    private List<String> valTypes() {
        long n = leb();
        List<String> out = new ArrayList<>();
        for (long i = 0; i < n; i++) {
            out.add(switch (u8()) {
                case 0x7f -> "i32";
                case 0x7e -> "i64";
                case 0x7d -> "f32";
                case 0x7c -> "f64";
                case 0x7b -> "v128";
                case 0x70 -> "funcref";
                case 0x6f -> "externref";
                default -> throw new IllegalArgumentException("unknown value type at offset " + (pos - 1));
            });
        }
        return out;
    }

    private void readImports() {
        long n = leb();
        for (long i = 0; i < n; i++) {
            int entryStart = pos;
            int moduleStart = pos;
            String module = name();
            Span moduleSpan = new Span(moduleStart, pos);
            String field = name();
            int kind = u8();
            FuncType type = null;
            switch (kind) {
                case 0 -> {
                    type = type(leb());
                    funcs.add(type);
                }
                case 1 -> {
                    u8();
                    limits();
                }
                case 2 -> memories.add(limits());
                case 3 -> {
                    u8();
                    u8();
                }
                default -> throw new IllegalArgumentException("import " + module + "." + field + " has kind " + kind + ", which the protocol cannot name");
            }
            Import imp = new Import(module, field, KINDS[kind], type);
            imports.add(imp);
            importSpans.add(new ImportSpan(new Span(entryStart, pos), moduleSpan, imp));
        }
    }

    private FuncType type(long index) {
        if (index >= types.size()) {
            throw new IllegalArgumentException("unknown type index " + index);
        }
        return types.get((int) index);
    }

    private Limits limits() {
        int flags = u8();
        long min = leb();
        Long max = (flags & 1) != 0 ? leb() : null;
        return new Limits(min, max);
    }

    private int u8() {
        if (pos >= b.length) {
            throw new IllegalArgumentException("unexpected end of the binary");
        }
        return b[pos++] & 0xff;
    }

    private long leb() {
        long result = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            int x = u8();
            result |= (long) (x & 0x7f) << shift;
            if ((x & 0x80) == 0) {
                return result;
            }
        }
        throw new IllegalArgumentException("LEB128 too long");
    }

    private String name() {
        int n = (int) leb();
        if (n < 0 || pos + n > b.length) {
            throw new IllegalArgumentException("truncated name");
        }
        String s = new String(b, pos, n, StandardCharsets.UTF_8);
        pos += n;
        return s;
    }

    /** The export section as the protocol reflects it: module order, signatures, memory limits. */
    List<Object> exportsJson() {
        List<Object> out = new ArrayList<>();
        for (Export e : exports) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", e.name());
            m.put("kind", e.kind());
            if (e.type() != null) {
                m.put("params", e.type().params());
                m.put("results", e.type().results());
            }
            if (e.memory() != null) {
                m.put("min", e.memory().min());
                m.put("max", e.memory().max());
            }
            out.add(m);
        }
        return out;
    }

    /** The import section as the protocol reflects it, function signatures included. */
    List<Object> importsJson() {
        List<Object> out = new ArrayList<>();
        for (Import i : imports) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("module", i.module());
            m.put("name", i.name());
            m.put("kind", i.kind());
            if (i.type() != null) {
                m.put("params", i.type().params());
                m.put("results", i.type().results());
            }
            out.add(m);
        }
        return out;
    }

    /** Non-WASI imports not among `defined` ("module.name"); other kinds than func never are. */
    List<String> undefinedImports(List<String> defined) {
        List<String> missing = new ArrayList<>();
        for (Import i : imports) {
            String name = i.module() + "." + i.name();
            if (i.module().equals("wasi_snapshot_preview1")) {
                continue;
            }
            if (!i.kind().equals("func")) {
                missing.add(name + " (" + i.kind() + ")");
            } else if (!defined.contains(name)) {
                missing.add(name);
            }
        }
        return missing;
    }

    /** The smallest declared minimum among the defined memories over `capPages`, or -1. */
    long minimumOver(long capPages) {
        for (Span s : definedMemories) {
            pos = s.start();
            long min = limits().min();
            if (min > capPages) {
                return min;
            }
        }
        return -1;
    }

    /**
     * The binary GraalWasm gets: defined 32-bit memories' maxima clamped to capPages, and the
     * function imports named in `renamed` ("module.name") moved to module `to`.
     */
    byte[] rewrite(long capPages, List<String> renamed, String to) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(b.length + 64);
        out.write(b, 0, 8);
        for (Span sec : sections) {
            int id = b[sec.start()] & 0xff;
            if (id == 2) {
                section(out, 2, importSection(renamed, to));
            } else if (id == 5) {
                section(out, 5, memorySection(capPages));
            } else {
                out.write(b, sec.start(), sec.end() - sec.start());
            }
        }
        return out.toByteArray();
    }

    private byte[] importSection(List<String> renamed, String to) {
        ByteArrayOutputStream s = new ByteArrayOutputStream();
        writeLeb(s, importSpans.size());
        for (ImportSpan is : importSpans) {
            Import imp = is.imp();
            if (imp.kind().equals("func") && renamed.contains(imp.module() + "." + imp.name())) {
                byte[] m = to.getBytes(StandardCharsets.UTF_8);
                writeLeb(s, m.length);
                s.write(m, 0, m.length);
                s.write(b, is.module().end(), is.entry().end() - is.module().end());
            } else {
                s.write(b, is.entry().start(), is.entry().end() - is.entry().start());
            }
        }
        return s.toByteArray();
    }

    private byte[] memorySection(long capPages) {
        ByteArrayOutputStream s = new ByteArrayOutputStream();
        writeLeb(s, definedMemories.size());
        for (Span span : definedMemories) {
            int flags = b[span.start()] & 0xff;
            if (flags > 1) { // shared or 64-bit memories: left as declared
                s.write(b, span.start(), span.end() - span.start());
                continue;
            }
            pos = span.start();
            Limits l = limits();
            long max = l.max() == null ? capPages : Math.min(l.max(), capPages);
            s.write(1);
            writeLeb(s, l.min());
            writeLeb(s, Math.max(max, l.min()));
        }
        return s.toByteArray();
    }

    private static void section(ByteArrayOutputStream out, int id, byte[] content) {
        out.write(id);
        writeLeb(out, content.length);
        out.write(content, 0, content.length);
    }

    private static void writeLeb(ByteArrayOutputStream out, long v) {
        do {
            int x = (int) (v & 0x7f);
            v >>>= 7;
            out.write(v != 0 ? x | 0x80 : x);
        } while (v != 0);
    }
}
