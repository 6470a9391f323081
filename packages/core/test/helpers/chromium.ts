/**
 * Opens a local HTML file in Debian's headless Chromium and reports what a reader would get:
 * the rendered DOM, every console error, any non-local request, and a screenshot.
 *
 * Chromium's `--enable-logging` prints every console message at INFO level, so it cannot
 * tell console.error from console.log; instead we drive the browser over the DevTools
 * protocol on a pipe (`--remote-debugging-pipe`: NUL-separated JSON on fds 3 and 4), which
 * reports each message's level and needs no extra packages or ports.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';

export const CHROMIUM = process.env.TAYLORLENS_CHROMIUM ?? '/usr/bin/chromium';

export interface ChromiumOptions {
  /** Browser binary; default $TAYLORLENS_CHROMIUM or Debian's /usr/bin/chromium. */
  chromiumPath?: string;
  /** Viewport in CSS px; default 1200 × 1600. */
  width?: number;
  height?: number;
  /** Capture the whole page rather than the viewport; default true. */
  fullPage?: boolean;
  /** Where to write the PNG; default screenshot.png in a fresh temp folder (the caller removes it). */
  screenshotPath?: string;
  /** Give up after this many ms; default 30 s. */
  timeoutMs?: number;
}

export interface ChromiumResult {
  /** `document.documentElement.outerHTML` after load. */
  dom: string;
  /** console.error/assert calls, uncaught exceptions, and browser-logged errors (CSP, failed loads). */
  consoleErrors: string[];
  /** Every console message, `level: text`, for diagnostics. */
  consoleMessages: string[];
  /** Requests for anything other than file: and data: URLs — a self-contained page makes none. */
  networkRequests: string[];
  screenshotPath: string;
}

export class ChromiumMissingError extends Error {
  constructor(path: string) {
    super(`Chromium not found at ${path}. Run .ci/install-chromium.sh (as root) to install Debian's chromium.`);
  }
}

export const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage', // containers often have a tiny /dev/shm
  '--hide-scrollbars',
  '--remote-debugging-pipe',
];

type Json = Record<string, any>;

export async function renderInChromium(htmlPath: string, opts: ChromiumOptions = {}): Promise<ChromiumResult> {
  const chromium = opts.chromiumPath ?? CHROMIUM;
  if (!existsSync(chromium)) throw new ChromiumMissingError(chromium);
  const width = opts.width ?? 1200;
  const height = opts.height ?? 1600;
  const profile = await mkdtemp(join(tmpdir(), 'taylorlens-chromium-'));
  const screenshotPath = opts.screenshotPath ?? join(await mkdtemp(join(tmpdir(), 'taylorlens-shot-')), 'screenshot.png');
  const proc = spawn(chromium, [...FLAGS, `--user-data-dir=${profile}`, `--window-size=${width},${height}`, 'about:blank'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const cdp = new Cdp(proc.stdio[3] as Writable, proc.stdio[4] as Readable);
  const exited = new Promise<never>((_, reject) => {
    proc.once('error', (err) => reject(new Error(`could not start ${chromium}: ${err.message}`)));
    proc.once('exit', (code) => reject(new Error(`chromium exited early (code ${code}):\n${stderr}`)));
  });
  exited.catch(() => {}); // only observed through the race below
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`chromium timed out on ${htmlPath}\n${stderr}`)), opts.timeoutMs ?? 30_000);
  });

  const consoleErrors: string[] = [];
  const consoleMessages: string[] = [];
  const networkRequests: string[] = [];
  const run = async (): Promise<ChromiumResult> => {
    const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
    const send = (method: string, params: Json = {}) => cdp.send(method, params, sessionId);

    cdp.on(sessionId, 'Runtime.consoleAPICalled', (p) => {
      const text = (p.args as Json[]).map((a) => a.value ?? a.description ?? a.type).join(' ');
      consoleMessages.push(`${p.type}: ${text}`);
      if (p.type === 'error' || p.type === 'assert') consoleErrors.push(text);
    });
    cdp.on(sessionId, 'Runtime.exceptionThrown', (p) => {
      const d = p.exceptionDetails as Json;
      const text = d.exception?.description ?? d.text;
      consoleMessages.push(`exception: ${text}`);
      consoleErrors.push(text);
    });
    cdp.on(sessionId, 'Log.entryAdded', (p) => {
      const e = p.entry as Json;
      const text = `${e.text}${e.url ? ` (${e.url})` : ''}`;
      consoleMessages.push(`${e.level}: ${text}`);
      if (e.level === 'error') consoleErrors.push(text);
    });
    cdp.on(sessionId, 'Network.requestWillBeSent', (p) => {
      const url = String((p.request as Json).url);
      if (!/^(file|data|about):/.test(url)) networkRequests.push(url);
    });
    const loaded = new Promise<void>((res) => cdp.on(sessionId, 'Page.loadEventFired', () => res()));

    await Promise.all(['Runtime.enable', 'Log.enable', 'Page.enable', 'Network.enable'].map((m) => send(m)));
    await send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false });
    const nav = await send('Page.navigate', { url: pathToFileURL(resolve(htmlPath)).href });
    if (nav.errorText) throw new Error(`chromium could not open ${htmlPath}: ${nav.errorText}`);
    await loaded;

    const { root } = await send('DOM.getDocument', { depth: 0 });
    const { outerHTML } = await send('DOM.getOuterHTML', { nodeId: root.nodeId });
    let clip: Json | undefined;
    if (opts.fullPage ?? true) {
      const { cssContentSize } = await send('Page.getLayoutMetrics');
      clip = { x: 0, y: 0, width, height: Math.ceil(cssContentSize.height), scale: 1 };
    }
    const shot = await send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: !!clip, ...(clip ? { clip } : {}) });
    await writeFile(screenshotPath, Buffer.from(shot.data, 'base64'));
    // Let messages already queued behind the screenshot arrive before reporting.
    await send('Runtime.evaluate', { expression: '0' });
    return { dom: outerHTML, consoleErrors, consoleMessages, networkRequests, screenshotPath };
  };

  try {
    return await Promise.race([run(), exited, timeout]);
  } finally {
    clearTimeout(timer);
    cdp.send('Browser.close').catch(() => {});
    await new Promise<void>((res) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return res();
      const kill = setTimeout(() => proc.kill('SIGKILL'), 3000);
      proc.once('exit', () => {
        clearTimeout(kill);
        res();
      });
    });
    await rm(profile, { recursive: true, force: true });
  }
}

/** Minimal DevTools-protocol client over Chromium's debugging pipe. */
export class Cdp {
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: Json) => void; reject: (e: Error) => void }>();
  private listeners = new Map<string, ((params: Json) => void)[]>();
  private buffer = '';

  constructor(
    private readonly out: Writable,
    input: Readable,
  ) {
    input.setEncoding('utf8');
    input.on('data', (chunk: string) => {
      this.buffer += chunk;
      let end: number;
      while ((end = this.buffer.indexOf('\0')) >= 0) {
        const msg = JSON.parse(this.buffer.slice(0, end)) as Json;
        this.buffer = this.buffer.slice(end + 1);
        this.dispatch(msg);
      }
    });
    out.on('error', () => {}); // the browser closing its end is reported via 'exit'
  }

  send(method: string, params: Json = {}, sessionId?: string): Promise<Json> {
    const id = this.nextId++;
    this.out.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  on(sessionId: string, method: string, fn: (params: Json) => void): void {
    const key = `${sessionId}:${method}`;
    this.listeners.set(key, [...(this.listeners.get(key) ?? []), fn]);
  }

  private dispatch(msg: Json): void {
    if (typeof msg.id === 'number') {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(`${msg.error.message} (${JSON.stringify(msg.error.data ?? '')})`));
      else p?.resolve(msg.result as Json);
      return;
    }
    for (const fn of this.listeners.get(`${msg.sessionId}:${msg.method}`) ?? []) fn(msg.params as Json);
  }
}
