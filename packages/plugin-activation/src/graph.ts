/**
 * The model as a graph of layer calls, read from tfjs-layers itself (`model.outputs` back through
 * each symbolic tensor's source layer and node), so Sequential models, functional chains and
 * functional DAGs (residual `add`, `maximum` merges, branches) are all the same thing here. And
 * the probe forward pass over it: every needed node evaluated once, in topological order, with
 * `training: false`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel, SymbolicTensor, layers } from '@tensorflow/tfjs-layers';
import { PRE_ACTIVATION_LAYERS, piecePreActivation } from '@taylorlens/core';

type Layer = layers.Layer;

interface TfNode {
  outboundLayer: Layer;
  inputTensors: SymbolicTensor[];
  outputTensors: SymbolicTensor[];
  callArgs?: Record<string, unknown>;
}

export interface LayerCall {
  /** Position in topological order. */
  id: number;
  layer: Layer;
  /** Position of the layer in `model.layers` (−1 if not listed there). */
  modelIndex: number;
  /** Producing symbolic tensors of the inputs. */
  inputs: SymbolicTensor[];
  outputs: SymbolicTensor[];
  callArgs: Record<string, unknown>;
  /** Ids of the nodes that read an output of this one. */
  consumers: number[];
  /** Ids of the nodes whose outputs this one reads (none for nodes fed by the model input). */
  producers: number[];
}

export interface CallGraph {
  model: LayersModel;
  /** Every layer call from the model input to its outputs, producers before consumers. */
  nodes: LayerCall[];
  /** The single model input. */
  input: SymbolicTensor;
}

/** The call graph of a single-input model. */
export function callGraph(model: LayersModel): CallGraph {
  if (model.inputs.length !== 1) {
    throw new Error(`activation: the model has ${model.inputs.length} inputs; the probe set feeds models with one input`);
  }
  const input = model.inputs[0];
  const nodes: LayerCall[] = [];
  const byTfNode = new Map<TfNode, LayerCall>();
  const producerOf = new Map<number, LayerCall>(); // symbolic tensor id → node
  const isInput = (t: SymbolicTensor) => t === input || t.sourceLayer.getClassName() === 'InputLayer';
  const visit = (t: SymbolicTensor): void => {
    if (isInput(t)) return;
    const tfNode = (t.sourceLayer as unknown as { inboundNodes: TfNode[] }).inboundNodes[t.nodeIndex];
    if (byTfNode.has(tfNode)) return;
    // Depth-first over inputs; the node follows all of its producers.
    for (const x of tfNode.inputTensors) visit(x);
    if (byTfNode.has(tfNode)) return;
    const node: LayerCall = {
      id: nodes.length, layer: tfNode.outboundLayer, modelIndex: model.layers.indexOf(tfNode.outboundLayer),
      inputs: tfNode.inputTensors, outputs: tfNode.outputTensors, callArgs: { ...(tfNode.callArgs ?? {}) }, consumers: [], producers: [],
    };
    byTfNode.set(tfNode, node);
    nodes.push(node);
    for (const o of node.outputs) producerOf.set(o.id, node);
  };
  for (const o of model.outputs) visit(o);
  for (const node of nodes) {
    for (const x of node.inputs) {
      const p = producerOf.get(x.id);
      if (p && !node.producers.includes(p.id)) {
        node.producers.push(p.id);
        p.consumers.push(node.id);
      }
    }
  }
  return { model, nodes, input };
}

/** Whether a layer is a linear map with a kernel (Dense, Conv…): a unit before one is hidden. */
export function hasKernel(layer: Layer): boolean {
  return PRE_ACTIVATION_LAYERS.includes(layer.getClassName());
}

/** For every node, whether a layer with a kernel reads (directly or not) from it. */
export function kernelDownstream(g: CallGraph): boolean[] {
  const out = new Array<boolean>(g.nodes.length).fill(false);
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    out[i] = g.nodes[i].consumers.some((c) => hasKernel(g.nodes[c].layer) || out[c]);
  }
  return out;
}

/** What the forward pass hands to `visit` for a wanted node. */
export interface NodeValues {
  inputs: tf.Tensor[];
  output: tf.Tensor;
  /** The pre-activation of a layer with its own activation (Dense, Conv…). */
  preActivation?: tf.Tensor;
}

/** The nodes in `wanted` and every node they depend on. */
function withProducers(g: CallGraph, wanted: ReadonlySet<number>): Set<number> {
  const needed = new Set<number>();
  const stack = [...wanted];
  while (stack.length) {
    const id = stack.pop()!;
    if (needed.has(id)) continue;
    needed.add(id);
    stack.push(...g.nodes[id].producers);
  }
  return needed;
}

/**
 * Evaluates the nodes in `wanted` and everything they depend on for the batch `x`, each once, and
 * calls `visit` for each wanted node in topological order. Dense/Conv layers are evaluated as
 * their linear map then their activation (so the pre-activation exists, bit for bit as core's
 * captured forward pass computes it); every other layer is applied as tfjs applies it, with
 * `training: false`. Run inside the caller's `tf.tidy`.
 */
export function forwardNodes(g: CallGraph, x: tf.Tensor, wanted: ReadonlySet<number>, visit: (node: LayerCall, v: NodeValues) => void): void {
  const needed = withProducers(g, wanted);
  const values = new Map<number, tf.Tensor>([[g.input.id, x]]);
  const valueOf = (t: SymbolicTensor): tf.Tensor => {
    const v = values.get(t.id);
    if (!v) throw new Error(`activation: no value for tensor "${t.name}" in the probe forward pass`);
    return v;
  };
  for (const node of g.nodes) {
    if (!needed.has(node.id)) continue;
    const inputs = node.inputs.map(valueOf);
    let output: tf.Tensor;
    let preActivation: tf.Tensor | undefined;
    const act = (node.layer as unknown as { activation?: { apply(t: tf.Tensor): tf.Tensor } }).activation;
    if (hasKernel(node.layer) && act && inputs.length === 1) {
      preActivation = piecePreActivation(node.layer, inputs[0]);
      output = act.apply(preActivation);
    } else {
      const out = node.layer.apply(inputs.length === 1 ? inputs[0] : inputs, { ...node.callArgs, training: false }) as tf.Tensor | tf.Tensor[];
      const outs = Array.isArray(out) ? out : [out];
      outs.forEach((t, i) => values.set(node.outputs[i].id, t));
      output = outs[0];
    }
    values.set(node.outputs[0].id, output);
    if (wanted.has(node.id)) visit(node, { inputs, output, preActivation });
  }
}

/** Floats a forward pass over the wanted nodes keeps per sample (every needed node's output, and pre-activations). */
export function floatsPerSample(g: CallGraph, wanted: ReadonlySet<number>): number {
  const needed = withProducers(g, wanted);
  let n = 0;
  for (const id of needed) {
    const node = g.nodes[id];
    for (const o of node.outputs) n += o.shape.slice(1).reduce<number>((a, b) => a * (b ?? 1), 1) * (hasKernel(node.layer) ? 2 : 1);
  }
  return Math.max(1, n);
}
