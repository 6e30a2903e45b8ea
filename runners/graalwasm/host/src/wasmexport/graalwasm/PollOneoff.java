package wasmexport.graalwasm;

import java.nio.ByteOrder;
import java.util.function.IntSupplier;
import java.util.function.Supplier;
import org.graalvm.polyglot.Value;
import org.graalvm.polyglot.proxy.ProxyExecutable;

/**
 * WASI preview1 poll_oneoff, supplied by the runner: GraalWasm 25.0.2's wasi_snapshot_preview1
 * defines it as WasiUnsupportedFunctionNode, which returns ENOSYS (52) without waiting, so a Go
 * program's time.Sleep or timer fails ("fatal error: ...poll_oneoff") and no guest ever blocks.
 * Clock subscriptions wait for real, ended early by the step's timeout (Watch.sleepUntil);
 * fd_read on stdin (the plan's bytes, in memory) and fd_write on stdout/stderr are always
 * ready; other descriptors get EBADF events. Everything else stays GraalWasm's own WASI.
 * WASMEXPORT_GRAALWASM_NATIVE_POLL=1 leaves GraalWasm's own poll_oneoff in place, to observe it.
 */
final class PollOneoff implements ProxyExecutable {
    static final String MODULE = "wasmexport_runner";
    static final String FUNCTION = "wasi_snapshot_preview1.poll_oneoff";
    static final boolean SUPPLIED = !"1".equals(System.getenv("WASMEXPORT_GRAALWASM_NATIVE_POLL"));

    private static final int SUBSCRIPTION = 48;
    private static final int EVENT = 32;
    private static final int EBADF = 8;
    private static final int EFAULT = 21;
    private static final int EINVAL = 28;
    private static final int ENOTSUP = 58;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    // A clock deadline never sleeps past this (nanoseconds): the step's timeout ends it sooner.
    private static final long FOREVER = Long.MAX_VALUE / 4;

    private final Supplier<Value> memory;
    private final Watch watch;
    private final IntSupplier stdinLeft;

    PollOneoff(Supplier<Value> memory, Watch watch, IntSupplier stdinLeft) {
        this.memory = memory;
        this.watch = watch;
        this.stdinLeft = stdinLeft;
    }

    @Override
    public Object execute(Value... args) {
        long in = Integer.toUnsignedLong(args[0].asInt());
        long out = Integer.toUnsignedLong(args[1].asInt());
        int n = args[2].asInt();
        long neventsPtr = Integer.toUnsignedLong(args[3].asInt());
        Value mem = memory.get();
        if (n == 0) {
            return EINVAL;
        }
        long size = mem == null ? 0 : mem.getBufferSize();
        if (n < 0 || in + (long) n * SUBSCRIPTION > size || out + (long) n * EVENT > size || neventsPtr + 4 > size) {
            return EFAULT;
        }
        long[] deadlines = new long[n]; // System.nanoTime() deadline per clock subscription, else -1
        boolean ready = false;
        long earliest = FOREVER;
        long now = System.nanoTime();
        for (int i = 0; i < n; i++) {
            long s = in + (long) i * SUBSCRIPTION;
            int tag = mem.readBufferByte(s + 8) & 0xff;
            deadlines[i] = -1;
            if (tag == 0) {
                int clock = mem.readBufferInt(LE, s + 16);
                long timeout = mem.readBufferLong(LE, s + 24);
                boolean abs = (mem.readBufferShort(LE, s + 40) & 1) != 0;
                if (clock != 0 && clock != 1) {
                    ready = true; // answered with an error event
                    continue;
                }
                long rel = !abs ? timeout : clock == 1 ? timeout - now : timeout - wallNanos();
                long d = rel <= 0 ? now : now + Math.min(rel, FOREVER);
                deadlines[i] = d;
                earliest = Math.min(earliest, d);
            } else {
                ready = true; // fd subscriptions are answered at once
            }
        }
        if (!ready && earliest > now) {
            watch.sleepUntil(earliest);
        }
        now = System.nanoTime();
        int events = 0;
        for (int i = 0; i < n; i++) {
            long s = in + (long) i * SUBSCRIPTION;
            int tag = mem.readBufferByte(s + 8) & 0xff;
            int error = 0;
            long nbytes = 0;
            if (tag == 0) {
                int clock = mem.readBufferInt(LE, s + 16);
                if (clock == 0 || clock == 1) {
                    if (deadlines[i] > now) {
                        continue;
                    }
                } else {
                    error = clock == 2 || clock == 3 ? ENOTSUP : EINVAL;
                }
            } else if (tag == 1 || tag == 2) {
                int fd = mem.readBufferInt(LE, s + 16);
                if (tag == 1 && fd == 0) {
                    nbytes = stdinLeft.getAsInt();
                } else if (!(tag == 2 && (fd == 1 || fd == 2))) {
                    error = EBADF;
                }
            } else {
                return EINVAL;
            }
            long e = out + (long) events * EVENT;
            mem.writeBufferLong(LE, e, mem.readBufferLong(LE, s));
            mem.writeBufferShort(LE, e + 8, (short) error);
            mem.writeBufferByte(e + 10, (byte) tag);
            mem.writeBufferByte(e + 11, (byte) 0);
            mem.writeBufferInt(LE, e + 12, 0);
            mem.writeBufferLong(LE, e + 16, nbytes);
            mem.writeBufferLong(LE, e + 24, 0);
            events++;
        }
        mem.writeBufferInt(LE, neventsPtr, events);
        return 0;
    }

    private static long wallNanos() {
        java.time.Instant t = java.time.Instant.now();
        return t.getEpochSecond() * 1_000_000_000L + t.getNano();
    }
}
