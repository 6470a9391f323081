/**
 * Reading and validating a run config, completely, before any work: the JSON schema (ajv,
 * allErrors, strict), then what a schema cannot say (optimizer and plugin names against what is
 * installed, their options against their own schemas, layer shapes against the data, data files
 * present). Every problem is collected; a ConfigError lists them all with JSON pointers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CIFAR10_FILES, CIFAR_RECORD } from '../data/cifar.js';
import { peekIdx } from '../data/idx.js';
import { mnistDefaultPaths, mnistPaths } from '../data/mnist.js';
import { DataFileError, isGzip, readBytes } from '../data/read.js';
import { isModuleData, isSavedModelSpec, type AnyDataSpec, type AnyModelSpec, type DataSpec, type ModelSpec, type ResolvedModelSpec, type RunConfig } from './config-types.js';
import { describeCatalog, optimizerCatalog, type OptimizerEntry } from './optimizers.js';
import {
  discoverPluginNames, loadInstalledPlugins, loadPluginModule, type LoadedPluginModule, PluginLoadError,
} from './plugins.js';
import { ConfigError, type ConfigProblem } from './problems.js';
import { checkAgainst } from './schemas.js';
import { RUN_CONFIG_JSON_SCHEMA } from './run-config-schema.js';
import { configSizeProblem, layerCountProblem, textDepthProblem, valueDepthProblem } from './limits.js';
import { checkSavedModel, type SavedModelCheck } from './saved-model.js';
import { checkModel, trainingFlops, type DataShape } from './shapes.js';
import { checkModuleFile } from './stream-data.js';

/** The run config's schema (its copy schemas/run-config.schema.json is for editors' `$schema`). */
export function runConfigSchema(): object {
  return RUN_CONFIG_JSON_SCHEMA;
}

/** A config that passed every check, with what it refers to already resolved. */
export interface ResolvedConfig {
  /** The config as validated; a saved model's `loss` filled in from its trainingConfig when the config leaves it out. */
  config: RunConfig<ResolvedModelSpec, AnyDataSpec>;
  /** Named in messages: the config file, or "demo config". */
  source: string;
  /** Folder that relative paths in the config resolve against. */
  baseDir: string;
  optimizer: OptimizerEntry;
  plugins: { module: LoadedPluginModule; options: unknown }[];
  /**
   * Per-sample input shape and class count of the data; null for a streamed source (`data.source:
   * "module"`), whose shapes are known once the runner opens the stream (checked then, before any work).
   */
  data: DataShape | null;
  /**
   * Per-sample output shape of the model; null for a saved model, whose output shape is known once
   * tfjs has built it (the runner reads it from the model and checks it before any work).
   */
  outputShape: number[] | null;
  /** Estimated FLOPs per training step (lets backend selection consider webgpu for big models); for a saved model a lower bound. */
  flopsPerStep: number;
  /** `model.saved`: the saved model as checked from its files. */
  saved?: SavedModelCheck;
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
    const size = configSizeProblem(fs.statSync(abs).size);
    if (size) throw new ConfigError(abs, [size]);
    text = fs.readFileSync(abs, 'utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const message = code === 'ENOENT' ? 'file not found: expected a JSON run config here'
      : code === 'EISDIR' ? 'is a folder, expected a JSON run config (a file)'
        : code === 'EACCES' || code === 'EPERM' ? 'permission denied: cannot read the config' : (e as Error).message;
    throw new ConfigError(abs, [{ pointer: '', message }]);
  }
  const tooDeep = textDepthProblem(text);
  if (tooDeep) throw new ConfigError(abs, [tooDeep]);
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
  // Limits first: everything after walks the whole config.
  const count = layerCountProblem(raw);
  const limit = count ?? valueDepthProblem(raw);
  if (limit) throw new ConfigError(opts.source, [limit]);
  const problems = checkAgainst(runConfigSchema(), raw);
  if (!isObj(raw)) throw new ConfigError(opts.source, problems);
  const cfg = raw as unknown as RunConfig<AnyModelSpec, AnyDataSpec>;

  const optimizer = await checkOptimizer(raw.optimizer, opts.cwd, problems);
  const plugins = await checkPlugins(raw.plugins, opts.cwd, problems);

  let data: DataShape | null = null;
  let outputShape: number[] | null = null;
  const dataOk = isObj(raw.data) && !hasProblemUnder(problems, '/data');
  const streamed = dataOk && isModuleData(cfg.data);
  if (dataOk && isModuleData(cfg.data)) {
    checkModuleFile(cfg.data, opts.baseDir, problems);
    if (cfg.shuffle === true) {
      problems.push({ pointer: '/shuffle', message: 'true has no effect on a streamed source (data.source "module"): the stream\'s order is its own; shuffle in the pipeline (the export receives seed) and leave shuffle out' });
    }
  } else if (dataOk && !isModuleData(cfg.data)) {
    data = checkDataFiles(cfg.data, opts.baseDir, problems);
    if (cfg.validation && cfg.data.source === 'idx' && !cfg.data.testImages) {
      problems.push({ pointer: '/validation', message: 'true needs test data: set data.testImages and data.testLabels (or turn validation off)' });
    }
  }
  // A saved model's files are checked even when the data is not (they are independent).
  let saved: SavedModelCheck | null = null;
  const modelOk = isObj(raw.model) && !hasProblemUnder(problems, '/model');
  if (modelOk && isSavedModelSpec(cfg.model)) {
    saved = checkSavedModel(cfg.model, opts.baseDir, data, dataOk && !isModuleData(cfg.data) ? cfg.data.target : undefined, problems);
  } else if (modelOk && dataOk) {
    outputShape = checkModel(cfg.model as ModelSpec, isModuleData(cfg.data) ? {} : cfg.data, data, problems);
  }
  if (isObj(raw.output) && typeof raw.output.dir === 'string') checkOutputDir(path.resolve(opts.baseDir, raw.output.dir), problems);
  if (problems.length > 0 || !optimizer || !(data || streamed) || !(outputShape || saved)) throw new ConfigError(opts.source, problems);
  if (saved) {
    return {
      config: { ...cfg, model: { ...cfg.model, loss: saved.loss } }, source: opts.source, baseDir: opts.baseDir, optimizer, plugins, data,
      outputShape: null, flopsPerStep: 3 * saved.flopsPerSample * cfg.batchSize, saved,
    };
  }
  const config = cfg as RunConfig<ModelSpec, AnyDataSpec>;
  return {
    config, source: opts.source, baseDir: opts.baseDir, optimizer, plugins, data, outputShape,
    flopsPerStep: trainingFlops(config.model, config.batchSize),
  };
}

/**
 * output.dir (resolved against the config's folder) must be a folder, or a path that can become
 * one: the nearest part of it that exists must be a writable folder.
 */
function checkOutputDir(dir: string, problems: ConfigProblem[]): void {
  let existing = dir;
  while (!fs.existsSync(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
  const st = fs.statSync(existing);
  if (!st.isDirectory()) {
    problems.push({
      pointer: '/output/dir',
      message: existing === dir ? `${dir} is a file; expected a folder to hold run folders (or a path that does not exist yet)`
        : `${dir} cannot be created: ${existing} is a file, not a folder`,
    });
    return;
  }
  try {
    fs.accessSync(existing, fs.constants.W_OK);
  } catch {
    problems.push({ pointer: '/output/dir', message: `${dir} cannot be written: ${existing} is not writable (read-only folder or filesystem?)` });
  }
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

/** A data file's problem as a config problem at `pointer`, in words (missing, a folder, corrupt gzip, not IDX…). */
function fileProblem(pointer: string, e: unknown): ConfigProblem {
  if (e instanceof DataFileError) return { pointer, message: e.message };
  throw e;
}

/**
 * Data files present and readable, the per-sample shape the data will have and how many training
 * samples there are (after data.limit), from headers and sizes: the values are read when the run loads them.
 */
function checkDataFiles(data: DataSpec, baseDir: string, problems: ConfigProblem[]): DataShape | null {
  const abs = (p: string) => path.resolve(baseDir, p);
  const limited = (n: number) => (data.limit === undefined ? n : Math.min(n, data.limit));
  const flat = (shape: number[], origin: string, count: number): DataShape => data.flatten
    ? { shape: [shape.reduce((a, b) => a * b, 1)], numClasses: 10, origin: `${origin} with flatten: true`, samples: limited(count) }
    : { shape, numClasses: 10, origin, samples: limited(count) };
  switch (data.source) {
    case 'mnist': {
      let train: { imagesPath: string; labelsPath: string };
      const pointer = data.dir !== undefined ? '/data/dir' : '/data/source';
      if (data.dir !== undefined) {
        const dir = abs(data.dir);
        if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) {
          problems.push({ pointer, message: `${dir} is a file; expected a folder of MNIST-format files (train-images-idx3-ubyte, …)` });
          return null;
        }
        train = mnistPaths(dir, 'train');
        const missing = [train.imagesPath, train.labelsPath].filter((f) => !fs.existsSync(f));
        if (missing.length) {
          problems.push({ pointer, message: `expected MNIST-format files in ${dir}, missing: ${missing.map((m) => path.basename(m)).join(', ')}` });
          return null;
        }
      } else {
        try {
          train = mnistDefaultPaths().train;
        } catch (e) {
          problems.push({ pointer, message: (e as Error).message });
          return null;
        }
      }
      try {
        const images = peekIdx(train.imagesPath, 'MNIST images file');
        const labels = peekIdx(train.labelsPath, 'MNIST labels file');
        if (images.shape.length !== 3 || labels.shape.length !== 1) {
          const bad = images.shape.length !== 3 ? images : labels;
          problems.push({ pointer, message: `${bad.path}: expected ${bad === images ? '3-D N×H×W images (IDX magic 0x00000803)' : '1-D labels (IDX magic 0x00000801)'}, got [${bad.shape.join(', ')}]` });
          return null;
        }
        return flat([28, 28, 1], 'mnist gives 28×28×1 images', images.shape[0]);
      } catch (e) {
        problems.push(fileProblem(pointer, e));
        return null;
      }
    }
    case 'cifar10': {
      const dir = abs(data.dir);
      if (!fs.existsSync(dir)) {
        problems.push({ pointer: '/data/dir', message: `folder not found: ${dir}; expected the CIFAR-10 binary folder (${CIFAR10_FILES.train[0]}, …)` });
        return null;
      }
      if (!fs.statSync(dir).isDirectory()) {
        problems.push({ pointer: '/data/dir', message: `${dir} is a file; expected the CIFAR-10 binary folder (${CIFAR10_FILES.train[0]}, …)` });
        return null;
      }
      return flat([32, 32, 3], 'cifar10 gives 32×32×3 images', cifarCount(dir));
    }
    case 'idx': {
      let shape: number[] | null = null;
      let count = 0;
      const expected = { trainImages: 3, trainLabels: 1, testImages: 3, testLabels: 1 } as const;
      for (const key of ['trainImages', 'trainLabels', 'testImages', 'testLabels'] as const) {
        const f = data[key];
        if (f === undefined) continue;
        if (!fs.existsSync(abs(f))) {
          problems.push({ pointer: `/data/${key}`, message: `file not found: ${abs(f)}` });
          continue;
        }
        const what = key.endsWith('Images') ? 'IDX images file' : 'IDX labels file';
        try {
          const head = peekIdx(abs(f), what);
          if (head.shape.length !== expected[key]) {
            problems.push({
              pointer: `/data/${key}`,
              message: `${head.path} is not an ${what}: expected ${expected[key] === 3 ? 'an N×H×W IDX header (magic 0x00000803)' : 'an N IDX header (magic 0x00000801)'}, got ${head.shape.length} dimensions [${head.shape.join(', ')}]`,
            });
            continue;
          }
          if (key === 'trainImages') {
            shape = [head.shape[1], head.shape[2], 1];
            count = head.shape[0];
          }
        } catch (e) {
          problems.push(fileProblem(`/data/${key}`, e));
        }
      }
      return shape ? flat(shape, `the IDX images are ${shape[0]}×${shape[1]}×1`, count) : null;
    }
  }
}

/** Training records in a CIFAR-10 folder, from the batch files' sizes (gzipped batches are read). */
function cifarCount(dir: string): number {
  const nested = path.join(dir, 'cifar-10-batches-bin');
  const folder = !fs.existsSync(path.join(dir, CIFAR10_FILES.train[0])) && fs.existsSync(nested) ? nested : dir;
  let n = 0;
  for (const name of CIFAR10_FILES.train) {
    const f = path.join(folder, name);
    if (!fs.existsSync(f) || fs.statSync(f).isDirectory()) continue; // the loader names what is missing
    try {
      const magic = Buffer.alloc(2);
      const fd = fs.openSync(f, 'r');
      try { fs.readSync(fd, magic, 0, 2, 0); } finally { fs.closeSync(fd); }
      n += Math.floor((isGzip(magic) ? readBytes(f, 'CIFAR-10 batch').bytes.length : fs.statSync(f).size) / CIFAR_RECORD);
    } catch { /* the loader reports it */ }
  }
  return n;
}
