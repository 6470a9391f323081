/**
 * `serveRun(runDir)`: a live view of a run folder on 127.0.0.1. The page is the run's report
 * (`buildRunReport`, the same figures and tables as `taylorlens report`), re-rendered on the
 * server whenever the folder's files change (metrics.jsonl growing, a plugin's files, run.json)
 * and pushed to open pages as server-sent events. node:http only; nothing is fetched from outside.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { UsageError } from '../run/errors.js';
import { buildRunReport } from '../run/report.js';
import { readRunFile } from '../run/run-file.js';
import { CHECKPOINT_DIR, REPORT_HTML, RUN_LOCK, SAVED_MODEL_DIR, TRACE_DIR, WEIGHTS_DIR } from '../run/store.js';
import { TENSORBOARD_DIR } from '../export/tensorboard.js';
import { METRICS_CSV, RunDir } from '../store/run-dir.js';
import { LIVE_SCRIPT, livePage, pageContent } from './page.js';

export interface ServeRunOptions {
  /** Port on 127.0.0.1; 0 (the default) takes a free one (see `url`). */
  port?: number;
  /** Where plugin packages (their report sections) are looked up first; default process.cwd(). */
  cwd?: string;
  /** How often the folder is checked for changes, in ms; default 1000. */
  intervalMs?: number;
  /** Told when a re-render fails; the pages keep the last good version and show the message. */
  onProblem?: (message: string) => void;
}

export interface LiveServer {
  /** `http://127.0.0.1:<port>/` */
  url: string;
  port: number;
  /** Re-render now if the folder changed since the last render (always with `force`) and push it to open pages. */
  refresh(force?: boolean): Promise<void>;
  /** Tell open pages that serving stops (they keep what they show), then stop listening. Idempotent. */
  close(message?: string): Promise<void>;
}

// What the report never reads, or what changes with no new number (checkpoints, temp files).
const SKIP = new Set([CHECKPOINT_DIR, WEIGHTS_DIR, TRACE_DIR, SAVED_MODEL_DIR, TENSORBOARD_DIR, REPORT_HTML, RUN_LOCK, METRICS_CSV]);

/** Name, size and mtime of every file the report may read: a cheap "did anything change". */
function folderSignature(dir: string, depth = 0): string {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 'gone';
  }
  const parts: string[] = [];
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (e.name.startsWith('.') || (depth === 0 && SKIP.has(e.name))) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (depth < 3) parts.push(`${e.name}/[${folderSignature(p, depth + 1)}]`);
    } else {
      try {
        const s = fs.statSync(p);
        parts.push(`${e.name}:${s.size}:${s.mtimeMs}`);
      } catch { /* removed while we looked: the next look sees it */ }
    }
  }
  return parts.join(',');
}

function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`port must be an integer from 0 to 65535 (0: a free one), got ${port}`);
  return port;
}

/** Serve a live view of `dir` (a run folder, running or not) until `close()`. */
export async function serveRun(dir: string, opts: ServeRunOptions = {}): Promise<LiveServer> {
  const port = checkPort(opts.port ?? 0);
  let runDir: RunDir;
  try {
    runDir = RunDir.open(dir);
    readRunFile(runDir); // refuse a folder that is not a run before listening
  } catch (e) {
    throw new UsageError(`cannot serve ${path.resolve(dir)}: ${(e as Error).message}`);
  }
  const root = runDir.dir;
  const cwd = opts.cwd ?? process.cwd();
  const intervalMs = opts.intervalMs ?? 1000;

  let version = 0;
  let current: { html: string; content: string; status: string } | null = null;
  let signature = '';
  let rendering: Promise<void> | null = null;
  let lastRenderMs = 0;
  let lastRenderAt = 0;
  let closed = false;
  const clients = new Set<http.ServerResponse>();

  const send = (res: http.ServerResponse, event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const broadcast = (event: string, data: unknown) => { for (const res of clients) send(res, event, data); };
  const reportEvent = () => ({ version, page: current!.content, status: current!.status });

  const render = async () => {
    const t = Date.now();
    const sig = folderSignature(root); // taken first: a change during the render triggers the next one
    const { html } = await buildRunReport(root, { cwd });
    const status = readRunFile(runDir).status;
    const content = pageContent(html);
    signature = sig;
    if (!current || content !== current.content || status !== current.status) {
      version++;
      current = { html, content, status };
      broadcast('report', reportEvent());
    }
    lastRenderMs = Date.now() - t;
    lastRenderAt = Date.now();
  };
  const renderOnce = (): Promise<void> => {
    rendering ??= render()
      .catch((e: Error) => {
        const message = `could not re-render the report: ${e.message.split('\n')[0]}`;
        opts.onProblem?.(message);
        broadcast('problem', { message });
      })
      .finally(() => { rendering = null; });
    return rendering;
  };
  const refresh = async (force = false) => {
    if (rendering) await rendering;
    if (force || !current || folderSignature(root) !== signature) await renderOnce();
  };

  // Re-render only for open pages, and leave the training at least 2/3 of the time.
  const poll = setInterval(() => {
    if (clients.size === 0 || rendering || Date.now() - lastRenderAt < 2 * lastRenderMs) return;
    if (folderSignature(root) !== signature) void renderOnce();
  }, intervalMs);
  const ping = setInterval(() => { for (const res of clients) res.write(': ping\n\n'); }, 15_000);

  let actualPort = port;
  const server = http.createServer((req, res) => {
    // Only this machine's own names: a page elsewhere cannot reach the server by rebinding a DNS name.
    const host = req.headers.host ?? '';
    if (host !== `127.0.0.1:${actualPort}` && host !== `localhost:${actualPort}`) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end('taylorlens live view: use http://127.0.0.1:' + actualPort + '/\n');
      return;
    }
    const url = new URL(req.url ?? '/', `http://${host}`);
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
    } else if (url.pathname === '/') {
      refresh().then(() => {
        if (!current) {
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`the report of ${root} could not be built; see the terminal\n`);
          return;
        }
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(livePage(current.html, version, root));
      }, (e: Error) => res.writeHead(500).end(e.message));
    } else if (url.pathname === '/live.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' }).end(LIVE_SCRIPT);
    } else if (url.pathname === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write('retry: 2000\n\n');
      clients.add(res);
      req.on('close', () => clients.delete(res));
      refresh().then(() => { if (current && clients.has(res)) send(res, 'report', reportEvent()); }, () => {});
    } else {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      clearInterval(poll);
      clearInterval(ping);
      reject(e.code === 'EADDRINUSE' ? new UsageError(`port ${port} on 127.0.0.1 is in use: pick another with --port (0: a free one)`) : e);
    });
    server.listen(port, '127.0.0.1', () => resolve());
  });
  actualPort = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${actualPort}/`,
    port: actualPort,
    refresh,
    async close(message = 'taylorlens stopped serving; this page stays as it was (reload after `taylorlens watch` to follow it again)') {
      if (closed) return;
      closed = true;
      clearInterval(poll);
      clearInterval(ping);
      if (rendering) await rendering;
      broadcast('end', { message });
      for (const res of clients) res.end();
      clients.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
