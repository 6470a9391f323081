// Brute-force references built on plain autograd through the real network (BackPACK style):
// nothing here uses the clamped product, the Gram recursion or the statistics under test.
import * as tf from '@tensorflow/tfjs-core';
import { activate, type ModelAnatomy, type TaylorLoss } from '@taylorlens/core';
import { linearWith, splitTheta, splitVariables, thetaOf, type ScopeDescription } from '@taylorlens/plugin-regret';

/**
 * What a round's linearisation holds fixed besides activation slopes and max-pool choices, for
 * graphs with BatchNormalization or Dropout: each BN layer's batch mean and variance of its input
 * at `W_n` (the Taylor machinery freezes the batch statistics, see core's
 * derivatives/normalization.ts), and each dropout layer's mask of the round (`[B, ...]`, already
 * scaled by 1/(1 − rate)). Computed here by brute force (`freezeRound`), not read from the code
 * under test, except the masks, which are the round's random draw.
 */
export interface FrozenRound {
  stats: Map<number, { mean: tf.Tensor; variance: tf.Tensor }>;
  masks: Map<number, tf.Tensor>;
}

const DROPOUT = new Set(['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianDropout']);

/** Whether the graph has a node whose round state the brute force must be handed (BN, dropout). */
export function needsFrozen(anatomy: ModelAnatomy): boolean {
  return anatomy.graph.some((n) => n.className === 'BatchNormalization' || DROPOUT.has(n.className));
}

/** The trainable weight of a layer by its name suffix (`gamma`, `beta`), from `weights` (anatomy.variables order). */
function weightOf(anatomy: ModelAnatomy, weights: readonly tf.Tensor[], layer: ModelAnatomy['graph'][number]['layer'], suffix: string): tf.Tensor | null {
  const w = layer.trainableWeights.find((t) => t.originalName.endsWith(suffix));
  if (!w) return null;
  const i = anatomy.variables.indexOf(w.read() as tf.Variable);
  return i >= 0 ? weights[i] : (w.read() as tf.Tensor);
}

/** BN's reduction axes: every axis but its feature axes (as tfjs-layers' BatchNormalization in training). */
function bnReductionAxes(layer: ModelAnatomy['graph'][number]['layer'], rank: number): number[] {
  const a = (layer.getConfig() as { axis?: number | number[] }).axis ?? -1;
  const keep = (Array.isArray(a) ? a : [a]).map((x) => (x < 0 ? x + rank : x));
  return Array.from({ length: rank }, (_, i) => i).filter((i) => !keep.includes(i));
}

/**
 * A scoped layer's pre-activation with explicit weights by the plain tfjs op the layer calls
 * (not the code under test's parameter map): Dense/Conv2D as plugin-regret's linearWith (checked
 * elsewhere against the layers), Conv1D by tf.conv1d, DepthwiseConv2D by tf.depthwiseConv2d, PReLU by tf.prelu,
 * SeparableConv2D by tf.separableConv2d (`depthwise`: its depthwise kernel), LayerNormalization by
 * tf.moments and its formula.
 */
function realLinear(p: ModelAnatomy['layers'][number], x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | null, depthwise: tf.Tensor | null): tf.Tensor {
  const cfg = p.layer.getConfig() as { strides: number | number[]; padding: 'same' | 'valid'; dilationRate: number | number[] };
  const one = (v: number | number[]) => (Array.isArray(v) ? v[0] : v);
  let a: tf.Tensor;
  if (p.kind === 'conv1d') a = tf.conv1d(x as tf.Tensor3D, kernel as tf.Tensor3D, one(cfg.strides), cfg.padding, 'NWC', one(cfg.dilationRate));
  else if (p.kind === 'depthwiseConv2d') a = tf.depthwiseConv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, cfg.strides as [number, number], cfg.padding);
  else if (p.kind === 'prelu') return tf.prelu(x, kernel);
  else if (p.kind === 'separableConv2d') a = tf.separableConv2d(x as tf.Tensor4D, depthwise as tf.Tensor4D, kernel as tf.Tensor4D, cfg.strides as [number, number], cfg.padding);
  else if (p.kind === 'embedding') return tf.gather(kernel, tf.cast(x, 'int32'));
  else if (p.kind === 'conv2dTranspose') {
    const [h, w, filters] = p.outputShape;
    a = tf.conv2dTranspose(x as tf.Tensor4D, kernel as tf.Tensor4D, [x.shape[0], h, w, filters], cfg.strides as [number, number], cfg.padding);
  }
  else if (p.kind === 'layerNormalization') {
    // As tfjs-layers computes it: per-sample moments over γ's (trailing) axes, then the affine normalisation.
    const n = kernel.rank;
    const m = tf.moments(x, Array.from({ length: n }, (_, i) => x.rank - n + i), true);
    const full = (t: tf.Tensor) => tf.reshape(t, [...Array.from({ length: x.rank - n }, () => 1), ...p.kernel.shape]); // the moments' rank
    // (by hand: tf.batchNorm's gradient fails on these broadcasts in tfjs 4.22)
    const xhat = tf.mul(tf.sub(x, m.mean), tf.rsqrt(tf.add(m.variance, (p.layer.getConfig() as { epsilon: number }).epsilon)));
    const scaled = tf.mul(xhat, full(kernel));
    return bias ? tf.add(scaled, full(bias)) : scaled;
  }
  else return linearWith(p, x, kernel, bias);
  return bias ? tf.add(a, bias) : a;
}

/**
 * The real network with explicit weights (anatomy.variables order), through the real tfjs layers:
 * Dense/Conv2D layers as their linear maps with the given kernel and bias and their activation,
 * every other layer applied as itself in training mode — except BatchNormalization, evaluated as
 * the affine map with the batch statistics of `frozen` (or of its own input when no `frozen` is
 * given: the forward pass at W_n that defines them), and dropout, which multiplies by the round's
 * mask from `frozen`. Parameters of other layers (depthwise kernels, PReLU's α, …) are read from
 * the layers' variables: hold them at W_n with `heldAt`.
 */
export function forwardWith(anatomy: ModelAnatomy, weights: readonly tf.Tensor[], x: tf.Tensor, frozen?: FrozenRound,
  record?: FrozenRound['stats']): tf.Tensor2D {
  const at = (v: tf.Variable | undefined) => (v ? weights[anatomy.variables.indexOf(v)] : null);
  const values = new Map<number, tf.Tensor>([[-1, x]]);
  for (const node of anatomy.graph) {
    const ins = node.inputs.map((i) => values.get(i)!);
    let h: tf.Tensor;
    if (node.role === 'param' && node.className !== 'BatchNormalization') {
      const p = anatomy.layers[node.param!];
      const a = realLinear(p, ins[0], at(p.kernel)!, at(p.bias), at(p.depthwise));
      h = p.node === anatomy.outputNode && anatomy.absorbedOutputActivation ? a : activate(p, a);
    } else if (node.role === 'folded' || node.role === 'absorbed') {
      h = ins[0];
    } else if (node.className === 'BatchNormalization') {
      const cfg = node.layer.getConfig() as { epsilon: number };
      let st = frozen?.stats.get(node.id);
      if (!st) {
        const m = tf.moments(ins[0], bnReductionAxes(node.layer, ins[0].rank));
        st = { mean: m.mean, variance: m.variance };
        if (record) record.set(node.id, { mean: tf.keep(st.mean), variance: tf.keep(st.variance) });
      }
      const gamma = weightOf(anatomy, weights, node.layer, 'gamma');
      const beta = weightOf(anatomy, weights, node.layer, 'beta');
      h = tf.batchNorm(ins[0], st.mean, st.variance, beta ?? undefined, gamma ?? undefined, cfg.epsilon);
      // A scoped BN's folded activation (an Activation layer right after it).
      if (node.role === 'param') h = activate(anatomy.layers[node.param!], h);
    } else if (DROPOUT.has(node.className) && frozen) {
      const mask = frozen.masks.get(node.id);
      if (!mask) throw new Error(`no dropout mask for layer "${node.layer.name}"`);
      h = tf.mul(ins[0], mask);
    } else {
      h = node.layer.apply(ins.length === 1 ? ins[0] : ins, { training: true }) as tf.Tensor;
    }
    values.set(node.id, h);
  }
  return tf.reshape(values.get(anatomy.outputNode)!, [x.shape[0], -1]) as tf.Tensor2D;
}

/**
 * The round's frozen state by brute force: BN batch statistics from a forward pass at `weights`
 * (W_n; other layers' parameters must be held there, see `heldAt`) over the whole batch `x`, and
 * the dropout masks given (the round's draw). Dispose with `disposeFrozen`.
 */
export function freezeRound(anatomy: ModelAnatomy, weights: readonly tf.Tensor[], x: tf.Tensor, masks: Map<number, tf.Tensor> = new Map()): FrozenRound {
  const stats: FrozenRound['stats'] = new Map();
  const ids = anatomy.graph.filter((n) => DROPOUT.has(n.className)).map((n) => n.id);
  for (const id of ids) if (!masks.has(id)) throw new Error(`freezeRound: the round's mask of dropout node ${id} is needed`);
  tf.tidy(() => { forwardWith(anatomy, weights, x, { stats: new Map(), masks }, stats); });
  return { stats, masks };
}

export function disposeFrozen(f: FrozenRound | undefined): void {
  if (!f) return;
  for (const s of f.stats.values()) tf.dispose([s.mean, s.variance]);
  tf.dispose([...f.masks.values()]);
}

/** Sample `b` of a frozen round (the masks are per sample; the batch statistics are shared). */
function frozenSample(f: FrozenRound | undefined, b: number): FrozenRound | undefined {
  if (!f) return undefined;
  return { stats: f.stats, masks: new Map([...f.masks].map(([id, m]) => [id, tf.slice(m, b, 1)])) };
}

/**
 * Run `fn` with the variables no scope moves (anatomy.otherVariables: BN's γ/β, depthwise kernels,
 * PReLU's α, …) set to their values in `weights` (W_n of a kept round), then restore them.
 */
export function heldAt<T>(anatomy: ModelAnatomy, weights: readonly tf.Tensor[], fn: () => T): T {
  const others = anatomy.otherVariables;
  if (others.length === 0) return fn();
  const now = others.map((v) => v.clone());
  others.forEach((v) => v.assign(weights[anatomy.variables.indexOf(v)]));
  try {
    return fn();
  } finally {
    others.forEach((v, i) => v.assign(now[i]));
    tf.dispose(now);
  }
}

/** Weights with the scope's parameters replaced by v `[K, P]` (differentiable in v). */
export function withScope(anatomy: ModelAnatomy, d: ScopeDescription, weights: readonly tf.Tensor[], v: tf.Tensor): tf.Tensor[] {
  if (d.kind === 'network') return splitVariables(anatomy, v);
  const p = anatomy.layers[d.layerIndex!];
  const ki = anatomy.variables.indexOf(p.kernel);
  const bi = p.bias ? anatomy.variables.indexOf(p.bias) : -1;
  let theta: tf.Tensor;
  const out = [...weights];
  if (d.kind === 'layer') {
    // vec(Θ), then a SeparableConv2D's depthwise kernel.
    theta = tf.reshape(tf.slice(v, [0, 0], [1, p.fanIn * p.channels]), [p.fanIn, p.channels]);
    if (p.depthwise) out[anatomy.variables.indexOf(p.depthwise)] = tf.reshape(tf.slice(v, [0, p.fanIn * p.channels], [1, p.depthwise.size]), p.depthwise.shape);
  } else {
    const E = tf.oneHot(tf.tensor1d(d.units!, 'int32'), p.channels); // [K, C]
    const keep = tf.sub(1, tf.sum(E, 0));
    theta = tf.add(tf.mul(thetaOf(p, weights[ki], bi >= 0 ? weights[bi] : null), keep), tf.matMul(v, E, true, false));
  }
  const { kernel, bias } = splitTheta(p, theta);
  out[ki] = kernel;
  if (bi >= 0) out[bi] = bias!;
  return out;
}

/** Per-sample Jacobian tensors `[K, B, p_L, P]` by one backward pass per sample and output unit. */
export function bruteJacobianTensors(anatomy: ModelAnatomy, d: ScopeDescription, weights: readonly tf.Tensor[], x: tf.Tensor, v: tf.Tensor2D, frozen?: FrozenRound): Float32Array {
  const [K, P] = v.shape;
  const B = x.shape[0];
  const pL = anatomy.outputSize;
  const out = new Float32Array(K * B * pL * P);
  return heldAt(anatomy, weights, () => {
    // Per sample, the BN statistics must be the whole batch's: freeze them first when not given.
    const fr = frozen ?? (needsFrozen(anatomy) ? freezeRound(anatomy, weights, x) : undefined);
    for (let b = 0; b < B; b++) {
      const xb = tf.slice(x, b, 1);
      const fb = frozenSample(fr, b);
      for (let k = 0; k < pL; k++) {
        const g = tf.tidy(() => tf.grad((vv: tf.Tensor) => tf.sum(tf.slice(forwardWith(anatomy, withScope(anatomy, d, weights, vv), xb, fb), [0, k], [1, 1])))(v));
        const gv = g.dataSync();
        for (let a = 0; a < K; a++) for (let i = 0; i < P; i++) out[((a * B + b) * pL + k) * P + i] = gv[a * P + i];
        g.dispose();
      }
      xb.dispose();
      if (fb) tf.dispose([...fb.masks.values()]);
    }
    if (fr && fr !== frozen) disposeFrozen(fr);
    return out;
  });
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
