/**
 * Runs in a thread of the executor process on Bun (see child.mjs): if the host process that
 * started it is gone, kill this process. Its main thread may be stuck in a Wasm loop and never
 * see its stdin close, so it cannot notice on its own.
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
