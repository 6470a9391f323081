import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensors } from '@taylorlens/core';
import { LastScalar } from './constants.js';
import type { AnyTransformation, GradientTransformation, Scale, Slots, State, UpdateResult } from './transform.js';

/**
 * Runs pieces one after the other, each transforming the previous one's output. The chain's
 * state is still keyed by variable name: each piece's slots are prefixed with the piece's name
 * (`adam.sum1`, `momentum.trace`; a repeated name gets its index, `lr_2.`).
 *
 * Scalar work is folded: a piece's pending `factor` and the following scalar pieces (the learning
 * rate) become one multiply, done before the next tensor piece or left as the chain's own `factor`.
 * Scales multiply (numbers in JS, tensors on the device); the last reported learning rate wins.
 *
 * References: optax `chain` (Babuschkin et al. 2020, "The DeepMind JAX Ecosystem").
 */
export function chain(...pieces: AnyTransformation[]): GradientTransformation {
  const prefixes = slotPrefixes(pieces);
  const factorScalar = new LastScalar();
  return {
    name: 'chain',
    init(params) {
      const state: State = {};
      for (const name of Object.keys(params)) state[name] = {};
      pieces.forEach((piece, i) => mergePrefixed(state, piece.init(params), prefixes[i]));
      return state;
    },
    update(updates, state, params, extra) {
      const names = Object.keys(updates);
      const next: State = {};
      for (const name of names) next[name] = {};
      const scales = new ScaleProduct(names);
      let learningRate: number | undefined;
      let current = updates;
      let pending = 1;
      pieces.forEach((piece, i) => {
        if (piece.scalarFactor) {
          const f = piece.scalarFactor(extra);
          pending *= f.factor;
          if (f.learningRate !== undefined) learningRate = f.learningRate;
          if (extra.report) scales.times(f.scale ?? Math.abs(f.factor));
          return;
        }
        current = applyFactor(current, pending, factorScalar);
        const result = piece.update(current, slice(state, names, prefixes[i]), params, extra);
        mergePrefixed(next, result.state, prefixes[i]);
        if (result.learningRate !== undefined) learningRate = result.learningRate;
        if (extra.report && result.scale) scales.timesEach(result.scale);
        current = result.updates;
        pending = result.factor ?? 1;
      });
      const result: UpdateResult = { updates: current, state: next };
      if (pending !== 1) result.factor = pending;
      if (learningRate !== undefined) result.learningRate = learningRate;
      if (extra.report) result.scale = scales.result();
      return result;
    },
    dispose() {
      for (const piece of pieces) piece.dispose?.();
      factorScalar.dispose();
    },
  };
}

/** `updates × factor`, skipping the pass when the factor is 1. */
export function applyFactor(updates: NamedTensors, factor: number | undefined, scalar: LastScalar): NamedTensors {
  if (factor === undefined || factor === 1) return updates;
  const c = scalar.get(factor);
  const out: NamedTensors = {};
  for (const name of Object.keys(updates)) out[name] = tf.mul(updates[name], c);
  return out;
}

/** Per-variable product of scales, numbers kept in JS until the end. */
class ScaleProduct {
  private readonly numbers: Record<string, number> = {};
  private readonly tensors: Record<string, tf.Tensor> = {};
  constructor(private readonly names: string[]) {
    for (const name of names) this.numbers[name] = 1;
  }
  times(value: number): void {
    for (const name of this.names) this.numbers[name] *= value;
  }
  timesEach(scale: Record<string, Scale>): void {
    for (const name of this.names) {
      const s = scale[name];
      if (s === undefined) continue;
      if (typeof s === 'number') this.numbers[name] *= s;
      else this.tensors[name] = this.tensors[name] === undefined ? s : tf.mul(this.tensors[name], s);
    }
  }
  result(): Record<string, Scale> {
    const out: Record<string, Scale> = {};
    for (const name of this.names) {
      const t = this.tensors[name];
      const n = this.numbers[name];
      out[name] = t === undefined ? n : n === 1 ? t : tf.mul(t, n);
    }
    return out;
  }
}

/** `name.` per piece, `name_i.` when a name repeats; no prefix may start another (slices would mix). */
function slotPrefixes(pieces: AnyTransformation[]): string[] {
  const seen = new Set<string>();
  const prefixes = pieces.map((piece, i) => {
    const prefix = seen.has(piece.name) ? `${piece.name}_${i}.` : `${piece.name}.`;
    seen.add(piece.name);
    return prefix;
  });
  for (const a of prefixes) {
    for (const b of prefixes) {
      if (a !== b && b.startsWith(a)) throw new Error(`chain: piece prefixes "${a}" and "${b}" overlap; rename a piece`);
    }
  }
  return prefixes;
}

function mergePrefixed(into: State, state: State, prefix: string): void {
  for (const name of Object.keys(state)) {
    const slots = (into[name] ??= {});
    const own = state[name];
    for (const slot of Object.keys(own)) slots[prefix + slot] = own[slot];
  }
}

function slice(state: State, names: string[], prefix: string): State {
  const out: State = {};
  for (const name of names) {
    const slots: Slots = {};
    const all = state[name];
    if (all) {
      for (const key of Object.keys(all)) if (key.startsWith(prefix)) slots[key.slice(prefix.length)] = all[key];
    }
    out[name] = slots;
  }
  return out;
}
