import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
await tf.setBackend('wasm'); await tf.ready();
const B = 64, dims = [784, 50, 30, 20, 30, 50, 784];
const r = (s) => tf.randomNormal(s);
const X = dims.slice(0, -1).map((d) => r([B, d])), XT = X.map((x) => tf.transpose(x));
const K = dims.slice(0, -1).map((d, l) => r([d, dims[l + 1]])), KT = K.map((k) => tf.transpose(k));
const M = dims.slice(1).map((d) => tf.cast(tf.greater(r([B, d]), 0), 'float32'));
M[5] = null;
const V = K.map((k) => r(k.shape)), Vb = dims.slice(1).map((d) => r([d]));
const KKt = tf.matMul(K[5], KT[5]);
const Xa = tf.concat([X[5], tf.ones([B, 1])], 1), XaT = tf.transpose(Xa);
function current() {
  return tf.tidy(() => {
    let d = null;
    for (let l = 0; l < 6; l++) { let a = tf.add(tf.matMul(X[l], V[l]), Vb[l]); if (d) a = tf.add(a, tf.matMul(d, K[l])); d = M[l] ? tf.mul(a, M[l]) : a; }
    const parts = []; let delta = d;
    for (let l = 5; l >= 0; l--) { if (M[l]) delta = tf.mul(delta, M[l]); parts.push(tf.matMul(XT[l], delta)); parts.push(tf.sum(delta, 0)); if (l > 0) delta = tf.matMul(delta, KT[l]); }
    return tf.concat(parts.map((t) => tf.reshape(t, [-1])));
  });
}
const Va = tf.concat([V[5], tf.reshape(Vb[5], [1, -1])], 0);
function algebra() {
  return tf.tidy(() => {
    let d = null;
    for (let l = 0; l < 5; l++) { let a = tf.add(tf.matMul(X[l], V[l]), Vb[l]); if (d) a = tf.add(a, tf.matMul(d, K[l])); d = M[l] ? tf.mul(a, M[l]) : a; }
    const parts = [];
    parts.push(tf.matMul(tf.matMul(XaT, d), K[5]));
    let delta = tf.add(tf.matMul(d, KKt), tf.matMul(Xa, tf.matMul(Va, KT[5])));
    for (let l = 4; l >= 0; l--) { if (M[l]) delta = tf.mul(delta, M[l]); parts.push(tf.matMul(XT[l], delta)); parts.push(tf.sum(delta, 0)); if (l > 0) delta = tf.matMul(delta, KT[l]); }
    return tf.concat(parts.map((t) => tf.reshape(t, [-1])));
  });
}
function firstOnly() { return tf.tidy(() => { const a = tf.matMul(X[0], V[0]); return tf.matMul(XT[0], a); }); }
function lastOnly() { return tf.tidy(() => { const d = r([B,50]); const f = tf.add(tf.matMul(d, K[5]), tf.matMul(X[5], V[5])); return tf.concat([tf.reshape(tf.matMul(XT[5], f),[-1]), tf.reshape(tf.matMul(f, KT[5]),[-1])]); }); }
for (const [name, f] of [['current', current], ['algebra', algebra], ['current', current], ['algebra', algebra], ['first', firstOnly], ['last', lastOnly]]) {
  for (let i = 0; i < 20; i++) f().dataSync();
  const t0 = performance.now(); for (let i = 0; i < 200; i++) { const o = f(); o.dataSync(); o.dispose(); }
  console.log(name, ((performance.now() - t0) / 200).toFixed(3), 'ms/round');
}
