package wasmexport.graalwasm;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Map;

/**
 * One guest stream (the context's out or err, which GraalWasm's WASI fd_write on fds 1 and 2
 * writes to): the first `limit` bytes of a step are kept, every byte is counted and hashed, the
 * rest is dropped as it arrives. `drain` ends the step's share and starts the next one empty.
 */
final class Capture extends OutputStream {
    private final int limit;
    private ByteArrayOutputStream kept = new ByteArrayOutputStream();
    private long total;
    private MessageDigest hash = sha256();

    Capture(long limit) {
        this.limit = (int) Math.max(0, Math.min(limit, 1L << 30));
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public synchronized void write(int x) {
        write(new byte[] {(byte) x}, 0, 1);
    }

    @Override
    public synchronized void write(byte[] data, int off, int len) {
        int room = limit - kept.size();
        if (room > 0) {
            kept.write(data, off, Math.min(room, len));
        }
        total += len;
        hash.update(data, off, len);
    }

    /** Puts this step's {prefix}_b64, _len and _sha256 into `step` and empties the stream. */
    synchronized void drain(String prefix, Map<String, Object> step) {
        step.put(prefix + "_b64", Base64.getEncoder().encodeToString(kept.toByteArray()));
        step.put(prefix + "_len", total);
        step.put(prefix + "_sha256", HexFormat.of().formatHex(hash.digest()));
        kept = new ByteArrayOutputStream();
        total = 0;
        hash = sha256();
    }
}
