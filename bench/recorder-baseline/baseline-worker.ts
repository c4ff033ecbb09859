import { runRecorderWorker } from '../../bot/page/recorder-worker-core.js';

/** The baseline's media worker: opens frames and hands them to Chromium's decoders. */
runRecorderWorker('decode');
