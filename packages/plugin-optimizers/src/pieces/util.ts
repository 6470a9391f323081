import type * as tf from '@tensorflow/tfjs-core';
import type { NamedTensors } from '@taylorlens/core';
import type { Scale, Slots, State } from '../transform.js';

/** Initial state giving each variable the slots `make` builds from its value. */
export function initEach<S extends Slots>(params: NamedTensors, make: (value: tf.Tensor) => S): State<S> {
  const state: State<S> = {};
  for (const name of Object.keys(params)) state[name] = make(params[name]);
  return state;
}

/** The same scale for every variable in `updates`. */
export function uniformScale(updates: NamedTensors, value: Scale): Record<string, Scale> {
  const scale: Record<string, Scale> = {};
  for (const name of Object.keys(updates)) scale[name] = value;
  return scale;
}

/** Throws when a piece's argument is out of range, saying what was expected. */
export function checkArg(piece: string, arg: string, value: number, ok: boolean, expected: string): void {
  if (typeof value !== 'number' || Number.isNaN(value) || !ok) {
    throw new RangeError(`${piece}: ${arg} must be ${expected}, got ${String(value)}`);
  }
}
