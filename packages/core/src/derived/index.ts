export { RoundJacobians, emptyPlan, mergePlan, planIsEmpty, type JacobianPlan, type DerivedRequest } from './round-jacobians.js';
export { denseGrams, denseTail } from './dense-gram.js';
export { outputJacobians } from './output-jacobians.js';
export { matMulT, batchMatMul, selectChannels } from './matmul.js';
