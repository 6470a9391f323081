// The brute-force references for the derivatives tests (packages/core/src/derivatives/): every
// Jacobian the clamped machinery computes is checked against
//   (a) per-output backward passes through the real tfjs layers (`forwardFrom` + tf.grad, one pass
//       per output unit), and
//   (b) central finite differences of `forwardFrom` in float32, at points away from kinks.
// Float32 tolerances (relative to the largest entry of the reference):
//   push (forward mode) vs pull (reverse mode):  1e-5
//   push vs per-output backward passes:          1e-5 (observed ~1e-7)
//   push vs central differences, step 1e-3:      5e-3 (float32 round-off ~1e-4 / step dominates)
// Layers whose training forward pass is not a function of its inputs alone (dropout's random mask,
// BatchNormalization's batch statistics) are evaluated by the references with the round's state
// held fixed: see `hold` below.
import { expect } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  captureForward, clampedForward, denseMap, forwardFrom, modelAnatomy, paramMap, perSampleJacobian,
  type BatchCapture, type GraphNode, type ModelAnatomy, type ParamLayer,
} from '@taylorlens/core';

export const TOL = { pushPull: 1e-5, backward: 1e-5, differences: 5e-3, step: 1e-3 };

/** max |a − b| / max |b|. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-12);
}

/**
 * Replace, for the duration of `fn`, a layer's training forward pass by a fixed function of its
 * inputs (the round's state held fixed). The references call `layer.apply`, so they see it.
 */
export function withLayersReplaced<T>(replacements: Map<tfl.layers.Layer, (ins: tf.Tensor[]) => tf.Tensor>, fn: () => T): T {
  const saved = new Map<tfl.layers.Layer, unknown>();
  for (const [layer, f] of replacements) {
    const holder = layer as unknown as { apply: unknown };
    saved.set(layer, holder.apply);
    holder.apply = (input: tf.Tensor | tf.Tensor[]) => f(Array.isArray(input) ? input : [input]);
  }
  try {
    return fn();
  } finally {
    for (const [layer, apply] of saved) (layer as unknown as { apply: unknown }).apply = apply;
  }
}

/**
 * The round's state as fixed maps, by hand: BatchNormalization as the affine map
 * `γ (x − μ_B)/√(σ²_B + ε) + β` with the batch mean and (biased) variance of the round's input to
 * the layer, computed here from the captured input (not by the module under test); dropout-like
 * layers as `x · mask` with the mask the capture drew.
 */
export function hold(anatomy: ModelAnatomy, cap: BatchCapture): { replacements: Map<tfl.layers.Layer, (ins: tf.Tensor[]) => tf.Tensor>; dispose(): void } {
  const replacements = new Map<tfl.layers.Layer, (ins: tf.Tensor[]) => tf.Tensor>();
  const owned: tf.Tensor[] = [];
  for (const node of anatomy.graph) {
    // BatchNormalization is a scoped layer now (role 'param') unless it has no γ: held either way.
    if (node.role !== 'derivatives' && !(node.role === 'param' && node.className === 'BatchNormalization')) continue;
    if (node.className === 'BatchNormalization') {
      const x = cap.nodeRounds.get(node.id)!.inputs[0];
      const cfg = node.layer.getConfig() as { axis: number; epsilon: number };
      const axis = cfg.axis < 0 ? cfg.axis + x.rank : cfg.axis;
      const reduce = Array.from({ length: x.rank }, (_, i) => i).filter((i) => i !== axis);
      const shape = x.shape.map((s, i) => (i === axis ? s : 1));
      const w = Object.fromEntries(node.layer.weights.map((v) => [v.originalName.split('/').pop()!, v.read()]));
      const { scale, shift } = tf.tidy(() => {
        const mean = tf.mean(x, reduce, true);
        const variance = tf.mean(tf.square(tf.sub(x, mean)), reduce, true);
        let s = tf.div(1, tf.sqrt(tf.add(variance, cfg.epsilon)));
        if (w.gamma) s = tf.mul(s, tf.reshape(w.gamma, shape));
        let b = tf.neg(tf.mul(mean, s));
        if (w.beta) b = tf.add(b, tf.reshape(w.beta, shape));
        return { scale: s, shift: b };
      });
      owned.push(scale, shift);
      replacements.set(node.layer, (ins) => tf.add(tf.mul(ins[0], scale), shift));
    }
    // Additive noise moves the output whatever the input: held as the identity (its value is not kept).
    if (node.className === 'GaussianNoise') replacements.set(node.layer, (ins) => ins[0]);
    if (['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianDropout'].includes(node.className)) {
      const mask = cap.nodeState(node.id)!.sample.mask;
      replacements.set(node.layer, (ins) => tf.mul(ins[0], mask));
    }
  }
  return { replacements, dispose: () => tf.dispose(owned) };
}

/** `[B, p_L, p_l]` by per-output backward passes through the real layers: row k is ∇_a Σ_b f[b, k]. */
export function jacobianByBackward(anatomy: ModelAnatomy, l: number, a: tf.Tensor, x: tf.Tensor): tf.Tensor3D {
  const B = a.shape[0];
  const pL = anatomy.outputSize;
  const rows: tf.Tensor[] = [];
  for (let k = 0; k < pL; k++) {
    rows.push(tf.tidy(() => tf.reshape(tf.grad((aa: tf.Tensor) =>
      tf.sum(tf.slice(tf.reshape(forwardFrom(anatomy, l, aa, x), [B, pL]), [0, k], [B, 1])))(a), [B, 1, -1])));
  }
  const J = tf.concat(rows, 1) as tf.Tensor3D;
  tf.dispose(rows);
  return J;
}

/** `[B, p_L, p_l]` by central differences of the real network in each pre-activation coordinate (all samples at once: they are independent). */
export function jacobianByDifferences(anatomy: ModelAnatomy, l: number, a: tf.Tensor, x: tf.Tensor, eps = TOL.step): tf.Tensor3D {
  const B = a.shape[0];
  const pL = anatomy.outputSize;
  const pl = anatomy.layers[l].units;
  const cols: tf.Tensor[] = [];
  for (let j = 0; j < pl; j++) {
    cols.push(tf.tidy(() => {
      const e = tf.reshape(tf.mul(tf.oneHot(tf.tensor1d([j], 'int32'), pl), eps), [1, ...anatomy.layers[l].outputShape]);
      const up = forwardFrom(anatomy, l, tf.add(a, e), x);
      const down = forwardFrom(anatomy, l, tf.sub(a, e), x);
      return tf.reshape(tf.div(tf.sub(up, down), 2 * eps), [B, pL, 1]);
    }));
  }
  const J = tf.concat(cols, 2) as tf.Tensor3D;
  tf.dispose(cols);
  return J;
}

/**
 * The scoped layer's linear map with a given kernel and bias (its pre-activation). Dense and
 * Conv2D by hand; the other scoped kinds through core's `paramMap`, which
 * derivatives-scoped-params.test.ts checks against the real layers with their weights moved.
 */
function linearWith(p: ParamLayer, x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | null): tf.Tensor {
  let a: tf.Tensor;
  if (p.kind === 'dense') a = denseMap(x, kernel);
  else if (p.kind === 'conv2d') {
    const c = p.conv!;
    a = tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, c.strides, c.padding, 'NHWC', c.dilation);
  } else return paramMap(p, x, kernel, bias);
  return bias ? tf.add(a, bias) : a;
}

/** The pre-activation at given weights: the linear map, plus PReLU's offset relu(x) (its map is affine in α). */
function preActivationWith(p: ParamLayer, x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | null): tf.Tensor {
  const a = linearWith(p, x, kernel, bias);
  return p.kind === 'prelu' ? tf.add(tf.relu(x), a) : a;
}

export interface CheckOptions {
  /** Output activation the loss absorbs. */
  absorbs?: string | null;
  /** Compare with central differences (false at a deliberate tie or kink: they are not defined there). */
  differences?: boolean;
  /** Compare with per-output backward passes (false where tfjs cannot differentiate the layer). */
  backward?: boolean;
  /** Which scoped layers (default all). */
  layers?: number[];
  /** Tolerance against differences (default TOL.differences). */
  differencesTol?: number;
  /** Compare the capture's output with the reference network at the base point (false where the capture's noise is not kept). */
  base?: boolean;
  /** Also check the parameter Jacobian ⟨G_l, δW⟩ (default true). */
  params?: boolean;
}

export interface CheckReport {
  /** Worst relative errors seen, per reference. */
  pushPull: number;
  backward: number;
  differences: number;
  /** Parameter Jacobian against central differences and against backward passes. */
  paramsDifferences: number;
  paramsBackward: number;
  /** Output of the capture at the base point against the reference network there. */
  base: number;
}

/**
 * Build the anatomy, capture a round at `x`, and check for every scoped layer l:
 *  - J_l by the push (perSampleJacobian 'forward') and by the pull ('reverse') agree,
 *  - both equal per-output backward passes through the real layers and central differences,
 *  - the parameter Jacobian: the push of `linear(x_{l−1}, δK) + δb` equals the directional
 *    derivative of the real network in the weights (central differences per sample, and backward
 *    passes per output unit summed over the batch),
 * and that the capture + Jacobians + dispose leaks no tensor.
 */
export function checkJacobians(model: tfl.LayersModel, x: tf.Tensor, opts: CheckOptions = {}): CheckReport {
  const anatomy = modelAnatomy(model, { lossAbsorbs: opts.absorbs ?? null });
  expect(anatomy.problems).toEqual([]);
  expect(anatomy.layers.length).toBeGreaterThan(0);
  const report: CheckReport = { pushPull: 0, backward: 0, differences: 0, paramsDifferences: 0, paramsBackward: 0, base: 0 };
  const layers = opts.layers ?? anatomy.layers.map((_, l) => l);

  // Leaks: one capture, every Jacobian, dispose.
  const before = tf.memory().numTensors;
  {
    const cap = captureForward(anatomy, x, { inputs: true, preActivations: true });
    for (const l of layers) {
      tf.dispose([perSampleJacobian(anatomy, cap, l, 'forward'), perSampleJacobian(anatomy, cap, l, 'reverse')]);
    }
    cap.dispose();
  }
  expect(tf.memory().numTensors).toBe(before);

  const cap = captureForward(anatomy, x, { inputs: true, preActivations: true });
  const held = hold(anatomy, cap);
  try {
    withLayersReplaced(held.replacements, () => {
      for (const l of layers) {
        const p = anatomy.layers[l];
        const a = cap.preActivation(l);
        const fwd = perSampleJacobian(anatomy, cap, l, 'forward');
        const rev = perSampleJacobian(anatomy, cap, l, 'reverse');
        expect(fwd.shape).toEqual([x.shape[0], anatomy.outputSize, p.units]);
        const f = fwd.dataSync();
        // The references are the network the capture saw.
        const out = tf.tidy(() => forwardFrom(anatomy, l, a, x));
        report.base = Math.max(report.base, relErr(tf.tidy(() => tf.reshape(out, [-1])).dataSync(), cap.output.dataSync()));
        out.dispose();
        report.pushPull = Math.max(report.pushPull, relErr(rev.dataSync(), f));
        if (opts.backward !== false) {
          const Jb = jacobianByBackward(anatomy, l, a, x);
          report.backward = Math.max(report.backward, relErr(f, Jb.dataSync()));
          Jb.dispose();
        }
        if (opts.differences !== false) {
          const Jd = jacobianByDifferences(anatomy, l, a, x);
          report.differences = Math.max(report.differences, relErr(f, Jd.dataSync()));
          Jd.dispose();
        }
        tf.dispose([fwd, rev]);
        if (opts.params !== false) {
          const e = parameterJacobianErrors(anatomy, cap, l, x, opts);
          report.paramsDifferences = Math.max(report.paramsDifferences, e.differences);
          report.paramsBackward = Math.max(report.paramsBackward, e.backward);
        }
      }
    });
  } finally {
    held.dispose();
    cap.dispose();
  }
  if (process.env.DERIV_REPORT) console.log(JSON.stringify(report));
  if (opts.base !== false) expect(report.base, 'capture output vs reference network at the base point').toBeLessThan(1e-5);
  expect(report.pushPull, 'push vs pull').toBeLessThan(TOL.pushPull);
  if (opts.backward !== false) expect(report.backward, 'push vs per-output backward passes').toBeLessThan(TOL.backward);
  if (opts.differences !== false) expect(report.differences, 'push vs central differences').toBeLessThan(opts.differencesTol ?? TOL.differences);
  if (opts.backward !== false) expect(report.paramsBackward, 'parameter Jacobian vs backward passes').toBeLessThan(TOL.backward);
  if (opts.differences !== false) expect(report.paramsDifferences, 'parameter Jacobian vs central differences').toBeLessThan(opts.differencesTol ?? TOL.differences);
  return report;
}

/**
 * ⟨G_l, δW⟩ per sample: the clamped push of `linear(x_{l−1}, δK) + δb`, against central differences
 * of the real network in the weights (per sample) and, when backward passes are possible, against
 * per-output backward passes in the weights (summed over the batch).
 */
function parameterJacobianErrors(anatomy: ModelAnatomy, cap: BatchCapture, l: number, x: tf.Tensor, opts: CheckOptions): { differences: number; backward: number } {
  const p = anatomy.layers[l];
  const B = x.shape[0];
  const pL = anatomy.outputSize;
  const xin = cap.layers[l].input!;
  return tf.tidy(() => {
    // A random direction in the weights, scaled so that it moves no pre-activation by more than 1
    // (the differences then step no further than for J_l: away from kinks alike).
    const dK0 = tf.randomNormal(p.kernel.shape, 0, 1, 'float32', 100 + l);
    const db0 = p.bias ? tf.randomNormal(p.bias.shape, 0, 1, 'float32', 200 + l) : null;
    const scale = tf.div(1, tf.max(tf.abs(linearWith(p, xin, dK0, db0))));
    const dK = tf.mul(dK0, scale);
    const db = db0 && tf.mul(db0, scale);
    const K = p.kernel as tf.Tensor;
    const b = p.bias ? (p.bias as tf.Tensor) : null;
    const v = linearWith(p, xin, dK, db);
    const pushed = tf.reshape(clampedForward(anatomy, cap, l, tf.expandDims(v, 1)), [B, pL]);
    const pv = pushed.dataSync();
    const errors = { differences: 0, backward: 0 };
    if (opts.differences !== false) {
      const eps = TOL.step;
      const at = (t: number) => forwardFrom(anatomy, l, preActivationWith(p, xin, tf.add(K, tf.mul(dK, t)), b && tf.add(b, tf.mul(db!, t))), x);
      const fd = tf.div(tf.sub(at(eps), at(-eps)), 2 * eps);
      errors.differences = relErr(pv, fd.dataSync());
    }
    if (opts.backward !== false) {
      const summed = tf.sum(pushed, 0).dataSync();
      const dirs = b ? [dK, db!] : [dK];
      const ref = new Float32Array(pL);
      for (let k = 0; k < pL; k++) {
        const gs = tf.grads((...w: tf.Tensor[]) => tf.sum(tf.slice(tf.reshape(forwardFrom(anatomy, l, preActivationWith(p, xin, w[0], w[1] ?? null), x), [B, pL]), [0, k], [B, 1])))(b ? [K, b] : [K]);
        ref[k] = gs.reduce((s, g, i) => s + tf.sum(tf.mul(g, dirs[i])).dataSync()[0], 0);
      }
      errors.backward = relErr(summed, ref);
    }
    return errors;
  });
}

/** Nodes of a class in the anatomy's graph. */
export function nodesOf(anatomy: ModelAnatomy, className: string): GraphNode[] {
  return anatomy.graph.filter((n) => n.className === className);
}
