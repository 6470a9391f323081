/**
 * The Lion optimizer from ./optimizer.ts against Adam on the paper's MNIST autoencoder (a small
 * slice), both through core's run module with the regret and activation plugins on, then one
 * compare report. Lion is not a config name (only installed plugin packages provide those), so it
 * goes in as an `OptimizerEntry`: see `resolveWithEntry` in ../autoencoder-mnist/sweep.ts.
 *
 *   node examples/dist/custom-optimizer/compare.js [--epochs 3] [--limit 4096] [--lion-lr 0.0003]
 *     [--adam-lr 0.001] [--out runs/custom-optimizer] [--seed 1] [--backend wasm]
 */
import type { OptimizerEntry } from '@taylorlens/core';
import { experimentConfig } from '../autoencoder-mnist/run.js';
import { parseFlags, runAsScript, runExperiment, type MainIo, type SweepResult } from '../autoencoder-mnist/sweep.js';
import { lion } from './optimizer.js';

export const DEFAULTS = { epochs: 3, limit: 4096, lionLr: 3e-4, adamLr: 1e-3, out: 'runs/custom-optimizer' };

const USAGE = `usage: node examples/dist/custom-optimizer/compare.js [options]
  --epochs <n>       epochs per optimizer (default ${DEFAULTS.epochs})
  --limit <n>        training images (default ${DEFAULTS.limit})
  --lion-lr <rate>   Lion's learning rate (default ${DEFAULTS.lionLr}; Lion wants 3–10× less than Adam)
  --adam-lr <rate>   Adam's learning rate (default ${DEFAULTS.adamLr})
  --test-limit <n>   test images for the validation loss (default: --limit)
  --neurons <n>      neurons per layer in regret's neuron scope (default 50, the paper's)
  --out <dir>        folder for configs/, runs/ and compare/ (default ${DEFAULTS.out})
  --seed <n>         initial weights, data order, probe draw (default 1)
  --backend <name>   wasm, cpu, tensorflow or webgpu (default: the best available)`;

/** Lion as the run module's optimizer entry: its schema, and a factory the run calls with the config's options. */
export const LION_ENTRY: OptimizerEntry = {
  name: 'lion', provider: 'examples/custom-optimizer', schema: lion.schema, create: (options) => lion(options as Parameters<typeof lion>[0]),
};

function rate(v: unknown, flag: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!(n > 0)) throw new Error(`--${flag} must be a positive number, got "${String(v)}"`);
  return n;
}

export async function main(args: string[], io: MainIo = {}): Promise<SweepResult | null> {
  const log = io.log ?? ((l: string) => console.log(l));
  const f = parseFlags(args, { 'lion-lr': { type: 'string' }, 'adam-lr': { type: 'string' } });
  if (f.help) {
    log(USAGE);
    return null;
  }
  if (f.optimizers !== undefined) throw new Error('--optimizers: this comparison is Lion against Adam; set their rates with --lion-lr and --adam-lr');
  const template = experimentConfig({ ...f, epochs: f.epochs ?? String(DEFAULTS.epochs), limit: f.limit ?? String(DEFAULTS.limit) });
  return runExperiment(io, f, DEFAULTS.out, {
    template,
    prefix: 'ae-mnist',
    optimizers: [
      { label: 'lion', name: 'lion', options: { learningRate: rate(f['lion-lr'], 'lion-lr', DEFAULTS.lionLr) }, entry: LION_ENTRY },
      { label: 'adam', name: 'adam', options: { learningRate: rate(f['adam-lr'], 'adam-lr', DEFAULTS.adamLr) } },
    ],
  });
}

await runAsScript(import.meta.url, (args, signals) => main(args, { signals }));
