/**
 * Normalisation layers.
 *
 * BatchNormalization in training mode normalises with the batch's own mean and variance, so a
 * sample's output depends on the whole batch. The Taylor linearisation here holds the round's
 * batch statistics fixed (as inference mode holds the moving ones): per channel the layer is
 * then the affine map `x ↦ γ (x − μ_B)/√(σ²_B + ε) + β`, whose push is `γ/√(σ²_B + ε) · d`, per
 * sample, and whose parameters (γ, β) enter linearly. The exact coupled Jacobian would make each
 * sample's output depend on every other sample's perturbation (a `B p × B p` block per round).
 *
 * LayerNormalization normalises each sample by its own statistics: no coupling, its push is the
 * exact Jacobian `γ ⊙ (d − mean(d) − x̂·mean(d ⊙ x̂)) / σ` over the normalised axes.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Layer, LayerDerivatives } from './types.js';
import { only } from './util.js';

function axes(layer: Layer, rank: number): number[] {
  const a = (layer.getConfig() as { axis?: number | number[] }).axis ?? -1;
  return (Array.isArray(a) ? a : [a]).map((x) => (x < 0 ? x + rank : x));
}

/** The axes a batch statistic reduces over: all but the layer's feature axes. */
function reductionAxes(layer: Layer, rank: number): number[] {
  const keep = axes(layer, rank);
  return Array.from({ length: rank }, (_, i) => i).filter((i) => !keep.includes(i));
}

export const batchNormalization: LayerDerivatives = {
  kind: 'batchNormalization (batch statistics frozen)',
  freeze(layer, r) {
    const cfg = layer.getConfig() as { epsilon: number };
    const x = r.inputs[0];
    const scale = tf.tidy(() => {
      const { variance } = tf.moments(x, reductionAxes(layer, x.rank), true);
      const inv = tf.rsqrt(tf.add(variance, cfg.epsilon));
      return r.weights.gamma ? tf.mul(inv, r.weights.gamma) : inv;
    });
    return { sample: {}, shared: { scale } };
  },
  push(_layer, state, d) {
    const di = only(d);
    return di ? tf.mul(di, state!.shared!.scale) : null;
  },
};

export const layerNormalization: LayerDerivatives = {
  kind: 'layerNormalization',
  freeze(layer, r) {
    const cfg = layer.getConfig() as { epsilon: number };
    const x = r.inputs[0];
    const norm = axes(layer, x.rank);
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(x, norm, true);
      const invStd = tf.rsqrt(tf.add(variance, cfg.epsilon));
      const xhat = tf.mul(tf.sub(x, mean), invStd);
      const shared: Record<string, tf.Tensor> = r.weights.gamma ? { gamma: r.weights.gamma } : {};
      return { sample: { xhat, invStd }, shared };
    });
  },
  push(layer, state, d, s) {
    const di = only(d);
    if (!di) return null;
    const norm = axes(layer, s.inputShapes[0].length + 1).map((a) => a + 1);
    const xhat = tf.expandDims(state!.sample.xhat, 1);
    const centred = tf.sub(di, tf.mean(di, norm, true));
    const dx = tf.mul(tf.sub(centred, tf.mul(xhat, tf.mean(tf.mul(di, xhat), norm, true))), tf.expandDims(state!.sample.invStd, 1));
    return state!.shared?.gamma ? tf.mul(dx, state!.shared.gamma) : dx;
  },
};

export const NORMALIZATION_LAYERS: Record<string, LayerDerivatives> = {
  BatchNormalization: batchNormalization,
  LayerNormalization: layerNormalization,
};
