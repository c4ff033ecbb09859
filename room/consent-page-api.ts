import type { ConsentStatus, RecordingPolicyNotice } from '../e2ee/mls/index.js';
import type { OwnDecision } from './consent-view.js';

/**
 * `window.chaperoneConsent`: the consent prompt's actions for a platform embedding the page, tests and
 * the benchmark (the buttons call the same functions).
 */
export interface ConsentPageApi {
  /** Agree, decline (a signed "revoke" before any grant) or withdraw. Resolves once the key service recorded it. */
  decide(choice: 'grant' | 'decline' | 'revoke'): Promise<void>;
  state(): { policy: RecordingPolicyNotice | undefined; status: ConsentStatus | undefined; decision: OwnDecision };
  /** Recorder stand-in only: generates the page's MLS signature keys; returns the public key (base64). */
  prepareRecorderKeys(): Promise<string>;
  /** Wall-clock time (ms) of the first frame this page decrypted, and of the last. */
  frameTimes(): { firstDecryptedAtMs: number | undefined };
}

declare global {
  interface Window {
    chaperoneConsent: ConsentPageApi;
  }
}
