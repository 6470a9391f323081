// The plugin on a functional DAG with every kind of piecewise-linear unit: relu6 and hardSigmoid
// Dense/Conv activations, a LeakyReLU layer (folded into the linear conv that feeds only it), a
// PReLU layer (not folded: the dense before it also feeds a residual add), an overlapping max-pool whose windows tie on purpose (relu6 saturates at 6 and clamps at 0),
// global max-pooling, Maximum of 3 and Minimum of 2 (ties at 0 on purpose), a residual add into
// ReLU(maxValue), ThresholdedReLU, and a smooth elu layer that is skipped. On cpu and wasm:
// - every stored piece equals the unit's definition computed in plain JavaScript from the tensor
//   data (pre-activations in double precision from the weights; values within 1e-4 of a piece
//   boundary are left out, and there must be few);
// - novelty, switches and singular values equal plain-loop recomputations from the stored pieces
//   (singular values: an SVD of the explicit centred one-hot matrix);
// - pieces.npy reads back in numpy with the recipe the README gives.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import { selectBackend, webgpuStatus } from '@taylorlens/core';
import {
  ActivationPlugin, ActivationRecorder, PIECES_NPY, configurationSnapshot, readActivationJson, readRunConfigurations, reportSections, selectUnits,
  type Configurations,
} from '../src/index.js';
import { tempStore } from './helpers/store.js';

const stores: ReturnType<typeof tempStore>[] = [];
afterAll(() => { for (const s of stores) s.remove(); });

const init = (seed: number, stddev = 0.8) => ({
  kernelInitializer: tfl.initializers.randomNormal({ stddev, seed }),
  biasInitializer: tfl.initializers.randomUniform({ minval: -0.3, maxval: 0.3, seed: seed + 100 }),
});

interface Zoo {
  model: tfl.LayersModel;
  /** Symbolic tensors the reference reads, by name. */
  taps: Record<string, tfl.SymbolicTensor>;
  /** Layers by role. */
  layers: Record<string, tfl.layers.Layer>;
}

function zoo(seed: number, withThreshold = true): Zoo {
  const L = tfl.layers;
  const input = tfl.input({ shape: [6, 6, 2] });
  const layers: Record<string, tfl.layers.Layer> = {
    c1: L.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu6', ...init(seed, 1.5) }),
    p1: L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
    c2: L.conv2d({ filters: 4, kernelSize: 2, padding: 'same', ...init(seed + 1, 0.3) }),
    leaky: L.leakyReLU({ alpha: 0.2 }),
    gmp: L.globalMaxPooling2d({}),
    flat: L.flatten(),
    d1: L.dense({ units: 8, ...init(seed + 2, 0.3) }),
    prelu: L.prelu({ alphaInitializer: tfl.initializers.constant({ value: 0.25 }) }),
    d2: L.dense({ units: 8, activation: 'hardSigmoid', ...init(seed + 3, 1) }),
    d3: L.dense({ units: 8, activation: 'relu', ...init(seed + 4, 0.5) }),
    d4: L.dense({ units: 8, ...init(seed + 5, 0.5) }),
    mx: L.maximum(),
    mn: L.minimum(),
    add: L.add(),
    clip: L.reLU({ maxValue: 1.5 }),
    th: withThreshold ? L.thresholdedReLU({ theta: 0.3 }) : L.leakyReLU({ alpha: 0.5 }),
    cat: L.concatenate(),
    e: L.dense({ units: 5, activation: 'elu', ...init(seed + 6) }),
    out: L.dense({ units: 3, ...init(seed + 7) }),
  };
  const a = (name: string, x: tfl.SymbolicTensor | tfl.SymbolicTensor[]) => layers[name].apply(x) as tfl.SymbolicTensor;
  const c1 = a('c1', input);
  const p1 = a('p1', c1);
  const c2 = a('c2', p1);
  const leaky = a('leaky', c2);
  const gmp = a('gmp', leaky);
  const d1 = a('d1', a('flat', leaky));
  const pr = a('prelu', d1);
  const d2 = a('d2', pr);
  const d3 = a('d3', pr);
  const d4 = a('d4', pr);
  const mx = a('mx', [d2, d3, d4]);
  const mn = a('mn', [d3, d4]);
  const add = a('add', [mx, d1]);
  const clip = a('clip', add);
  const th = a('th', mn);
  const out = a('out', a('e', a('cat', [clip, th, gmp])));
  return { model: tfl.model({ inputs: input, outputs: out }), taps: { c1, c2, leaky, d1, pr, d2, d3, d4, add, mn }, layers };
}

/** `y = x·K + b` per sample in double precision. */
function dense(x: Float32Array, B: number, k: Float32Array, b: Float32Array, units: number): Float64Array {
  const n = k.length / units;
  const out = new Float64Array(B * units);
  for (let s = 0; s < B; s++) for (let u = 0; u < units; u++) {
    let v = b[u];
    for (let i = 0; i < n; i++) v += x[s * n + i] * k[i * units + u];
    out[s * units + u] = v;
  }
  return out;
}

/** 'same' stride-1 conv in double precision (NHWC, HWIO kernel). */
function convSame(x: Float32Array, [B, H, W, C]: number[], k: Float32Array, [kh, kw, , F]: number[], b: Float32Array): Float64Array {
  const out = new Float64Array(B * H * W * F);
  const top = Math.floor((kh - 1) / 2);
  const left = Math.floor((kw - 1) / 2);
  for (let s = 0; s < B; s++) for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++) for (let f = 0; f < F; f++) {
    let v = b[f];
    for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
      const yy = y + i - top;
      const x2 = xx + j - left;
      if (yy < 0 || yy >= H || x2 < 0 || x2 >= W) continue;
      for (let c = 0; c < C; c++) v += x[((s * H + yy) * W + x2) * C + c] * k[((i * kw + j) * C + c) * F + f];
    }
    out[((s * H + y) * W + xx) * F + f] = v;
  }
  return out;
}

const near = (v: number, edges: number[]) => edges.some((e) => Math.abs(v - e) < 1e-4);

/**
 * Every unit's piece by definition, by layer name (all units, C order), with `null` where the
 * value sits within 1e-4 of a boundary (left out of the comparison). Also counts tied windows.
 */
async function reference(z: Zoo, x: tf.Tensor): Promise<{ pieces: Map<string, (number | null)[]>; tiedWindows: number; tiedMerges: number }> {
  const names = Object.keys(z.taps);
  const outs = tf.tidy(() => tfl.model({ inputs: z.model.inputs, outputs: names.map((n) => z.taps[n]) }).predict(x) as tf.Tensor[]);
  const v: Record<string, Float32Array> = {};
  for (let i = 0; i < names.length; i++) v[names[i]] = (await outs[i].data()) as Float32Array;
  tf.dispose(outs);
  const w = (name: string) => z.layers[name].getWeights().map((t) => t.dataSync() as Float32Array);
  const B = x.shape[0];
  const pieces = new Map<string, (number | null)[]>();
  const L = z.layers;
  // c1: relu6 of the conv pre-activation: 0 a ≤ 0, 1 0 < a < 6, 2 a ≥ 6.
  const [k1, b1] = w('c1');
  const pre1 = convSame((await x.data()) as Float32Array, [B, 6, 6, 2], k1, [3, 3, 2, 3], b1);
  pieces.set(L.c1.name, Array.from(pre1, (a) => (near(a, [0, 6]) ? null : a > 0 ? (a >= 6 ? 2 : 1) : 0)));
  // p1: first maximum (row-major) of each 3×3 window, stride 2, 'same' padding (6 → 3: pad 0 before, 1 after).
  const c1 = v.c1;
  const p1: number[] = [];
  let tiedWindows = 0;
  for (let s = 0; s < B; s++) for (let oy = 0; oy < 3; oy++) for (let ox = 0; ox < 3; ox++) for (let c = 0; c < 3; c++) {
    let best = -Infinity;
    let piece = -1;
    const vals: number[] = [];
    for (let fy = 0; fy < 3; fy++) for (let fx = 0; fx < 3; fx++) {
      const yy = oy * 2 + fy;
      const xx = ox * 2 + fx;
      if (yy >= 6 || xx >= 6) continue;
      const val = c1[((s * 6 + yy) * 6 + xx) * 3 + c];
      vals.push(val);
      if (piece < 0 || val > best) { best = val; piece = fy * 3 + fx; }
    }
    if (vals.filter((u) => u === best).length > 1) tiedWindows++;
    p1.push(piece);
  }
  pieces.set(L.p1.name, p1);
  // c2 + LeakyReLU (folded: c2 feeds only it): the sign of the conv output. PReLU (not folded: d1 also feeds the add): the sign of d1's output.
  pieces.set(L.c2.name, Array.from(v.c2, (a) => (near(a, [0]) ? null : a > 0 ? 1 : 0)));
  pieces.set(L.prelu.name, Array.from(v.d1, (a) => (near(a, [0]) ? null : a > 0 ? 1 : 0)));
  // Global max over the 3×3 positions of the LeakyReLU output: the first maximum.
  const gmp: number[] = [];
  for (let s = 0; s < B; s++) for (let c = 0; c < 4; c++) {
    const vals = Array.from({ length: 9 }, (_, p) => v.leaky[(s * 9 + p) * 4 + c]);
    gmp.push(vals.indexOf(Math.max(...vals)));
  }
  pieces.set(L.gmp.name, gmp);
  // d2 hardSigmoid (y = 0.5 + 0.2·a: 0 y < 0, 1 0 ≤ y ≤ 1, 2 y > 1), d3 relu, from the PReLU output.
  const [k2, b2] = w('d2');
  pieces.set(L.d2.name, Array.from(dense(v.pr, B, k2, b2, 8), (a) => { const y = 0.5 + 0.2 * a; return near(y, [0, 1]) ? null : y >= 0 ? (y > 1 ? 2 : 1) : 0; }));
  const [k3, b3] = w('d3');
  pieces.set(L.d3.name, Array.from(dense(v.pr, B, k3, b3, 8), (a) => (near(a, [0]) ? null : a > 0 ? 1 : 0)));
  // Maximum(d2, d3, d4) and Minimum(d3, d4): the first input holding the extreme.
  let tiedMerges = 0;
  const mx: number[] = [];
  const mn: number[] = [];
  for (let i = 0; i < B * 8; i++) {
    const a = [v.d2[i], v.d3[i], v.d4[i]];
    const best = Math.max(...a);
    if (a.filter((u) => u === best).length > 1) tiedMerges++;
    mx.push(a.indexOf(best));
    mn.push(v.d4[i] < v.d3[i] ? 1 : 0);
  }
  pieces.set(L.mx.name, mx);
  pieces.set(L.mn.name, mn);
  // ReLU(maxValue 1.5) after the residual add: 0 a ≤ 0, 1 0 < a ≤ 1.5, 2 a > 1.5. ThresholdedReLU(0.3) of the minimum.
  pieces.set(L.clip.name, Array.from(v.add, (a) => (near(a, [0, 1.5]) ? null : a > 0 ? (a > 1.5 ? 2 : 1) : 0)));
  if (L.th.getClassName() === 'ThresholdedReLU') pieces.set(L.th.name, Array.from(v.mn, (a) => (near(a, [0.3]) ? null : a > 0.3 ? 1 : 0)));
  else pieces.set(L.th.name, Array.from(v.mn, (a) => (near(a, [0]) ? null : a > 0 ? 1 : 0)));
  return { pieces, tiedWindows, tiedMerges };
}

function bruteNovelty(p: Int32Array, N: number, DM: number): (number | null)[] {
  const out: (number | null)[] = [];
  for (let n = 0; n < N; n++) {
    let best: number | null = null;
    for (let k = 0; k < n; k++) {
      let dist = 0;
      for (let i = 0; i < DM; i++) if (p[n * DM + i] !== p[k * DM + i]) dist++;
      if (best === null || dist < best) best = dist;
    }
    out.push(best);
  }
  return out;
}

/** σ of unit m's centred one-hot matrix (N × D·P, entries [piece = p] / √2), descending. */
function bruteSigma(p: Int32Array, N: number, D: number, M: number, m: number, P: number, k: number): number[] {
  const X = new Matrix(N, D * P);
  for (let n = 0; n < N; n++) for (let d = 0; d < D; d++) X.set(n, d * P + p[(n * D + d) * M + m], Math.SQRT1_2);
  const mean = X.mean('column');
  for (let n = 0; n < N; n++) for (let c = 0; c < D * P; c++) X.set(n, c, X.get(n, c) - mean[c]);
  const svd = new SingularValueDecomposition(X, { autoTranspose: true, computeLeftSingularVectors: false, computeRightSingularVectors: false });
  return [...svd.diagonal].sort((a, b) => b - a).slice(0, k);
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`every piecewise-linear kind in a functional DAG, on ${backend}`, () => {
    beforeAll(async () => { await selectBackend(backend); });

    it('stores each unit\'s piece as defined, and the measures are those of the stored pieces', async () => {
      const z = zoo(21);
      const D = 10;
      const N = 5;
      const x = tf.randomNormal([D, 6, 6, 2], 0, 2, 'float32', 22);
      const store = tempStore();
      stores.push(store);
      const outDir = store.pluginDir('activation');
      const rec = new ActivationRecorder(new ActivationPlugin({ singularValues: 4, choices: true }).options, x);
      await rec.begin({ model: z.model, batchesPerEpoch: null, start: { epoch: 0, round: 0 }, outDir });
      const sel = rec.selection!;
      const L = z.layers;
      // Which units, in which file, with how many pieces.
      const byName = new Map(sel.layers.map((l) => [l.name, l]));
      const expected: [string, string, string, number, number, string][] = [
        [L.c1.name, 'conv2d', 'relu6', 3, 108, 'pieces'], [L.p1.name, 'pool', 'maxpool', 9, 27, 'pieces'],
        [L.c2.name, 'conv2d', 'leakyrelu', 2, 36, 'bits'], [L.gmp.name, 'pool', 'globalmaxpool', 9, 4, 'pieces'],
        [L.prelu.name, 'activation', 'prelu', 2, 8, 'bits'], [L.d2.name, 'dense', 'hardsigmoid', 3, 8, 'pieces'],
        [L.d3.name, 'dense', 'relu', 2, 8, 'bits'], [L.mx.name, 'merge', 'maximum', 3, 8, 'pieces'],
        [L.mn.name, 'merge', 'minimum', 2, 8, 'bits'], [L.clip.name, 'activation', 'clippedrelu', 3, 8, 'pieces'],
        [L.th.name, 'activation', 'thresholdedrelu', 2, 8, 'bits'],
      ];
      expect([...byName.keys()].sort()).toEqual(expected.map((e) => e[0]).sort());
      for (const [name, kind, activation, pieces, total, file] of expected) {
        expect([name, byName.get(name)!.kind, byName.get(name)!.activation, byName.get(name)!.pieces, byName.get(name)!.total, byName.get(name)!.file])
          .toEqual([name, kind, activation, pieces, total, file]);
      }
      expect(byName.get(L.c2.name)!.layer).toBe(1); // the LeakyReLU is the second conv's activation
      expect(sel.skipped).toEqual([expect.objectContaining({ name: L.e.name, smooth: true, reason: 'elu is smooth: it has no linear pieces' })]);
      expect([sel.bitUnits, sel.pieceUnits]).toEqual([68, 163]);

      const refs: Map<string, (number | null)[]>[] = [];
      let tiedWindows = 0;
      let tiedMerges = 0;
      const variables = z.model.weights.map((wv) => wv.read());
      for (let n = 0; n < N; n++) {
        if (n > 0) {
          // Move the weights: a new configuration at every snapshot.
          variables.forEach((vv, i) => { (vv as tf.Variable).assign(tf.tidy(() => tf.add(vv, tf.randomNormal(vv.shape, 0, 0.15, 'float32', 100 * n + i)))); });
          await rec.snapshot({ epoch: n, round: n });
        }
        const r = await reference(z, x);
        refs.push(r.pieces);
        tiedWindows += r.tiedWindows;
        tiedMerges += r.tiedMerges;
      }
      await rec.end('completed');
      expect(tiedWindows).toBeGreaterThan(0);
      expect(tiedMerges).toBeGreaterThan(0);

      const c = rec.configurations as Configurations;
      expect([c.snapshots, c.probes, c.units]).toEqual([N, D, 231]);
      const stored = c.unpack();
      const M = c.units;
      // Column of each unit: bit-file layers first, then pieces-file layers.
      let compared = 0;
      let skipped = 0;
      const wrong: string[] = [];
      for (const l of sel.layers) {
        const col = (l.file === 'bits' ? 0 : sel.bitUnits) + l.offset;
        for (let n = 0; n < N; n++) for (let d = 0; d < D; d++) for (let j = 0; j < l.indices.length; j++) {
          const want = refs[n].get(l.name)![d * l.total + l.indices[j]];
          if (want === null) { skipped++; continue; }
          compared++;
          const got = stored[(n * D + d) * M + col + j];
          if (got !== want) wrong.push(`${l.name} snapshot ${n} probe ${d} unit ${l.indices[j]}: stored ${got}, defined ${want}`);
        }
      }
      expect(wrong).toEqual([]);
      expect(compared).toBe(N * D * M - skipped);
      expect(skipped).toBeLessThan(compared / 200);
      // Every piece of every multi-piece kind occurs somewhere (the test is not vacuous).
      for (const l of sel.layers.filter((q) => q.activation !== 'globalmaxpool')) {
        const col = (l.file === 'bits' ? 0 : sel.bitUnits) + l.offset;
        const seen = new Set<number>();
        for (let i = 0; i < N * D; i++) for (let j = 0; j < l.indices.length; j++) seen.add(stored[i * M + col + j]);
        expect([l.name, seen.size]).toEqual([l.name, l.pieces]);
      }

      // The measures, against plain loops over the stored pieces.
      const m = rec.final!;
      const want = bruteNovelty(stored, N, D * M);
      expect(m.novelty.map((p) => p.raw)).toEqual(want);
      expect(m.novelty.map((p) => p.normalized)).toEqual(want.map((v) => (v === null ? null : v / (D * M))));
      for (let d = 0; d < D; d++) {
        let changes = 0;
        for (let n = 0; n + 1 < N; n++) for (let u = 0; u < M; u++) if (stored[(n * D + d) * M + u] !== stored[((n + 1) * D + d) * M + u]) changes++;
        expect(m.switches.perPoint[d]).toBe(changes / ((N - 1) * M));
      }
      expect(m.switches.possible).toBe((N - 1) * M);
      const P = c.piecesPerUnit();
      const k = Math.min(4, N, D);
      expect(m.singularValues.k).toBe(k);
      for (let u = 0; u < M; u++) {
        const sigma = bruteSigma(stored, N, D, M, u, P[u], k);
        const wantLog = sigma.reduce((s, v) => s + Math.log(Math.max(v < 1e-9 ? 0 : v, 1e-6)), 0);
        expect(Math.abs(m.singularValues.perUnit[u] - wantLog)).toBeLessThan(1e-7);
      }

      // The files: the JSON names both; pieces.npy reads back in numpy with the README's recipe.
      const json = readActivationJson(store.dir)!;
      expect(json).toMatchObject({ format: 'taylorlens-activation/2', units: 231, probes: D, snapshots: N, none: null });
      expect(json.bits).toMatchObject({ file: 'configurations.npy', units: 68, shape: [N, D, 9] });
      expect(json.pieces).toMatchObject({ file: PIECES_NPY, units: 163, rowBits: sel.pieceRowBits, shape: [N, D, sel.pieceRowBits / 8] });
      const back = readRunConfigurations(store.dir)!;
      expect(Array.from(back.unpack())).toEqual(Array.from(stored));
      const py = numpyPieces(path.join(outDir, PIECES_NPY), json.layers.filter((l) => l.file === 'pieces'));
      for (const l of sel.layers.filter((q) => q.file === 'pieces')) {
        const want = Array.from({ length: N }, (_, n) => Array.from({ length: D }, (_, d) => Array.from(stored.subarray((n * D + d) * M + sel.bitUnits + l.offset, (n * D + d) * M + sel.bitUnits + l.offset + l.indices.length))));
        expect(py[l.name]).toEqual(want);
      }
      const [section] = await reportSections(store.dir);
      expect(section.figures).toHaveLength(3);
      expect(section.intro).toContain('M = 231 piecewise-linear units');
      expect(section.intro).toContain('elu is smooth');
      rec.dispose();
      x.dispose();
    });

    it('records in model.fit on a functional DAG through asCallback (no anatomy needed)', async () => {
      const z = zoo(31, false);
      const x = tf.randomNormal([24, 6, 6, 2], 0, 1, 'float32', 32);
      const y = tf.randomNormal([24, 3], 0, 1, 'float32', 33);
      z.model.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.05) });
      const plugin = new ActivationPlugin({ probeSize: 8, choices: true }).setTrainingData(x);
      const cb = plugin.asCallback();
      await z.model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, callbacks: [cb] });
      expect(plugin.configurations!.snapshots).toBe(3);
      expect(plugin.configurations!.pieceUnits).toBeGreaterThan(0);
      expect(cb.rows).toHaveLength(2);
      expect(typeof cb.rows[1]['activation.novelty']).toBe('number');
      expect(plugin.final!.singularValues.perUnit).toHaveLength(plugin.configurations!.units);
      tf.dispose([x, y]);
    });
  });
}

describe('on webgpu (Dawn; Mesa\'s software driver in CI: .ci/install-webgpu-deps.sh)', () => {
  it('every piece of the DAG is the one cpu stores', async () => {
    const snap = async (backend: string) => {
      await selectBackend(backend);
      const z = zoo(21);
      const x = tf.randomNormal([6, 6, 6, 2], 0, 2, 'float32', 22);
      const sel = selectUnits(z.model, { maxUnitsPerLayer: {}, choices: true, seed: 1 });
      const s = await configurationSnapshot(z.model, x, sel);
      x.dispose();
      return { bits: Buffer.from(s.bits!).toString('hex'), pieces: Buffer.from(s.pieces!).toString('hex'), units: sel.units };
    };
    const cpu = await snap('cpu');
    const s = await webgpuStatus();
    if (!s.available) throw new Error(`no WebGPU adapter: ${s.reason}. Run .ci/install-webgpu-deps.sh (as root) first.`);
    const gpu = await snap('webgpu');
    expect(gpu).toEqual(cpu);
    expect(cpu.units).toBe(231);
  });
});

/** The README's numpy recipe, run by python: pieces per pieces-file layer, [N][D][count]. */
function numpyPieces(file: string, layers: { name: string; bitOffset?: number | null; fieldBits?: number; count: number }[]): Record<string, number[][][]> {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
  } catch {
    throw new Error('python3 with numpy is expected on this machine');
  }
  const code = 'import json, sys, numpy\n'
    + 'P = numpy.load(sys.argv[1]); N, D = P.shape[0], P.shape[1]\n'
    + 'bits = numpy.unpackbits(P, axis=2, bitorder="little")\n'
    + 'out = {}\n'
    + 'for l in json.loads(sys.argv[2]):\n'
    + '    o, w, c = l["bitOffset"], l["fieldBits"], l["count"]\n'
    + '    f = bits[:, :, o:o + c * w].reshape(N, D, c, w).astype(numpy.int64)\n'
    + '    out[l["name"]] = (f << numpy.arange(w)).sum(axis=3).tolist()\n'
    + 'print(json.dumps(out))';
  expect(fs.existsSync(file)).toBe(true);
  return JSON.parse(execFileSync('python3', ['-c', code, file, JSON.stringify(layers)], { encoding: 'utf8' })) as Record<string, number[][][]>;
}
