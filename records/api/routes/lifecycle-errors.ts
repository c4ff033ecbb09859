import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LifecycleError } from '../../lifecycle/errors.js';

/**
 * The lifecycle routes' errors: a LifecycleError is answered with its own status and stable code in the
 * records API's body shape `{ error: { code, message, field? } }`; anything else goes on to the server's
 * error handler (schema errors, authentication, dependencies), as for every other route.
 */
export function answerLifecycleErrors(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | LifecycleError, _request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof LifecycleError) {
      void reply.status(error.statusCode).send({ error: { code: error.code, message: error.message, ...(error.field ? { field: error.field } : {}) } });
      return;
    }
    throw error;
  });
}
