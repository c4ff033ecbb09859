import type { FastifyRequest } from 'fastify';
import { auditAccess, RECORDS_EVENTS } from '../../access-audit.js';
import { loadRecordingFacts } from '../../access-policy.js';
import { RecordsError } from '../../errors.js';
import { getListedRecording, listRecordings, MAX_PAGE, type ListFilters } from '../../listing.js';
import { authenticate, requireAllowed, type RecordsRoutePlugin } from '../context.js';

/**
 * GET /v1/recordings — list and search (room, participant, from, to, state; limit, cursor), scoped to what
 * the caller may see; GET /v1/recordings/:recordingId — one recording; GET /v1/recordings/:recordingId/audit
 * — its audit trail (events whose subject is the recording: sealing, every access, holds, deletion), for
 * auditors and records officers. All audited (who listed or read what, with which filters and how many
 * results), refusals included.
 */

const ID = '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$';
const ROOM = '^[A-Za-z0-9._:-]{1,128}$';
const SUBJECT = '^[!-~]{1,128}$';
const TIME = '^[0-9]{1,16}$|^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$';

const LIST_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    room: { type: 'string', pattern: ROOM },
    participant: { type: 'string', pattern: SUBJECT },
    from: { type: 'string', pattern: TIME },
    to: { type: 'string', pattern: TIME },
    state: { type: 'string', pattern: '^[a-z][a-z-]{0,31}$' },
    limit: { type: 'string', pattern: '^[1-9][0-9]{0,2}$' },
    cursor: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,200}$' },
  },
} as const;

/** Epoch milliseconds or an ISO 8601 UTC time. */
function timeOf(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^[0-9]+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isSafeInteger(ms)) throw new RecordsError('invalid-request', `${field} must be epoch milliseconds or an ISO 8601 UTC time`, { field });
  return ms;
}

export const listingRoutes: RecordsRoutePlugin = async (app, { deps }) => {
  app.get('/v1/recordings', { schema: { querystring: LIST_QUERY } }, async (request: FastifyRequest) => {
    const principal = await authenticate(deps, request);
    const query = request.query as Record<string, string | undefined>;
    const limit = query.limit === undefined ? undefined : Number(query.limit);
    if (limit !== undefined && limit > MAX_PAGE) throw new RecordsError('invalid-request', `limit must be at most ${MAX_PAGE}`, { field: 'limit' });
    const filters: ListFilters = {
      ...(query.room === undefined ? {} : { room: query.room }),
      ...(query.participant === undefined ? {} : { participant: query.participant }),
      ...(query.state === undefined ? {} : { state: query.state }),
      ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
      ...(limit === undefined ? {} : { limit }),
    };
    const fromMs = timeOf(query.from, 'from');
    const toMs = timeOf(query.to, 'to');
    if (fromMs !== undefined) filters.fromMs = fromMs;
    if (toMs !== undefined) filters.toMs = toMs;
    let page;
    try {
      page = await listRecordings(deps.pool, principal, filters);
    } catch (error) {
      if (error instanceof RecordsError && error.code === 'forbidden') {
        await auditAccess(deps.pool, { event: RECORDS_EVENTS.listed, outcome: 'refused', principal, details: { reason: error.reason } });
      }
      throw error;
    }
    await auditAccess(deps.pool, {
      event: RECORDS_EVENTS.listed,
      principal,
      ...(principal.room ? { roomId: principal.room } : {}),
      details: {
        results: page.recordings.length,
        room: filters.room,
        participant: filters.participant,
        fromMs: filters.fromMs,
        toMs: filters.toMs,
        state: filters.state,
        more: page.nextCursor !== null,
      },
    });
    return page;
  });

  app.get(
    '/v1/recordings/:recordingId/audit',
    {
      schema: {
        params: { type: 'object', additionalProperties: false, required: ['recordingId'], properties: { recordingId: { type: 'string', pattern: ID } } },
        querystring: { type: 'object', additionalProperties: false, properties: { afterSeq: { type: 'string', pattern: '^(0|[1-9][0-9]{0,18})$' }, limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$' } } },
      },
    },
    async (request: FastifyRequest) => {
      const principal = await authenticate(deps, request);
      const { recordingId } = request.params as { recordingId: string };
      const query = request.query as { afterSeq?: string; limit?: string };
      const facts = await loadRecordingFacts(deps.pool, recordingId);
      if (!facts) throw new RecordsError('not-found', `recording ${recordingId} is not in the catalog`, { field: 'recordingId' });
      await requireAllowed(deps, principal, 'audit-read', facts, undefined, RECORDS_EVENTS.auditRead);
      const limit = Math.min(Number(query.limit ?? 500), 1000);
      const { rows } = await deps.pool.query<{ seq: string; occurred_at_ms: string; event: string; outcome: string; actor_role: string | null; actor_id: string | null; room_id: string | null; details: string; row_hash: Buffer }>(
        `select seq::text as seq, occurred_at_ms::text as occurred_at_ms, event, outcome, actor_role, actor_id, room_id, details, row_hash
           from audit_log where subject_id = $1 and seq > $2::bigint order by seq limit ${limit}`,
        [recordingId, query.afterSeq ?? '0'],
      );
      await auditAccess(deps.pool, { event: RECORDS_EVENTS.auditRead, principal, roomId: facts.roomId, subjectId: recordingId, details: { events: rows.length, afterSeq: query.afterSeq ?? '0' } });
      return {
        events: rows.map((r) => ({
          seq: r.seq,
          occurredAtMs: Number(r.occurred_at_ms),
          event: r.event,
          outcome: r.outcome,
          actor: r.actor_role === null ? null : { role: r.actor_role, id: r.actor_id },
          roomId: r.room_id,
          details: JSON.parse(r.details) as Record<string, unknown>,
          rowHash: r.row_hash.toString('hex'),
        })),
        nextAfterSeq: rows.length === limit ? rows[rows.length - 1]!.seq : null,
      };
    },
  );

  app.get('/v1/recordings/:recordingId', { schema: { params: { type: 'object', additionalProperties: false, required: ['recordingId'], properties: { recordingId: { type: 'string', pattern: ID } } } } }, async (request: FastifyRequest) => {
    const principal = await authenticate(deps, request);
    const { recordingId } = request.params as { recordingId: string };
    const found = await getListedRecording(deps.pool, principal, recordingId);
    if (!found) throw new RecordsError('not-found', `recording ${recordingId} is not in the catalog`, { field: 'recordingId' });
    await requireAllowed(deps, principal, 'list', found.facts, undefined, RECORDS_EVENTS.viewed);
    await auditAccess(deps.pool, { event: RECORDS_EVENTS.viewed, principal, roomId: found.facts.roomId, subjectId: recordingId });
    return found.recording;
  });
};
