package wasmexport.chicory;

import com.dylibso.chicory.runtime.ChicoryInterruptedException;
import com.dylibso.chicory.wasi.WasiExitException;

/** How a failed call ended: Chicory's exceptions mapped onto the protocol's trap kinds. */
final class Traps {
    private Traps() {}

    /** A host function failing on purpose (the trap op) or by a bad memory access. */
    static final class HostTrap extends RuntimeException {
        HostTrap(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * Chicory's trap messages (InterpreterMachine, OpcodeImpl, the compiler's Shaded helpers and
     * the memories) -> trap kinds, by prefix. Chicory throws plain ChicoryExceptions for some
     * traps (indirect calls, the exhausted call stack), so the message is what tells them apart.
     */
    private static final String[][] KINDS = {
        {"Trapped on unreachable instruction", "unreachable"},
        {"out of bounds memory access", "memory_out_of_bounds"},
        {"integer divide by zero", "integer_divide_by_zero"},
        {"integer overflow", "integer_overflow"},
        {"invalid conversion to integer", "invalid_conversion"},
        {"call stack exhausted", "stack_overflow"},
        {"indirect call type mismatch", "indirect_call"},
        {"undefined element", "indirect_call"},
        {"uninitialized element", "indirect_call"},
        {"out of bounds table access", "indirect_call"},
    };

    /** The proc_exit code (as WASI's u32) if {@code t} is a proc_exit, else null. */
    static Long exitCode(Throwable t) {
        for (Throwable e = t; e != null; e = e.getCause()) {
            if (e instanceof WasiExitException) {
                return Integer.toUnsignedLong(((WasiExitException) e).exitCode());
            }
        }
        return null;
    }

    /** Whether {@code t} is Chicory stopping because the thread was interrupted. */
    static boolean interrupted(Throwable t) {
        for (Throwable e = t; e != null; e = e.getCause()) {
            if (e instanceof ChicoryInterruptedException || e instanceof InterruptedException
                    || "Thread interrupted".equals(e.getMessage())) {
                return true;
            }
        }
        return false;
    }

    static String kind(Throwable t) {
        for (Throwable e = t; e != null; e = e.getCause()) {
            if (e instanceof HostTrap) {
                return "host_error";
            }
            if (e instanceof StackOverflowError) {
                return "stack_overflow";
            }
            if (e instanceof ArithmeticException) { // a JVM division the compiler emitted
                return "integer_divide_by_zero";
            }
            String msg = e.getMessage();
            if (msg != null) {
                for (String[] k : KINDS) {
                    if (msg.startsWith(k[0])) {
                        return k[1];
                    }
                }
            }
        }
        return "other";
    }

    /** The raw message: the exception's class and message, and its causes'. */
    static String message(Throwable t) {
        StringBuilder b = new StringBuilder();
        for (Throwable e = t; e != null; e = e.getCause()) {
            if (b.length() > 0) {
                b.append(": caused by ");
            }
            b.append(e.getClass().getSimpleName());
            if (e.getMessage() != null) {
                b.append(": ").append(e.getMessage());
            }
            if (e.getCause() == e) {
                break;
            }
        }
        return b.toString();
    }
}
