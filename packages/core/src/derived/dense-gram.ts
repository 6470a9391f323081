import * as tf from '@tensorflow/tfjs-core';
import { matMulT } from './matmul.js';
import type { ModelAnatomy } from '../anatomy.js';
import type { ClampFactors } from '../derivatives/push.js';

/** Whether layer l and every layer after it are dense on flat inputs with no pooling or reshaping between. */
export function denseTail(anatomy: ModelAnatomy, l: number): boolean {
  if (!anatomy.isChain) return false;
  for (let m = l; m < anatomy.layers.length; m++) {
    const p = anatomy.layers[m];
    if (p.kind !== 'dense' || p.inputShape.length !== 1) return false;
    if (!p.after.every((s) => s.kind === 'activation' || s.kind === 'flatten')) return false;
  }
  return true;
}

/**
 * Per-sample Gram matrices `J_lᵀJ_l` `[B, p_l, p_l]` of dense layers with a dense tail, by the
 * backward recursion `J_lᵀJ_l = D_l W_{l+1}ᵀ (J_{l+1}ᵀJ_{l+1}) W_{l+1} D_l` (taylor-math.md),
 * starting from `W_Lᵀ diag(s'(a_L))² W_L` (shared by the batch when the output is linear). Cheap
 * where later layers are narrow, whatever the output width. Returns every layer from `lowest` up.
 */
export function denseGrams(anatomy: ModelAnatomy, factors: ClampFactors, lowest: number, B: number,
  diagonalOnly?: (diagonal: tf.Tensor2D) => void): Map<number, tf.Tensor3D> {
  const L = anatomy.layers.length - 1;
  const out = new Map<number, tf.Tensor3D>();
  tf.tidy(() => {
    // H_l = W_{l+1}ᵀ Gram_{l+1} W_{l+1} in tfjs layout (kernel K = Wᵀ): H_l = K Gram Kᵀ.
    const dL = factors.derivative(L);
    // The output layer's own Gram, diag(s'(a_L))², materialised only when asked for (p_L² per sample).
    const outputGram = () => {
      const eye = tf.expandDims(tf.eye(anatomy.outputSize), 0);
      return (dL ? tf.mul(eye, tf.expandDims(tf.square(tf.reshape(dL, [B, -1])), 1)) : tf.mul(eye, tf.ones([B, 1, 1]))) as tf.Tensor3D;
    };
    let gram: tf.Tensor3D | null = null;
    if (lowest === L) out.set(L, tf.keep(outputGram()));
    for (let l = L - 1; l >= lowest; l--) {
      const K = anatomy.layers[l + 1].kernel as tf.Tensor2D; // [p_l, p_{l+1}]
      const [pl, pn] = K.shape;
      const Kt = tf.transpose(K);
      // H is [p_l, p_l] (shared by the batch) or [B, p_l, p_l].
      let H: tf.Tensor;
      if (l === L - 1 && !dL) {
        // H_{L−1} = K_L K_Lᵀ is shared by the batch when the output derivative is 1.
        H = tf.matMul(K, Kt);
      } else if (l === L - 1) {
        const Kd = tf.mul(tf.expandDims(K, 0), tf.expandDims(tf.reshape(dL!, [B, -1]), 1)); // K diag(s'(a_L)) per sample
        H = matMulT(Kd, Kd, false, true);
      } else if (l === lowest && diagonalOnly) {
        // Only the bottom layer's diagonal is wanted: diag(K G Kᵀ)_α = Σ_j K[α, j] (G Kᵀ)[j, α],
        // one matmul and no transpose.
        const gk = tf.reshape(tf.matMul(tf.reshape(gram!, [B * pn, pn]), Kt), [B, pn, pl]);
        const diag = tf.sum(tf.mul(gk, tf.expandDims(Kt, 0)), 1);
        const d = factors.derivative(l);
        diagonalOnly(tf.keep(d ? tf.mul(diag, tf.square(d)) : diag) as tf.Tensor2D);
        break;
      } else {
        // (Gram Kᵀ) per sample via one 2-D matmul, then K (Gram Kᵀ) via Gram's symmetry: 2-D
        // matmuls only (batched ones are slow on wasm).
        const gk = tf.reshape(tf.matMul(tf.reshape(gram!, [B * pn, pn]), Kt), [B, pn, pl]);
        const kg = tf.reshape(tf.transpose(gk, [0, 2, 1]), [B * pl, pn]);
        H = tf.reshape(tf.matMul(kg, Kt), [B, pl, pl]);
      }
      const d = factors.derivative(l);
      const full = H.rank === 2 ? tf.expandDims(H, 0) : H;
      gram = (d ? tf.mul(tf.mul(full, tf.expandDims(d, 2)), tf.expandDims(d, 1)) : tf.mul(full, tf.ones([B, 1, 1]))) as tf.Tensor3D;
      out.set(l, tf.keep(gram));
    }
  });
  return out;
}
