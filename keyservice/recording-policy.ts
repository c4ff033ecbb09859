import { createHash } from 'node:crypto';
import type pg from 'pg';
import { appendAudit, type Queryable } from '../audit/index.js';
import { inTransaction } from '../db/transaction.js';
import type { RecordingPolicyNotice } from '../e2ee/mls/index.js';
import { ApiError } from './api-errors.js';

/**
 * Recording policy per room, versioned (ARCHITECTURE.md flow 1). An operator states whether the room is
 * recorded, for which purpose (which sets the retention clock), what participants are asked to agree
 * to, and the consent mode — all-party unless the operator explicitly sets one-party (participants still
 * see the notice). 42 CFR Part 2 (substance-use care) forces opt-in per participant (all-party; one-party
 * is refused, not silently changed) and narrows later access to records officers.
 *
 * Every change is a new version (recording_policies refuses UPDATE and DELETE) and an audit event, in one
 * transaction. Consent statements name a version: a new version needs fresh consent from everyone.
 */

export const PURPOSES = ['medical-record', 'supervision', 'quality-review', 'ai-scribe', 'custom'] as const;
export type RecordingPurpose = (typeof PURPOSES)[number];
export type ConsentMode = 'all-party' | 'one-party';

/** Default retention per purpose, in days; the operator may override it. A custom purpose has none. */
export const DEFAULT_RETENTION_DAYS: Readonly<Record<RecordingPurpose, number | undefined>> = Object.freeze({
  // The state medical-record clock is commonly 7–10 years for adults (longer for minors): confirm locally.
  'medical-record': 3650,
  supervision: 365,
  'quality-review': 180,
  'ai-scribe': 30,
  custom: undefined,
});

export const PURPOSE_LABELS: Readonly<Record<Exclude<RecordingPurpose, 'custom'>, string>> = Object.freeze({
  'medical-record': 'Medical record',
  supervision: 'Clinical supervision',
  'quality-review': 'Quality review',
  'ai-scribe': 'AI scribe (automated visit notes)',
});

export interface RecordingPolicyInput {
  enabled: boolean;
  purpose: RecordingPurpose;
  /** Required for, and only for, purpose "custom". */
  customPurpose?: string;
  /** The consent statement participants see and agree to. */
  statement: string;
  /** Overrides the purpose's default retention (required for a custom purpose). */
  retentionDays?: number;
  /** Default all-party. */
  consentMode?: ConsentMode;
  /** 42 CFR Part 2. Default false. */
  part2?: boolean;
}

export interface RecordingPolicy {
  roomId: string;
  version: number;
  enabled: boolean;
  purpose: RecordingPurpose;
  customPurpose: string | undefined;
  /** How the purpose is shown: the label, or the operator's text for a custom purpose. */
  purposeLabel: string;
  statement: string;
  /** SHA-256 (hex) of the UTF-8 statement text. */
  statementSha256: string;
  retentionDays: number;
  retentionOverridden: boolean;
  consentMode: ConsentMode;
  part2: boolean;
  /** Who may later access recordings made under this policy (enforced by the records service). */
  accessRoles: string[];
  createdAtMs: number;
  createdBy: { role: string; id: string };
}

const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/u;

function checkText(value: string, field: string, max: number, allowNewlines: boolean): void {
  if (value.length < 1 || value.length > max) throw new ApiError('invalid-request', `${field} must be 1..${max} characters`, { field });
  if (value !== value.normalize('NFC')) throw new ApiError('invalid-request', `${field} must be in Unicode NFC`, { field });
  if (value.trim() !== value) throw new ApiError('invalid-request', `${field} must not start or end with whitespace`, { field });
  if (CONTROL.test(value) || (!allowNewlines && /[\n\r\t]/.test(value))) {
    throw new ApiError('invalid-request', `${field} must not contain control or bidi-formatting characters`, { field });
  }
}

/** Checks an operator's input (beyond its JSON schema) and resolves the defaults. Never repairs input. */
export function resolvePolicyInput(input: RecordingPolicyInput): Omit<RecordingPolicy, 'roomId' | 'version' | 'createdAtMs' | 'createdBy'> {
  if (!(PURPOSES as readonly string[]).includes(input.purpose)) throw new ApiError('invalid-request', `purpose must be one of ${PURPOSES.join(', ')}`, { field: 'purpose' });
  if (input.purpose === 'custom') {
    if (input.customPurpose === undefined) throw new ApiError('invalid-request', 'customPurpose is required when purpose is custom', { field: 'customPurpose' });
    checkText(input.customPurpose, 'customPurpose', 200, false);
  } else if (input.customPurpose !== undefined) {
    throw new ApiError('invalid-request', 'customPurpose is only for purpose custom', { field: 'customPurpose' });
  }
  checkText(input.statement, 'statement', 4000, true);
  const part2 = input.part2 ?? false;
  const consentMode = input.consentMode ?? 'all-party';
  if (part2 && consentMode === 'one-party') {
    throw new ApiError('invalid-request', '42 CFR Part 2 requires opt-in by every participant: consentMode must be all-party', { field: 'consentMode' });
  }
  const fallback = DEFAULT_RETENTION_DAYS[input.purpose];
  if (input.retentionDays === undefined && fallback === undefined) {
    throw new ApiError('invalid-request', 'retentionDays is required for a custom purpose', { field: 'retentionDays' });
  }
  const retentionDays = input.retentionDays ?? fallback!;
  if (!Number.isInteger(retentionDays) || retentionDays < 1 || retentionDays > 36500) {
    throw new ApiError('invalid-request', 'retentionDays must be an integer 1..36500', { field: 'retentionDays' });
  }
  return {
    enabled: input.enabled,
    purpose: input.purpose,
    customPurpose: input.purpose === 'custom' ? input.customPurpose : undefined,
    purposeLabel: input.purpose === 'custom' ? input.customPurpose! : PURPOSE_LABELS[input.purpose],
    statement: input.statement,
    statementSha256: createHash('sha256').update(input.statement, 'utf8').digest('hex'),
    retentionDays,
    retentionOverridden: input.retentionDays !== undefined && input.retentionDays !== fallback,
    consentMode,
    part2,
    accessRoles: part2 ? ['records-officer'] : ['clinician', 'records-officer'],
  };
}

/** What members are shown (delivery protocol `recording-policy`). */
export function policyNotice(policy: RecordingPolicy): RecordingPolicyNotice {
  return {
    room: policy.roomId,
    version: policy.version,
    enabled: policy.enabled,
    purpose: policy.purpose,
    purposeLabel: policy.purposeLabel,
    statement: policy.statement,
    consentMode: policy.consentMode,
    part2: policy.part2,
    retentionDays: policy.retentionDays,
  };
}

interface PolicyRow {
  room_id: string;
  version: number;
  enabled: boolean;
  purpose: RecordingPurpose;
  custom_purpose: string | null;
  statement: string;
  statement_sha256: string;
  retention_days: number;
  retention_overridden: boolean;
  consent_mode: ConsentMode;
  part2: boolean;
  created_at_ms: string;
  created_by_role: string;
  created_by_id: string;
}

function fromRow(row: PolicyRow): RecordingPolicy {
  return {
    roomId: row.room_id,
    version: row.version,
    enabled: row.enabled,
    purpose: row.purpose,
    customPurpose: row.custom_purpose ?? undefined,
    purposeLabel: row.purpose === 'custom' ? row.custom_purpose! : PURPOSE_LABELS[row.purpose],
    statement: row.statement,
    statementSha256: row.statement_sha256,
    retentionDays: row.retention_days,
    retentionOverridden: row.retention_overridden,
    consentMode: row.consent_mode,
    part2: row.part2,
    accessRoles: row.part2 ? ['records-officer'] : ['clinician', 'records-officer'],
    createdAtMs: Number(row.created_at_ms),
    createdBy: { role: row.created_by_role, id: row.created_by_id },
  };
}

const COLUMNS = `room_id, version, enabled, purpose, custom_purpose, statement, statement_sha256, retention_days,
  retention_overridden, consent_mode, part2, created_at_ms::text as created_at_ms, created_by_role, created_by_id`;

export async function loadCurrentPolicy(db: Queryable, roomId: string): Promise<RecordingPolicy | undefined> {
  const { rows } = await db.query<PolicyRow>(`select ${COLUMNS} from recording_policies where room_id = $1 order by version desc limit 1`, [roomId]);
  return rows[0] === undefined ? undefined : fromRow(rows[0]);
}

export async function listPolicyVersions(db: Queryable, roomId: string): Promise<RecordingPolicy[]> {
  const { rows } = await db.query<PolicyRow>(`select ${COLUMNS} from recording_policies where room_id = $1 order by version`, [roomId]);
  return rows.map(fromRow);
}

/** Writes the next version and its audit event in one transaction; returns the new policy. */
export async function writePolicy(pool: pg.Pool, roomId: string, input: RecordingPolicyInput, actor: { role: string; id: string }): Promise<RecordingPolicy> {
  const resolved = resolvePolicyInput(input);
  return inTransaction(pool, async (client) => {
    await client.query('select pg_advisory_xact_lock(1667785063, hashtext($1))', [roomId]);
    const { rows } = await client.query<{ next: number }>('select coalesce(max(version), 0) + 1 as next from recording_policies where room_id = $1', [roomId]);
    const version = rows[0]!.next;
    const createdAtMs = Date.now();
    await client.query(
      `insert into recording_policies (room_id, version, enabled, purpose, custom_purpose, statement, statement_sha256, retention_days,
         retention_overridden, consent_mode, part2, created_at_ms, created_by_role, created_by_id)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [
        roomId,
        version,
        resolved.enabled,
        resolved.purpose,
        resolved.customPurpose ?? null,
        resolved.statement,
        resolved.statementSha256,
        resolved.retentionDays,
        resolved.retentionOverridden,
        resolved.consentMode,
        resolved.part2,
        createdAtMs,
        actor.role,
        actor.id,
      ],
    );
    await appendAudit(client, {
      event: 'policy.changed',
      actor,
      roomId,
      occurredAtMs: createdAtMs,
      details: {
        version,
        enabled: resolved.enabled,
        purpose: resolved.purpose,
        consentMode: resolved.consentMode,
        part2: resolved.part2,
        retentionDays: resolved.retentionDays,
        retentionOverridden: resolved.retentionOverridden,
        statementSha256: resolved.statementSha256,
      },
    });
    return { ...resolved, roomId, version, createdAtMs, createdBy: { ...actor } };
  });
}
