import { createRecorderPageApi } from './recorder-session.js';
import type { RecorderPageApi } from './recorder-page-protocol.js';

/** Entry of the recorder page (dist/web/recorder/recorder-page.js). */
declare global {
  interface Window {
    chaperoneRecorder: RecorderPageApi;
  }
}

window.chaperoneRecorder = createRecorderPageApi();
