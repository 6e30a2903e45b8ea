/**
 * The browser runner (runners/PROTOCOL.md): a Node.js process that speaks the protocol on
 * stdin/stdout and runs each plan in a headless browser's page (browser.mjs, page/): the page
 * compiles the module, a dedicated worker holds the instance and runs the steps, the page
 * times them and builds the observation. It never judges.
 *
 * Usage: node host.mjs --engine firefox|chromium --executable PATH --modules NODE_MODULES
 *
 * - The browser starts before the hello. A plan whose page crashes, whose browser goes away,
 *   or whose page stops answering (no observation within a guard well inside the harness's
 *   deadline) costs that plan an `error` observation; the browser is restarted for the next.
 * - What a page can and cannot do decides the rest (page/page.mjs, page/worker.mjs,
 *   page/wasi.mjs): a timed-out step's worker is terminated, so the plan's later steps are
 *   `error`; WASI is the runner's own, in the worker; memory is capped through the module's
 *   declared maximum (runners/js/wasm.mjs); values move as bits through Wasm trampolines.
 * - Compiled modules are cached in the page by sha256, within WASMEXPORT_MODULE_CACHE_MB
 *   (default 256), and are lost when the browser restarts.
 * - js plans (Go's js/wasm target): this process reads the plan's wasm_exec.js and checks its
 *   SHA-256, the server offers those bytes to the page while the plan runs, and a worker of
 *   the plan's own imports them (page/goworker.mjs, which says what the guest can reach).
 */

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import process from 'node:process';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { Browser } from './browser.mjs';
import { Server } from './server.mjs';

const PROTOCOL = 3;
const CAPABILITIES = ['host_imports', 'command_mode', 'exact_f32', 'export_types', 'import_types',
  'memory_types', 'memory_limit', 'timeout', 'go_js'];
const ENGINES = { firefox: 'Firefox, SpiderMonkey', chromium: 'Chromium, V8' };
// The harness allows 60 s plus 1.5 x the step timeouts; answer (and restart) well before.
const GUARD_BASE_MS = 40_000;
const LAUNCH_TIMEOUT_MS = 90_000;

const { values: opts } = parseArgs({ options: {
  engine: { type: 'string' }, executable: { type: 'string' }, modules: { type: 'string' } } });
if (!(opts.engine in ENGINES) || !opts.executable || !opts.modules) {
  console.error('usage: host.mjs --engine firefox|chromium --executable PATH --modules DIR');
  process.exit(2);
}

function budgetBytes() {
  const text = process.env.WASMEXPORT_MODULE_CACHE_MB?.trim();
  const mb = text ? Number(text) : 256;
  if (!Number.isFinite(mb) || mb < 0) {
    console.error(`WASMEXPORT_MODULE_CACHE_MB must be a number of MiB, not '${text}'`);
    process.exit(2);
  }
  return Math.floor(mb * 1024 * 1024);
}

function within(promise, ms, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const send = (doc) => process.stdout.write(`${JSON.stringify(doc)}\n`);
// puppeteer can reject a promise nobody awaits once a page or browser is gone: note it, go on.
process.on('unhandledRejection', (e) => console.error(`unhandled: ${e?.stack ?? e}`));
const server = new Server();
const origin = await server.start();
const url = `${origin}/page/?engine=${opts.engine}&budget=${budgetBytes()}`;
let browser = null;

async function ready() {
  if (browser?.dead) {
    await browser.close(true);
    browser = null;
  }
  browser ??= await within(Browser.launch({ engine: opts.engine, executable: opts.executable,
    modules: opts.modules, url, origin }), LAUNCH_TIMEOUT_MS, 'starting the browser');
  return browser;
}

/** A js plan's wasm_exec.js, read and checked against the plan's SHA-256. */
function wasmExec({ wasm_exec: file, wasm_exec_sha256: sha256 }) {
  const bytes = fs.readFileSync(file);
  const got = createHash('sha256').update(bytes).digest('hex');
  if (got !== sha256) throw new Error(`${file} has SHA-256 ${got}, not the plan's ${sha256}`);
  return bytes;
}

async function run(plan, line) {
  if (!['wasip1', 'js'].includes(plan.target ?? 'wasip1')) {
    throw new Error(`unknown target '${plan.target}': this runner runs wasip1 and js plans`);
  }
  const script = plan.target === 'js' ? wasmExec(plan.go_js) : null;
  const b = await ready();
  const moduleUrl = server.offer(plan.module.path);
  const scriptUrl = script && server.offer(plan.go_js.wasm_exec, script);
  const stepsMs = plan.steps.reduce((n, s) => n + s.timeout_ms, 0);
  try {
    return await within(b.runPlan(line, moduleUrl, scriptUrl), GUARD_BASE_MS + 1.5 * stepsMs,
      'the page');
  } catch (e) {
    b.die(`the plan failed: ${e.message}`);
    const why = b.dead;
    await b.close(true);
    browser = null;
    return { type: 'observation', protocol: PROTOCOL, id: plan.id,
      error: `the browser failed while running the plan (${why}); it is restarted for the next` };
  } finally {
    server.revoke(moduleUrl);
    if (scriptUrl) server.revoke(scriptUrl);
  }
}

async function serve() {
  const b = await ready();
  const version = b.version.replace(/^[A-Za-z]+\//, '');
  send({ type: 'hello', protocol: PROTOCOL, engine: opts.engine,
    engine_version: `${version} (${ENGINES[opts.engine]}, headless)`, capabilities: CAPABILITIES });
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let plan = null;
    let obs;
    try {
      plan = JSON.parse(line);
      obs = await run(plan, line);
    } catch (e) { // the runner's own failure (or a browser that will not start)
      obs = { type: 'observation', protocol: PROTOCOL, id: plan?.id ?? null,
        error: String(e?.stack ?? e) };
    }
    send(obs);
  }
  await browser?.close();
  server.close();
}

try {
  await serve();
} catch (e) {
  console.error(`the ${opts.engine} runner failed: ${e?.stack ?? e}`);
  await browser?.close(true);
  process.exitCode = 1;
}
process.exit();
