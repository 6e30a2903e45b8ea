/**
 * Entry point of the executor process that the host starts (remote.mjs). Its stdin brings
 * requests (JSON lines); its stdout is the frame stream back to the host (frames.mjs), written
 * only by the executor; anything printed goes to stderr.
 *
 * Where the executor (executor.mjs) runs is the engine's: on Node and Deno in a worker thread
 * here, as the runner always has (a Node worker's Wasm stack is 4 MiB, the main thread's under
 * 1 MiB), while this thread forwards requests and ends the process when stdin closes; on Bun
 * on this main thread (5 MiB), with a watchdog thread that ends the process if the host is gone
 * while the guest spins and nothing reads stdin (see platform.mjs).
 */

import process from 'node:process';
import readline from 'node:readline';
import { Worker } from 'node:worker_threads';
import { EXECUTOR_IN_WORKER } from './platform.mjs';

// The protocol stream is fd 1: nothing printed may reach it.
console.log = console.error;
console.info = console.error;
console.debug = console.error;

const die = () => process.kill(process.pid, 'SIGKILL'); // at once, even with a guest spinning

if (EXECUTOR_IN_WORKER) {
  const worker = new Worker(new URL('./executor.mjs', import.meta.url), { stdout: true });
  worker.stdout.pipe(process.stderr);
  worker.on('error', (e) => {
    console.error(`executor thread failed: ${e?.stack ?? e}`);
    die();
  });
  worker.on('exit', die);
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on('line', (line) => worker.postMessage(line));
  lines.on('close', die); // the host is gone or done
} else {
  const watchdog = new Worker(new URL('./watchdog.mjs', import.meta.url),
    { workerData: { host: process.ppid } });
  watchdog.unref();
  await new Promise((resolve) => { watchdog.once('online', resolve); });
  await import('./executor.mjs');
}
