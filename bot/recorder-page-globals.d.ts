// The global the bundled recorder page exposes, for the recorder process that drives it through puppeteer.
import type { RecorderPageApi } from './page/recorder-page-protocol.js';

declare global {
  interface Window {
    chaperoneRecorder: RecorderPageApi;
  }
}
