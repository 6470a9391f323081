/**
 * The paper's MNIST autoencoder (784-50-30-20-30-50-784, ReLU, MSE, batch 64) trained with
 * Adam, RMSProp and SGD at 1.0, 0.1 and 0.01 from the same initial weights and data order, with
 * plugin-regret and plugin-activation on; then one compare report across the optimizers.
 *
 *   node examples/dist/autoencoder-mnist/run.js [--epochs 20] [--limit 60000] [--test-limit 10000]
 *     [--neurons 50] [--input-neurons 50] [--no-network]
 *     [--optimizers adam,rmsprop,sgd-1.0,sgd-0.1,sgd-0.01] [--out runs/autoencoder-mnist] [--seed 1] [--backend wasm]
 */
import fs from 'node:fs';
import type { RunConfig } from '@taylorlens/core';
import {
  examplesFile, PAPER_OPTIMIZERS, parseFlags, sharedFlagsHelp, parseOptimizers, positiveInt, regretOptionsFor, runAsScript, runExperiment, type MainIo, type SweepResult,
} from './sweep.js';

export const DEFAULTS = { epochs: 20, testLimit: 10_000, out: 'runs/autoencoder-mnist', optimizers: PAPER_OPTIMIZERS.join(','), seed: 1, neurons: 50 };

const USAGE = `usage: node examples/dist/autoencoder-mnist/run.js [options]
  --input-neurons <n> neurons of the input layer (fan-in 785) only, which cost 785² per neuron and round
                      (default: as --neurons)
${sharedFlagsHelp(DEFAULTS, 'all 60,000')}`;


/** The experiment's run config for these flags (the template with epochs, data and seed set). */
export function experimentConfig(f: Record<string, unknown>): RunConfig {
  const cfg = JSON.parse(fs.readFileSync(examplesFile('autoencoder-mnist/config.template.json'), 'utf8')) as RunConfig;
  const limit = positiveInt(f, 'limit');
  cfg.epochs = positiveInt(f, 'epochs') ?? DEFAULTS.epochs;
  cfg.seed = f.seed === undefined ? DEFAULTS.seed : Number(f.seed);
  cfg.data = { ...cfg.data, ...(limit ? { limit } : {}), testLimit: Math.min(positiveInt(f, 'test-limit') ?? DEFAULTS.testLimit, limit ?? Infinity) };
  const regret = regretOptionsFor(cfg, f);
  if (regret) {
    const perLayer = positiveInt(f, 'neurons') ?? DEFAULTS.neurons;
    const input = positiveInt(f, 'input-neurons');
    regret.neurons.perLayer = input === undefined ? perLayer : Object.fromEntries(regret.neurons.layers.map((l, i) => [l, i === 0 ? input : perLayer]));
  }
  return cfg;
}

export async function main(args: string[], io: MainIo = {}): Promise<SweepResult | null> {
  const log = io.log ?? ((l: string) => console.log(l));
  const f = parseFlags(args, { 'input-neurons': { type: 'string' } });
  if (f.help) {
    log(USAGE);
    return null;
  }
  return runExperiment(io, f, DEFAULTS.out, {
    template: experimentConfig(f),
    prefix: 'ae-mnist',
    optimizers: parseOptimizers(String(f.optimizers ?? DEFAULTS.optimizers)),
  });
}

await runAsScript(import.meta.url, (args, signals) => main(args, { signals }));
