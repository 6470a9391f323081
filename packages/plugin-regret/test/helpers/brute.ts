// Brute-force references built on plain autograd through the real network (BackPACK style):
// nothing here uses the clamped product, the Gram recursion or the statistics under test.
import * as tf from '@tensorflow/tfjs-core';
import { activate, type ModelAnatomy, type TaylorLoss } from '@taylorlens/core';
import { linearWith, splitTheta, splitVariables, thetaOf, type ScopeDescription } from '@taylorlens/plugin-regret';

/** The real network with explicit weights (anatomy.variables order). */
export function forwardWith(anatomy: ModelAnatomy, weights: readonly tf.Tensor[], x: tf.Tensor): tf.Tensor2D {
  const at = (v: tf.Variable | undefined) => (v ? weights[anatomy.variables.indexOf(v)] : null);
  let h = x;
  for (const s of anatomy.before) h = s.layer.apply(h) as tf.Tensor;
  const last = anatomy.layers.length - 1;
  for (const p of anatomy.layers) {
    const a = linearWith(p, h, at(p.kernel)!, at(p.bias));
    h = p.index === last && anatomy.absorbedOutputActivation ? a : activate(p, a);
    for (const s of p.after) if (s.kind !== 'activation') h = s.layer.apply(h) as tf.Tensor;
  }
  return tf.reshape(h, [x.shape[0], -1]) as tf.Tensor2D;
}

/** Weights with the scope's parameters replaced by v `[K, P]` (differentiable in v). */
export function withScope(anatomy: ModelAnatomy, d: ScopeDescription, weights: readonly tf.Tensor[], v: tf.Tensor): tf.Tensor[] {
  if (d.kind === 'network') return splitVariables(anatomy, v);
  const p = anatomy.layers[d.layerIndex!];
  const ki = anatomy.variables.indexOf(p.kernel);
  const bi = p.bias ? anatomy.variables.indexOf(p.bias) : -1;
  let theta: tf.Tensor;
  if (d.kind === 'layer') theta = tf.reshape(v, [p.fanIn, p.channels]);
  else {
    const E = tf.oneHot(tf.tensor1d(d.units!, 'int32'), p.channels); // [K, C]
    const keep = tf.sub(1, tf.sum(E, 0));
    theta = tf.add(tf.mul(thetaOf(p, weights[ki], bi >= 0 ? weights[bi] : null), keep), tf.matMul(v, E, true, false));
  }
  const { kernel, bias } = splitTheta(p, theta);
  const out = [...weights];
  out[ki] = kernel;
  if (bi >= 0) out[bi] = bias!;
  return out;
}

/** Per-sample Jacobian tensors `[K, B, p_L, P]` by one backward pass per sample and output unit. */
export function bruteJacobianTensors(anatomy: ModelAnatomy, d: ScopeDescription, weights: readonly tf.Tensor[], x: tf.Tensor, v: tf.Tensor2D): Float32Array {
  const [K, P] = v.shape;
  const B = x.shape[0];
  const pL = anatomy.outputSize;
  const out = new Float32Array(K * B * pL * P);
  for (let b = 0; b < B; b++) {
    const xb = tf.slice(x, b, 1);
    for (let k = 0; k < pL; k++) {
      const g = tf.tidy(() => tf.grad((vv: tf.Tensor) => tf.sum(tf.slice(forwardWith(anatomy, withScope(anatomy, d, weights, vv), xb), [0, k], [1, 1])))(v));
      const gv = g.dataSync();
      for (let a = 0; a < K; a++) for (let i = 0; i < P; i++) out[((a * B + b) * pL + k) * P + i] = gv[a * P + i];
      g.dispose();
    }
    xb.dispose();
  }
  return out;
}

/**
 * The same by central finite differences in every parameter. Where a step crosses a ReLU kink or
 * flips a max-pool choice the one-sided differences disagree: such entries are marked non-smooth
 * (`smooth[i] = 0`) so the comparison can skip them.
 */
export function finiteDifferenceJacobianTensors(anatomy: ModelAnatomy, d: ScopeDescription, weights: readonly tf.Tensor[], x: tf.Tensor, v: tf.Tensor2D, eps = 1e-3): { values: Float32Array; smooth: Uint8Array } {
  const [K, P] = v.shape;
  const B = x.shape[0];
  const pL = anatomy.outputSize;
  const values = new Float32Array(K * B * pL * P);
  const smooth = new Uint8Array(K * B * pL * P);
  const f0 = tf.tidy(() => forwardWith(anatomy, withScope(anatomy, d, weights, v), x));
  const base = f0.dataSync();
  for (let a = 0; a < K; a++) {
    for (let i = 0; i < P; i++) {
      const [up, down] = tf.tidy(() => {
        const e = new Float32Array(K * P);
        e[a * P + i] = eps;
        const E = tf.tensor2d(e, [K, P]);
        return [forwardWith(anatomy, withScope(anatomy, d, weights, tf.add(v, E)), x), forwardWith(anatomy, withScope(anatomy, d, weights, tf.sub(v, E)), x)];
      });
      const u = up.dataSync();
      const dn = down.dataSync();
      for (let b = 0; b < B; b++) for (let k = 0; k < pL; k++) {
        const j = b * pL + k;
        const at = ((a * B + b) * pL + k) * P + i;
        values[at] = (u[j] - dn[j]) / (2 * eps);
        const right = (u[j] - base[j]) / eps;
        const left = (base[j] - dn[j]) / eps;
        smooth[at] = Math.abs(right - left) <= 1e-2 * Math.max(Math.abs(right), Math.abs(left), 1e-1) ? 1 : 0;
      }
      tf.dispose([up, down]);
    }
  }
  f0.dispose();
  return { values, smooth };
}

/** Relative error over the smooth entries; throws if fewer than `minShare` are smooth. */
export function relErrSmooth(a: ArrayLike<number>, fd: { values: Float32Array; smooth: Uint8Array }, minShare = 0.75): number {
  let num = 0;
  let den = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    den = Math.max(den, Math.abs(a[i]));
    if (!fd.smooth[i]) continue;
    n++;
    num = Math.max(num, Math.abs(a[i] - fd.values[i]));
  }
  if (n < minShare * a.length) throw new Error(`only ${n} of ${a.length} finite differences are smooth`);
  return num / Math.max(den, 1e-12);
}

/**
 * `τ^n(v) = ℓ(f + G(v − v_n), y)` per problem, from brute-force Jacobian tensors `G [K, B, pL, P]`
 * (neurons: each problem moves its own neuron only).
 */
export function bruteTaylor(loss: TaylorLoss, G: Float32Array, K: number, B: number, pL: number, P: number,
  f: tf.Tensor2D, y: tf.Tensor2D, vn: Float32Array | Float64Array, v: ArrayLike<number>): number[] {
  return Array.from({ length: K }, (_, a) => tf.tidy(() => {
    const Ga = tf.tensor3d(G.subarray(a * B * pL * P, (a + 1) * B * pL * P), [B, pL, P]);
    const dv = tf.tensor2d(Float32Array.from({ length: P }, (_, i) => v[a * P + i] - vn[a * P + i]), [P, 1]);
    const T = tf.add(f, tf.reshape(tf.matMul(tf.reshape(Ga, [B * pL, P]), dv), [B, pL]));
    return loss.compute(T, y).dataSync()[0];
  }));
}

export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) { num = Math.max(num, Math.abs(a[i] - b[i])); den = Math.max(den, Math.abs(b[i])); }
  return num / Math.max(den, 1e-12);
}
