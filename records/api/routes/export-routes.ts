import { PassThrough } from 'node:stream';
import { systemClock, type Clock } from '../../lifecycle/clock.js';
import { exportBundle } from '../../export/export-bundle.js';
import { authenticate, type RecordsApiDeps, type RecordsRoutePlugin } from '../context.js';
import { answerLifecycleErrors } from './lifecycle-errors.js';

/**
 * POST /v1/recordings/:recordingId/exports {scope?, participantId?, recipientPublicKey} → 200
 * application/x-tar: the right-of-access bundle (records/export/export-bundle.ts) encrypted to the
 * recipient's RSA public key, streamed. A patient asks for their own tracks; a records officer for a
 * participant's tracks or (scope "recording") the whole recording. Every object is checked against the
 * signed manifest before the first byte is sent, so refusals and integrity failures get their status and
 * code; a failure after that cuts the response short (the bundle's HMAC is never sent, so a cut bundle
 * cannot pass DECRYPT.txt's check). Audited, refusals included.
 */

const ID = '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$';

export const exportRoutes: RecordsRoutePlugin = async (app, { deps: base }) => {
  const deps = base as RecordsApiDeps & { lifecycle?: { clock?: Clock } };
  answerLifecycleErrors(app);
  app.post(
    '/v1/recordings/:recordingId/exports',
    {
      schema: {
        params: { type: 'object', additionalProperties: false, required: ['recordingId'], properties: { recordingId: { type: 'string', pattern: ID } } },
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['recipientPublicKey'],
          properties: { scope: { type: 'string', enum: ['participant', 'recording'] }, participantId: { type: 'string', pattern: '^[!-~]{1,128}$' }, recipientPublicKey: { type: 'string', maxLength: 16384 } },
        },
      },
    },
    async (request, reply) => {
      const principal = await authenticate(deps, request);
      const { recordingId } = request.params as { recordingId: string };
      const body = request.body as { scope?: string; participantId?: string; recipientPublicKey: string };
      let started: () => void = () => undefined;
      const firstByte = new Promise<void>((resolve) => (started = resolve));
      const out = new PassThrough({
        transform(chunk: Buffer, _encoding, callback) {
          started();
          callback(null, chunk);
        },
      });
      const running = exportBundle(
        { pool: deps.pool, store: deps.store, keyRoot: deps.keyRoot, trustedSignerKeys: deps.trustedSignerKeys, clock: deps.lifecycle?.clock ?? systemClock, logger: deps.logger },
        principal,
        { recordingId, ...(body.scope ? { scope: body.scope } : {}), ...(body.participantId ? { participantId: body.participantId } : {}), recipientPublicKey: body.recipientPublicKey },
        out,
      );
      // Refusals and integrity failures come before the first byte: answer them with their status.
      await Promise.race([firstByte, running]);
      running.then(
        () => out.end(),
        (error: unknown) => out.destroy(error as Error),
      );
      return reply
        .header('content-type', 'application/x-tar')
        .header('content-disposition', `attachment; filename="chaperone-export-${recordingId}.tar"`)
        .header('cache-control', 'no-store')
        .send(out);
    },
  );
};
