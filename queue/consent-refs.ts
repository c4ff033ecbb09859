import type { Queryable } from './catalog.js';

/**
 * Which consent statements a recording ran under, as references into the key service's consent ledger
 * (migration 0101): `consent-ledger:<seq>:<statement SHA-256>`. The manifest lists them so that anyone holding
 * the recording can find, and verify, the signed statement that allowed each participant to be recorded.
 *
 * The rule, for the room and the policy version the recording ran under:
 *   - each member's standing decision when the recording started, if it was a grant, and
 *   - every statement received while it ran (grants by later joiners, and revocations — a revocation is
 *     part of the record of why and when it stopped).
 * Statements name the policy version they consent to, so a statement for another version never counts.
 * References are identifiers only (seq and digest), never statement text (invariant I5).
 */

export const CONSENT_REF_PREFIX = 'consent-ledger';

export interface ConsentWindow {
  roomId: string;
  policyVersion: number;
  startedAtMs: number;
  endedAtMs: number;
}

export function consentRef(seq: number, statementDigest: string): string {
  return `${CONSENT_REF_PREFIX}:${seq}:${statementDigest}`;
}

/** Parses a reference made by consentRef; undefined for anything else. */
export function parseConsentRef(ref: string): { seq: number; statementDigest: string } | undefined {
  const match = /^consent-ledger:(\d{1,15}):([0-9a-f]{64})$/.exec(ref);
  return match ? { seq: Number(match[1]), statementDigest: match[2]! } : undefined;
}

export async function consentRefsFor(db: Queryable, window: ConsentWindow): Promise<string[]> {
  const { rows } = await db.query<{ seq: string; statement_digest: string }>(
    `with standing as (
       select distinct on (member_id) seq, statement_digest, decision
         from consent_ledger
        where room_id = $1 and policy_version = $2 and received_at_ms < $3
        order by member_id, seq desc
     )
     select seq, statement_digest from standing where decision = 'grant'
     union
     select seq, statement_digest from consent_ledger
      where room_id = $1 and policy_version = $2 and received_at_ms between $3 and $4
     order by seq`,
    [window.roomId, window.policyVersion, window.startedAtMs, window.endedAtMs],
  );
  return rows.map((r) => consentRef(Number(r.seq), r.statement_digest));
}
