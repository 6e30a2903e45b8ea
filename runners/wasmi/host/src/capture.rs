//! The guest's stdout and stderr: per step, the first `limits.output_bytes` bytes are kept,
//! every byte is counted and hashed, and the rest is dropped as it is written.
//!
//! Each stream is a `std::io::Write` that wasi-common's `WritePipe` serves as fd 1 or 2: writes
//! never block and take every buffer of a vectored write.

use std::io::{self, IoSlice, Write};
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};

use crate::values::hex;

/// One captured stream; clones share it (one is the guest's fd, one the runner's handle).
#[derive(Clone)]
pub struct Capture(Arc<Mutex<Sink>>);

struct Sink {
    limit: usize,
    kept: Vec<u8>,
    len: u64,
    hash: Sha256,
}

impl Capture {
    pub fn new(limit: u64) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        Capture(Arc::new(Mutex::new(Sink { limit, kept: Vec::new(), len: 0, hash: Sha256::new() })))
    }

    fn sink(&self) -> MutexGuard<'_, Sink> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take(&self, data: &[u8]) {
        let mut sink = self.sink();
        let room = sink.limit.saturating_sub(sink.kept.len()).min(data.len());
        sink.kept.extend_from_slice(&data[..room]);
        sink.len += data.len() as u64;
        sink.hash.update(data);
    }

    /// Put the step's `<name>_b64`, `<name>_len` and `<name>_sha256` into `out` and start the
    /// next step empty.
    pub fn report(&self, out: &mut Json, name: &str) {
        let mut sink = self.sink();
        let kept = std::mem::take(&mut sink.kept);
        let hash = std::mem::take(&mut sink.hash).finalize();
        out[format!("{name}_b64")] = json!(base64::engine::general_purpose::STANDARD.encode(kept));
        out[format!("{name}_len")] = json!(std::mem::take(&mut sink.len));
        out[format!("{name}_sha256")] = json!(hex(&hash));
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.take(buf);
        Ok(buf.len())
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        bufs.iter().for_each(|b| self.take(b));
        Ok(bufs.iter().map(|b| b.len()).sum())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
