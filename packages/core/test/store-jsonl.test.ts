import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JsonlWriter, readJsonl } from '../src/store/jsonl.js';

let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorlens-')); });
afterAll(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

const file = (name: string) => path.join(tmp, name);

describe('JsonlWriter', () => {
  it('buffers rows until flushSync, then they are on disk, one per line', () => {
    const f = file('sub/dir/m.jsonl');
    const w = new JsonlWriter(f);
    w.append({ step: 1, loss: 0.5 });
    w.append({ step: 2, loss: NaN, note: 'a\nb' });
    expect(fs.readFileSync(f, 'utf8')).toBe(''); // still buffered
    w.flushSync();
    expect(fs.readFileSync(f, 'utf8')).toBe('{"step":1,"loss":0.5}\n{"step":2,"loss":null,"note":"a\\nb"}\n');
    w.close();
    w.close(); // idempotent
    expect(w.closed).toBe(true);
    expect(() => w.append({ step: 3 })).toThrow(new RegExp(`^${f}: append after close`));
  });

  it('writes to the OS once the buffer passes highWaterMark; async flush and close work', async () => {
    const f = file('hw.jsonl');
    const w = new JsonlWriter(f, { highWaterMark: 100 });
    for (let i = 0; i < 10; i++) w.append({ i, pad: 'xxxxxxxxxx' });
    const onDisk = fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).length;
    expect(onDisk).toBeGreaterThan(0);
    expect(onDisk).toBeLessThan(10);
    w.append({ i: 10 });
    await w.flush();
    expect(readJsonl(f).rows).toHaveLength(11);
    w.close();
    await w.flush(); // no-op after close
  });

  it('appends to an existing file and cuts a torn last line left by a crash', () => {
    const f = file('torn.jsonl');
    fs.writeFileSync(f, '{"step":1}\n{"step":2}\n{"step":3,"lo');
    const w = new JsonlWriter(f);
    expect(w.repairedBytes).toBe('{"step":3,"lo'.length);
    w.append({ step: 3 });
    w.close();
    expect(readJsonl(f)).toEqual({ rows: [{ step: 1 }, { step: 2 }, { step: 3 }], dropped: 0 });
  });

  it('keeps a complete last row that only lacks its newline', () => {
    const f = file('nonl.jsonl');
    fs.writeFileSync(f, '{"step":1}');
    const w = new JsonlWriter(f);
    expect(w.repairedBytes).toBe(0);
    w.append({ step: 2 });
    w.close();
    expect(fs.readFileSync(f, 'utf8')).toBe('{"step":1}\n{"step":2}\n');
  });
});

describe('readJsonl', () => {
  it('drops and counts a torn last line', () => {
    const f = file('r1.jsonl');
    fs.writeFileSync(f, '{"a":1}\n{"a":2}\n{"a":');
    expect(readJsonl(f)).toEqual({ rows: [{ a: 1 }, { a: 2 }], dropped: 1 });
    fs.writeFileSync(f, '{"a":1}\n\0\0\0\0\n'); // zero-filled tail after a power cut
    expect(readJsonl(f)).toEqual({ rows: [{ a: 1 }], dropped: 1 });
    fs.writeFileSync(f, '');
    expect(readJsonl(f)).toEqual({ rows: [], dropped: 0 });
  });

  it('throws on a corrupt line in the middle, naming file and line', () => {
    const f = file('r2.jsonl');
    fs.writeFileSync(f, '{"a":1}\n{oops}\n{"a":3}\n');
    expect(() => readJsonl(f)).toThrow(new RegExp(`^${f}: corrupt line 2`));
  });

  it('names a missing file', () => {
    const f = file('absent.jsonl');
    expect(() => readJsonl(f)).toThrow(`${f}: missing file`);
  });
});
