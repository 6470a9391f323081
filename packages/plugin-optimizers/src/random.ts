/**
 * Seeded, counter-based Gaussian noise. Each draw is a pure function of (seed, step, variable
 * name), so runs are deterministic and a run resumed from a checkpoint draws exactly the noise the
 * uninterrupted run would have — no generator state to save.
 */

/** 32-bit FNV-1a hash of a string. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Murmur3's finaliser: spreads the bits of a 32-bit integer. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The 32-bit seed of the draw for one variable at one step. */
export function drawSeed(seed: number, step: number, variableHash: number): number {
  return mix32(mix32(mix32(seed >>> 0) ^ (step >>> 0)) ^ variableHash);
}

// Ziggurat tables for the standard normal, 128 layers (Marsaglia & Tsang 2000, `zigset`).
const R = 3.442619855899; // where the tail starts
const kn = new Int32Array(128); // acceptance thresholds on the 32-bit integer
const wn = new Float64Array(128); // integer → x scale of each layer
const fn = new Float64Array(128); // exp(−x²/2) at each layer's edge
// |hz| < kn ⟺ 0 ≤ hz + kn − 1 < 2kn − 1: one unsigned compare, which V8 keeps in integers.
const span = new Float64Array(128);
{
  const m1 = 2147483648;
  const v = 9.91256303526217e-3; // area of each layer
  let dn = R;
  let tn = dn;
  const q = v / Math.exp(-0.5 * dn * dn);
  kn[0] = Math.floor((dn / q) * m1);
  kn[1] = 0;
  wn[0] = q / m1;
  wn[127] = dn / m1;
  fn[0] = 1;
  fn[127] = Math.exp(-0.5 * dn * dn);
  for (let i = 126; i >= 1; i--) {
    dn = Math.sqrt(-2 * Math.log(v / dn + Math.exp(-0.5 * dn * dn)));
    kn[i + 1] = Math.floor((dn / tn) * m1);
    tn = dn;
    fn[i] = Math.exp(-0.5 * dn * dn);
    wn[i] = dn / m1;
  }
  for (let i = 0; i < 128; i++) span[i] = 2 * kn[i] - 1;
}

/** mulberry32 step on a one-element state: the next signed 32-bit integer. */
function nextInt(state: Int32Array): number {
  state[0] = (state[0] + 0x6d2b79f5) | 0;
  const a = state[0];
  let t = Math.imul(a ^ (a >>> 15), a | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return t ^ (t >>> 14);
}

/** Uniform in (0, 1). */
function uniform(state: Int32Array): number {
  return (nextInt(state) >>> 0) / 4294967296 + 1.1641532182693481e-10;
}

/** The ziggurat's rare path (about 1.2% of draws): the wedges and the tail. */
function ziggurat(hz: number, state: Int32Array): number {
  let iz = hz & 127;
  for (;;) {
    const x = hz * wn[iz];
    if (iz === 0) {
      // the tail beyond R (Marsaglia 1964)
      let tail: number;
      let y: number;
      do {
        tail = -Math.log(uniform(state)) / R;
        y = -Math.log(uniform(state));
      } while (y + y < tail * tail);
      return hz > 0 ? R + tail : -R - tail;
    }
    // the wedge between the layer's rectangle and the density
    if (fn[iz] + uniform(state) * (fn[iz - 1] - fn[iz]) < Math.exp(-0.5 * x * x)) return x;
    hz = nextInt(state);
    iz = hz & 127;
    if ((hz < 0 ? -hz : hz) < kn[iz]) return hz * wn[iz];
  }
}

/**
 * `n` independent N(0, std²) samples from a 32-bit seed: the ziggurat method over mulberry32
 * integers — one integer, one table look-up and one multiply per sample 98.8% of the time (this
 * runs for every weight at every step of noisy SGD). Computed in float64, rounded once to float32.
 *
 * References: Marsaglia & Tsang 2000, "The Ziggurat Method for Generating Random Variables".
 */
export function gaussianSamples(n: number, std: number, seed32: number): Float32Array {
  const out = new Float32Array(n);
  const box = new Int32Array(1); // the generator state when the rare path needs it
  let state = seed32 | 0; // a plain local on the hot path (mulberry32 inlined)
  for (let i = 0; i < n; i++) {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const hz = t ^ (t >>> 14);
    const iz = hz & 127;
    if ((hz + kn[iz] - 1) >>> 0 < span[iz]) {
      out[i] = std * hz * wn[iz]; // |hz| < kn: inside the layer's rectangle, accept
    } else {
      box[0] = state;
      out[i] = std * ziggurat(hz, box);
      state = box[0];
    }
  }
  return out;
}
