import type * as tf from '@tensorflow/tfjs-core';
import type { layers } from '@tensorflow/tfjs-layers';

export type Layer = layers.Layer;

/**
 * What a layer's linearisation holds fixed at round n, computed once from the round's forward
 * pass: masks, slopes, max choices, dropout masks, batch statistics, and (for layers with
 * parameters that no scope moves) the parameter values at `W_n`. `sample` tensors have the batch
 * as their first axis (a sub-batch slices them); `shared` ones do not.
 */
export interface NodeState {
  sample: Record<string, tf.Tensor>;
  shared?: Record<string, tf.Tensor>;
}

/** A node's view of one round: its inputs (batch first) and output, and its weights at `W_n`. */
export interface NodeRound {
  inputs: tf.Tensor[];
  output: tf.Tensor;
  /** Copies of the layer's weights at `W_n`, by tfjs original name suffix (`kernel`, `gamma`, …). */
  weights: Record<string, tf.Tensor>;
}

/** Where a node sits in a push: its per-sample shapes and the number of directions per sample. */
export interface PushShape {
  /** Batch size of the push (a sub-batch may be smaller than the round's). */
  B: number;
  /** Directions per sample. */
  K: number;
  inputShapes: number[][];
  outputShape: number[];
}

/**
 * The derivatives of one layer kind (BackPACK's "derivatives module"): how a perturbation of its
 * inputs moves its output with the round's state frozen (the clamped / linearised pass of
 * taylor-math.md, generalised). `push` must be linear in `d` and built from differentiable tfjs
 * ops: pulling a cotangent back is then its gradient (reverse mode through the clamped network).
 */
export interface LayerDerivatives {
  /** Short description for messages and `anatomy.describe()`. */
  readonly kind: string;
  /** Why this layer's configuration cannot be linearised (e.g. `channelsFirst`), or null. */
  check?(layer: Layer): string | null;
  /** The round state the push holds fixed; absent when the layer is linear in its inputs. */
  freeze?(layer: Layer, round: NodeRound): NodeState;
  /**
   * Push directions `d[i]` `[B, K, ...inputShape_i]` (null: no perturbation on that input) to the
   * output `[B, K, ...outputShape]`; null when nothing moves.
   */
  push(layer: Layer, state: NodeState | null, d: (tf.Tensor | null)[], shape: PushShape): tf.Tensor | null;
}
