/**
 * Which piecewise-linear units make up the `M` columns of a configuration.
 *
 * Candidates come from walking the model's own call graph (graph.ts), so any tfjs-layers model
 * works, Sequential or functional, chain or DAG:
 *
 * - a Dense/Conv layer whose own activation is piecewise linear (relu, relu6, hardSigmoid): its
 *   units are the entries of its pre-activation;
 * - an elementwise activation layer (Activation, ReLU, LeakyReLU, PReLU, ThresholdedReLU): its
 *   units are its input's entries. Right after a linear Dense/Conv layer that feeds only it, it
 *   is that layer's activation and the units carry the Dense/Conv layer's name and kind (as the
 *   core's anatomy folds it);
 * - a max-pooling layer (MaxPooling1D/2D, GlobalMaxPooling1D/2D) and a Maximum/Minimum merge:
 *   their units are their outputs' entries.
 *
 * A unit is one entry of that per-sample tensor in C order (a dense neuron; for a conv or pool
 * layer one channel at one position, `index = (h·W + w)·C + c`). Units with 2 pieces go to the
 * bit file (one bit each, as for ReLU), units with more to the pieces file (fields of
 * `fieldBits(pieces)` bits); see bits.ts and fields.ts for the layouts.
 */
import type { LayersModel, layers } from '@tensorflow/tfjs-layers';
import { ACTIVATION_LAYER_CLASSES, PRE_ACTIVATION_LAYERS, SeededRandom, layerPieceInfo, type ModelAnatomy, type PieceInfo } from '@taylorlens/core';
import { kernelDownstream, callGraph, type LayerCall, type CallGraph } from './graph.js';

type Layer = layers.Layer;

/** What kind of layer the units belong to (also the key of `maxUnitsPerLayer`). */
export type UnitKind = 'dense' | 'conv2d' | 'conv' | 'activation' | 'pool' | 'merge';

export const UNIT_KINDS: readonly UnitKind[] = ['dense', 'conv2d', 'conv', 'activation', 'pool', 'merge'];

/** Which file a layer's units are stored in. */
export type UnitFile = 'bits' | 'pieces';

export interface LayerUnits {
  /** Layer name (tfjs): the Dense/Conv layer for its own or folded activation, else the activation, pool or merge layer. */
  name: string;
  /** Position among the model's Dense/Conv2D layers (in `model.layers` order) for those kinds, else null. */
  layer: number | null;
  /** Position in `model.layers` of the layer whose pieces these are (the activation layer when folded). */
  modelIndex: number;
  /** tfjs class of that layer (Dense, ReLU, LeakyReLU, MaxPooling2D, Maximum…). */
  className: string;
  kind: UnitKind;
  /** The piecewise-linear function: relu, relu6, clippedrelu, leakyrelu, prelu, thresholdedrelu, hardsigmoid, maxpool, globalmaxpool, maximum, minimum. */
  activation: string;
  /** Linear pieces per unit. */
  pieces: number;
  /** What each piece index means. */
  rule: string;
  /** Per-sample shape of the units (dense `[units]`, conv and pool `[H, W, C]`). */
  shape: number[];
  /** Units the layer has. */
  total: number;
  /** `bits` (2 pieces: configurations.npy) or `pieces` (more: pieces.npy). */
  file: UnitFile;
  /** First column of this layer in its file: the bit column (bits) or the field (pieces). */
  offset: number;
  /** Pieces file only: the first bit of this layer's fields in a row (a multiple of 8 and of `fieldBits`); null for bits. */
  bitOffset: number | null;
  /** Bits per unit in its file: 1 for bits, `fieldBits(pieces)` for pieces. */
  fieldBits: number;
  /** Observed unit indices (flat, C order), increasing; all of `0..total−1` when not sampled. */
  indices: Int32Array;
}

/** A layer considered but not recorded: smooth, linear, or no activation at all. */
export interface SkippedLayer {
  name: string;
  className: string;
  reason: string;
  smooth: boolean;
  activation?: string;
}

export interface UnitSelection {
  /** Bit-file layers first, then pieces-file layers, each in `model.layers` order (the order units are sampled in). */
  layers: LayerUnits[];
  /** `M`, the total number of observed units (both files). */
  units: number;
  /** Units in the bit file (2 pieces each). */
  bitUnits: number;
  /** Units in the pieces file (3 or more pieces each). */
  pieceUnits: number;
  /** Bits per row of the pieces file (a multiple of 32; 0 without pieces units). */
  pieceRowBits: number;
  /** Layers considered but without a configuration (smooth or linear), with why. */
  skipped: SkippedLayer[];
  /** Why nothing is recorded, when `units` is 0; null otherwise. */
  none: string | null;
}

export interface SelectUnitsOptions {
  /** Layer names or Dense/Conv2D indices; default every piecewise-linear hidden unit. */
  layers?: readonly (string | number)[];
  maxUnitsPerLayer: Partial<Record<UnitKind, number>>;
  /**
   * Without `layers`: also record max-pool and Maximum/Minimum choices (their pieces are which
   * cell or input wins). Default false: the default units are the activation units, the paper's.
   */
  choices?: boolean;
  /** Seeds the sampling of units where a layer has more than its cap. */
  seed: number;
}

/** Bits per unit in the pieces file: the smallest power of two ≥ 2 that holds `pieces − 1`. */
export function fieldBits(pieces: number): number {
  if (!Number.isInteger(pieces) || pieces < 3) throw new RangeError(`fieldBits: pieces must be an integer ≥ 3, got ${pieces}`);
  let need = 0;
  while (2 ** need < pieces) need++;
  let w = 2;
  while (w < need) w *= 2;
  if (w > 32) throw new RangeError(`fieldBits: ${pieces} pieces need more than 32 bits`);
  return w;
}

/** A layer that may hold units, found in the graph. */
export interface Candidate {
  name: string;
  /** Names that select it in `layers` (its own; also the activation layer's when folded). */
  aliases: string[];
  /** Dense/Conv2D index, or null. */
  layer: number | null;
  /** The node whose pieces are computed (the activation node when folded). */
  node: LayerCall;
  /** model.layers index used to order candidates (the Dense/Conv layer's when folded). */
  order: number;
  kind: UnitKind;
  info: PieceInfo;
  shape: number[];
  total: number;
  /** A Dense/Conv layer reads from it, directly or not (it is not the output layer). */
  hidden: boolean;
}

const POOL_CLASSES = ['MaxPooling1D', 'MaxPooling2D', 'GlobalMaxPooling1D', 'GlobalMaxPooling2D'];
const MERGE_CLASSES = ['Maximum', 'Minimum'];
const PARAM_CLASSES = ['Dense', 'Conv2D'];

function kindOfKernelLayer(cls: string): UnitKind {
  return cls === 'Dense' ? 'dense' : cls === 'Conv2D' ? 'conv2d' : 'conv';
}

/** The model behind a ModelAnatomy, or the model itself. */
export function asModel(source: ModelAnatomy | LayersModel): LayersModel {
  return Array.isArray((source as LayersModel).inputs) ? (source as LayersModel) : (source as ModelAnatomy).model;
}

/** Every layer call that may hold units, in `model.layers` order. */
export function candidates(g: CallGraph): Candidate[] {
  const params = g.model.layers.filter((l) => PARAM_CLASSES.includes(l.getClassName()));
  const downstream = kernelDownstream(g);
  const seen = new Map<Layer, number>();
  const folded = new Set<number>();
  const out: Candidate[] = [];
  const shapeOf = (node: LayerCall): number[] => {
    const s = node.outputs[0].shape.slice(1);
    if (s.some((d) => d === null || d === undefined)) throw new Error(`activation: layer "${node.layer.name}" has a per-sample output shape [${s.join(', ')}] that is not fully known`);
    return s as number[];
  };
  const nameOf = (layer: Layer): string => {
    const k = seen.get(layer) ?? 0;
    seen.set(layer, k + 1);
    return k === 0 ? layer.name : `${layer.name}@${k}`;
  };
  for (const node of g.nodes) {
    if (folded.has(node.id)) continue;
    const layer = node.layer;
    const cls = layer.getClassName();
    const make = (kind: UnitKind, info: PieceInfo, at: LayerCall, name: string, aliases: string[], param: number | null): Candidate => {
      const shape = shapeOf(at);
      return {
        name, aliases, layer: param, node: at, order: node.modelIndex, kind, info, shape,
        total: shape.reduce((a, b) => a * b, 1), hidden: downstream[at.id],
      };
    };
    const hasActivation = PRE_ACTIVATION_LAYERS.includes(cls);
    if (!hasActivation && !ACTIVATION_LAYER_CLASSES.includes(cls) && !POOL_CLASSES.includes(cls) && !MERGE_CLASSES.includes(cls)) continue;
    const param = PARAM_CLASSES.includes(cls) ? params.indexOf(layer) : null;
    const info = layerPieceInfo(layer);
    const name = nameOf(layer);
    if (info.kind === 'linear' && info.from === 'pre-activation' && node.consumers.length === 1) {
      // A linear Dense/Conv layer feeding only an activation layer: that is its activation.
      const next = g.nodes[node.consumers[0]];
      if (ACTIVATION_LAYER_CLASSES.includes(next.layer.getClassName()) && next.inputs.length === 1 && next.producers.length === 1) {
        folded.add(next.id);
        out.push(make(kindOfKernelLayer(cls), layerPieceInfo(next.layer), next, name, [name, nameOf(next.layer)], param));
        continue;
      }
    }
    if (info.kind !== null && info.from === 'pre-activation') out.push(make(kindOfKernelLayer(cls), info, node, name, [name], param));
    else if (ACTIVATION_LAYER_CLASSES.includes(cls)) out.push(make('activation', info, node, name, [name], null));
    else if (POOL_CLASSES.includes(cls)) out.push(make('pool', info, node, name, [name], null));
    else if (MERGE_CLASSES.includes(cls)) out.push(make('merge', info, node, name, [name], null));
    else if (hasActivation) out.push(make(kindOfKernelLayer(cls), info, node, name, [name], param));
  }
  return out.sort((a, b) => a.order - b.order || a.node.id - b.node.id);
}

function skip(c: Candidate): SkippedLayer {
  const info = c.info;
  if (info.kind === null) return { name: c.name, className: c.node.layer.getClassName(), reason: info.reason, smooth: info.smooth, activation: info.activation };
  return { name: c.name, className: c.node.layer.getClassName(), reason: `${info.kind}: one piece, no configuration`, smooth: false, activation: info.kind };
}

/** The sentence activation.json and the report carry when no unit is recorded. */
export function noUnitsMessage(skipped: readonly SkippedLayer[], named: boolean): string {
  const smooth = [...new Set(skipped.filter((s) => s.smooth).map((s) => s.activation ?? s.className))];
  if (smooth.length > 0) return `no piecewise-linear unit: configurations are not defined for smooth activations (${smooth.join(', ')})`;
  if (named) return `no piecewise-linear unit among the named layers (${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')})`;
  return 'no piecewise-linear unit: the model has no piecewise-linear activation, max-pooling or Maximum/Minimum layer before its output layer';
}

function pick(g: CallGraph, all: Candidate[], wanted?: readonly (string | number)[], choices = false): { chosen: Candidate[]; skipped: SkippedLayer[] } {
  const usable = (c: Candidate) => c.info.kind !== null && c.info.pieces >= 2;
  if (!wanted) {
    const hidden = all.filter((c) => c.hidden && (choices || (c.kind !== 'pool' && c.kind !== 'merge')));
    return { chosen: hidden.filter(usable), skipped: hidden.filter((c) => !usable(c) && c.info.kind !== 'linear').map(skip) };
  }
  const chosen = new Set<Candidate>();
  const skipped: SkippedLayer[] = [];
  const params = g.model.layers.filter((l) => PARAM_CLASSES.includes(l.getClassName()));
  for (const w of wanted) {
    let c: Candidate | undefined;
    if (typeof w === 'number') {
      if (!params[w]) throw new Error(`activation: no Dense/Conv2D layer ${w}; the model has ${params.map((q, i) => `${i}: ${q.name}`).join(', ')}`);
      c = all.find((q) => q.layer === w);
    } else {
      c = all.find((q) => q.aliases.includes(w));
      if (!c) {
        const layer = g.model.layers.find((l) => l.name === w);
        if (!layer) throw new Error(`activation: no layer ${JSON.stringify(w)}; the model has ${g.model.layers.map((l) => `${l.name} (${l.getClassName()})`).join(', ')}`);
        const info = layerPieceInfo(layer);
        skipped.push({ name: w, className: layer.getClassName(), reason: info.kind === null ? info.reason : `${info.kind}: one piece, no configuration`, smooth: info.kind === null && info.smooth, activation: info.activation });
        continue;
      }
    }
    if (!c) continue;
    if (usable(c)) chosen.add(c);
    else if (!skipped.some((s) => s.name === c!.name)) skipped.push(skip(c));
  }
  return { chosen: [...chosen].sort((a, b) => a.order - b.order || a.node.id - b.node.id), skipped };
}

/** The observed units: the chosen layers, each sampled down to its cap with a seeded draw. */
export function selectUnits(source: ModelAnatomy | LayersModel, opts: SelectUnitsOptions): UnitSelection {
  const g = callGraph(asModel(source));
  const { chosen, skipped } = pick(g, candidates(g), opts.layers, opts.choices);
  const rng = new SeededRandom(opts.seed);
  const two = chosen.filter((c) => c.info.pieces === 2);
  const more = chosen.filter((c) => (c.info.pieces ?? 0) > 2);
  const layers: LayerUnits[] = [];
  let bitUnits = 0;
  for (const c of two) {
    const cap = opts.maxUnitsPerLayer[c.kind] ?? c.total;
    const indices = Int32Array.from(rng.sample(c.total, cap));
    layers.push(toUnits(c, 'bits', bitUnits, null, 1, indices));
    bitUnits += indices.length;
  }
  let pieceUnits = 0;
  let bit = 0;
  for (const c of more) {
    const cap = opts.maxUnitsPerLayer[c.kind] ?? c.total;
    const indices = Int32Array.from(rng.sample(c.total, cap));
    const w = fieldBits(c.info.pieces!);
    const align = Math.max(8, w);
    bit = Math.ceil(bit / align) * align;
    layers.push(toUnits(c, 'pieces', pieceUnits, bit, w, indices));
    pieceUnits += indices.length;
    bit += indices.length * w;
  }
  const units = bitUnits + pieceUnits;
  return {
    layers, units, bitUnits, pieceUnits, pieceRowBits: Math.ceil(bit / 32) * 32, skipped,
    none: units === 0 ? noUnitsMessage(skipped, opts.layers !== undefined) : null,
  };
}

function toUnits(c: Candidate, file: UnitFile, offset: number, bitOffset: number | null, w: number, indices: Int32Array): LayerUnits {
  const info = c.info as Exclude<PieceInfo, { kind: null }>;
  return {
    name: c.name, layer: c.layer, modelIndex: c.node.modelIndex, className: c.node.layer.getClassName(), kind: c.kind,
    activation: info.kind, pieces: info.pieces, rule: info.rule, shape: [...c.shape], total: c.total,
    file, offset, bitOffset, fieldBits: w, indices,
  };
}

/** Whether a layer's units are all observed (then no gather is needed). */
export function isWholeLayer(l: LayerUnits): boolean {
  return l.indices.length === l.total;
}

/** The selection as plain JSON (for activation.json and checkpoints). */
export function selectionToJson(s: UnitSelection): LayerUnitsJson[] {
  return s.layers.map((l) => ({ ...l, count: l.indices.length, indices: Array.from(l.indices) }));
}

export interface LayerUnitsJson extends Omit<LayerUnits, 'indices' | 'modelIndex' | 'className' | 'pieces' | 'rule' | 'file' | 'bitOffset' | 'fieldBits'> {
  /** Units observed in this layer (columns or fields `offset .. offset+count−1` of its file). */
  count: number;
  indices: number[];
  // Absent in checkpoints of format 1 (ReLU bits only).
  modelIndex?: number;
  className?: string;
  pieces?: number;
  rule?: string;
  file?: UnitFile;
  bitOffset?: number | null;
  fieldBits?: number;
}

/**
 * Rebuilds a selection from its JSON form, checking it against the model by position, class and
 * size (not by name: tfjs numbers auto-generated layer names per process). Entries without
 * `modelIndex` (checkpoints of format 1) are found by their Dense/Conv2D index.
 */
export function selectionFromJson(source: ModelAnatomy | LayersModel, json: readonly LayerUnitsJson[], skipped: SkippedLayer[] = []): UnitSelection {
  const g = callGraph(asModel(source));
  const all = candidates(g);
  let bitUnits = 0;
  let pieceUnits = 0;
  let bitEnd = 0;
  const layers = json.map((l): LayerUnits => {
    const c = l.modelIndex !== undefined
      ? all.find((q) => q.node.modelIndex === l.modelIndex && q.node.layer.getClassName() === l.className)
      : all.find((q) => q.layer !== null && q.layer === l.layer);
    if (!c || c.kind !== l.kind || c.total !== l.total || c.info.kind === null || (l.pieces !== undefined && c.info.pieces !== l.pieces)) {
      throw new Error(`activation: saved unit selection names ${l.kind} layer ${l.modelIndex ?? l.layer} "${l.name}" (${l.total} units), which this model does not have`);
    }
    const file: UnitFile = l.file ?? 'bits';
    if (file === 'bits') {
      if (l.offset !== bitUnits) throw new Error(`activation: saved unit selection is not contiguous at layer "${l.name}"`);
      bitUnits += l.indices.length;
    } else {
      if (l.offset !== pieceUnits || l.bitOffset === null || l.bitOffset === undefined || l.bitOffset < bitEnd) {
        throw new Error(`activation: saved unit selection is not contiguous at layer "${l.name}"`);
      }
      pieceUnits += l.indices.length;
      bitEnd = l.bitOffset + l.indices.length * (l.fieldBits ?? 0);
    }
    return toUnits(c, file, l.offset, file === 'bits' ? null : l.bitOffset!, file === 'bits' ? 1 : l.fieldBits!, Int32Array.from(l.indices));
  });
  const units = bitUnits + pieceUnits;
  return {
    layers, units, bitUnits, pieceUnits, pieceRowBits: Math.ceil(bitEnd / 32) * 32, skipped,
    none: units === 0 ? noUnitsMessage(skipped, true) : null,
  };
}
