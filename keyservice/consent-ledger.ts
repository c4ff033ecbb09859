import { createHash } from 'node:crypto';
import type pg from 'pg';
import { appendAudit, verifyChain, type ChainAnchor, type ChainReport, type ChainSpec, type Queryable } from '../audit/index.js';
import { inTransaction } from '../db/transaction.js';
import type { ConsentDecision } from '../e2ee/mls/index.js';

/**
 * The consent ledger (ARCHITECTURE.md flow 3) in PostgreSQL: every verified grant and revocation, exactly
 * as signed, with the leaf signature key it verified against, so it can be re-verified by anyone later
 * and kept next to the recording it allowed. Append-only and hash-chained by the same mechanism as the
 * audit log (migration 0100's chain_link; migration 0101); UPDATE, DELETE and TRUNCATE are refused.
 * Each entry is written with its audit event in one transaction. A statement is recorded once: the
 * unique statement digest makes a replay fail in the database even if a check above it were missed.
 */

export const CONSENT_CHAIN: ChainSpec = Object.freeze({
  table: 'consent_ledger',
  columns: Object.freeze([
    'received_at_ms',
    'room_id',
    'group_id',
    'member_id',
    'leaf_index',
    'policy_version',
    'purpose',
    'statement_sha256',
    'decision',
    'issued_at_ms',
    'statement',
    'signature',
    'signer_key',
    'statement_digest',
  ]),
});

export interface ConsentEntryInput {
  roomId: string;
  groupIdHex: string;
  memberId: string;
  /** The signer's platform role (for the audit event's actor). */
  memberRole: string;
  leafIndex: number;
  policyVersion: number;
  purpose: string;
  statementSha256: string;
  decision: ConsentDecision;
  issuedAtMs: number;
  statement: Uint8Array;
  signature: Uint8Array;
  signerKey: Uint8Array;
  /** How it arrived: over the member's delivery connection or the HTTP API. */
  via: 'delivery' | 'http';
}

export interface ConsentEntry {
  seq: bigint;
  receivedAtMs: number;
  roomId: string;
  groupIdHex: string;
  memberId: string;
  leafIndex: number;
  policyVersion: number;
  purpose: string;
  statementSha256: string;
  decision: ConsentDecision;
  issuedAtMs: number;
  /** base64 */
  statement: string;
  signature: string;
  signerKey: string;
  statementDigest: string;
}

/** Thrown when the statement was recorded before. */
export class ReplayedStatementError extends Error {
  override readonly name = 'ReplayedStatementError';
}

export function statementDigest(statement: Uint8Array): string {
  return createHash('sha256').update(statement).digest('hex');
}

export async function isRecorded(db: Queryable, statement: Uint8Array): Promise<boolean> {
  const { rows } = await db.query('select 1 from consent_ledger where statement_digest = $1', [statementDigest(statement)]);
  return rows.length > 0;
}

/** Appends one verified statement and its audit event, atomically. */
export async function appendConsent(pool: pg.Pool, entry: ConsentEntryInput): Promise<{ seq: bigint }> {
  const receivedAtMs = Date.now();
  const digest = statementDigest(entry.statement);
  return inTransaction(
    pool,
    async (client) => {
      const { rows } = await client.query<{ seq: string }>(
        `insert into consent_ledger (received_at_ms, room_id, group_id, member_id, leaf_index, policy_version, purpose, statement_sha256,
           decision, issued_at_ms, statement, signature, signer_key, statement_digest, prev_hash, row_hash)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, '\\x', '\\x')
         returning seq::text as seq`,
        [
          receivedAtMs,
          entry.roomId,
          entry.groupIdHex,
          entry.memberId,
          entry.leafIndex,
          entry.policyVersion,
          entry.purpose,
          entry.statementSha256,
          entry.decision,
          entry.issuedAtMs,
          Buffer.from(entry.statement).toString('base64'),
          Buffer.from(entry.signature).toString('base64'),
          Buffer.from(entry.signerKey).toString('base64'),
          digest,
        ],
      );
      const seq = BigInt(rows[0]!.seq);
      await appendAudit(client, {
        event: entry.decision === 'grant' ? 'consent.granted' : 'consent.revoked',
        actor: { role: entry.memberRole, id: entry.memberId },
        roomId: entry.roomId,
        subjectId: entry.memberId,
        occurredAtMs: receivedAtMs,
        details: { policyVersion: entry.policyVersion, purpose: entry.purpose, ledgerSeq: Number(seq), via: entry.via, statementDigest: digest },
      });
      return { seq };
    },
    { failed: (error) => ((error as { code?: string }).code === '23505' ? new ReplayedStatementError('the statement was recorded before', { cause: error }) : error) },
  );
}

export interface LatestDecision {
  memberId: string;
  decision: ConsentDecision;
  policyVersion: number;
  signerKey: string;
  issuedAtMs: number;
}

/** The latest statement of every member of one MLS group in a room. */
export async function latestDecisions(db: Queryable, roomId: string, groupIdHex: string): Promise<Map<string, LatestDecision>> {
  const { rows } = await db.query<{ member_id: string; decision: ConsentDecision; policy_version: number; signer_key: string; issued_at_ms: string }>(
    `select distinct on (member_id) member_id, decision, policy_version, signer_key, issued_at_ms::text as issued_at_ms
       from consent_ledger where room_id = $1 and group_id = $2 order by member_id, seq desc`,
    [roomId, groupIdHex],
  );
  return new Map(
    rows.map((row) => [
      row.member_id,
      { memberId: row.member_id, decision: row.decision, policyVersion: row.policy_version, signerKey: row.signer_key, issuedAtMs: Number(row.issued_at_ms) },
    ]),
  );
}

export async function listConsents(db: Queryable, roomId: string, options: { afterSeq?: bigint; limit?: number } = {}): Promise<ConsentEntry[]> {
  const limit = Math.min(Math.max(options.limit ?? 500, 1), 5000);
  const { rows } = await db.query<Record<string, string | number>>(
    `select seq::text as seq, received_at_ms::text as received_at_ms, room_id, group_id, member_id, leaf_index, policy_version, purpose,
            statement_sha256, decision, issued_at_ms::text as issued_at_ms, statement, signature, signer_key, statement_digest
       from consent_ledger where room_id = $1 and consent_ledger.seq > $2::bigint order by consent_ledger.seq limit ${limit}`,
    [roomId, (options.afterSeq ?? 0n).toString()],
  );
  return rows.map((row) => ({
    seq: BigInt(row.seq!),
    receivedAtMs: Number(row.received_at_ms),
    roomId: String(row.room_id),
    groupIdHex: String(row.group_id),
    memberId: String(row.member_id),
    leafIndex: Number(row.leaf_index),
    policyVersion: Number(row.policy_version),
    purpose: String(row.purpose),
    statementSha256: String(row.statement_sha256),
    decision: row.decision as ConsentDecision,
    issuedAtMs: Number(row.issued_at_ms),
    statement: String(row.statement),
    signature: String(row.signature),
    signerKey: String(row.signer_key),
    statementDigest: String(row.statement_digest),
  }));
}

export function verifyConsentLedger(db: Queryable, options: { anchors?: readonly ChainAnchor[] } = {}): Promise<ChainReport> {
  return verifyChain(db, CONSENT_CHAIN, options);
}
