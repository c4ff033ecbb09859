import { runRecorderWorker } from './recorder-worker-core.js';

/** Entry of the recorder's media worker (dist/web/recorder/recorder-worker.js). */
runRecorderWorker('stream-out');
