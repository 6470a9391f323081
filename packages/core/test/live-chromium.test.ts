// The live view (#16 item 5) in headless Chromium: the page served by `serveRun` shows the run's
// report, and rows appended to metrics.jsonl while the page is open appear in it (a table cell
// and the loss figure change) through server-sent events, with no console errors and no request
// beyond the local server.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveRun } from '../src/live/index.js';
import { formatNumber } from '../src/report/format.js';
import { openPage } from './helpers/chromium-page.js';
import { onlyRun, readRows, runCliIn, tempProject, tinyConfig, writeConfig } from './fixtures/project.js';

const project = tempProject('taylorlens-live-chromium-');
let dir: string;
beforeAll(async () => {
  const cfg = tinyConfig({ name: 'live', epochs: 1, data: { source: 'mnist', limit: 64, target: 'input', flatten: true } });
  const r = await runCliIn(project.dir, ['run', writeConfig(project.dir, cfg), '--backend', 'cpu']);
  expect(r.code, r.err).toBe(0);
  dir = onlyRun(path.join(project.dir, 'runs'));
});
afterAll(() => project.cleanup());

// The value beside a quantity in the report's "Where the run ended" table.
const cell = (quantity: string) => `[...document.querySelectorAll('table.data tr')].find((tr) => tr.cells[0]?.textContent === ${JSON.stringify(quantity)})?.cells[1]?.textContent`;
// The training-loss figure's drawn marks, as text: changes when its data change.
const lossFigure = `document.querySelector('section#training figure svg')?.innerHTML`;
const status = `document.getElementById('taylorlens-live').textContent`;

describe('live view in headless Chromium', () => {
  it('rows appended to metrics.jsonl during the test appear on the open page, with no console errors and no outside requests', async () => {
    const server = await serveRun(dir, { cwd: project.dir, intervalMs: 100 });
    const page = await openPage(server.url);
    try {
      await page.waitFor(`${status}.includes('up to date')`, 'the page to connect to /events');
      const figures = await page.evaluate<number>(`document.querySelectorAll('.page figure svg').length`);
      const report = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
      expect(figures).toBe(report.match(/<svg[\s>]/g)?.length); // the same figures as report.html
      const before = { loss: await page.evaluate<string>(cell('last round loss')), figure: await page.evaluate<string>(lossFigure) };
      expect(before.loss).toMatch(/^\d/);
      expect(before.figure).toBeTruthy();

      const rows = readRows(dir);
      let round = Math.max(...rows.filter((r) => r.kind === 'round').map((r) => r.round));
      const losses = [0.5, 0.25, 0.0123456789];
      for (const loss of losses) {
        fs.appendFileSync(path.join(dir, 'metrics.jsonl'), JSON.stringify({ kind: 'round', round: ++round, epoch: 2, loss }) + '\n');
        await new Promise((r) => setTimeout(r, 150)); // written while the page is open, a row at a time
      }
      const want = formatNumber(losses.at(-1)!);
      await page.waitFor(`${cell('last round loss')} === ${JSON.stringify(want)}`, `"last round loss" to show ${want}`);
      expect(await page.evaluate<string>(lossFigure)).not.toBe(before.figure);
      expect(Number(await page.evaluate<string>('document.documentElement.dataset.liveVersion'))).toBeGreaterThan(1);
      expect(await page.evaluate<string>(status)).toMatch(/live view · updated .* \(completed\)/);

      expect(page.consoleErrors, page.consoleMessages.join('\n')).toEqual([]);
      const origin = new URL(server.url).origin;
      expect(page.requests.filter((u) => !u.startsWith(origin + '/'))).toEqual([]);
      expect(new Set(page.requests.map((u) => new URL(u).pathname))).toEqual(new Set(['/', '/live.js', '/events']));

      // When serving stops the page says so and keeps what it shows (no reconnect errors).
      await server.close();
      await page.waitFor(`${status}.includes('stopped serving')`, 'the page to hear the end');
      expect(await page.evaluate<string>(cell('last round loss'))).toBe(want);
      expect(page.consoleErrors, page.consoleMessages.join('\n')).toEqual([]);
    } finally {
      await page.close();
      await server.close();
    }
  });
});
