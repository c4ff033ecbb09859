import { PassThrough } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { systemClock, type Clock } from '../../lifecycle/clock.js';
import { badInput } from '../../lifecycle/errors.js';
import { exportBundle, type ExportDeps, type ExportResult } from '../../export/export-bundle.js';
import { issueDownload, redeemDownload } from '../../export/one-time-download.js';
import { authenticate, type RecordsApiDeps, type RecordsRoutePlugin } from '../context.js';
import { answerLifecycleErrors } from './lifecycle-errors.js';

/**
 * Right-of-access exports (records/export/). A patient asks for their own tracks; a records officer for a
 * participant's tracks or (scope "recording") the whole recording. Two deliveries:
 *
 *   POST /v1/recordings/:recordingId/exports {scope?, participantId?, recipientPublicKey}
 *        → 200 application/x-tar, the bundle encrypted to the recipient's RSA key (open it with DECRYPT.txt)
 *   POST /v1/recordings/:recordingId/exports {scope?, participantId?, delivery: "one-time-download"}
 *        → 201 {downloadId, token, expiresAtMs}: a single-use link for the caller
 *   POST /v1/exports/download   (header x-chaperone-download-token: <token>, the same caller's bearer token)
 *        → 200 application/x-tar, the bundle itself over TLS; once
 *
 * Every object is checked against the signed manifest before the first byte is sent, so refusals and
 * integrity failures get their status and code; a failure after that cuts the response short (for the
 * encrypted bundle its HMAC is never sent, so a cut bundle cannot pass DECRYPT.txt's check; a cut plain tar
 * fails `tar` and README's sha256sum step). Audited, refusals included. Tokens are never in URLs.
 */

const ID = '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$';

type Deps = RecordsApiDeps & { lifecycle?: { clock?: Clock; downloadTtlMs?: number } };

/** Streams what `produce` writes; answers its error with a status if it fails before the first byte. */
async function streamTar(reply: FastifyReply, filename: string, produce: (out: PassThrough) => Promise<ExportResult>): Promise<FastifyReply> {
  let started: () => void = () => undefined;
  const firstByte = new Promise<void>((resolve) => (started = resolve));
  const out = new PassThrough({
    transform(chunk: Buffer, _encoding, callback) {
      started();
      callback(null, chunk);
    },
  });
  const running = produce(out);
  await Promise.race([firstByte, running]);
  running.then(
    () => out.end(),
    (error: unknown) => out.destroy(error as Error),
  );
  return reply.header('content-type', 'application/x-tar').header('content-disposition', `attachment; filename="${filename}"`).header('cache-control', 'no-store').send(out);
}

export const exportRoutes: RecordsRoutePlugin = async (app, { deps: base }) => {
  const deps = base as Deps;
  const exportDeps = (): ExportDeps => ({
    pool: deps.pool,
    store: deps.store,
    keyRoot: deps.keyRoot,
    trustedSignerKeys: deps.trustedSignerKeys,
    clock: deps.lifecycle?.clock ?? systemClock,
    logger: deps.logger,
  });
  answerLifecycleErrors(app);

  app.post(
    '/v1/recordings/:recordingId/exports',
    {
      schema: {
        params: { type: 'object', additionalProperties: false, required: ['recordingId'], properties: { recordingId: { type: 'string', pattern: ID } } },
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            scope: { type: 'string', enum: ['participant', 'recording'] },
            participantId: { type: 'string', pattern: '^[!-~]{1,128}$' },
            delivery: { type: 'string', enum: ['recipient-key', 'one-time-download'] },
            recipientPublicKey: { type: 'string', maxLength: 16384 },
          },
        },
      },
    },
    async (request, reply) => {
      const principal = await authenticate(deps, request);
      const { recordingId } = request.params as { recordingId: string };
      const body = request.body as { scope?: string; participantId?: string; delivery?: string; recipientPublicKey?: string };
      const target = { recordingId, ...(body.scope ? { scope: body.scope } : {}), ...(body.participantId ? { participantId: body.participantId } : {}) };
      if (body.delivery === 'one-time-download') {
        if (body.recipientPublicKey !== undefined) throw badInput('recipientPublicKey', 'is not used with delivery "one-time-download": leave it out, or choose delivery "recipient-key"');
        const issued = await issueDownload(exportDeps(), principal, target, deps.lifecycle?.downloadTtlMs);
        return reply.status(201).header('cache-control', 'no-store').send({ ...issued, download: { method: 'POST', path: '/v1/exports/download', header: 'x-chaperone-download-token' } });
      }
      return streamTar(reply, `chaperone-export-${recordingId}.tar`, (out) => exportBundle(exportDeps(), principal, { ...target, recipientPublicKey: body.recipientPublicKey }, out));
    },
  );

  app.post('/v1/exports/download', async (request, reply) => {
    const principal = await authenticate(deps, request);
    const token = request.headers['x-chaperone-download-token'];
    return streamTar(reply, 'chaperone-export.tar', (out) => redeemDownload(exportDeps(), principal, token, out));
  });
};
