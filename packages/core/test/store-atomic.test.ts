import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic, writeJsonAtomic, writeNpyAtomic } from '../src/store/atomic.js';
import { decodeNpy } from '../src/store/npy.js';

let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorlens-')); });
afterAll(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

describe('atomic writes', () => {
  it('creates parent folders, replaces the old content, leaves no temp files', () => {
    const f = path.join(tmp, 'a', 'b', 'c.txt');
    writeFileAtomic(f, 'first');
    writeFileAtomic(f, Buffer.from('second'));
    expect(fs.readFileSync(f, 'utf8')).toBe('second');
    expect(fs.readdirSync(path.dirname(f))).toEqual(['c.txt']);
  });

  it('writeJsonAtomic writes pretty JSON with a trailing newline', () => {
    const f = path.join(tmp, 'run.json');
    writeJsonAtomic(f, { a: 1, b: [true, null] });
    expect(fs.readFileSync(f, 'utf8')).toBe('{\n  "a": 1,\n  "b": [\n    true,\n    null\n  ]\n}\n');
    expect(() => writeJsonAtomic(f, undefined)).toThrow(/cannot write undefined as JSON/);
    expect(JSON.parse(fs.readFileSync(f, 'utf8'))).toEqual({ a: 1, b: [true, null] });
  });

  it('writeNpyAtomic writes a decodable .npy', () => {
    const f = path.join(tmp, 'w.npy');
    writeNpyAtomic(f, { dtype: 'float32', shape: [2], data: [1, 2] });
    const arr = decodeNpy(fs.readFileSync(f));
    expect(arr.shape).toEqual([2]);
    expect(Array.from(arr.data)).toEqual([1, 2]);
  });

  it('a failed write names the target, keeps the old file untouched and cleans up', () => {
    const dir = path.join(tmp, 'blocked');
    fs.mkdirSync(path.join(dir, 'target'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'target', 'keep'), 'x');
    // Renaming a file over a non-empty folder fails.
    expect(() => writeFileAtomic(path.join(dir, 'target'), 'data')).toThrow(new RegExp(`^${path.join(dir, 'target')}: atomic write failed`));
    expect(fs.readdirSync(dir)).toEqual(['target']);
    expect(fs.readFileSync(path.join(dir, 'target', 'keep'), 'utf8')).toBe('x');
  });
});
