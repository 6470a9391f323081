import type { SolverReport } from './scope.js';

/**
 * The per-round reading of "Taylor optimum" (the paper's "we minimize the Taylor loss with
 * respect to V to find the Taylor optimum at each round"): `Σ_n min_{V∈K_n} τ^n_S(V)` instead of
 * the theorem's one comparator for the whole prefix. K_n is the scope's ball as it stands at round
 * n (centre W_1, radius ballFactor × the farthest distance reached by round n), so W_n is always
 * feasible and every round's term `ℓ_n − min τ^n` is ≥ 0: the per-round regret never goes
 * negative. Each term costs a solve, so it runs on a schedule: every `every`-th recorded round.
 */
export interface PerRoundResult {
  reading: 'perRound';
  /** Solved on every `every`-th round the scope records. */
  every: number;
  /** Rounds solved so far (M), and the rounds the scope recorded (N) of which they are a sample. */
  rounds: number;
  recordedRounds: number;
  /** Per problem: `Σ_{solved n} ℓ_n`, `Σ min τ^n` and their difference, over the solved rounds. */
  cumulativeLoss: number[];
  phi: number[];
  regret: number[];
  /**
   * Per problem: the regret sum scaled to all recorded rounds (× N/M) and ÷ √N, comparable with
   * the hindsight reading's normalised regret. Exact when `every` is 1.
   */
  normalized: number[];
  /** Every solve met its tolerance (a per-round value that missed it is never silently summed). */
  converged: boolean;
  /** The largest certificate over all solves: trust-region KKT residual or Frank–Wolfe gap. */
  worstCertificate: number;
  method: string;
}

export interface PerRoundState {
  rounds: number;
  seen: number;
  loss: number[];
  phi: number[];
  converged: boolean;
  worst: number;
  method: string;
}

/** Sums of the per-round optima of one scope's K problems. */
export class PerRoundReading {
  private rounds = 0;
  /** Recorded rounds seen (the schedule counts these). */
  private seen = 0;
  private readonly loss: number[];
  private readonly phi: number[];
  private converged = true;
  private worst = 0;
  private method = '';

  constructor(readonly problems: number, readonly every: number) {
    this.loss = new Array(problems).fill(0);
    this.phi = new Array(problems).fill(0);
  }

  /** Call once per recorded round; true when this one is to be solved. */
  due(): boolean {
    return this.seen++ % this.every === 0;
  }

  /** One solved round: `ℓ_n` and `min_{K_n} τ^n` per problem, with each solve's report. */
  add(incurred: ArrayLike<number>, optimum: ArrayLike<number>, reports: SolverReport[]): void {
    for (let k = 0; k < this.problems; k++) {
      this.loss[k] += incurred[k];
      this.phi[k] += optimum[k];
    }
    for (const r of reports) {
      this.converged &&= r.converged;
      this.worst = Math.max(this.worst, r.gap ?? r.residual ?? 0);
      this.method = r.method;
    }
    this.rounds++;
  }

  result(): PerRoundResult {
    const N = this.seen;
    const M = this.rounds;
    const regret = this.loss.map((l, k) => l - this.phi[k]);
    return {
      reading: 'perRound', every: this.every, rounds: M, recordedRounds: N,
      cumulativeLoss: [...this.loss], phi: [...this.phi], regret,
      normalized: regret.map((r) => (M > 0 ? (r * N) / M / Math.sqrt(N) : 0)),
      converged: this.converged, worstCertificate: this.worst, method: this.method,
    };
  }

  saveState(): PerRoundState {
    return { rounds: this.rounds, seen: this.seen, loss: [...this.loss], phi: [...this.phi], converged: this.converged, worst: this.worst, method: this.method };
  }

  loadState(s: PerRoundState): void {
    this.rounds = s.rounds;
    this.seen = s.seen;
    this.loss.splice(0, this.loss.length, ...s.loss);
    this.phi.splice(0, this.phi.length, ...s.phi);
    this.converged = s.converged;
    this.worst = s.worst;
    this.method = s.method;
  }
}
