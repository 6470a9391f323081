/**
 * Which linear piece each unit of a piecewise-linear layer is in: the one home of the
 * "configuration" of a unit (design notes, "Activation configurations and exploration").
 *
 * A piecewise-linear function is linear on each of a few regions of its input; the configuration
 * of a unit on an input is the index of the region it falls in. Where two pieces meet, the piece
 * is the one whose slope tfjs's own gradient uses there, so the configuration is the linear map
 * training differentiates through:
 *
 * | kind | pieces | piece index (`a` the layer's input or pre-activation) |
 * |---|---|---|
 * | `relu` | 2 | 0: `a ≤ 0`, 1: `a > 0` (step(a), as Relu's gradient) |
 * | `relu6` (activation `'relu6'`) | 3 | 0: `a ≤ 0`, 1: `0 < a < 6`, 2: `a ≥ 6` (tfjs-layers computes `minimum(6, relu(a))`, whose gradient sends a tie at 6 to the constant) |
 * | `clippedrelu` (ReLU layer with `maxValue` m) | 3 | 0: `a ≤ 0`, 1: `0 < a ≤ m`, 2: `a > m` (`clipByValue(relu(a), 0, m)`: the clip's gradient keeps both ends) |
 * | `leakyrelu`, `prelu` | 2 | 0: `a ≤ 0` (slope α), 1: `a > 0` (their gradients' `greater(x, 0)`) |
 * | `thresholdedrelu` (θ) | 2 | 0: `a ≤ θ` (output 0), 1: `a > θ` (output a); tfjs cannot differentiate it (no gradient for Greater), so its forward decides |
 * | `hardsigmoid` | 3 | with `y = 0.5 + 0.2·a` computed as tfjs does: 0: `y < 0`, 1: `0 ≤ y ≤ 1`, 2: `y > 1` (clipByValue's gradient keeps both ends) |
 * | `linear` | 1 | always 0: one piece, no configuration |
 * | `maxpool` (1D/2D, pool `ph × pw`) | `ph·pw` | per output cell, the window cell (row-major `fy·pw + fx`) of its first maximum: scanning the window's cells inside the input in row-major order, a cell wins when it is the first or strictly greater than the best so far. That is the cell the MaxPoolGrad kernel routes the gradient to (cpu; core's fixed kernels on wasm and webgpu; `maxPoolArgmax`), windows may overlap (stride < pool size) |
 * | `globalmaxpool` (1D over L steps, 2D over H·W) | L or H·W | the position (row-major `h·W + w`) of the first maximum. tfjs's Max gradient sends a tied maximum's gradient to every tied position; the piece names the first of them |
 * | `maximum` / `minimum` (merge of n inputs) | n | which input wins, ties to the first: tfjs folds `maximum(…maximum(x0, x1)…, x_{n−1})` and Maximum's gradient goes to its first argument on a tie (Minimum's likewise) |
 *
 * NaN: an elementwise unit whose input is NaN is in piece 0; a pooling window takes the cell the
 * scan above takes (NaN is never strictly greater); a global pool or merge whose maximum is NaN
 * is in piece 0 and 0 respectively (the first input).
 *
 * Smooth activations (elu, selu, tanh, sigmoid, softplus, softsign, swish, mish, gelu, softmax…)
 * have no linear pieces: their info says so (`pieces: null` and a reason) and no tensor function
 * fails on them.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { layers } from '@tensorflow/tfjs-layers';

type Layer = layers.Layer;

export type PieceKind =
  | 'linear' | 'relu' | 'relu6' | 'clippedrelu' | 'leakyrelu' | 'prelu' | 'thresholdedrelu' | 'hardsigmoid'
  | 'maxpool' | 'globalmaxpool' | 'maximum' | 'minimum';

/** Activation names (lower-case tfjs class names) that are smooth: no configuration. */
export const SMOOTH_ACTIVATION_NAMES: readonly string[] = [
  'elu', 'selu', 'tanh', 'sigmoid', 'softplus', 'softsign', 'swish', 'mish', 'gelu', 'gelu_new', 'softmax', 'logsoftmax',
];

/** Where a layer's pieces are read from. */
export type PieceSource =
  /** The layer's own pre-activation (Dense/Conv with an `activation`): its linear map of its input. */
  | 'pre-activation'
  /** The layer's single input (an activation or pooling layer). */
  | 'input'
  /** All of the layer's inputs (a Maximum/Minimum merge). */
  | 'inputs';

/** A piecewise-linear layer or activation, known from its configuration alone. */
export interface Piecewise {
  kind: PieceKind;
  /** Number of linear pieces per unit (1 for linear: no configuration). */
  pieces: number;
  /** What each piece index means, in words. */
  rule: string;
  from: PieceSource;
  /** The activation's name where the pieces come from an activation (relu, relu6, leakyrelu…). */
  activation?: string;
}

/** A layer without linear pieces: smooth, or not an activation at all. */
export interface NotPiecewise {
  kind: null;
  pieces: null;
  /** Why there is no configuration (e.g. "elu is smooth: it has no linear pieces"). */
  reason: string;
  /** True for a smooth activation (elu, tanh…), false for a layer that is no activation (Flatten, Add…) or one we do not know. */
  smooth: boolean;
  /** The activation's name when the layer has one. */
  activation?: string;
}

export type PieceInfo = Piecewise | NotPiecewise;

/** Piece index per output unit, `int32 [B, ...unitShape]`, and the number of pieces. */
export interface Pieces {
  pieces: tf.Tensor;
  count: number;
}

/** No configuration: a smooth activation or a layer with no linear pieces, and why. */
export interface NoPieces {
  pieces: null;
  reason: string;
  smooth: boolean;
}

export type PiecesResult = Pieces | NoPieces;

const int = (t: tf.Tensor) => tf.cast(t, 'int32');

// ---------------------------------------------------------------- elementwise kinds

/** ReLU: 0 where `a ≤ 0` (or NaN), 1 where `a > 0`. */
export function reluPieces(a: tf.Tensor): tf.Tensor {
  return tf.tidy(() => int(tf.greater(a, 0)));
}

/** The `'relu6'` activation (`minimum(6, relu(a))`): 0 `a ≤ 0`, 1 `0 < a < 6`, 2 `a ≥ 6`. */
export function relu6Pieces(a: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.add(int(tf.greater(a, 0)), int(tf.greaterEqual(a, 6))));
}

/** The ReLU layer with `maxValue` m (`clipByValue(relu(a), 0, m)`): 0 `a ≤ 0`, 1 `0 < a ≤ m`, 2 `a > m`. */
export function clippedReluPieces(a: tf.Tensor, maxValue: number): tf.Tensor {
  return tf.tidy(() => tf.add(int(tf.greater(a, 0)), int(tf.greater(a, maxValue))));
}

/** LeakyReLU: 0 where `a ≤ 0` (slope α), 1 where `a > 0`. */
export function leakyReluPieces(a: tf.Tensor): tf.Tensor {
  return reluPieces(a);
}

/** PReLU: 0 where `a ≤ 0` (slope α of that unit), 1 where `a > 0`. */
export function preluPieces(a: tf.Tensor): tf.Tensor {
  return reluPieces(a);
}

/** ThresholdedReLU with θ: 0 where `a ≤ θ` (output 0), 1 where `a > θ` (output a). */
export function thresholdedReluPieces(a: tf.Tensor, theta: number): tf.Tensor {
  return tf.tidy(() => int(tf.greater(a, theta)));
}

/** hardSigmoid (`clip(0.5 + 0.2·a, 0, 1)`, the sum computed as tfjs-layers does): 0 `y < 0`, 1 `0 ≤ y ≤ 1`, 2 `y > 1`. */
export function hardSigmoidPieces(a: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const y = tf.add(0.5, tf.mul(0.2, a));
    return tf.add(int(tf.greaterEqual(y, 0)), int(tf.greater(y, 1)));
  });
}

/** A linear activation: one piece, every unit in piece 0. */
export function linearPieces(a: tf.Tensor): tf.Tensor {
  return tf.zeros(a.shape, 'int32');
}

// ---------------------------------------------------------------- max-pooling

export interface MaxPool2dGeometry {
  poolSize: [number, number];
  strides: [number, number];
  padding: 'valid' | 'same';
  dataFormat?: 'channelsLast' | 'channelsFirst';
}

/**
 * Max-pooling: for every output cell, the window cell (`fy·pw + fx`) of its first maximum in
 * row-major order among the window's cells inside the input, scanning with "first cell, or strictly
 * greater than the best so far" — the choice the MaxPoolGrad kernel makes. Windows may overlap.
 * `x` is `[B, H, W, C]` (`[B, C, H, W]` with channelsFirst); the result has the pool's output shape.
 */
export function maxPool2dPieces(x: tf.Tensor, g: MaxPool2dGeometry): tf.Tensor {
  return tf.tidy(() => {
    const { outShape } = poolWindows(x.shape, g);
    return tf.reshape(maxPool2dPiecesAt(x, g), [x.shape[0], ...outShape]);
  });
}

/** Output shape (per sample, in the layer's data format) and size of a 2D max-pool. */
function poolWindows(shape: readonly number[], g: MaxPool2dGeometry) {
  const first = g.dataFormat === 'channelsFirst';
  const [B, d1, d2, d3] = shape;
  const [H, W, C] = first ? [d2, d3, d1] : [d1, d2, d3];
  const info = tf.backend_util.computePool2DInfo([B, H, W, C], g.poolSize, g.strides, 1, g.padding);
  const oh = info.outHeight;
  const ow = info.outWidth;
  return { first, H, W, C, oh, ow, top: info.padInfo.top, left: info.padInfo.left, outShape: first ? [C, oh, ow] : [oh, ow, C] };
}

/**
 * {@link maxPool2dPieces} for some output units only: `units` are flat per-sample indices into
 * the pool's output (C order of its per-sample shape); the result is `[B, units.length]` (all
 * units, in order, when `units` is omitted). Each unit reads its window's cells with one gather
 * per cell offset, so a sampled layer costs what its sample costs, not the whole layer.
 */
export function maxPool2dPiecesAt(x: tf.Tensor, g: MaxPool2dGeometry, units?: ArrayLike<number>): tf.Tensor {
  const { first, H, W, C, oh, ow, top, left } = poolWindows(x.shape, g);
  const B = x.shape[0];
  const [ph, pw] = g.poolSize;
  const [sh, sw] = g.strides;
  const n = units ? units.length : oh * ow * C;
  const P = ph * pw;
  // Per cell offset k, the flat input index of each unit's cell; a cell outside the input reads
  // the window's first cell inside it instead, which never beats the scan's best (it is the start).
  const cells = Array.from({ length: P }, () => new Int32Array(n));
  const start = new Int32Array(n);
  const startPiece = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    const u = units ? units[j] : j;
    let c: number;
    let oy: number;
    let ox: number;
    if (first) {
      c = Math.floor(u / (oh * ow));
      oy = Math.floor((u % (oh * ow)) / ow);
      ox = u % ow;
    } else {
      c = u % C;
      ox = Math.floor(u / C) % ow;
      oy = Math.floor(u / (C * ow));
    }
    let k0 = -1;
    for (let fy = 0; fy < ph; fy++) {
      for (let fx = 0; fx < pw; fx++) {
        const yy = oy * sh - top + fy;
        const xx = ox * sw - left + fx;
        const k = fy * pw + fx;
        if (yy < 0 || yy >= H || xx < 0 || xx >= W) { cells[k][j] = -1; continue; }
        const idx = first ? (c * H + yy) * W + xx : (yy * W + xx) * C + c;
        cells[k][j] = idx;
        if (k0 < 0) { k0 = k; start[j] = idx; startPiece[j] = k; }
      }
    }
    for (let k = 0; k < P; k++) if (cells[k][j] < 0) cells[k][j] = start[j];
  }
  return tf.tidy(() => {
    const flat = tf.reshape(x, [B, H * W * C]);
    // Indices are built in float32 (exact below 2^24) and cast at the end: some backends' int32
    // kernels are incomplete (webgpu cannot transpose int32).
    let best = tf.gather(flat, tf.tensor1d(start, 'int32'), 1);
    let piece = tf.tile(tf.tensor2d(startPiece, [1, n]), [B, 1]);
    for (let k = 0; k < P; k++) {
      const v = tf.gather(flat, tf.tensor1d(cells[k], 'int32'), 1);
      const take = tf.greater(v, best);
      best = tf.where(take, v, best);
      piece = tf.where(take, tf.fill([B, n], k), piece);
    }
    return tf.cast(piece, 'int32');
  });
}

/** MaxPooling1D (`[B, L, C]`, pool p, stride s): the step `0..p−1` of each window's first maximum. */
export function maxPool1dPieces(x: tf.Tensor, g: { poolSize: number; strides: number; padding: 'valid' | 'same' }): tf.Tensor {
  return tf.tidy(() => {
    const [B, L, C] = x.shape;
    const p = maxPool2dPieces(tf.reshape(x, [B, L, 1, C]), { poolSize: [g.poolSize, 1], strides: [g.strides, 1], padding: g.padding });
    return tf.reshape(p, [B, p.shape[1]!, C]);
  });
}

/** {@link maxPool1dPieces} for some output units (flat indices into `[L', C]`): `[B, units.length]`. */
export function maxPool1dPiecesAt(x: tf.Tensor, g: { poolSize: number; strides: number; padding: 'valid' | 'same' }, units?: ArrayLike<number>): tf.Tensor {
  return tf.tidy(() => {
    const [B, L, C] = x.shape;
    return maxPool2dPiecesAt(tf.reshape(x, [B, L, 1, C]), { poolSize: [g.poolSize, 1], strides: [g.strides, 1], padding: g.padding }, units);
  });
}

/**
 * Global max-pooling over `axes` of `x` (1D: `[B, L, C]` over axis 1; 2D: `[B, H, W, C]` over
 * [1, 2], or `[B, C, H, W]` over [2, 3] with channelsFirst): the row-major position of the first
 * maximum. tfjs's gradient goes to every tied position; the piece is the first of them.
 */
export function globalMaxPoolPieces(x: tf.Tensor, opts: { rank: 1 | 2; dataFormat?: 'channelsLast' | 'channelsFirst' }): tf.Tensor {
  return tf.tidy(() => {
    // [B, S, C]: the pooled positions S in row-major order on axis 1.
    let flat: tf.Tensor;
    if (opts.rank === 1) flat = x;
    else if (opts.dataFormat === 'channelsFirst') {
      const [B, C, H, W] = x.shape;
      flat = tf.transpose(tf.reshape(x, [B, C, H * W]), [0, 2, 1]);
    } else {
      const [B, H, W, C] = x.shape;
      flat = tf.reshape(x, [B, H * W, C]);
    }
    const S = flat.shape[1]!;
    const max = tf.max(flat, 1, true);
    // Positions in float32 (exact below 2^24), cast at the end: webgpu cannot reduce int32 over a middle axis.
    const position = tf.reshape(tf.range(0, S, 1), [1, S, 1]);
    const first = tf.min(tf.where(tf.equal(flat, max), tf.broadcastTo(position, flat.shape), tf.fill(flat.shape, S)), 1);
    // No position equals a NaN maximum: piece 0 then.
    return tf.cast(tf.where(tf.equal(first, S), tf.zerosLike(first), first), 'int32');
  });
}

// ---------------------------------------------------------------- merges

function mergePieces(inputs: readonly tf.Tensor[], wins: (best: tf.Tensor, x: tf.Tensor) => tf.Tensor, fold: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const shape = inputs.reduce<number[]>((s, t) => tf.backend_util.assertAndGetBroadcastShape(s, t.shape), inputs[0].shape);
    let best = inputs[0];
    let piece: tf.Tensor = tf.zeros(shape);
    for (let i = 1; i < inputs.length; i++) {
      piece = tf.where(wins(best, inputs[i]), tf.fill(shape, i), piece);
      best = fold(best, inputs[i]);
    }
    return tf.cast(piece, 'int32');
  });
}

/** Maximum merge: the index of the winning input, ties to the first (`maximum`'s gradient: `a ≥ b` goes to a). */
export function maximumPieces(inputs: readonly tf.Tensor[]): tf.Tensor {
  return mergePieces(inputs, (best, x) => tf.less(best, x), (a, b) => tf.maximum(a, b));
}

/** Minimum merge: the index of the winning input, ties to the first (`minimum`'s gradient: `a ≤ b` goes to a). */
export function minimumPieces(inputs: readonly tf.Tensor[]): tf.Tensor {
  return mergePieces(inputs, (best, x) => tf.greater(best, x), (a, b) => tf.minimum(a, b));
}

// ---------------------------------------------------------------- dispatch

const ELEMENTWISE: Record<string, Omit<Piecewise, 'from'>> = {
  linear: { kind: 'linear', pieces: 1, rule: '0: everywhere (linear: one piece)' },
  relu: { kind: 'relu', pieces: 2, rule: '0: a ≤ 0, 1: a > 0' },
  relu6: { kind: 'relu6', pieces: 3, rule: '0: a ≤ 0, 1: 0 < a < 6, 2: a ≥ 6' },
  hardsigmoid: { kind: 'hardsigmoid', pieces: 3, rule: 'y = 0.5 + 0.2·a; 0: y < 0, 1: 0 ≤ y ≤ 1, 2: y > 1' },
};

/** The pieces of an activation by its name (lower-case tfjs class name: relu, relu6, hardsigmoid, elu…). */
export function activationPieceInfo(name: string, from: PieceSource = 'pre-activation'): PieceInfo {
  const n = name.toLowerCase();
  const known = ELEMENTWISE[n];
  if (known) return { ...known, from, activation: n };
  if (SMOOTH_ACTIVATION_NAMES.includes(n)) return { kind: null, pieces: null, reason: `${n} is smooth: it has no linear pieces`, smooth: true, activation: n };
  return { kind: null, pieces: null, reason: `activation ${n} is not known to be piecewise linear`, smooth: false, activation: n };
}

/** Layer classes whose `activation` follows a linear map of the input (their pre-activation). */
export const PRE_ACTIVATION_LAYERS: readonly string[] = [
  'Dense', 'Conv1D', 'Conv2D', 'Conv3D', 'Conv2DTranspose', 'Conv3DTranspose', 'SeparableConv2D', 'DepthwiseConv2D',
];

/** Elementwise activation layers: their units are their inputs' entries. */
export const ACTIVATION_LAYER_CLASSES: readonly string[] = ['Activation', 'ReLU', 'LeakyReLU', 'PReLU', 'ThresholdedReLU', 'ELU', 'Softmax'];

function activationNameOf(layer: Layer): string | null {
  const a = (layer as unknown as { activation?: { getClassName(): string } }).activation;
  return a && typeof a.getClassName === 'function' ? a.getClassName().toLowerCase() : null;
}

function pairOf(v: unknown, fallback: number): [number, number] {
  if (v === undefined || v === null) return [fallback, fallback];
  if (typeof v === 'number') return [v, v];
  const a = v as number[];
  return [a[0], a[1] ?? a[0]];
}

function firstOf(v: unknown): number {
  return Array.isArray(v) ? (v[0] as number) : (v as number);
}

/** Per-sample input shapes of the layer's first call (one per input). */
function inputShapesOf(layer: Layer): number[][] {
  const node = (layer as unknown as { inboundNodes: { inputShapes: unknown }[] }).inboundNodes[0];
  if (!node) return [];
  const s = node.inputShapes as (number | null)[] | (number | null)[][];
  const shapes = (Array.isArray(s[0]) ? s : [s]) as (number | null)[][];
  return shapes.map((x) => x.slice(1) as number[]);
}

/** Max-pool geometry of a MaxPooling2D layer (from its config). */
export function maxPool2dGeometry(layer: Layer): MaxPool2dGeometry {
  const cfg = layer.getConfig() as { poolSize?: unknown; strides?: unknown; padding?: 'valid' | 'same'; dataFormat?: 'channelsLast' | 'channelsFirst' };
  const poolSize = pairOf(cfg.poolSize, 2);
  const strides = cfg.strides === undefined || cfg.strides === null ? poolSize : pairOf(cfg.strides, 1);
  return { poolSize, strides, padding: cfg.padding ?? 'valid', dataFormat: cfg.dataFormat };
}

function maxPool1dGeometry(layer: Layer): { poolSize: number; strides: number; padding: 'valid' | 'same' } {
  const cfg = layer.getConfig() as { poolSize?: unknown; strides?: unknown; padding?: 'valid' | 'same' };
  const poolSize = firstOf(cfg.poolSize ?? 2);
  return { poolSize, strides: cfg.strides === undefined || cfg.strides === null ? poolSize : firstOf(cfg.strides), padding: cfg.padding ?? 'valid' };
}

/** The pieces of a layer, from its class and configuration alone (no tensors). */
export function layerPieceInfo(layer: Layer): PieceInfo {
  const cls = layer.getClassName();
  const cfg = layer.getConfig() as Record<string, unknown>;
  switch (cls) {
    case 'ReLU': {
      const max = cfg.maxValue as number | null | undefined;
      if (max === null || max === undefined) return { ...ELEMENTWISE.relu, from: 'input', activation: 'relu' };
      return { kind: 'clippedrelu', pieces: 3, rule: `0: a ≤ 0, 1: 0 < a ≤ ${max}, 2: a > ${max}`, from: 'input', activation: 'relu' };
    }
    case 'LeakyReLU':
      return { kind: 'leakyrelu', pieces: 2, rule: `0: a ≤ 0 (slope ${String(cfg.alpha)}), 1: a > 0`, from: 'input', activation: 'leakyrelu' };
    case 'PReLU':
      return { kind: 'prelu', pieces: 2, rule: '0: a ≤ 0 (slope α), 1: a > 0', from: 'input', activation: 'prelu' };
    case 'ThresholdedReLU':
      return { kind: 'thresholdedrelu', pieces: 2, rule: `0: a ≤ ${String(cfg.theta)} (output 0), 1: a > ${String(cfg.theta)}`, from: 'input', activation: 'thresholdedrelu' };
    case 'ELU':
      return { kind: null, pieces: null, reason: 'elu is smooth: it has no linear pieces', smooth: true, activation: 'elu' };
    case 'Softmax':
      return { kind: null, pieces: null, reason: 'softmax is smooth: it has no linear pieces', smooth: true, activation: 'softmax' };
    case 'MaxPooling2D': {
      const g = maxPool2dGeometry(layer);
      const n = g.poolSize[0] * g.poolSize[1];
      return { kind: 'maxpool', pieces: n, rule: `window cell fy·${g.poolSize[1]} + fx of the first maximum (row-major, pool ${g.poolSize.join('×')}, strides ${g.strides.join('×')}, ${g.padding})`, from: 'input' };
    }
    case 'MaxPooling1D': {
      const g = maxPool1dGeometry(layer);
      return { kind: 'maxpool', pieces: g.poolSize, rule: `window step of the first maximum (pool ${g.poolSize}, stride ${g.strides}, ${g.padding})`, from: 'input' };
    }
    case 'GlobalMaxPooling1D':
    case 'GlobalMaxPooling2D': {
      const shape = inputShapesOf(layer)[0] ?? [];
      const first = cfg.dataFormat === 'channelsFirst';
      const spatial = cls === 'GlobalMaxPooling1D' ? [shape[0]] : first ? shape.slice(1, 3) : shape.slice(0, 2);
      const n = spatial.reduce((a, b) => a * b, 1);
      return { kind: 'globalmaxpool', pieces: n, rule: `position of the first maximum (row-major over ${spatial.join('×')})`, from: 'input' };
    }
    case 'Maximum':
    case 'Minimum': {
      const n = inputShapesOf(layer).length;
      const kind = cls === 'Maximum' ? 'maximum' : 'minimum';
      return { kind, pieces: n, rule: `index of the ${cls === 'Maximum' ? 'largest' : 'smallest'} of the ${n} inputs, ties to the first`, from: 'inputs' };
    }
    default:
      break;
  }
  const name = activationNameOf(layer);
  if (cls === 'Activation' && name) return activationPieceInfo(name, 'input');
  if (PRE_ACTIVATION_LAYERS.includes(cls) && name) return activationPieceInfo(name, 'pre-activation');
  return { kind: null, pieces: null, reason: `${cls} is not a piecewise-linear activation, max-pooling or Maximum/Minimum layer`, smooth: false };
}

/** An activation's pieces at `a` by its name; `NoPieces` for a smooth (or unknown) activation. */
export function activationPieces(name: string, a: tf.Tensor): PiecesResult {
  const info = activationPieceInfo(name);
  if (info.kind === null) return { pieces: null, reason: info.reason, smooth: info.smooth };
  const pieces = info.kind === 'relu' ? reluPieces(a)
    : info.kind === 'relu6' ? relu6Pieces(a)
      : info.kind === 'hardsigmoid' ? hardSigmoidPieces(a)
        : linearPieces(a);
  return { pieces, count: info.pieces };
}

interface Kernelled { weights: { originalName: string; read(): tf.Tensor }[] }

function weightOf(layer: Layer, suffix: string): tf.Tensor | undefined {
  return (layer as unknown as Kernelled).weights.find((w) => w.originalName.endsWith(suffix))?.read();
}

const LINEAR_ACTIVATION = { apply: (x: tf.Tensor) => x, getClassName: () => 'linear', getConfig: () => ({}) };

/**
 * The pre-activation of a layer with an `activation` (Dense, Conv…): its linear map of `x`.
 * Dense and channels-last Conv2D are evaluated as core's captured forward pass does (matMul or
 * conv2d, then the bias added), so the values are bit for bit those the trainer captures; other
 * layers are applied with their activation set to linear for the call.
 */
export function piecePreActivation(layer: Layer, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const cls = layer.getClassName();
    const cfg = layer.getConfig() as Record<string, unknown>;
    const kernel = weightOf(layer, 'kernel');
    const bias = cfg.useBias === false ? undefined : weightOf(layer, 'bias');
    if (cls === 'Dense' && kernel) {
      const a = x.rank === 2
        ? tf.matMul(x as tf.Tensor2D, kernel as tf.Tensor2D)
        : tf.reshape(tf.matMul(tf.reshape(x, [-1, x.shape[x.rank - 1]]) as tf.Tensor2D, kernel as tf.Tensor2D), [...x.shape.slice(0, -1), kernel.shape[1]!]);
      return bias ? tf.add(a, bias) : a;
    }
    if (cls === 'Conv2D' && kernel && cfg.dataFormat !== 'channelsFirst' && (cfg.padding === 'valid' || cfg.padding === 'same')) {
      const a = tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, pairOf(cfg.strides, 1), cfg.padding, 'NHWC', pairOf(cfg.dilationRate, 1));
      return bias ? tf.add(a, bias) : a;
    }
    const holder = layer as unknown as { activation: unknown };
    const saved = holder.activation;
    holder.activation = LINEAR_ACTIVATION;
    try {
      return layer.apply(x, { training: false }) as tf.Tensor;
    } finally {
      holder.activation = saved;
    }
  });
}

/**
 * The piece of every output unit of `layer` for one batch: `inputs` are the layer's input tensors,
 * `output` its output (unused by the kinds above but kept for callers that have it). For a layer
 * with its own activation (Dense, Conv…) pass `preActivation` when you have it, else it is
 * computed from `inputs[0]`. With `units` (flat per-sample indices of output units, C order), only
 * those: the result is `[B, units.length]` (max-pooling then reads only their windows). Returns
 * `{ pieces: null, reason }` for smooth activations and for layers that have no linear pieces;
 * never throws for them.
 */
export function layerPieces(layer: Layer, inputs: readonly tf.Tensor[], output?: tf.Tensor, preActivation?: tf.Tensor, units?: ArrayLike<number>): PiecesResult {
  void output;
  const info = layerPieceInfo(layer);
  if (info.kind === null) return { pieces: null, reason: info.reason, smooth: info.smooth };
  const cfg = layer.getConfig() as Record<string, unknown>;
  const x = inputs[0];
  if (info.kind === 'maxpool' && units) {
    const pieces = layer.getClassName() === 'MaxPooling1D' ? maxPool1dPiecesAt(x, maxPool1dGeometry(layer), units) : maxPool2dPiecesAt(x, maxPool2dGeometry(layer), units);
    return { pieces, count: info.pieces };
  }
  const all = tf.tidy(() => {
    switch (info.kind) {
      case 'clippedrelu': return clippedReluPieces(x, cfg.maxValue as number);
      case 'leakyrelu': return leakyReluPieces(x);
      case 'prelu': return preluPieces(x);
      case 'thresholdedrelu': return thresholdedReluPieces(x, cfg.theta as number);
      case 'maxpool':
        return layer.getClassName() === 'MaxPooling1D' ? maxPool1dPieces(x, maxPool1dGeometry(layer)) : maxPool2dPieces(x, maxPool2dGeometry(layer));
      case 'globalmaxpool':
        return globalMaxPoolPieces(x, { rank: layer.getClassName() === 'GlobalMaxPooling1D' ? 1 : 2, dataFormat: cfg.dataFormat as 'channelsLast' | 'channelsFirst' | undefined });
      case 'maximum': return maximumPieces(inputs);
      case 'minimum': return minimumPieces(inputs);
      default: {
        // relu, relu6, hardsigmoid, linear: an activation of the input or of the pre-activation (known, so never null).
        const a = info.from === 'pre-activation' ? preActivation ?? piecePreActivation(layer, x) : x;
        return (activationPieces(info.activation ?? info.kind!, a) as Pieces).pieces;
      }
    }
  });
  if (!units) return { pieces: all, count: info.pieces };
  const some = tf.tidy(() => tf.cast(tf.gather(tf.reshape(tf.cast(all, 'float32'), [all.shape[0], -1]), tf.tensor1d(Int32Array.from(units), 'int32'), 1), 'int32'));
  all.dispose();
  return { pieces: some, count: info.pieces };
}
