/**
 * Checkpoint state: enough to continue the configuration tensor in a resumed run.
 *
 * With an output folder the bits live in its `configurations.npy` and `pieces.npy` (written before
 * the state is returned, so the files hold at least the `snapshots` the state counts; later
 * appends are cut off on load). Without one the packed bytes travel inline, base64-encoded.
 * Version 1 states (ReLU bits only) are read too.
 */
import { ConfigurationTensor, rowBytes } from './bits.js';
import { Configurations } from './configurations.js';
import { FieldLayout } from './fields.js';
import { readConfigurations, readPieces, type SnapshotPosition } from './files.js';
import type { ProbeSpec } from './probe.js';
import type { LayerUnitsJson, SkippedLayer } from './units.js';

export const STATE_VERSION = 2;

export interface SavedState {
  version: 1 | 2;
  probes: number;
  /** All units (version 1: the bit-file units). */
  units: number;
  snapshots: number;
  positions: SnapshotPosition[];
  probe: ProbeSpec;
  layers: LayerUnitsJson[];
  /** Absolute path of the `configurations.npy` holding (at least) the first `snapshots` snapshots. */
  file: string | null;
  /** Base64 of the `(N, D, ceil(M₂/8))` bit payload when there is no file. */
  packed: string | null;
  /** Bits per row of the pieces file (version 2; 0 without pieces units). */
  pieceRowBits?: number;
  /** Absolute path of the `pieces.npy`, as `file`. */
  piecesFile?: string | null;
  /** Base64 of the pieces payload when there is no file. */
  piecesPacked?: string | null;
  /** Layers considered and not recorded (version 2). */
  skipped?: SkippedLayer[];
}

export function packedToBase64(tensor: ConfigurationTensor): string {
  const { data } = tensor.toNpyPayload();
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
}

function fromBase64(b64: string, snapshots: number, probes: number, bytes: number, columns: number): ConfigurationTensor {
  const buf = Buffer.from(b64, 'base64');
  return ConfigurationTensor.fromNpyPayload({ dtype: 'uint8', shape: [snapshots, probes, bytes], data: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) }, columns);
}

/** The configurations a saved state describes. */
export function configurationsFromState(s: SavedState): Configurations {
  if (s.version !== 1 && s.version !== STATE_VERSION) throw new Error(`activation: checkpoint state version ${String(s.version)}, expected ${STATE_VERSION}`);
  const v1 = s.version === 1;
  const bitLayers = s.layers.filter((l) => (l.file ?? 'bits') === 'bits');
  const bitUnits = v1 ? s.units : bitLayers.reduce((a, l) => a + l.indices.length, 0);
  let bits: ConfigurationTensor | null = null;
  if (bitUnits > 0) {
    if (s.packed !== null) bits = fromBase64(s.packed, s.snapshots, s.probes, rowBytes(bitUnits), bitUnits);
    else if (s.file !== null) bits = readConfigurations(s.file, bitUnits, s.snapshots);
    else throw new Error('activation: checkpoint state has neither a file nor inline bits');
  }
  const layout = !v1 && s.pieceRowBits ? FieldLayout.fromLayers(s.pieceRowBits, s.layers.map((l) => ({
    file: l.file ?? 'bits', bitOffset: l.bitOffset ?? null, fieldBits: l.fieldBits ?? 1, pieces: l.pieces ?? 2, indices: l.indices,
  }))) : null;
  let pieces: ConfigurationTensor | null = null;
  if (layout && layout.units > 0) {
    if (s.piecesPacked) pieces = fromBase64(s.piecesPacked, s.snapshots, s.probes, layout.rowBytes, layout.rowBits);
    else if (s.piecesFile) pieces = readPieces(s.piecesFile, layout, s.snapshots);
    else throw new Error('activation: checkpoint state has neither a file nor inline pieces');
  }
  if (!bits && !pieces) throw new Error('activation: checkpoint state holds no unit');
  const c = Configurations.of(bits, pieces, layout);
  if (c.probes !== s.probes) throw new Error(`activation: checkpoint bits hold ${c.probes} probes, the state says ${s.probes}`);
  if (c.units !== s.units) throw new Error(`activation: checkpoint holds ${c.units} units, the state says ${s.units}`);
  if (s.positions.length !== s.snapshots) throw new Error(`activation: checkpoint state has ${s.positions.length} positions for ${s.snapshots} snapshots`);
  return c;
}

/** The bit tensor of a saved state (kept for callers of version 1). */
export function tensorFromState(s: SavedState): ConfigurationTensor {
  const c = configurationsFromState(s);
  if (!c.bits) throw new Error('activation: checkpoint state has no 2-piece units');
  return c.bits;
}
