export { main, BACKENDS, CLI_MAIN, CLI_PACKAGE } from './program.js';
export { processIo, memoryIo, type CliIo } from './io.js';
export { cliReporter, epochLine } from './progress.js';
export { doctor, trainingKernels, cudaLibraries, webgpuStatus } from './doctor.js';
export { serveDuringRun, watchRun } from './live.js';
