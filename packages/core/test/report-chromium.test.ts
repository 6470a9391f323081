/**
 * Opens written reports in real headless Chromium (Debian's /usr/bin/chromium). Not skipped
 * when the browser is missing: the failure says to run .ci/install-chromium.sh.
 *
 * Set TAYLORLENS_REPORT_SAMPLE=/some/file.png to keep the sample report's screenshot.
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport, lineChart, scatterOrLine, sortedCurve, writeReport, type Report } from '../src/report/index.js';
import { renderInChromium } from './helpers/chromium.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'taylorlens-report-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('report in headless Chromium', () => {
  it('renders the sample report from disk with every figure, no console errors and no network', async () => {
    const report = sampleReport();
    const path = join(dir, 'report.html');
    await writeReport(path, await buildReport(report, { strict: true }));
    const figures = report.sections.reduce((n, s) => n + s.figures.length, 0);

    const r = await renderInChromium(path, { width: 1200, height: 1600, screenshotPath: join(dir, 'report.png') });

    expect(r.consoleErrors, r.consoleMessages.join('\n')).toEqual([]);
    expect(r.networkRequests).toEqual([]);
    expect(r.dom.match(/<svg[\s>]/g)?.length).toBe(figures);
    expect(r.dom).toContain('<nav class="toc"');
    for (const s of report.sections) expect(r.dom).toContain(`>${s.title}</a>`);
    const png = await readFile(r.screenshotPath);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.length).toBeGreaterThan(50_000); // a page full of charts, not a blank viewport
    if (process.env.TAYLORLENS_REPORT_SAMPLE) await copyFile(r.screenshotPath, process.env.TAYLORLENS_REPORT_SAMPLE);
  });

  it('detects console errors and uncaught exceptions in a page (and ignores console.log)', async () => {
    const path = join(dir, 'boom.html');
    await writeFile(
      path,
      '<!doctype html><title>boom</title><p>x</p><script>console.log("fine"); console.error("boom"); throw new Error("kaput");</script>',
    );
    const r = await renderInChromium(path, { fullPage: false, width: 400, height: 300, screenshotPath: join(dir, 'boom.png') });
    expect(r.consoleErrors).toHaveLength(2);
    expect(r.consoleErrors[0]).toBe('boom');
    expect(r.consoleErrors[1]).toMatch(/kaput/);
    expect(r.consoleMessages).toContain('log: fine');
  });

  it("the report's content security policy stops scripts and remote loads, and that shows as errors", async () => {
    const html = await buildReport({ title: 'csp', meta: {}, sections: [] });
    const tampered = html.replace(
      '</main>',
      '<script>console.error("script ran")</script><img src="https://example.invalid/x.png"></main>',
    );
    const path = join(dir, 'csp.html');
    await writeFile(path, tampered);
    const r = await renderInChromium(path, { fullPage: false, width: 400, height: 300, screenshotPath: join(dir, 'csp.png') });
    expect(r.consoleErrors).not.toContain('script ran');
    const errors = r.consoleErrors.join('\n');
    expect(errors).toMatch(/inline script.*Content Security Policy/);
    expect(errors).toMatch(/example\.invalid\/x\.png.*Content Security Policy/);
  });

  it('says how to install Chromium when it is missing', async () => {
    await expect(renderInChromium(join(dir, 'x.html'), { chromiumPath: '/nonexistent/chromium' })).rejects.toThrow(
      /\.ci\/install-chromium\.sh/,
    );
  });
});

// ---------------------------------------------------------------------------------------
// A plausible report: fake numbers shaped like an MLP trained on MNIST by two optimizers.

function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sampleReport(): Report {
  const rand = rng(7);
  const noise = (s: number) => (rand() - 0.5) * s;
  const runs = [
    { name: 'SGD, lr 0.1', rate: 900, floor: 0.06 },
    { name: 'Adam, lr 1e-3', rate: 450, floor: 0.03 },
  ];
  const steps = 3000;
  const loss = runs.flatMap((r) =>
    Array.from({ length: 150 }, (_, i) => {
      const step = (i + 1) * (steps / 150);
      const l = r.floor + 2.2 * Math.exp(-step / r.rate) + 0.25 / Math.sqrt(step);
      return { run: r.name, step, loss: l * (1 + noise(0.12)) };
    }),
  );
  const accuracy = runs.flatMap((r) =>
    Array.from({ length: 10 }, (_, e) => ({
      run: r.name,
      epoch: e + 1,
      accuracy: 1 - (r.floor * 1.3 + 0.5 * Math.exp(-(e + 1) * (1400 / r.rate))) * (1 + noise(0.05)),
    })),
  );
  const switches = ['dense_1 (256 units)', 'dense_2 (128 units)'].flatMap((layer, li) =>
    Array.from({ length: 20 }, (_, e) => {
      const mean = (li ? 9 : 14) * Math.exp(-e / 6) + 1.5 + noise(0.4);
      const sd = mean * (0.35 + noise(0.05));
      return { layer, epoch: e + 1, mean, lo: mean - sd, hi: mean + sd };
    }),
  );
  const perPoint = (scale: number) => Array.from({ length: 6000 }, () => Math.floor(scale * (-Math.log(1 - rand())) ** 1.6));
  let cl = 0;
  let ct = 0;
  const cumulative = runs.flatMap((r, ri) => {
    cl = 0;
    ct = 0;
    return Array.from({ length: 200 }, (_, i) => {
      const step = (i + 1) * 15;
      const t = r.floor + 2 * Math.exp(-step / r.rate);
      ct += t * 15;
      cl += t * 15 * (1.04 + 0.06 * ri + noise(0.02)) + 0.4 * Math.exp(-step / 400);
      return { run: r.name, step, taylor: ct, actual: cl };
    });
  });
  const logSv = (n: number, c: number) => Array.from({ length: n }, () => c + 2.5 * Math.log(rand() + 0.05) + noise(1));

  return {
    title: 'MNIST MLP — SGD vs Adam',
    subtitle: 'Two optimizers, 3 000 steps each, instrumented with three plugins.',
    meta: {
      model: 'MLP 784-256-128-10, ReLU',
      dataset: 'MNIST (60 000 train / 10 000 test)',
      'batch size': 64,
      steps,
      seed: 7,
      backend: 'tfjs-node (CPU)',
      'wall time': '4 min 12 s',
      started: '2025-11-26 17:40 UTC',
    },
    sections: [
      {
        id: 'training',
        title: 'Training curves',
        intro: 'Loss and accuracy as training progresses, one line per optimizer.',
        figures: [
          {
            caption: 'Training loss on a log scale: look for where each optimizer stops improving and how noisy it gets there.',
            spec: lineChart({
              title: 'Training loss',
              x: { field: 'step', title: 'training step' },
              y: { field: 'loss', title: 'cross-entropy', unit: 'nats', scale: 'log' },
              series: 'run',
              data: loss,
            }),
          },
          {
            caption: 'Test accuracy after each epoch: the gap between the lines is the price of the slower optimizer.',
            spec: lineChart({
              title: 'Test accuracy',
              x: { field: 'epoch', title: 'epoch' },
              y: { field: 'accuracy', title: 'accuracy', format: '.0%' },
              series: 'run',
              data: accuracy,
              points: true,
            }),
          },
        ],
        tables: [
          {
            caption: 'Final metrics',
            columns: [
              { key: 'run', title: 'optimizer' },
              { key: 'loss', title: 'train loss (nats)' },
              { key: 'acc', title: 'test accuracy' },
              { key: 'steps', title: 'steps' },
              { key: 'time', title: 'time per step (s)' },
            ],
            rows: [
              { run: 'SGD, lr 0.1', loss: 0.0712345, acc: 0.97123, steps: 3000, time: 0.0123456 },
              { run: 'Adam, lr 1e-3', loss: 0.0398765, acc: 0.98234, steps: 3000, time: 0.0151234 },
            ],
          },
        ],
      },
      {
        id: 'activation',
        title: 'Activation switches',
        intro:
          'How often each ReLU unit changes between active and inactive from one epoch to the next. Many switches late in training mean the network is still reorganising.',
        figures: [
          {
            caption: 'Mean switches per unit with a ±1 standard deviation band: the band should narrow and settle as training converges.',
            spec: lineChart({
              title: 'Switches per unit',
              subtitle: 'mean ± 1 sd over units',
              x: { field: 'epoch', title: 'epoch' },
              y: { field: 'mean', title: 'switches per unit', unit: 'count' },
              series: 'layer',
              data: switches,
              band: { lower: 'lo', upper: 'hi' },
            }),
          },
          {
            caption: 'Switches per training example, sorted: a long flat tail means most examples are settled and a few keep flipping.',
            spec: sortedCurve({
              title: 'Switches per data point, sorted',
              y: { title: 'switches', unit: 'count', scale: 'symlog' },
              x: { normalize: true },
              curves: [
                { name: 'SGD, lr 0.1', values: perPoint(6) },
                { name: 'Adam, lr 1e-3', values: perPoint(3.5) },
              ],
            }),
          },
        ],
        notes: ['Switch counts are taken on a fixed 6 000-example probe set.'],
      },
      {
        id: 'regret',
        title: 'Regret against the Taylor-optimal loss',
        intro: 'Cumulative loss actually paid against the cumulative loss of the best first-order (Taylor) step.',
        figures: [
          {
            caption: 'Cumulative loss against its Taylor-optimal counterpart: the closer a line hugs the dashed diagonal, the less the optimizer wastes.',
            spec: scatterOrLine({
              title: 'Cumulative loss vs Taylor-optimal',
              x: { field: 'taylor', title: 'cumulative Taylor-optimal loss', unit: 'nats' },
              y: { field: 'actual', title: 'cumulative loss', unit: 'nats' },
              series: 'run',
              order: 'step',
              data: cumulative,
              diagonal: true,
            }),
          },
          {
            caption: 'Cumulative regret, the loss paid beyond the Taylor-optimal loss: a line that flattens means the optimizer stopped wasting steps.',
            spec: lineChart({
              title: 'Cumulative regret',
              x: { field: 'step', title: 'training step' },
              y: { field: 'regret', title: 'regret', unit: 'nats' },
              series: 'run',
              data: cumulative.map((r) => ({ run: r.run, step: r.step, regret: r.actual - r.taylor })),
            }),
          },
        ],
      },
      {
        id: 'spectra',
        title: 'Weight spectra',
        intro: 'Per-unit log-product of the singular values of the incoming weights, at the end of training.',
        figures: [
          {
            caption: 'Log-product of singular values per unit, sorted: a steep drop marks units whose weights have collapsed onto few directions.',
            spec: sortedCurve({
              title: 'Log-product of singular values per unit, sorted',
              y: { title: 'log ∏ σ', unit: 'nats' },
              curves: [
                { name: 'dense_1', values: logSv(256, 4) },
                { name: 'dense_2', values: logSv(128, 2) },
                { name: 'dense_3', values: logSv(10, 0) },
              ],
            }),
          },
        ],
      },
    ],
  };
}
