import { verifyChain, type ChainAnchor, type ChainReport, type ChainSpec, type Queryable } from './hash-chain.js';

/**
 * The audit log (ARCHITECTURE.md I7): one hash-chained, append-only table in PostgreSQL that every
 * service writes — policy changes, consent statements, membership decisions and refusals (key service),
 * create/read/export/delete (pipeline and records lifecycle).
 *
 * The database does the chaining (migration 0100: insert trigger under a lock; UPDATE, DELETE and
 * TRUNCATE refused; the chaperone_app role may only INSERT and SELECT). `appendAudit` validates an event
 * and inserts it; `verifyAuditChain` recomputes the chain in Node (audit/hash-chain.ts).
 *
 * Identifiers only: `actorId`, `subjectId` and `roomId` are pseudonymous ids (token subjects, room ids),
 * `details` holds codes, counts, versions and ids — never names, free text written by people, PHI,
 * tokens or key material. The shapes below make that hard to get wrong; they cannot make it impossible.
 */

export type AuditOutcome = 'ok' | 'refused' | 'failed';

export type AuditDetailValue = string | number | boolean | null;

export interface AuditEvent {
  /** Dotted lowercase code, e.g. "consent.granted", "recorder.removal-proposed", "recording.read". */
  event: string;
  /** Default "ok". */
  outcome?: AuditOutcome;
  /** Who caused it: a platform role and a pseudonymous id ("service" / "keyservice" for the service itself). */
  actor?: { role: string; id: string };
  roomId?: string;
  /** Whom or what it concerns, pseudonymously (a member id, a recording id). */
  subjectId?: string;
  details?: Readonly<Record<string, AuditDetailValue>>;
  /** When it happened, ms since the Unix epoch (UTC). Default: the database clock at insert. */
  occurredAtMs?: number;
}

export interface AppendedAudit {
  seq: bigint;
  /** row_hash, hex. */
  rowHash: string;
}

export class AuditEventError extends TypeError {
  override readonly name = 'AuditEventError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

export const AUDIT_CHAIN: ChainSpec = Object.freeze({
  table: 'audit_log',
  columns: Object.freeze(['occurred_at_ms', 'event', 'outcome', 'actor_role', 'actor_id', 'room_id', 'subject_id', 'details']),
});

const EVENT_PATTERN = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/;
const ID_PATTERN = /^[\x21-\x7e]{1,128}$/;
const ROOM_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
const ROLE_PATTERN = /^[a-z][a-z-]{0,31}$/;
const DETAIL_KEY = /^[a-z][A-Za-z0-9]{0,63}$/;
const MAX_DETAIL_KEYS = 32;
const MAX_DETAIL_STRING = 256;

/** Canonical JSON of details: keys sorted, no whitespace; only finite numbers, short strings, booleans, null. */
export function canonicalDetails(details: Readonly<Record<string, AuditDetailValue>> | undefined): string {
  if (details === undefined) return '{}';
  if (typeof details !== 'object' || details === null || Array.isArray(details)) throw new AuditEventError('details', 'must be an object');
  const keys = Object.keys(details).sort();
  if (keys.length > MAX_DETAIL_KEYS) throw new AuditEventError('details', `at most ${MAX_DETAIL_KEYS} keys`);
  const parts: string[] = [];
  for (const key of keys) {
    if (!DETAIL_KEY.test(key)) throw new AuditEventError(`details.${key}`, 'keys are camelCase identifiers');
    const value = details[key];
    if (typeof value === 'string') {
      if (value.length > MAX_DETAIL_STRING) throw new AuditEventError(`details.${key}`, `strings are at most ${MAX_DETAIL_STRING} characters`);
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new AuditEventError(`details.${key}`, 'numbers must be finite');
    } else if (typeof value !== 'boolean' && value !== null) {
      throw new AuditEventError(`details.${key}`, 'values are strings, numbers, booleans or null');
    }
    parts.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`);
  }
  return `{${parts.join(',')}}`;
}

function checkEvent(event: AuditEvent): void {
  if (typeof event !== 'object' || event === null) throw new AuditEventError('event', 'must be an object');
  if (typeof event.event !== 'string' || event.event.length > 64 || !EVENT_PATTERN.test(event.event)) {
    throw new AuditEventError('event', 'must be a dotted lowercase code such as "consent.granted"');
  }
  if (event.outcome !== undefined && !['ok', 'refused', 'failed'].includes(event.outcome)) throw new AuditEventError('outcome', 'must be ok, refused or failed');
  if (event.actor !== undefined) {
    if (typeof event.actor.role !== 'string' || !ROLE_PATTERN.test(event.actor.role)) throw new AuditEventError('actor.role', 'must be a lowercase role name');
    if (typeof event.actor.id !== 'string' || !ID_PATTERN.test(event.actor.id)) throw new AuditEventError('actor.id', 'must be a pseudonymous id (1..128 printable ASCII)');
  }
  if (event.roomId !== undefined && (typeof event.roomId !== 'string' || !ROOM_PATTERN.test(event.roomId))) throw new AuditEventError('roomId', 'must be a room id');
  if (event.subjectId !== undefined && (typeof event.subjectId !== 'string' || !ID_PATTERN.test(event.subjectId))) {
    throw new AuditEventError('subjectId', 'must be a pseudonymous id (1..128 printable ASCII)');
  }
  if (event.occurredAtMs !== undefined && (!Number.isSafeInteger(event.occurredAtMs) || event.occurredAtMs < 0)) {
    throw new AuditEventError('occurredAtMs', 'must be a non-negative integer of milliseconds since the epoch');
  }
}

/**
 * Appends one event. Runs inside the caller's transaction when `db` is a client in one (so an event and
 * the change it records commit together); the chain lock is then held until that transaction ends.
 */
export async function appendAudit(db: Queryable, event: AuditEvent): Promise<AppendedAudit> {
  checkEvent(event);
  const details = canonicalDetails(event.details);
  const { rows } = await db.query<{ seq: string; row_hash: Buffer }>(
    `insert into audit_log (occurred_at_ms, event, outcome, actor_role, actor_id, room_id, subject_id, details)
     values (coalesce($1::bigint, (floor(extract(epoch from clock_timestamp()) * 1000))::bigint), $2, $3, $4, $5, $6, $7, $8)
     returning seq::text as seq, row_hash`,
    [
      event.occurredAtMs ?? null,
      event.event,
      event.outcome ?? 'ok',
      event.actor?.role ?? null,
      event.actor?.id ?? null,
      event.roomId ?? null,
      event.subjectId ?? null,
      details,
    ],
  );
  const row = rows[0]!;
  for (const observer of observers) {
    try {
      observer(event);
    } catch {
      // An observer (metrics) must never fail or delay the write it observes.
    }
  }
  return { seq: BigInt(row.seq), rowHash: row.row_hash.toString('hex') };
}

/** Sees each event this process appended (after the insert; inside a transaction it may still roll back). */
export type AuditObserver = (event: Readonly<AuditEvent>) => void;

const observers = new Set<AuditObserver>();

/**
 * Process-wide observation of appended events, so a service's Prometheus counters count what its audit
 * log records (records/records-metrics.ts) without metrics code in every route. Returns the unsubscribe.
 */
export function observeAuditEvents(observer: AuditObserver): () => void {
  observers.add(observer);
  return () => observers.delete(observer);
}

/** Recomputes the whole audit chain; see hash-chain.ts for what it detects and what `anchors` add. */
export function verifyAuditChain(db: Queryable, options: { anchors?: readonly ChainAnchor[] } = {}): Promise<ChainReport> {
  return verifyChain(db, AUDIT_CHAIN, options);
}

export interface AuditRecord {
  seq: bigint;
  occurredAtMs: number;
  event: string;
  outcome: AuditOutcome;
  actorRole: string | null;
  actorId: string | null;
  roomId: string | null;
  subjectId: string | null;
  details: Record<string, AuditDetailValue>;
}

/** Reads events (newest last), optionally for one room, for auditors and tests. */
export async function readAudit(db: Queryable, filter: { roomId?: string; afterSeq?: bigint; limit?: number } = {}): Promise<AuditRecord[]> {
  const limit = Math.min(Math.max(filter.limit ?? 500, 1), 5000);
  const { rows } = await db.query<{
    seq: string;
    occurred_at_ms: string;
    event: string;
    outcome: AuditOutcome;
    actor_role: string | null;
    actor_id: string | null;
    room_id: string | null;
    subject_id: string | null;
    details: string;
  }>(
    `select seq::text as seq, occurred_at_ms::text as occurred_at_ms, event, outcome, actor_role, actor_id, room_id, subject_id, details
       from audit_log where ($1::text is null or room_id = $1) and audit_log.seq > $2::bigint order by audit_log.seq limit ${limit}`,
    [filter.roomId ?? null, (filter.afterSeq ?? 0n).toString()],
  );
  return rows.map((row) => ({
    seq: BigInt(row.seq),
    occurredAtMs: Number(row.occurred_at_ms),
    event: row.event,
    outcome: row.outcome,
    actorRole: row.actor_role,
    actorId: row.actor_id,
    roomId: row.room_id,
    subjectId: row.subject_id,
    details: JSON.parse(row.details) as Record<string, AuditDetailValue>,
  }));
}
