import * as tf from '@tensorflow/tfjs-core';
import type { ModelAnatomy } from './anatomy.js';
import { NO_NEEDS, forward } from './capture.js';
import type { TaylorLoss } from './losses.js';

export class MissingKernelError extends Error {
  constructor(readonly backend: string, readonly kernels: string[], detail: string) {
    super(`backend "${backend}" lacks kernel(s) needed to train this model: ${kernels.join(', ')} (${detail}); ` +
      'try another backend with --backend cpu, or see `taylorlens doctor`');
  }
}

/**
 * One tiny forward and backward pass on the active backend before training starts, so a
 * missing kernel is named up front instead of failing mid-run. Returns the kernels it ran.
 */
export async function preflight(anatomy: ModelAnatomy, loss: TaylorLoss): Promise<string[]> {
  try {
    const info = await tf.profile(() => tf.tidy(() => {
      const x = tf.randomUniform([2, ...anatomy.inputShape], 0, 1, 'float32', 1);
      // Targets in the loss's layout: f's shape, or one class index (0) per sample for sparse targets.
      const y = loss.targets === 'sparse' ? tf.zeros([2]) : tf.randomUniform([2, anatomy.outputSize], 0, 1, 'float32', 2);
      const { value, grads } = tf.engine().gradients(
        () => loss.compute(tf.reshape(forward(anatomy, x, NO_NEEDS), [2, anatomy.outputSize]), y),
        [...anatomy.variables]);
      return [value, ...grads];
    }));
    tf.dispose(info.result as tf.Tensor[]);
    return [...new Set(info.kernelNames)].sort();
  } catch (e) {
    const m = /Kernel '(\w+)' not registered for backend '(\w+)'/.exec((e as Error).message);
    if (m) throw new MissingKernelError(m[2], [m[1]], 'found by a one-step preflight');
    throw e;
  }
}

/** Which of `kernels` each registered backend lacks. */
export function missingKernels(kernels: string[], backends: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const b of backends) out[b] = kernels.filter((k) => !tf.getKernel(k, b));
  return out;
}
