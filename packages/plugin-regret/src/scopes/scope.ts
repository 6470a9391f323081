import type * as tf from '@tensorflow/tfjs-core';
import type { BatchCapture } from '@taylorlens/core';
import type { RoundJacobians } from '@taylorlens/core';
import type { PerRoundResult } from './per-round.js';
import type { EigenWorker } from '../linalg/eigen-worker.js';

export type ScopeKind = 'network' | 'layer' | 'neurons';
export type ScopeMethod = 'statistics' | 'rounds';

/** Which scope, and how it is recorded. */
export interface ScopeDescription {
  /** `network`, `layer:<name>` or `neurons:<name>`. */
  key: string;
  kind: ScopeKind;
  layer: string | null;
  layerIndex: number | null;
  /** Sampled output channels (neurons scope). */
  units: number[] | null;
  /** Independent problems (neurons: one per unit). */
  problems: number;
  /** Parameters per problem. */
  params: number;
  method: ScopeMethod;
  every: number;
  offset: number;
  reservoir: number | null;
  /** Samples per recorded round (stored rounds); null = the whole batch. */
  subBatch: number | null;
  /** Stored rounds: 'factored' (layer input + Jacobian) or 'direct' (Jacobian tensor G). */
  representation?: 'factored' | 'direct' | 'replay';
  /**
   * Statistics of a squared-error output layer's layer scope held per unit (`unit-blocks`): its
   * units' Jacobian columns are orthogonal, so A is block-diagonal, one `fanIn × fanIn` block per
   * unit (one shared block when the output is linear), solved exactly through one ball.
   */
  structure?: 'unit-blocks';
}

/** One recorded round, as scopes see it in afterBackward (weights are still `W_n`). */
export interface RoundInput {
  round: number;
  /** `ℓ_n` of the whole batch. */
  loss: number;
  capture: BatchCapture;
  jac: RoundJacobians;
  /** `γ` of a squared-error loss `(γ/B)Σ‖f_b − y_b‖²`, else null. */
  gamma: number | null;
  /** `f − y` `[B, p_L]` (memoised by the plugin). */
  residual(): tf.Tensor2D;
}

/** How a solver did on one problem. */
export interface SolverReport {
  method: string;
  converged: boolean;
  /** Optimality certificate: trust-region KKT residual, or the Frank–Wolfe gap (an upper bound on value − optimum). */
  residual?: number;
  gap?: number;
  gradientNorm?: number;
  iterations?: number;
  lambda?: number;
  hardCase?: boolean;
  onBoundary?: boolean;
  /**
   * The value carries a certificate that meets its tolerance (network scope: the explicit KKT
   * residual ≤ `tolerance`, the gap then bounds Φ's error; L-BFGS fallback: the Frank–Wolfe gap
   * ≤ `gapTolerance`·|Φ|). Absent in files written before it existed; `false` means the value is
   * an estimate, not a result.
   */
  certified?: boolean;
  /** The tolerance the certificate was held to: relative KKT residual, or relative gap (L-BFGS). */
  tolerance?: number;
  gapTolerance?: number;
  /** Hessian-vector products (Krylov solvers), each one pass over the stored rounds. */
  products?: number;
  /** The last Krylov solve's own residual estimate (before the explicit check). */
  krylovResidual?: number;
  /** Why the solver stopped: 'converged', 'iterations' (ran out) or 'stalled' (no progress at float32 resolution). */
  stop?: 'converged' | 'iterations' | 'stalled';
}

export interface FeasibleResult {
  /** `Φ_S(N)` per problem. */
  phi: number[];
  /** `R_S(N) = Σℓ_n − Φ_S(N)` per problem. */
  regret: number[];
  solver: SolverReport[];
}

export interface BallResult extends FeasibleResult {
  radius: number[];
}

export interface UnconstrainedResult extends FeasibleResult {
  rank: number[];
  cutoff: number[];
  rcond: number;
  /** ‖Au + g‖/‖g‖ left by the cut-off. */
  residual: number[];
}

export interface ScopeCheckpoint {
  epoch: number;
  /** Rounds trained so far (the run's N). */
  round: number;
  /** Rounds whose Taylor losses this scope holds (the sums run over these). */
  recordedRounds: number;
  /** Samples per recorded round summed (stored rounds) or whole batches (statistics). */
  samples: number;
  /** `Σℓ_n` over the recorded rounds (on the recorded samples). */
  cumulativeLoss: number;
  /** The hindsight reading (the theorem's): one comparator `V ∈ K` for the whole prefix. */
  ball: BallResult;
  unconstrained: UnconstrainedResult | null;
  /** The per-round reading `Σ_n min_{K_n} τ^n` when `readings` asks for it (per-round.ts), else null or absent. */
  perRound?: PerRoundResult | null;
  /** Wall time of this scope's solve. */
  solveMs: number;
}

/** What a scope costs, estimated before the run. */
export interface ScopeCost {
  key: string;
  /** Bytes held in memory (statistics, buffers). */
  memoryBytes: number;
  /** Bytes stored per recorded round (stored-round scopes). */
  bytesPerRecordedRound: number;
  /** Bytes the whole run stores (per-round bytes × recorded rounds). */
  diskBytes: number;
  /** Extra multiply-adds per recorded round. */
  macsPerRecordedRound: number;
  /** Averaged over all rounds with the schedule. */
  macsPerRound: number;
  /** Multiply-adds of the last checkpoint's solve (rough: maxIterations passes for L-BFGS, ~5P³ per eigendecomposition). */
  solveMacs: number;
  /** Whether the solve runs in JavaScript on the host (eigendecompositions) rather than on the tfjs backend. */
  solveOnHost: boolean;
}

export interface Scope {
  readonly desc: ScopeDescription;
  /** Record round n (called on rounds the schedule picks). */
  record(r: RoundInput): Promise<void>;
  /** Finish recording work still buffered (statistics' pending rounds), before a checkpoint. */
  flush?(): Promise<void>;
  /**
   * Start the checkpoint's work that needs no model on `worker`'s thread (after flush, before
   * checkpoint): all of it while the plugin solves the scopes that need the model on this thread,
   * or half of it (`half`) when there are none, the other half then running here.
   */
  prepare?(worker: EigenWorker, half: boolean): void;
  checkpoint(epoch: number, round: number): Promise<ScopeCheckpoint>;
  /** The scope's parameters per problem, `[K, P]`, from the current variables (or given ones). */
  readParams(weights?: readonly tf.Tensor[]): tf.Tensor2D;
  /** Last solution per problem (u = v − centre), for warm starts and traces. */
  optima(): Float64Array[] | null;
  /** The ball's centre `[K, P]` (first recorded weights), once recorded. */
  centre(): tf.Tensor2D | null;
  /** Bytes in memory / on disk now. */
  usage(): { memoryBytes: number; diskBytes: number };
  /**
   * Write what a resumed run needs to continue exactly as this one will (statistics, stored rounds,
   * trajectory, reservoir, warm start) into `dir`, a new folder in the run's checkpoint; returns the
   * JSON part. A scope without it makes the plugin checkpoint no regret state at all.
   */
  saveState?(dir: string): Promise<unknown>;
  /** Restore `saveState`'s folder and JSON, right after construction and before any round. */
  loadState?(dir: string, state: unknown): Promise<void>;
  dispose(): void;
}
