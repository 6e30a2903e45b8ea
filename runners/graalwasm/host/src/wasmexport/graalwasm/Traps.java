package wasmexport.graalwasm;

import org.graalvm.polyglot.PolyglotException;

/** GraalWasm's trap messages (org.graalvm.wasm.exception.Failure) onto the protocol's trap kinds. */
final class Traps {
    private Traps() {
    }

    /** A host function failing on purpose (the `trap` op) or on a bad operand. */
    static final class HostTrap extends RuntimeException {
        private static final long serialVersionUID = 1L;

        HostTrap(String message) {
            super(message, null, false, false);
        }
    }

    /** Thrown by a runner-supplied WASI function whose wait outlived the step's timeout. */
    static final class StepTimeout extends RuntimeException {
        private static final long serialVersionUID = 1L;

        StepTimeout(String message) {
            super(message, null, false, false);
        }
    }

    /** The protocol kind of a failed call that was neither an exit nor a timeout. */
    static String kind(PolyglotException e) {
        if (e.isHostException()) {
            Throwable h = e.asHostException();
            return h instanceof StepTimeout ? "timeout" : "host_error";
        }
        if (e.isInterrupted() || e.isCancelled()) {
            return "timeout";
        }
        String m = e.getMessage() == null ? "" : e.getMessage();
        if (m.equals("unreachable")) {
            return "unreachable";
        }
        if (m.equals("integer divide by zero")) {
            return "integer_divide_by_zero";
        }
        if (m.equals("integer overflow")) {
            return "integer_overflow";
        }
        if (m.equals("invalid conversion to integer")) {
            return "invalid_conversion";
        }
        if (m.equals("call stack exhausted")) {
            return "stack_overflow";
        }
        if (m.contains("memory access") && m.contains("out-of-bounds") || m.equals("out of bounds memory access")) {
            return "memory_out_of_bounds";
        }
        // "Actual (type 7 of function f) and expected (type 0 in module m) types differ in the
        // indirect call.", "Table element at index 3 is uninitialized.", "Element index '9' out of
        // table bounds.", and the Failure defaults
        if (m.contains("indirect call") || m.endsWith("is uninitialized.") || m.endsWith("out of table bounds.")
                        || m.equals("undefined element") || m.equals("uninitialized element") || m.equals("out of bounds table access")) {
            return "indirect_call";
        }
        return "other";
    }
}
