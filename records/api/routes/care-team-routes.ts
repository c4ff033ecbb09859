import type { FastifyReply, FastifyRequest } from 'fastify';
import { auditAccess, RECORDS_EVENTS } from '../../access-audit.js';
import { authorizeCareTeamChange } from '../../access-policy.js';
import { assignCareTeam, revokeCareTeam } from '../../care-team.js';
import { RecordsError } from '../../errors.js';
import { authenticate, type RecordsRoutePlugin } from '../context.js';

/**
 * PUT /v1/rooms/:roomId/care-team/:clinicianId — assign a clinician to a room's care team;
 * DELETE the same — revoke. Records officers only; audited, refusals included.
 */
const PARAMS = {
  type: 'object',
  additionalProperties: false,
  required: ['roomId', 'clinicianId'],
  properties: { roomId: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' }, clinicianId: { type: 'string', pattern: '^[!-~]{1,128}$' } },
} as const;

export const careTeamRoutes: RecordsRoutePlugin = async (app, { deps }) => {
  const change = (assign: boolean) => async (request: FastifyRequest, reply: FastifyReply) => {
    const principal = await authenticate(deps, request);
    const { roomId, clinicianId } = request.params as { roomId: string; clinicianId: string };
    const event = assign ? RECORDS_EVENTS.careTeamAssigned : RECORDS_EVENTS.careTeamRevoked;
    const decision = authorizeCareTeamChange(principal, roomId);
    if (!decision.allowed) {
      await auditAccess(deps.pool, { event, outcome: 'refused', principal, roomId, subjectId: clinicianId, details: { reason: decision.reason } });
      throw new RecordsError('forbidden', decision.message, { reason: decision.reason });
    }
    if (assign) await assignCareTeam(deps.pool, roomId, clinicianId, principal.subject);
    else if (!(await revokeCareTeam(deps.pool, roomId, clinicianId, principal.subject))) {
      throw new RecordsError('not-found', `clinician ${clinicianId} has no live assignment to room ${roomId}`, { field: 'clinicianId' });
    }
    await auditAccess(deps.pool, { event, principal, roomId, subjectId: clinicianId });
    return reply.status(204).send();
  };
  app.put('/v1/rooms/:roomId/care-team/:clinicianId', { schema: { params: PARAMS } }, change(true));
  app.delete('/v1/rooms/:roomId/care-team/:clinicianId', { schema: { params: PARAMS } }, change(false));
};
