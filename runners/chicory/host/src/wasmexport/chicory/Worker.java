package wasmexport.chicory;

import java.util.concurrent.Callable;

/**
 * Runs guest code on a thread of its own, so a step can be stopped at its timeout. Chicory's
 * interpreter and the code its compiler generates both check {@code Thread.isInterrupted()} at
 * every call and backward branch, and its WASI poll_oneoff sleeps interruptibly, so an
 * interrupt ends a hanging guest with a ChicoryInterruptedException (or a ChicoryException
 * "Thread interrupted" from WASI). A thread that still runs {@link #grace} after the interrupt
 * is abandoned (it is a daemon, and its instance is never used again).
 */
final class Worker {
    /** The wasm call stack's home: Chicory's calls recurse on the Java stack. */
    static final long STACK_BYTES = 64L << 20;

    /** How a task ended: its value, its exception, or still running when given up. */
    static final class Outcome {
        Object value;
        Throwable error;
        boolean deadline; // the timeout passed and the thread was interrupted
        boolean abandoned; // ... and it did not stop within the grace period
    }

    private Worker() {}

    /** The time an interrupted thread has to stop: a step must end within 1.5 x its timeout. */
    static long grace(long timeoutMs) {
        return Math.max(20, timeoutMs * 3 / 10);
    }

    /**
     * Runs {@code task}, interrupting it after {@code timeoutMs}; {@code onDeadline} runs just
     * before the interrupt (so the task can tell a timeout from other failures).
     */
    static Outcome run(Callable<?> task, long timeoutMs, Runnable onDeadline) {
        Outcome out = new Outcome();
        Thread t = new Thread(null, () -> {
            try {
                out.value = task.call();
            } catch (Throwable e) { // a crash inside the engine costs one step, not the runner
                out.error = e;
            }
        }, "chicory-guest", STACK_BYTES);
        t.setDaemon(true);
        t.start();
        try {
            t.join(Math.max(1, timeoutMs));
            if (t.isAlive()) {
                out.deadline = true;
                onDeadline.run();
                t.interrupt();
                t.join(grace(timeoutMs));
                out.abandoned = t.isAlive();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            out.abandoned = true;
        }
        return out;
    }
}
