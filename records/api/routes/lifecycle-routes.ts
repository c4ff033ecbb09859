import { systemClock, type Clock } from '../../lifecycle/clock.js';
import { getDeletion, listDeletions, requestDeletion, runDeletion, type DeletionDeps } from '../../lifecycle/deletion.js';
import { LifecycleError } from '../../lifecycle/errors.js';
import { listHolds, placeHold, releaseHold } from '../../lifecycle/legal-hold.js';
import type { PurgeTarget } from '../../lifecycle/object-purge.js';
import { requireAllowed } from '../../lifecycle/authorization.js';
import { listTombstones } from '../../lifecycle/tombstone.js';
import { authenticate, type RecordsApiDeps, type RecordsRoutePlugin } from '../context.js';
import { answerLifecycleErrors } from './lifecycle-errors.js';

/**
 * Legal hold and deletion over HTTP (records officers; the access policy decides, every refusal audited):
 *
 *   POST /v1/recordings/:recordingId/legal-hold            {reason}                        201 the hold
 *   POST /v1/recordings/:recordingId/legal-hold/release    {reason}                        200 the released hold
 *   GET  /v1/recordings/:recordingId/legal-holds                                           200 holds (officers, auditors)
 *   POST /v1/recordings/:recordingId/deletions             {trackId?, reasonCode, reason}  200 the completed deletion
 *   POST /v1/recordings/:recordingId/deletions/:deletionId/resume                          200 the completed deletion
 *   GET  /v1/recordings/:recordingId/deletions                                             200 deletions + tombstones
 *
 * A deletion runs to completion inside the request (small: keys, then object versions); if S3 is away it
 * answers 503 with the deletion id and stays recorded — resume it here, with `chaperone delete --resume`,
 * or let the next retention sweep finish it. Deletion needs `lifecycle.purge` (the S3 client, bucket and
 * whether the endpoint may lack ListObjectVersions) in the API's deps; without it deletions answer 503.
 */

export interface LifecycleApiOptions {
  purge: PurgeTarget;
  clock?: Clock;
}

type Deps = RecordsApiDeps & { lifecycle?: LifecycleApiOptions };

const ID = '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$';
const PARAMS = { type: 'object', additionalProperties: false, required: ['recordingId'], properties: { recordingId: { type: 'string', pattern: ID } } } as const;
const REASON_BODY = { type: 'object', additionalProperties: false, required: ['reason'], properties: { reason: { type: 'string', minLength: 1, maxLength: 600 } } } as const;
const DELETION_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['reasonCode', 'reason'],
  properties: { trackId: { type: 'string', pattern: ID }, reasonCode: { type: 'string' }, reason: { type: 'string', minLength: 1, maxLength: 600 } },
} as const;

function deletionDeps(deps: Deps): DeletionDeps {
  if (!deps.lifecycle) throw new LifecycleError('CHAP_RECORDS_STORE_UNAVAILABLE', 'deletion is not configured on this records service (lifecycle.purge): use chaperone delete, or configure it');
  return { pool: deps.pool, purge: deps.lifecycle.purge, clock: deps.lifecycle.clock ?? systemClock, logger: deps.logger };
}

export const lifecycleRoutes: RecordsRoutePlugin = async (app, { deps: base }) => {
  const deps = base as Deps;
  const clock = () => deps.lifecycle?.clock ?? systemClock;
  answerLifecycleErrors(app);

  app.post('/v1/recordings/:recordingId/legal-hold', { schema: { params: PARAMS, body: REASON_BODY } }, async (request, reply) => {
    const principal = await authenticate(deps, request);
    const { recordingId } = request.params as { recordingId: string };
    const hold = await placeHold({ pool: deps.pool, clock: clock() }, principal, { recordingId, reason: (request.body as { reason: string }).reason });
    return reply.status(201).send({ hold });
  });

  app.post('/v1/recordings/:recordingId/legal-hold/release', { schema: { params: PARAMS, body: REASON_BODY } }, async (request) => {
    const principal = await authenticate(deps, request);
    const { recordingId } = request.params as { recordingId: string };
    return { hold: await releaseHold({ pool: deps.pool, clock: clock() }, principal, { recordingId, reason: (request.body as { reason: string }).reason }) };
  });

  app.get('/v1/recordings/:recordingId/legal-holds', { schema: { params: PARAMS } }, async (request) => {
    const principal = await authenticate(deps, request);
    const { recordingId } = request.params as { recordingId: string };
    await requireAllowed(deps.pool, principal, 'audit-read', recordingId);
    return { holds: await listHolds(deps.pool, recordingId) };
  });

  app.post('/v1/recordings/:recordingId/deletions', { schema: { params: PARAMS, body: DELETION_BODY } }, async (request) => {
    const principal = await authenticate(deps, request);
    const { recordingId } = request.params as { recordingId: string };
    const body = request.body as { trackId?: string; reasonCode: string; reason: string };
    const ddeps = deletionDeps(deps);
    const { deletion } = await requestDeletion(ddeps, principal, { recordingId, trackId: body.trackId, reasonCode: body.reasonCode, reason: body.reason });
    return { deletion: await runWithId(ddeps, deletion.deletionId) };
  });

  app.post(
    '/v1/recordings/:recordingId/deletions/:deletionId/resume',
    { schema: { params: { ...PARAMS, required: ['recordingId', 'deletionId'], properties: { ...PARAMS.properties, deletionId: { type: 'string', pattern: '^del-[0-9a-f-]{36}$' } } } } },
    async (request) => {
      const principal = await authenticate(deps, request);
      const { recordingId, deletionId } = request.params as { recordingId: string; deletionId: string };
      const ddeps = deletionDeps(deps);
      const existing = await getDeletion(deps.pool, deletionId);
      if (!existing || existing.recordingId !== recordingId) throw new LifecycleError('CHAP_RECORDS_BAD_INPUT', `recording ${recordingId} has no deletion ${deletionId}`, 'deletionId');
      await requireAllowed(deps.pool, principal, 'delete', recordingId, existing.trackId);
      return { deletion: await runWithId(ddeps, deletionId) };
    },
  );

  app.get('/v1/recordings/:recordingId/deletions', { schema: { params: PARAMS } }, async (request) => {
    const principal = await authenticate(deps, request);
    const { recordingId } = request.params as { recordingId: string };
    await requireAllowed(deps.pool, principal, 'audit-read', recordingId);
    return { deletions: await listDeletions(deps.pool, recordingId), tombstones: await listTombstones(deps.pool, recordingId) };
  });
};

/** Runs a deletion; an interruption is answered with the deletion id so the caller can resume it. */
async function runWithId(deps: DeletionDeps, deletionId: string) {
  try {
    return await runDeletion(deps, deletionId);
  } catch (error) {
    if (error instanceof LifecycleError) {
      throw new LifecycleError(error.code, `deletion ${deletionId} stopped: ${error.message} (resume: POST …/deletions/${deletionId}/resume)`, error.field, { cause: error });
    }
    throw error;
  }
}
