/**
 * Starting and stopping the system's browser, headless, through npm's puppeteer-core (Firefox
 * over WebDriver BiDi, Chromium over CDP on a pipe), with the runner's page loaded.
 *
 * Network: the page may reach only the runner's loopback server. Every request the page or its
 * worker makes to anything else is aborted (`allowOnly`); the page's CSP allows only its own
 * origin; and the browser's own proxy points at a closed loopback port, so anything the browser
 * itself would fetch fails (loopback is never proxied).
 *
 * A throwaway profile directory per launch; a watchdog shell (detached) kills the browser's
 * process group and removes the profile if the runner dies without closing them (the harness
 * kills a runner that hangs with SIGKILL).
 */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';

const DEAD_PROXY = { host: '127.0.0.1', port: 9 }; // discard port: nothing listens

const FIREFOX_PREFS = {
  'network.proxy.type': 1,
  'network.proxy.http': DEAD_PROXY.host,
  'network.proxy.http_port': DEAD_PROXY.port,
  'network.proxy.ssl': DEAD_PROXY.host,
  'network.proxy.ssl_port': DEAD_PROXY.port,
  'network.proxy.socks_remote_dns': true,
  'network.dns.disablePrefetch': true,
  'network.prefetch-next': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'app.update.enabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'toolkit.telemetry.enabled': false,
};

function launchOptions(engine, executablePath, userDataDir) {
  const common = { executablePath, userDataDir, headless: true, handleSIGINT: false,
    handleSIGTERM: false, handleSIGHUP: false, protocolTimeout: 0 };
  if (engine === 'firefox') {
    return { ...common, browser: 'firefox', extraPrefsFirefox: FIREFOX_PREFS };
  }
  const args = [`--proxy-server=http://${DEAD_PROXY.host}:${DEAD_PROXY.port}`,
    '--disable-background-networking', '--disable-component-update', '--no-first-run',
    '--disable-features=Translate,MediaRouter,OptimizationHints'];
  // Chromium refuses to run as root with its sandbox; the guest is confined by Wasm itself.
  if (process.getuid?.() === 0) args.push('--no-sandbox');
  return { ...common, browser: 'chrome', pipe: true, args };
}

/**
 * Abort every request of the page and its workers that is not to `origin`. Chromium: the
 * DevTools Fetch domain on the page's own session, which also holds its dedicated workers'
 * requests (puppeteer's request interception leaves those paused for ever: puppeteer#4208);
 * Firefox: puppeteer's request interception (WebDriver BiDi network intercepts).
 */
async function allowOnly(page, engine, origin) {
  const allowed = (url) => url.startsWith(`${origin}/`) || url.startsWith('data:'); // no network
  const refused = (url) => console.error(`${engine}: blocked a request to ${url}`);
  if (engine === 'chromium') {
    const cdp = await page.createCDPSession();
    const ignore = () => {}; // the page may be gone by the time the answer arrives
    cdp.on('Fetch.requestPaused', ({ requestId, request }) => {
      if (allowed(request.url)) {
        cdp.send('Fetch.continueRequest', { requestId }).catch(ignore);
        return;
      }
      refused(request.url);
      cdp.send('Fetch.failRequest', { requestId, errorReason: 'BlockedByClient' }).catch(ignore);
    });
    await cdp.send('Fetch.enable', { patterns: [{ urlPattern: '*' }] });
    return;
  }
  await page.setRequestInterception(true);
  page.on('request', (request) => {
    if (request.isInterceptResolutionHandled()) return;
    const url = request.url();
    if (!allowed(url)) refused(url);
    // The page may be gone by the time the answer is sent: nothing to do then.
    (allowed(url) ? request.continue() : request.abort('blockedbyclient')).catch(() => {});
  });
}

/** Kill the browser's process group and remove its profile if this process dies first. */
function watchdog(browserPid, profile) {
  const script = 'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done; '
    + 'if ! kill -0 "$1" 2>/dev/null; then kill -9 -"$2" "$2" 2>/dev/null; rm -rf "$3"; fi';
  spawn('/bin/sh', ['-c', script, 'watchdog', String(process.pid), String(browserPid), profile],
    { detached: true, stdio: 'ignore' }).unref();
}

/** A running browser with the runner's page open at `url`. */
export class Browser {
  /** Launch `engine` ('firefox' or 'chromium') from `executable`; `modules` holds puppeteer-core. */
  static async launch({ engine, executable, modules, url, origin }) {
    const puppeteer = createRequire(path.join(modules, 'noop.js'))('puppeteer-core');
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), `wasmexport-${engine}-`));
    const self = new Browser(profile);
    try {
      self.browser = await puppeteer.launch(launchOptions(engine, executable, profile));
      const pid = self.browser.process()?.pid;
      if (pid) watchdog(pid, profile);
      self.browser.on('disconnected', () => self.die('the browser disconnected'));
      self.page = await self.browser.newPage();
      self.page.on('error', (e) => self.die(`the page crashed: ${e?.message ?? e}`));
      self.page.on('close', () => self.die('the page closed'));
      // The runner's stderr is kept for error reports: the page's console goes there.
      self.page.on('console', (m) => console.error(`${engine} page ${m.type()}: ${m.text()}`));
      self.page.on('pageerror', (e) => console.error(`${engine} page error: ${e?.message ?? e}`));
      await allowOnly(self.page, engine, origin);
      await self.page.goto(url);
      await self.page.waitForFunction(() => window.runnerReady === true, { timeout: 60_000 });
      self.version = await self.browser.version();
    } catch (e) {
      await self.close(true);
      throw e;
    }
    return self;
  }

  constructor(profile) {
    this.profile = profile;
    this.dead = null; // why the browser or page can no longer be used
    // Rejects once it is dead: an evaluation in a crashed page may never settle by itself.
    this.lost = new Promise((_, reject) => { this.fail = reject; });
    this.lost.catch(() => {});
  }

  /** Mark the browser unusable, saying why (the first reason stays). */
  die(why) {
    this.dead ??= why;
    this.fail(new Error(this.dead));
  }

  /**
   * window.runPlan(plan, moduleUrl, wasmExecUrl) in the page, the plan as its JSON text (the
   * last URL only for a js plan): the observation.
   */
  async runPlan(planText, moduleUrl, wasmExecUrl = null) {
    const text = this.page.evaluate((p, u, w) => window.runPlan(JSON.parse(p), u, w), planText,
      moduleUrl, wasmExecUrl);
    return JSON.parse(await Promise.race([text, this.lost]));
  }

  /** Close the browser (at once with `kill`, or when a polite close takes too long). */
  async close(kill = false) {
    this.die('closed');
    const proc = this.browser?.process();
    if (!kill && this.browser) {
      const closed = this.browser.close().then(() => true, () => false);
      const late = new Promise((resolve) => { setTimeout(() => resolve(false), 10_000).unref(); });
      kill = !(await Promise.race([closed, late]));
    }
    if (kill && proc?.pid) {
      try {
        process.kill(-proc.pid, 'SIGKILL');
      } catch {
        proc.kill('SIGKILL');
      }
    }
    fs.rmSync(this.profile, { recursive: true, force: true });
  }
}
