import { SeededRandom } from '@taylorlens/core';
import type { ScopeDescription } from './scope.js';

/** Every k-th round from `offset + 1` on. */
export function scheduled(d: Pick<ScopeDescription, 'every' | 'offset'>, round: number): boolean {
  return round > d.offset && (round - 1 - d.offset) % d.every === 0;
}

/**
 * Reservoir sampling (Vitter's algorithm R) over the scheduled rounds: after m candidates every
 * one of them is kept with probability size/m. `admit` says where a new candidate goes: a free
 * slot, the slot it replaces, or nowhere (null).
 */
export class Reservoir {
  private seen = 0;
  private readonly rng: SeededRandom;

  constructor(readonly size: number, seed: number) {
    this.rng = new SeededRandom(seed);
  }

  admit(): number | null {
    this.seen++;
    if (this.seen <= this.size) return this.seen - 1;
    const j = this.rng.int(this.seen);
    return j < this.size ? j : null;
  }

  /** Candidates seen (the rounds the kept ones stand for). */
  get candidates(): number {
    return this.seen;
  }

  /** Position and generator state, for checkpoints. */
  saveState(): ReservoirState {
    return { size: this.size, seen: this.seen, rngState: this.rng.state };
  }

  loadState(s: ReservoirState): void {
    if (s.size !== this.size) throw new Error(`reservoir of ${s.size} rounds in the checkpoint, ${this.size} in the options; was the config changed?`);
    this.seen = s.seen;
    this.rng.state = s.rngState;
  }
}

export interface ReservoirState {
  size: number;
  seen: number;
  rngState: number;
}
