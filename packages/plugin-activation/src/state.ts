/**
 * Checkpoint state: enough to continue the configuration tensor in a resumed run.
 *
 * With an output folder the bits live in its `configurations.npy` (written before the state is
 * returned, so the file holds at least the `snapshots` the state counts; later appends are cut
 * off on load). Without one the packed bits travel inline, base64-encoded.
 */
import { ConfigurationTensor } from './bits.js';
import { readConfigurations, type SnapshotPosition } from './files.js';
import type { ProbeSpec } from './probe.js';
import type { LayerUnitsJson } from './units.js';

export const STATE_VERSION = 1;

export interface SavedState {
  version: typeof STATE_VERSION;
  probes: number;
  units: number;
  snapshots: number;
  positions: SnapshotPosition[];
  probe: ProbeSpec;
  layers: LayerUnitsJson[];
  /** Absolute path of the `.npy` holding (at least) the first `snapshots` snapshots. */
  file: string | null;
  /** Base64 of the `(N, D, ceil(M/8))` payload when there is no file. */
  packed: string | null;
}

export function packedToBase64(tensor: ConfigurationTensor): string {
  const { data } = tensor.toNpyPayload();
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
}

/** The tensor a saved state describes. */
export function tensorFromState(s: SavedState): ConfigurationTensor {
  if (s.version !== STATE_VERSION) throw new Error(`activation: checkpoint state version ${String(s.version)}, expected ${STATE_VERSION}`);
  let tensor: ConfigurationTensor;
  if (s.packed !== null) {
    const bytes = Buffer.from(s.packed, 'base64');
    const B = (s.units + 7) >> 3;
    tensor = ConfigurationTensor.fromNpyPayload({ dtype: 'uint8', shape: [s.snapshots, s.probes, B], data: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) }, s.units);
  } else if (s.file !== null) {
    tensor = readConfigurations(s.file, s.units, s.snapshots);
  } else {
    throw new Error('activation: checkpoint state has neither a file nor inline bits');
  }
  if (tensor.probes !== s.probes) throw new Error(`activation: checkpoint bits hold ${tensor.probes} probes, the state says ${s.probes}`);
  if (s.positions.length !== s.snapshots) throw new Error(`activation: checkpoint state has ${s.positions.length} positions for ${s.snapshots} snapshots`);
  return tensor;
}
