import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { decodeNpy, encodeNpy, type NpyInput } from '../src/store/npy.js';

let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorlens-')); });
afterAll(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

const MAGIC_V1 = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00];
/** v1.0 preamble + header text padded by hand to the given total header length (incl. '\n'). */
function v1(header: string, headerLen: number): Buffer {
  expect((10 + headerLen) % 64).toBe(0);
  return Buffer.concat([Buffer.from(MAGIC_V1), Buffer.from([headerLen & 0xff, headerLen >> 8]),
    Buffer.from(header + ' '.repeat(headerLen - header.length - 1) + '\n', 'latin1')]);
}

describe('encodeNpy: byte layout (version 1.0)', () => {
  it('0-d int32 scalar', () => {
    const buf = encodeNpy({ dtype: 'int32', shape: [], data: [7] });
    // 10 + 118 = 128 bytes of header, as numpy itself writes it.
    const expected = Buffer.concat([v1("{'descr': '<i4', 'fortran_order': False, 'shape': (), }", 118), Buffer.from([7, 0, 0, 0])]);
    expect(buf.equals(expected)).toBe(true);
    expect(buf.length).toBe(132);
  });

  it('1-d float32 shape (5,)', () => {
    const buf = encodeNpy({ dtype: 'float32', shape: [5], data: Float32Array.from([0, 1, -2, 0.5, 3]) });
    const payload = Buffer.from([0, 0, 0, 0, 0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 0, 0, 0, 0x3f, 0, 0, 0x40, 0x40]);
    const expected = Buffer.concat([v1("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", 118), payload]);
    expect(buf.equals(expected)).toBe(true);
  });

  it('2-d float32 (3, 4) header, uint8 and bool descr', () => {
    const buf = encodeNpy({ dtype: 'float32', shape: [3, 4], data: new Float32Array(12) });
    expect(buf.subarray(10, 128).toString('latin1')).toBe("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }" + ' '.repeat(58) + '\n');
    expect(buf.length).toBe(128 + 48);
    const u8 = encodeNpy({ dtype: 'uint8', shape: [2], data: [1, 255] });
    expect(u8.subarray(10, 128).toString('latin1')).toContain("'descr': '|u1'");
    expect(Array.from(u8.subarray(128))).toEqual([1, 255]);
    const b = encodeNpy({ dtype: 'bool', shape: [3], data: [true, false, true] });
    expect(b.subarray(10, 128).toString('latin1')).toContain("'descr': '|b1'");
    expect(Array.from(b.subarray(128))).toEqual([1, 0, 1]);
  });

  it('pads long headers to the next multiple of 64', () => {
    const shape = [0, 123456789, 123456789, 123456789, 123456789, 123456789, 123456789];
    const buf = encodeNpy({ dtype: 'float64', shape, data: [] });
    const headerLen = buf.readUInt16LE(8);
    expect(headerLen).toBeGreaterThan(118);
    expect((10 + headerLen) % 64).toBe(0);
    expect(buf.length).toBe(10 + headerLen);
    expect(buf[10 + headerLen - 1]).toBe(0x0a);
    expect(decodeNpy(buf).shape).toEqual(shape);
  });

  it('rejects a data length that does not match the shape', () => {
    expect(() => encodeNpy({ dtype: 'float32', shape: [2, 2], data: [1, 2, 3] })).toThrow(/needs 4 values but data has 3/);
  });
});

describe('decodeNpy', () => {
  const cases: NpyInput[] = [
    { dtype: 'int32', shape: [], data: [-7] },
    { dtype: 'float32', shape: [5], data: [0, 1, -2, 0.5, 3] },
    { dtype: 'float32', shape: [3, 4], data: Array.from({ length: 12 }, (_, i) => i / 4 - 1) },
    { dtype: 'float64', shape: [2, 1, 2], data: [Math.PI, -1e-300, 1e300, 0] },
    { dtype: 'uint8', shape: [4], data: [0, 1, 128, 255] },
    { dtype: 'bool', shape: [2, 2], data: [true, false, false, true] },
    { dtype: 'int32', shape: [0, 3], data: [] },
  ];

  it('round-trips every dtype and shape', () => {
    for (const c of cases) {
      const back = decodeNpy(encodeNpy(c));
      expect(back.dtype).toBe(c.dtype);
      expect(back.shape).toEqual(c.shape);
      expect(Array.from(back.data)).toEqual(Array.from(c.data as ArrayLike<number>, Number));
    }
  });

  it('reads hand-written version 2.0 and big-endian data', () => {
    const header = "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }";
    const total = 128; // 12-byte v2 preamble + header + padding + newline
    const text = header + ' '.repeat(total - 12 - header.length - 1) + '\n';
    const buf = Buffer.concat([
      Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x02, 0x00]),
      Buffer.from([text.length, 0, 0, 0]),
      Buffer.from(text, 'latin1'),
      Buffer.from([0x3f, 0xc0, 0, 0, 0xc0, 0x20, 0, 0]), // 1.5, -2.5 big-endian
    ]);
    const arr = decodeNpy(buf);
    expect(arr).toMatchObject({ dtype: 'float32', shape: [2] });
    expect(Array.from(arr.data)).toEqual([1.5, -2.5]);
  });

  it('names the problem: bad magic, truncated data, fortran order, unsupported dtype', () => {
    expect(() => decodeNpy(Buffer.from('PK\x03\x04 not npy at all'), '/x/a.npy')).toThrow(/^\/x\/a\.npy: not a \.npy file/);
    const good = encodeNpy({ dtype: 'float32', shape: [4], data: [1, 2, 3, 4] });
    expect(() => decodeNpy(good.subarray(0, good.length - 2), 'f')).toThrow(/truncated: shape \(4\) of <f4 needs 144 bytes, file has 142/);
    const fortran = Buffer.from(good.toString('latin1').replace("'fortran_order': False", "'fortran_order': True "), 'latin1');
    expect(() => decodeNpy(fortran, 'f')).toThrow(/fortran_order True is not supported/);
    const c16 = Buffer.from(good.toString('latin1').replace("'<f4'", "'<c8'"), 'latin1');
    expect(() => decodeNpy(c16, 'f')).toThrow(/unsupported dtype '<c8'/);
  });

  const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

  it(`numpy loads what we write (${hasNumpy ? 'checked with numpy' : 'numpy missing: checked with the pure-JS parser'})`, () => {
    const files = cases.map((c, i) => {
      const f = path.join(tmp, `case${i}.npy`);
      fs.writeFileSync(f, encodeNpy(c));
      return f;
    });
    const expected = cases.map((c) => ({ shape: c.shape, dtype: c.dtype, values: Array.from(c.data as ArrayLike<number>, Number) }));
    if (!hasNumpy) {
      const got = files.map((f) => {
        const a = decodeNpy(fs.readFileSync(f), f);
        return { shape: a.shape, dtype: a.dtype, values: Array.from(a.data) };
      });
      expect(got).toEqual(expected);
      return;
    }
    const script = [
      'import json, sys, numpy as np',
      'out = []',
      'for f in sys.argv[1:]:',
      '    a = np.load(f)',
      '    out.append({"shape": list(a.shape), "dtype": str(a.dtype), "values": [float(v) for v in a.ravel()]})',
      'print(json.dumps(out))',
    ].join('\n');
    const got = JSON.parse(execFileSync('python3', ['-c', script, ...files], { encoding: 'utf8' }));
    expect(got).toEqual(expected);
  });

  it.skipIf(!hasNumpy)('reads what numpy writes (v1.0, v2.0, big-endian)', () => {
    const f1 = path.join(tmp, 'np1.npy'), f2 = path.join(tmp, 'np2.npy'), f3 = path.join(tmp, 'np3.npy');
    execFileSync('python3', ['-c', [
      'import sys, numpy as np',
      'np.save(sys.argv[1], np.arange(6, dtype=np.float32).reshape(2, 3) / 4)',
      'with open(sys.argv[2], "wb") as fh: np.lib.format.write_array(fh, np.array([1, -2, 3], dtype=np.int32), version=(2, 0))',
      'np.save(sys.argv[3], np.array([0.5, -8.25], dtype=">f8"))',
    ].join('\n'), f1, f2, f3]);
    const a = decodeNpy(fs.readFileSync(f1), f1);
    expect(a).toMatchObject({ dtype: 'float32', shape: [2, 3] });
    expect(Array.from(a.data)).toEqual([0, 0.25, 0.5, 0.75, 1, 1.25]);
    const b = decodeNpy(fs.readFileSync(f2), f2);
    expect(fs.readFileSync(f2)[6]).toBe(2);
    expect(b).toMatchObject({ dtype: 'int32', shape: [3] });
    expect(Array.from(b.data)).toEqual([1, -2, 3]);
    const c = decodeNpy(fs.readFileSync(f3), f3);
    expect(Array.from(c.data)).toEqual([0.5, -8.25]);
  });
});
