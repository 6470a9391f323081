import * as tf from '@tensorflow/tfjs-core';

/**
 * MaxPoolGrad and MaxPoolWithArgmax for webgpu that route ties to the FIRST maximum of each
 * window (row-major), like the cpu backend and TensorFlow. The stock webgpu shaders compare with
 * `>=` and pick the last one, so a window with equal maxima (a flat region, e.g. a constant
 * background after conv + ReLU) sends its gradient to a different cell than on cpu. Negative
 * windows are handled correctly by the stock shaders; only the tie rule is replaced.
 *
 * These are tfjs-backend-webgpu programs (WGSL user code that the backend wraps with its
 * accessors getX/getDy/getMaxPos, getCoordsFromIndex and setOutputAtIndex*), run on the GPU.
 */
interface PoolAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  includeBatchInIndex?: boolean;
}

type Uniform = { type: 'int32'; data: number[] };
interface WebGPUBackendLike extends tf.KernelBackend {
  runWebGPUProgram(program: object, inputs: tf.TensorInfo[], dtype: tf.DataType, uniforms?: Uniform[]): tf.TensorInfo;
  disposeData(dataId: object): boolean;
}

const WORKGROUP: [number, number, number] = [64, 1, 1];

/** The fields tfjs-backend-webgpu's runWebGPUProgram reads from a program, for a flat 1-D dispatch. */
abstract class FlatProgram {
  readonly workgroupSize = WORKGROUP;
  readonly size = true;
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  abstract readonly variableNames: string[];
  abstract readonly uniforms: string;
  abstract readonly shaderKey: string;
  constructor(readonly outputShape: number[]) {
    this.dispatchLayout = { x: outputShape.map((_, i) => i) };
    this.dispatch = [Math.ceil(outputShape.reduce((a, s) => a * s, 1) / WORKGROUP[0]), 1, 1];
  }
  abstract getUserCode(): string;
}

/** Per output cell, the position of its window's first maximum: in-window (wR·fW + wC) or flattened. */
class FirstMaxPositionsProgram extends FlatProgram {
  readonly variableNames = ['x'];
  readonly uniforms = 'strides : vec2<i32>, pads : vec2<i32>, convDims : vec2<i32>, filterDims : vec2<i32>,';
  readonly shaderKey: string;
  constructor(info: tf.backend_util.Conv2DInfo, readonly flatten: boolean, readonly includeBatch: boolean) {
    super(info.outShape);
    this.shaderKey = `taylorlens_firstMaxPos_${flatten}_${includeBatch}`;
  }
  getUserCode(): string {
    const position = !this.flatten ? 'wR * uniforms.filterDims.y + wC'
      : this.includeBatch ? '((batch * uniforms.xShape[1] + xR) * uniforms.xShape[2] + xC) * uniforms.xShape[3] + d'
        : '(xR * uniforms.xShape[2] + xC) * uniforms.xShape[3] + d';
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let coords = getCoordsFromIndex(index);
          let batch = coords[0];
          let d = coords[3];
          let corner = vec2<i32>(coords.yz) * uniforms.strides - uniforms.pads;
          var maxValue = 0.0;
          var found = false;
          var maxPosition = 0;
          for (var wR = 0; wR < uniforms.filterDims.x; wR++) {
            let xR = corner.x + wR;
            if (xR < 0 || xR >= uniforms.convDims.x) { continue; }
            for (var wC = 0; wC < uniforms.filterDims.y; wC++) {
              let xC = corner.y + wC;
              if (xC < 0 || xC >= uniforms.convDims.y) { continue; }
              let value = getX(batch, xR, xC, d);
              // Strictly greater: ties keep the first maximum.
              if (!found || value > maxValue) {
                maxValue = value;
                found = true;
                maxPosition = ${position};
              }
            }
          }
          setOutputAtIndexI32(index, maxPosition);
        }
      }`;
  }
}

/** dx[b, xR, xC, d] = Σ dy over the windows whose chosen position is this cell. */
class MaxPoolBackpropProgram extends FlatProgram {
  readonly variableNames = ['dy', 'maxPos'];
  readonly uniforms = 'strides : vec2<i32>, pads : vec2<i32>, filterDims : vec2<i32>, outDims : vec2<i32>,';
  readonly shaderKey = 'taylorlens_maxPoolBackpropFirst';
  constructor(info: tf.backend_util.Conv2DInfo) {
    super(info.inShape);
  }
  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let coords = getCoordsFromIndex(index);
          let batch = coords[0];
          let d = coords[3];
          var dx = 0.0;
          for (var wR = 0; wR < uniforms.filterDims.x; wR++) {
            let r = coords[1] + uniforms.pads.x - wR;
            if (r < 0 || r % uniforms.strides.x != 0) { continue; }
            let oR = r / uniforms.strides.x;
            if (oR >= uniforms.outDims.x) { continue; }
            for (var wC = 0; wC < uniforms.filterDims.y; wC++) {
              let c = coords[2] + uniforms.pads.y - wC;
              if (c < 0 || c % uniforms.strides.y != 0) { continue; }
              let oC = c / uniforms.strides.y;
              if (oC >= uniforms.outDims.y) { continue; }
              if (i32(getMaxPos(batch, oR, oC, d)) == wR * uniforms.filterDims.y + wC) {
                dx += getDy(batch, oR, oC, d);
              }
            }
          }
          setOutputAtIndex(index, dx);
        }
      }`;
  }
}

function poolInfo(shape: number[], attrs: PoolAttrs, filterSize = attrs.filterSize) {
  return tf.backend_util.computePool2DInfo(
    shape as [number, number, number, number], filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
}

function positionUniforms(info: tf.backend_util.Conv2DInfo): Uniform[] {
  return [
    { type: 'int32', data: [info.strideHeight, info.strideWidth] },
    { type: 'int32', data: [info.padInfo.top, info.padInfo.left] },
    { type: 'int32', data: [info.inHeight, info.inWidth] },
    { type: 'int32', data: [info.filterHeight, info.filterWidth] },
  ];
}

export function makeWebgpuMaxPoolGrad(backendName: string): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
    const b = backend as WebGPUBackendLike;
    const info = poolInfo(input.shape, attrs as unknown as PoolAttrs);
    const positions = b.runWebGPUProgram(new FirstMaxPositionsProgram(info, false, false), [input], 'int32', positionUniforms(info));
    const dx = b.runWebGPUProgram(new MaxPoolBackpropProgram(info), [dy, positions], 'float32', [
      { type: 'int32', data: [info.strideHeight, info.strideWidth] },
      { type: 'int32', data: [info.padInfo.top, info.padInfo.left] },
      { type: 'int32', data: [info.filterHeight, info.filterWidth] },
      { type: 'int32', data: [info.outHeight, info.outWidth] },
    ]);
    b.disposeData(positions.dataId);
    return dx;
  };
  return { kernelName: 'MaxPoolGrad', backendName, kernelFunc };
}

export function makeWebgpuMaxPoolWithArgmax(backendName: string): tf.KernelConfig {
  const maxPool = tf.getKernel('MaxPool', backendName);
  if (!maxPool) throw new Error(`backend ${backendName} lacks MaxPool, needed by MaxPoolWithArgmax`);
  const kernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const { x } = inputs as { x: tf.TensorInfo };
    const b = backend as WebGPUBackendLike;
    const a = attrs as unknown as PoolAttrs & { ksize?: number[] };
    const filterSize = a.filterSize ?? (a.ksize as [number, number]);
    const info = poolInfo(x.shape, a, filterSize);
    // The maximum is the same whichever tied cell is chosen: the stock MaxPool gives the values.
    const poolAttrs = { filterSize, strides: a.strides, pad: a.pad, ...(a.dimRoundingMode ? { dimRoundingMode: a.dimRoundingMode } : {}) };
    const values = maxPool.kernelFunc({ inputs: { x }, backend, attrs: poolAttrs as unknown as tf.NamedAttrMap }) as tf.TensorInfo;
    const indexes = b.runWebGPUProgram(new FirstMaxPositionsProgram(info, true, Boolean(a.includeBatchInIndex)), [x], 'int32', positionUniforms(info));
    return [values, indexes];
  };
  return { kernelName: 'MaxPoolWithArgmax', backendName, kernelFunc };
}
