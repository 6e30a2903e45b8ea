/**
 * Runs in a thread of an executor child process (Bun, see platform.mjs): if the host process
 * that started it is gone, kill the child. Its main thread may be stuck in a Wasm loop and
 * never see the IPC channel close, so it cannot notice on its own.
 */

import process from 'node:process';
import { workerData } from 'node:worker_threads';

setInterval(() => {
  try {
    process.kill(workerData.host, 0); // signal 0: only asks whether the process exists
  } catch {
    process.kill(process.pid, 'SIGKILL');
  }
}, 1000);
