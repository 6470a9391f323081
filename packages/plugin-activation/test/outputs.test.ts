// Files in the run folder: the .npy layout (read back here and by numpy), activation.json, report sections.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Trainer, decodeNpy, renderSvg, selectBackend } from '@taylorlens/core';
import {
  ACTIVATION_JSON, CONFIGURATIONS_NPY, ActivationPlugin, ConfigurationTensor, compareSections, readActivationJson,
  readConfigurations, reportSections, singularValueLogProducts, switches, taylorlensPlugin, type ActivationFile,
} from '../src/index.js';
import { randomData, tinyDense } from '../../core/test/helpers/models.js';
import { tempStore } from './helpers/store.js';

const stores: ReturnType<typeof tempStore>[] = [];
beforeAll(async () => { await selectBackend('wasm'); });
afterAll(() => { for (const s of stores) s.remove(); });

/** A 3-epoch run into a temporary run folder; M = 9 + 4 = 13 units (2 bytes a row, 3 padding bits). */
async function run(opts: object = {}, seed = 3) {
  const store = tempStore();
  stores.push(store);
  const { x, y } = randomData(48, [5], 6, seed);
  const model = tinyDense([5, 9, 4, 6], seed);
  model.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.3) });
  const plugin = new ActivationPlugin({ probeSize: 30, ...opts }).setTrainingData(x);
  const trainer = new Trainer(model, { plugins: [plugin], store });
  await trainer.fit(x, y, { epochs: 3, batchSize: 8, seed: 1 });
  tf.dispose([x, y]);
  return { store, plugin, dir: path.join(store.dir, 'activation') };
}

function python(code: string, ...args: string[]): string | null {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
  } catch {
    return null;
  }
  return execFileSync('python3', ['-c', code, ...args], { encoding: 'utf8' });
}

describe('run folder outputs', () => {
  it('configurations.npy is uint8 (N, D, ceil(M/8)) with bit m at bit m%8 of byte m>>3', async () => {
    const { plugin, dir } = await run();
    const t = plugin.tensor!;
    const npy = decodeNpy(fs.readFileSync(path.join(dir, CONFIGURATIONS_NPY)));
    expect(npy.dtype).toBe('uint8');
    expect(npy.shape).toEqual([4, 30, 2]);
    const [N, D, B] = npy.shape;
    for (let n = 0; n < N; n++) {
      for (let d = 0; d < D; d++) {
        for (let m = 0; m < 13; m++) expect((npy.data[(n * D + d) * B + (m >> 3)] >> (m & 7)) & 1).toBe(t.get(n, d, m));
        expect(npy.data[(n * D + d) * B + 1] >> 5).toBe(0); // padding bits
      }
    }
    // Round trip through the file reader.
    const back = readConfigurations(path.join(dir, CONFIGURATIONS_NPY), 13);
    expect(Buffer.from(back.unpack()).equals(Buffer.from(t.unpack()))).toBe(true);
  });

  it('opens in numpy with unpackbits(bitorder="little") as documented', async () => {
    const { plugin, dir } = await run({}, 5);
    const json = readActivationJson(path.dirname(dir))!;
    const out = python(
      'import json, sys, numpy\n'
      + 'a = numpy.load(sys.argv[1]); m = int(sys.argv[2])\n'
      + 'bits = numpy.unpackbits(a, axis=2, bitorder="little")[:, :, :m]\n'
      + 'print(json.dumps({"dtype": str(a.dtype), "shape": list(a.shape), "bits": bits.flatten().tolist()}))',
      path.join(dir, CONFIGURATIONS_NPY), String(json.units),
    );
    if (out === null) throw new Error('python3 with numpy is expected on this machine');
    const r = JSON.parse(out) as { dtype: string; shape: number[]; bits: number[] };
    expect(r.dtype).toBe('uint8');
    expect(r.shape).toEqual(json.bits.shape);
    expect(r.bits).toEqual(Array.from(plugin.tensor!.unpack()));
    expect(json.bits.numpy).toContain('bitorder="little"');
  });

  it('activation.json holds D, M, N, the units sampled, the bit order, the floor and the three measures', async () => {
    const { plugin, dir } = await run({ floor: 1e-5, singularValues: 3 });
    const j = JSON.parse(fs.readFileSync(path.join(dir, ACTIVATION_JSON), 'utf8')) as ActivationFile;
    expect(j).toMatchObject({ status: 'completed', probes: 30, units: 13, snapshots: 4, schedule: { every: { epochs: 1 }, atStart: true } });
    expect(j).toMatchObject({ format: 'taylorlens-activation/2', none: null, pieces: null, skipped: [] });
    expect(j.bits).toMatchObject({ file: 'configurations.npy', dtype: 'uint8', shape: [4, 30, 2], bitOrder: 'little', units: 13 });
    expect(j.bits!.active).toContain('pre-activation > 0');
    expect(j.layers.map((l) => [l.activation, l.pieces, l.file, l.fieldBits, l.rule])).toEqual([['relu', 2, 'bits', 1, '0: a ≤ 0, 1: a > 0'], ['relu', 2, 'bits', 1, '0: a ≤ 0, 1: a > 0']]);
    expect(j.layers.map((l) => [l.name, l.offset, l.count, l.total])).toEqual([
      [plugin.recorder.selection!.layers[0].name, 0, 9, 9], [plugin.recorder.selection!.layers[1].name, 9, 4, 4],
    ]);
    expect(j.layers[0].indices).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(j.probe.source).toBe('drawn');
    expect(j.probe.indices).toHaveLength(30);
    expect(j.positions).toEqual([{ epoch: 0, round: 0 }, { epoch: 1, round: 6 }, { epoch: 2, round: 12 }, { epoch: 3, round: 18 }]);
    expect(j.novelty.raw[0]).toBeNull();
    expect(j.novelty.raw).toHaveLength(4);
    // The measures in the file are those of the bits in the file.
    const t: ConfigurationTensor = readConfigurations(path.join(dir, CONFIGURATIONS_NPY), j.units);
    const sw = switches(t);
    expect(j.switches!.perPoint).toEqual(Array.from(sw.perPoint));
    expect(j.switches!.sorted).toEqual(Array.from(sw.sorted));
    const sv = singularValueLogProducts(t, { floor: 1e-5, count: 3 });
    expect(j.singularValues).toMatchObject({ floor: 1e-5, count: 3, k: 3 });
    expect(j.singularValues!.perUnit).toEqual(Array.from(sv.perUnit));
    expect(j.novelty.normalized.slice(1)).toEqual(plugin.novelty.slice(1).map((p) => p.normalized));
  });

  it('report sections come from the files alone, with the floor in the caption, and render', async () => {
    const { store } = await run();
    const [section] = await reportSections(store.dir);
    expect(section.figures).toHaveLength(3);
    expect(section.figures[2].caption).toContain('1.0e-6');
    expect(section.intro).toContain('D = 30');
    for (const f of section.figures) expect(await renderSvg(f.spec as never)).toContain('<svg');
    expect(await reportSections(path.join(store.dir, 'nowhere'))).toEqual([]);
    expect(taylorlensPlugin.reportSections).toBe(reportSections);
  });

  it('compare sections draw one line per run', async () => {
    const a = await run({}, 3);
    const b = await run({ floor: 1e-4 }, 4);
    const [section] = await compareSections([{ label: 'sgd', dir: a.store.dir }, { label: 'other', dir: b.store.dir }, { label: 'empty', dir: '/nonexistent' }]);
    expect(section.figures).toHaveLength(3);
    for (const f of section.figures) {
      const rows = (f.spec as { data: { values: Record<string, unknown>[] } }).data.values;
      const names = new Set(rows.map((r) => r.run ?? r.series));
      expect(names).toEqual(new Set(['sgd', 'other']));
    }
    expect(section.figures[2].caption).toContain('sgd: 1.0e-6');
    expect(section.notes!.join(' ')).toContain('empty');
  });
});
