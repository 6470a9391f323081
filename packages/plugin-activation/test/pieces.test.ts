// Core's piece functions (packages/core/src/derivatives/pieces.ts) against two independent
// references on cpu and wasm: the per-kind definition computed in plain JavaScript on the tensor
// data, and tfjs's own gradient of the layer (the slope training uses in each piece, and for
// pooling and merges the cell or input the gradient is routed to), boundaries and ties included.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  layerPieceInfo, layerPieces, maxPoolArgmax, selectBackend, SMOOTH_ACTIVATION_NAMES, type Pieces,
} from '@taylorlens/core';

/** Values on and around every boundary the kinds below have. */
const EDGES = [-7, -2.5000002, -2.5, -1, -1e-8, -0, 0, 1e-8, 0.3, 1, 1.0000001, 1.5, 2.4999998, 2.5, 2.5000002, 3, 5.9999995, 6, 6.0000005, 7, NaN];

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** `[rows, EDGES.length]`: the edges, then random values. */
function edgeInput(rows = 3, seed = 1): tf.Tensor2D {
  const rnd = lcg(seed);
  const v: number[] = [...EDGES];
  for (let i = 1; i < rows; i++) for (let j = 0; j < EDGES.length; j++) v.push((rnd() - 0.5) * 16);
  return tf.tensor2d(v, [rows, EDGES.length]);
}

async function piecesOf(layer: tfl.layers.Layer, inputs: tf.Tensor[]): Promise<number[]> {
  const r = layerPieces(layer, inputs) as Pieces;
  expect(r.pieces).not.toBeNull();
  expect(r.pieces.dtype).toBe('int32');
  const v = Array.from(await r.pieces.data());
  r.pieces.dispose();
  return v;
}

function gradOf(layer: tfl.layers.Layer, x: tf.Tensor): Float32Array {
  return tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(layer.apply(t) as tf.Tensor))(x).dataSync() as Float32Array);
}

const f32 = Math.fround;

interface Elementwise {
  name: string;
  make: () => tfl.layers.Layer;
  pieces: number;
  /** The piece by definition, in float32 arithmetic where tfjs does arithmetic. */
  piece: (a: number) => number;
  /** Slope of each piece (null: tfjs has no gradient for the layer). */
  slopes: ((i: number) => number)[] | null;
}

const hsY = (a: number) => f32(0.5 + f32(f32(0.2) * f32(a)));

const ELEMENTWISE: Elementwise[] = [
  { name: 'relu', make: () => tfl.layers.activation({ activation: 'relu' }), pieces: 2, piece: (a) => (a > 0 ? 1 : 0), slopes: [() => 0, () => 1] },
  { name: 'relu6', make: () => tfl.layers.activation({ activation: 'relu6' }), pieces: 3, piece: (a) => (a > 0 ? (a >= 6 ? 2 : 1) : 0), slopes: [() => 0, () => 1, () => 0] },
  { name: 'ReLU maxValue 6', make: () => tfl.layers.reLU({ maxValue: 6 }), pieces: 3, piece: (a) => (a > 0 ? (a > 6 ? 2 : 1) : 0), slopes: [() => 0, () => 1, () => 0] },
  { name: 'ReLU maxValue 2.5', make: () => tfl.layers.reLU({ maxValue: 2.5 }), pieces: 3, piece: (a) => (a > 0 ? (a > 2.5 ? 2 : 1) : 0), slopes: [() => 0, () => 1, () => 0] },
  { name: 'ReLU', make: () => tfl.layers.reLU(), pieces: 2, piece: (a) => (a > 0 ? 1 : 0), slopes: [() => 0, () => 1] },
  { name: 'LeakyReLU', make: () => tfl.layers.leakyReLU({ alpha: 0.1 }), pieces: 2, piece: (a) => (a > 0 ? 1 : 0), slopes: [() => f32(0.1), () => 1] },
  { name: 'ThresholdedReLU', make: () => tfl.layers.thresholdedReLU({ theta: 1 }), pieces: 2, piece: (a) => (a > 1 ? 1 : 0), slopes: null },
  {
    name: 'hardSigmoid', make: () => tfl.layers.activation({ activation: 'hardSigmoid' }), pieces: 3,
    piece: (a) => { const y = hsY(a); return y >= 0 ? (y > 1 ? 2 : 1) : 0; }, slopes: [() => 0, () => f32(0.2), () => 0],
  },
];

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`pieces on ${backend}`, () => {
    beforeAll(async () => { await selectBackend(backend); });

    for (const k of ELEMENTWISE) {
      it(`${k.name}: ${k.pieces} pieces, by definition, and the slope tfjs's gradient takes in each (boundaries included)`, async () => {
        const layer = k.make();
        const x = edgeInput();
        const info = layerPieceInfo(layer);
        expect(info.pieces).toBe(k.pieces);
        const got = await piecesOf(layer, [x]);
        const xs = Array.from(await x.data());
        expect(got).toEqual(xs.map((a) => (Number.isNaN(a) ? 0 : k.piece(a))));
        const out = Array.from(await tf.tidy(() => layer.apply(x) as tf.Tensor).data());
        if (k.slopes) {
          const g = gradOf(layer, x);
          xs.forEach((a, i) => { if (!Number.isNaN(a)) expect([a, g[i]]).toEqual([a, k.slopes![got[i]](i)]); });
        } else {
          // ThresholdedReLU: no gradient in tfjs; the forward is a on piece 1 and 0 on piece 0.
          xs.forEach((a, i) => { if (!Number.isNaN(a)) expect([a, out[i] === (got[i] === 1 ? a : 0)]).toEqual([a, true]); });
        }
        x.dispose();
      });
    }

    it('PReLU: the sign, whatever the per-unit slope α (negative ones too)', async () => {
      const x = edgeInput(3, 2);
      const layer = tfl.layers.prelu({ alphaInitializer: tfl.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed: 3 }) });
      layer.apply(tfl.input({ shape: [EDGES.length] }));
      const got = await piecesOf(layer, [x]);
      const xs = Array.from(await x.data());
      const alpha = Array.from(await layer.getWeights()[0].data());
      const g = gradOf(layer, x);
      xs.forEach((a, i) => {
        if (Number.isNaN(a)) return;
        expect(got[i]).toBe(a > 0 ? 1 : 0);
        expect(g[i]).toBe(got[i] === 1 ? 1 : alpha[i % EDGES.length]);
      });
      x.dispose();
    });

    it('Dense and Conv2D with a piecewise activation: the pieces of their pre-activation', async () => {
      const x = tf.randomNormal([5, 4, 4, 2], 0, 3, 'float32', 4);
      const conv = tfl.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu6', kernelInitializer: tfl.initializers.randomNormal({ stddev: 2, seed: 5 }) });
      conv.apply(x);
      const [k, b] = conv.getWeights();
      const pre = tf.add(tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 1, 'same'), b);
      const want = Array.from(await pre.data()).map((a) => (a > 0 ? (a >= 6 ? 2 : 1) : 0));
      expect(await piecesOf(conv, [x])).toEqual(want);
      expect(want).toContain(2); // saturated units exist
      const flat = tf.reshape(x, [5, 32]);
      const dense = tfl.layers.dense({ units: 7, activation: 'hardSigmoid', kernelInitializer: tfl.initializers.randomNormal({ stddev: 1, seed: 6 }) });
      dense.apply(flat);
      const pd = tf.add(tf.matMul(flat, dense.getWeights()[0]), dense.getWeights()[1]);
      const wantD = Array.from(await pd.data()).map((a) => { const y = hsY(a); return y >= 0 ? (y > 1 ? 2 : 1) : 0; });
      expect(await piecesOf(dense, [flat])).toEqual(wantD);
      expect(new Set(wantD)).toEqual(new Set([0, 1, 2]));
      tf.dispose([x, pre, flat, pd]);
    });

    it('smooth activations have no configuration and say so; linear has one piece', async () => {
      const x = edgeInput();
      for (const name of ['elu', 'selu', 'tanh', 'sigmoid', 'softplus', 'softsign', 'swish', 'mish', 'gelu', 'softmax']) {
        expect(SMOOTH_ACTIVATION_NAMES).toContain(name);
        for (const layer of [tfl.layers.activation({ activation: name as never }), tfl.layers.dense({ units: 3, activation: name as never })]) {
          const info = layerPieceInfo(layer);
          expect(info).toMatchObject({ kind: null, pieces: null, smooth: true });
          if (layer.getClassName() === 'Dense') layer.apply(x);
          const r = layerPieces(layer, [x]);
          expect(r.pieces).toBeNull();
          expect((r as { reason: string }).reason).toBe(`${name} is smooth: it has no linear pieces`);
        }
      }
      for (const layer of [tfl.layers.elu(), tfl.layers.softmax()]) expect(layerPieces(layer, [x])).toMatchObject({ pieces: null, smooth: true });
      expect(layerPieces(tfl.layers.flatten(), [x])).toMatchObject({ pieces: null, smooth: false });
      const lin = layerPieces(tfl.layers.activation({ activation: 'linear' }), [x]) as Pieces;
      expect(lin.count).toBe(1);
      expect(Array.from(await lin.pieces.data()).every((v) => v === 0)).toBe(true);
      tf.dispose([x, lin.pieces]);
    });

    /** Integer data in a small range: many tied windows, some with every cell equal. */
    function tiedImage(shape: [number, number, number, number], seed: number): tf.Tensor4D {
      const rnd = lcg(seed);
      const n = shape.reduce((a, b) => a * b, 1);
      const C = shape[3];
      // Channel 0 is constant (every window tied), the others draw from {−2, …, 2}.
      return tf.tensor4d(Float32Array.from({ length: n }, (_, i) => (i % C === 0 ? 1.5 : Math.floor(rnd() * 5) - 2)), shape);
    }

    /** Output size and leading pad as TensorFlow defines them. */
    function geometry(n: number, k: number, s: number, padding: 'valid' | 'same'): { out: number; pad: number } {
      if (padding === 'valid') return { out: Math.floor((n - k) / s) + 1, pad: 0 };
      const out = Math.ceil(n / s);
      return { out, pad: Math.floor(Math.max((out - 1) * s + k - n, 0) / 2) };
    }

    for (const g of [
      { pool: [3, 3], strides: [2, 2], padding: 'valid' },
      { pool: [3, 2], strides: [1, 2], padding: 'same' },
      { pool: [2, 2], strides: [2, 2], padding: 'same' },
      { pool: [3, 3], strides: [1, 1], padding: 'same' },
    ] as const) {
      it(`MaxPooling2D pool ${g.pool.join('×')} strides ${g.strides.join('×')} ${g.padding}: the first maximum of each window, where the gradient goes`, async () => {
        const [B, H, W, C] = [2, 7, 6, 3];
        const x = tiedImage([B, H, W, C], 7);
        const layer = tfl.layers.maxPooling2d({ poolSize: [...g.pool], strides: [...g.strides], padding: g.padding });
        const info = layerPieceInfo(layer);
        expect(info.pieces).toBe(g.pool[0] * g.pool[1]);
        const got = await piecesOf(layer, [x]);
        const xs = await x.data();
        const gy = geometry(H, g.pool[0], g.strides[0], g.padding);
        const gx = geometry(W, g.pool[1], g.strides[1], g.padding);
        const out = Array.from(await tf.tidy(() => layer.apply(x) as tf.Tensor).data());
        expect(got.length).toBe(B * gy.out * gx.out * C);
        const argmax = maxPoolArgmax(xs as Float32Array, tf.backend_util.computePool2DInfo([B, H, W, C], [...g.pool], [...g.strides], 1, g.padding));
        const routed = new Float64Array(B * H * W * C); // windows whose piece is each cell
        let tiedWindows = 0;
        let o = 0;
        for (let b = 0; b < B; b++) for (let oy = 0; oy < gy.out; oy++) for (let ox = 0; ox < gx.out; ox++) for (let c = 0; c < C; c++, o++) {
          let best = -Infinity;
          let piece = -1;
          let cell = -1;
          const values: number[] = [];
          for (let fy = 0; fy < g.pool[0]; fy++) for (let fx = 0; fx < g.pool[1]; fx++) {
            const yy = oy * g.strides[0] - gy.pad + fy;
            const xx = ox * g.strides[1] - gx.pad + fx;
            if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
            const i = ((b * H + yy) * W + xx) * C + c;
            values.push(xs[i]);
            if (piece < 0 || xs[i] > best) { best = xs[i]; piece = fy * g.pool[1] + fx; cell = i; }
          }
          if (values.filter((v) => v === best).length > 1) tiedWindows++;
          expect(got[o]).toBe(piece);
          expect(out[o]).toBe(best);
          expect(b * H * W * C + argmax[o]).toBe(cell);
          routed[cell]++;
        }
        expect(tiedWindows).toBeGreaterThan(got.length / 3); // the ties are there on purpose
        // The gradient of the layer's own pooling routes one unit per window to its chosen cell.
        expect(Array.from(gradOf(layer, x))).toEqual(Array.from(routed));
        x.dispose();
      });
    }

    it('MaxPooling1D with overlapping windows, and channelsFirst MaxPooling2D', async () => {
      const x = tf.tensor3d(Array.from({ length: 2 * 9 * 2 }, (_, i) => [0, 1, 1, -1, 3, 3, 3, 0, 2][Math.floor(i / 2) % 9] + (i % 2) * ((i * 7) % 3)), [2, 9, 2]);
      for (const padding of ['valid', 'same'] as const) {
        const layer = tfl.layers.maxPooling1d({ poolSize: 3, strides: 2, padding });
        const got = await piecesOf(layer, [x]);
        const xs = await x.data();
        const gl = geometry(9, 3, 2, padding);
        const routed = new Float64Array(2 * 9 * 2);
        let o = 0;
        for (let b = 0; b < 2; b++) for (let ol = 0; ol < gl.out; ol++) for (let c = 0; c < 2; c++, o++) {
          let best = -Infinity;
          let piece = -1;
          let cell = -1;
          for (let f = 0; f < 3; f++) {
            const l = ol * 2 - gl.pad + f;
            if (l < 0 || l >= 9) continue;
            const i = (b * 9 + l) * 2 + c;
            if (piece < 0 || xs[i] > best) { best = xs[i]; piece = f; cell = i; }
          }
          expect(got[o]).toBe(piece);
          routed[cell]++;
        }
        expect(Array.from(gradOf(layer, x))).toEqual(Array.from(routed));
      }
      // channelsFirst: the same choice as channelsLast on the transposed input.
      const img = tiedImage([2, 5, 5, 3], 9);
      const last = await piecesOf(tfl.layers.maxPooling2d({ poolSize: 2, strides: 1, padding: 'valid' }), [img]);
      const firstPieces = layerPieces(tfl.layers.maxPooling2d({ poolSize: 2, strides: 1, padding: 'valid', dataFormat: 'channelsFirst' }), [tf.transpose(img, [0, 3, 1, 2])]) as Pieces;
      expect(Array.from(await tf.transpose(firstPieces.pieces, [0, 2, 3, 1]).data())).toEqual(last);
      tf.dispose([x, img, firstPieces.pieces]);
    });

    it('GlobalMaxPooling1D/2D: the position of the first maximum, one of the positions the gradient goes to', async () => {
      const img = tiedImage([2, 4, 3, 3], 11);
      const l2 = tfl.layers.globalMaxPooling2d({});
      expect(layerPieceInfo((l2.apply(tfl.input({ shape: [4, 3, 3] })), l2)).pieces).toBe(12);
      const got = await piecesOf(l2, [img]);
      const xs = await img.data();
      const g = gradOf(l2, img);
      for (let b = 0; b < 2; b++) for (let c = 0; c < 3; c++) {
        const vals = Array.from({ length: 12 }, (_, p) => xs[(b * 12 + p) * 3 + c]);
        const max = Math.max(...vals);
        const first = vals.indexOf(max);
        expect(got[b * 3 + c]).toBe(first);
        // tfjs's Max gradient goes to every tied position; the piece is the first of them.
        const grads = Array.from({ length: 12 }, (_, p) => g[(b * 12 + p) * 3 + c]);
        expect(grads.map((v, p) => [p, v])).toEqual(vals.map((v, p) => [p, v === max ? 1 : 0]));
      }
      expect(got.some((_, i) => i % 3 === 0)).toBe(true);
      const seq = tf.reshape(img, [2, 12, 3]);
      expect(await piecesOf(tfl.layers.globalMaxPooling1d({}), [seq])).toEqual(got);
      tf.dispose([img, seq]);
    });

    for (const kind of ['maximum', 'minimum'] as const) {
      it(`${kind === 'maximum' ? 'Maximum' : 'Minimum'} of 3 inputs: the winning input, ties to the first, where the gradient goes`, async () => {
        const rnd = lcg(kind === 'maximum' ? 12 : 13);
        const xs = [0, 1, 2].map(() => tf.tensor2d(Array.from({ length: 40 }, () => Math.floor(rnd() * 3)), [8, 5]));
        const layer = kind === 'maximum' ? tfl.layers.maximum() : tfl.layers.minimum();
        layer.apply(xs.map(() => tfl.input({ shape: [5] })));
        expect(layerPieceInfo(layer).pieces).toBe(3);
        const got = await piecesOf(layer, xs);
        const vals = await Promise.all(xs.map((t) => t.data()));
        const grads = tf.tidy(() => tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(layer.apply([a, b, c]) as tf.Tensor))(xs).map((t) => t.dataSync()));
        let ties = 0;
        for (let i = 0; i < 40; i++) {
          const v = vals.map((a) => a[i]);
          const best = kind === 'maximum' ? Math.max(...v) : Math.min(...v);
          if (v.filter((u) => u === best).length > 1) ties++;
          expect(got[i]).toBe(v.indexOf(best));
          expect(grads.map((gr) => gr[i])).toEqual([0, 1, 2].map((j) => (j === got[i] ? 1 : 0)));
        }
        expect(ties).toBeGreaterThan(5);
        tf.dispose(xs);
      });
    }

    it('for some units only: the same pieces as the whole layer\'s at those units', async () => {
      const x = tiedImage([3, 7, 6, 4], 5);
      const units = Int32Array.from([0, 3, 7, 20, 41, 59, 71, 95].filter((u) => u < 3 * 4 * 4 * 2 + 40));
      for (const layer of [
        tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
        tfl.layers.maxPooling2d({ poolSize: [2, 3], strides: 1, padding: 'valid', dataFormat: 'channelsFirst' }),
        tfl.layers.reLU({ maxValue: 1 }),
      ]) {
        const input = layer.getConfig().dataFormat === 'channelsFirst' ? tf.transpose(x, [0, 3, 1, 2]) : x;
        const whole = layerPieces(layer, [input]) as Pieces;
        const perUnit = whole.pieces.shape.slice(1).reduce((p, q) => p * q, 1);
        const some = units.filter((u) => u < perUnit);
        const part = layerPieces(layer, [input], undefined, undefined, some) as Pieces;
        expect(part.pieces.shape).toEqual([3, some.length]);
        const w = await whole.pieces.data();
        expect(Array.from(await part.pieces.data())).toEqual(Array.from({ length: 3 * some.length }, (_, i) => w[Math.floor(i / some.length) * perUnit + some[i % some.length]]));
        tf.dispose([whole.pieces, part.pieces]);
        if (input !== x) input.dispose();
      }
      x.dispose();
    });

    it('leaves no tensors behind', async () => {
      const x = tiedImage([1, 5, 5, 2], 3);
      const before = tf.memory().numTensors;
      const pool = tfl.layers.maxPooling2d({ poolSize: 3, strides: 1, padding: 'same' });
      const r = layerPieces(pool, [x]) as Pieces;
      r.pieces.dispose();
      const conv = tfl.layers.conv2d({ filters: 2, kernelSize: 2, activation: 'relu6' });
      tf.dispose(conv.apply(x) as tf.Tensor);
      const afterBuild = tf.memory().numTensors;
      const rc = layerPieces(conv, [x]) as Pieces;
      rc.pieces.dispose();
      expect(tf.memory().numTensors).toBe(afterBuild);
      expect(afterBuild - before).toBe(2); // conv's kernel and bias
      x.dispose();
    });
  });
}
