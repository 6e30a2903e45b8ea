package wasmexport.chicory;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Map;

/**
 * What the guest writes to one fd during a step: the first {@code limit} bytes are kept, every
 * byte is counted and hashed, the rest is dropped as it arrives, so a guest that floods its
 * output costs the runner no memory.
 */
final class Capture extends OutputStream {
    private final int limit;
    private ByteArrayOutputStream kept = new ByteArrayOutputStream();
    private long total;
    private final MessageDigest hash;

    Capture(long limit) {
        this.limit = (int) Math.max(0, Math.min(limit, 1L << 30));
        try {
            hash = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public synchronized void write(int b) {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) {
        int room = limit - kept.size();
        if (room > 0) {
            kept.write(b, off, Math.min(room, len));
        }
        total += len;
        hash.update(b, off, len);
    }

    /** The step's share (the four protocol fields for {@code prefix}), then a fresh start. */
    synchronized void drainInto(Map<String, Object> step, String prefix) {
        step.put(prefix + "_b64", Base64.getEncoder().encodeToString(kept.toByteArray()));
        step.put(prefix + "_len", total);
        step.put(prefix + "_sha256", HexFormat.of().formatHex(hash.digest()));
        kept = new ByteArrayOutputStream(); // a large step's buffer is not held for the plan
        total = 0;
    }
}
