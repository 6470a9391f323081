// Exports of a run's numbers for other tools (metrics.csv is written by run/metrics.ts).
export { EventFileWriter, TENSORBOARD_DIR, scalarsOfRow, type EventWriterOptions } from './tensorboard.js';
export { exportTensorBoard, type TensorBoardExport } from './run.js';
