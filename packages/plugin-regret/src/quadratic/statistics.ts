import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadFloat64, loadTensor, saveFloat64, saveTensor } from '../state-files.js';
import type { SharedMatrix } from '../linalg/eigen-worker.js';

/**
 * Turns a few buffered rounds' pieces into their summed contribution `(A, g, c)` (device layout
 * of A); with `skipA` (a host accumulator already added A) A is null.
 */
export type Reducer = (rounds: readonly tf.Tensor[][], skipA?: boolean) => { A: tf.Tensor | null; g: tf.Tensor; c: tf.Tensor };

/**
 * Adds buffered rounds' A straight into float64 running sums on the host, or declines (`take`
 * returns null) so the device reducer forms it. The sums keep A's upper triangles in a layout of
 * their own, read per problem (`matrix`) or written into the totals `A` (`writeTotals`) once
 * settled. `take` reads the pieces at once; the sum may land later (a worker thread).
 */
export interface HostAccumulator {
  /** Where `writeTotals` writes the totals (e.g. in a WebAssembly memory). */
  readonly A: Float64Array;
  /** Bytes it holds beyond A (its running sums). */
  readonly extraBytes: number;
  take(rounds: readonly tf.Tensor[][]): Promise<void> | null;
  /** Adds device-formed upper triangles (`[K, P, P]`, or one shared `[P, P]`) after everything taken so far. */
  addUpper(a: ArrayLike<number>): Promise<void>;
  /** Waits for every sum to land. */
  settle(): Promise<void>;
  /** Problem k's P×P matrix (both triangles), a fresh array (after settle). */
  matrix(k: number): Float64Array;
  /** The same matrix as another thread can read it from the sums' shared memory, or null (after settle). */
  shared(k: number): SharedMatrix | null;
  /** Writes A from the sums (after settle). */
  writeTotals(): void;
  /** After A was loaded from a checkpoint: the sums continue from A's upper triangles. */
  restore(): void;
  /** Called where the device's sums move into the totals (every `flushEvery` rounds and at a flush). */
  moveSums(): void;
  /**
   * The float32 running sum of A when it keeps one itself (a worker thread's device), read and
   * written with checkpoints; absent when A's device part stays on this thread.
   */
  partial?: { read(): Promise<PartialSums | null>; write(p: PartialSums | null): void };
  dispose(): void;
}

/** A float32 partial sum as data (a checkpoint's device-A.npy). */
export interface PartialSums {
  data: Float32Array;
  shape: number[];
}

/** Makes a statistics object's host accumulator with totals of `length` float64; null: none (the device forms A). */
export interface HostAccumulatorFactory {
  create(length: number): HostAccumulator | null;
}

/**
 * Running sums `A = Σ κ M_bᵀM_b`, `g = Σ κ M_bᵀe_b`, `c' = Σ (κ‖e_b‖² − ℓ_n)` for K problems of
 * P parameters each: every prefix optimum of a squared-error scope, in memory that does not grow
 * with the number of rounds.
 *
 * Each round hands in small per-sample pieces (e.g. x̃ and the Gram's diagonal); every
 * `bufferRounds` rounds a reducer turns them into (A, g, c) with a few large matmuls — on wasm
 * the cost of a round is mostly op dispatch, so batching rounds is what makes recording cheap.
 * Sums stay on the device in float32 (no read-back on the hot path); every `flushEvery` rounds
 * and before a checkpoint they move into float64 host totals, so long runs accumulate in double.
 */
export class QuadraticStatistics {
  private readonly totals: Float64Array;
  readonly g: Float64Array;
  readonly c: Float64Array;
  /** Rounds added so far. */
  rounds = 0;
  private devA: tf.Tensor | null = null;
  private devG: tf.Tensor | null = null;
  private devC: tf.Tensor | null = null;
  private buffer: tf.Tensor[][] = [];
  private pending = 0;
  private readonly host: HostAccumulator | null;

  /**
   * @param reduce buffered pieces → (A, g, c), A in the device layout
   * @param addToHost adds the device layout of A (read back) into the host matrices `[K, P, P]`
   */
  constructor(readonly K: number, readonly P: number, private readonly reduce: Reducer,
    private readonly addToHost: (a: ArrayLike<number>, A: Float64Array) => void = addFull(K, P), readonly bufferRounds = 10, readonly flushEvery = 100,
    hostFactory: HostAccumulatorFactory | null = null) {
    this.host = hostFactory?.create(K * P * P) ?? null;
    this.totals = this.host?.A ?? new Float64Array(K * P * P);
    this.g = new Float64Array(K * P);
    this.c = new Float64Array(K);
  }

  /** The totals A `[K, P, P]` (after `flush`; host-accumulated statistics write them from their sums when asked). */
  get A(): Float64Array {
    this.host?.writeTotals();
    return this.totals;
  }

  /** Host bytes (float64 totals) plus the device sums (float32). */
  get bytes(): number {
    return 12 * (this.totals.length + this.g.length + this.c.length) + (this.host?.extraBytes ?? 0);
  }

  /** Add one round's pieces (takes ownership of the tensors). */
  async add(pieces: tf.Tensor[]): Promise<void> {
    this.buffer.push(pieces.map((t) => tf.keep(t)));
    this.rounds++;
    if (this.buffer.length >= this.bufferRounds) await this.reduceBuffer();
    if (++this.pending >= this.flushEvery) await this.moveDeviceSums();
  }

  /** Reduces the buffer (the host's share of A may still be summing when it resolves: settle before reading A). */
  private reduceBuffer(): Promise<void> | null {
    if (this.buffer.length === 0) return null;
    const acc = (old: tf.Tensor | null, t: tf.Tensor) => (old ? tf.add(old, t) : t);
    const job = this.host?.take(this.buffer) ?? null;
    const onHost = job !== null;
    const { A, g, c } = tf.tidy(() => {
      const r = this.reduce(this.buffer, onHost);
      const sums: Record<string, tf.Tensor> = { g: acc(this.devG, r.g), c: acc(this.devC, r.c) };
      if (r.A) sums.A = acc(this.devA, r.A);
      return sums;
    }) as { A?: tf.Tensor; g: tf.Tensor; c: tf.Tensor };
    // The device A stays as it was when the host took this buffer's A.
    const replaced = [A ? this.devA : null, this.devG, this.devC].filter((t): t is tf.Tensor => t !== null);
    tf.dispose([...this.buffer.flat(), ...replaced]);
    if (A) this.devA = tf.keep(A);
    this.devG = tf.keep(g);
    this.devC = tf.keep(c);
    this.buffer = [];
    return job;
  }

  /** Everything into the float64 totals, ready to read: device sums moved, the host's sums landed, A symmetric. */
  async flush(): Promise<void> {
    await this.moveDeviceSums();
    await this.host?.settle();
  }

  /**
   * Move the device sums into the float64 totals. The host's sums may still be landing (a worker
   * thread keeps summing while training goes on); the device's A is added after them, so the
   * additions happen in the same order either way.
   */
  private async moveDeviceSums(): Promise<void> {
    await this.reduceBuffer();
    this.pending = 0;
    this.host?.moveSums();
    if (!this.devG) return;
    const [a, g, c] = await Promise.all([this.devA?.data() ?? null, this.devG.data(), this.devC!.data()]);
    if (a && this.host) await this.host.addUpper(a);
    else if (a) this.addToHost(a, this.totals);
    for (let i = 0; i < g.length; i++) this.g[i] += g[i];
    if (c.length === 1) for (let k = 0; k < this.K; k++) this.c[k] += c[0];
    else for (let k = 0; k < c.length; k++) this.c[k] += c[k];
    // Zeroed rather than dropped: the device holds the same tensors whether or not a flush just ran.
    const zero = [this.devA, this.devG, this.devC].map((t) => (t ? tf.keep(tf.zerosLike(t)) : null));
    tf.dispose([this.devA, this.devG, this.devC].filter((t): t is tf.Tensor => t !== null));
    [this.devA, this.devG, this.devC] = zero;
  }

  /** Problem k's matrix where another thread can read it itself (host-accumulated statistics), else null. */
  shared(k: number): SharedMatrix | null {
    return this.host?.shared(k) ?? null;
  }

  /** Problem k's matrix (a view; a copy for host-accumulated statistics, read from their sums). */
  matrix(k: number): Float64Array {
    if (this.host) return this.host.matrix(k);
    return this.totals.subarray(k * this.P * this.P, (k + 1) * this.P * this.P);
  }

  vector(k: number): Float64Array {
    return this.g.subarray(k * this.P, (k + 1) * this.P);
  }

  /** `uᵀAu + 2gᵀu + c` for problem k (host totals; flush first). */
  value(k: number, u: ArrayLike<number>): number {
    const A = this.matrix(k);
    const g = this.vector(k);
    const P = this.P;
    let v = this.c[k];
    for (let i = 0; i < P; i++) {
      let s = 0;
      const row = i * P;
      for (let j = 0; j < P; j++) s += A[row + j] * u[j];
      v += u[i] * s + 2 * g[i] * u[i];
    }
    return v;
  }

  /**
   * Write everything a resumed run needs to continue bit for bit into `dir`: the float64 totals,
   * the device's float32 partial sums and the buffered rounds' pieces, as they are (no flush, so
   * saving a checkpoint does not change the numbers of the run that saves it).
   */
  async saveState(dir: string): Promise<QuadraticStatisticsState> {
    await this.host?.settle();
    const held = (await this.host?.partial?.read()) ?? null;
    saveFloat64(path.join(dir, 'A.npy'), this.A, [this.K, this.P, this.P]);
    saveFloat64(path.join(dir, 'g.npy'), this.g, [this.K, this.P]);
    saveFloat64(path.join(dir, 'c.npy'), this.c, [this.K]);
    const device = this.devG !== null;
    if (device) {
      if (this.devA) await saveTensor(path.join(dir, 'device-A.npy'), this.devA);
      if (held) {
        const t = tf.tensor(held.data, held.shape);
        await saveTensor(path.join(dir, 'device-A.npy'), t);
        t.dispose();
      }
      await saveTensor(path.join(dir, 'device-g.npy'), this.devG!);
      await saveTensor(path.join(dir, 'device-c.npy'), this.devC!);
    }
    for (const [i, round] of this.buffer.entries()) {
      for (const [j, t] of round.entries()) await saveTensor(path.join(dir, `buffer-${i}-${j}.npy`), t);
    }
    return { K: this.K, P: this.P, rounds: this.rounds, pending: this.pending, device, deviceA: this.devA !== null || held !== null, buffer: this.buffer.map((r) => r.length) };
  }

  /** Restore what `saveState` wrote (into a fresh instance of the same shape). */
  loadState(dir: string, s: QuadraticStatisticsState): void {
    if (s.K !== this.K || s.P !== this.P) throw new Error(`${dir}: statistics of ${s.K}×${s.P} parameters, expected ${this.K}×${this.P}`);
    this.totals.set(loadFloat64(path.join(dir, 'A.npy'), this.totals.length));
    this.g.set(loadFloat64(path.join(dir, 'g.npy'), this.g.length));
    this.c.set(loadFloat64(path.join(dir, 'c.npy'), this.c.length));
    this.host?.restore();
    this.disposeTensors();
    this.rounds = s.rounds;
    this.pending = s.pending;
    if (s.device) {
      // deviceA: absent in states written before host accumulation existed (they always had it).
      [this.devA, this.devG, this.devC] = ['A', 'g', 'c'].map((n) => (n === 'A' && s.deviceA === false ? null : tf.keep(loadTensor(path.join(dir, `device-${n}.npy`)))));
      if (this.devA && this.host?.partial) {
        // The accumulator keeps its running sum itself (a worker's device).
        this.host.partial.write({ data: (this.devA.dataSync() as Float32Array).slice(), shape: this.devA.shape });
        this.devA.dispose();
        this.devA = null;
      }
    }
    this.buffer = s.buffer.map((n, i) => Array.from({ length: n }, (_, j) => tf.keep(loadTensor(path.join(dir, `buffer-${i}-${j}.npy`)))));
  }

  /** Frees the tensors and the host accumulator (its worker). */
  dispose(): void {
    this.host?.dispose();
    this.disposeTensors();
  }

  private disposeTensors(): void {
    tf.dispose([...this.buffer.flat(), ...[this.devA, this.devG, this.devC].filter((t): t is tf.Tensor => t !== null)]);
    this.buffer = [];
    this.devA = this.devG = this.devC = null;
  }
}

/** The JSON part of a QuadraticStatistics checkpoint (the arrays are files next to it). */
export interface QuadraticStatisticsState {
  K: number;
  P: number;
  rounds: number;
  /** Rounds added since the last move into the float64 totals. */
  pending: number;
  /** Whether device partial sums exist (device-{A,g,c}.npy). */
  device: boolean;
  /** Whether device-A.npy exists (false when a host accumulator added every A so far). */
  deviceA?: boolean;
  /** Pieces per buffered round (buffer-<round>-<piece>.npy). */
  buffer: number[];
}

/** The upper triangles (diagonal included) of full matrices `[K, P, P]` (or one shared `[P, P]`), added into `A`. */
export function addUpper(K: number, P: number): (a: ArrayLike<number>, A: Float64Array) => void {
  return (a, A) => {
    const P2 = P * P;
    for (let k = 0; k < K; k++) {
      const src = a.length === P2 ? 0 : k * P2;
      for (let i = 0; i < P; i++) for (let j = i; j < P; j++) A[k * P2 + i * P + j] += a[src + i * P + j];
    }
  };
}

/** Full matrices `[K, P, P]`, or one `[P, P]` shared by every problem. */
export function addFull(K: number, P: number): (a: ArrayLike<number>, A: Float64Array) => void {
  return (a, A) => {
    const P2 = P * P;
    for (let k = 0; k < K; k++) {
      const src = a.length === P2 ? 0 : k * P2;
      for (let i = 0; i < P2; i++) A[k * P2 + i] += a[src + i];
    }
  };
}
