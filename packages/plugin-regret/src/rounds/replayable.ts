import type { GraphNode, ModelAnatomy } from '@taylorlens/core';

/**
 * Layers without parameters that the network scope replays exactly from a stored round: the
 * linear ones with nothing to freeze (their inference-mode call is their training-mode one), and
 * those whose round state it stores (`sample` tensors of their derivatives module): a
 * non-overlapping max-pool's choices (bits), LeakyReLU's slopes, a dropout layer's mask (the one
 * training multiplied by; replayed as `x · mask`).
 */
const LINEAR = new Set(['Flatten', 'Reshape', 'AveragePooling1D', 'AveragePooling2D', 'GlobalAveragePooling1D', 'GlobalAveragePooling2D', 'Add']);
const STATEFUL = new Set(['MaxPooling2D', 'LeakyReLU', 'Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianDropout']);

/** Why the network scope cannot replay this derivatives node, or null. */
export function replayRefusal(n: GraphNode): string | null {
  if (LINEAR.has(n.className)) return null;
  if (!STATEFUL.has(n.className)) return 'its class is not one the network scope replays yet';
  if (n.className === 'MaxPooling2D' && (n.derivatives?.kind !== 'maxPooling' || overlapping(n.layer))) return 'overlapping max-pool windows are not replayed yet';
  return null;
}

/**
 * How the network scope keeps a round. `replay`: the batch, `W_n` and the state above, the layer
 * inputs recomputed at a checkpoint (a chain of Dense/Conv2D layers and the layers it replays: the
 * paper's models). `stored`: every other model — each scoped layer's input as the capture saw it
 * (x̂ for BatchNormalization; a SeparableConv2D's own input too) and every node's frozen round
 * state (batch statistics, PReLU signs, LayerNormalization's x̂, overlapping max-pool choices,
 * autodiff inputs…), so nothing is recomputed: more bytes per stored round, any layer.
 */
export function networkStorage(anatomy: ModelAnatomy): 'replay' | 'stored' {
  if (anatomy.layers.some((p) => p.kind !== 'dense' && p.kind !== 'conv2d')) return 'stored';
  return anatomy.graph.some((n) => n.role === 'derivatives' && replayRefusal(n) !== null) ? 'stored' : 'replay';
}

/** Whether a node's stored state is a 0/1 mask kept as packed bits (a non-overlapping max-pool's choices). */
export function packedState(n: GraphNode): boolean {
  return stateAsBits(n) && replayRefusal(n) === null;
}

/** Whether the node's round state is stored (and its forward replayed from it, for dropout). */
export function storesState(n: GraphNode): boolean {
  return n.role === 'derivatives' && STATEFUL.has(n.className);
}

/** Dropout-like: evaluated in training as `x · mask` with the mask kept (core's dropout.ts). */
export function replaysMask(n: GraphNode): boolean {
  return n.derivatives !== undefined && 'applyKeepingState' in n.derivatives;
}

/** A non-overlapping max-pool's choices are 0/1: stored as packed bits. */
export function stateAsBits(n: GraphNode): boolean {
  return n.className === 'MaxPooling2D';
}

/**
 * The stored-round key of a node's state entry: a chain's max-pool keeps the name it always had
 * (`p<layer>_<stage>`, so stored rounds and checkpoints of earlier runs read the same), others
 * `s<node>_<entry>`.
 */
export function stateKey(n: GraphNode, entry: string): string {
  return n.stage && n.className === 'MaxPooling2D' && entry === 'mask' ? `p${n.stage.layer}_${n.stage.index}` : `s${n.id}_${entry}`;
}

/** The stored-round key of a node's per-round ("shared") state entry (batch statistics, weights at `W_n`): `h<node>_<entry>`. */
export function sharedKey(n: GraphNode, entry: string): string {
  return `h${n.id}_${entry}`;
}

function overlapping(layer: GraphNode['layer']): boolean {
  const c = layer.getConfig() as { poolSize: number | number[]; strides?: number | number[] | null };
  const size = Array.isArray(c.poolSize) ? c.poolSize : [c.poolSize, c.poolSize];
  const strides = c.strides === undefined || c.strides === null ? size : Array.isArray(c.strides) ? c.strides : [c.strides, c.strides];
  return strides[0] < size[0] || strides[1] < size[1];
}
