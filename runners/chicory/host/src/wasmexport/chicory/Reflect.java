package wasmexport.chicory;

import com.dylibso.chicory.wasm.WasmModule;
import com.dylibso.chicory.wasm.types.Export;
import com.dylibso.chicory.wasm.types.ExternalType;
import com.dylibso.chicory.wasm.types.FunctionImport;
import com.dylibso.chicory.wasm.types.FunctionType;
import com.dylibso.chicory.wasm.types.Import;
import com.dylibso.chicory.wasm.types.MemoryImport;
import com.dylibso.chicory.wasm.types.MemoryLimits;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The export and import sections as the protocol reports them, in module order, from Chicory's
 * parsed module. Chicory stores an absent memory maximum as 65536 pages, the same as a declared
 * one, so a defined memory's limits are read from the binary's memory section instead.
 */
final class Reflect {
    private Reflect() {}

    /** A declared memory: initial pages and maximum pages, or null for none. */
    record Limits(long min, Long max) {}

    static List<Map<String, Object>> exports(WasmModule m, byte[] binary) {
        List<Limits> defined = memorySection(binary);
        int importedFuncs = m.importSection().count(ExternalType.FUNCTION);
        List<MemoryImport> importedMems = new ArrayList<>();
        for (int i = 0; i < m.importSection().importCount(); i++) {
            if (m.importSection().getImport(i) instanceof MemoryImport) {
                importedMems.add((MemoryImport) m.importSection().getImport(i));
            }
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (int i = 0; i < m.exportSection().exportCount(); i++) {
            Export e = m.exportSection().getExport(i);
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("name", e.name());
            info.put("kind", kind(e.exportType()));
            if (e.exportType() == ExternalType.FUNCTION) {
                int idx = e.index();
                int typeIdx = idx < importedFuncs ? functionImport(m, idx).typeIndex()
                        : m.functionSection().getFunctionType(idx - importedFuncs);
                FunctionType t = m.typeSection().getType(typeIdx);
                info.put("params", Values.names(t.params()));
                info.put("results", Values.names(t.returns()));
            } else if (e.exportType() == ExternalType.MEMORY) {
                int idx = e.index();
                Limits lim;
                if (idx < importedMems.size()) {
                    MemoryLimits l = importedMems.get(idx).limits();
                    lim = new Limits(l.initialPages(), l.maximumPages() == MemoryLimits.MAX_PAGES
                            ? null : (long) l.maximumPages());
                } else {
                    lim = defined.get(idx - importedMems.size());
                }
                info.put("min", lim.min());
                info.put("max", lim.max());
            }
            out.add(info);
        }
        return out;
    }

    static List<Map<String, Object>> imports(WasmModule m) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (int i = 0; i < m.importSection().importCount(); i++) {
            Import im = m.importSection().getImport(i);
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("module", im.module());
            info.put("name", im.name());
            info.put("kind", kind(im.importType()));
            if (im instanceof FunctionImport) {
                FunctionType t = m.typeSection().getType(((FunctionImport) im).typeIndex());
                if (t.params().stream().allMatch(Values::isProtocolType)
                        && t.returns().stream().allMatch(Values::isProtocolType)) {
                    info.put("params", Values.names(t.params()));
                    info.put("results", Values.names(t.returns()));
                }
            }
            out.add(info);
        }
        return out;
    }

    private static FunctionImport functionImport(WasmModule m, int funcIdx) {
        int seen = 0;
        for (int i = 0; i < m.importSection().importCount(); i++) {
            Import im = m.importSection().getImport(i);
            if (im instanceof FunctionImport && seen++ == funcIdx) {
                return (FunctionImport) im;
            }
        }
        throw new IllegalStateException("no function import " + funcIdx);
    }

    private static String kind(ExternalType t) {
        switch (t) {
            case FUNCTION:
                return "func";
            case MEMORY:
                return "memory";
            case TABLE:
                return "table";
            case GLOBAL:
                return "global";
            default:
                return t.name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** The limits of the memories the binary defines (section 5), in order. */
    static List<Limits> memorySection(byte[] b) {
        List<Limits> out = new ArrayList<>();
        int[] pos = {8};
        while (pos[0] < b.length) {
            int id = b[pos[0]++] & 0xFF;
            int size = (int) leb(b, pos);
            int end = pos[0] + size;
            if (id == 5) {
                long count = leb(b, pos);
                for (long i = 0; i < count; i++) {
                    int flags = b[pos[0]++] & 0xFF;
                    long min = leb(b, pos);
                    Long max = (flags & 1) != 0 ? leb(b, pos) : null;
                    out.add(new Limits(min, max));
                }
                return out;
            }
            pos[0] = end;
        }
        return out;
    }

    private static long leb(byte[] b, int[] pos) {
        long result = 0;
        int shift = 0;
        while (true) {
            int x = b[pos[0]++] & 0xFF;
            result |= (long) (x & 0x7F) << shift;
            if ((x & 0x80) == 0) {
                return result;
            }
            shift += 7;
        }
    }
}
