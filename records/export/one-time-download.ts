import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import { appendAudit } from '../../audit/index.js';
import { auditActor, type Principal } from '../principal.js';
import { withTransaction } from '../lifecycle/db.js';
import { LifecycleError } from '../lifecycle/errors.js';
import { authorizeExport, exportBundle, type ExportDeps, type ExportProgress, type ExportRequest, type ExportResult } from './export-bundle.js';

/**
 * The other way to deliver a right-of-access export: a one-time download. A caller allowed to export
 * (authorizeExport) gets a random 256-bit token, shown once; the catalog keeps only its SHA-256
 * (migration 0311). Redeeming it — by the same person (their platform token), before it expires, once —
 * streams the bundle tar over the API's TLS; the access policy is asked again at that moment (a revoked
 * right ends the link too). The token travels in a header, never in a URL (I5), and is never logged or
 * audited; audit events carry the download id. A redemption whose export then fails still uses the link:
 * ask for a new one (a link that could be retried is a link that could be used twice).
 */

export const DEFAULT_DOWNLOAD_TTL_MS = 60 * 60_000;
export const MAX_DOWNLOAD_TTL_MS = 7 * 24 * 60 * 60_000;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

const tokenHash = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

export interface IssuedDownload {
  downloadId: string;
  /** Shown once; base64url of 32 random bytes. */
  token: string;
  expiresAtMs: number;
}

export async function issueDownload(
  deps: Pick<ExportDeps, 'pool' | 'clock'>,
  principal: Principal,
  request: Pick<ExportRequest, 'recordingId' | 'scope' | 'participantId'>,
  ttlMs = DEFAULT_DOWNLOAD_TTL_MS,
): Promise<IssuedDownload> {
  if (!Number.isInteger(ttlMs) || ttlMs < 1000 || ttlMs > MAX_DOWNLOAD_TTL_MS) throw new TypeError(`ttlMs: must be an integer from 1000 to ${MAX_DOWNLOAD_TTL_MS}`);
  const authorized = await authorizeExport(deps.pool, principal, request);
  const token = randomBytes(32).toString('base64url');
  const downloadId = `dl-${randomUUID()}`;
  const now = deps.clock.now();
  await withTransaction(deps.pool, async (db) => {
    const { rows } = await db.query<{ room_id: string }>('select room_id from recordings where recording_id = $1', [authorized.recordingId]);
    await db.query(
      `insert into export_downloads (download_id, token_sha256, recording_id, scope, participant_id, issued_to_role, issued_to_id, created_at_ms, expires_at_ms)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [downloadId, tokenHash(token), authorized.recordingId, authorized.scope, authorized.participantId ?? null, principal.role, principal.subject, now, now + ttlMs],
    );
    await appendAudit(db, {
      event: 'recording.export-link-issued',
      actor: auditActor(principal),
      roomId: rows[0]!.room_id,
      subjectId: authorized.recordingId,
      details: { downloadId, scope: authorized.scope, participantId: authorized.participantId ?? null, expiresAtMs: now + ttlMs },
    });
  });
  return { downloadId, token, expiresAtMs: now + ttlMs };
}

/**
 * Redeems `token` for `principal` and streams the bundle tar into `out`. Refusals: unknown or malformed
 * token (CHAP_RECORDS_DOWNLOAD_INVALID), another person's link (CHAP_RECORDS_FORBIDDEN), expired
 * (…_EXPIRED), already used (…_USED) — each audited without the token.
 */
export async function redeemDownload(deps: ExportDeps, principal: Principal, token: unknown, out: Writable, onProgress?: (p: ExportProgress) => void): Promise<ExportResult & { downloadId: string }> {
  if (typeof token !== 'string' || !TOKEN.test(token)) throw new LifecycleError('CHAP_RECORDS_DOWNLOAD_INVALID', 'the download token is malformed: use the token exactly as it was issued', 'token');
  const now = deps.clock.now();
  const outcome = await withTransaction(deps.pool, async (db) => {
    const { rows } = await db.query<Record<string, unknown>>('select d.*, r.room_id from export_downloads d join recordings r using (recording_id) where token_sha256 = $1 for update of d', [tokenHash(token)]);
    const row = rows[0];
    if (!row) return { refused: 'CHAP_RECORDS_DOWNLOAD_INVALID' as const, row: undefined };
    const refusal =
      row.issued_to_id !== principal.subject || row.issued_to_role !== principal.role
        ? ('CHAP_RECORDS_FORBIDDEN' as const)
        : row.redeemed_at_ms !== null
          ? ('CHAP_RECORDS_DOWNLOAD_USED' as const)
          : Number(row.expires_at_ms) <= now
            ? ('CHAP_RECORDS_DOWNLOAD_EXPIRED' as const)
            : undefined;
    if (refusal) return { refused: refusal, row };
    await db.query('update export_downloads set redeemed_at_ms = $2 where download_id = $1 and redeemed_at_ms is null', [row.download_id, now]);
    await appendAudit(db, {
      event: 'recording.export-link-redeemed',
      actor: auditActor(principal),
      roomId: row.room_id as string,
      subjectId: row.recording_id as string,
      details: { downloadId: row.download_id as string },
    });
    return { refused: undefined, row };
  });
  if (outcome.refused) {
    const row = outcome.row;
    await appendAudit(deps.pool, {
      event: 'recording.export-link-redeemed',
      outcome: 'refused',
      actor: auditActor(principal),
      ...(row ? { roomId: row.room_id as string, subjectId: row.recording_id as string } : {}),
      details: { downloadId: (row?.download_id as string | undefined) ?? null, reason: outcome.refused },
    });
    const message = {
      CHAP_RECORDS_DOWNLOAD_INVALID: 'no such download link: ask the records office (or the API) for a new one',
      CHAP_RECORDS_FORBIDDEN: 'this download link was issued to someone else',
      CHAP_RECORDS_DOWNLOAD_USED: 'this download link was already used (each link works once): ask for a new one',
      CHAP_RECORDS_DOWNLOAD_EXPIRED: 'this download link has expired: ask for a new one',
    }[outcome.refused];
    throw new LifecycleError(outcome.refused, message, 'token');
  }
  const row = outcome.row!;
  const result = await exportBundle(
    deps,
    principal,
    { recordingId: row.recording_id, scope: row.scope, ...(row.participant_id ? { participantId: row.participant_id } : {}) },
    out,
    onProgress,
    { delivery: 'one-time-download' },
  );
  return { ...result, downloadId: row.download_id as string };
}
