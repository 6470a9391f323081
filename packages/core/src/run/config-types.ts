/** The run config as schemas/run-config.schema.json describes it. */

export type Pair = number | [number, number];
export type Activation = 'linear' | 'relu' | 'sigmoid' | 'tanh' | 'elu' | 'selu' | 'softplus' | 'softsign' | 'relu6' | 'swish' | 'gelu' | 'softmax';

export type LayerSpec =
  | { type: 'dense'; units: number; activation?: Activation; useBias?: boolean }
  | { type: 'conv2d'; filters: number; kernelSize: Pair; strides?: Pair; padding?: 'valid' | 'same'; activation?: Activation; useBias?: boolean }
  | { type: 'maxPooling2d'; poolSize: Pair; strides?: Pair; padding?: 'valid' | 'same' }
  | { type: 'flatten' };

export type LossName = 'mse' | 'softmaxCrossEntropy';

export interface ModelSpec {
  input: number[];
  layers: LayerSpec[];
  loss: LossName;
}

/**
 * A tfjs Layers model the user saved with `model.save('file://…')`: its model.json (path relative
 * to the config file) and the weight files its weightsManifest names, beside it.
 */
export interface SavedModelSpec {
  saved: string;
  /** Default: the loss of the saved model's trainingConfig (a model saved after compile()). */
  loss?: LossName;
}

/** What `model` may be in a config file. */
export type AnyModelSpec = ModelSpec | SavedModelSpec;

/** `model` once validated: a saved model's loss is settled (from the config, else its trainingConfig). */
export type ResolvedModelSpec = ModelSpec | (SavedModelSpec & { loss: LossName });

export function isSavedModelSpec(m: AnyModelSpec): m is SavedModelSpec {
  return typeof (m as { saved?: unknown }).saved === 'string';
}

interface DataCommon {
  limit?: number;
  testLimit?: number;
  target: 'labels' | 'input';
  flatten?: boolean;
}

/** The built-in sources: files the run reads into tensors. */
export type DataSpec =
  | (DataCommon & { source: 'mnist'; dir?: string })
  | (DataCommon & { source: 'idx'; trainImages: string; trainLabels: string; testImages?: string; testLabels?: string })
  | (DataCommon & { source: 'cifar10'; dir: string });

/**
 * A streamed source: an ES module (path relative to the config file) whose export, called with
 * `{ tf, seed, batchSize }`, returns (or resolves to) a `tf.data.Dataset`-like of `{ xs, ys }`
 * batches, or `{ train, validation? }` of them. The run trains with `Trainer.fitDataset`, batch by batch.
 */
export interface ModuleDataSpec {
  source: 'module';
  path: string;
  /** Default "default". */
  export?: string;
  /** Given: one iterator runs across epochs, this many batches each (an endless stream needs it). Else each epoch is one pass. */
  batchesPerEpoch?: number;
}

/** What `data` may be in a config file: a built-in source or a streamed one. */
export type AnyDataSpec = DataSpec | ModuleDataSpec;

export function isModuleData(d: AnyDataSpec): d is ModuleDataSpec {
  return d.source === 'module';
}

export interface TraceSpec {
  every?: number;
  rounds?: number[];
  maxRounds?: number;
}

/**
 * A run config. `RunConfig` alone has a built-in model spec and a built-in data source (what code
 * that builds configs writes); `RunConfig<AnyModelSpec, AnyDataSpec>` is any config the schema
 * accepts, `RunConfig<ResolvedModelSpec, AnyDataSpec>` one that passed validation (run.json's `config`).
 */
export interface RunConfig<M extends AnyModelSpec = ModelSpec, D extends AnyDataSpec = DataSpec> {
  $schema?: string;
  name: string;
  seed: number;
  epochs: number;
  batchSize: number;
  shuffle?: boolean;
  backend?: 'wasm' | 'cpu' | 'tensorflow' | 'webgpu';
  validation?: boolean;
  model: M;
  data: D;
  optimizer: { name: string; options?: Record<string, unknown> };
  plugins?: { name: string; options?: Record<string, unknown> }[];
  output: { dir: string; trace?: TraceSpec; tensorboard?: boolean };
}

export function pairOf(p: Pair | undefined, fallback: [number, number]): [number, number] {
  if (p === undefined) return fallback;
  return typeof p === 'number' ? [p, p] : [p[0], p[1]];
}
