/** The run config as schemas/run-config.schema.json describes it. */

export type Pair = number | [number, number];
export type Activation = 'linear' | 'relu' | 'sigmoid' | 'tanh' | 'elu' | 'selu' | 'softplus' | 'softsign' | 'relu6' | 'swish' | 'gelu' | 'softmax';

export type LayerSpec =
  | { type: 'dense'; units: number; activation?: Activation; useBias?: boolean }
  | { type: 'conv2d'; filters: number; kernelSize: Pair; strides?: Pair; padding?: 'valid' | 'same'; activation?: Activation; useBias?: boolean }
  | { type: 'maxPooling2d'; poolSize: Pair; strides?: Pair; padding?: 'valid' | 'same' }
  | { type: 'flatten' };

export type LossName = 'mse' | 'softmaxCrossEntropy';

export interface ModelSpec {
  input: number[];
  layers: LayerSpec[];
  loss: LossName;
}

interface DataCommon {
  limit?: number;
  testLimit?: number;
  target: 'labels' | 'input';
  flatten?: boolean;
}

export type DataSpec =
  | (DataCommon & { source: 'mnist'; dir?: string })
  | (DataCommon & { source: 'idx'; trainImages: string; trainLabels: string; testImages?: string; testLabels?: string })
  | (DataCommon & { source: 'cifar10'; dir: string });

export interface TraceSpec {
  every?: number;
  rounds?: number[];
  maxRounds?: number;
}

export interface RunConfig {
  $schema?: string;
  name: string;
  seed: number;
  epochs: number;
  batchSize: number;
  shuffle?: boolean;
  backend?: 'wasm' | 'cpu' | 'tensorflow' | 'webgpu';
  validation?: boolean;
  model: ModelSpec;
  data: DataSpec;
  optimizer: { name: string; options?: Record<string, unknown> };
  plugins?: { name: string; options?: Record<string, unknown> }[];
  output: { dir: string; trace?: TraceSpec };
}

export function pairOf(p: Pair | undefined, fallback: [number, number]): [number, number] {
  if (p === undefined) return fallback;
  return typeof p === 'number' ? [p, p] : [p[0], p[1]];
}
