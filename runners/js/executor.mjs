/**
 * The executor: answers the host's requests (requests.mjs) in the executor process
 * (child.mjs), so the host can stop it when a step times out.
 *
 * Requests in (JSON lines: stdin, or forwarded by child.mjs to this thread): {op: 'load', plan},
 * {op: 'step', index}, {op: 'unload'}. Out, as frames on fd 1 (frames.mjs): {op: 'ready'} once,
 * then one reply per load or step: {op: 'loaded', load, exports, imports}, {op: 'stepped',
 * step}, or {op: 'failed', error} (the executor's own bug); and, as they happen, the guest's
 * writes to fd 1 and fd 2. Compiled modules stay here between plans (modcache.mjs), for as long
 * as this process lives: the host replaces it only after a timeout or a crash.
 */

import process from 'node:process';
import readline from 'node:readline';
import { isMainThread, parentPort } from 'node:worker_threads';
import { writeFrame, writeMessage } from './frames.mjs';
import { handler } from './requests.mjs';

// fd 1 carries the frames: nothing here may print to it, whatever the engine does with a
// worker's console.
console.log = console.error;
console.info = console.error;
console.debug = console.error;

const answer = handler(writeFrame);

const failed = (e) => writeMessage({ op: 'failed', error: String(e?.stack ?? e) });

function handle(line) {
  try {
    const reply = answer(JSON.parse(line));
    if (reply instanceof Promise) reply.then(writeMessage, failed); // a js plan's run step
    else if (reply) writeMessage(reply);
  } catch (e) {
    failed(e);
  }
}

if (isMainThread) {
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on('line', handle);
  lines.on('close', () => process.exit(0));
} else {
  parentPort.on('message', handle);
}
writeMessage({ op: 'ready' });
