import type { MemberKind } from '../e2ee/mls/index.js';
import type { PlatformRole } from './tokens.js';

/**
 * The hook the delivery service calls before it proposes a joiner's Add. Issue 4 (consent) builds on
 * it: a joiner without consent makes the policy ask for Remove(recorder) first (`alsoRemove`), and a
 * recorder is admitted only when every human member consented. Here only the shape, and "admit all".
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
}

export type AdmissionDecision =
  | { admit: true; /** Leaves to remove in the same epoch as the Add. */ alsoRemove?: number[] }
  | { admit: false; /** An identifier-only reason, sent to the joiner and logged. */ reason: string };

export interface AdmissionPolicy {
  beforeAdmit(room: RoomView, joiner: JoinerView): AdmissionDecision | Promise<AdmissionDecision>;
}

export const admitEveryone: AdmissionPolicy = {
  beforeAdmit: () => ({ admit: true }),
};
