import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport, escapeHtml, formatNumber, lineChart, table, writeReport, type Report } from '../src/report/index.js';

const chart = (title: string, series = ['a', 'b']) =>
  lineChart({
    title,
    x: { field: 'step', title: 'step' },
    y: { field: 'v', title: 'value' },
    series: 'run',
    data: series.flatMap((run, k) => [0, 1, 2].map((step) => ({ run, step, v: step * (k + 1) }))),
  });

const twoSections: Report = {
  title: 'Run 42',
  subtitle: 'a small test',
  meta: { model: 'mlp', steps: 1000, 'learning rate': 0.0012345 },
  sections: [
    { id: 'loss', title: 'Loss', intro: 'First paragraph.\n\nSecond paragraph.', figures: [{ caption: 'Look for the drop.', spec: chart('Loss') }] },
    {
      id: 'loss',
      title: 'Switches & Co',
      figures: [
        { caption: 'Look at the spread.', spec: chart('A') },
        { caption: 'Look at the tail.', spec: chart('B') },
      ],
      tables: [{ caption: 'Summary', columns: ['layer', { key: 'n', title: 'units' }], rows: [{ layer: 'dense_1', n: 256 }] }],
      notes: ['Counts are per epoch.'],
    },
  ],
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'taylorlens-html-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('formatting', () => {
  it('escapes the five HTML specials', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    expect(escapeHtml(undefined)).toBe('');
  });

  it('formats numbers to 4 significant digits, integers exactly', () => {
    expect(formatNumber(0.0123456)).toBe('0.01235');
    expect(formatNumber(3.14159)).toBe('3.142');
    expect(formatNumber(0.1)).toBe('0.1000');
    expect(formatNumber(12345.678)).toBe('12350');
    expect(formatNumber(60000)).toBe('60000');
    expect(formatNumber(-2.5e-7)).toBe('-2.500e-7');
    expect(formatNumber(1.23456e9)).toBe('1.235e9');
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(NaN)).toBe('NaN');
    expect(formatNumber(-Infinity)).toBe('−∞');
  });

  it('builds an escaped table with numeric columns right-aligned', () => {
    const html = table({
      caption: 'a <caption>',
      columns: ['name', { key: 'x', title: 'x & y' }],
      rows: [
        { name: '<img src=x>', x: 1 / 3 },
        { name: 'b', x: null },
      ],
    });
    expect(html).toContain('<caption>a &lt;caption&gt;</caption>');
    expect(html).toContain('<th scope="col" class="right">x &amp; y</th>');
    expect(html).toContain('<td>&lt;img src=x&gt;</td><td class="right">0.3333</td>');
    expect(html).toContain('<td class="right">—</td>');
    expect(html).not.toContain('<img');
  });
});

describe('buildReport', () => {
  it('has a table of contents, numbered sections with unique ids, meta, tables and notes', async () => {
    const html = await buildReport(twoSections, { strict: true });
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<nav class="toc"');
    expect(html).toContain('<a href="#loss">Loss</a>');
    expect(html).toContain('<a href="#loss-2">Switches &amp; Co</a>');
    expect(html).toContain('<section id="loss">');
    expect(html).toContain('<section id="loss-2">');
    expect(html.match(/<svg[\s>]/g)).toHaveLength(3);
    expect(html.match(/<figcaption>/g)).toHaveLength(3);
    expect(html).toContain('<p class="intro">First paragraph.</p>');
    expect(html).toContain('<p class="intro">Second paragraph.</p>');
    expect(html).toContain('<dt>learning rate</dt><dd>0.001234</dd>');
    expect(html).toContain('<dt>steps</dt><dd>1000</dd>');
    expect(html).toContain('<caption>Summary</caption>');
    expect(html).toContain('<li>Counts are per epoch.</li>');
    // Self-contained: no scripts, nothing fetched, a policy that forbids both.
    expect(html).not.toMatch(/<script|<link rel="stylesheet"|src="http|href="http/i);
    expect(html).toContain(`Content-Security-Policy" content="default-src 'none'`);
  });

  it('gives every inline SVG its own id namespace', async () => {
    const clipped = {
      data: { values: [{ a: 0, b: 0 }, { a: 5, b: 1 }] },
      mark: { type: 'line' as const, clip: true },
      encoding: {
        x: { field: 'a', type: 'quantitative' as const, scale: { domain: [0, 1] } },
        y: { field: 'b', type: 'quantitative' as const },
      },
    };
    const html = await buildReport({
      title: 't',
      meta: {},
      sections: [{ id: 's', title: 's', figures: [1, 2].map(() => ({ caption: 'c', spec: clipped })) }],
    });
    const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    expect(ids.length).toBeGreaterThan(2);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('escapes every string that comes from data', async () => {
    const evil = '<script>alert("x")</script>';
    const html = await buildReport(
      {
        title: evil,
        subtitle: evil,
        meta: { [evil]: evil },
        sections: [
          {
            id: `"><img src=x onerror=alert(1)>`,
            title: evil,
            intro: evil,
            figures: [{ caption: evil, spec: chart(evil, [evil, 'ok']) }],
            tables: [{ caption: evil, columns: [evil], rows: [{ [evil]: evil }] }],
            notes: [evil],
          },
        ],
      },
      { strict: true },
    );
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('onerror=alert(1)>');
    expect(html.split('&lt;script&gt;').length - 1).toBeGreaterThanOrEqual(10);
  });

  it('requires a caption on every figure', async () => {
    await expect(
      buildReport({ title: 't', meta: {}, sections: [{ id: 's', title: 's', figures: [{ caption: ' ', spec: chart('x') }] }] }),
    ).rejects.toThrow(/caption/);
  });

  it('shows a failed figure in place (or rejects when strict)', async () => {
    const bad: Report = {
      title: 't',
      meta: {},
      sections: [
        {
          id: 's',
          title: 's',
          figures: [
            { caption: 'remote data', spec: { data: { url: 'https://example.invalid/d.json' }, mark: 'point' } },
            { caption: 'fine', spec: chart('ok') },
          ],
        },
      ],
    };
    const html = await buildReport(bad);
    expect(html).toContain('<figure class="failed"><p>This figure could not be drawn: report figures must inline their data');
    expect(html.match(/<svg[\s>]/g)).toHaveLength(1);
    await expect(buildReport(bad, { strict: true })).rejects.toThrow(/inline their data/);
  });
});

describe('writeReport', () => {
  it('writes atomically, replacing an existing file and leaving no temp files', async () => {
    const path = join(dir, 'sub', 'report.html');
    await writeReport(path, 'first');
    await writeReport(path, 'second');
    expect(await readFile(path, 'utf8')).toBe('second');
    expect(await readdir(join(dir, 'sub'))).toEqual(['report.html']);
  });

  it('cleans up its temp file when the rename fails', async () => {
    const target = join(dir, 'is-a-dir'); // renaming a file over a non-empty folder fails
    await mkdir(join(target, 'child'), { recursive: true });
    await expect(writeReport(target, 'x')).rejects.toThrow();
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
