package wasmexport.graalwasm;

import java.time.Duration;
import java.util.concurrent.TimeoutException;
import org.graalvm.polyglot.Context;

/**
 * A plan's clock, shared by the thread that runs the plan (the worker) and the one that watches
 * it (the protocol loop). At a step's timeout the watcher interrupts the context
 * (Context.interrupt: GraalWasm polls for it in loops and calls, and the context stays usable)
 * and wakes the runner's own waits (PollOneoff). A step that has still not ended at 1.45 times
 * its timeout (the protocol allows 1.5) is abandoned: the plan is answered without it and the
 * worker is left to finish on its own. Only the watcher interrupts, and a step does not start
 * while an interrupt is being delivered, so an interrupt never reaches the step after the one
 * it was meant for.
 */
final class Watch {
    /**
     * A step still running at this multiple of its timeout is abandoned: far enough under the
     * protocol's 1.5 that a JIT thread scheduled late on a loaded machine still answers in time
     * (at 1.45 one step took 1533 ms of a 1000 ms timeout under load).
     */
    private static final double ABANDON_AT = 1.25;
    /** Before the first step (context, module, instance) and between steps. */
    static final long LOAD_LIMIT_MS = 55_000;

    private Context context;
    private int step = -1;
    private long stepStart;
    private long softDeadline;
    private long hardDeadline = Long.MAX_VALUE;
    private boolean fired;
    private boolean firing;
    private boolean done;
    private boolean abandoned;

    synchronized void attach(Context c) {
        context = c;
    }

    /** Worker: the load phase starts; it gets LOAD_LIMIT_MS before the plan is abandoned. */
    synchronized void loading() {
        step = -1;
        hardDeadline = System.nanoTime() + LOAD_LIMIT_MS * 1_000_000L;
        notifyAll();
    }

    /** Worker: step `index` starts now with this timeout. */
    synchronized void begin(int index, long timeoutMs) {
        while (firing) {
            waitQuietly(10);
        }
        Thread.interrupted(); // a late interrupt of the previous step's ends here
        long now = System.nanoTime();
        stepStart = now;
        step = index;
        fired = false;
        softDeadline = now + timeoutMs * 1_000_000L;
        hardDeadline = now + (long) (timeoutMs * ABANDON_AT * 1_000_000L);
        notifyAll();
    }

    /** Worker: the current step is over; waits until no interrupt is in flight. */
    synchronized void end() {
        while (firing) {
            waitQuietly(10);
        }
        step = -2;
        hardDeadline = System.nanoTime() + LOAD_LIMIT_MS * 1_000_000L;
        notifyAll();
    }

    /** Whether the watcher has timed out the current step. */
    synchronized boolean timedOut() {
        return fired;
    }

    /** Milliseconds since the current step began. */
    synchronized double elapsedMs() {
        return (System.nanoTime() - stepStart) / 1e6;
    }

    synchronized boolean abandoned() {
        return abandoned;
    }

    /** Worker: the plan is finished (or failed). */
    synchronized void finish() {
        done = true;
        notifyAll();
    }

    /**
     * Worker, inside a runner-supplied WASI call: waits until `deadlineNanos` (System.nanoTime)
     * unless the step times out first, which throws Traps.StepTimeout.
     */
    synchronized void sleepUntil(long deadlineNanos) {
        while (true) {
            if (fired) {
                throw new Traps.StepTimeout("the step timed out while the guest waited in poll_oneoff");
            }
            long left = deadlineNanos - System.nanoTime();
            if (left <= 0) {
                return;
            }
            try {
                wait(Math.max(1, left / 1_000_000L), 0);
            } catch (InterruptedException e) {
                // the watcher's interrupt: `fired` says whether it ends the wait
            }
        }
    }

    /**
     * Waits on this monitor. An InterruptedException here is Truffle's Context.interrupt reaching
     * the worker just after it left guest code: it is swallowed, so it cannot end a later wait.
     */
    private void waitQuietly(long ms) {
        try {
            wait(ms);
        } catch (InterruptedException e) {
            // the interrupt was for the step that is ending
        }
    }

    /**
     * Watcher: blocks until the plan is done (true) or abandoned (false), interrupting a step
     * at its timeout. Returns the index of the abandoned step through `abandonedStep[0]`.
     */
    boolean supervise(int[] abandonedStep) {
        while (true) {
            int target;
            long hard;
            synchronized (this) {
                while (true) {
                    if (done) {
                        return true;
                    }
                    long now = System.nanoTime();
                    if (now >= hardDeadline) {
                        abandoned = true;
                        abandonedStep[0] = step;
                        notifyAll();
                        return false;
                    }
                    if (step >= 0 && !fired && now >= softDeadline) {
                        fired = true;
                        firing = true;
                        target = step;
                        hard = hardDeadline;
                        notifyAll();
                        break;
                    }
                    long until = step >= 0 && !fired ? Math.min(softDeadline, hardDeadline) : hardDeadline;
                    waitQuietly(Math.max(1, Math.min(50, (until - now) / 1_000_000L)));
                }
            }
            interrupt(target, hard);
        }
    }

    private void interrupt(int target, long hard) {
        Context c;
        synchronized (this) {
            c = context;
        }
        try {
            if (c != null) {
                long wait = Math.max(1, (hard - System.nanoTime()) / 1_000_000L);
                c.interrupt(Duration.ofMillis(wait));
            }
        } catch (TimeoutException | RuntimeException e) {
            // not stopped in time (the hard deadline follows) or the context is already closed
        } finally {
            synchronized (this) {
                firing = false;
                notifyAll();
            }
        }
    }
}
