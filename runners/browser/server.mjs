/**
 * The loopback HTTP server the browser's page is loaded from (127.0.0.1, a port the system
 * picks): the page's files (page/), the two platform-free modules it shares with the Node/Deno/
 * Bun runner (runners/js/values.mjs and wasm.mjs), and each plan's module (and a js plan's
 * wasm_exec.js, as checked by the runner) under a random token that is valid only while its plan
 * runs. Nothing else is served.
 *
 * Every response isolates the page (COOP same-origin + COEP require-corp: SharedArrayBuffer and
 * Atomics.wait in the worker need it) and forbids any other origin (CSP `default-src 'self'`).
 */

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
// The page itself: its module does everything (page/page.mjs).
const INDEX = '<!doctype html>\n<meta charset="utf-8">\n<title>wasmexport conformance runner</title>\n'
  + '<link rel="icon" href="data:,">\n<script type="module" src="page.mjs"></script>\n';
const FILES = new Map([
  ...fs.readdirSync(path.join(HERE, 'page')).filter((f) => f.endsWith('.mjs'))
    .map((f) => [`/page/${f}`, path.join(HERE, 'page', f)]),
  ...['values.mjs', 'wasm.mjs'].map((f) => [`/js/${f}`, path.join(HERE, '..', 'js', f)]),
]);
const HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
  'content-security-policy': "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; "
    + "worker-src 'self'; connect-src 'self'; img-src data:",
  'cache-control': 'no-store',
};

export class Server {
  constructor() {
    this.modules = new Map(); // token -> module path, while its plan runs
    this.http = http.createServer((req, res) => this.answer(req, res));
  }

  /** Listen on 127.0.0.1; resolves to the page's origin. */
  async start() {
    await new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(0, '127.0.0.1', resolve);
    });
    this.origin = `http://127.0.0.1:${this.http.address().port}`;
    return this.origin;
  }

  /**
   * A URL path serving the file at `file` as a Wasm module until `revoke` is called with it;
   * or, given `script` (bytes), those bytes as JavaScript (a js plan's wasm_exec.js).
   */
  offer(file, script = null) {
    const url = `/module/${randomBytes(16).toString('hex')}`;
    this.modules.set(url, { file, script });
    return url;
  }

  revoke(url) {
    this.modules.delete(url);
  }

  answer(req, res) {
    const url = new URL(req.url, 'http://127.0.0.1');
    const send = (status, type, body) => {
      res.writeHead(status, { ...HEADERS, 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET') {
      send(405, 'text/plain', 'only GET');
      return;
    }
    const module = this.modules.get(url.pathname);
    if (module?.script) {
      send(200, 'text/javascript; charset=utf-8', module.script);
      return;
    }
    if (module !== undefined) {
      fs.readFile(module.file, (err, data) => {
        if (err) send(404, 'text/plain', err.message); // the page reports it as the load failure
        else send(200, 'application/wasm', data);
      });
      return;
    }
    if (url.pathname === '/page/') {
      send(200, 'text/html; charset=utf-8', INDEX);
      return;
    }
    const file = FILES.get(url.pathname);
    if (file === undefined) {
      send(404, 'text/plain', 'not found');
      return;
    }
    fs.readFile(file, (err, data) => {
      if (err) send(500, 'text/plain', err.message);
      else send(200, 'text/javascript; charset=utf-8', data);
    });
  }

  close() {
    this.http.closeAllConnections?.();
    this.http.close();
  }
}
