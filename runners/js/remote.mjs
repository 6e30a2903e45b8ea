/**
 * The host's handle on the executor process (child.mjs): requests go to its stdin as JSON lines;
 * replies and the guest's output come back as frames on its stdout (frames.mjs); its stderr is
 * ours. One request is in flight at a time.
 *
 * The instance lives in that process, not in the host, so whatever the guest does to it (a
 * timeout we answer with SIGKILL, a crash inside the engine's own WASI) costs only the plan
 * that was running: the host sees the process end, answers for it and starts another.
 */

import { spawn } from 'node:child_process';
import process from 'node:process';
import { FrameReader } from './frames.mjs';
import { executorCommand, executorEnv } from './platform.mjs';

export class Executor {
  constructor() {
    const [command, ...args] = executorCommand(new URL('./child.mjs', import.meta.url));
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'], env: executorEnv() });
    this.onOutput = () => {}; // (fd, bytes): set per plan by the host
    this.pending = null;
    this.death = null; // why the process ended, once it has
    this.child.stdin.on('error', () => {}); // a dead child's stdin: its exit is reported instead
    const exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => resolve(signal ?? `exit code ${code}`));
      this.child.on('error', (e) => resolve(`could not start ${command}: ${e.message}`));
    });
    const reader = new FrameReader({
      onOutput: (fd, bytes) => this.onOutput(fd, bytes),
      onMessage: (msg) => this.settle({ reply: msg }),
    });
    let corrupt = false;
    this.child.stdout.on('data', (chunk) => {
      if (corrupt) return; // read on to the end, ignored
      try {
        reader.push(chunk);
      } catch (e) { // stray bytes on the stream (or a reply that is not JSON): nothing after counts
        corrupt = true;
        this.kill(e.message);
      }
    });
    // Done only when both the stream is drained (every frame read) and the process is gone.
    const drained = new Promise((resolve) => { this.child.stdout.on('close', resolve); });
    this.gone = Promise.all([drained, exited]).then(([, why]) => {
      this.death ??= why;
      this.settle({ died: this.death });
    });
    this.ready = this.wait(); // {op: 'ready'}, or {died}
  }

  settle(result) {
    const p = this.pending;
    this.pending = null;
    if (p) {
      clearTimeout(p.timer);
      p.resolve(result);
    }
  }

  /** The next reply: {reply}, {timeout: true} once `timeoutMs` passes, or {died: why}. */
  wait(timeoutMs) {
    return new Promise((resolve) => {
      if (this.death) {
        resolve({ died: this.death });
        return;
      }
      this.pending = { resolve };
      if (timeoutMs !== undefined) {
        this.pending.timer = setTimeout(() => this.settle({ timeout: true }), timeoutMs);
      }
    });
  }

  /** Send `msg` and wait for its reply as in `wait`. */
  request(msg, timeoutMs) {
    const answer = this.wait(timeoutMs);
    if (!this.death) this.child.stdin.write(`${JSON.stringify(msg)}\n`);
    return answer;
  }

  /** Send `msg` expecting no reply. */
  tell(msg) {
    if (!this.death) this.child.stdin.write(`${JSON.stringify(msg)}\n`);
  }

  /** Stop the process now, even in the middle of a Wasm call. Await `gone` for its last output. */
  kill(why = 'killed by the host') {
    this.death ??= why;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

let live = null;

/** The executor process for the next plan: the current one, or a fresh one. */
export function executor() {
  if (live?.death) live = null;
  live ??= new Executor();
  return live;
}

/** Kill the current executor process, if any; the next plan gets a fresh one. */
export function discard(why) {
  live?.kill(why);
  live = null;
}

// Never leave an executor process behind when the host exits (it would end by itself once its
// stdin closes, but a busy one may take a moment to notice).
process.on('exit', () => live?.kill());
