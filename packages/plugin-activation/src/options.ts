/** Options of the activation plugin: the JSON schema (checked with ajv, defaults filled in) and its types. */
import type * as tf from '@tensorflow/tfjs-core';
import { DEFAULT_SINGULAR_VALUE_COUNT, DEFAULT_SINGULAR_VALUE_FLOOR } from './measures/index.js';

export const PLUGIN_NAME = 'activation';

/** Snapshot schedule: at every k-th epoch end, or after every k-th round (1-based rounds). */
export type Every = { epochs: number } | { rounds: number };

/** Options as JSON (config files, the CLI). */
export interface ActivationOptions {
  /** `D`, probe inputs drawn from the training data. Default 1000 (all samples when there are fewer). */
  probeSize?: number;
  /** Exact indices into the training data to use as the probe set (overrides `probeSize`). */
  probeIndices?: number[];
  /** Seeds the probe draw (`SeededRandom(seed)`) and the unit sampling (`SeededRandom(seed + 1)`). Default 0. */
  seed?: number;
  /** Default `{ epochs: 1 }`. */
  every?: Every;
  /** Also snapshot at the start of training, before any update (snapshot 0). Default true. */
  atStart?: boolean;
  /**
   * Layers to observe, by layer name or Dense/Conv2D index; default every piecewise-linear hidden
   * activation unit (Dense/Conv activations, activation layers) but the output layer's, plus the
   * max-pool and Maximum/Minimum choices when `choices` is true.
   */
  layers?: (string | number)[];
  /** With the default layers, also record max-pool and Maximum/Minimum choices. Default false (the paper's units: activations). */
  choices?: boolean;
  /**
   * Cap on units per layer by kind, sampled with the seed; default all for dense, 2000 for conv2d,
   * other convolutions (conv), separate activation layers (activation), max-pooling (pool) and
   * Maximum/Minimum (merge).
   */
  maxUnitsPerLayer?: { dense?: number; conv2d?: number; conv?: number; activation?: number; pool?: number; merge?: number };
  /** Probe inputs per forward pass; default: as many as fit in 32M floats of layer outputs (the whole set for dense nets). */
  chunkSize?: number;
  /** Singular values below this count as it in the log-product. Default 1e-6. */
  floor?: number;
  /** How many of the largest singular values the log-product sums. Default 50. */
  singularValues?: number;
  /** Folder for activation.json, configurations.npy and pieces.npy; default the run store's `activation/` folder, else none (memory only). */
  outDir?: string;
}

/** What code (not JSON) may pass as well: the probe set itself. */
export interface ActivationPluginOptions extends ActivationOptions {
  /** The probe set `[D, ...inputShape]`; owned by the caller (not disposed). Overrides `probeSize`/`probeIndices`. */
  probe?: tf.Tensor;
}

/** Options after validation, defaults filled in. */
export type ResolvedOptions = Required<Pick<ActivationOptions, 'probeSize' | 'seed' | 'every' | 'atStart' | 'maxUnitsPerLayer' | 'floor' | 'singularValues' | 'choices'>>
  & Pick<ActivationOptions, 'probeIndices' | 'layers' | 'chunkSize' | 'outDir'>;

export const DEFAULT_MAX_CONV_UNITS = 2000;

const positiveInt = { type: 'integer', minimum: 1 } as const;

export const ACTIVATION_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    probeSize: { ...positiveInt, default: 1000 },
    probeIndices: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'integer', minimum: 0 } },
    seed: { type: 'integer', minimum: 0, default: 0 },
    every: {
      default: { epochs: 1 },
      oneOf: [
        { type: 'object', additionalProperties: false, required: ['epochs'], properties: { epochs: positiveInt } },
        { type: 'object', additionalProperties: false, required: ['rounds'], properties: { rounds: positiveInt } },
      ],
    },
    atStart: { type: 'boolean', default: true },
    choices: { type: 'boolean', default: false },
    layers: { type: 'array', minItems: 1, items: { anyOf: [{ type: 'string' }, { type: 'integer', minimum: 0 }] } },
    maxUnitsPerLayer: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        dense: positiveInt,
        conv2d: { ...positiveInt, default: DEFAULT_MAX_CONV_UNITS },
        conv: { ...positiveInt, default: DEFAULT_MAX_CONV_UNITS },
        activation: { ...positiveInt, default: DEFAULT_MAX_CONV_UNITS },
        pool: { ...positiveInt, default: DEFAULT_MAX_CONV_UNITS },
        merge: { ...positiveInt, default: DEFAULT_MAX_CONV_UNITS },
      },
    },
    chunkSize: positiveInt,
    floor: { type: 'number', exclusiveMinimum: 0, default: DEFAULT_SINGULAR_VALUE_FLOOR },
    singularValues: { ...positiveInt, default: DEFAULT_SINGULAR_VALUE_COUNT },
    outDir: { type: 'string', minLength: 1 },
  },
} as const;

/** A modest configuration for the demo run. */
export const DEMO_OPTIONS: ActivationOptions = { probeSize: 500, every: { epochs: 1 } };
