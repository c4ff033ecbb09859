import { readAudit } from '../audit/index.js';
import { generateLocalExternalSender } from './external-sender.js';
import { ACCESS } from './http-api.js';
import { startKeyService, type KeyService } from './key-service.js';
import { MemoryRecorderDispatcher } from './recorder-dispatcher.js';
import { startTestDatabase, type TestDatabase } from './test-support.js';
import { PLATFORM_ROLES, createDevTokenAuthority, type DevTokenAuthority, type PlatformRole } from './tokens.js';

/** The HTTP API against a real PostgreSQL: the whole role × route matrix, validation, OpenAPI. */

const ROOM = 'room-api';
const STATEMENT = 'This visit will be recorded for quality review. Do you agree?';

let db: TestDatabase;
let service: KeyService;
let tokens: DevTokenAuthority;

beforeAll(async () => {
  db = await startTestDatabase();
  tokens = await createDevTokenAuthority();
  service = await startKeyService({
    host: '127.0.0.1',
    port: 0,
    tokens: tokens.verifier,
    externalSender: await generateLocalExternalSender(),
    recording: { pool: db.pool, dispatcher: new MemoryRecorderDispatcher(), sfuRoomFor: () => 1 },
  });
}, 60_000);

afterAll(async () => {
  await service?.close();
  await db?.stop();
});

async function tokenFor(role: PlatformRole, room: string | undefined = ROOM): Promise<string> {
  const scoped = role === 'patient' || role === 'clinician';
  return tokens.issue({ sub: `${role}-1`, role, ...(scoped ? { room } : {}) });
}

async function call(method: string, path: string, options: { token?: string; body?: unknown; rawBody?: string } = {}) {
  const response = await fetch(`${service.url}${path}`, {
    method,
    headers: {
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...(options.body === undefined && options.rawBody === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(options.body === undefined ? (options.rawBody === undefined ? {} : { body: options.rawBody }) : { body: JSON.stringify(options.body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>) };
}

const policyBody = { enabled: true, purpose: 'quality-review', statement: STATEMENT };

/** A request each route accepts from an allowed caller (its outcome may still be 404/409). */
const REQUESTS: Record<string, { method: string; path: string; body?: unknown }> = {
  'GET /v1/rooms/:roomId/policy': { method: 'GET', path: `/v1/rooms/${ROOM}/policy` },
  'PUT /v1/rooms/:roomId/policy': { method: 'PUT', path: `/v1/rooms/${ROOM}/policy`, body: policyBody },
  'GET /v1/rooms/:roomId/policy/versions': { method: 'GET', path: `/v1/rooms/${ROOM}/policy/versions` },
  'GET /v1/rooms/:roomId/consent-status': { method: 'GET', path: `/v1/rooms/${ROOM}/consent-status` },
  'POST /v1/rooms/:roomId/consents': { method: 'POST', path: `/v1/rooms/${ROOM}/consents`, body: { statement: 'AQID', signature: 'AQID' } },
  'GET /v1/rooms/:roomId/consents': { method: 'GET', path: `/v1/rooms/${ROOM}/consents` },
  'POST /v1/rooms/:roomId/recorder-credentials': {
    method: 'POST',
    path: `/v1/rooms/${ROOM}/recorder-credentials`,
    body: { jobId: 'rec-none', signaturePublicKey: Buffer.alloc(32, 1).toString('base64') },
  },
  'GET /v1/audit': { method: 'GET', path: '/v1/audit' },
  'GET /v1/audit/verify': { method: 'GET', path: '/v1/audit/verify' },
  'GET /healthz': { method: 'GET', path: '/healthz' },
  'GET /openapi.json': { method: 'GET', path: '/openapi.json' },
};

describe('key service HTTP API', () => {
  beforeAll(async () => {
    expect((await call('PUT', `/v1/rooms/${ROOM}/policy`, { token: await tokenFor('operator'), body: policyBody })).status).toBe(201);
  });

  test('walks the whole role × route matrix', async () => {
    expect(Object.keys(REQUESTS).sort()).toEqual(Object.keys(ACCESS).sort());
    const matrix: string[] = [];
    for (const [route, rule] of Object.entries(ACCESS)) {
      const request = REQUESTS[route]!;
      if ('public' in rule) {
        expect((await call(request.method, request.path)).status).toBe(200);
        continue;
      }
      const anonymous = await call(request.method, request.path, request.body === undefined ? {} : { body: request.body });
      expect({ route, status: anonymous.status, code: (anonymous.body?.error as { code?: string })?.code }).toEqual({ route, status: 401, code: 'unauthenticated' });
      const forged = await call(request.method, request.path, { token: 'eyJhbGciOiJub25lIn0.e30.', ...(request.body === undefined ? {} : { body: request.body }) });
      expect(forged.status).toBe(401);
      for (const role of PLATFORM_ROLES) {
        const result = await call(request.method, request.path, { token: await tokenFor(role), ...(request.body === undefined ? {} : { body: request.body }) });
        const allowed = rule.roles.includes(role);
        matrix.push(`${route} ${role} ${result.status}`);
        if (allowed) expect({ route, role, refused: [401, 403, 500].includes(result.status) }).toEqual({ route, role, refused: false });
        else expect({ route, role, status: result.status, code: (result.body?.error as { code?: string })?.code }).toEqual({ route, role, status: 403, code: 'forbidden' });
        // A token scoped to another room is refused for room routes, whatever the role.
        if (allowed && rule.room && (role === 'patient' || role === 'clinician')) {
          const elsewhere = await call(request.method, request.path, { token: await tokenFor(role, 'room-other'), ...(request.body === undefined ? {} : { body: request.body }) });
          expect({ route, role, status: elsewhere.status, code: (elsewhere.body?.error as { code?: string })?.code }).toEqual({ route, role, status: 403, code: 'wrong-room' });
        }
      }
    }
    expect(matrix).toHaveLength((Object.keys(ACCESS).length - 2) * PLATFORM_ROLES.length);
  });

  test.each([
    ['an unknown field', { ...policyBody, extra: 1 }, 'extra', /not a known field/],
    ['a missing statement', { enabled: true, purpose: 'supervision' }, 'statement', /statement/],
    ['an unknown purpose', { ...policyBody, purpose: 'marketing' }, 'purpose', /purpose/],
    ['a custom purpose without its text', { ...policyBody, purpose: 'custom', retentionDays: 30 }, 'customPurpose', /customPurpose is required/],
    ['a custom purpose without retention', { ...policyBody, purpose: 'custom', customPurpose: 'Teaching' }, 'retentionDays', /retentionDays is required/],
    ['one-party under 42 CFR Part 2', { ...policyBody, part2: true, consentMode: 'one-party' }, 'consentMode', /Part 2/],
    ['a string where a boolean belongs', { ...policyBody, enabled: 'yes' }, 'enabled', /boolean/],
    ['a statement with a control character', { ...policyBody, statement: 'Agree?\u0007' }, 'statement', /control/],
  ])('refuses a policy with %s: 400 naming the field and the fix', async (_what, body, field, message) => {
    const result = await call('PUT', `/v1/rooms/${ROOM}/policy`, { token: await tokenFor('operator'), body });
    expect(result.status).toBe(400);
    expect(result.body).toMatchObject({ error: { code: 'invalid-request', field, message: expect.stringMatching(message) } });
  });

  test('refuses a body that is not JSON, and unknown routes, with typed errors', async () => {
    const notJson = await call('PUT', `/v1/rooms/${ROOM}/policy`, { token: await tokenFor('operator'), rawBody: '{nope' });
    expect(notJson).toMatchObject({ status: 400, body: { error: { code: 'invalid-request', field: 'body' } } });
    expect(await call('GET', '/v1/nothing-here')).toMatchObject({ status: 404, body: { error: { code: 'not-found' } } });
    const badRoom = await call('GET', '/v1/rooms/bad%20room/policy', { token: await tokenFor('operator') });
    expect(badRoom).toMatchObject({ status: 400, body: { error: { code: 'invalid-request', field: 'params.roomId' } } });
  });

  test('versions policies, resolves retention per purpose, narrows access under Part 2, and audits each change', async () => {
    const room = 'room-versions';
    const operator = await tokenFor('operator');
    const put = (body: unknown) => call('PUT', `/v1/rooms/${room}/policy`, { token: operator, body });
    expect((await call('GET', `/v1/rooms/${room}/policy`, { token: operator })).body).toMatchObject({ error: { code: 'no-policy' } });
    const v1 = (await put({ enabled: true, purpose: 'medical-record', statement: STATEMENT })).body!.policy as Record<string, unknown>;
    expect(v1).toMatchObject({ version: 1, retentionDays: 3650, retentionOverridden: false, consentMode: 'all-party', part2: false, accessRoles: ['clinician', 'records-officer'] });
    const v2 = (await put({ enabled: true, purpose: 'ai-scribe', statement: STATEMENT, retentionDays: 7, part2: true })).body!.policy as Record<string, unknown>;
    expect(v2).toMatchObject({ version: 2, purposeLabel: 'AI scribe (automated visit notes)', retentionDays: 7, retentionOverridden: true, part2: true, accessRoles: ['records-officer'] });
    const v3 = (await put({ enabled: false, purpose: 'custom', customPurpose: 'Teaching file', statement: STATEMENT, retentionDays: 90, consentMode: 'one-party' })).body!.policy;
    expect(v3).toMatchObject({ version: 3, purposeLabel: 'Teaching file', consentMode: 'one-party', enabled: false });
    const versions = (await call('GET', `/v1/rooms/${room}/policy/versions`, { token: await tokenFor('auditor') })).body!.versions as Array<{ version: number }>;
    expect(versions.map((v) => v.version)).toEqual([1, 2, 3]);
    const audit = await readAudit(db.pool, { roomId: room });
    expect(audit.filter((e) => e.event === 'policy.changed').map((e) => e.details.version)).toEqual([1, 2, 3]);
    expect(audit[0]).toMatchObject({ actorRole: 'operator', actorId: 'operator-1' });
    expect(JSON.stringify(audit.map((e) => e.details))).not.toContain('Teaching');
    // History is append-only in the database too.
    await expect(db.pool.query('update recording_policies set enabled = true')).rejects.toMatchObject({ code: '42501' });
    await expect(db.admin.query('delete from recording_policies')).rejects.toMatchObject({ code: 'CHA01' });
  });

  test('serves an OpenAPI document describing every route, with schemas and the bearer scheme', async () => {
    const doc = (await call('GET', '/openapi.json')).body as { openapi: string; paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>> };
    expect(doc.openapi).toMatch(/^3\./);
    for (const route of Object.keys(ACCESS)) {
      const [method, path] = route.split(' ') as [string, string];
      if (path === '/healthz' || path === '/openapi.json') continue;
      const operation = doc.paths[path.replace(':roomId', '{roomId}')]?.[method.toLowerCase()];
      expect({ route, documented: operation !== undefined }).toEqual({ route, documented: true });
      expect(operation!.security).toEqual([{ bearer: [] }]);
      expect(Object.keys(operation!.responses)).toEqual(expect.arrayContaining(['401', '403']));
    }
  });
});
