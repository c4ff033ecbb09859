import type { FastifyInstance, FastifyRequest } from 'fastify';
import type pg from 'pg';
import type { TokenVerifier } from '../../keyservice/tokens.js';
import type { KeyRoot } from '../../queue/keys/key-root.js';
import type { Logger } from '../../queue/logger.js';
import type { ManifestSigner } from '../../queue/manifest-signer.js';
import type { ObjectStore } from '../../queue/object-store.js';
import { auditAccess, RECORDS_EVENTS } from '../access-audit.js';
import { authorize, type RecordAction, type RecordingFacts, type TrackFacts } from '../access-policy.js';
import { RecordsError } from '../errors.js';
import type { PlaybackTokens } from '../playback-tokens.js';
import { AuthenticationError, authenticateBearer, type Principal } from '../principal.js';

/**
 * What every route plugin of the records API gets (server.ts registers each plugin with `{ deps }`), and
 * the two steps every route takes first: `authenticate` (platform token → Principal; a failure is
 * audited) and `requireAllowed` (access-policy.ts; a refusal is audited with its reason).
 */
export interface RecordsApiDeps {
  pool: pg.Pool;
  store: ObjectStore;
  keyRoot: KeyRoot;
  /** Signs derivative records; its public key is among `trustedSignerKeys`. */
  signer: ManifestSigner;
  /** DER SPKI keys whose manifest (and derivative record) signatures are trusted. */
  trustedSignerKeys: readonly Buffer[];
  tokens: TokenVerifier;
  playback: PlaybackTokens;
  logger: Logger;
  /** Bytes held back until a stream is verified (verified-stream.ts); default 8 MiB. */
  holdBackBytes?: number;
  /** Private directory for the plaintext of derivative renders (tmpfs or encrypted storage). */
  workDir: string;
  /** ESDK frame length for derivatives. */
  frameLengthBytes: number;
  /** Mark playback cookies Secure (production: always, the service is behind TLS). */
  secureCookies: boolean;
}

export interface RecordsRoutePluginOptions {
  deps: RecordsApiDeps;
}

/** A route plugin: `app.register(plugin, { deps })`. */
export type RecordsRoutePlugin = (app: FastifyInstance, options: RecordsRoutePluginOptions) => Promise<void>;

/** Verifies the platform bearer token; an unauthenticated call is refused (401) and audited. */
export async function authenticate(deps: RecordsApiDeps, request: FastifyRequest): Promise<Principal> {
  try {
    return await authenticateBearer(deps.tokens, request.headers.authorization);
  } catch (error) {
    if (!(error instanceof AuthenticationError)) throw error;
    await auditAccess(deps.pool, { event: RECORDS_EVENTS.unauthenticated, outcome: 'refused', details: { route: request.routeOptions.url ?? 'unknown', reason: error.message.slice(0, 120) } });
    throw new RecordsError('unauthenticated', error.message, { field: 'authorization' });
  }
}

/**
 * Throws 403 (audited under `event` with outcome refused and the policy's reason) unless the policy
 * allows `action`. The refusal message says why, never more than ids.
 */
export async function requireAllowed(
  deps: RecordsApiDeps,
  principal: Principal,
  action: RecordAction,
  facts: RecordingFacts,
  track: TrackFacts | undefined,
  event: string,
): Promise<void> {
  const decision = authorize(principal, action, facts, track);
  if (decision.allowed) return;
  await auditAccess(deps.pool, {
    event,
    outcome: 'refused',
    principal,
    roomId: facts.roomId,
    subjectId: facts.recordingId,
    details: { action, reason: decision.reason, trackId: track?.trackId },
  });
  throw new RecordsError('forbidden', decision.message, { reason: decision.reason });
}
