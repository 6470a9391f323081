export * from './types.js';
export * from './backend.js';
