/**
 * The plugin's files in `<runDir>/activation/`: `configurations.npy` (the 2-piece units, one bit
 * each), `pieces.npy` (the units with more pieces, in bit fields) and `activation.json` (what the
 * bits mean, the schedule, and the three measures). A file whose part has no unit is not written.
 */
import fs from 'node:fs';
import path from 'node:path';
import { decodeNpy, writeJsonAtomic, writeNpyAtomic } from '@taylorlens/core';
import { ConfigurationTensor } from './bits.js';
import { Configurations } from './configurations.js';
import { FieldLayout } from './fields.js';
import { PLUGIN_NAME, type Every } from './options.js';
import type { ProbeSource } from './probe.js';
import type { LayerUnitsJson, SkippedLayer } from './units.js';

export const ACTIVATION_JSON = 'activation.json';
export const CONFIGURATIONS_NPY = 'configurations.npy';
export const PIECES_NPY = 'pieces.npy';
export const ACTIVATION_FORMAT = 'taylorlens-activation/2';
/** The format before multi-piece units (ReLU bits only); still read. */
export const ACTIVATION_FORMAT_1 = 'taylorlens-activation/1';

/** Where a snapshot was taken: epochs and rounds completed before it (0 and 0 at the start). */
export interface SnapshotPosition {
  /** Epochs completed, fractional for round-scheduled snapshots; null when the epoch length is unknown. */
  epoch: number | null;
  /** Rounds (optimizer steps) completed. */
  round: number;
}

export interface ActivationFile {
  format: typeof ACTIVATION_FORMAT | typeof ACTIVATION_FORMAT_1;
  /** 'running' while training; the run's final status afterwards (completed, stopped, failed…). */
  status: string;
  /** `D`, probe inputs. */
  probes: number;
  /** `M`, observed units (both files). */
  units: number;
  /** `N`, snapshots in the `.npy` files. */
  snapshots: number;
  /** Why nothing is recorded ("no piecewise-linear unit: …"); null when units are recorded. Absent in format 1. */
  none?: string | null;
  /** The 2-piece units (one bit each), or null when there are none. */
  bits: {
    file: typeof CONFIGURATIONS_NPY;
    dtype: 'uint8';
    /** `[N, D, ceil(units/8)]`, C order. */
    shape: [number, number, number];
    /** Bit `m` of a row is bit `m % 8` (least significant first) of byte `m >> 3`. */
    bitOrder: 'little';
    numpy: string;
    /** What a 1 bit means. */
    active: string;
    /** Units in this file (absent in format 1, where it is `units`). */
    units?: number;
  } | null;
  /** The units with 3 or more pieces, in bit fields (see fields.ts), or null when there are none. Absent in format 1. */
  pieces?: {
    file: typeof PIECES_NPY;
    dtype: 'uint8';
    /** `[N, D, rowBits/8]`, C order. */
    shape: [number, number, number];
    bitOrder: 'little';
    /** Bits per row, a multiple of 32. */
    rowBits: number;
    units: number;
    numpy: string;
  } | null;
  probe: { source: ProbeSource; seed: number; indices: number[] | null };
  /** Observed units per layer: `file`, `offset` (and `bitOffset`, `fieldBits` for pieces) say where. */
  layers: LayerUnitsJson[];
  /** Layers considered and not recorded (smooth or linear), with why. Absent in format 1. */
  skipped?: SkippedLayer[];
  schedule: { every: Every; atStart: boolean };
  /** One per snapshot. */
  positions: SnapshotPosition[];
  /** Per snapshot; the first is null (nothing earlier to compare with). */
  novelty: { raw: (number | null)[]; normalized: (number | null)[]; nearest: (number | null)[] };
  /** Switch rate per probe input (null until training ends, and without units). */
  switches: { perPoint: (number | null)[]; sorted: (number | null)[]; possible: number } | null;
  /** Per-unit log-product of the largest singular values (null until training ends, and without units). */
  singularValues: { floor: number; count: number; k: number; perUnit: number[]; sorted: number[]; distinct: number[] } | null;
}

export function numpyRecipe(units: number): string {
  return `numpy.unpackbits(numpy.load("${CONFIGURATIONS_NPY}"), axis=2, bitorder="little")[:, :, :${units}]`;
}

export function piecesNumpyRecipe(): string {
  return `bits = numpy.unpackbits(numpy.load("${PIECES_NPY}"), axis=2, bitorder="little"); `
    + 'for a layer l with l["file"] == "pieces": o, w, c = l["bitOffset"], l["fieldBits"], l["count"]; '
    + 'pieces = (bits[:, :, o:o + c*w].reshape(N, D, c, w).astype(numpy.int64) << numpy.arange(w)).sum(axis=3)';
}

/** Writes the `.npy` files (first) and then the JSON, each atomically, into `dir`. */
export function writeOutputs(dir: string, json: ActivationFile, configurations: Configurations | null): void {
  if (configurations?.bits) writeNpyAtomic(path.join(dir, CONFIGURATIONS_NPY), configurations.bits.toNpyPayload());
  if (configurations?.pieces) writeNpyAtomic(path.join(dir, PIECES_NPY), configurations.pieces.toNpyPayload());
  writeJsonAtomic(path.join(dir, ACTIVATION_JSON), json);
}

/** The plugin's folder inside a run folder. */
export function activationDir(runDir: string): string {
  return path.join(runDir, PLUGIN_NAME);
}

/** `activation.json` of a run folder, or null when the run has none. */
export function readActivationJson(runDir: string): ActivationFile | null {
  const file = path.join(activationDir(runDir), ACTIVATION_JSON);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const json = JSON.parse(text) as ActivationFile;
  if (json.format !== ACTIVATION_FORMAT && json.format !== ACTIVATION_FORMAT_1) {
    throw new Error(`${file}: format ${JSON.stringify(json.format)}, expected ${ACTIVATION_FORMAT}`);
  }
  return json;
}

function readNpy3(file: string, snapshots?: number) {
  const npy = decodeNpy(fs.readFileSync(file), file);
  if (npy.dtype !== 'uint8' || npy.shape.length !== 3) throw new Error(`${file}: expected uint8 (N, D, bytes per row), got ${npy.dtype} (${npy.shape.join(', ')})`);
  const [n, d, b] = npy.shape;
  const keep = snapshots ?? n;
  if (keep > n) throw new Error(`${file}: holds ${n} snapshots, the checkpoint expects ${keep}`);
  return { dtype: 'uint8', shape: [keep, d, b], data: npy.data.subarray(0, keep * d * b) };
}

/** Reads a `configurations.npy` back into a tensor of `units` bits per row, keeping its first `snapshots` (default all). */
export function readConfigurations(file: string, units: number, snapshots?: number): ConfigurationTensor {
  return ConfigurationTensor.fromNpyPayload(readNpy3(file, snapshots), units);
}

/** Reads a `pieces.npy` back as the tensor of its `layout.rowBits` bit columns (first `snapshots`, default all). */
export function readPieces(file: string, layout: FieldLayout, snapshots?: number): ConfigurationTensor {
  return ConfigurationTensor.fromNpyPayload(readNpy3(file, snapshots), layout.rowBits);
}

/** The field layout an activation.json describes (null without pieces-file units). */
export function layoutOf(json: Pick<ActivationFile, 'pieces' | 'layers'>): FieldLayout | null {
  if (!json.pieces) return null;
  return FieldLayout.fromLayers(json.pieces.rowBits, json.layers.map((l) => ({
    file: l.file ?? 'bits', bitOffset: l.bitOffset ?? null, fieldBits: l.fieldBits ?? 1, pieces: l.pieces ?? 2, indices: l.indices,
  })));
}

/** Every recorded piece of a run folder's activation files (null when the run recorded none). */
export function readRunConfigurations(runDir: string): Configurations | null {
  const json = readActivationJson(runDir);
  if (!json || json.units === 0) return null;
  const dir = activationDir(runDir);
  const bits = json.bits ? readConfigurations(path.join(dir, json.bits.file), json.bits.units ?? json.units) : null;
  const layout = layoutOf(json);
  const pieces = layout ? readPieces(path.join(dir, PIECES_NPY), layout) : null;
  return Configurations.of(bits, pieces, layout);
}
