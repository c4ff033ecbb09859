import type { MemberKind } from '../e2ee/mls/index.js';
import type { PlatformRole } from './tokens.js';

/**
 * The hook the delivery service calls before it proposes a joiner's Add. The recording gate
 * (recording-gate.ts) implements it: a human joiner makes it remove the recorder first (`alsoRemove`),
 * and a recorder is admitted only when every human member consented. `admitEveryone` admits
 * participants and refuses every recorder (no gate, no recording).
 */
export interface RoomView {
  roomId: string;
  epoch: bigint;
  members: ReadonlyArray<{ leafIndex: number; id: string; kind: MemberKind; connected: boolean }>;
}

export interface JoinerView {
  id: string;
  kind: MemberKind;
  role: PlatformRole;
  /** Base64 of the joiner's leaf signature public key. */
  signatureKey: string;
}

export type AdmissionDecision =
  | { admit: true; /** Leaves to remove in the same epoch as the Add. */ alsoRemove?: number[] }
  | { admit: false; /** An identifier-only reason, sent to the joiner and logged. */ reason: string };

export interface AdmissionPolicy {
  beforeAdmit(room: RoomView, joiner: JoinerView): AdmissionDecision | Promise<AdmissionDecision>;
}

export const admitEveryone: AdmissionPolicy = {
  beforeAdmit: (_room, joiner) => (joiner.kind === 'recorder' ? { admit: false, reason: 'recording is not configured' } : { admit: true }),
};
