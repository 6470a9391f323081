import * as tf from '@tensorflow/tfjs-core';
import type { ModelAnatomy, ParamLayer } from '@taylorlens/core';
import { patches } from '../jacobian/linear.js';
import { selectChannels } from '../jacobian/matmul.js';
import { layerJacobianTensor, neuronJacobianTensors } from '../jacobian/jacobian-tensor.js';
import { denseLayerPieces, denseLayerReducer } from '../quadratic/dense-layer-statistics.js';
import { addBlockSymmetric, addUnpackedKron, packedIndices } from '../quadratic/packed.js';
import { denseNeuronPieces, denseNeuronReducer, WIDE_FAN_IN, wideDenseNeuronReducer } from '../quadratic/dense-neuron-statistics.js';
import { jacobianTensorStatistics, sumReducer } from '../quadratic/jacobian-tensor-statistics.js';
import { addFull, QuadraticStatistics } from '../quadratic/statistics.js';
import { symmetricEigen } from '../linalg/symmetric-eigen.js';
import { leastNormMinimum, solveTrustRegion } from '../linalg/trust-region.js';
import { scopeParams, scopeParamsColumns, Trajectory } from './params.js';
import type { BallResult, RoundInput, Scope, ScopeCheckpoint, ScopeDescription, SolverReport, UnconstrainedResult } from './scope.js';

export interface StatisticsOptions {
  ballFactor: number;
  unconstrained: boolean;
  rcond: number | null;
  flushEvery?: number;
}

/** A dense layer's input as the scope sees it, `x̃ = [x, 1]` `[B, fanIn]`; just `x` for a bias-free layer. */
function inputRows(p: ParamLayer, x: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const B = x.shape[0];
    const flat = tf.reshape(x, [B, -1]);
    return (p.bias ? tf.concat([flat, tf.ones([B, 1])], 1) : flat) as tf.Tensor2D;
  });
}

/**
 * A squared-error scope held as exact running statistics (A, g, c): every checkpoint's optimum
 * over the ball is the exact trust-region solution, and the unconstrained one the least-norm
 * minimiser, from one eigendecomposition per problem.
 */
export class StatisticsScope implements Scope {
  private readonly stats: QuadraticStatistics;
  private readonly trajectory = new Trajectory(true); // columns [P, K]: the statistics' layout
  private lossSum = 0;
  private samples = 0;
  private last: Float64Array[] | null = null;
  private readonly unitIndex: tf.Tensor1D | null;
  private readonly gIdx: { I: tf.Tensor1D; J: tf.Tensor1D; flat: tf.Tensor1D } | null;
  private readonly sharedA: boolean;

  constructor(readonly desc: ScopeDescription, private readonly anatomy: ModelAnatomy, private readonly opts: StatisticsOptions) {
    const p = anatomy.layers[desc.layerIndex!];
    const dense = p.kind === 'dense';
    this.gIdx = dense && desc.kind === 'layer' ? packedIndices(p.channels) : null;
    const K = desc.problems;
    const q = p.fanIn;
    if (!dense) this.stats = new QuadraticStatistics(K, desc.params, sumReducer);
    else if (desc.kind === 'layer') {
      this.stats = new QuadraticStatistics(K, desc.params, denseLayerReducer, (a, A) => addUnpackedKron(a, q, p.channels, A));
    } else if (q > WIDE_FAN_IN) {
      this.stats = new QuadraticStatistics(K, desc.params, wideDenseNeuronReducer, addFull(K, q));
    } else {
      this.stats = new QuadraticStatistics(K, desc.params, denseNeuronReducer, (a, A) => addBlockSymmetric(a, K, q, A));
    }
    this.unitIndex = desc.units ? tf.keep(tf.tensor1d(desc.units, 'int32')) : null;
    const L = anatomy.layers.length - 1;
    // An output layer's neurons under squared error: J[:, α] is a unit vector (times s'(a_L)), so
    // with a linear output every neuron has the same A.
    this.sharedA = desc.kind === 'neurons' && dense && p.index === L && (p.activation === 'linear' || anatomy.absorbedOutputActivation !== null);
  }

  readParams(weights?: readonly tf.Tensor[]): tf.Tensor2D {
    return scopeParams(this.anatomy, this.desc, weights);
  }

  centre(): tf.Tensor2D | null {
    return this.trajectory.centre;
  }

  optima(): Float64Array[] | null {
    return this.last;
  }

  /** The statistics themselves (tests, traces); `c` there excludes Σℓ_n (see `taylorSum`). */
  get statistics(): QuadraticStatistics {
    return this.stats;
  }

  /** `Σℓ_n` over the recorded rounds. */
  get cumulativeLoss(): number {
    return this.lossSum;
  }

  /** `Σ_n τ^n(w₁ + u)` for problem k (after `await statistics.flush()`). */
  taylorSum(k: number, u: ArrayLike<number>): number {
    return this.lossSum + this.stats.value(k, u);
  }

  usage() {
    return { memoryBytes: this.stats.bytes, diskBytes: 0 };
  }

  async record(r: RoundInput): Promise<void> {
    if (r.gamma === null) throw new Error(`scope ${this.desc.key}: statistics need a squared-error loss`);
    const { capture, jac } = r;
    const l = this.desc.layerIndex!;
    const p = this.anatomy.layers[l];
    const B = capture.batchSize;
    const kappa = r.gamma / B;
    const w = scopeParamsColumns(this.anatomy, this.desc);
    const dW = this.trajectory.update(w); // [P, K]
    w.dispose();
    const input = capture.layers[l].input;
    if (!input) throw new Error(`scope ${this.desc.key}: layer inputs were not captured`);
    const pieces = tf.tidy(() => {
      if (p.kind === 'dense') {
        const xt = inputRows(p, input);
        const delta = capture.layers[l].preActivationGrad as tf.Tensor2D;
        if (this.desc.kind === 'layer') {
          return denseLayerPieces(xt, jac.gram(l), delta, tf.reshape(dW, [p.fanIn, p.channels]) as tf.Tensor2D, kappa, this.gIdx!);
        }
        const all = this.desc.units!.length === p.channels;
        const pick = (t: tf.Tensor) => (all ? t : selectChannels(t, this.unitIndex!, p.channels)) as tf.Tensor2D;
        const n = this.sharedA ? tf.ones([B, 1]) as tf.Tensor2D : pick(jac.gramDiagonal(l));
        return denseNeuronPieces(xt, n, pick(delta), dW, kappa);
      }
      const J = jac.jacobian(l, Infinity);
      const rows = patches(p, input);
      const G = this.desc.kind === 'layer' ? layerJacobianTensor(p, J, rows) : neuronJacobianTensors(p, J, rows, this.unitIndex!);
      const { A, g, c } = jacobianTensorStatistics(G, r.residual(), tf.transpose(dW) as tf.Tensor2D, kappa);
      return [A, g, c];
    });
    await this.stats.add(pieces);
    this.lossSum += r.loss;
    this.samples += B;
  }

  async flush(): Promise<void> {
    await this.stats.flush();
  }

  async checkpoint(epoch: number, round: number): Promise<ScopeCheckpoint> {
    await this.stats.flush();
    const t0 = performance.now();
    const K = this.desc.problems;
    const P = this.desc.params;
    const radii = Array.from(await this.trajectory.farthestDistance(K), (d) => d * this.opts.ballFactor);
    const ball: BallResult = { phi: [], regret: [], radius: radii, solver: [] };
    const unc: UnconstrainedResult | null = this.opts.unconstrained
      ? { phi: [], regret: [], solver: [], rank: [], cutoff: [], residual: [], rcond: NaN }
      : null;
    const optima: Float64Array[] = [];
    for (let k = 0; k < K; k++) {
      // Σ_n τ^n(w₁ + u) = Σℓ_n + c' + uᵀAu + 2gᵀu: regret is −(c' + min), no large difference.
      const cPrime = this.stats.c[k];
      const eig = symmetricEigen(this.stats.matrix(k), P);
      const g = this.stats.vector(k);
      const trs = solveTrustRegion(eig, g, radii[k]);
      const regret = 0 - (cPrime + trs.value);
      ball.phi.push(this.lossSum - regret);
      ball.regret.push(regret);
      const report: SolverReport = {
        method: 'trust-region (eigendecomposition + secular equation)', converged: trs.residual < 1e-6 && trs.boundaryError < 1e-9,
        residual: trs.residual, lambda: trs.lambda, hardCase: trs.hardCase, onBoundary: trs.onBoundary, iterations: trs.iterations,
      };
      ball.solver.push(report);
      optima.push(trs.u);
      if (unc) {
        const ln = leastNormMinimum(eig, g, this.opts.rcond ?? undefined);
        const uregret = 0 - (cPrime + ln.value);
        unc.phi.push(this.lossSum - uregret);
        unc.regret.push(uregret);
        unc.rank.push(ln.rank);
        unc.cutoff.push(ln.cutoff);
        unc.residual.push(ln.residual);
        unc.rcond = ln.rcond;
        unc.solver.push({ method: 'least-norm (eigendecomposition, spectral cut-off)', converged: !ln.unbounded, residual: ln.residual });
      }
    }
    this.last = optima;
    return {
      epoch, round, recordedRounds: this.stats.rounds, samples: this.samples, cumulativeLoss: this.lossSum,
      ball, unconstrained: unc, solveMs: performance.now() - t0,
    };
  }

  dispose(): void {
    this.unitIndex?.dispose();
    if (this.gIdx) tf.dispose([this.gIdx.I, this.gIdx.J, this.gIdx.flat]);
    this.stats.dispose();
    this.trajectory.dispose();
  }
}
