import * as tf from '@tensorflow/tfjs-core';
import { LocalRoundsScope, NetworkScope, StatisticsScope, type Scope } from '@taylorlens/plugin-regret';

/** `Σ_n τ^n(w₁ + u_k)` and its gradient for every problem of any scope kind. */
export async function taylorSums(scope: Scope, us: Float64Array[]): Promise<{ values: number[]; grads: Float64Array[] }> {
  if (scope instanceof StatisticsScope) {
    await scope.statistics.flush();
    return { values: us.map((u, k) => scope.taylorSum(k, u)), grads: us.map((u, k) => scope.taylorGradient(k, u)) };
  }
  if (scope instanceof LocalRoundsScope || scope instanceof NetworkScope) {
    const r = await scope.evaluate(us);
    return { values: Array.from(r.values), grads: r.grads };
  }
  throw new Error('unknown scope');
}

/** u = v − centre per problem, from a `[K, P]` tensor of parameters. */
export function displacement(scope: Scope, v: tf.Tensor2D): Float64Array[] {
  const c = scope.centre()!.dataSync();
  const vv = v.dataSync();
  const [K, P] = v.shape;
  return Array.from({ length: K }, (_, k) => Float64Array.from({ length: P }, (_, i) => vv[k * P + i] - c[k * P + i]));
}
