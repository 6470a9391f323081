import * as tf from '@tensorflow/tfjs-core';

type Attrs = {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape?: [number, number, number, number];
  filterShape?: [number, number, number, number];
};

function checkAttrs(name: string, a: Attrs): void {
  if (a.dataFormat !== undefined && a.dataFormat !== 'NHWC') throw new Error(`${name}: only NHWC is supported, got ${a.dataFormat}`);
  const d = typeof a.dilations === 'number' ? [a.dilations, a.dilations] : a.dilations ?? [1, 1];
  if (d[0] !== 1 || d[1] !== 1) throw new Error(`${name}: dilated depthwise convolutions are not supported on this backend`);
}

/**
 * Every entry of a depthwise filter `[kh, kw, C, m]` with its place in the block-diagonal filter
 * `[kh, kw, C, C·m]` of the equivalent ordinary convolution (input channel c feeds only outputs
 * c·m … c·m + m − 1). Built on the host: filters are small.
 */
function forEachBlockEntry([kh, kw, C, m]: number[], visit: (depthwise: number, full: number) => void): void {
  for (let k = 0; k < kh * kw; k++) {
    for (let c = 0; c < C; c++) {
      for (let j = 0; j < m; j++) visit((k * C + c) * m + j, (k * C + c) * C * m + c * m + j);
    }
  }
}

function blockDiagonal(depthwise: Float32Array, shape: number[]): Float32Array {
  const [kh, kw, C, m] = shape;
  const full = new Float32Array(kh * kw * C * C * m);
  forEachBlockEntry(shape, (d, f) => { full[f] = depthwise[d]; });
  return full;
}

type Backend = tf.KernelBackend & { readSync(id: unknown): tf.backend_util.BackendValues };

/** A float32 tensor on the backend from host values (every backend has `write`). */
function hostTensor(b: Backend, shape: number[], values: Float32Array): tf.TensorInfo {
  return { dataId: b.write(values, shape, 'float32'), shape, dtype: 'float32' };
}

/**
 * DepthwiseConv2dNativeBackpropInput as the backend's own Conv2DBackpropInput with the
 * block-diagonal filter: exact, and C times the work of a native kernel. tfjs-backend-wasm 4.22
 * has no depthwise gradient kernels, so a model with a DepthwiseConv2D or SeparableConv2D layer
 * cannot train there (model.fit fails alike) without this.
 */
export function makeDepthwiseBackpropInput(backendName: string): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const a = attrs as unknown as Attrs;
    checkAttrs('DepthwiseConv2dNativeBackpropInput', a);
    const b = backend as Backend;
    const [kh, kw, C, m] = filter.shape;
    const full = hostTensor(b, [kh, kw, C, C * m], blockDiagonal(b.readSync(filter.dataId) as Float32Array, filter.shape));
    const conv = tf.getKernel('Conv2DBackpropInput', backendName)!.kernelFunc;
    const out = conv({ inputs: { dy, filter: full }, backend, attrs: { strides: a.strides, pad: a.pad, dataFormat: 'NHWC', dimRoundingMode: a.dimRoundingMode, inputShape: a.inputShape } as unknown as tf.NamedAttrMap }) as tf.TensorInfo;
    b.disposeData(full.dataId);
    return out;
  };
  return { kernelName: 'DepthwiseConv2dNativeBackpropInput', backendName, kernelFunc };
}

/**
 * DepthwiseConv2dNativeBackpropFilter: the filter gradient of the block-diagonal convolution
 * (the backend's Conv2DBackpropFilter), of which the depthwise filter's entries are the diagonal
 * blocks.
 */
export function makeDepthwiseBackpropFilter(backendName: string): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const a = attrs as unknown as Attrs;
    checkAttrs('DepthwiseConv2dNativeBackpropFilter', a);
    const b = backend as Backend;
    const [kh, kw, C, m] = a.filterShape!;
    const conv = tf.getKernel('Conv2DBackpropFilter', backendName)!.kernelFunc;
    const full = conv({ inputs: { x, dy }, backend, attrs: { strides: a.strides, pad: a.pad, dataFormat: 'NHWC', dimRoundingMode: a.dimRoundingMode, filterShape: [kh, kw, C, C * m] } as unknown as tf.NamedAttrMap }) as tf.TensorInfo;
    const values = b.readSync(full.dataId) as Float32Array;
    b.disposeData(full.dataId);
    const grad = new Float32Array(kh * kw * C * m);
    forEachBlockEntry([kh, kw, C, m], (d, f) => { grad[d] = values[f]; });
    return hostTensor(b, [kh, kw, C, m], grad);
  };
  return { kernelName: 'DepthwiseConv2dNativeBackpropFilter', backendName, kernelFunc };
}
