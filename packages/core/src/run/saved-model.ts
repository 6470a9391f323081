/**
 * A tfjs Layers model the user saved with `model.save('file://<folder>')` — model.json (topology,
 * format "layers-model", weightsManifest) and the binary weight files its manifest names — used as
 * a run's model instead of a built-in spec.
 *
 * Checked from the files alone when the config is validated (file present, JSON, a Layers model,
 * every weight file present and exactly as long as the manifest says, the input shape against the
 * data, a loss), then loaded without tfjs-node: an IOHandler reads the files from disk and
 * `tf.loadLayersModel` builds the model. The files read are copied into the run folder
 * (`saved-model/`) so the run can be recomputed from the folder alone.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { writeFileAtomic } from '../store/atomic.js';
import type { RunDir } from '../store/run-dir.js';
import type { LossName, SavedModelSpec } from './config-types.js';
import type { ConfigProblem } from './problems.js';
import type { DataShape } from './shapes.js';
import { SAVED_MODEL_DIR } from './store.js';

/** model.json is topology and manifest only (weights are in their own files): a generous cap. */
export const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;

/** Bytes per value of each weight dtype, and of each quantized storage dtype (as tfjs decodes them). */
const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };
const QUANT_BYTES: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };

/** Loss names a saved trainingConfig may carry (tfjs's, Keras's), as the run config names them. */
const LOSS_ALIASES: Record<string, LossName> = {
  mse: 'mse', meanSquaredError: 'mse', mean_squared_error: 'mse', MeanSquaredError: 'mse',
  softmaxCrossEntropy: 'softmaxCrossEntropy', categoricalCrossentropy: 'softmaxCrossEntropy',
  categorical_crossentropy: 'softmaxCrossEntropy', CategoricalCrossentropy: 'softmaxCrossEntropy',
};

interface WeightSpec { name: string; shape: number[]; dtype: string; group?: string; quantization?: { dtype: string } }

/** One weight file of the manifest: where the manifest says (relative to model.json's folder) and on disk. */
export interface SavedWeightsFile {
  /** Normalised relative path (`weights.bin`, `shards/group1-shard1of2.bin`). */
  rel: string;
  abs: string;
  /** Size on disk when checked. */
  bytes: number;
}

/** A saved model as checked from its files, before tfjs sees it. */
export interface SavedModelCheck {
  /** Absolute path of model.json. */
  file: string;
  /** The parsed model.json. */
  json: Record<string, unknown>;
  /** Keras topology (a converter's `model_config` unwrapped). */
  topology: Record<string, unknown>;
  /** Weight files in manifest order (groups, then paths). */
  files: SavedWeightsFile[];
  /** Per-sample input shape read from the topology; null where it cannot be read without building the model. */
  inputShape: number[] | null;
  /** The loss to train with, and where it came from. */
  loss: LossName;
  lossFrom: 'config' | 'trainingConfig';
  /** Values of the model's weights (optimizer weights left out). */
  parameters: number;
  /** Lower bound of the FLOPs per sample of one training step (exact for Dense layers). */
  flopsPerSample: number;
}

/** A file of the saved model as the run read it. */
export interface SavedModelFileRecord {
  path: string;
  bytes: number;
  sha256: string;
}

/** What run.json (`model.saved`) and trace/index.json (`saved`) record of a saved model. */
export interface SavedModelRecord {
  /** The model.json the config named, as an absolute path, when the run started. */
  source: string;
  /** The copy of model.json that the run trained from (its weight files beside it). */
  modelJson: string;
  /** model.json then every weight file, as read: path of the copy, size, sha256. */
  files: SavedModelFileRecord[];
}

export interface LoadedSavedModel {
  model: tfl.LayersModel;
  check: SavedModelCheck;
  /** Bytes read, by path relative to model.json's folder (`model.json` for model.json itself). */
  contents: Map<string, Uint8Array>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function errnoMessage(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (e as Error).message;
}

/** tfjs's and Keras's ways of naming the loss (a name, a one-output list or map, a Keras loss object) → one name. */
function lossNameOf(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.length === 1 ? lossNameOf(v[0]) : null;
  if (isObj(v)) {
    if (typeof v.class_name === 'string') return v.class_name;
    const values = Object.values(v);
    return values.length === 1 ? lossNameOf(values[0]) : null;
  }
  return null;
}

/** Per-sample input shape from a Keras/tfjs topology, when it says it (Sequential's first layer, a functional model's one input). */
function staticInputShape(topology: Record<string, unknown>): number[] | null {
  const cfg = topology.config;
  const layers = Array.isArray(cfg) ? cfg : isObj(cfg) ? cfg.layers : undefined;
  if (!Array.isArray(layers) || layers.length === 0) return null;
  const shapeOf = (layer: unknown): unknown[] | null => {
    const c = isObj(layer) && isObj(layer.config) ? layer.config : {};
    const batch = c.batch_input_shape ?? c.batchInputShape ?? c.batch_shape;
    if (Array.isArray(batch)) return batch.slice(1);
    const input = c.input_shape ?? c.inputShape;
    return Array.isArray(input) ? input : null;
  };
  let shape: unknown[] | null = null;
  if (topology.class_name === 'Sequential') {
    shape = shapeOf(layers[0]);
  } else if (isObj(cfg) && Array.isArray(cfg.input_layers) && cfg.input_layers.length === 1 && Array.isArray(cfg.input_layers[0])) {
    const name = cfg.input_layers[0][0];
    const layer = layers.find((l) => isObj(l) && (l.name ?? (isObj(l.config) ? l.config.name : undefined)) === name);
    shape = layer ? shapeOf(layer) : null;
  }
  return shape && shape.length > 0 && shape.every((d) => Number.isInteger(d) && (d as number) > 0) ? shape as number[] : null;
}

/** A weight path of the manifest, relative to model.json's folder and inside it; null if it is not. */
function normaliseRel(p: string): string | null {
  if (p.length === 0 || path.isAbsolute(p) || path.win32.isAbsolute(p) || /^[a-z][a-z0-9+.-]*:/i.test(p)) return null;
  const rel = path.posix.normalize(p.replace(/\\/g, '/'));
  if (rel === '.' || rel === '..' || rel.startsWith('../')) return null;
  return rel;
}

/**
 * Check a saved model from its files: everything that can be known without building it. Appends
 * problems (pointer `/model/saved`, or `/model/loss` for the loss) and returns null when there is one.
 */
export function checkSavedModel(spec: SavedModelSpec, baseDir: string, data: DataShape | null, target: 'labels' | 'input' | undefined,
  problems: ConfigProblem[]): SavedModelCheck | null {
  const at = '/model/saved';
  const file = path.resolve(baseDir, spec.saved);
  const fail = (message: string, pointer = at): null => { problems.push({ pointer, message }); return null; };
  const what = "the model.json of a tfjs Layers model (what model.save('file://<folder>') writes)";

  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? fail(`file not found: ${file}; expected ${what}`) : fail(`${file}: cannot read: ${errnoMessage(e)}`);
  }
  if (st.isDirectory()) {
    const inside = path.join(file, 'model.json');
    return fail(fs.existsSync(inside) ? `${file} is a folder; expected the model.json in it: ${inside}` : `${file} is a folder; expected ${what}`);
  }
  if (st.size > MAX_MODEL_JSON_BYTES) {
    return fail(`${file}: ${st.size} bytes; a model.json may have at most ${MAX_MODEL_JSON_BYTES} (weights belong in the files of its weightsManifest) (limit: model.json size)`);
  }
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    return e instanceof SyntaxError ? fail(`${file}: not valid JSON (${e.message}); expected ${what}`) : fail(`${file}: cannot read: ${errnoMessage(e)}`);
  }
  if (!isObj(json)) return fail(`${file}: expected a JSON object with modelTopology and weightsManifest, got ${Array.isArray(json) ? 'an array' : json === null ? 'null' : `a ${typeof json}`}`);
  if (json.format !== undefined && json.format !== 'layers-model') {
    return fail(`${file}: format ${JSON.stringify(json.format)} is not a Layers model; expected "layers-model" (a tf.LayersModel saved with model.save)` +
      (json.format === 'graph-model' ? ': a graph model (tf.loadGraphModel) has no layers to train' : ''));
  }
  let topology = json.modelTopology;
  if (isObj(topology) && isObj(topology.model_config)) topology = topology.model_config;
  if (!isObj(topology)) return fail(`${file}: no modelTopology; expected ${what}`);
  if (typeof topology.class_name !== 'string' || !(isObj(topology.config) || Array.isArray(topology.config))) {
    return fail(`${file}: modelTopology has no class_name and config; expected a Keras-style Layers topology (format "layers-model")`);
  }
  const manifest = json.weightsManifest;
  if (!Array.isArray(manifest)) {
    return fail(`${file}: no weightsManifest; expected the list of weight files model.save writes (a topology without weights cannot be trained here)`);
  }

  // Weight files: present, inside the model's folder, each group exactly as long as its weights.
  const dir = path.dirname(file);
  const files: SavedWeightsFile[] = [];
  let parameters = 0;
  let flopsPerSample = 0;
  const before = problems.length;
  manifest.forEach((group: unknown, g) => {
    const where = `weightsManifest[${g}]`;
    if (!isObj(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      fail(`${file}: ${where} is not {paths, weights}; expected each manifest group to list its files and its weights`);
      return;
    }
    let expected = 0;
    for (const [w, spec] of (group.weights as unknown[]).entries()) {
      const s = spec as WeightSpec;
      const ok = isObj(spec) && typeof s.name === 'string' && Array.isArray(s.shape) && s.shape.every((d) => Number.isInteger(d) && d >= 0);
      const per = ok ? (s.quantization ? QUANT_BYTES[s.quantization.dtype] : DTYPE_BYTES[s.dtype]) : undefined;
      if (!ok || per === undefined) {
        fail(`${file}: ${where}.weights[${w}] ${ok ? `has dtype ${JSON.stringify(s.quantization ? s.quantization.dtype : s.dtype)}` : 'is not {name, shape, dtype}'}; expected a weight of dtype float32, int32 or bool (or uint8/uint16/float16 quantized)`);
        continue;
      }
      expected += size(s.shape) * per;
      if (s.group !== 'optimizer') {
        parameters += size(s.shape);
        if (s.shape.length >= 2) flopsPerSample += 2 * size(s.shape);
      }
    }
    let actual = 0;
    const names: string[] = [];
    for (const [i, p] of (group.paths as unknown[]).entries()) {
      const rel = typeof p === 'string' ? normaliseRel(p) : null;
      if (rel === null || rel === 'model.json') {
        fail(`${file}: ${where}.paths[${i}] ${JSON.stringify(p)} is not a file in the model's folder; expected a path relative to ${dir} and inside it, as model.save writes ("weights.bin")`);
        return;
      }
      const abs = path.join(dir, rel);
      let fst: fs.Stats;
      try {
        fst = fs.statSync(abs);
      } catch (e) {
        fail((e as NodeJS.ErrnoException).code === 'ENOENT'
          ? `weights file not found: ${abs} (${where}.paths[${i}] of ${file}); expected it beside model.json, as model.save writes it`
          : `${abs}: cannot read the weights file: ${errnoMessage(e)}`);
        return;
      }
      if (!fst.isFile()) {
        fail(`${abs} (${where}.paths[${i}] of ${file}) is not a file; expected a binary weights file`);
        return;
      }
      actual += fst.size;
      names.push(rel);
      files.push({ rel, abs, bytes: fst.size });
    }
    if (names.length === 0 && expected > 0) {
      fail(`${file}: ${where} lists ${group.weights.length} weight(s) but no files (paths is empty); expected the weights file model.save writes ("weights.bin")`);
    } else if (actual !== expected) {
      fail(`${names.map((n) => path.join(dir, n)).join(' + ')}: ${actual} bytes, but ${where} of ${file} describes ${group.weights.length} weight(s) of ${expected} bytes in all; ` +
        'expected the weights file model.save wrote with this model.json (truncated, or from another model?)');
    }
  });
  if (manifest.length > 0 && files.length === 0 && problems.length === before) {
    fail(`${file}: weightsManifest names no weight files; expected the files model.save writes`);
  }
  if (parameters === 0 && problems.length === before) fail(`${file}: the weightsManifest has no weights; a model without weights cannot train`);

  // The input shape the topology declares, against the data.
  const inputShape = staticInputShape(topology);
  if (inputShape && data && fmt(inputShape) !== fmt(data.shape)) {
    fail(`${file}: the model takes inputs of shape ${fmt(inputShape)} but the data gives ${fmt(data.shape)} (${data.origin}); expected a model whose input matches the data` +
      (size(inputShape) === size(data.shape) ? ` (set data.flatten to ${data.shape.length !== 1 ? 'true' : 'false'}?)` : ''));
  }

  // The loss: the config's, else the saved model's trainingConfig's.
  let loss: LossName | null = spec.loss ?? null;
  let lossFrom: SavedModelCheck['lossFrom'] = 'config';
  if (!loss) {
    const raw = (isObj(json.trainingConfig) ? json.trainingConfig.loss : undefined)
      ?? (isObj(json.modelTopology) && isObj(json.modelTopology.training_config) ? json.modelTopology.training_config.loss : undefined);
    lossFrom = 'trainingConfig';
    if (raw === undefined) {
      fail(`is required for this saved model: ${file} has no trainingConfig.loss (tfjs writes one only for a compiled model saved with {includeOptimizer: true}); expected "mse" or "softmaxCrossEntropy"`, '/model/loss');
    } else {
      const name = lossNameOf(raw);
      loss = name !== null ? LOSS_ALIASES[name] ?? null : null;
      if (!loss) {
        fail(`is required: the saved model's trainingConfig.loss ${JSON.stringify(raw)} is not one taylorlens trains with (meanSquaredError, categoricalCrossentropy); expected model.loss "mse" or "softmaxCrossEntropy"`, '/model/loss');
      }
    }
  }
  if (loss === 'softmaxCrossEntropy' && target === 'input') {
    fail(`"softmaxCrossEntropy"${lossFrom === 'trainingConfig' ? ` (from ${file}'s trainingConfig)` : ''} needs data.target "labels" (class targets), got target "input"; use "mse" to reconstruct the input`, '/model/loss');
  }
  if (problems.length > before || !loss) return null;
  return { file, json, topology, files, inputShape, loss, lossFrom, parameters, flopsPerSample };
}

/** Read the files again (they may have changed since the check) and check their sizes once more. */
function readFiles(check: SavedModelCheck): Map<string, Uint8Array> {
  const contents = new Map<string, Uint8Array>();
  contents.set('model.json', fs.readFileSync(check.file));
  for (const f of check.files) {
    if (contents.has(f.rel)) continue;
    const bytes = fs.readFileSync(f.abs);
    if (bytes.length !== f.bytes) throw new Error(`${f.abs}: ${bytes.length} bytes now, ${f.bytes} when the config was checked: changed during the run's start`);
    contents.set(f.rel, bytes);
  }
  return contents;
}

/**
 * An IOHandler over files already read: model.json's artifacts with the weight data of every
 * manifest group concatenated in order, as tfjs's own file and http loaders give them. The saved
 * trainingConfig is left out: the run trains with its own optimizer and loss, and tfjs would try to
 * compile the model from it.
 */
export function savedModelHandler(json: Record<string, unknown>, weightFile: (rel: string) => Uint8Array): tf.io.IOHandler {
  return {
    load: async () => {
      const manifest = json.weightsManifest as { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
      const parts = manifest.flatMap((g) => g.paths.map((p) => {
        const rel = normaliseRel(p);
        if (rel === null) throw new Error(`weightsManifest path ${JSON.stringify(p)} is not a file in the model's folder`);
        return weightFile(rel);
      }));
      const total = parts.reduce((n, p) => n + p.length, 0);
      const weightData = new Uint8Array(total);
      let off = 0;
      for (const p of parts) { weightData.set(p, off); off += p.length; }
      return {
        modelTopology: json.modelTopology as object,
        format: json.format as string | undefined,
        generatedBy: json.generatedBy as string | undefined,
        convertedBy: json.convertedBy as string | null | undefined,
        userDefinedMetadata: json.userDefinedMetadata as Record<string, object> | undefined,
        weightSpecs: manifest.flatMap((g) => g.weights),
        weightData: weightData.buffer,
      };
    },
  };
}

/**
 * An IOHandler that reads a model saved with `model.save('file://<folder>')` from disk, for
 * `tf.loadLayersModel(savedModelFiles('<folder>/model.json'))` where tfjs-node is not installed.
 */
export function savedModelFiles(modelJson: string): tf.io.IOHandler {
  const dir = path.dirname(path.resolve(modelJson));
  return {
    load: async () => {
      const json = JSON.parse(fs.readFileSync(modelJson, 'utf8')) as Record<string, unknown>;
      return savedModelHandler(json, (rel) => fs.readFileSync(path.join(dir, rel))).load!();
    },
  };
}

/** Load a checked saved model on the active backend (tfjs-layers, no tfjs-node). */
export async function loadSavedModel(check: SavedModelCheck): Promise<LoadedSavedModel> {
  const contents = readFiles(check);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(Buffer.from(contents.get('model.json')!).toString('utf8')) as Record<string, unknown>;
  } catch {
    json = {};
  }
  if (JSON.stringify(json) !== JSON.stringify(check.json)) throw new SavedModelError(check.file, 'changed since the config was checked; start the run again');
  let model: tfl.LayersModel;
  try {
    model = await tfl.loadLayersModel(savedModelHandler(json, (rel) => contents.get(rel)!), { strict: true });
  } catch (e) {
    throw new SavedModelError(check.file, `tfjs cannot load it as a Layers model: ${(e as Error).message.split('\n')[0]}`);
  }
  return { model, check, contents };
}

/** A saved model that the checks from its files let through but tfjs refuses, or that does not fit the data. */
export class SavedModelError extends Error {
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'SavedModelError';
  }
}

/** Per-sample input and output shapes of the loaded model; problems where it is not one input, one output of known size. */
export function loadedShapes(loaded: LoadedSavedModel, problems: ConfigProblem[]): { input: number[]; output: number[] } | null {
  const { model, check } = loaded;
  const at = '/model/saved';
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    problems.push({ pointer: at, message: `${check.file}: the model has ${model.inputs.length} inputs and ${model.outputs.length} outputs; expected one of each` });
    return null;
  }
  const input = (model.inputs[0].shape as (number | null)[]).slice(1);
  const output = (model.outputs[0].shape as (number | null)[]).slice(1);
  for (const [name, s] of [['input', input], ['output', output]] as const) {
    if (s.some((d) => d === null || !(d > 0))) {
      problems.push({ pointer: at, message: `${check.file}: the model's ${name} shape [${s.map((d) => d ?? 'null').join(', ')}] has an unknown dimension; expected fixed sizes (save the model with a full inputShape)` });
      return null;
    }
  }
  return { input: input as number[], output: output as number[] };
}

/** Input against the data, output against the target: appends problems at `/model/saved`. */
export function checkLoadedAgainstData(loaded: LoadedSavedModel, shapes: { input: number[]; output: number[] }, data: DataShape, target: 'labels' | 'input', problems: ConfigProblem[]): void {
  const file = loaded.check.file;
  const at = '/model/saved';
  if (fmt(shapes.input) !== fmt(data.shape)) {
    problems.push({ pointer: at, message: `${file}: the model takes inputs of shape ${fmt(shapes.input)} but the data gives ${fmt(data.shape)} (${data.origin}); expected a model whose input matches the data` });
    return;
  }
  const want = target === 'input' ? size(data.shape) : data.numClasses;
  if (size(shapes.output) !== want) {
    problems.push({
      pointer: at,
      message: target === 'input'
        ? `${file}: the model outputs ${fmt(shapes.output)} (${size(shapes.output)} values per sample) but target "input" reconstructs the input: expected ${want} values (the size of ${fmt(data.shape)})`
        : `${file}: the model outputs ${size(shapes.output)} values per sample but target "labels" has ${want} classes: expected ${want}`,
    });
  }
}

/** "saved model.json: [36] → Dense 8 relu → Dense 36 linear" for run.json and the report. */
export function describeSavedModel(loaded: LoadedSavedModel, loss: LossName): string {
  const parts = loaded.model.layers.filter((l) => l.getClassName() !== 'InputLayer').map((l) => {
    const c = l.getConfig() as { units?: number; filters?: number; activation?: string };
    const width = c.units ?? c.filters;
    return [l.getClassName(), width, c.activation].filter((v) => v !== undefined).join(' ');
  });
  const input = (loaded.model.inputs[0].shape as (number | null)[]).slice(1).join('×');
  return `saved ${path.basename(loaded.check.file)}: [${input}] → ${parts.join(' → ')} · loss ${loss}`;
}

/**
 * Copy model.json and its weight files, exactly as read, into `<run>/saved-model/` (weight files at
 * the paths the manifest names, so the copy loads like the original); returns what run.json records.
 */
export function copySavedModel(runDir: RunDir, loaded: LoadedSavedModel): SavedModelRecord {
  const files: SavedModelFileRecord[] = [];
  for (const [rel, bytes] of loaded.contents) {
    writeFileAtomic(runDir.path(SAVED_MODEL_DIR, rel), bytes);
    files.push({ path: `${SAVED_MODEL_DIR}/${rel}`, bytes: bytes.length, sha256: sha256(bytes) });
  }
  return { source: loaded.check.file, modelJson: `${SAVED_MODEL_DIR}/model.json`, files };
}

/** The same record with its paths relative to a subfolder of the run (`trace/` → `../saved-model/…`). */
export function recordFrom(record: SavedModelRecord, subfolder: string): SavedModelRecord {
  const up = (p: string) => path.posix.relative(subfolder, p);
  return { source: record.source, modelJson: up(record.modelJson), files: record.files.map((f) => ({ path: up(f.path), bytes: f.bytes, sha256: f.sha256 })) };
}
