//! The guest's stdout and stderr: per step, the first `limits.output_bytes` bytes are kept,
//! every byte is counted and hashed, and the rest is dropped as it is written.
//!
//! Each stream is a write-only virtual file given to wasmer-wasix as fd 1 or 2. Writes never
//! block; reads see end of file.

use std::fmt;
use std::io::{self, SeekFrom};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use base64::Engine as _;
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};
use wasmer_wasix::virtual_fs::{FsError, VirtualFile};

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

    fn write(&self, data: &[u8]) {
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

impl fmt::Debug for Capture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Capture")
    }
}

impl AsyncWrite for Capture {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.write(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Capture {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncSeek for Capture {
    fn start_seek(self: Pin<&mut Self>, _position: SeekFrom) -> io::Result<()> {
        Ok(())
    }

    fn poll_complete(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        Poll::Ready(Ok(0))
    }
}

impl VirtualFile for Capture {
    fn last_accessed(&self) -> u64 {
        0
    }

    fn last_modified(&self) -> u64 {
        0
    }

    fn created_time(&self) -> u64 {
        0
    }

    fn size(&self) -> u64 {
        0
    }

    fn set_len(&mut self, _new_size: u64) -> Result<(), FsError> {
        Ok(())
    }

    fn unlink(&mut self) -> Result<(), FsError> {
        Ok(())
    }

    fn poll_read_ready(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(0))
    }

    fn poll_write_ready(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(8192))
    }
}
