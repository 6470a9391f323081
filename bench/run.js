// `pnpm bench [filter]`: runs every suite in bench/suites (after `pnpm build`), prints a table
// and writes bench/results/latest.json atomically. Suites import the built packages.
import { readdir, writeFile, rename, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { Bench } from './harness.js';
import { selectBackend } from '@taylorlens/core';

const here = path.dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2];
await selectBackend(process.env.TAYLORLENS_BACKEND ?? 'wasm');
const bench = new Bench(filter);
const suites = (await readdir(path.join(here, 'suites'))).filter((f) => f.endsWith('.js')).sort();
for (const file of suites) {
  const suite = await import(path.join(here, 'suites', file));
  await suite.run(bench);
}
const out = path.join(here, 'results', 'latest.json');
// Keep entries from earlier runs that this (possibly filtered) run did not measure.
let previous = {};
try { previous = JSON.parse(await readFile(out, 'utf8')); } catch { /* first run */ }
const merged = { ...previous, ...bench.results };
await writeFile(out + '.tmp', JSON.stringify(merged, null, 2) + '\n');
await rename(out + '.tmp', out);
console.log(`wrote ${path.relative(process.cwd(), out)}`);
