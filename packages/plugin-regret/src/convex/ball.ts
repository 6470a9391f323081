/** The Euclidean ball `‖u‖ ≤ r` centred at the origin (scopes work in `u = v − centre`). */

export function norm2(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Projection onto the ball, in place; returns the array. */
export function projectOntoBall(v: Float64Array, radius: number): Float64Array {
  if (!Number.isFinite(radius)) return v;
  const n = norm2(v);
  if (n > radius) {
    const s = radius / n;
    for (let i = 0; i < v.length; i++) v[i] *= s;
  }
  return v;
}

/**
 * Frank–Wolfe gap of a convex F over the ball at x: `max_{‖u‖≤r} ⟨∇F(x), x − u⟩ = ⟨g, x⟩ + r‖g‖`.
 * It bounds the optimality gap from above, `F(x) − min F ≤ gap`, and vanishes only at the minimiser.
 */
export function frankWolfeGap(x: ArrayLike<number>, g: ArrayLike<number>, radius: number): number {
  return dot(g, x) + radius * norm2(g);
}
