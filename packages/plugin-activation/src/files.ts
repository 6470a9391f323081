/**
 * The plugin's files in `<runDir>/activation/`: `configurations.npy` (the packed bit tensor) and
 * `activation.json` (what the bits mean, the schedule, and the three measures).
 */
import fs from 'node:fs';
import path from 'node:path';
import { decodeNpy, writeJsonAtomic, writeNpyAtomic } from '@taylorlens/core';
import { ConfigurationTensor } from './bits.js';
import { PLUGIN_NAME, type Every } from './options.js';
import type { ProbeSource } from './probe.js';
import type { LayerUnitsJson } from './units.js';

export const ACTIVATION_JSON = 'activation.json';
export const CONFIGURATIONS_NPY = 'configurations.npy';
export const ACTIVATION_FORMAT = 'taylorlens-activation/1';

/** Where a snapshot was taken: epochs and rounds completed before it (0 and 0 at the start). */
export interface SnapshotPosition {
  /** Epochs completed, fractional for round-scheduled snapshots; null when the epoch length is unknown. */
  epoch: number | null;
  /** Rounds (optimizer steps) completed. */
  round: number;
}

export interface ActivationFile {
  format: typeof ACTIVATION_FORMAT;
  /** 'running' while training; the run's final status afterwards (completed, stopped, failed…). */
  status: string;
  /** `D`, probe inputs. */
  probes: number;
  /** `M`, observed units. */
  units: number;
  /** `N`, snapshots in the `.npy`. */
  snapshots: number;
  bits: {
    file: typeof CONFIGURATIONS_NPY;
    dtype: 'uint8';
    /** `[N, D, ceil(M/8)]`, C order. */
    shape: [number, number, number];
    /** Bit `m` of a row is bit `m % 8` (least significant first) of byte `m >> 3`. */
    bitOrder: 'little';
    numpy: string;
    active: 'pre-activation > 0';
  };
  probe: { source: ProbeSource; seed: number; indices: number[] | null };
  /** Observed units per layer; columns follow this order. */
  layers: LayerUnitsJson[];
  schedule: { every: Every; atStart: boolean };
  /** One per snapshot. */
  positions: SnapshotPosition[];
  /** Per snapshot; the first is null (nothing earlier to compare with). */
  novelty: { raw: (number | null)[]; normalized: (number | null)[]; nearest: (number | null)[] };
  /** Switch rate per probe input (null until training ends). */
  switches: { perPoint: (number | null)[]; sorted: (number | null)[]; possible: number } | null;
  /** Per-unit log-product of the largest singular values (null until training ends). */
  singularValues: { floor: number; count: number; k: number; perUnit: number[]; sorted: number[]; distinct: number[] } | null;
}

export function numpyRecipe(units: number): string {
  return `numpy.unpackbits(numpy.load("${CONFIGURATIONS_NPY}"), axis=2, bitorder="little")[:, :, :${units}]`;
}

/** Writes the `.npy` (first) and then the JSON, each atomically, into `dir`. */
export function writeOutputs(dir: string, json: ActivationFile, tensor: ConfigurationTensor): void {
  writeNpyAtomic(path.join(dir, CONFIGURATIONS_NPY), tensor.toNpyPayload());
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
  if (json.format !== ACTIVATION_FORMAT) throw new Error(`${file}: format ${JSON.stringify(json.format)}, expected ${ACTIVATION_FORMAT}`);
  return json;
}

/** Reads a `configurations.npy` back into a tensor of `units` bits per row, keeping its first `snapshots` (default all). */
export function readConfigurations(file: string, units: number, snapshots?: number): ConfigurationTensor {
  const npy = decodeNpy(fs.readFileSync(file), file);
  if (npy.dtype !== 'uint8' || npy.shape.length !== 3) throw new Error(`${file}: expected uint8 (N, D, ceil(M/8)), got ${npy.dtype} (${npy.shape.join(', ')})`);
  const [n, d, b] = npy.shape;
  const keep = snapshots ?? n;
  if (keep > n) throw new Error(`${file}: holds ${n} snapshots, the checkpoint expects ${keep}`);
  return ConfigurationTensor.fromNpyPayload({ dtype: 'uint8', shape: [keep, d, b], data: npy.data.subarray(0, keep * d * b) }, units);
}
