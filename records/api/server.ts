import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { describeValidationError } from '../../ops/http-api-error.js';
import { SealError } from '../../queue/errors.js';
import { RecordsError } from '../errors.js';
import type { RecordsApiDeps, RecordsRoutePlugin } from './context.js';
import { careTeamRoutes } from './routes/care-team-routes.js';
import { exportRoutes } from './routes/export-routes.js';
import { lifecycleRoutes } from './routes/lifecycle-routes.js';
import { listingRoutes } from './routes/listing-routes.js';
import { playbackRoutes } from './routes/playback-routes.js';

/**
 * The records access API (Fastify 5): list and search, playback tokens and sessions, the streaming-decrypt
 * endpoint, composited derivatives — and the lifecycle routes (export, hold, release, delete) registered
 * beside them. Each file in routes/ is one plugin; ROUTE_PLUGINS is the list, one line per plugin.
 *
 * Every route authenticates the platform token itself (context.ts `authenticate`) and asks the access
 * policy (`requireAllowed`); schemas refuse unknown fields and coerce nothing. Errors are typed
 * (errors.ts): `{ error: { code, message, field?, reason? } }`.
 */
export const ROUTE_PLUGINS: readonly RecordsRoutePlugin[] = [
  listingRoutes,
  playbackRoutes,
  careTeamRoutes,
  lifecycleRoutes,
  exportRoutes,
];

export async function buildRecordsApi(deps: RecordsApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: 64 * 1024,
    // A HEAD of the media route would decrypt the whole object to send nothing.
    exposeHeadRoutes: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false } },
  });

  app.setErrorHandler((error: Error & { validation?: unknown; validationContext?: string; statusCode?: number }, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof RecordsError) {
      void reply.status(error.status).send(error.toBody());
      return;
    }
    const invalid = describeValidationError(error, 'request');
    if (invalid) {
      void reply.status(400).send(new RecordsError('invalid-request', invalid.message, { field: invalid.field }).toBody());
      return;
    }
    if (error instanceof SealError && error.code === 'CHAP_SEAL_KEY_DESTROYED') {
      void reply.status(410).send(new RecordsError('gone', 'the key of this media was destroyed (deleted); it can no longer be played').toBody());
      return;
    }
    if (error instanceof SealError && /UNAVAILABLE|DB_/.test(error.code)) {
      void reply.status(503).send(new RecordsError('unavailable', `a dependency is unavailable (${error.code}); nothing changed — retry`).toBody());
      return;
    }
    if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      void reply.status(error.statusCode).send(new RecordsError('invalid-request', error.message.slice(0, 200)).toBody());
      return;
    }
    deps.logger.error({ route: request.routeOptions.url, err: error.name, code: (error as { code?: string }).code }, 'records request failed');
    void reply.status(500).send(new RecordsError('internal-error', 'internal error').toBody());
  });

  app.get('/healthz', async () => ({ ok: true }));
  for (const plugin of ROUTE_PLUGINS) await app.register(plugin, { deps });
  return app;
}
