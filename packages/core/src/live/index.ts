// The live view: a run folder's report served on 127.0.0.1, updated while the run trains.
export { serveRun, type LiveServer, type ServeRunOptions } from './server.js';
