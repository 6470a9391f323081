import { SeededRandom, assertLinearisable, type ModelAnatomy, type ParamLayer } from '@taylorlens/core';
import { AUTO_SCHEDULE, type LayerSelection, type NeuronCount, type RegretOptions } from '../options.js';
import { flatDense, layerParamCount, positions } from '../jacobian/linear.js';
import type { ScopeDescription } from './scope.js';

/** Layer indices a selection names ('all', names or 0-based indices among Dense/Conv2D layers). */
export function selectLayers(anatomy: ModelAnatomy, sel: LayerSelection, what: string): number[] {
  if (sel === 'all') return anatomy.layers.map((p) => p.index);
  return sel.map((s) => {
    const p = typeof s === 'number' ? anatomy.layers[s] : anatomy.layers.find((q) => q.name === s);
    if (!p) {
      throw new Error(`regret: ${what} names layer ${JSON.stringify(s)}, which is not one of the model's Dense/Conv2D layers or other scoped layers (Conv1D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose, BatchNormalization, LayerNormalization, PReLU, Embedding): `
        + anatomy.layers.map((q) => `${q.index} "${q.name}"`).join(', '));
    }
    return p.index;
  });
}

/** Seeded sample of `perLayer` output channels of a layer (all when it has no more). */
export function sampleUnits(p: ParamLayer, perLayer: NeuronCount, seed: number): number[] {
  if (perLayer === 'all' || perLayer >= p.channels) return Array.from({ length: p.channels }, (_, i) => i);
  // One generator per layer, so adding a layer does not change another layer's sample.
  return new SeededRandom((seed * 1000003 + p.index * 7919 + 17) >>> 0).sample(p.channels, perLayer);
}

/** Floats one sample costs a stored-round scope, per representation. */
export function perSampleFloats(anatomy: ModelAnatomy, p: ParamLayer, kind: 'layer' | 'neurons', K: number) {
  const pL = anatomy.outputSize;
  const inSize = p.inputShape.reduce((a, b) => a * b, 1);
  const Kp = kind === 'layer' ? 1 : K;
  const common = Kp * pL + pL + 1; // base offsets, y, weight
  const channels = kind === 'layer' ? p.channels : K;
  return {
    factored: common + inSize + pL * positions(p) * channels,
    direct: common + pL * (kind === 'layer' ? layerParamCount(p) : p.fanIn * channels),
  };
}

/**
 * The scopes the options ask for. `gamma` (a squared-error loss's scale, or null) decides
 * statistics versus stored rounds. Scopes of a default ('all') selection are marked so the cost
 * check may skip them instead of refusing the run.
 */
export function resolveScopes(anatomy: ModelAnatomy, o: RegretOptions, gamma: number | null): (ScopeDescription & { explicit: boolean })[] {
  assertLinearisable(anatomy, 'regret');
  if (o.network.enabled) {
    const why = networkScopeRefusal(anatomy);
    if (why) throw new Error(`regret: the network scope ${why}; or set network.enabled: false (layer and neuron scopes work on this model)`);
  }
  const out: (ScopeDescription & { explicit: boolean })[] = [];
  const method = gamma === null ? 'rounds' as const : 'statistics' as const;
  const every = (e: number | null) => e ?? AUTO_SCHEDULE[method].every;
  const subBatch = (s: number | null) => (method === 'rounds' ? s ?? AUTO_SCHEDULE.rounds.subBatch : null);
  if (o.layers.enabled) {
    for (const l of selectLayers(anatomy, o.layers.layers, 'layers.layers')) {
      const p = anatomy.layers[l];
      const rep = method === 'rounds' ? chooseRepresentation(anatomy, p, 'layer', p.channels) : undefined;
      out.push({
        key: `layer:${p.name}`, kind: 'layer', layer: p.name, layerIndex: l, units: null, problems: 1, params: layerParamCount(p),
        method, every: every(o.layers.every), offset: o.layers.offset, reservoir: o.layers.reservoir,
        subBatch: subBatch(o.layers.subBatch), representation: rep, explicit: o.layers.layers !== 'all',
        ...(method === 'statistics' && hasUnitBlocks(anatomy, p) ? { structure: 'unit-blocks' as const } : {}),
      });
    }
  }
  if (o.neurons.enabled) {
    const layers = selectLayers(anatomy, o.neurons.layers, 'neurons.layers');
    const countFor = neuronCounts(anatomy, layers, o.neurons.perLayer);
    for (const l of layers) {
      const p = anatomy.layers[l];
      const units = sampleUnits(p, countFor(p.name), o.neurons.seed);
      const rep = method === 'rounds' ? chooseRepresentation(anatomy, p, 'neurons', units.length) : undefined;
      out.push({
        key: `neurons:${p.name}`, kind: 'neurons', layer: p.name, layerIndex: l, units, problems: units.length, params: p.fanIn,
        method, every: every(o.neurons.every), offset: o.neurons.offset, reservoir: o.neurons.reservoir,
        subBatch: subBatch(o.neurons.subBatch), representation: rep, explicit: o.neurons.layers !== 'all',
      });
    }
  }
  if (o.network.enabled) {
    const params = anatomy.variables.reduce((s, v) => s + v.size, 0);
    out.push({
      key: 'network', kind: 'network', layer: null, layerIndex: null, units: null, problems: 1, params, method: 'rounds',
      every: o.network.every ?? 100, offset: o.network.offset, reservoir: o.network.reservoir, subBatch: o.network.subBatch,
      representation: 'replay', explicit: false,
    });
  }
  for (const s of out) {
    if (s.reservoir !== null && s.method === 'statistics') {
      throw new Error(`regret: scope ${s.key} keeps running statistics, which cannot forget rounds; a reservoir needs stored rounds (use "every" instead)`);
    }
  }
  return out;
}

/**
 * Whether a squared-error layer scope's A is block-diagonal over the layer's units: a dense
 * layer on a flat input whose output is the network output through an elementwise activation
 * (nothing after it), so `J_b[:, α]` is `s'(a_bα)` times the unit vector `e_α` and units couple
 * only through the ball.
 */
export function hasUnitBlocks(anatomy: ModelAnatomy, p: ParamLayer): boolean {
  return flatDense(p) && anatomy.isChain && p.index === anatomy.layers.length - 1 && p.after.length === 0
    && !['softmax', 'logsoftmax'].includes(p.activation) && anatomy.outputSize === p.channels;
}

/**
 * Why the network scope cannot take this model, or null. Every parameterised layer kind and every
 * linearisable layer between them is stored or replayed (rounds/replayable.ts); a trainable weight
 * outside the scoped layers would move without a Taylor term.
 */
export function networkScopeRefusal(anatomy: ModelAnatomy): string | null {
  if (anatomy.otherVariables.length > 0) {
    const layer = anatomy.model.layers.find((l) => l.trainableWeights.some((w) => anatomy.otherVariables.includes(w.read() as never)));
    return `moves the scoped layers' parameters only; layer "${layer?.name}" (${layer?.getClassName()}) has others`;
  }
  return null;
}

/** `neurons.perLayer` as a lookup by layer name; a per-layer map may only name selected layers. */
function neuronCounts(anatomy: ModelAnatomy, selected: number[], perLayer: RegretOptions['neurons']['perLayer']): (layer: string) => NeuronCount {
  if (typeof perLayer !== 'object') return () => perLayer;
  const names = selected.map((l) => anatomy.layers[l].name);
  for (const name of Object.keys(perLayer)) {
    if (!names.includes(name)) {
      throw new Error(`regret: neurons.perLayer names layer ${JSON.stringify(name)}, which is not among neurons.layers: ${names.map((n) => `"${n}"`).join(', ')}`);
    }
  }
  return (name) => perLayer[name] ?? 50;
}

/** Store whichever of (layer input + Jacobian) or (Jacobian tensor G) takes fewer bytes. */
function chooseRepresentation(anatomy: ModelAnatomy, p: ParamLayer, kind: 'layer' | 'neurons', K: number): 'factored' | 'direct' {
  // A subset of a per-channel layer's channels is no layer of its kind: its neurons store G (fan-in kh·kw or 2: small).
  if (kind === 'neurons' && p.perChannel) return 'direct';
  // A SeparableConv2D's layer scope also moves its depthwise kernel, which Θ's patches do not carry.
  if (kind === 'layer' && p.depthwise) return 'direct';
  const f = perSampleFloats(anatomy, p, kind, K);
  return f.direct < f.factored ? 'direct' : 'factored';
}
