import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { auditAccess, RECORDS_EVENTS } from '../../access-audit.js';
import { loadRecordingFacts, loadTrackFacts, type RecordingFacts } from '../../access-policy.js';
import { createGalleryDerivative, resolveDerivative } from '../../derivatives.js';
import { RecordsError } from '../../errors.js';
import { parseRange } from '../../http-range.js';
import { resolveSegment } from '../../playable.js';
import type { PlaybackTarget } from '../../playback-tokens.js';
import type { Principal } from '../../principal.js';
import { IntegrityError, verifiedPlaintext, type SignedObject } from '../../verified-stream.js';
import { authenticate, requireAllowed, type RecordsApiDeps, type RecordsRoutePlugin } from '../context.js';

/**
 * Playback, in three steps (records/README.md):
 * 1. POST …/tracks/:trackId/segments/:segmentNo/playback-tokens (or …/derivatives/:derivativeId/playback-tokens)
 *    with the platform token → a playback token (opaque, signed, single-use, ≤ 5 min).
 * 2. POST /v1/playback/sessions {token} with the platform token of the same user → a playback session:
 *    its media URL (an opaque session id, nothing else) and its secret, set as an HttpOnly SameSite=Strict
 *    cookie scoped to that URL (what a browser <video> element sends by itself: it cannot add headers)
 *    and returned once in the body (for players that send X-Chaperone-Playback-Secret instead).
 * 3. GET /v1/playback/sessions/:sessionId/media, with the session secret, plain or with one HTTP Range
 *    (seeking) — the streaming-decrypt endpoint (verified-stream.ts: fails closed).
 * Every step is re-authorized (a care-team revocation or a deletion stops a session) and audited, refusals
 * and integrity failures included. POST /v1/recordings/:recordingId/derivatives renders a gallery.
 */

const ID = '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$';
const SESSION_COOKIE = 'chaperone-playback';
const SECRET_HEADER = 'x-chaperone-playback-secret';

const SEGMENT_PARAMS = {
  type: 'object',
  additionalProperties: false,
  required: ['recordingId', 'trackId', 'segmentNo'],
  properties: { recordingId: { type: 'string', pattern: ID }, trackId: { type: 'string', pattern: ID }, segmentNo: { type: 'string', pattern: '^[1-9][0-9]{0,2}$' } },
} as const;
const DERIVATIVE_PARAMS = {
  type: 'object',
  additionalProperties: false,
  required: ['recordingId', 'derivativeId'],
  properties: { recordingId: { type: 'string', pattern: ID }, derivativeId: { type: 'string', pattern: '^dv-[0-9a-f-]{36}$' } },
} as const;
const RECORDING_PARAMS = {
  type: 'object',
  additionalProperties: false,
  required: ['recordingId'],
  properties: { recordingId: { type: 'string', pattern: ID } },
} as const;

function targetDetails(target: PlaybackTarget): Record<string, string | number> {
  return target.kind === 'segment' ? { trackId: target.trackId, segmentNo: target.segmentNo } : { derivativeId: target.derivativeId };
}

/** The policy's answer for playing `target` (a track: that track; a derivative: the whole recording). */
async function authorizePlay(deps: RecordsApiDeps, principal: Principal, target: PlaybackTarget, event: string): Promise<RecordingFacts> {
  const facts = await loadRecordingFacts(deps.pool, target.recordingId);
  if (!facts) throw new RecordsError('not-found', `recording ${target.recordingId} is not in the catalog`, { field: 'recordingId' });
  if (target.kind === 'segment') {
    const track = await loadTrackFacts(deps.pool, target.recordingId, target.trackId);
    if (!track) throw new RecordsError('not-found', `recording ${target.recordingId} has no track ${target.trackId}`, { field: 'trackId' });
    await requireAllowed(deps, principal, 'play', facts, track, event);
  } else {
    await requireAllowed(deps, principal, 'play', facts, undefined, event);
  }
  return facts;
}

/** The object to stream and the signed values to check it against; an integrity failure is audited. */
async function resolveTarget(deps: RecordsApiDeps, principal: Principal, facts: RecordingFacts, target: PlaybackTarget): Promise<{ object: SignedObject; mediaType: string }> {
  try {
    if (target.kind === 'segment') return await resolveSegment(deps.pool, target, deps.trustedSignerKeys);
    return await resolveDerivative(deps.pool, target.recordingId, target.derivativeId, deps.trustedSignerKeys);
  } catch (error) {
    if (error instanceof IntegrityError) throw await integrityFailed(deps, principal, facts, targetDetails(target), error);
    throw error;
  }
}

async function integrityFailed(deps: RecordsApiDeps, principal: Principal, facts: RecordingFacts, what: Record<string, string | number>, error: IntegrityError): Promise<RecordsError> {
  deps.logger.error({ recordingId: facts.recordingId, ...what, problem: error.problem }, 'stored media failed its integrity check; playback refused');
  await auditAccess(deps.pool, {
    event: RECORDS_EVENTS.integrityFailed,
    outcome: 'failed',
    principal,
    roomId: facts.roomId,
    subjectId: facts.recordingId,
    details: { ...what, problem: error.problem },
  });
  return new RecordsError('integrity-failed', 'the stored media does not match its signed manifest: playback refused and the event recorded; run `chaperone verify` and restore from backup', {
    reason: error.problem,
  });
}

function cookieSecret(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === SESSION_COOKIE) return value.join('=');
  }
  return undefined;
}

export const playbackRoutes: RecordsRoutePlugin = async (app, { deps }) => {
  // One render at a time per process (ffmpeg uses every core it gets); later requests wait their turn.
  let renderTail: Promise<unknown> = Promise.resolve();
  const issue = async (request: FastifyRequest, reply: FastifyReply, target: PlaybackTarget) => {
    const principal = await authenticate(deps, request);
    const facts = await authorizePlay(deps, principal, target, RECORDS_EVENTS.tokenIssued);
    // Refuse now what could never be played (not sealed, deleted, integrity) rather than hand out a token.
    await resolveTarget(deps, principal, facts, target);
    const issued = await deps.playback.issue(principal, target);
    await auditAccess(deps.pool, { event: RECORDS_EVENTS.tokenIssued, principal, roomId: facts.roomId, subjectId: target.recordingId, details: { ...targetDetails(target), jti: issued.jti } });
    return reply.status(201).send({ token: issued.token, expiresAtMs: issued.expiresAtMs, redeemAt: '/v1/playback/sessions' });
  };

  app.post('/v1/recordings/:recordingId/tracks/:trackId/segments/:segmentNo/playback-tokens', { schema: { params: SEGMENT_PARAMS } }, async (request, reply) => {
    const p = request.params as { recordingId: string; trackId: string; segmentNo: string };
    return issue(request, reply, { kind: 'segment', recordingId: p.recordingId, trackId: p.trackId, segmentNo: Number(p.segmentNo) });
  });

  app.post('/v1/recordings/:recordingId/derivatives/:derivativeId/playback-tokens', { schema: { params: DERIVATIVE_PARAMS } }, async (request, reply) => {
    const p = request.params as { recordingId: string; derivativeId: string };
    return issue(request, reply, { kind: 'derivative', recordingId: p.recordingId, derivativeId: p.derivativeId });
  });

  app.post(
    '/v1/playback/sessions',
    { schema: { body: { type: 'object', additionalProperties: false, required: ['token'], properties: { token: { type: 'string', minLength: 1, maxLength: 200 } } } } },
    async (request, reply) => {
      const principal = await authenticate(deps, request);
      const { token } = request.body as { token: string };
      let opened;
      try {
        const checked = await deps.playback.inspect(token);
        await authorizePlay(deps, principal, checked.target, RECORDS_EVENTS.sessionOpened);
        opened = await deps.playback.redeem(principal, token);
      } catch (error) {
        if (error instanceof RecordsError && error.code.startsWith('token-')) {
          await auditAccess(deps.pool, { event: RECORDS_EVENTS.sessionOpened, outcome: 'refused', principal, details: { reason: error.code } });
        }
        throw error;
      }
      const facts = (await loadRecordingFacts(deps.pool, opened.target.recordingId))!;
      await auditAccess(deps.pool, {
        event: RECORDS_EVENTS.sessionOpened,
        principal,
        roomId: facts.roomId,
        subjectId: opened.target.recordingId,
        details: { ...targetDetails(opened.target), jti: opened.jti, sessionId: opened.sessionId },
      });
      const path = `/v1/playback/sessions/${opened.sessionId}`;
      const maxAgeSec = Math.max(1, Math.floor((opened.expiresAtMs - Date.now()) / 1000));
      void reply.header('set-cookie', `${SESSION_COOKIE}=${opened.secret}; Path=${path}; Max-Age=${maxAgeSec}; HttpOnly; SameSite=Strict${deps.secureCookies ? '; Secure' : ''}`);
      void reply.header('cache-control', 'no-store');
      return reply.status(201).send({ sessionId: opened.sessionId, url: `${path}/media`, secret: opened.secret, expiresAtMs: opened.expiresAtMs });
    },
  );

  app.get('/v1/playback/sessions/:sessionId/media', { schema: { params: { type: 'object', additionalProperties: false, required: ['sessionId'], properties: { sessionId: { type: 'string', maxLength: 64 } } } } }, async (request, reply) => {
    const { sessionId } = request.params as { sessionId: string };
    const headerSecret = request.headers[SECRET_HEADER];
    let grant;
    try {
      grant = await deps.playback.admit(sessionId, typeof headerSecret === 'string' ? headerSecret : cookieSecret(request));
    } catch (error) {
      if (error instanceof RecordsError) await auditAccess(deps.pool, { event: RECORDS_EVENTS.played, outcome: 'refused', details: { reason: error.code } });
      throw error;
    }
    const principal: Principal = { kind: 'user', subject: grant.subject, role: grant.role as Principal['role'], room: undefined };
    const target = grant.target;
    const facts = await authorizePlay(deps, principal, target, RECORDS_EVENTS.played);
    const { object, mediaType } = await resolveTarget(deps, principal, facts, target);
    const size = object.plaintext.bytes;
    const range = parseRange(typeof request.headers.range === 'string' ? request.headers.range : undefined, size);
    if (range.kind === 'unsatisfiable') {
      void reply.header('content-range', `bytes */${size}`);
      throw new RecordsError('range-not-satisfiable', `the range starts past the end (${size} bytes)`, { field: 'range' });
    }
    const span = range.kind === 'partial' ? { start: range.start, end: range.end } : undefined;
    const stream = verifiedPlaintext(deps, object, { ...(span ? { range: span } : {}), ...(deps.holdBackBytes === undefined ? {} : { holdBackBytes: deps.holdBackBytes }) });
    const base = { principal, roomId: facts.roomId, subjectId: target.recordingId };
    const rangeDetails = { ...targetDetails(target), sessionId, rangeStart: span?.start ?? 0, rangeEnd: span?.end ?? size - 1 };
    // The first bytes are pulled before any header is sent, so a failure up to then is a clean error status
    // (for objects up to the hold-back size: every integrity failure).
    let first: IteratorResult<Buffer>;
    try {
      first = await stream.next();
    } catch (error) {
      if (error instanceof IntegrityError) throw await integrityFailed(deps, principal, facts, targetDetails(target), error);
      await auditAccess(deps.pool, { ...base, event: RECORDS_EVENTS.played, outcome: 'failed', details: { ...rangeDetails, code: (error as { code?: string }).code ?? (error as Error).name } });
      throw error;
    }
    let sent = 0;
    async function* relay(): AsyncGenerator<Buffer> {
      let outcome: 'ok' | 'failed' = 'failed';
      let problem: string | undefined;
      try {
        if (!first.done) {
          sent += first.value.length;
          yield first.value;
          for await (const chunk of stream) {
            sent += chunk.length;
            yield chunk;
          }
        }
        outcome = 'ok';
      } catch (error) {
        if (error instanceof IntegrityError) {
          problem = error.problem;
          await integrityFailed(deps, principal, facts, targetDetails(target), error);
        }
        throw error;
      } finally {
        // A client that went away mid-stream ends here too (outcome failed, bytes sent so far).
        await stream.return(undefined).catch(() => undefined);
        await auditAccess(deps.pool, { ...base, event: RECORDS_EVENTS.played, outcome, details: { ...rangeDetails, bytes: sent, problem } }).catch((error: unknown) =>
          deps.logger.error({ err: (error as Error).name }, 'audit write failed'),
        );
      }
    }
    void reply
      .status(span ? 206 : 200)
      .header('content-type', mediaType)
      .header('accept-ranges', 'bytes')
      .header('content-length', String(span ? span.end - span.start + 1 : size))
      .header('cache-control', 'no-store, private')
      .header('x-content-type-options', 'nosniff')
      .header('content-disposition', 'inline');
    if (span) void reply.header('content-range', `bytes ${span.start}-${span.end}/${size}`);
    return reply.send(Readable.from(relay(), { objectMode: false, highWaterMark: 1024 * 1024 }));
  });

  app.post('/v1/recordings/:recordingId/derivatives', { schema: { params: RECORDING_PARAMS, body: { type: 'object', additionalProperties: false, required: ['kind'], properties: { kind: { type: 'string', enum: ['gallery'] } } } } }, async (request, reply) => {
    const principal = await authenticate(deps, request);
    const { recordingId } = request.params as { recordingId: string };
    const facts = await loadRecordingFacts(deps.pool, recordingId);
    if (!facts) throw new RecordsError('not-found', `recording ${recordingId} is not in the catalog`, { field: 'recordingId' });
    await requireAllowed(deps, principal, 'derive', facts, undefined, RECORDS_EVENTS.derivativeCreated);
    try {
      const turn = renderTail.then(() => createGalleryDerivative(deps, principal, recordingId));
      renderTail = turn.catch(() => undefined);
      const derivative = await turn;
      return reply.status(201).send(derivative);
    } catch (error) {
      if (error instanceof IntegrityError) throw await integrityFailed(deps, principal, facts, { action: 'derive' }, error);
      throw error;
    }
  });
};
