import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteOptions } from 'fastify';
import type pg from 'pg';
import { readAudit, verifyAuditChain, type ChainReport } from '../audit/index.js';
import { base64Decode, base64Encode, encodeIdentity, type ExternalSenderInfo } from '../e2ee/mls/index.js';
import { API_ERROR_STATUS, ApiError, ERROR_BODY_SCHEMA } from './api-errors.js';
import { describeValidationError } from '../ops/http-api-error.js';
import { listConsents, verifyConsentLedger } from './consent-ledger.js';
import type { Logger } from './logger.js';
import { listPolicyVersions, PURPOSES, type RecordingPolicy, type RecordingPolicyInput } from './recording-policy.js';
import type { RecordingGate } from './recording-gate.js';
import { PLATFORM_ROLES, TokenError, type PlatformRole, type TokenVerifier, type VerifiedToken } from './tokens.js';

/**
 * The key service's HTTP API (Fastify 5): recording policy, consent, the consent ledger, recorder
 * credentials and the audit log. Every route declares a JSON schema (validated; unknown fields refused,
 * nothing coerced) and an authorization rule (checked first, before the body is even parsed; a route without one cannot be
 * registered). Errors are typed (api-errors.ts). The OpenAPI document is served at /openapi.json.
 *
 * Authentication: `Authorization: Bearer <platform JWT>` (tokens.ts). Authorization: the route's roles,
 * and the token's room scope — a token naming a room may only be used for that room.
 */

export interface HttpApiDeps {
  tokens: TokenVerifier;
  logger: Logger;
  /** Absent: recording is not configured; its routes answer 503. */
  recording?: { gate: RecordingGate; pool: pg.Pool };
  externalSender: ExternalSenderInfo;
  /** ws://…/mls, for recorders. */
  deliveryUrl: () => string;
}

/** Who may call a route. `public` routes need no token. */
export type AccessRule = { public: true } | { roles: readonly PlatformRole[]; room?: boolean };

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: AccessRule;
  }
  interface FastifyRequest {
    principal?: VerifiedToken;
  }
}

/** The authorization matrix, in one place (a test walks it). */
export const ACCESS: Readonly<Record<string, AccessRule>> = Object.freeze({
  'GET /healthz': { public: true },
  'GET /openapi.json': { public: true },
  'GET /v1/rooms/:roomId/policy': { roles: ['operator', 'clinician', 'patient', 'records-officer', 'auditor', 'recorder'], room: true },
  'PUT /v1/rooms/:roomId/policy': { roles: ['operator'], room: true },
  'GET /v1/rooms/:roomId/policy/versions': { roles: ['operator', 'records-officer', 'auditor'], room: true },
  'GET /v1/rooms/:roomId/consent-status': { roles: ['operator', 'clinician', 'patient'], room: true },
  'POST /v1/rooms/:roomId/consents': { roles: ['clinician', 'patient'], room: true },
  'GET /v1/rooms/:roomId/consents': { roles: ['records-officer', 'auditor'], room: true },
  'POST /v1/rooms/:roomId/recorder-credentials': { roles: ['recorder'], room: true },
  'GET /v1/audit': { roles: ['auditor'] },
  'GET /v1/audit/verify': { roles: ['auditor'] },
});

const ROOM_PARAMS = {
  type: 'object',
  required: ['roomId'],
  additionalProperties: false,
  properties: { roomId: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' } },
} as const;

const BASE64 = { type: 'string', pattern: '^[A-Za-z0-9+/]*={0,2}$', minLength: 4 } as const;

const POLICY_INPUT = {
  type: 'object',
  required: ['enabled', 'purpose', 'statement'],
  additionalProperties: false,
  properties: {
    enabled: { type: 'boolean' },
    purpose: { type: 'string', enum: [...PURPOSES] },
    customPurpose: { type: 'string', minLength: 1, maxLength: 200 },
    statement: { type: 'string', minLength: 1, maxLength: 4000 },
    retentionDays: { type: 'integer', minimum: 1, maximum: 36500 },
    consentMode: { type: 'string', enum: ['all-party', 'one-party'] },
    part2: { type: 'boolean' },
  },
} as const;

const POLICY = {
  type: 'object',
  properties: {
    roomId: { type: 'string' },
    version: { type: 'integer' },
    enabled: { type: 'boolean' },
    purpose: { type: 'string' },
    customPurpose: { type: 'string' },
    purposeLabel: { type: 'string' },
    statement: { type: 'string' },
    statementSha256: { type: 'string' },
    retentionDays: { type: 'integer' },
    retentionOverridden: { type: 'boolean' },
    consentMode: { type: 'string' },
    part2: { type: 'boolean' },
    accessRoles: { type: 'array', items: { type: 'string' } },
    createdAtMs: { type: 'integer' },
    createdBy: { type: 'object', properties: { role: { type: 'string' }, id: { type: 'string' } } },
  },
} as const;

const CHAIN_REPORT = {
  type: 'object',
  properties: {
    ok: { type: 'boolean' },
    rows: { type: 'integer' },
    head: { type: 'object', nullable: true, properties: { seq: { type: 'string' }, rowHash: { type: 'string' } } },
    problems: { type: 'array', items: { type: 'object', properties: { seq: { type: 'string' }, kind: { type: 'string' }, missing: { type: 'string' } } } },
  },
} as const;

const PAGE_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    afterSeq: { type: 'string', pattern: '^(0|[1-9][0-9]{0,18})$' },
    limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$' },
  },
} as const;

function errors(...codes: Array<keyof typeof API_ERROR_STATUS>): Record<number, unknown> {
  const out: Record<number, unknown> = {};
  for (const code of codes) out[API_ERROR_STATUS[code]] = ERROR_BODY_SCHEMA;
  return out;
}

function policyBody(policy: RecordingPolicy): Record<string, unknown> {
  const { customPurpose, ...rest } = policy;
  return customPurpose === undefined ? rest : { ...rest, customPurpose };
}

function chainBody(report: ChainReport): Record<string, unknown> {
  return {
    ok: report.ok,
    rows: report.rows,
    head: report.head === undefined ? null : { seq: report.head.seq.toString(), rowHash: report.head.rowHash },
    problems: report.problems.map((p) => ({ seq: p.seq.toString(), kind: p.kind, ...('missing' in p ? { missing: p.missing.toString() } : {}) })),
  };
}

export async function buildHttpApi(deps: HttpApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: 64 * 1024,
    // Strict validation: unknown fields are errors, nothing is coerced or defaulted silently.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false } },
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Chaperone key service', version: '1.0.0', description: 'Recording policy, consent ledger, recorder credentials, audit.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
  });

  // Every route must carry an authorization rule, and it must be the one in ACCESS.
  app.addHook('onRoute', (route: RouteOptions) => {
    if (route.method === 'HEAD') return;
    const key = `${String(route.method)} ${route.url}`;
    const rule = route.config?.access;
    if (rule === undefined || ACCESS[key] !== rule) throw new Error(`route ${key} has no (or another) authorization rule than ACCESS`);
  });

  app.addHook('onRequest', async (request: FastifyRequest) => {
    if (request.is404) return; // no route: the not-found handler answers
    const rule = request.routeOptions.config.access;
    if (rule === undefined) throw new ApiError('forbidden', 'this route has no authorization rule');
    if ('public' in rule) return;
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer ([A-Za-z0-9._~+/=-]{1,8192})$/.exec(header) : null;
    if (match === null) throw new ApiError('unauthenticated', 'send a platform token as "Authorization: Bearer <jwt>"', { field: 'authorization' });
    let principal: VerifiedToken;
    try {
      principal = await deps.tokens.verify(match[1]!);
    } catch (error) {
      throw new ApiError('unauthenticated', error instanceof TokenError ? error.message : 'token did not verify', { field: 'authorization' });
    }
    if (!rule.roles.includes(principal.role)) throw new ApiError('forbidden', `the ${principal.role} role may not use this route`);
    if (rule.room) {
      const roomId = (request.params as { roomId?: string }).roomId;
      if (principal.room !== undefined && principal.room !== roomId) throw new ApiError('wrong-room', 'the token is scoped to another room');
    }
    request.principal = principal;
  });

  app.setErrorHandler((error: Error & { validation?: unknown; validationContext?: string; statusCode?: number }, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof ApiError) {
      void reply.status(error.status).send(error.toBody());
      return;
    }
    const invalid = describeValidationError(error, 'body');
    if (invalid) {
      void reply.status(400).send(new ApiError('invalid-request', invalid.message, { field: invalid.field }).toBody());
      return;
    }
    if (error.statusCode === 413) {
      void reply.status(400).send(new ApiError('invalid-request', 'the body is too large', { field: 'body' }).toBody());
      return;
    }
    if (error.statusCode === 400 || error.statusCode === 415) {
      void reply.status(400).send(new ApiError('invalid-request', 'the body must be JSON', { field: 'body' }).toBody());
      return;
    }
    deps.logger.error({ route: request.routeOptions.url, err: error.name }, 'request failed');
    void reply.status(500).send(new ApiError('internal-error', 'the request failed').toBody());
  });

  app.setNotFoundHandler((_request, reply) => {
    void reply.status(404).send(new ApiError('not-found', 'no such route').toBody());
  });

  const recording = (): { gate: RecordingGate; pool: pg.Pool } => {
    if (deps.recording === undefined) throw new ApiError('unavailable', 'recording is not configured on this key service');
    return deps.recording;
  };
  const unavailable = (error: unknown): never => {
    if (error instanceof ApiError) throw error;
    deps.logger.error({ err: error instanceof Error ? error.name : typeof error }, 'storage failed');
    throw new ApiError('unavailable', 'storage is unavailable; nothing changed', { cause: error });
  };
  const security = [{ bearer: [] }];

  app.get('/healthz', { config: { access: ACCESS['GET /healthz']! }, schema: { hide: true } }, async () => ({ ok: true }));
  app.get('/openapi.json', { config: { access: ACCESS['GET /openapi.json']! }, schema: { hide: true } }, async () => app.swagger());

  app.get<{ Params: { roomId: string } }>(
    '/v1/rooms/:roomId/policy',
    {
      config: { access: ACCESS['GET /v1/rooms/:roomId/policy']! },
      schema: {
        summary: "The room's current recording policy",
        security,
        params: ROOM_PARAMS,
        response: { 200: { type: 'object', properties: { policy: POLICY } }, ...errors('unauthenticated', 'forbidden', 'wrong-room', 'no-policy', 'unavailable') },
      },
    },
    async (request) => {
      const policy = await recording().gate.currentPolicy(request.params.roomId).catch(unavailable);
      if (policy === undefined) throw new ApiError('no-policy', 'this room has no recording policy; an operator sets one with PUT');
      return { policy: policyBody(policy) };
    },
  );

  app.put<{ Params: { roomId: string }; Body: RecordingPolicyInput }>(
    '/v1/rooms/:roomId/policy',
    {
      config: { access: ACCESS['PUT /v1/rooms/:roomId/policy']! },
      schema: {
        summary: 'Set the recording policy (a new version; participants must consent again)',
        security,
        params: ROOM_PARAMS,
        body: POLICY_INPUT,
        response: { 201: { type: 'object', properties: { policy: POLICY } }, ...errors('invalid-request', 'unauthenticated', 'forbidden', 'wrong-room', 'unavailable') },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      const policy = await recording()
        .gate.setPolicy(request.params.roomId, request.body, { role: principal.role, id: principal.subject })
        .catch(unavailable);
      return reply.status(201).send({ policy: policyBody(policy) });
    },
  );

  app.get<{ Params: { roomId: string } }>(
    '/v1/rooms/:roomId/policy/versions',
    {
      config: { access: ACCESS['GET /v1/rooms/:roomId/policy/versions']! },
      schema: {
        summary: 'Every version of the room policy, oldest first',
        security,
        params: ROOM_PARAMS,
        response: { 200: { type: 'object', properties: { versions: { type: 'array', items: POLICY } } }, ...errors('unauthenticated', 'forbidden', 'wrong-room', 'unavailable') },
      },
    },
    async (request) => {
      const versions = await listPolicyVersions(recording().pool, request.params.roomId).catch(unavailable);
      return { versions: versions.map(policyBody) };
    },
  );

  app.get<{ Params: { roomId: string } }>(
    '/v1/rooms/:roomId/consent-status',
    {
      config: { access: ACCESS['GET /v1/rooms/:roomId/consent-status']! },
      schema: {
        summary: 'Consent counts in the call now (never who has or has not consented)',
        security,
        params: ROOM_PARAMS,
        response: {
          200: {
            type: 'object',
            properties: {
              policyVersion: { type: 'integer', nullable: true },
              granted: { type: 'integer' },
              required: { type: 'integer' },
              authorized: { type: 'boolean' },
              recorderPresent: { type: 'boolean' },
            },
          },
          ...errors('unauthenticated', 'forbidden', 'wrong-room', 'not-found', 'unavailable'),
        },
      },
    },
    async (request) => {
      const status = await recording().gate.status(request.params.roomId).catch(unavailable);
      if (status === undefined) throw new ApiError('not-found', 'no call is in progress in this room');
      return {
        policyVersion: status.policyVersion ?? null,
        granted: status.granted,
        required: status.required,
        authorized: status.authorized,
        recorderPresent: status.recorderPresent,
      };
    },
  );

  app.post<{ Params: { roomId: string }; Body: { statement: string; signature: string } }>(
    '/v1/rooms/:roomId/consents',
    {
      config: { access: ACCESS['POST /v1/rooms/:roomId/consents']! },
      schema: {
        summary: "Submit a consent statement signed with the caller's MLS leaf key (grant or revoke)",
        security,
        params: ROOM_PARAMS,
        body: {
          type: 'object',
          required: ['statement', 'signature'],
          additionalProperties: false,
          properties: { statement: { ...BASE64, maxLength: 1400 }, signature: { ...BASE64, maxLength: 128 } },
        },
        response: {
          201: { type: 'object', properties: { policyVersion: { type: 'integer' }, decision: { type: 'string' } } },
          ...errors('invalid-request', 'unauthenticated', 'forbidden', 'wrong-room', 'not-a-member', 'consent-refused', 'unavailable'),
        },
      },
    },
    async (request, reply) => {
      const { gate } = recording();
      const statement = base64Decode(request.body.statement);
      const signature = base64Decode(request.body.signature);
      if (statement === undefined) throw new ApiError('invalid-request', 'statement must be canonical padded base64', { field: 'statement' });
      if (signature === undefined) throw new ApiError('invalid-request', 'signature must be canonical padded base64', { field: 'signature' });
      const room = gate.room(request.params.roomId);
      if (room === undefined) throw new ApiError('not-a-member', 'no call is in progress in this room');
      const outcome = await gate.submitConsent(room, { statement, signature, from: { memberId: request.principal!.subject }, via: 'http' });
      if (!outcome.ok) {
        if (outcome.reason === 'not-a-member') throw new ApiError('not-a-member', 'the caller is not a member of the call in this room', { reason: outcome.reason });
        if (outcome.reason === 'unavailable') throw new ApiError('unavailable', 'the statement could not be recorded; nothing changed', { reason: outcome.reason });
        throw new ApiError('consent-refused', `the statement was refused: ${outcome.reason}`, { reason: outcome.reason, field: 'statement' });
      }
      return reply.status(201).send({ policyVersion: outcome.policyVersion, decision: outcome.decision });
    },
  );

  app.get<{ Params: { roomId: string }; Querystring: { afterSeq?: string; limit?: string } }>(
    '/v1/rooms/:roomId/consents',
    {
      config: { access: ACCESS['GET /v1/rooms/:roomId/consents']! },
      schema: {
        summary: 'The consent ledger entries of a room (pseudonymous), each verifiable with its signer key',
        security,
        params: ROOM_PARAMS,
        querystring: PAGE_QUERY,
        response: {
          200: {
            type: 'object',
            properties: {
              entries: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    seq: { type: 'string' },
                    receivedAtMs: { type: 'integer' },
                    groupIdHex: { type: 'string' },
                    memberId: { type: 'string' },
                    leafIndex: { type: 'integer' },
                    policyVersion: { type: 'integer' },
                    purpose: { type: 'string' },
                    statementSha256: { type: 'string' },
                    decision: { type: 'string' },
                    issuedAtMs: { type: 'integer' },
                    statement: { type: 'string' },
                    signature: { type: 'string' },
                    signerKey: { type: 'string' },
                  },
                },
              },
            },
          },
          ...errors('invalid-request', 'unauthenticated', 'forbidden', 'wrong-room', 'unavailable'),
        },
      },
    },
    async (request) => {
      const entries = await listConsents(recording().pool, request.params.roomId, {
        ...(request.query.afterSeq === undefined ? {} : { afterSeq: BigInt(request.query.afterSeq) }),
        ...(request.query.limit === undefined ? {} : { limit: Number(request.query.limit) }),
      }).catch(unavailable);
      return { entries: entries.map((e) => ({ ...e, seq: e.seq.toString() })) };
    },
  );

  app.post<{ Params: { roomId: string }; Body: { jobId: string; signaturePublicKey: string } }>(
    '/v1/rooms/:roomId/recorder-credentials',
    {
      config: { access: ACCESS['POST /v1/rooms/:roomId/recorder-credentials']! },
      schema: {
        summary: 'Issue the recorder credential for a dispatched record job (recorder service only)',
        security,
        params: ROOM_PARAMS,
        body: {
          type: 'object',
          required: ['jobId', 'signaturePublicKey'],
          additionalProperties: false,
          properties: { jobId: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,128}$' }, signaturePublicKey: { ...BASE64, minLength: 44, maxLength: 44 } },
        },
        response: {
          201: {
            type: 'object',
            properties: {
              credential: { type: 'string', description: 'base64 identity bytes (format 2) for the basic credential' },
              recorderId: { type: 'string' },
              name: { type: 'string' },
              roomId: { type: 'string' },
              groupId: { type: 'string' },
              purpose: { type: 'string' },
              notAfter: { type: 'integer' },
              deliveryUrl: { type: 'string' },
              externalSender: { type: 'object', properties: { signaturePublicKey: { type: 'string' }, credential: { type: 'string' } } },
            },
          },
          ...errors('invalid-request', 'unauthenticated', 'forbidden', 'wrong-room', 'not-authorized', 'no-dispatch', 'unavailable'),
        },
      },
    },
    async (request, reply) => {
      const key = base64Decode(request.body.signaturePublicKey);
      if (key === undefined || key.length !== 32) throw new ApiError('invalid-request', 'signaturePublicKey must be base64 of a 32-byte Ed25519 public key', { field: 'signaturePublicKey' });
      const issued = await recording().gate.issueCredential(request.params.roomId, {
        recorderId: request.principal!.subject,
        jobId: request.body.jobId,
        signaturePublicKey: key,
      });
      return reply.status(201).send({
        credential: base64Encode(issued.credential),
        recorderId: issued.identity.id,
        name: issued.identity.name,
        roomId: issued.identity.issuance.room,
        groupId: base64Encode(issued.groupId),
        purpose: issued.identity.issuance.purpose,
        notAfter: issued.identity.issuance.notAfter,
        deliveryUrl: deps.deliveryUrl(),
        externalSender: {
          signaturePublicKey: base64Encode(deps.externalSender.signaturePublicKey),
          credential: base64Encode(encodeIdentity(deps.externalSender.identity)),
        },
      });
    },
  );

  app.get<{ Querystring: { roomId?: string; afterSeq?: string; limit?: string } }>(
    '/v1/audit',
    {
      config: { access: ACCESS['GET /v1/audit']! },
      schema: {
        summary: 'Audit events (pseudonymous), oldest first',
        security,
        querystring: { ...PAGE_QUERY, properties: { ...PAGE_QUERY.properties, roomId: ROOM_PARAMS.properties.roomId } },
        response: { 200: { type: 'object', properties: { events: { type: 'array', items: { type: 'object', additionalProperties: true } } } }, ...errors('invalid-request', 'unauthenticated', 'forbidden', 'unavailable') },
      },
    },
    async (request) => {
      const events = await readAudit(recording().pool, {
        ...(request.query.roomId === undefined ? {} : { roomId: request.query.roomId }),
        ...(request.query.afterSeq === undefined ? {} : { afterSeq: BigInt(request.query.afterSeq) }),
        ...(request.query.limit === undefined ? {} : { limit: Number(request.query.limit) }),
      }).catch(unavailable);
      return { events: events.map((e) => ({ ...e, seq: e.seq.toString() })) };
    },
  );

  app.get(
    '/v1/audit/verify',
    {
      config: { access: ACCESS['GET /v1/audit/verify']! },
      schema: {
        summary: 'Recompute the hash chains of the audit log and the consent ledger',
        security,
        response: { 200: { type: 'object', properties: { auditLog: CHAIN_REPORT, consentLedger: CHAIN_REPORT } }, ...errors('unauthenticated', 'forbidden', 'unavailable') },
      },
    },
    async () => {
      const { pool } = recording();
      const [auditLog, consentLedger] = await Promise.all([verifyAuditChain(pool), verifyConsentLedger(pool)]).catch(unavailable);
      return { auditLog: chainBody(auditLog), consentLedger: chainBody(consentLedger) };
    },
  );

  return app;
}

export { PLATFORM_ROLES };
