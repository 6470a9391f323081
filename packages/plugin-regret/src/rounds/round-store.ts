/**
 * Stored rounds of one scope, in chunks: held in memory up to a shared budget, then spilled to
 * `.npy` files (one per array per chunk, sample axis first) and read back chunk by chunk when a
 * checkpoint solves. Arrays are float32 or uint8 (packed bits).
 */
import fs from 'node:fs';
import path from 'node:path';
import { decodeNpy, writeJsonAtomic, writeNpyAtomic } from '@taylorlens/core';

export interface StoredArray {
  dtype: 'float32' | 'uint8';
  shape: number[];
  data: Float32Array | Uint8Array;
}

export type RoundArrays = Record<string, StoredArray>;

export interface RoundMeta {
  round: number;
  samples: number;
  /** Incurred loss on the stored samples (their mean). */
  loss: number;
}

interface Chunk {
  id: number;
  metas: RoundMeta[];
  arrays: RoundArrays | null;
  /** Per array: file path and shape, once spilled. */
  files: Record<string, { file: string; shape: number[]; dtype: StoredArray['dtype'] }> | null;
  bytes: number;
}

function bytesOf(a: RoundArrays): number {
  return Object.values(a).reduce((s, x) => s + x.data.byteLength, 0);
}

/** Concatenate along the first (sample) axis. */
function concatRounds(parts: RoundArrays[]): RoundArrays {
  const out: RoundArrays = {};
  for (const name of Object.keys(parts[0])) {
    const pieces = parts.map((p) => p[name]);
    const total = pieces.reduce((s, p) => s + p.data.length, 0);
    const data = pieces[0].dtype === 'uint8' ? new Uint8Array(total) : new Float32Array(total);
    let off = 0;
    for (const p of pieces) { data.set(p.data as never, off); off += p.data.length; }
    const rows = pieces.reduce((s, p) => s + p.shape[0], 0);
    out[name] = { dtype: pieces[0].dtype, shape: [rows, ...pieces[0].shape.slice(1)], data };
  }
  return out;
}

/** Memory shared by every store; over it, the oldest in-memory chunks go to disk. */
export class MemoryBudget {
  private readonly stores: RoundStore[] = [];

  constructor(readonly limitBytes: number) {}

  register(s: RoundStore): void {
    this.stores.push(s);
  }

  get usedBytes(): number {
    return this.stores.reduce((t, s) => t + s.memoryBytes, 0);
  }

  /** Spill until within the limit (largest holders first). */
  enforce(): void {
    while (this.usedBytes > this.limitBytes) {
      const s = [...this.stores].sort((a, b) => b.memoryBytes - a.memoryBytes)[0];
      if (!s || !s.spillOldest()) break;
    }
  }
}

export class RoundStore {
  private readonly chunks: Chunk[] = [];
  private open: { arrays: RoundArrays[]; metas: RoundMeta[]; bytes: number } = { arrays: [], metas: [], bytes: 0 };
  private nextId = 0;
  private dirMade = false;

  /**
   * @param dir folder for spilled chunks (created on first spill)
   * @param chunkBytes seal a chunk once it holds this many bytes
   * @param perRound one round per chunk (reservoirs replace single rounds)
   */
  constructor(readonly dir: string, private readonly budget: MemoryBudget, private readonly chunkBytes = 8 << 20,
    private readonly perRound = false) {
    budget.register(this);
  }

  get memoryBytes(): number {
    return this.open.bytes + this.chunks.reduce((s, c) => s + (c.arrays ? c.bytes : 0), 0);
  }

  get diskBytes(): number {
    return this.chunks.reduce((s, c) => s + (c.files ? c.bytes : 0), 0);
  }

  get rounds(): RoundMeta[] {
    return [...this.chunks.flatMap((c) => c.metas), ...this.open.metas];
  }

  add(arrays: RoundArrays, meta: RoundMeta): void {
    this.open.arrays.push(arrays);
    this.open.metas.push(meta);
    this.open.bytes += bytesOf(arrays);
    if (this.perRound || this.open.bytes >= this.chunkBytes) this.seal();
    this.budget.enforce();
  }

  /** Replace the round in slot `i` (per-round stores only: reservoirs). */
  replace(i: number, arrays: RoundArrays, meta: RoundMeta): void {
    if (!this.perRound) throw new Error('RoundStore.replace needs one round per chunk');
    const old = this.chunks[i];
    if (old.files) for (const f of Object.values(old.files)) fs.rmSync(f.file, { force: true });
    this.chunks[i] = { id: this.nextId++, metas: [meta], arrays, files: null, bytes: bytesOf(arrays) };
    this.budget.enforce();
  }

  seal(): void {
    if (this.open.arrays.length === 0) return;
    const arrays = this.open.arrays.length === 1 ? this.open.arrays[0] : concatRounds(this.open.arrays);
    this.chunks.push({ id: this.nextId++, metas: this.open.metas, arrays, files: null, bytes: bytesOf(arrays) });
    this.open = { arrays: [], metas: [], bytes: 0 };
  }

  /** Write the oldest in-memory chunk to disk; false when nothing is left to spill. */
  spillOldest(): boolean {
    if (this.open.arrays.length > 0 && !this.chunks.some((c) => c.arrays)) this.seal();
    const c = this.chunks.find((x) => x.arrays);
    if (!c) return false;
    if (!this.dirMade) { fs.mkdirSync(this.dir, { recursive: true }); this.dirMade = true; }
    const files: NonNullable<Chunk['files']> = {};
    const stem = `chunk-${String(c.id).padStart(6, '0')}`;
    for (const [name, a] of Object.entries(c.arrays!)) {
      const file = path.join(this.dir, `${stem}.${name}.npy`);
      writeNpyAtomic(file, { dtype: a.dtype, shape: a.shape, data: a.data });
      files[name] = { file, shape: a.shape, dtype: a.dtype };
    }
    writeJsonAtomic(path.join(this.dir, `${stem}.json`), { rounds: c.metas, arrays: Object.keys(files) });
    c.files = files;
    c.arrays = null;
    return true;
  }

  /** Every stored chunk, in order (the open one sealed first), loading spilled ones from disk. */
  *read(): Generator<{ arrays: RoundArrays; metas: RoundMeta[] }> {
    this.seal();
    for (const c of this.chunks) {
      if (c.arrays) { yield { arrays: c.arrays, metas: c.metas }; continue; }
      const arrays: RoundArrays = {};
      for (const [name, f] of Object.entries(c.files!)) {
        const npy = decodeNpy(fs.readFileSync(f.file), f.file);
        arrays[name] = { dtype: f.dtype, shape: npy.shape, data: npy.data as Float32Array | Uint8Array };
      }
      yield { arrays, metas: c.metas };
    }
  }

  /** Drop what is held in memory; spilled files stay (they are part of the run folder). */
  release(): void {
    this.chunks.length = 0;
    this.open = { arrays: [], metas: [], bytes: 0 };
  }
}
