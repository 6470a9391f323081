/**
 * Dense chains (every parameterised layer dense on flat inputs, nothing but activations between):
 * the network scope's `J_n v` and `J_nᵀ w` written out, with the transposed layer inputs and
 * kernels prepared once per round, so that every matrix product runs untransposed: tfjs's wasm
 * kernels are several times slower on transposed operands (which autodiff's matmul gradients use),
 * and its batched (3-D) matmuls slower still. Squared error's Hessian products go further, in
 * stacks of rounds whose rows are concatenated into 2-D matmuls (`stackDenseWith`). The products
 * are self-contained (their text also runs on the network products worker).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ModelAnatomy } from '@taylorlens/core';
import type { ReplayedRound } from './network-problem.js';

/** Whether the written-out products apply. */
export function isDenseChain(anatomy: ModelAnatomy): boolean {
  // (A dropout stage's mask is not in the written-out products: such chains take the general path.)
  return anatomy.isChain && anatomy.layers.every((p) => p.kind === 'dense' && p.inputShape.length === 1 && p.outputShape.length === 1
    && p.after.every((st) => st.kind === 'activation'));
}

/** Where each layer of a dense chain finds its kernel and bias among the variables (what the written-out products need). */
export interface DenseChainPlan {
  kernel: number[];
  bias: (number | null)[];
  variables: number;
}

export function denseChainPlan(anatomy: ModelAnatomy): DenseChainPlan {
  return {
    kernel: anatomy.layers.map((p) => anatomy.variables.indexOf(p.kernel)),
    bias: anatomy.layers.map((p) => (p.bias ? anatomy.variables.indexOf(p.bias) : null)),
    variables: anatomy.variables.length,
  };
}

/** A dense chain's round as its products read it: layer inputs, kernels, their transposes, the activation derivatives. */
export interface DenseRound {
  inputs: tf.Tensor2D[];
  kernels: tf.Tensor2D[];
  inputsT: tf.Tensor2D[];
  kernelsT: tf.Tensor2D[];
  masks: (tf.Tensor2D | null)[];
}

export function prepareDense(anatomy: ModelAnatomy, rep: ReplayedRound): DenseRound {
  return {
    inputs: anatomy.layers.map((p) => rep.inputs[p.index] as tf.Tensor2D),
    kernels: anatomy.layers.map((p) => rep.kernels[p.index] as tf.Tensor2D),
    inputsT: anatomy.layers.map((p) => tf.transpose(rep.inputs[p.index] as tf.Tensor2D)),
    kernelsT: anatomy.layers.map((p) => tf.transpose(rep.kernels[p.index] as tf.Tensor2D)),
    masks: anatomy.layers.map((p) => rep.factors.derivative(p.index) as tf.Tensor2D | null),
  };
}

/**
 * `J_n v` `[s, p_L]` of a dense chain, v split like the variables (once per pass, not per round).
 * Self-contained (its text runs on the network products worker too: the same ops, the same bits).
 */
export function denseForwardWith(tfjs: typeof tf, plan: DenseChainPlan, r: DenseRound, delta: tf.Tensor[]): tf.Tensor2D {
  let d: tf.Tensor2D | null = null;
  for (let l = 0; l < plan.kernel.length; l++) {
    let a = tfjs.matMul(r.inputs[l], delta[plan.kernel[l]] as tf.Tensor2D);
    const b = plan.bias[l];
    if (b !== null) a = tfjs.add(a, delta[b]);
    if (d) a = tfjs.add(a, tfjs.matMul(d, r.kernels[l]));
    const m = r.masks[l];
    d = (m ? tfjs.mul(a, m) : a) as tf.Tensor2D;
  }
  return d!;
}

/** `J_nᵀ w` as a flat `[P]` vector in the variables' order (self-contained, as `denseForwardWith`). */
export function denseBackwardWith(tfjs: typeof tf, plan: DenseChainPlan, r: DenseRound, w: tf.Tensor2D): tf.Tensor1D {
  const parts: tf.Tensor[] = new Array(plan.variables);
  let delta = w;
  for (let l = plan.kernel.length - 1; l >= 0; l--) {
    const m = r.masks[l];
    if (m) delta = tfjs.mul(delta, m);
    parts[plan.kernel[l]] = tfjs.matMul(r.inputsT[l], delta);
    const b = plan.bias[l];
    if (b !== null) parts[b] = tfjs.sum(delta, 0);
    if (l > 0) delta = tfjs.matMul(delta, r.kernelsT[l]);
  }
  return tfjs.concat(parts.map((t) => tfjs.reshape(t, [-1]))) as tf.Tensor1D;
}

/**
 * A group of a dense chain's rounds whose squared-error Hessian products `Σ_n J_nᵀ c_n J_n v`
 * (c_n = 2γ/B_n, `squaredErrorFormGradient`) run as one pass: the wide layers' products, the
 * first layer's and the output layer's, are single matmuls over the group (tfjs's wasm matmuls
 * are about twice as fast on 8 rounds of rows as on one), only the narrow middle layers go round
 * by round. The linear output layer `f = d K + x̃ Ṽ` (x̃ its input with a ones column for the bias)
 * needs no pass over its p_L outputs at all: with r = c (d K + x̃ Ṽ),
 *   ∇_Ṽ = Σ_n c_n x̃ᵀd K_n + (Σ_n c_n x̃ᵀx̃) Ṽ   and   r K_nᵀ = c_n (d K_nK_nᵀ + x̃ (Ṽ K_nᵀ)).
 * Self-contained, like `denseForwardWith` (the products worker runs the same text).
 */
export interface DenseStack {
  rounds: number;
  /** Rows (samples) of each round. */
  rows: number[];
  /** Per layer below the output: the rounds' inputs stacked `[ΣB, p]` (layer 0 only) and transposed side by side `[p, ΣB]`. */
  first: tf.Tensor2D;
  inputsT: tf.Tensor2D[];
  /** Per round: inputs, kernels and their transposes, masks (as `DenseRound`; the middle layers' passes read them). */
  each: DenseRound[];
  /** The output layer: x̃ and x̃ᵀ per round, `Σ c_n x̃ᵀx̃`, the kernels stacked `[Σp, o]` and side by side transposed `[o, Σp]`, `K_nK_nᵀ`. */
  outX: tf.Tensor2D[];
  outXT: tf.Tensor2D[];
  gram: tf.Tensor2D;
  kernels: tf.Tensor2D;
  kernelsT: tf.Tensor2D;
  kkT: tf.Tensor2D[];
  scales: number[];
}

/**
 * The stacks R stored rounds form, as [from, to) ranges: an even number of them (the two threads
 * take half each), as equal as can be, of 8 rounds at most (about where the wide matmuls stop
 * gaining, while their float32 sums stay short). Depends on R alone: one thread or two, the same stacks.
 */
export function stackBounds(R: number): [number, number][] {
  const count = Math.min(R, 2 * Math.ceil(R / 16));
  const out: [number, number][] = [];
  for (let i = 0, a = 0; i < count; i++) {
    const size = Math.floor(R / count) + (i < R % count ? 1 : 0);
    out.push([a, a + size]);
    a += size;
  }
  return out;
}

/** Whether a group of rounds can be stacked: two layers at least and a linear output layer in every round. */
export function stackable(rounds: readonly DenseRound[]): boolean {
  return rounds.length > 0 && rounds.every((r) => r.kernels.length >= 2 && r.masks[r.masks.length - 1] === null);
}

/** The stack of `rounds` (their tensors are shared, not copied, except where stacked). Self-contained. */
export function stackDenseWith(tfjs: typeof tf, plan: DenseChainPlan, gamma: number, rounds: readonly DenseRound[]): DenseStack {
  const L = plan.kernel.length - 1;
  const hasBias = plan.bias[L] !== null;
  let stack: DenseStack | null = null;
  tfjs.tidy(() => {
    const rows = rounds.map((r) => r.inputs[0].shape[0]);
    const scales = rows.map((b) => (2 * gamma) / b);
    const outX = rounds.map((r) => (hasBias ? tfjs.concat([r.inputs[L], tfjs.ones([r.inputs[L].shape[0], 1])], 1) : tfjs.clone(r.inputs[L])) as tf.Tensor2D);
    const outXT = outX.map((x) => tfjs.transpose(x) as tf.Tensor2D);
    let gram: tf.Tensor2D | null = null;
    outX.forEach((x, i) => {
      const g = tfjs.mul(tfjs.matMul(outXT[i], x), scales[i]) as tf.Tensor2D;
      gram = gram ? (tfjs.add(gram, g) as tf.Tensor2D) : g;
    });
    const kernels = tfjs.concat(rounds.map((r) => r.kernels[L]), 0) as tf.Tensor2D;
    const s: DenseStack = {
      rounds: rounds.length, rows, scales, each: [...rounds],
      first: tfjs.concat(rounds.map((r) => r.inputs[0]), 0) as tf.Tensor2D,
      inputsT: Array.from({ length: L }, (_, l) => tfjs.concat(rounds.map((r) => r.inputsT[l]), 1) as tf.Tensor2D),
      outX, outXT, gram: gram!, kernels, kernelsT: tfjs.transpose(kernels) as tf.Tensor2D,
      kkT: rounds.map((r) => tfjs.matMul(r.kernels[L], r.kernelsT[L]) as tf.Tensor2D),
    };
    for (const t of [s.first, ...s.inputsT, ...outX, ...outXT, s.gram, kernels, s.kernelsT, ...s.kkT]) tfjs.keep(t);
    stack = s;
  });
  return stack!;
}

/** The stack's own tensors (not the rounds'). */
export function stackTensors(s: DenseStack): tf.Tensor[] {
  return [s.first, ...s.inputsT, ...s.outX, ...s.outXT, s.gram, s.kernels, s.kernelsT, ...s.kkT];
}

/** `Σ_n J_nᵀ c_n J_n v` over the stack, a flat `[P]` vector in the variables' order. Self-contained. */
export function denseStackedProductWith(tfjs: typeof tf, plan: DenseChainPlan, s: DenseStack, delta: tf.Tensor[]): tf.Tensor1D {
  const L = plan.kernel.length - 1;
  const R = s.rounds;
  const bias = (l: number) => plan.bias[l];
  // The output layer's displacement with its bias as the last row: Ṽ `[q, o]`.
  const outB = bias(L);
  const Vt = outB !== null ? tfjs.concat([delta[plan.kernel[L]], tfjs.reshape(delta[outB], [1, -1])], 0) : delta[plan.kernel[L]];
  const p = s.each[0].kernels[L].shape[0];
  const vk = tfjs.split(tfjs.matMul(Vt, s.kernelsT), R, 1); // Ṽ K_nᵀ per round, [q, p]
  let a0 = tfjs.matMul(s.first, delta[plan.kernel[0]]);
  if (bias(0) !== null) a0 = tfjs.add(a0, delta[bias(0)!]);
  const firstRows = tfjs.split(a0, s.rows, 0);
  const back: tf.Tensor[][] = Array.from({ length: L }, () => []); // per layer below the output: its backpropagated error per round
  const xd: tf.Tensor[] = [];
  for (let n = 0; n < R; n++) {
    const r = s.each[n];
    const m0 = r.masks[0];
    let d = m0 ? tfjs.mul(firstRows[n], m0) : firstRows[n];
    for (let l = 1; l < L; l++) {
      let a = tfjs.add(tfjs.matMul(r.inputs[l], delta[plan.kernel[l]]), tfjs.matMul(d, r.kernels[l]));
      const b = bias(l);
      if (b !== null) a = tfjs.add(a, delta[b]);
      const m = r.masks[l];
      d = m ? tfjs.mul(a, m) : a;
    }
    xd.push(tfjs.mul(tfjs.matMul(s.outXT[n], d), s.scales[n]));
    let g = tfjs.mul(tfjs.add(tfjs.matMul(d, s.kkT[n]), tfjs.matMul(s.outX[n], vk[n])), s.scales[n]);
    for (let l = L - 1; l >= 0; l--) {
      const m = r.masks[l];
      if (m) g = tfjs.mul(g, m);
      back[l].push(g);
      if (l > 0) g = tfjs.matMul(g, r.kernelsT[l]);
    }
  }
  const parts: tf.Tensor[] = new Array(plan.variables);
  for (let l = 0; l < L; l++) {
    const g = R === 1 ? back[l][0] : tfjs.concat(back[l], 0);
    parts[plan.kernel[l]] = tfjs.matMul(s.inputsT[l], g);
    const b = bias(l);
    if (b !== null) parts[b] = tfjs.sum(g, 0);
  }
  const gv = tfjs.add(tfjs.matMul(R === 1 ? xd[0] : tfjs.concat(xd, 1), s.kernels), tfjs.matMul(s.gram, Vt));
  if (outB !== null) {
    const [k, b] = tfjs.split(gv, [p, 1], 0);
    parts[plan.kernel[L]] = k;
    parts[outB] = b;
  } else parts[plan.kernel[L]] = gv;
  return tfjs.concat(parts.map((t) => tfjs.reshape(t, [-1]))) as tf.Tensor1D;
}
