// The live view's server (#16 item 5) over plain HTTP: the page is the run's report, server-sent
// events push a re-rendered page when metrics.jsonl grows, and it answers only to 127.0.0.1.
// The same in a browser: live-chromium.test.ts.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, memoryIo } from '@taylorlens/cli';
import { serveRun } from '../src/live/index.js';
import { formatNumber } from '../src/report/format.js';
import { buildRunReport } from '../src/run/report.js';
import { CLI_MAIN, onlyRun, readRows, runCliIn, tempProject, tinyConfig, writeConfig } from './fixtures/project.js';

const project = tempProject('taylorlens-live-');
let dir: string;
beforeAll(async () => {
  const cfg = tinyConfig({ name: 'live', epochs: 1, data: { source: 'mnist', limit: 64, target: 'input', flatten: true } });
  const r = await runCliIn(project.dir, ['run', writeConfig(project.dir, cfg), '--backend', 'cpu']);
  expect(r.code, r.err).toBe(0);
  dir = onlyRun(path.join(project.dir, 'runs'));
});
afterAll(() => project.cleanup());

interface SseEvent { event: string; data: any }

/** Reads an SSE stream; `next(name)` resolves with the next event of that name. */
function sse(url: string) {
  const events: SseEvent[] = [];
  const waiters: { name: string; resolve: (e: SseEvent) => void }[] = [];
  let ended = false;
  let buffer = '';
  const req = http.get(url, (res) => {
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const name = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (!name || data === undefined) continue;
        const e = { event: name, data: JSON.parse(data) };
        const w = waiters.findIndex((x) => x.name === name);
        if (w >= 0) waiters.splice(w, 1)[0].resolve(e);
        else events.push(e);
      }
    });
    res.on('end', () => { ended = true; });
  });
  return {
    next(name: string, timeoutMs = 15_000): Promise<SseEvent> {
      const i = events.findIndex((e) => e.event === name);
      if (i >= 0) return Promise.resolve(events.splice(i, 1)[0]);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no "${name}" event in ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ name, resolve: (e) => { clearTimeout(t); resolve(e); } });
      });
    },
    ended: () => ended,
    close: () => req.destroy(),
  };
}

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; type?: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, type: res.headers['content-type'] }));
    }).on('error', reject);
  });
}

const lastRoundLoss = (page: string) => /<td>last round loss<\/td><td[^>]*>([^<]*)<\/td>/.exec(page)?.[1];

describe('live view server', () => {
  it('serves the report with the live script, and pushes a re-rendered page when rows are appended to metrics.jsonl', async () => {
    const server = await serveRun(dir, { cwd: project.dir, intervalMs: 100 });
    let stream: ReturnType<typeof sse> | null = null;
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const page = await get(server.url);
      expect(page.status).toBe(200);
      expect(page.type).toMatch(/^text\/html/);
      // The same sections, figures and tables as report.html, plus the script and a status line.
      const report = (await buildRunReport(dir, { cwd: project.dir })).html;
      expect(page.body.match(/<svg[\s>]/g)?.length).toBe(report.match(/<svg[\s>]/g)?.length);
      expect(lastRoundLoss(page.body)).toBe(lastRoundLoss(report));
      expect(page.body).toContain('<script src="/live.js" defer></script>');
      expect(page.body).toMatch(/script-src 'self'; connect-src 'self'/);
      expect(page.body).not.toMatch(/(src|href)="https?:/);
      const script = await get(server.url + 'live.js');
      expect(script.status).toBe(200);
      expect(script.body).toContain("new EventSource('/events')");

      stream = sse(server.url + 'events');
      const first = await stream.next('report');
      expect(first.data.version).toBe(1);
      expect(first.data.status).toBe('completed');

      const rows = readRows(dir);
      const round = Math.max(...rows.filter((r) => r.kind === 'round').map((r) => r.round)) + 1;
      const loss = 0.0123456789;
      fs.appendFileSync(path.join(dir, 'metrics.jsonl'), JSON.stringify({ kind: 'round', round, epoch: 2, loss }) + '\n');
      const second = await stream.next('report');
      expect(second.data.version).toBe(2);
      expect(lastRoundLoss(second.data.page)).toBe(formatNumber(loss));
      expect(lastRoundLoss(first.data.page)).not.toBe(formatNumber(loss));

      // A re-render that fails keeps the last page and says why.
      const runJson = path.join(dir, 'run.json');
      const saved = fs.readFileSync(runJson);
      fs.writeFileSync(runJson, '{ torn');
      const problem = await stream.next('problem');
      expect(problem.data.message).toMatch(/could not re-render the report: .*run\.json/);
      fs.writeFileSync(runJson, saved);

      await server.close('bye');
      const end = await stream.next('end');
      expect(end.data.message).toBe('bye');
      await expect(get(server.url)).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      stream?.close();
      await server.close();
    }
  });

  it('answers only to 127.0.0.1/localhost, 404s other paths, and refuses a folder that is not a run before listening', async () => {
    const server = await serveRun(dir, { cwd: project.dir });
    try {
      expect((await get(server.url, { host: 'attacker.example' })).status).toBe(403);
      expect((await get(server.url.replace('127.0.0.1', 'localhost'))).status).toBe(200);
      expect((await get(server.url + 'etc/passwd')).status).toBe(404);
    } finally {
      await server.close();
    }
    await expect(serveRun(project.dir)).rejects.toThrow(/cannot serve .*run\.json/);
    await expect(serveRun(dir, { port: 70000 })).rejects.toThrow(/port must be an integer from 0 to 65535/);
  });

  it('`run --serve` prints the URL, serves while the run trains and stops when the run ends', async () => {
    const cfg = tinyConfig({ name: 'served', epochs: 3, data: { source: 'mnist', limit: 256, target: 'input', flatten: true }, output: { dir: 'runs-served' } });
    const io = memoryIo(project.dir);
    const run = main(['run', writeConfig(project.dir, cfg, 'served.json'), '--backend', 'cpu', '--serve'], io);
    // While it trains (same process: the run yields every round), the page is there and says so.
    const urlOf = () => /live view: (http:\/\/127\.0\.0\.1:\d+\/) \(until the run ends\)/.exec(io.out())?.[1];
    while (!urlOf()) await new Promise((r) => setTimeout(r, 20));
    const during = await get(urlOf()!);
    expect(during.status).toBe(200);
    expect(during.body).toMatch(/<dt>status<\/dt><dd>running<\/dd>/);
    expect(await run, io.err()).toBe(0);
    await expect(get(urlOf()!)).rejects.toThrow(/ECONNREFUSED/);
    const usage = await runCliIn(project.dir, ['run', 'served.json', '--port', '8080']);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/--port needs --serve/);
  });

  it('`taylorlens watch` serves until Ctrl-C, then exits 0', async () => {
    const child = spawn(process.execPath, [CLI_MAIN, 'watch', dir, '--port', '0'], { cwd: project.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d;
        const m = /live view: (\S+) \(Ctrl-C to stop\)/.exec(out);
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`watch exited (${code}) before serving:\n${out}\n${err}`)));
    });
    expect((await get(url)).status).toBe(200);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toContain('live view stopped (SIGINT)');
  });
});
