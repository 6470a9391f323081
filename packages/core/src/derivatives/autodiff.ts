/**
 * The automatic fallback for a layer without parameters that nobody registered: its Jacobian-
 * vector product through tfjs autodiff at the round's inputs. Reverse mode gives `u ↦ Jᵀu`
 * (linear in u); the gradient of `⟨Jᵀu, d⟩` with respect to u is `J d`. Exact; costs two
 * backward passes per direction, so a registered module is much faster.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayerDerivatives } from './types.js';

export const autodiffFallback: LayerDerivatives = {
  kind: 'autodiff fallback',
  freeze: (_layer, r) => ({ sample: Object.fromEntries(r.inputs.map((x, i) => [`x${i}`, x])) }),
  push(layer, state, d, s) {
    if (d.every((t) => t === null)) return null;
    const xs = d.map((_, i) => state!.sample[`x${i}`]);
    const apply = (...ins: tf.Tensor[]) => layer.apply(ins.length === 1 ? ins[0] : ins, { training: true }) as tf.Tensor;
    const vjp = (u: tf.Tensor) => tf.grads((...ins: tf.Tensor[]) => tf.sum(tf.mul(apply(...ins), u)))(xs);
    const u0 = tf.zeros([s.B, ...s.outputShape]);
    const columns: tf.Tensor[] = [];
    for (let k = 0; k < s.K; k++) {
      const dk = d.map((t) => (t ? tf.squeeze(tf.slice(t, [0, k], [-1, 1]), [1]) : null));
      columns.push(tf.grad((u: tf.Tensor) => {
        const back = vjp(u);
        return tf.addN(back.flatMap((g, i) => (dk[i] ? [tf.sum(tf.mul(g, dk[i]!))] : [])));
      })(u0));
    }
    return tf.stack(columns, 1);
  },
};
