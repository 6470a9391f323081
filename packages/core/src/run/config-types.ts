/**
 * The run config's types, derived from its JSON schema (run-config-schema.ts) with
 * json-schema-to-ts: one source of truth, so a key the schema gains or loses changes these types too.
 */
import type { FromSchema } from 'json-schema-to-ts';
import type { RUN_CONFIG_JSON_SCHEMA } from './run-config-schema.js';

/**
 * Any config the schema accepts: a built-in or saved model, a built-in or streamed data source.
 * parseIfThenElseKeywords: `model` is an if/then/else (saved or built-in), which json-schema-to-ts
 * otherwise reads as unknown.
 */
type SchemaConfig = FromSchema<typeof RUN_CONFIG_JSON_SCHEMA, { parseIfThenElseKeywords: true }>;

/** What `model` may be in a config file. */
export type AnyModelSpec = SchemaConfig['model'];
/** A built-in model: input shape, layers, loss. */
export type ModelSpec = Exclude<AnyModelSpec, { saved: string }>;
/**
 * A tfjs Layers model the user saved with `model.save('file://…')`: its model.json (path relative
 * to the config file) and the weight files its weightsManifest names, beside it. `loss` defaults to
 * the loss of the saved model's trainingConfig (a model saved after compile()).
 */
export type SavedModelSpec = Extract<AnyModelSpec, { saved: string }>;
export type LayerSpec = ModelSpec['layers'][number];
export type LossName = ModelSpec['loss'];
export type Activation = NonNullable<Extract<LayerSpec, { type: 'dense' }>['activation']>;
export type Pair = Extract<LayerSpec, { type: 'conv2d' }>['kernelSize'];

/**
 * `model` once validated: a saved model's loss is settled (from the config, else its
 * trainingConfig). Handwritten: the schema describes the file, not what validation fills in.
 */
export type ResolvedModelSpec = ModelSpec | (SavedModelSpec & { loss: LossName });

export function isSavedModelSpec(m: AnyModelSpec): m is SavedModelSpec {
  return typeof (m as { saved?: unknown }).saved === 'string';
}

/** What `data` may be in a config file: a built-in source or a streamed one. */
export type AnyDataSpec = SchemaConfig['data'];
/** The built-in sources: files the run reads into tensors. */
export type DataSpec = Exclude<AnyDataSpec, { source: 'module' }>;
/**
 * A streamed source: an ES module (path relative to the config file) whose export (default
 * "default"), called with `{ tf, seed, batchSize }`, returns (or resolves to) a `tf.data.Dataset`-like
 * of `{ xs, ys }` batches, or `{ train, validation? }` of them. The run trains with
 * `Trainer.fitDataset`, batch by batch; with `batchesPerEpoch`, one iterator runs across epochs,
 * this many batches each (an endless stream needs it), else each epoch is one pass.
 */
export type ModuleDataSpec = Extract<AnyDataSpec, { source: 'module' }>;

export function isModuleData(d: AnyDataSpec): d is ModuleDataSpec {
  return d.source === 'module';
}

export type TraceSpec = NonNullable<SchemaConfig['output']['trace']>;

/**
 * A run config. `RunConfig` alone has a built-in model spec and a built-in data source (what code
 * that builds configs writes); `RunConfig<AnyModelSpec, AnyDataSpec>` is any config the schema
 * accepts, `RunConfig<ResolvedModelSpec, AnyDataSpec>` one that passed validation (run.json's
 * `config`). The type parameters are handwritten on top of the derived type: the schema has one
 * `model` and one `data`, code narrows them.
 */
export type RunConfig<M extends AnyModelSpec = ModelSpec, D extends AnyDataSpec = DataSpec> =
  Omit<SchemaConfig, 'model' | 'data'> & { model: M; data: D };

export function pairOf(p: Pair | undefined, fallback: [number, number]): [number, number] {
  if (p === undefined) return fallback;
  return typeof p === 'number' ? [p, p] : [p[0], p[1]];
}
