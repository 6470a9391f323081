// Exploration measures (novelty, switches, per-unit singular values) on packed bit tensors.
// Imports the built package: run `npx tsc -b packages/plugin-activation` first.
import {
  ConfigurationTensor,
  POPCOUNT8,
  popcount32,
  noveltySeries,
  switches,
  singularValueLogProducts,
} from '../../packages/plugin-activation/dist/measures/index.js';

function lcg(seed) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** Independent bits, P(active) = ½ at every snapshot: the worst case for every measure. */
function randomTensor(N, D, M, seed) {
  const rnd = lcg(seed);
  const t = new ConfigurationTensor(D, M, N);
  const flags = new Uint8Array(D * M);
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < flags.length; i++) flags[i] = rnd() < 0.5 ? 1 : 0;
    t.appendValues(flags);
  }
  return t;
}

/**
 * Closer to training: a random start, then 10% of the (d, m) bits ("near the boundary") flip with
 * probability 0.2·e^(−n/20) per snapshot and the rest with probability 0.001.
 */
function realisticTensor(N, D, M, seed) {
  const rnd = lcg(seed);
  const t = new ConfigurationTensor(D, M, N);
  const flags = Uint8Array.from({ length: D * M }, () => (rnd() < 0.5 ? 1 : 0));
  const boundary = Uint8Array.from({ length: D * M }, () => (rnd() < 0.1 ? 1 : 0));
  for (let n = 0; n < N; n++) {
    const hot = 0.2 * Math.exp(-n / 20);
    if (n > 0) for (let i = 0; i < flags.length; i++) if (rnd() < (boundary[i] ? hot : 0.001)) flags[i] ^= 1;
    t.appendValues(flags);
  }
  return t;
}

function allMeasures(t) {
  return { novelty: noveltySeries(t), switches: switches(t), singular: singularValueLogProducts(t) };
}

export async function run(bench) {
  const [N, D, M] = [100, 1000, 180];

  // Which popcount: all-pairs Hamming over 40 snapshots of D·ceil(M/8) = 23 000 bytes.
  if (bench.wants('activation.measures.popcount')) {
    const t = randomTensor(40, D, M, 1);
    const bytes = t.storageBytes;
    const words = t.storageWords;
    const S = t.snapshotBytes;
    const W = t.strideWords;
    const table = () => {
      let total = 0;
      for (let a = 0; a < 40; a++)
        for (let b = 0; b < a; b++) {
          const oa = t.snapshotOffset(a);
          const ob = t.snapshotOffset(b);
          for (let i = 0; i < S; i++) total += POPCOUNT8[bytes[oa + i] ^ bytes[ob + i]];
        }
      return total;
    };
    const swar = () => {
      let total = 0;
      for (let a = 0; a < 40; a++)
        for (let b = 0; b < a; b++) for (let i = 0; i < W; i++) total += popcount32(words[a * W + i] ^ words[b * W + i]);
      return total;
    };
    if (table() !== swar()) throw new Error('popcount variants disagree');
    bench.record('activation.measures.popcount.table8', await bench.time(table, { warmup: 2, iterations: 10 }));
    bench.record('activation.measures.popcount.swar32', await bench.time(swar, { warmup: 2, iterations: 10 }), {
      baseline: 'activation.measures.popcount.table8',
    });
  }

  for (const [name, make] of [
    ['activation.measures.n100', randomTensor],
    ['activation.measures.n100.realistic', realisticTensor],
  ]) {
    if (!bench.wants(name)) continue;
    const t = make(N, D, M, 2);
    const opts = { warmup: 1, iterations: 3 };
    const parts = {
      novelty_ms: await bench.time(() => noveltySeries(t), opts),
      switches_ms: await bench.time(() => switches(t), opts),
      singular_ms: await bench.time(() => singularValueLogProducts(t), opts),
    };
    const r = allMeasures(t);
    const distinct = Array.from(r.singular.distinct);
    bench.record(name, await bench.time(() => allMeasures(t), opts), {
      extra: {
        N,
        D,
        M,
        ...Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, Math.round(v * 10) / 10])),
        mean_distinct_snapshots_per_unit: distinct.reduce((a, b) => a + b, 0) / M,
        median_novelty: r.novelty[N >> 1].normalized,
        max_switch_rate: r.switches.sorted[0],
      },
    });
  }
}
