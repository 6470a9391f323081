// Config and state round-trips: getConfig/fromConfig, tfjs's serialization registry, a model saved
// and loaded with its optimizer, and getWeights/setWeights resuming bit for bit.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '@taylorlens/core';
import { adam, namedOptimizers, rprop, TaylorOptimizer, type NamedOptimizer } from '@taylorlens/plugin-optimizers';

const nonDefaults: Record<NamedOptimizer, Record<string, unknown>> = {
  sgd: { learningRate: 0.05 },
  momentum: { learningRate: 0.05, momentum: 0.7 },
  nesterov: { learningRate: 0.05, momentum: 0.7 },
  adagrad: { learningRate: 0.05, initialAccumulatorValue: 0.2 },
  rmsprop: { learningRate: 0.01, decay: 0.8, momentum: 0.5, centered: true },
  adam: { learningRate: 0.01, beta1: 0.8 },
  adamw: { learningRate: 0.01, weightDecay: 0.01 },
  amsgrad: { learningRate: 0.01, beta2: 0.9 },
  rprop: { initialStepSize: 0.05, etaPlus: 1.3 },
  signSGD: { learningRate: 0.02 },
  noisySGD: { learningRate: 0.02, eta: 0.3, seed: 11 },
};
const names = Object.keys(namedOptimizers) as NamedOptimizer[];

describe('config round-trip', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it.each(names)('%s: getConfig → fromConfig and the tfjs registry give the same optimizer', (name) => {
    const original = namedOptimizers[name](nonDefaults[name]) as TaylorOptimizer<object>;
    const config = original.getConfig();
    expect(config).toMatchObject(nonDefaults[name]); // given options kept, defaults filled in beside them
    const cls = original.constructor as unknown as tf.serialization.SerializableConstructor<TaylorOptimizer<object>>;
    const copy = cls.fromConfig(cls, config);
    expect(copy.getClassName()).toBe(original.getClassName());
    expect(copy.getConfig()).toEqual(config);
    const [registered, fromConfig] = tf.serialization.SerializationMap.getMap().classNameMap[original.getClassName()];
    expect(registered).toBe(cls);
    const viaRegistry = fromConfig(registered, JSON.parse(JSON.stringify(config))) as TaylorOptimizer<object>;
    expect(viaRegistry.getConfig()).toEqual(config);
    expect(viaRegistry).toBeInstanceOf(tf.Optimizer);
    expect(viaRegistry).toBeInstanceOf(TaylorOptimizer);
    expect(tf.train.sgd(0.1)).not.toBeInstanceOf(TaylorOptimizer); // tf.Optimizer's own check is duck-typed
    for (const o of [original, copy, viaRegistry]) o.dispose();
  });

  it('fills in defaults matching tfjs/Keras', () => {
    expect(adam().getConfig()).toEqual({ learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
    expect(namedOptimizers.rmsprop().getConfig()).toEqual({ learningRate: 0.001, decay: 0.9, momentum: 0, epsilon: 1e-7, centered: false });
    expect(namedOptimizers.adagrad().getConfig()).toEqual({ learningRate: 0.001, initialAccumulatorValue: 0.1, epsilon: 1e-7 });
  });
});

describe('state round-trip', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  /** Gradients of a fixed nonlinear function, so every step differs. */
  const gradientAt = (w: tf.Tensor) => tf.tidy(() => tf.add(tf.sin(tf.mul(w, 3)), tf.mul(w, 0.5)));
  const step = (optimizer: tf.Optimizer, w: tf.Variable) => {
    const g = gradientAt(w);
    optimizer.applyGradients({ [w.name]: g });
    g.dispose();
  };
  const start = () => tf.variable(tf.tensor2d([[0.3, -1.2, 2], [0.7, -0.1, 1.1]]), true, 'resume/w');

  it.each(names)('%s: stop after 4 steps, checkpoint, resume in a new optimizer: bit-identical to 10 straight steps', async (name) => {
    const make = () => namedOptimizers[name](nonDefaults[name]) as TaylorOptimizer<object>;
    // Uninterrupted (the variable name is reused below: noisySGD keys its noise by it).
    let w = start();
    const straight = make();
    for (let i = 0; i < 10; i++) step(straight, w);
    const expected = w.dataSync().slice();
    straight.dispose();
    w.dispose();

    w = start();
    const first = make();
    for (let i = 0; i < 4; i++) step(first, w);
    // Through tfjs's weight encoding, as a checkpoint file would go.
    const weights = await first.getWeights();
    expect(weights[0].name).toBe('iter');
    expect(weights.slice(1).every((x) => x.name.startsWith('resume/w/'))).toBe(true);
    const { data, specs } = await tf.io.encodeWeights(weights);
    tf.dispose(weights.map((x) => x.tensor));
    first.dispose();
    const decoded = tf.io.decodeWeights(data, specs);
    const second = make();
    await second.setWeights(specs.map((s) => ({ name: s.name, tensor: decoded[s.name] })));
    tf.dispose(Object.values(decoded)); // setWeights copied what it needs
    expect(second.iterations).toBe(4);
    for (let i = 0; i < 6; i++) step(second, w);
    expect(Array.from(w.dataSync())).toEqual(Array.from(expected));
    second.dispose();
    w.dispose();
  });

  it('setWeights rejects a checkpoint of another optimizer, naming the weight', async () => {
    const w = start();
    const source = rprop();
    step(source, w);
    const weights = await source.getWeights();
    await expect(adam().setWeights(weights)).rejects.toThrow(/unexpected weight "resume\/w\/rprop\.previousGradient"/);
    tf.dispose([...weights.map((x) => x.tensor), w]);
    source.dispose();
  });

  it('a model saved with its optimizer loads with the same optimizer class, config and state', async () => {
    const build = () => {
      const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 3, inputShape: [4], activation: 'tanh' }), tfl.layers.dense({ units: 1 })] });
      return model;
    };
    const model = build();
    model.compile({ optimizer: adam({ learningRate: 0.02, beta1: 0.85 }), loss: 'meanSquaredError' });
    const x = tf.randomNormal([32, 4], 0, 1, 'float32', 1);
    const y = tf.randomNormal([32, 1], 0, 1, 'float32', 2);
    await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, shuffle: false });
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }), { includeOptimizer: true });

    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts!));
    const optimizer = loaded.optimizer as unknown as TaylorOptimizer<object>;
    expect(optimizer.getClassName()).toBe('taylorlens.Adam');
    expect(optimizer.getConfig()).toEqual((model.optimizer as unknown as TaylorOptimizer<object>).getConfig());
    expect(optimizer.iterations).toBe(8);

    // Both continue one more identical epoch and stay identical (the loaded model's variables have
    // suffixed names in this process, so its state is claimed in order).
    await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, shuffle: false });
    await loaded.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, shuffle: false });
    const a = model.getWeights().map((t) => Array.from(t.dataSync()));
    const b = loaded.getWeights().map((t) => Array.from(t.dataSync()));
    expect(b).toEqual(a);
    tf.dispose([x, y]);
    model.dispose();
    loaded.dispose();
  });
});
