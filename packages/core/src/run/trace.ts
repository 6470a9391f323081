/**
 * Trace of selected rounds (meant for small runs): the batch, its targets and every weight
 * tensor before the update, as float32 C-order .npy, plus trace/index.json describing the model
 * in Keras terms so anyone (Keras, PyTorch, NumPy) can rebuild it and recompute the loss. A run of
 * a saved model also names the copy of its model.json and weight files in the run folder (`saved`).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { ModelAnatomy } from '../anatomy.js';
import { modelWeights } from './model-weights.js';
import { writeJsonAtomic, writeNpyAtomic } from '../store/atomic.js';
import type { Trainer } from '../trainer.js';
import { pairOf, type LayerSpec, type LossName, type ModelSpec } from './config-types.js';
import { layerName } from './model.js';
import type { SavedModelRecord } from './saved-model.js';
import type { RunStore } from './store.js';

export const TRACE_FORMAT = 'taylorlens-trace/1';

export interface TraceRound {
  epoch: number;
  /** Batch index within the epoch (0-based). */
  batch: number;
  /** Samples in the batch. */
  size: number;
  x: string;
  y: string;
  /** One file per entry of `weights`, same order. */
  weights: string[];
  /** The minibatch loss at these weights (null if it was NaN/∞). */
  loss: number | null;
}

export interface TraceIndex {
  format: typeof TRACE_FORMAT;
  dtype: 'float32';
  order: 'C';
  model: KerasModel;
  /**
   * Every weight of the model (run/model-weights.ts has the order). `name`: the tfjs weight name
   * (`kernel`, `bias`; `gamma`/`beta`, `alpha`, `depthwise_kernel`, `pointwise_kernel`,
   * `embeddings`, `moving_mean`/`moving_variance`); `trainable: false` (only there) marks state
   * training does not step.
   */
  weights: { index: number; layer: string; name: string; shape: number[]; layout: string; trainable?: false }[];
  loss: { name: string; definition: string; on: 'outputs' | 'logits' };
  /** `stream`: a streamed source (`data.source: "module"`): y is the ys of the batch the stream gave. */
  target: 'labels' | 'input' | 'stream';
  /**
   * Only for a run of a saved model (config `model.saved`): the copy in the run folder of the
   * model.json and weight files it started from (paths relative to trace/), with sizes and sha256.
   */
  saved?: SavedModelRecord;
  /** Round number (1-based, as in metrics.jsonl) → files and loss. Paths are relative to trace/. */
  rounds: Record<string, TraceRound>;
}

export interface KerasModel {
  /** `Sequential` for a built-in model; a saved model's own class (`Sequential`, `Model`, `Functional`). */
  class_name: string;
  /** Per-sample input shape (no batch axis). */
  input_shape: number[];
  data_format: 'channels_last';
  /** A saved model's layers as its topology has them (functional models with `inbound_nodes`). */
  layers: { class_name: string; name: string; config: Record<string, unknown>; inbound_nodes?: unknown }[];
  /** Functional saved models: their topology's `input_layers` and `output_layers`. */
  input_layers?: unknown;
  output_layers?: unknown;
}

/** What the recorder needs of a saved model (instead of a ModelSpec). */
export interface TracedSavedModel {
  loss: LossName;
  keras: KerasModel;
  /** Paths relative to trace/. */
  saved?: SavedModelRecord;
}

const LOSS_DEFINITIONS: Record<string, { definition: string; on: 'outputs' | 'logits' }> = {
  mse: { definition: 'mean over the batch and over every output unit of (f - y)^2, f the network output', on: 'outputs' },
  softmaxCrossEntropy: {
    definition: 'mean over the batch of -sum_k y_k * log_softmax(f)_k, f the logits (the last layer before any softmax); y one-hot',
    on: 'logits',
  },
};

/** The model in Keras terms: class names, snake_case configs, tfjs's own weight layouts. */
export function kerasDescription(spec: ModelSpec): KerasModel {
  const layer = (l: LayerSpec, i: number) => {
    const name = layerName(l, i);
    switch (l.type) {
      case 'dense':
        return { class_name: 'Dense', name, config: { units: l.units, activation: l.activation ?? 'linear', use_bias: l.useBias ?? true } };
      case 'conv2d':
        return {
          class_name: 'Conv2D', name,
          config: {
            filters: l.filters, kernel_size: pairOf(l.kernelSize, [1, 1]), strides: pairOf(l.strides, [1, 1]),
            padding: l.padding ?? 'valid', activation: l.activation ?? 'linear', use_bias: l.useBias ?? true,
            data_format: 'channels_last', dilation_rate: [1, 1],
          },
        };
      case 'maxPooling2d': {
        const pool = pairOf(l.poolSize, [1, 1]);
        return { class_name: 'MaxPooling2D', name, config: { pool_size: pool, strides: pairOf(l.strides, pool), padding: l.padding ?? 'valid', data_format: 'channels_last' } };
      }
      case 'flatten':
        return { class_name: 'Flatten', name, config: { data_format: 'channels_last' } };
    }
  };
  return { class_name: 'Sequential', input_shape: [...spec.input], data_format: 'channels_last', layers: spec.layers.map(layer) };
}

/**
 * A saved model in the same terms: its topology's own layers (Keras class names and snake_case
 * configs, as model.save writes them), the per-sample input shape of the built model.
 */
export function savedKerasDescription(topology: Record<string, unknown>, inputShape: readonly number[]): KerasModel {
  const cfg = topology.config as Record<string, unknown> | unknown[];
  const list = (Array.isArray(cfg) ? cfg : (cfg.layers as unknown[] | undefined) ?? []) as Record<string, unknown>[];
  const layers = list.map((l) => {
    const config = (l.config ?? {}) as Record<string, unknown>;
    return {
      class_name: String(l.class_name), name: String(l.name ?? config.name), config,
      ...(l.inbound_nodes !== undefined ? { inbound_nodes: l.inbound_nodes } : {}),
    };
  });
  const out: KerasModel = { class_name: String(topology.class_name), input_shape: [...inputShape], data_format: 'channels_last', layers };
  if (!Array.isArray(cfg) && cfg.input_layers !== undefined) out.input_layers = cfg.input_layers;
  if (!Array.isArray(cfg) && cfg.output_layers !== undefined) out.output_layers = cfg.output_layers;
  return out;
}

function weightEntries(anatomy: ModelAnatomy): TraceIndex['weights'] {
  return modelWeights(anatomy).map((w, index) => ({ index, layer: w.layer, name: w.name, shape: w.shape, layout: w.layout, ...(w.trainable ? {} : { trainable: false as const }) }));
}

const pad = (n: number) => String(n).padStart(6, '0');

/** Async read: webgpu in Node cannot read tensors synchronously. */
async function writeFloat32(file: string, t: tf.Tensor): Promise<void> {
  const values = await t.data();
  const data = values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
  writeNpyAtomic(file, { dtype: 'float32', shape: t.shape, data });
}

/** Taps the trainer: files at `beforeBatch` (weights before the step), the loss at `afterBackward`. */
export class TraceRecorder {
  readonly index: TraceIndex;
  private readonly dir: string;

  constructor(private readonly store: RunStore, spec: ModelSpec | TracedSavedModel, target: TraceIndex['target'], anatomy: ModelAnatomy, existing?: TraceIndex | null) {
    if (!store.traceDir) throw new Error('TraceRecorder needs a store with tracing on (output.trace)');
    this.dir = store.traceDir;
    const loss = LOSS_DEFINITIONS[spec.loss];
    const saved = 'keras' in spec ? spec : null;
    this.index = {
      format: TRACE_FORMAT, dtype: 'float32', order: 'C', model: saved ? saved.keras : kerasDescription(spec as ModelSpec), weights: weightEntries(anatomy),
      loss: { name: spec.loss, ...loss }, target, ...(saved?.saved ? { saved: saved.saved } : {}), rounds: existing?.rounds ?? {},
    };
  }

  static read(traceDir: string): TraceIndex | null {
    const f = path.join(traceDir, 'index.json');
    return fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')) as TraceIndex : null;
  }

  /** Forget rounds after `round` (a resume redoes them). */
  dropAfter(round: number): void {
    for (const k of Object.keys(this.index.rounds)) {
      if (Number(k) > round) {
        fs.rmSync(path.join(this.dir, `round-${pad(Number(k))}`), { recursive: true, force: true });
        delete this.index.rounds[k];
      }
    }
    this.write();
  }

  attach(trainer: Trainer): void {
    const stage = -10_000; // before any plugin touches anything
    trainer.hooks.beforeBatch.tapPromise({ name: 'taylorlens:trace', stage }, async (ctx) => {
      if (!this.store.traces(ctx.round)) return;
      const rel = `round-${pad(ctx.round)}`;
      await writeFloat32(path.join(this.dir, rel, 'x.npy'), ctx.capture.x);
      await writeFloat32(path.join(this.dir, rel, 'y.npy'), ctx.capture.y);
      const weights: string[] = [];
      for (const [i, w] of modelWeights(trainer.anatomy).entries()) {
        const v = w.value;
        const file = `${rel}/w${String(i).padStart(2, '0')}.npy`;
        await writeFloat32(path.join(this.dir, file), v);
        weights.push(file);
      }
      this.index.rounds[String(ctx.round)] = {
        epoch: ctx.epoch + 1, batch: ctx.batch, size: ctx.indices.length, x: `${rel}/x.npy`, y: `${rel}/y.npy`, weights, loss: null,
      };
    });
    trainer.hooks.afterBackward.tap({ name: 'taylorlens:trace', stage }, (ctx) => {
      const r = this.index.rounds[String(ctx.round)];
      if (!r) return;
      r.loss = Number.isFinite(ctx.loss) ? ctx.loss : null;
      this.write();
    });
  }

  write(): void {
    writeJsonAtomic(path.join(this.dir, 'index.json'), this.index);
  }
}
