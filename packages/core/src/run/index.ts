// Run orchestration: configs, run folders, checkpoints, trace, reports. The CLI is a thin layer on this.
export type { RunConfig, ModelSpec, LayerSpec, DataSpec, TraceSpec, LossName } from './config-types.js';
export type { SavedModelSpec, AnyModelSpec, ResolvedModelSpec, ModuleDataSpec, AnyDataSpec } from './config-types.js';
export { isSavedModelSpec, isModuleData } from './config-types.js';
export { openStreamData, checkStreamAgainstModel, OpenedStream, StreamDataError, type StreamRecord } from './stream-data.js';
export {
  checkSavedModel, loadSavedModel, savedModelFiles, savedModelHandler, copySavedModel, SavedModelError,
  type SavedModelCheck, type SavedModelRecord, type LoadedSavedModel,
} from './saved-model.js';
export { ConfigError, formatProblems, type ConfigProblem } from './problems.js';
export { UsageError } from './errors.js';
export { loadConfigFile, validateConfig, runConfigSchema, type ResolvedConfig, type ValidateOptions } from './config.js';
export { checkAgainst, readSchema, schemaPath } from './schemas.js';
export { buildModel, describeModel, layerName, layerSeed } from './model.js';
export { loadRunData, disposeRunData, sha256File, type RunData, type DataFileRecord } from './data.js';
export { BUILTIN_OPTIMIZERS, optimizerCatalog, describeCatalog, type OptimizerEntry } from './optimizers.js';
export {
  loadPluginModule, loadInstalledPlugins, discoverPluginNames, pluginPackageName, resolvePackage, PluginLoadError,
  addPackageLookup, lookupPlaces, packageJsonOf,
  type LoadedPluginModule, type InstalledPlugins,
} from './plugins.js';
export { RunStore, tracePlan, runFolderPath, CHECKPOINT_DIR, TRACE_DIR, WEIGHTS_DIR, REPORT_HTML, RUN_LOCK, RESERVED_NAMES, DEFAULT_TRACE_MAX_ROUNDS } from './store.js';
export { SAVED_MODEL_DIR } from './store.js';
export { saveCheckpoint, readCheckpoint, restoreCheckpoint, verifyCheckpoint, CheckpointError, CHECKPOINT_PLUGINS_DIR, type CheckpointState } from './checkpoint.js';
export { TraceRecorder, kerasDescription, TRACE_FORMAT, type TraceIndex, type TraceRound, type KerasModel } from './trace.js';
export { savedKerasDescription, type TracedSavedModel } from './trace.js';
export { recordMetrics, readMetrics, truncateMetrics, checkMetricsCover, type TaggedRow } from './metrics.js';
export { acquireRunLock, RunLockedError, type RunLock, type LockOwner } from './lock.js';
export { LIMITS } from './limits.js';
export { checkPluginsAgainstModel, runPlan } from './plan-check.js';
export { writeFinalWeights } from './final-weights.js';
export { readRunFile, writeRunFile, RUN_FORMAT, type RunFile, type RunFileStatus, type RunSession, type RunWarning } from './run-file.js';
export {
  startRun, resumeRun, exitCodeFor, EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED,
  type RunReporter, type RunOptions, type RunOutcome,
} from './runner.js';
export { buildRunReport, writeRunReport, writeCompareReport, trainingSection, smooth, thin, type ReportOptions, type ReportResult } from './report.js';
export { runtimeVersions, coreVersion, packageVersion } from './versions.js';
export { demoConfig, DEMO_DEFAULTS, type DemoOptions, type DemoPlan } from './demo.js';
