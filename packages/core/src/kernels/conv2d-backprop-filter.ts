import * as tf from '@tensorflow/tfjs-core';

type Attrs = {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
};

/**
 * Conv2DBackpropFilter as one forward convolution, built from the backend's own Conv2D,
 * Transpose, PadV2 and Slice kernels (so it runs at the speed of that backend's forward conv):
 *
 *   dW[kh,kw,ci,co] = Σ_{b,i,j} xpad[b, i·s+kh, j·s+kw, ci] · dy[b,i,j,co]
 *
 * is a valid convolution of xpad viewed as [ci, H, W, b] (channels = batch) with dy viewed as
 * a filter [oh, ow, b, co], dilated by the stride. Used on wasm (which lacks the kernel) and on
 * cpu (whose stock kernel takes seconds per step on a small convnet).
 */
export function makeConv2DBackpropFilter(backendName: string): tf.KernelConfig {
  const kernel = (name: string) => {
    const k = tf.getKernel(name, backendName);
    if (!k) throw new Error(`backend ${backendName} lacks ${name}, needed by Conv2DBackpropFilter`);
    return k.kernelFunc;
  };
  const conv2d = kernel('Conv2D');
  const transpose = kernel('Transpose');
  const pad = kernel('PadV2');
  const slice = kernel('Slice');

  const kernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const { strides, pad: padding, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Attrs;
    if (dataFormat !== 'NHWC') throw new Error(`Conv2DBackpropFilter: only NHWC is supported, got ${dataFormat}`);
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number], filterShape, strides, 1, padding, dimRoundingMode, false, 'channelsLast');
    const { top, bottom, left, right } = info.padInfo;
    const [kh, kw, ci, co] = filterShape;
    const temps: tf.TensorInfo[] = [];
    const run = (f: tf.KernelFunc, ins: tf.NamedTensorInfoMap, a: object): tf.TensorInfo => {
      const out = f({ inputs: ins, backend, attrs: a as tf.NamedAttrMap }) as tf.TensorInfo;
      temps.push(out);
      return out;
    };
    const xPadded = top || bottom || left || right
      ? run(pad, { x }, { paddings: [[0, 0], [top, bottom], [left, right], [0, 0]], constantValue: 0 })
      : x;
    const xT = run(transpose, { x: xPadded }, { perm: [3, 1, 2, 0] });
    const dyT = run(transpose, { x: dy }, { perm: [1, 2, 0, 3] });
    const corr = run(conv2d, { x: xT, filter: dyT }, {
      strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [info.strideHeight, info.strideWidth],
    });
    // When (padded size − kernel) is not a multiple of the stride the correlation is larger than the filter.
    const cropped = corr.shape[1] === kh && corr.shape[2] === kw
      ? corr
      : run(slice, { x: corr }, { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] });
    const result = transpose({ inputs: { x: cropped }, backend, attrs: { perm: [1, 2, 0, 3] } }) as tf.TensorInfo;
    for (const t of temps) (backend as tf.KernelBackend).disposeData(t.dataId);
    return result;
  };
  return { kernelName: 'Conv2DBackpropFilter', backendName, kernelFunc };
}
