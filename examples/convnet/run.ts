/**
 * The paper's convnet (three conv layers of 64 filters 5×5 with ReLU and 2×2 max-pooling, dense 192
 * with ReLU, dense 10, softmax cross-entropy, batch 128) on MNIST, or on CIFAR-10 with `--cifar`,
 * trained with Adam, RMSProp and SGD at 1.0, 0.1 and 0.01 from the same initial weights and data
 * order, with plugin-regret (neurons of every conv layer, the middle conv layer, the network) and
 * plugin-activation on; then one compare report across the optimizers.
 *
 *   node examples/dist/convnet/run.js [--cifar <dir of data_batch_*.bin>] [--filters 64] [--hidden 192]
 *     [--epochs 20] [--limit N] [--test-limit 10000] [--optimizers adam,rmsprop,sgd-1.0,sgd-0.1,sgd-0.01]
 *     [--out runs/convnet] [--seed 1] [--backend wasm] [--no-network]
 */
import fs from 'node:fs';
import path from 'node:path';
import type { LayerSpec, RunConfig } from '@taylorlens/core';
import {
  examplesFile, PAPER_OPTIMIZERS, parseFlags, sharedFlagsHelp, parseOptimizers, positiveInt, regretOptionsFor, runAsScript, runExperiment, type MainIo, type SweepResult,
} from '../autoencoder-mnist/sweep.js';

export const DEFAULTS = { epochs: 20, filters: 64, hidden: 192, testLimit: 10_000, out: 'runs/convnet', optimizers: PAPER_OPTIMIZERS.join(','), seed: 1, neurons: 50 };

const USAGE = `usage: node examples/dist/convnet/run.js [options]
  --cifar <dir>       train on CIFAR-10 (the folder of the binary batches data_batch_1.bin …) instead of MNIST
  --filters <n>       filters of each conv layer (default ${DEFAULTS.filters})
  --hidden <n>        units of the hidden dense layer (default ${DEFAULTS.hidden})
${sharedFlagsHelp(DEFAULTS, 'all: 60,000 MNIST, 50,000 CIFAR-10')}`;


/** The experiment's run config for these flags: the template with data, widths, epochs and seed set. */
export function experimentConfig(f: Record<string, unknown>): RunConfig {
  const cfg = JSON.parse(fs.readFileSync(examplesFile('convnet/config.template.json'), 'utf8')) as RunConfig;
  const filters = positiveInt(f, 'filters') ?? DEFAULTS.filters;
  const hidden = positiveInt(f, 'hidden') ?? DEFAULTS.hidden;
  const limit = positiveInt(f, 'limit');
  const testLimit = Math.min(positiveInt(f, 'test-limit') ?? DEFAULTS.testLimit, limit ?? Infinity);
  cfg.epochs = positiveInt(f, 'epochs') ?? DEFAULTS.epochs;
  cfg.seed = f.seed === undefined ? DEFAULTS.seed : Number(f.seed);
  const cifar = f.cifar as string | undefined;
  cfg.name = cifar ? 'convnet-cifar10' : 'convnet-mnist';
  cfg.model.input = cifar ? [32, 32, 3] : [28, 28, 1];
  cfg.data = cifar
    ? { source: 'cifar10', dir: path.resolve(cifar), target: 'labels', testLimit, ...(limit ? { limit } : {}) }
    : { source: 'mnist', target: 'labels', testLimit, ...(limit ? { limit } : {}) };
  const hiddenDense = cfg.model.layers.length - 2;
  cfg.model.layers = cfg.model.layers.map((l: LayerSpec, i): LayerSpec => {
    if (l.type === 'conv2d') return { ...l, filters };
    if (l.type === 'dense' && i === hiddenDense) return { ...l, units: hidden };
    return l;
  });
  const regret = regretOptionsFor(cfg, f);
  if (regret) regret.neurons.perLayer = positiveInt(f, 'neurons') ?? DEFAULTS.neurons;
  return cfg;
}

export async function main(args: string[], io: MainIo = {}): Promise<SweepResult | null> {
  const log = io.log ?? ((l: string) => console.log(l));
  const f = parseFlags(args, { cifar: { type: 'string' }, filters: { type: 'string' }, hidden: { type: 'string' } });
  if (f.help) {
    log(USAGE);
    return null;
  }
  return runExperiment(io, f, DEFAULTS.out, {
    template: experimentConfig(f),
    prefix: f.cifar ? 'convnet-cifar10' : 'convnet-mnist',
    optimizers: parseOptimizers(String(f.optimizers ?? DEFAULTS.optimizers)),
  });
}

await runAsScript(import.meta.url, (args, signals) => main(args, { signals }));
