/**
 * Shape inference over a config's layer list, without tfjs: catches layer specs that cannot
 * work (dense on an image, a kernel bigger than its input, outputs that do not match the target)
 * before any data is loaded or any file is written.
 */
import { pairOf, type LayerSpec, type ModelSpec } from './config-types.js';
import type { ConfigProblem } from './problems.js';

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Output length of a strided window along one axis, as tfjs/Keras compute it. */
export function windowOut(input: number, window: number, stride: number, padding: 'valid' | 'same'): number {
  return padding === 'same' ? Math.ceil(input / stride) : Math.floor((input - window) / stride) + 1;
}

/** Per-sample shape after each layer; null where a problem stops inference. */
export function inferShapes(model: ModelSpec, problems: ConfigProblem[]): number[][] | null {
  let shape = model.input;
  const shapes: number[][] = [];
  const last = model.layers.length - 1;
  for (let i = 0; i <= last; i++) {
    const at = `/model/layers/${i}`;
    const next = layerOutput(model.layers[i], shape, at, problems);
    if (!next) return null;
    shapes.push(next);
    shape = next;
  }
  return shapes;
}

function layerOutput(l: LayerSpec, shape: number[], at: string, problems: ConfigProblem[]): number[] | null {
  switch (l.type) {
    case 'dense':
      if (shape.length !== 1) {
        problems.push({ pointer: at, message: `dense needs a flat input but gets ${fmt(shape)}; add {"type": "flatten"} before it` });
        return null;
      }
      return [l.units];
    case 'flatten':
      return [size(shape)];
    case 'conv2d': case 'maxPooling2d': {
      if (shape.length !== 3) {
        problems.push({
          pointer: at,
          message: `${l.type} needs an input of shape [height, width, channels] but gets ${fmt(shape)}` +
            (shape.length === 1 ? '; give model.input as [height, width, channels] and leave data.flatten off' : ''),
        });
        return null;
      }
      const isConv = l.type === 'conv2d';
      const window = isConv ? pairOf(l.kernelSize, [1, 1]) : pairOf(l.poolSize, [1, 1]);
      const strides = pairOf(l.strides, isConv ? [1, 1] : window);
      const padding = l.padding ?? 'valid';
      const h = windowOut(shape[0], window[0], strides[0], padding);
      const w = windowOut(shape[1], window[1], strides[1], padding);
      if (h < 1 || w < 1) {
        const key = isConv ? 'kernelSize' : 'poolSize';
        problems.push({
          pointer: `${at}/${key}`,
          message: `a ${window.join('×')} window does not fit the ${shape[0]}×${shape[1]} input with padding "${padding}"; expected at most ${shape[0]}×${shape[1]} (or padding "same")`,
        });
        return null;
      }
      return [h, w, isConv ? l.filters : shape[2]];
    }
  }
}

export interface DataShape {
  /** Per-sample input shape the data gives (after data.flatten). */
  shape: number[];
  numClasses: number;
  /** Where that shape comes from, for messages. */
  origin: string;
  /** Training samples the run will use (after data.limit), from the files' headers or sizes. */
  samples: number;
}

/**
 * Whole-model checks against the data: input shape, layer chain, output size versus the target,
 * and the loss/activation pairing. Appends problems; returns the output shape when all is well.
 * `data.target` undefined (a streamed source, whose targets are the stream's ys): the checks
 * against the data are left to the runner, which sees the stream's first batch.
 */
export function checkModel(model: ModelSpec, data: { target?: 'labels' | 'input' }, dataShape: DataShape | null, problems: ConfigProblem[]): number[] | null {
  const before = problems.length;
  if (dataShape && fmt(model.input) !== fmt(dataShape.shape)) {
    problems.push({
      pointer: '/model/input',
      message: `expected ${fmt(dataShape.shape)} to match the data (${dataShape.origin}), got ${fmt(model.input)}`,
    });
  }
  const params = model.layers.map((l, i) => ({ l, i })).filter(({ l }) => l.type === 'dense' || l.type === 'conv2d');
  if (params.length === 0) {
    problems.push({ pointer: '/model/layers', message: 'expected at least one dense or conv2d layer (a model with no weights cannot train)' });
  }
  const lastParam = params[params.length - 1];
  model.layers.forEach((l, i) => {
    if ('activation' in l && l.activation === 'softmax' && (i !== lastParam?.i || model.loss !== 'softmaxCrossEntropy')) {
      problems.push({
        pointer: `/model/layers/${i}/activation`,
        message: 'softmax is allowed only on the last dense/conv2d layer with loss "softmaxCrossEntropy" (which applies it to the logits); use "linear" there or another activation elsewhere',
      });
    }
    if (lastParam && i > lastParam.i && l.type === 'maxPooling2d') {
      problems.push({ pointer: `/model/layers/${i}`, message: 'pooling after the last dense/conv2d layer is not supported; expected only flatten there' });
    }
  });
  if (model.loss === 'softmaxCrossEntropy') {
    if (data.target === 'input') {
      problems.push({ pointer: '/model/loss', message: `"softmaxCrossEntropy" needs data.target "labels" (class targets), got target "${data.target}"; use "mse" to reconstruct the input` });
    }
    const act = lastParam ? ((lastParam.l as { activation?: string }).activation ?? 'linear') : 'linear';
    if (lastParam && act !== 'linear' && act !== 'softmax') {
      problems.push({
        pointer: `/model/layers/${lastParam.i}/activation`,
        message: `"softmaxCrossEntropy" works on logits: expected the last layer's activation "linear" (or "softmax", which the loss absorbs), got "${act}"`,
      });
    }
  }
  const shapes = inferShapes(model, problems);
  if (!shapes || problems.length > before) return null;
  const out = shapes[shapes.length - 1];
  const want = data.target === 'input' ? size(model.input) : dataShape?.numClasses;
  if (want !== undefined && size(out) !== want) {
    const last = model.layers.length - 1;
    const key = model.layers[last].type === 'dense' ? `/model/layers/${last}/units` : `/model/layers/${last}`;
    problems.push({
      pointer: key,
      message: data.target === 'input'
        ? `the model outputs ${fmt(out)} (${size(out)} values per sample) but target "input" reconstructs the input: expected ${want} values (the size of ${fmt(model.input)})`
        : `the model outputs ${size(out)} values per sample but target "labels" has ${want} classes: expected ${want}`,
    });
    return null;
  }
  return out;
}

/**
 * FLOPs of one training step (forward + backward ≈ 3 × forward, one multiply-add = 2 FLOPs per
 * kernel weight per output cell), from the config alone: the same estimate as the core's
 * `trainingFlopsPerStep`, available before a backend exists to build the model.
 */
export function trainingFlops(model: ModelSpec, batchSize: number): number {
  let forward = 0;
  let shape = model.input;
  const ignore: ConfigProblem[] = [];
  for (const l of model.layers) {
    const out = layerOutput(l, shape, '', ignore);
    if (!out) return NaN;
    if (l.type === 'dense') forward += 2 * shape[0] * l.units;
    if (l.type === 'conv2d') {
      const [kh, kw] = pairOf(l.kernelSize, [1, 1]);
      forward += 2 * out[0] * out[1] * kh * kw * shape[2] * l.filters;
    }
    shape = out;
  }
  return 3 * forward * batchSize;
}
