// Train a small regression with the Lion optimizer from ./optimizer.ts through tfjs-layers'
// model.fit, then rebuild the optimizer from its saved config.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { selectBackend } from '@taylorlens/core';
import { lion } from './optimizer.js';

await selectBackend('wasm');
const x = tf.randomUniform([256, 2], -1, 1, 'float32', 1);
const y = tf.tidy(() => tf.sum(tf.square(x), 1, true)); // y = x₀² + x₁²

const model = tfl.sequential({
  layers: [tfl.layers.dense({ units: 32, inputShape: [2], activation: 'relu' }), tfl.layers.dense({ units: 1 })],
});
const optimizer = lion({ learningRate: 3e-3, weightDecay: 0.01 });
model.compile({ optimizer, loss: 'meanSquaredError' });
const history = await model.fit(x, y, { epochs: 30, batchSize: 32, verbose: 0 });
const losses = history.history.loss as number[];
console.log(`Lion: loss ${losses[0].toFixed(4)} → ${losses[losses.length - 1].toFixed(4)} in ${losses.length} epochs`);

// The config is plain JSON; tfjs's serialization registry knows the class by its name.
const [cls, fromConfig] = tf.serialization.SerializationMap.getMap().classNameMap[optimizer.getClassName()];
const again = fromConfig(cls, JSON.parse(JSON.stringify(optimizer.getConfig())));
console.log(`${again.getClassName()} rebuilt from`, again.getConfig());
