/** Optimizers a config can name: any installed plugin module's `optimizers`, else tfjs's built-ins. */
import * as tf from '@tensorflow/tfjs-core';
import { readSchema } from './schemas.js';
import type { LoadedPluginModule } from './plugins.js';

export interface OptimizerEntry {
  name: string;
  /** 'tfjs' or the plugin package providing it. */
  provider: string;
  schema?: object;
  create(options: unknown): tf.Optimizer;
}

type Opts = Record<string, number | boolean | undefined>;
const num = (o: Opts, k: string, d: number) => (o[k] as number | undefined) ?? d;

const BUILTIN_SCHEMAS = (readSchema('builtin-optimizers.schema.json') as { optimizers: Record<string, object> }).optimizers;

/** tfjs's own optimizers with Keras-like defaults; options checked against builtin-optimizers.schema.json. */
export const BUILTIN_OPTIMIZERS: Record<string, OptimizerEntry> = {
  sgd: { name: 'sgd', provider: 'tfjs', schema: BUILTIN_SCHEMAS.sgd, create: (o) => tf.train.sgd(num(o as Opts, 'learningRate', 0.01)) },
  momentum: {
    name: 'momentum', provider: 'tfjs', schema: BUILTIN_SCHEMAS.momentum,
    create: (o) => tf.train.momentum(num(o as Opts, 'learningRate', 0.01), num(o as Opts, 'momentum', 0.9), Boolean((o as Opts).useNesterov)),
  },
  rmsprop: {
    name: 'rmsprop', provider: 'tfjs', schema: BUILTIN_SCHEMAS.rmsprop,
    create: (o) => {
      const p = o as Opts;
      return tf.train.rmsprop(num(p, 'learningRate', 0.001), num(p, 'decay', 0.9), num(p, 'momentum', 0), p.epsilon as number | undefined, Boolean(p.centered));
    },
  },
  adam: {
    name: 'adam', provider: 'tfjs', schema: BUILTIN_SCHEMAS.adam,
    create: (o) => {
      const p = o as Opts;
      return tf.train.adam(num(p, 'learningRate', 0.001), num(p, 'beta1', 0.9), num(p, 'beta2', 0.999), p.epsilon as number | undefined);
    },
  },
  adagrad: {
    name: 'adagrad', provider: 'tfjs', schema: BUILTIN_SCHEMAS.adagrad,
    create: (o) => tf.train.adagrad(num(o as Opts, 'learningRate', 0.01), num(o as Opts, 'initialAccumulatorValue', 0.1)),
  },
};

/**
 * Every optimizer name available: plugin modules' first (a plugin may replace a built-in name;
 * with two plugins providing one name, the first in sorted package order wins), then tfjs's.
 */
export function optimizerCatalog(modules: readonly LoadedPluginModule[]): Map<string, OptimizerEntry> {
  const out = new Map<string, OptimizerEntry>();
  for (const m of modules) {
    for (const [name, o] of Object.entries(m.module.optimizers ?? {})) {
      if (out.has(name) || typeof o?.create !== 'function') continue;
      out.set(name, { name, provider: m.packageName, schema: o.schema, create: (opts) => o.create(opts) });
    }
  }
  for (const [name, o] of Object.entries(BUILTIN_OPTIMIZERS)) if (!out.has(name)) out.set(name, o);
  return out;
}

/** "adam (tfjs), taylorAdam (@taylorlens/plugin-optimizers), …" */
export function describeCatalog(catalog: Map<string, OptimizerEntry>): string {
  return [...catalog.values()].sort((a, b) => a.name.localeCompare(b.name)).map((o) => `${o.name} (${o.provider})`).join(', ');
}
