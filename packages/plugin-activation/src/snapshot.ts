/**
 * One activation configuration: the piece of every observed unit on every probe input at the
 * model's current weights, from a batched forward pass over the probe set (graph.ts, `training:
 * false`), packed as the Configurations store it: 2-piece units one bit each (ReLU: pre-activation
 * `> 0`), the others in bit fields (fields.ts). Pieces come from core's `layerPieces`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { layerPieces, type ModelAnatomy } from '@taylorlens/core';
import { packRow, rowBytes } from './bits.js';
import type { PackedSnapshot } from './configurations.js';
import { FieldLayout } from './fields.js';
import { floatsPerSample, forwardNodes, callGraph, type LayerCall, type CallGraph } from './graph.js';
import { asModel, isWholeLayer, type LayerUnits, type UnitSelection } from './units.js';

/** Default budget for one forward pass: floats kept per chunk (every needed layer output and pre-activation). */
export const DEFAULT_CHUNK_FLOATS = 32 * 1024 * 1024;

/** The graph nodes whose pieces the selection reads, by layer. */
function selectedNodes(g: CallGraph, selection: UnitSelection): Map<LayerUnits, LayerCall> {
  const out = new Map<LayerUnits, LayerCall>();
  for (const l of selection.layers) {
    const layer = g.model.layers[l.modelIndex];
    const node = g.nodes.find((n) => n.layer === layer);
    if (!node) throw new Error(`activation: layer "${l.name}" is not in the model's graph`);
    out.set(l, node);
  }
  return out;
}

/** Probe inputs per forward pass: the whole set when it fits the budget. */
export function defaultChunkSize(source: ModelAnatomy | LayersModel, selection: UnitSelection, probes: number, budgetFloats = DEFAULT_CHUNK_FLOATS): number {
  const g = callGraph(asModel(source));
  const wanted = new Set([...selectedNodes(g, selection).values()].map((n) => n.id));
  const per = floatsPerSample(g, wanted) + selection.units;
  return Math.max(1, Math.min(probes, Math.floor(budgetFloats / per)));
}

/** The `[B, M]` pieces (float32 integers) of the selected units for a batch `x` (bit-file layers, then pieces-file layers); inside the caller's tidy. */
export function selectedPieces(g: CallGraph, x: tf.Tensor, selection: UnitSelection, nodes = selectedNodes(g, selection)): tf.Tensor {
  const b = x.shape[0];
  const parts = new Map<LayerUnits, tf.Tensor>();
  const byNode = new Map<number, LayerUnits[]>();
  for (const [l, n] of nodes) byNode.set(n.id, [...(byNode.get(n.id) ?? []), l]);
  forwardNodes(g, x, new Set(byNode.keys()), (node, v) => {
    for (const l of byNode.get(node.id)!) {
      // Sampled layers ask for their units only (a max-pool then reads only their windows).
      const r = layerPieces(node.layer, v.inputs, v.output, v.preActivation, isWholeLayer(l) ? undefined : l.indices);
      if (r.pieces === null) throw new Error(`activation: layer "${l.name}" has no configuration: ${r.reason}`);
      if (r.count !== l.pieces) throw new Error(`activation: layer "${l.name}" has ${r.count} pieces, the selection says ${l.pieces}`);
      // float32 from here on (piece indices are exact in it): some backends' int32 kernels are incomplete.
      parts.set(l, tf.reshape(tf.cast(r.pieces, 'float32'), [b, l.indices.length]));
    }
  });
  const ordered = selection.layers.map((l) => parts.get(l)!);
  return ordered.length === 1 ? ordered[0] : tf.concat(ordered, 1);
}

/**
 * Packs the configuration of `probe` (`[D, ...inputShape]`) at the current weights: `D` rows of
 * `ceil(M₂/8)` bytes for the 2-piece units and `D` rows of `rowBits/8` bytes for the others (null
 * where a file has no unit). Runs `ceil(D / chunkSize)` forward passes (one by default for dense
 * nets).
 */
export async function configurationSnapshot(source: ModelAnatomy | LayersModel, probe: tf.Tensor, selection: UnitSelection,
  chunkSize?: number): Promise<PackedSnapshot> {
  if (selection.units === 0) throw new Error(`activation: nothing to record: ${selection.none ?? 'no unit'}`);
  const g = callGraph(asModel(source));
  const nodes = selectedNodes(g, selection);
  const D = probe.shape[0];
  const chunk = chunkSize ?? defaultChunkSize(g.model, selection, D);
  const M = selection.units;
  const M2 = selection.bitUnits;
  const B2 = rowBytes(M2);
  const layout = selection.pieceUnits > 0 ? FieldLayout.fromLayers(selection.pieceRowBits, selection.layers) : null;
  const bits = M2 > 0 ? new Uint8Array(D * B2) : null;
  const pieces = layout ? new Uint8Array(D * layout.rowBytes) : null;
  for (let start = 0; start < D; start += chunk) {
    const size = Math.min(chunk, D - start);
    const t = tf.tidy(() => selectedPieces(g, size === D ? probe : tf.slice(probe, start, size), selection, nodes));
    let values: Float32Array;
    try {
      values = (await t.data()) as Float32Array;
    } finally {
      t.dispose();
    }
    for (let d = 0; d < size; d++) {
      // 2-piece units: piece 1 is bit 1 (for ReLU: pre-activation > 0).
      if (bits) packRow(values, M2, bits, (start + d) * B2, d * M);
      if (layout) {
        const row = (start + d) * layout.rowBytes;
        const from = d * M + M2;
        for (let j = 0; j < layout.units; j++) layout.write(pieces!, row, j, values[from + j]);
      }
    }
  }
  return { bits, pieces };
}
