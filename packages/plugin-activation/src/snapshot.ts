/**
 * One activation configuration: the `D × M` bits "unit m active on probe d" (pre-activation
 * `> 0`) at the model's current weights, from a batched forward pass over the probe set, packed
 * as the ConfigurationTensor stores it (rows of `ceil(M/8)` bytes, LSB first).
 */
import * as tf from '@tensorflow/tfjs-core';
import { captureForward, type ModelAnatomy } from '@taylorlens/core';
import { packRow, rowBytes } from './bits.js';
import { isWholeLayer, type UnitSelection } from './units.js';

/** Default budget for one forward pass: captured floats (all pre-activations and pool inputs) per chunk. */
export const DEFAULT_CHUNK_FLOATS = 32 * 1024 * 1024;

/** Floats captureForward keeps per probe input: every layer's pre-activation plus its pool inputs. */
export function capturedFloatsPerSample(anatomy: ModelAnatomy): number {
  let n = 0;
  for (const p of anatomy.layers) n += p.units * (1 + p.after.filter((s) => s.kind === 'maxpool').length);
  return n;
}

/** Probe inputs per forward pass: the whole set when it fits the budget. */
export function defaultChunkSize(anatomy: ModelAnatomy, probes: number, budgetFloats = DEFAULT_CHUNK_FLOATS): number {
  return Math.max(1, Math.min(probes, Math.floor(budgetFloats / capturedFloatsPerSample(anatomy))));
}

/** The `[B, M]` active flags (bool) of the selected units for a batch `x`; inside the caller's tidy. */
function activeFlags(anatomy: ModelAnatomy, x: tf.Tensor, selection: UnitSelection): tf.Tensor {
  const capture = captureForward(anatomy, x, { preActivations: true });
  try {
    const b = x.shape[0];
    const parts = selection.layers.map((l) => {
      const a = tf.reshape(capture.preActivation(l.layer), [b, l.total]);
      return isWholeLayer(l) ? a : tf.gather(a, tf.tensor1d(l.indices, 'int32'), 1);
    });
    const all = parts.length === 1 ? parts[0] : tf.concat(parts, 1);
    return tf.greater(all, 0);
  } finally {
    capture.dispose();
  }
}

/**
 * Packs the configuration of `probe` (`[D, ...inputShape]`) at the current weights: `D` rows of
 * `ceil(M/8)` bytes. Runs `ceil(D / chunkSize)` forward passes (one by default for dense nets).
 */
export async function configurationSnapshot(anatomy: ModelAnatomy, probe: tf.Tensor, selection: UnitSelection,
  chunkSize = defaultChunkSize(anatomy, probe.shape[0])): Promise<Uint8Array> {
  const D = probe.shape[0];
  const M = selection.units;
  const B = rowBytes(M);
  const out = new Uint8Array(D * B);
  for (let start = 0; start < D; start += chunkSize) {
    const size = Math.min(chunkSize, D - start);
    const flags = tf.tidy(() => activeFlags(anatomy, size === D ? probe : tf.slice(probe, start, size), selection));
    let values: ArrayLike<number>;
    try {
      values = (await flags.data()) as ArrayLike<number>;
    } finally {
      flags.dispose();
    }
    for (let d = 0; d < size; d++) packRow(values, M, out, (start + d) * B, d * M);
  }
  return out;
}
