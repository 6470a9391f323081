/**
 * Which ReLU units make up the `M` columns of a configuration.
 *
 * A unit is one entry of a layer's per-sample pre-activation, flattened in C order: for a dense
 * layer the neuron, for a conv layer one channel at one position (`index = (h·W + w)·C + c`).
 * Columns are grouped by layer (in network order) and, within a layer, by increasing unit index.
 */
import { SeededRandom, type ModelAnatomy, type ParamLayer } from '@taylorlens/core';

export interface LayerUnits {
  /** Layer name (tfjs). */
  name: string;
  /** Position among parameterised layers, 0-based. */
  layer: number;
  kind: 'dense' | 'conv2d';
  activation: string;
  /** Per-sample pre-activation shape (dense `[units]`, conv `[H, W, C]`). */
  shape: number[];
  /** Units the layer has. */
  total: number;
  /** First column of this layer in the configuration. */
  offset: number;
  /** Observed unit indices (flat, C order), increasing; all of `0..total−1` when not sampled. */
  indices: Int32Array;
}

export interface UnitSelection {
  layers: LayerUnits[];
  /** `M`, the total number of observed units. */
  units: number;
}

export interface SelectUnitsOptions {
  /** Layer names or parameterised-layer indices; default every ReLU layer except the output layer. */
  layers?: readonly (string | number)[];
  maxUnitsPerLayer: { dense?: number; conv2d?: number };
  /** Seeds the sampling of units where a layer has more than its cap. */
  seed: number;
}

function pickLayers(anatomy: ModelAnatomy, wanted?: readonly (string | number)[]): ParamLayer[] {
  const all = anatomy.layers;
  if (!wanted) {
    const last = all.length - 1;
    const relu = all.filter((p) => p.index < last && p.activation === 'relu');
    if (relu.length === 0) {
      throw new Error(`activation: the model has no ReLU layer besides the output layer; name the layers to observe with \`layers\` (layers: ${all.map((p) => `${p.name} (${p.activation})`).join(', ')})`);
    }
    return relu;
  }
  const picked = new Set<ParamLayer>();
  for (const w of wanted) {
    const p = typeof w === 'number' ? all[w] : all.find((q) => q.name === w);
    if (!p) throw new Error(`activation: no Dense/Conv2D layer ${JSON.stringify(w)}; the model has ${all.map((q, i) => `${i}: ${q.name}`).join(', ')}`);
    picked.add(p);
  }
  return [...picked].sort((a, b) => a.index - b.index);
}

/** The observed units: the chosen layers, each sampled down to its cap with a seeded draw. */
export function selectUnits(anatomy: ModelAnatomy, opts: SelectUnitsOptions): UnitSelection {
  const rng = new SeededRandom(opts.seed);
  const layers: LayerUnits[] = [];
  let offset = 0;
  for (const p of pickLayers(anatomy, opts.layers)) {
    const cap = opts.maxUnitsPerLayer[p.kind] ?? p.units;
    const indices = Int32Array.from(rng.sample(p.units, cap));
    layers.push({ name: p.name, layer: p.index, kind: p.kind, activation: p.activation, shape: [...p.outputShape], total: p.units, offset, indices });
    offset += indices.length;
  }
  return { layers, units: offset };
}

/** Whether a layer's units are all observed (then no gather is needed). */
export function isWholeLayer(l: LayerUnits): boolean {
  return l.indices.length === l.total;
}

/** The selection as plain JSON (for activation.json and checkpoints). */
export function selectionToJson(s: UnitSelection): LayerUnitsJson[] {
  return s.layers.map((l) => ({ ...l, count: l.indices.length, indices: Array.from(l.indices) }));
}

export interface LayerUnitsJson extends Omit<LayerUnits, 'indices'> {
  /** Units observed in this layer (columns `offset .. offset+count−1`). */
  count: number;
  indices: number[];
}

/**
 * Rebuilds a selection from its JSON form, checking it against the model by position and size
 * (not by name: tfjs numbers auto-generated layer names per process).
 */
export function selectionFromJson(anatomy: ModelAnatomy, json: readonly LayerUnitsJson[]): UnitSelection {
  let offset = 0;
  const layers = json.map((l) => {
    const p = anatomy.layers[l.layer];
    if (!p || p.kind !== l.kind || p.units !== l.total) {
      throw new Error(`activation: saved unit selection names ${l.kind} layer ${l.layer} "${l.name}" (${l.total} units), which this model does not have`);
    }
    if (l.offset !== offset) throw new Error(`activation: saved unit selection is not contiguous at layer "${l.name}"`);
    offset += l.indices.length;
    return { name: p.name, layer: l.layer, kind: l.kind, activation: l.activation, shape: [...l.shape], total: l.total, offset: l.offset, indices: Int32Array.from(l.indices) };
  });
  return { layers, units: offset };
}
