/**
 * Stored rounds of one scope, in chunks: held in memory up to a shared budget, then spilled to
 * `.npy` files (one per array per chunk, sample axis first) and read back chunk by chunk when a
 * checkpoint solves. Arrays are float32 or uint8 (packed bits).
 */
import fs from 'node:fs';
import path from 'node:path';
import { decodeNpy, writeJsonAtomic, writeNpyAtomic } from '@taylorlens/core';
import { linkOrCopy, readNpyFile, syncDir, writeNpyFile } from '../state-files.js';

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
    if (old.files) {
      for (const f of Object.values(old.files)) fs.rmSync(f.file, { force: true });
      fs.rmSync(path.join(this.dir, `${chunkStem(old.id)}.json`), { force: true });
    }
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
    const stem = chunkStem(c.id);
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

  /**
   * Checkpoint into `dir`: rounds held in memory are written there (`memory-<chunk>.<array>.npy`,
   * `open-<i>.<array>.npy`); spilled chunks, immutable once written, are hard-linked (copied where
   * links are not supported) under their own names, so they survive a reservoir replacing them later.
   */
  saveState(dir: string): RoundStoreState {
    fs.mkdirSync(dir, { recursive: true });
    const layout = (a: RoundArrays) => Object.fromEntries(Object.entries(a).map(([n, x]) => [n, { dtype: x.dtype, shape: x.shape }]));
    const chunks = this.chunks.map((c): RoundStoreState['chunks'][number] => {
      const stem = chunkStem(c.id);
      if (c.arrays) {
        for (const [name, a] of Object.entries(c.arrays)) writeNpyFile(path.join(dir, `memory-${stem}.${name}.npy`), a);
        return { id: c.id, metas: c.metas, bytes: c.bytes, memory: layout(c.arrays), spilled: null };
      }
      const spilled: Record<string, { file: string; dtype: StoredArray['dtype']; shape: number[] }> = {};
      for (const [name, f] of Object.entries(c.files!)) {
        const base = path.basename(f.file);
        linkOrCopy(f.file, path.join(dir, base));
        spilled[name] = { file: base, dtype: f.dtype, shape: f.shape };
      }
      const index = path.join(this.dir, `${stem}.json`);
      if (fs.existsSync(index)) linkOrCopy(index, path.join(dir, `${stem}.json`));
      return { id: c.id, metas: c.metas, bytes: c.bytes, memory: null, spilled };
    });
    for (const [i, a] of this.open.arrays.entries()) {
      for (const [name, x] of Object.entries(a)) writeNpyFile(path.join(dir, `open-${i}.${name}.npy`), x);
    }
    syncDir(dir);
    return { nextId: this.nextId, chunks, open: { metas: this.open.metas, arrays: this.open.arrays.map(layout) } };
  }

  /**
   * Restore a checkpoint written by `saveState` from `dir` into this (new, empty) store: memory
   * chunks read back, spilled chunks linked back into the spill folder, and every other chunk file
   * there — spilled after the checkpoint, by rounds a resumed run redoes — removed.
   */
  loadState(dir: string, s: RoundStoreState): void {
    const read = (file: string, dtype: StoredArray['dtype']): StoredArray => {
      const a = readNpyFile(path.join(dir, file));
      if (a.dtype !== dtype) throw new Error(`${path.join(dir, file)}: expected ${dtype}, got ${a.dtype}`);
      return { dtype, shape: a.shape, data: a.data as Float32Array | Uint8Array };
    };
    const kept = new Set<string>();
    this.chunks.length = 0;
    for (const c of s.chunks) {
      const stem = chunkStem(c.id);
      if (c.memory) {
        const arrays: RoundArrays = {};
        for (const [name, l] of Object.entries(c.memory)) arrays[name] = read(`memory-${stem}.${name}.npy`, l.dtype);
        this.chunks.push({ id: c.id, metas: c.metas, arrays, files: null, bytes: c.bytes });
        continue;
      }
      fs.mkdirSync(this.dir, { recursive: true });
      const files: NonNullable<Chunk['files']> = {};
      for (const [name, f] of Object.entries(c.spilled!)) {
        const target = path.join(this.dir, f.file);
        linkOrCopy(path.join(dir, f.file), target);
        files[name] = { file: target, shape: f.shape, dtype: f.dtype };
        kept.add(f.file);
      }
      if (fs.existsSync(path.join(dir, `${stem}.json`))) {
        linkOrCopy(path.join(dir, `${stem}.json`), path.join(this.dir, `${stem}.json`));
        kept.add(`${stem}.json`);
      }
      this.chunks.push({ id: c.id, metas: c.metas, arrays: null, files, bytes: c.bytes });
    }
    const open: RoundArrays[] = s.open.arrays.map((l, i) => Object.fromEntries(Object.entries(l).map(([name, x]) => [name, read(`open-${i}.${name}.npy`, x.dtype)])));
    this.open = { arrays: open, metas: s.open.metas, bytes: open.reduce((t, a) => t + bytesOf(a), 0) };
    this.nextId = s.nextId;
    this.dirMade = fs.existsSync(this.dir);
    if (this.dirMade) {
      for (const e of fs.readdirSync(this.dir)) {
        if ((e.startsWith('chunk-') && !kept.has(e)) || (e.startsWith('.chunk-') && e.endsWith('.tmp'))) fs.rmSync(path.join(this.dir, e), { force: true });
      }
      syncDir(this.dir);
    }
  }
}

function chunkStem(id: number): string {
  return `chunk-${String(id).padStart(6, '0')}`;
}

/** The JSON part of a RoundStore checkpoint (see `RoundStore.saveState`). */
export interface RoundStoreState {
  /** Id the next sealed chunk gets (ids only grow, so a checkpoint's spilled names are never reused). */
  nextId: number;
  chunks: {
    id: number;
    metas: RoundMeta[];
    bytes: number;
    /** Held in memory at the checkpoint: arrays in `memory-<stem>.<array>.npy`. */
    memory: Record<string, { dtype: StoredArray['dtype']; shape: number[] }> | null;
    /** Spilled: file names (in the spill folder and, linked, in the checkpoint). */
    spilled: Record<string, { file: string; dtype: StoredArray['dtype']; shape: number[] }> | null;
  }[];
  /** Rounds of the chunk not sealed yet, one `open-<i>.<array>.npy` set each. */
  open: { metas: RoundMeta[]; arrays: Record<string, { dtype: StoredArray['dtype']; shape: number[] }>[] };
}
