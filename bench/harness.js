// Shared timing helpers for bench suites. Each suite exports `run(bench)`; see run.js.
import * as tf from '@tensorflow/tfjs-core';

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Collects results in the format of bench/results/latest.json:
 * { name: { median_ms, baseline, ratio, backend, ...extra } }, ratios taken against
 * a baseline measured in the same process.
 */
export class Bench {
  constructor(filter) {
    this.results = {};
    this.filter = filter;
  }

  wants(name) {
    return !this.filter || name.includes(this.filter);
  }

  /** Time `fn` (sync or async) `iterations` times after `warmup` runs; returns the median in ms. */
  async time(fn, { warmup = 3, iterations = 20 } = {}) {
    for (let i = 0; i < warmup; i++) await fn(i);
    const times = [];
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now();
      await fn(i);
      times.push(performance.now() - t0);
    }
    return median(times);
  }

  /**
   * Time several functions in turn, one call of each per iteration, so that a noisy machine's
   * slow spells fall on all of them alike; the order rotates each iteration (whoever runs first
   * pays for what the previous one left, e.g. garbage). Returns each one's median in ms.
   */
  async timeEach(fns, opts = {}) {
    return (await this.timeEachRuns(fns, opts)).map(median);
  }

  /** timeEach's measurements themselves: per function, its time in each iteration (for paired ratios). */
  async timeEachRuns(fns, { warmup = 2, iterations = 9 } = {}) {
    for (let i = 0; i < warmup; i++) for (const fn of fns) await fn(i);
    const times = fns.map(() => []);
    for (let i = 0; i < iterations; i++) {
      for (let j = 0; j < fns.length; j++) {
        const k = (i + j) % fns.length;
        const t0 = performance.now();
        await fns[k](i);
        times[k].push(performance.now() - t0);
      }
    }
    return times;
  }

  /** Record a measured entry; the ratio is computed against `baseline` if it was recorded. */
  record(name, medianMs, { baseline = null, extra = {} } = {}) {
    const base = baseline ? this.results[baseline] : null;
    if (baseline && !base) throw new Error(`baseline ${baseline} must be measured before ${name}`);
    this.results[name] = {
      median_ms: round(medianMs),
      baseline,
      ratio: base ? round(medianMs / base.median_ms, 3) : null,
      backend: tf.getBackend(),
      ...extra,
    };
    const r = this.results[name];
    console.log(`${name.padEnd(48)} ${String(r.median_ms).padStart(10)} ms  ${r.ratio === null ? '' : `ratio ${r.ratio} vs ${baseline}`}`);
    return r;
  }
}

function round(x, digits = 3) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
