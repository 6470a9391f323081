/**
 * An open page in headless Chromium to poke at while it lives (the live view's test): navigate to
 * a URL, evaluate expressions, wait for a condition, and collect console errors and every request.
 * Same browser, flags and DevTools pipe as renderInChromium (helpers/chromium.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { CHROMIUM, Cdp, ChromiumMissingError, FLAGS } from './chromium.js';

export interface LivePage {
  consoleErrors: string[];
  consoleMessages: string[];
  /** Every URL the page requested. */
  requests: string[];
  /** The value of a JavaScript expression in the page (awaited if a promise). */
  evaluate<T>(expression: string): Promise<T>;
  /** Polls `expression` until it is truthy; throws with `what` after `timeoutMs`. */
  waitFor(expression: string, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function openPage(url: string, opts: { width?: number; height?: number } = {}): Promise<LivePage> {
  if (!existsSync(CHROMIUM)) throw new ChromiumMissingError(CHROMIUM);
  const profile = await mkdtemp(join(tmpdir(), 'taylorlens-chromium-'));
  const proc = spawn(CHROMIUM, [...FLAGS, `--user-data-dir=${profile}`, `--window-size=${opts.width ?? 1200},${opts.height ?? 1600}`, 'about:blank'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const cdp = new Cdp(proc.stdio[3] as Writable, proc.stdio[4] as Readable);
  const close = async () => {
    cdp.send('Browser.close').catch(() => {});
    await new Promise<void>((res) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return res();
      const kill = setTimeout(() => proc.kill('SIGKILL'), 3000);
      proc.once('exit', () => { clearTimeout(kill); res(); });
    });
    await rm(profile, { recursive: true, force: true });
  };
  try {
    const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
    const send = (method: string, params: Record<string, unknown> = {}) => cdp.send(method, params, sessionId);
    const page: LivePage = {
      consoleErrors: [], consoleMessages: [], requests: [],
      async evaluate<T>(expression: string): Promise<T> {
        const r = await send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
        if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
        return r.result.value as T;
      },
      async waitFor(expression: string, what: string, timeoutMs = 15_000): Promise<void> {
        const end = Date.now() + timeoutMs;
        while (!(await page.evaluate<boolean>(`Boolean(${expression})`))) {
          if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${page.consoleMessages.join('\n')}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      close,
    };
    cdp.on(sessionId, 'Runtime.consoleAPICalled', (p) => {
      const text = (p.args as Record<string, any>[]).map((a) => a.value ?? a.description ?? a.type).join(' ');
      page.consoleMessages.push(`${p.type}: ${text}`);
      if (p.type === 'error' || p.type === 'assert') page.consoleErrors.push(text);
    });
    cdp.on(sessionId, 'Runtime.exceptionThrown', (p) => {
      const text = p.exceptionDetails.exception?.description ?? p.exceptionDetails.text;
      page.consoleMessages.push(`exception: ${text}`);
      page.consoleErrors.push(text);
    });
    cdp.on(sessionId, 'Log.entryAdded', (p) => {
      const text = `${p.entry.text}${p.entry.url ? ` (${p.entry.url})` : ''}`;
      page.consoleMessages.push(`${p.entry.level}: ${text}`);
      if (p.entry.level === 'error') page.consoleErrors.push(text);
    });
    cdp.on(sessionId, 'Network.requestWillBeSent', (p) => { page.requests.push(String(p.request.url)); });
    const loaded = new Promise<void>((res) => cdp.on(sessionId, 'Page.loadEventFired', () => res()));
    await Promise.all(['Runtime.enable', 'Log.enable', 'Page.enable', 'Network.enable'].map((m) => send(m)));
    const nav = await send('Page.navigate', { url });
    if (nav.errorText) throw new Error(`chromium could not open ${url}: ${nav.errorText}`);
    await Promise.race([loaded, new Promise((_, rej) => setTimeout(() => rej(new Error(`chromium: ${url} did not load in 30 s\n${stderr}`)), 30_000))]);
    return page;
  } catch (e) {
    await close();
    throw e;
  }
}
