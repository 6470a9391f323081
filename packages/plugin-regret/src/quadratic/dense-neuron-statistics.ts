import * as tf from '@tensorflow/tfjs-core';
import { hostView } from '@taylorlens/core';
import { blockOuterRows } from './packed.js';
import type { HostAccumulatorFactory, Reducer } from './statistics.js';
import { HostSummer } from './host-summer.js';
import { sparseKernelMemory, sparseLayout, sparseSumsBytes, type SparseRows } from './sparse-kernel.js';

/**
 * One round of K neurons of a dense layer under squared error, centred at `w₁`. Neuron α's
 * parameters are its incoming weights and bias `θ_α = Θ[:, α]`; `M_b = J_b[:, α] x̃_bᵀ`, so
 * `M_bᵀM_b = n_bα x̃x̃ᵀ` with `n_bα = ‖J_b[:, α]‖²` (the Gram's diagonal). Pieces
 * `[x̃, κN, κH, c']`; the reducer forms every neuron's A in one matmul `A = (κN)ᵀ U`, U with rows
 * x̃x̃ᵀ in the block layout (see blockOuterRows):
 *  - `A_α += κ Σ_b n_bα x̃_b x̃_bᵀ`,
 *  - `g_α += Σ_b x̃_b κ(δ_bα / 2κ − n_bα d_bα)`, `d_bα = x̃_b · (θ_α,n − θ_α,1)`,
 *  - `c'_α += κ Σ_b n_bα d_bα² − Σ_b δ_bα d_bα` (c without its `ℓ_n`, see denseLayerPieces).
 * `n` may be `[B, 1]` of ones (an output layer's neurons): then every neuron shares one A.
 */
export function denseNeuronPieces(xt: tf.Tensor2D, n: tf.Tensor2D, delta: tf.Tensor2D, dTheta: tf.Tensor2D, kappa: number): tf.Tensor[] {
  return tf.tidy(() => {
    const d = tf.matMul(xt, dTheta); // [B, K]
    const kn = tf.mul(n, kappa);
    const knd = tf.mul(kn, d); // κ n_bα d_bα
    const h = tf.sub(tf.mul(delta, 0.5), knd);
    const c = tf.sum(tf.mul(d, tf.sub(knd, delta)), 0); // Σ_b d (κ n d − δ)
    return [xt, kn, h, c];
  });
}

export const denseNeuronReducer: Reducer = (rounds, skipA) => {
  const X = tf.concat(rounds.map((r) => r[0]), 0) as tf.Tensor2D;
  const H = tf.concat(rounds.map((r) => r[2]), 0);
  const neuronsA = () => {
    const N = tf.concat(rounds.map((r) => r[1]), 0);
    // Shared: one X̃ᵀ diag(κ) X̃ without forming the per-sample outer products, [1, q²].
    // Else every neuron's A in the block layout (62% of the products), [K, layout rows].
    return N.shape[1] === 1 ? tf.reshape(tf.matMul(tf.transpose(tf.mul(X, N)), X), [1, -1]) : tf.matMul(tf.transpose(N), blockOuterRows(X));
  };
  return {
    // Without A when a host accumulator took it (the statistics sums worker).
    A: skipA ? null : neuronsA(),
    g: tf.matMul(tf.transpose(H), X), // [K, q]
    c: tf.addN(rounds.map((r) => r[3])),
  };
};

/**
 * The same sums for wide fan-in (an input layer of 785): the packed per-sample outer products
 * would take rows·¾q² floats (≈ 300 M for ten buffered rounds of 64 at q = 785), so every
 * neuron's `A_α = X̃ᵀ diag(κ n_α) X̃` is its own 2-D matmul instead (no broadcast copies of X̃,
 * and 2-D matmuls run several times faster than batched ones on wasm), in the full `[K, q²]` layout.
 * Only the rows where `n_bα ≠ 0` enter neuron α's product: a ReLU unit inactive on sample b has
 * `J_b[:, α] = 0`, so its zero terms are skipped, not summed (on the autoencoder's input layer
 * 40–50% of them, and all of a dead unit's).
 */
export const wideDenseNeuronReducer: Reducer = (rounds, skipA) => {
  const X = tf.concat(rounds.map((r) => r[0]), 0) as tf.Tensor2D;
  const H = tf.concat(rounds.map((r) => r[2]), 0);
  const rest = { g: tf.matMul(tf.transpose(H), X), c: tf.addN(rounds.map((r) => r[3])) };
  if (skipA) return { A: null, ...rest };
  const N = tf.concat(rounds.map((r) => r[1]), 0) as tf.Tensor2D;
  const [S, K] = N.shape;
  const q = X.shape[1];
  const n = N.dataSync();
  const A = tf.stack(Array.from({ length: K }, (_, a) => {
    const rows: number[] = [];
    for (let b = 0; b < S; b++) if (n[b * K + a] !== 0) rows.push(b);
    if (rows.length === 0) return tf.zeros([q * q]);
    const all = rows.length === S;
    const idx = all ? null : tf.tensor1d(rows, 'int32');
    const Xa = idx ? tf.gather(X, idx) : X;
    const w = tf.slice(N, [0, a], [S, 1]);
    const wa = idx ? tf.gather(w, idx) : w;
    return tf.reshape(tf.matMul(tf.transpose(tf.mul(Xa, wa)), Xa), [-1]);
  }));
  return { A, ...rest };
};

/**
 * How much more a multiply-add costs on the host (the sparse kernel's scatter-adds over the
 * nonzero entries) than in the wasm backend's matmul: 1.24 against 7.2 G/s, measured on the
 * autoencoder's input layer (real MNIST, 50 neurons) on this project's 2-core machines. The
 * row-by-row kernel since is faster (`node bench/run.js every-round.epoch`: 1.98× → 1.85× of a
 * plain epoch); the ratio was not re-measured (it errs towards the device).
 */
export const HOST_COST_RATIO = 6;

/**
 * The wide reducer's A from the nonzero entries of x̃ alone, added in float64 into the host
 * totals (upper triangles, see HostAccumulator): `A_α += Σ_b κn_bα x̃_b x̃_bᵀ` costs `nnz²/2` per
 * active (sample, neuron) instead of `q²`. MNIST's images are 81% zeros, so the input layer's
 * neurons cost a 27th of the products. It declines (the device reducer runs) when the buffered
 * inputs are dense enough that the matmul is cheaper, and for a shared n. With `offThread` the
 * sums run on a worker thread (the second core) while training goes on, in the same order.
 */
export function sparseNeuronAccumulator(K: number, q: number, offThread: boolean): HostAccumulatorFactory {
  return {
    create: (length) => {
      if (length !== K * q * q) throw new Error(`sparse neuron statistics: totals of ${length} float64, expected ${K}·${q}²`);
      const layout = sparseLayout(K, q);
      const memory = sparseKernelMemory(layout);
      if (!memory) return null; // beyond a 32-bit memory: the device forms A
      const summer = new HostSummer(memory, layout, offThread);
      return {
        A: new Float64Array(memory.buffer, 0, length),
        extraBytes: sparseSumsBytes(K, q),
        take: (rounds) => {
          const rows = sparseRows(rounds, K, q);
          return rows ? summer.add(rows) : null;
        },
        addUpper: (a) => summer.addUpper(a),
        settle: () => summer.settle(),
        matrix: (k) => summer.matrix(k),
        shared: (k) => summer.shared(k),
        writeTotals: () => summer.writeTotals(),
        restore: () => summer.restore(),
        moveSums: () => undefined, // the sums are float64 already
        dispose: () => summer.dispose(),
      };
    },
  };
}

/** The buffer's x̃ as sparse rows with n, or null when the matmul would cost less (or n is shared). */
function sparseRows(rounds: readonly tf.Tensor[][], K: number, q: number): SparseRows | null {
  if (rounds[0][1].shape[1] !== K) return null;
  // Read in place where the backend allows: no tfjs op runs while these are in use.
  const xs = rounds.map((r) => hostView(r[0]) ?? r[0].dataSync());
  let S = 0;
  let nnz = 0;
  let sparseCost = 0;
  for (const x of xs) {
    const B = x.length / q;
    S += B;
    for (let b = 0; b < B; b++) {
      let m = 0;
      for (let j = b * q; j < (b + 1) * q; j++) if (x[j] !== 0) m++;
      nnz += m;
      sparseCost += (m * (m + 1)) / 2;
    }
  }
  if (sparseCost * HOST_COST_RATIO >= S * q * q) return null;
  const idx = new Int32Array(nnz);
  const val = new Float64Array(nnz);
  const start = new Int32Array(S + 1);
  const n = new Float32Array(S * K);
  let s = 0;
  let m = 0;
  rounds.forEach((r, ri) => {
    const x = xs[ri];
    n.set(hostView(r[1]) ?? r[1].dataSync(), s * K);
    for (let b = 0; b < x.length / q; b++, s++) {
      for (let j = b * q; j < (b + 1) * q; j++) if (x[j] !== 0) { idx[m] = j - b * q; val[m] = x[j]; m++; }
      start[s + 1] = m;
    }
  });
  return { S, idx, val, start, n };
}

/** Above this fan-in the packed outer products cost more memory than the batched matmul. */
export const WIDE_FAN_IN = 128;
