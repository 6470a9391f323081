/**
 * A config's streamed data (`data.source: "module"`): the user's ES module is imported, its export
 * called with `{ tf, seed, batchSize }` (tf: this process's own @tensorflow/tfjs-core, so there is
 * one tfjs), and what it returns — a `tf.data.Dataset`-like of `{ xs, ys }` batches, or
 * `{ train, validation? }` of them — is opened and its first batch checked before any work. The
 * run then trains with `Trainer.fitDataset` on it, one batch at a time; plugins that draw samples
 * (the activation probe set) read passes of their own over it (`run.inputs`, `streamSamples`).
 *
 * Nothing here holds more than one training batch: the first batch, read for the checks, is handed
 * back to the training as the first batch of its first iterator (no second read, no extra
 * `iterator()` call). Only a validation stream is read into memory (Trainer's `validationData` are tensors).
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { batchTensors, isDatasetLike, knownSize, type BatchIterator, type DatasetLike } from '../stream/dataset.js';
import type { ModuleDataSpec } from './config-types.js';
import { sha256File, type DataFileRecord } from './data.js';
import type { ConfigProblem } from './problems.js';

/** What run.json records of a streamed source (`stream`). */
export interface StreamRecord {
  /** The module file (absolute) and the export called. Its sha256 is in `dataFiles` (split "module"). */
  module: string;
  export: string;
  /** Per-sample shapes of the first batch's xs and ys, and its size. */
  xs: number[];
  ys: number[];
  batchSize: number;
  /** Batches per epoch and where that number comes from. */
  batchesPerEpoch: number;
  batchesPerEpochFrom: 'data.batchesPerEpoch' | 'dataset size' | 'counted';
  /** Samples in one pass, when a counting pass read them (else unknown: null). */
  samples: number | null;
  /** Samples of the validation stream (read into memory), or null without validation. */
  validationSamples: number | null;
  /** Batches read and dropped before training, to continue a resumed run where its stream was. */
  skipped: number;
}

/** A problem of the data module, at a config pointer. */
export class StreamDataError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map((p) => `${p.pointer}: ${p.message}`).join('\n'));
    this.name = 'StreamDataError';
  }
}

export interface OpenOptions {
  seed: number;
  batchSize: number;
  /** config `validation`: the module must return `{ train, validation }`. */
  validation: boolean;
  /** Batches to read and drop first (a resumed run with data.batchesPerEpoch). */
  skipBatches: number;
}

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;
const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object') {
    const keys = Object.keys(v);
    return keys.length ? `an object with keys ${keys.slice(0, 6).join(', ')}${keys.length > 6 ? ', …' : ''} but no iterator()` : 'an empty object';
  }
  return `a ${typeof v} (${String(v).slice(0, 40)})`;
}

/** Every tensor of this tfjs in a stream element that cannot be used (it is ours to release). */
function disposeElement(value: unknown): void {
  const found: tf.Tensor[] = [];
  const visit = (v: unknown, depth: number) => {
    if (v instanceof tf.Tensor) found.push(v);
    else if (depth < 3 && Array.isArray(v)) v.forEach((x) => visit(x, depth + 1));
    else if (depth < 3 && isObj(v)) Object.values(v).forEach((x) => visit(x, depth + 1));
  };
  visit(value, 0);
  tf.dispose(found.filter((t) => !t.isDisposed));
}

/**
 * Something that looks like a tensor (shape, dtype, dataId) but is not one to this tfjs (whose
 * `instanceof Tensor` is duck-typed, so tensors of a compatible second copy pass): a plain object,
 * or a tensor of an incompatible tfjs.
 */
function foreignTensor(v: unknown): boolean {
  const all = v instanceof tf.Tensor ? [] : Array.isArray(v) ? v : isObj(v) ? Object.values(v) : [];
  const looks = (t: unknown) => isObj(t) && Array.isArray(t.shape) && 'dataId' in t && typeof t.dtype === 'string' && !(t instanceof tf.Tensor);
  return looks(v) || all.some(looks);
}

/**
 * The streamed data of a run, opened: the stream the trainer reads (its first iterator is the one
 * the checks opened, with the first batch pushed back), the first batch's shapes, the module's
 * provenance, and the validation tensors when asked for.
 */
export class OpenedStream {
  /** What `Trainer.fitDataset` reads. */
  readonly train: DatasetLike;
  batchesPerEpoch: number | null;
  batchesPerEpochFrom: StreamRecord['batchesPerEpochFrom'] | null;
  samples: number | null = null;
  private first: { it: BatchIterator<unknown>; pending: IteratorResult<unknown> | null } | null;
  private counted: number | null = null;

  constructor(
    readonly spec: ModuleDataSpec,
    readonly file: DataFileRecord,
    readonly exportName: string,
    private readonly inner: DatasetLike,
    it: BatchIterator<unknown>,
    pending: IteratorResult<unknown>,
    /** Per-sample shapes and size of the first batch. */
    readonly xs: number[], readonly ys: number[], readonly batchSize: number,
    readonly validation: { x: tf.Tensor; y: tf.Tensor } | null,
    readonly skipped: number,
  ) {
    this.first = { it, pending };
    const size = knownSize(inner);
    this.batchesPerEpoch = spec.batchesPerEpoch ?? size;
    this.batchesPerEpochFrom = spec.batchesPerEpoch !== undefined ? 'data.batchesPerEpoch' : size !== null ? 'dataset size' : null;
    const self = this;
    this.train = {
      get size() { return self.counted ?? inner.size; },
      iterator: async () => {
        const f = self.first;
        if (!f) return inner.iterator();
        self.first = null;
        return {
          next: async () => {
            if (f.pending) {
              const r = f.pending;
              f.pending = null;
              return r;
            }
            return f.it.next();
          },
        } as BatchIterator;
      },
    };
  }

  /** Where messages point: the module and its export. */
  get where(): string {
    return `${this.file.path} (export "${this.exportName}")`;
  }

  /**
   * Batches per epoch when neither data.batchesPerEpoch nor the dataset's size says: one counting
   * pass of its own (a fresh iterator, each batch disposed once counted), before any work.
   */
  async plan(): Promise<void> {
    if (this.batchesPerEpoch !== null) return;
    let batches = 0;
    let samples = 0;
    try {
      const it = await this.inner.iterator();
      for (;;) {
        const r = await it.next();
        if (r.done) break;
        const { x, y } = batchTensors(r.value);
        samples += x.shape[0];
        batches += 1;
        tf.dispose([x, y]);
      }
    } catch (e) {
      throw new StreamDataError([{ pointer: '/data/export', message: `${this.where}: counting one pass of the stream (its size is unknown and data.batchesPerEpoch is not set) failed: ${firstLine(e)}` }]);
    }
    this.counted = batches;
    this.samples = samples;
    this.batchesPerEpoch = batches;
    this.batchesPerEpochFrom = 'counted';
  }

  /** Training samples per epoch for plugins' plans: counted, else batches × batch size (an upper bound). */
  get plannedSamples(): number {
    return this.samples ?? (this.batchesPerEpoch ?? 0) * this.batchSize;
  }

  record(): StreamRecord {
    return {
      module: this.file.path, export: this.exportName, xs: [...this.xs], ys: [...this.ys], batchSize: this.batchSize,
      batchesPerEpoch: this.batchesPerEpoch ?? 0, batchesPerEpochFrom: this.batchesPerEpochFrom ?? 'counted', samples: this.samples,
      validationSamples: this.validation ? this.validation.x.shape[0] : null, skipped: this.skipped,
    };
  }

  description(baseDir: string): string {
    const rel = path.relative(baseDir, this.file.path) || this.file.path;
    const per = `${this.batchesPerEpoch} batches per epoch (${this.batchesPerEpochFrom === 'data.batchesPerEpoch' ? 'data.batchesPerEpoch, one iterator across epochs' : this.batchesPerEpochFrom === 'dataset size' ? 'the dataset\'s size, one pass per epoch' : 'counted in one pass, one pass per epoch'})`;
    return `module ${rel} (export "${this.exportName}", streamed) batches of ${this.batchSize} × ${fmt(this.xs)} → ${fmt(this.ys)}, ${per}` +
      (this.validation ? `, validation ${this.validation.x.shape[0]}` : '');
  }

  /** Release the first batch if training never took it, and the validation tensors. */
  dispose(): void {
    const p = this.first?.pending;
    this.first = null;
    if (p && !p.done) {
      try {
        const { x, y } = batchTensors(p.value);
        tf.dispose([x, y]);
      } catch { /* not tensors: nothing to release */ }
    }
    if (this.validation) tf.dispose([this.validation.x, this.validation.y]);
  }
}

/** The module file as it is at validation: present and a file (before any work, with the config's other problems). */
export function checkModuleFile(spec: ModuleDataSpec, baseDir: string, problems: ConfigProblem[]): void {
  const file = path.resolve(baseDir, spec.path);
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    problems.push({
      pointer: '/data/path',
      message: (e as NodeJS.ErrnoException).code === 'ENOENT'
        ? `file not found: ${file}; expected an ES module whose export returns a tf.data.Dataset of { xs, ys } batches`
        : `${file}: cannot read: ${firstLine(e)}`,
    });
    return;
  }
  if (!st.isFile()) problems.push({ pointer: '/data/path', message: `${file} is a folder; expected an ES module file (.mjs, or .js in a "type": "module" package)` });
}

/** The module's export, imported by its content's hash (a changed file is imported afresh in a long-lived process). */
async function loadExport(spec: ModuleDataSpec, file: string, sha256: string): Promise<{ fn: (arg: unknown) => unknown; name: string }> {
  const name = spec.export ?? 'default';
  let mod: Record<string, unknown>;
  try {
    mod = await import(/* @vite-ignore */ `${pathToFileURL(file).href}?sha256=${sha256}`) as Record<string, unknown>;
  } catch (e) {
    throw new StreamDataError([{ pointer: '/data/path', message: `${file} failed to load: ${firstLine(e)}` }]);
  }
  if (!(name in mod)) {
    const names = Object.keys(mod);
    throw new StreamDataError([{
      pointer: '/data/export',
      message: `${file} has no export "${name}"; its exports: ${names.length ? names.join(', ') : 'none'}`,
    }]);
  }
  const fn = mod[name];
  if (typeof fn !== 'function') {
    throw new StreamDataError([{
      pointer: '/data/export',
      message: `${file}: export "${name}" is ${describe(fn).replace(/ but no iterator\(\)$/, '')}; expected a function ({ tf, seed, batchSize }) => a tf.data.Dataset of { xs, ys } batches (or { train, validation? })`,
    }]);
  }
  return { fn: fn as (arg: unknown) => unknown, name };
}

/**
 * Import the module, call its export and open the stream: its first batch (after `skipBatches`)
 * checked to be `{ xs, ys }` of this tfjs, and the validation stream read when asked for. Throws
 * StreamDataError naming the field and the file; nothing is left allocated then.
 */
export async function openStreamData(spec: ModuleDataSpec, baseDir: string, o: OpenOptions): Promise<OpenedStream> {
  const file = path.resolve(baseDir, spec.path);
  const pathProblems: ConfigProblem[] = [];
  checkModuleFile(spec, baseDir, pathProblems);
  if (pathProblems.length) throw new StreamDataError(pathProblems);
  const record: DataFileRecord = { split: 'module', path: file, bytes: fs.statSync(file).size, sha256: sha256File(file) };
  const { fn, name } = await loadExport(spec, file, record.sha256);
  const where = `${file} (export "${name}")`;
  const fail = (message: string, pointer = '/data/export'): never => { throw new StreamDataError([{ pointer, message: `${where}: ${message}` }]); };

  let result: unknown;
  try {
    result = await fn({ tf, seed: o.seed, batchSize: o.batchSize });
  } catch (e) {
    fail(`the function threw: ${firstLine(e)}`);
  }
  let train: DatasetLike;
  let validationDs: DatasetLike | null = null;
  if (isDatasetLike(result)) {
    train = result;
  } else if (isObj(result) && 'train' in result) {
    if (!isDatasetLike(result.train)) fail(`returned { train } whose train is ${describe(result.train)}; expected a tf.data.Dataset (anything with iterator()) of { xs, ys } batches`);
    train = result.train as DatasetLike;
    if (result.validation !== undefined && result.validation !== null) {
      if (!isDatasetLike(result.validation)) fail(`returned { validation } that is ${describe(result.validation)}; expected a tf.data.Dataset of { xs, ys } batches`);
      validationDs = result.validation as DatasetLike;
    }
  } else {
    fail(`returned ${describe(result)}; expected a tf.data.Dataset (anything with iterator()) of { xs, ys } batches, or { train, validation? } of them`);
  }
  if (o.validation && !validationDs) {
    fail('returned no validation stream; expected { train, validation } (or set validation to false)', '/validation');
  }
  if (train!.size === Infinity && spec.batchesPerEpoch === undefined) {
    fail('the stream is endless (size Infinity, e.g. repeat()); set data.batchesPerEpoch to say how many batches make an epoch', '/data/batchesPerEpoch');
  }

  /** The tensors of one element, or a problem naming what is wrong with it. */
  const tensorsOf = (value: unknown, what: string): { x: tf.Tensor; y: tf.Tensor } => {
    const v = value as { xs?: unknown; ys?: unknown } | null;
    if (isObj(v) && (foreignTensor(v.xs) || foreignTensor(v.ys))) {
      disposeElement(value);
      fail(`${what} holds something shaped like a tensor that is not a tensor of this tfjs (a plain object, or a tensor of another, incompatible @tensorflow/tfjs-core the module or a library it imports loaded); build the data with the \`tf\` the export receives: ({ tf }) => …`);
    }
    try {
      return batchTensors(value);
    } catch (e) {
      disposeElement(value);
      return fail(`${what}: ${firstLine(e)}`);
    }
  };

  let it: BatchIterator<unknown>;
  try {
    it = await train!.iterator();
  } catch (e) {
    return fail(`iterator() failed: ${firstLine(e)}`);
  }
  const next = async (what: string): Promise<IteratorResult<unknown>> => {
    try {
      return await it.next();
    } catch (e) {
      return fail(`reading ${what} failed: ${firstLine(e)}`);
    }
  };
  // A resumed run with batchesPerEpoch: the batches already trained are read and dropped, one at a time.
  for (let b = 0; b < o.skipBatches; b++) {
    const r = await next(`batch ${b + 1} (skipping the ${o.skipBatches} batches the run already trained)`);
    if (r.done) {
      fail(`the stream ended after ${b} batches, but the resumed run continues after the ${o.skipBatches} it already trained (data.batchesPerEpoch ${spec.batchesPerEpoch} × the epochs done)`, '/data/batchesPerEpoch');
    }
    const { x, y } = tensorsOf(r.value, `batch ${b + 1}`);
    tf.dispose([x, y]);
  }
  const first = await next('the first batch');
  if (first.done) fail(o.skipBatches ? `the stream yielded no batch after the ${o.skipBatches} skipped` : 'the stream yielded no batch; expected { xs, ys } batches');
  const { x, y } = tensorsOf(first.value, 'the first batch');
  const xs = x.shape.slice(1);
  const ys = y.shape.slice(1);
  const batchSize = x.shape[0];

  let validation: { x: tf.Tensor; y: tf.Tensor } | null = null;
  if (o.validation && validationDs) {
    try {
      validation = await readValidation(validationDs, xs, ys, tensorsOf, fail);
    } catch (e) {
      tf.dispose([x, y]);
      throw e;
    }
  }
  return new OpenedStream(spec, record, name, train!, it, first, xs, ys, batchSize, validation, o.skipBatches);
}

/** The validation stream, all of it, as two tensors (one pass, batch by batch; each batch's shapes as the training's). */
async function readValidation(ds: DatasetLike, xs: number[], ys: number[],
  tensorsOf: (v: unknown, what: string) => { x: tf.Tensor; y: tf.Tensor }, fail: (m: string, p?: string) => never): Promise<{ x: tf.Tensor; y: tf.Tensor }> {
  if (ds.size === Infinity) fail('the validation stream is endless (size Infinity); expected a finite dataset (it is read once per epoch)', '/validation');
  const px: tf.Tensor[] = [];
  const py: tf.Tensor[] = [];
  try {
    const it = await ds.iterator();
    for (let b = 1; ; b++) {
      const r = await it.next();
      if (r.done) break;
      const { x, y } = tensorsOf(r.value, `validation batch ${b}`);
      px.push(x);
      py.push(y);
      if (fmt(x.shape.slice(1)) !== fmt(xs) || fmt(y.shape.slice(1)) !== fmt(ys)) {
        fail(`validation batch ${b} has xs ${fmt(x.shape)}, ys ${fmt(y.shape)}; expected per-sample shapes ${fmt(xs)} and ${fmt(ys)}, as the training stream's`, '/validation');
      }
    }
    if (px.length === 0) fail('the validation stream yielded no batch', '/validation');
    return { x: tf.concat(px), y: tf.concat(py) };
  } catch (e) {
    if (e instanceof StreamDataError) throw e;
    return fail(`reading the validation stream failed: ${firstLine(e)}`, '/validation');
  } finally {
    tf.dispose([...px, ...py]);
  }
}

/**
 * The first batch against the model: xs per sample as the model's input, ys per sample as its
 * output (the loss compares them elementwise), its size as `batchSize`. Appends problems.
 */
export function checkStreamAgainstModel(s: OpenedStream, model: { input: number[]; output: number[]; inputFrom: string },
  loss: string, batchSize: number, problems: ConfigProblem[]): void {
  const hint = (got: number[], want: number[]) => (got.reduce((a, b) => a * b, 1) === want.reduce((a, b) => a * b, 1) ? ' (same size: reshape in the pipeline)' : '');
  if (fmt(s.xs) !== fmt(model.input)) {
    problems.push({
      pointer: '/data/export',
      message: `${s.where}: the first batch's xs has shape ${fmt([s.batchSize, ...s.xs])} (${fmt(s.xs)} per sample), but the model takes ${fmt(model.input)} per sample (${model.inputFrom})${hint(s.xs, model.input)}`,
    });
  }
  if (fmt(s.ys) !== fmt(model.output)) {
    problems.push({
      pointer: '/data/export',
      message: `${s.where}: the first batch's ys has shape ${fmt([s.batchSize, ...s.ys])} (${fmt(s.ys)} per sample), but the model outputs ${fmt(model.output)} per sample; ` +
        `expected ys of shape ${fmt(['batch' as unknown as number, ...model.output])} (${loss === 'softmaxCrossEntropy' ? 'one-hot classes for loss "softmaxCrossEntropy"' : `loss "${loss}" compares them elementwise`})${hint(s.ys, model.output)}`,
    });
  }
  if (s.batchSize !== batchSize) {
    problems.push({
      pointer: '/batchSize',
      message: `is ${batchSize} but the first batch of ${s.where} has ${s.batchSize} samples; expected the stream's batch size (the export receives batchSize to batch with)`,
    });
  }
}
