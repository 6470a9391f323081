/**
 * Max pooling, frozen at the round's choices: each window passes the perturbation of the one
 * cell training routes its gradient to. Windows that do not overlap keep that choice as a mask
 * on the input (the gradient of the layer's own pooling, i.e. the backend's MaxPoolGrad); windows
 * that overlap (stride < pool size) keep one selection per window offset, the first maximum in
 * row-major order, as tfjs's MaxPoolGrad kernels choose. Global max pooling keeps the gradient's
 * mask (tfjs routes a tied maximum's gradient to every tied cell, and so does the push).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Layer, LayerDerivatives, NodeState, PushShape } from './types.js';
import { gradOfSum, only } from './util.js';

export interface PoolGeometry {
  size: [number, number];
  strides: [number, number];
  /** Padding that makes every window whole, as tfjs pads; negative crops ('valid' drops the rest). */
  paddings: [[number, number], [number, number], [number, number], [number, number]];
  outHeight: number;
  outWidth: number;
}

function pair(v: number | number[] | undefined | null, fallback: [number, number]): [number, number] {
  if (v === undefined || v === null) return fallback;
  return typeof v === 'number' ? [v, v] : [v[0], v[1] ?? v[0]];
}

/** Pool size, strides and padding of a 2-D pooling layer, or of a 1-D one seen as `1 × T`. */
export function poolConfig(layer: Layer): { size: [number, number]; strides: [number, number]; padding: 'valid' | 'same' } {
  const cfg = layer.getConfig() as { poolSize: number | number[]; strides?: number | number[] | null; padding: 'valid' | 'same' };
  if (layer.getClassName().endsWith('1D')) {
    const k = Array.isArray(cfg.poolSize) ? cfg.poolSize[0] : cfg.poolSize;
    const s = cfg.strides === undefined || cfg.strides === null ? k : Array.isArray(cfg.strides) ? cfg.strides[0] : cfg.strides;
    return { size: [1, k], strides: [1, s], padding: cfg.padding };
  }
  const size = pair(cfg.poolSize, [2, 2]);
  return { size, strides: pair(cfg.strides, size), padding: cfg.padding };
}

/** Window geometry on an `[N, H, W, C]` input, with tfjs's padding rule. */
export function windowGeometry(c: ReturnType<typeof poolConfig>, inputShape: readonly number[]): PoolGeometry {
  const [, H, W] = inputShape;
  const axis = (n: number, k: number, s: number): [number, number, number] => {
    if (c.padding === 'valid') {
      const out = Math.floor((n - k) / s) + 1;
      return [0, (out - 1) * s + k - n, out];
    }
    const out = Math.ceil(n / s);
    const total = Math.max((out - 1) * s + k - n, 0);
    return [Math.floor(total / 2), total - Math.floor(total / 2), out];
  };
  const [top, bottom, outHeight] = axis(H, c.size[0], c.strides[0]);
  const [left, right, outWidth] = axis(W, c.size[1], c.strides[1]);
  return { size: c.size, strides: c.strides, paddings: [[0, 0], [top, bottom], [left, right], [0, 0]], outHeight, outWidth };
}

/** Geometry of a non-overlapping max-pool layer on an `[N, H, W, C]` input. */
export function poolGeometry(layer: Layer, inputShape: readonly number[]): PoolGeometry {
  return windowGeometry(poolConfig(layer), inputShape);
}

/** Pad with `value`, or crop where a padding is negative, so the cells tile the windows exactly. */
export function padOrCrop(t: tf.Tensor, g: PoolGeometry, value = 0): tf.Tensor {
  const [N, H, W, C] = t.shape;
  const [[, ], [top, bottom], [left, right]] = g.paddings;
  const cropped = bottom < 0 || right < 0
    ? tf.slice(t, [0, 0, 0, 0], [N, H + Math.min(bottom, 0), W + Math.min(right, 0), C])
    : t;
  const pads: [number, number][] = [[0, 0], [top, Math.max(bottom, 0)], [left, Math.max(right, 0)], [0, 0]];
  return pads.some(([a, b]) => a || b) ? tf.pad(cropped, pads, value) : cropped;
}

/** Repeat each window's value over its cells: [N, oh, ow, C] → [N, oh·ph, ow·pw, C] (non-overlapping). */
export function windowsToCells(v: tf.Tensor, g: PoolGeometry): tf.Tensor {
  const [N, oh, ow, C] = v.shape;
  const [ph, pw] = g.size;
  return tf.reshape(tf.tile(tf.reshape(v, [N, oh, 1, ow, 1, C]), [1, 1, ph, 1, pw, 1]), [N, oh * ph, ow * pw, C]);
}

/** Sum each window's cells: [N, oh·ph, ow·pw, C] → [N, oh, ow, C] (non-overlapping). */
export function cellsToWindows(v: tf.Tensor, g: PoolGeometry): tf.Tensor {
  const [N, , , C] = v.shape;
  const [ph, pw] = g.size;
  return tf.sum(tf.reshape(v, [N, g.outHeight, ph, g.outWidth, pw, C]), [2, 4]);
}

export function overlaps(c: { size: [number, number]; strides: [number, number] }): boolean {
  return c.strides[0] < c.size[0] || c.strides[1] < c.size[1];
}

/** As 4-D `[N, H, W, C]`: a 1-D pool's `[N, T, C]` becomes `[N, 1, T, C]`. */
const as4d = (t: tf.Tensor, oneD: boolean) => (oneD ? tf.expandDims(t, 1) : t);

/**
 * The cells of window offset (i, j) of every window: `[N, oh, ow, C]` from the padded
 * `[N, H', W', C]`. A strided slice written as pad, slice, reshape and slice (ops whose gradients
 * tfjs has, so the push can run in reverse mode).
 */
function offsetCells(padded: tf.Tensor, g: PoolGeometry, i: number, j: number, fill: number): tf.Tensor {
  const [N, H, W, C] = padded.shape;
  const [sh, sw] = g.strides;
  const oh = g.outHeight;
  const ow = g.outWidth;
  const extraH = Math.max(i + oh * sh - H, 0);
  const extraW = Math.max(j + ow * sw - W, 0);
  const room = extraH || extraW ? tf.pad(padded, [[0, 0], [0, extraH], [0, extraW], [0, 0]], fill) : padded;
  const block = tf.slice(room, [0, i, j, 0], [N, oh * sh, ow * sw, C]);
  if (sh === 1 && sw === 1) return block;
  const strided = tf.slice(tf.reshape(block, [N, oh, sh, ow, sw, C]), [0, 0, 0, 0, 0, 0], [N, oh, 1, ow, 1, C]);
  return tf.reshape(strided, [N, oh, ow, C]);
}

/** Non-overlapping windows: the push of a mask on the cells (memory of the input's size). */
function pushMasked(mask: tf.Tensor, g: PoolGeometry, d: tf.Tensor, s: PushShape, oneD: boolean): tf.Tensor {
  const m4 = as4d(mask, oneD);
  const [, H, W, C] = m4.shape;
  const kept = tf.reshape(tf.mul(tf.reshape(d, [s.B, s.K, H, W, C]), tf.expandDims(m4, 1)), [s.B * s.K, H, W, C]);
  const pooled = cellsToWindows(padOrCrop(kept, g), g);
  return tf.reshape(pooled, [s.B, s.K, ...s.outputShape]);
}

/** Overlapping windows: one 0/1 selection per window offset `[kh·kw, B, oh, ow, C]`. */
function offsetSelections(x: tf.Tensor, y: tf.Tensor, g: PoolGeometry): tf.Tensor {
  return tf.tidy(() => {
    const padded = padOrCrop(x, g, -Infinity);
    let taken = tf.cast(tf.zerosLike(y), 'bool');
    const sel: tf.Tensor[] = [];
    for (let i = 0; i < g.size[0]; i++) {
      for (let j = 0; j < g.size[1]; j++) {
        const hit = tf.logicalAnd(tf.equal(offsetCells(padded, g, i, j, -Infinity), y), tf.logicalNot(taken));
        taken = tf.logicalOr(taken, hit);
        sel.push(tf.cast(hit, 'float32'));
      }
    }
    return tf.stack(sel);
  });
}

function pushSelected(sel: tf.Tensor, g: PoolGeometry, d: tf.Tensor, s: PushShape, inputShape: number[], oneD: boolean): tf.Tensor {
  const flat = as4d(tf.reshape(d, [s.B * s.K, ...inputShape]), oneD);
  const padded = padOrCrop(flat, g, 0);
  const oh = g.outHeight;
  const ow = g.outWidth;
  const C = flat.shape[3]!;
  let out: tf.Tensor | null = null;
  let o = 0;
  for (let i = 0; i < g.size[0]; i++) {
    for (let j = 0; j < g.size[1]; j++, o++) {
      const cells = tf.reshape(offsetCells(padded, g, i, j, 0), [s.B, s.K, oh, ow, C]);
      const term = tf.mul(cells, tf.expandDims(tf.reshape(tf.slice(sel, o, 1), [s.B, oh, ow, C]), 1));
      out = out ? tf.add(out, term) : term;
    }
  }
  return tf.reshape(out!, [s.B, s.K, ...s.outputShape]);
}

const maxPooling: LayerDerivatives = {
  kind: 'maxPooling',
  freeze(layer, r): NodeState {
    const c = poolConfig(layer);
    const oneD = layer.getClassName().endsWith('1D');
    if (!overlaps(c)) return { sample: { mask: gradOfSum((t) => layer.apply(t) as tf.Tensor, r.inputs[0]) } };
    const x = as4d(r.inputs[0], oneD);
    const g = windowGeometry(c, x.shape);
    return { sample: { select: tf.tidy(() => tf.transpose(offsetSelections(x, as4d(r.output, oneD), g), [1, 0, 2, 3, 4])) } };
  },
  push(layer, state, d, s) {
    const di = only(d);
    if (!di) return null;
    const c = poolConfig(layer);
    const oneD = layer.getClassName().endsWith('1D');
    const in4 = oneD ? [s.B, 1, ...s.inputShapes[0]] : [s.B, ...s.inputShapes[0]];
    const g = windowGeometry(c, in4);
    if (state!.sample.mask) return pushMasked(state!.sample.mask, g, di, s, oneD);
    // Selections are stored batch-first (a sub-batch slices them); offsets first for the push.
    return pushSelected(tf.transpose(state!.sample.select, [1, 0, 2, 3, 4]), g, di, s, s.inputShapes[0], oneD);
  },
};

/** Global max pooling: the gradient's mask, summed over positions. */
const globalMaxPooling: LayerDerivatives = {
  kind: 'globalMaxPooling',
  freeze: (layer, r) => ({ sample: { mask: gradOfSum((t) => layer.apply(t) as tf.Tensor, r.inputs[0]) } }),
  push(_layer, state, d, s) {
    const di = only(d);
    if (!di) return null;
    const spatial = Array.from({ length: s.inputShapes[0].length - 1 }, (_, i) => i + 2);
    return tf.sum(tf.mul(di, tf.expandDims(state!.sample.mask, 1)), spatial);
  },
};

export const POOLING_LAYERS: Record<string, LayerDerivatives> = {
  MaxPooling1D: maxPooling,
  MaxPooling2D: maxPooling,
  GlobalMaxPooling1D: globalMaxPooling,
  GlobalMaxPooling2D: globalMaxPooling,
};
