import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, GetPublicKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { createPublicKey } from 'node:crypto';
import { startKmsDouble, type KmsDouble } from '../devstack/kms-double/index.js';
import { freePort } from '../devstack/free-port.js';
import { startRedisServer, type RedisServer } from '../devstack/redis-server.js';
import { CallMember, type ExternalSenderInfo } from '../e2ee/mls/index.js';
import { keyServiceConfigFromEnv, numericSfuRoom, startConfiguredKeyService } from './main.js';
import { startTestDatabase, type TestDatabase } from './test-support.js';
import { issueDevToken } from './tokens.js';
import { connectDeliveryTransport } from './ws-delivery-transport.js';

/** The process configuration: refused with the variable named; started with KMS, PostgreSQL and Redis. */

let dir: string;
let secretFile: string;
const secret = new Uint8Array(32).fill(9);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ks-config-'));
  secretFile = join(dir, 'dev-secret');
  await writeFile(secretFile, secret);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('key service configuration', () => {
  test.each([
    ['no token source', {}, 'KEYSERVICE_TOKEN_JWKS_URL'],
    ['a JWKS URL without algorithms', { KEYSERVICE_TOKEN_JWKS_URL: 'https://p.example/jwks' }, 'KEYSERVICE_TOKEN_ALGORITHMS'],
    ['HS256 as a production algorithm', { KEYSERVICE_TOKEN_JWKS_URL: 'https://p.example/jwks', KEYSERVICE_TOKEN_ALGORITHMS: 'HS256' }, 'KEYSERVICE_TOKEN_ALGORITHMS'],
    ['a JWKS URL without issuer', { KEYSERVICE_TOKEN_JWKS_URL: 'https://p.example/jwks', KEYSERVICE_TOKEN_ALGORITHMS: 'EdDSA' }, 'KEYSERVICE_TOKEN_ISSUER'],
    ['two external sender keys', { dev: true, KEYSERVICE_EXTERNAL_SENDER_KMS_KEY_ID: 'alias/k', KEYSERVICE_EXTERNAL_SENDER_KEY_FILE: '/x' }, 'KEYSERVICE_EXTERNAL_SENDER_KEY_FILE'],
    ['recording without Redis', { dev: true, KEYSERVICE_DATABASE_URL: 'postgres://x@h/db' }, 'KEYSERVICE_REDIS_URL'],
    ['recording without a room mapping', { dev: true, KEYSERVICE_DATABASE_URL: 'postgres://x@h/db', KEYSERVICE_REDIS_URL: 'redis://h:6379' }, 'KEYSERVICE_SFU_ROOMS'],
    ['a recording setting without the database', { dev: true, KEYSERVICE_REDIS_URL: 'redis://h:6379' }, 'KEYSERVICE_REDIS_URL'],
    ['a removal timeout out of range', { dev: true, KEYSERVICE_DATABASE_URL: 'postgres://x@h/db', KEYSERVICE_REDIS_URL: 'redis://h', KEYSERVICE_SFU_ROOMS: 'numeric', KEYSERVICE_RECORDER_REMOVAL_TIMEOUT_MS: '5' }, 'KEYSERVICE_RECORDER_REMOVAL_TIMEOUT_MS'],
  ])('refuses %s, naming the variable', async (_what, env, variable) => {
    const { dev, ...rest } = env as Record<string, string> & { dev?: boolean };
    const full: Record<string, string> = { ...rest, ...(dev ? { KEYSERVICE_DEV_TOKEN_SECRET_FILE: secretFile } : {}) };
    await expect(keyServiceConfigFromEnv(full)).rejects.toMatchObject({ name: 'ConfigError', field: variable, code: 'CHAP_CONFIG_INVALID' });
  });

  test('an unknown KEYSERVICE_* variable or file key is refused by name, with the known names as the fix', async () => {
    const typo = keyServiceConfigFromEnv({ KEYSERVICE_DEV_TOKEN_SECRET_FILE: secretFile, KEYSERVICE_COMIT_TIMEOUT_MS: '100' });
    await expect(typo).rejects.toMatchObject({ field: 'KEYSERVICE_COMIT_TIMEOUT_MS', problem: 'is not a known setting' });
    await expect(typo).rejects.toThrow(/remove it or correct its name \(known: KEYSERVICE_HOST, /);
    const file = join(dir, 'unknown.json');
    await writeFile(file, JSON.stringify({ KEYSERVICE_DEV_TOKEN_SECRET_FILE: secretFile, KEYSERVICE_PORTT: 1 }));
    await expect(keyServiceConfigFromEnv({ CHAPERONE_CONFIG_FILE: file })).rejects.toMatchObject({ field: 'KEYSERVICE_PORTT' });
  });

  test('settings come from CHAPERONE_CONFIG_FILE too; a variable wins over the file', async () => {
    const file = join(dir, 'keyservice.json');
    await writeFile(file, JSON.stringify({ KEYSERVICE_DEV_TOKEN_SECRET_FILE: secretFile, KEYSERVICE_PORT: 9001, KEYSERVICE_COMMIT_TIMEOUT_MS: 1500, CHAPERONE_OPS_PORT: 0 }));
    const config = await keyServiceConfigFromEnv({ CHAPERONE_CONFIG_FILE: file, KEYSERVICE_PORT: '9002' });
    expect(config).toMatchObject({ environment: 'development', port: 9002, commitTimeoutMs: 1500, tokens: { kind: 'dev' }, ops: { host: '127.0.0.1', port: 0 } });
    await writeFile(file, '{"KEYSERVICE_PORT": ');
    await expect(keyServiceConfigFromEnv({ CHAPERONE_CONFIG_FILE: file })).rejects.toMatchObject({ field: 'CHAPERONE_CONFIG_FILE', problem: 'names a file that is not JSON' });
  });

  describe('CHAPERONE_ENV=production refuses each development default, naming the setting and the fix', () => {
    const production = (extra: Record<string, string> = {}) => ({
      CHAPERONE_ENV: 'production',
      KEYSERVICE_TOKEN_JWKS_URL: 'https://auth.example/jwks.json',
      KEYSERVICE_TOKEN_ALGORITHMS: 'EdDSA',
      KEYSERVICE_TOKEN_ISSUER: 'https://auth.example/',
      KEYSERVICE_TOKEN_AUDIENCE: 'chaperone',
      KEYSERVICE_EXTERNAL_SENDER_KMS_KEY_ID: 'arn:aws:kms:eu-west-1:111122223333:key/k',
      ...extra,
    });
    const recording = { KEYSERVICE_DATABASE_URL: 'postgres://ks@db.internal/chaperone?sslmode=verify-full', KEYSERVICE_REDIS_URL: 'rediss://redis.internal:6380', KEYSERVICE_SFU_ROOMS: 'numeric' };

    test('a production configuration is accepted', async () => {
      await expect(keyServiceConfigFromEnv(production(recording))).resolves.toMatchObject({ environment: 'production', tokens: { kind: 'jwt' }, externalSender: { kind: 'kms' } });
    });

    test.each([
      ['the development token issuer', { KEYSERVICE_TOKEN_JWKS_URL: '', KEYSERVICE_DEV_TOKEN_SECRET_FILE: 'SECRET' }, 'KEYSERVICE_DEV_TOKEN_SECRET_FILE', /set KEYSERVICE_TOKEN_JWKS_URL/],
      ['an in-memory external-sender key', { KEYSERVICE_EXTERNAL_SENDER_KMS_KEY_ID: '' }, 'KEYSERVICE_EXTERNAL_SENDER_KMS_KEY_ID', /set KEYSERVICE_EXTERNAL_SENDER_KMS_KEY_ID to an AWS KMS key/],
      ['a local external-sender key file', { KEYSERVICE_EXTERNAL_SENDER_KMS_KEY_ID: '', KEYSERVICE_EXTERNAL_SENDER_KEY_FILE: 'SECRET' }, 'KEYSERVICE_EXTERNAL_SENDER_KEY_FILE', /AWS KMS key/],
      ['a loopback KMS endpoint (the KMS double)', { KEYSERVICE_KMS_ENDPOINT: 'https://127.0.0.1:4599' }, 'KEYSERVICE_KMS_ENDPOINT', /VPC endpoint/],
      ['plaintext Redis', { ...recording, KEYSERVICE_REDIS_URL: 'redis://redis.internal:6379' }, 'KEYSERVICE_REDIS_URL', /rediss:\/\//],
      ['PostgreSQL without TLS required', { ...recording, KEYSERVICE_DATABASE_URL: 'postgres://ks@db.internal/chaperone' }, 'KEYSERVICE_DATABASE_URL', /sslmode=verify-full/],
    ])('%s', async (_what, extra, field, fix) => {
      // Files named by the settings exist (only the secret's path is known once beforeAll ran).
      const env = Object.fromEntries(Object.entries(production(extra as Record<string, string>)).map(([k, v]) => [k, v === 'SECRET' ? secretFile : v]));
      const refused = keyServiceConfigFromEnv(env);
      await expect(refused).rejects.toMatchObject({ name: 'ConfigError', code: 'CHAP_CONFIG_REFUSED_IN_PRODUCTION', field });
      await expect(refused).rejects.toThrow(fix);
      // The same setting is accepted in development.
      await expect(keyServiceConfigFromEnv({ ...env, CHAPERONE_ENV: 'development' })).resolves.toBeDefined();
    });

    test('an unknown CHAPERONE_ENV is refused rather than taken for development', async () => {
      await expect(keyServiceConfigFromEnv(production({ CHAPERONE_ENV: 'prod' }))).rejects.toMatchObject({ field: 'CHAPERONE_ENV' });
    });
  });

  test('maps numeric room ids to VideoRoom numbers, nothing else', () => {
    expect(numericSfuRoom('1234')).toBe(1234);
    expect(numericSfuRoom('room-a')).toBeUndefined();
    expect(numericSfuRoom('0012')).toBeUndefined();
  });

  describe('started for real', () => {
    let kms: KmsDouble;
    let redis: RedisServer;
    let db: TestDatabase;
    beforeAll(async () => {
      [kms, redis, db] = await Promise.all([startKmsDouble({ port: await freePort() }), startRedisServer({ port: await freePort() }), startTestDatabase()]);
    }, 60_000);
    afterAll(async () => {
      await Promise.all([kms?.stop(), redis?.stop(), db?.stop()]);
    });

    test('with the external sender in KMS and recording on PostgreSQL and Redis', async () => {
      const client = new KMSClient({ endpoint: kms.endpoint, region: kms.region, credentials: kms.credentials });
      const { KeyMetadata } = await client.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY' }));
      const { PublicKey } = await client.send(new GetPublicKeyCommand({ KeyId: KeyMetadata!.KeyId! }));
      client.destroy();
      const kmsPublicKey = Buffer.from(createPublicKey({ key: Buffer.from(PublicKey!), format: 'der', type: 'spki' }).export({ format: 'jwk' }).x!, 'base64url');
      // The AWS SDK reads region and credentials from its usual environment.
      Object.assign(process.env, { AWS_REGION: kms.region, AWS_ACCESS_KEY_ID: kms.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: kms.credentials.secretAccessKey });
      const config = await keyServiceConfigFromEnv({
        KEYSERVICE_PORT: '0',
        KEYSERVICE_DEV_TOKEN_SECRET_FILE: secretFile,
        KEYSERVICE_EXTERNAL_SENDER_KMS_KEY_ID: KeyMetadata!.Arn!,
        KEYSERVICE_KMS_ENDPOINT: kms.endpoint,
        KEYSERVICE_DATABASE_URL: db.pool.options.connectionString!,
        KEYSERVICE_REDIS_URL: redis.url,
        KEYSERVICE_SFU_ROOMS: 'numeric',
        CHAPERONE_OPS_PORT: '0',
      });
      const service = await startConfiguredKeyService(config, undefined, { processMetrics: false });
      try {
        // Members pin the KMS key: the service announces it, and signs their Adds with it.
        const transport = await connectDeliveryTransport(service.wsUrl);
        const pinned = { signaturePublicKey: new Uint8Array(kmsPublicKey), identity: { id: 'chaperone-keyservice', kind: 'key-service', name: 'Chaperone key service' } } as ExternalSenderInfo;
        const member = new CallMember({ identity: { id: 'p-1', kind: 'participant', name: 'P' }, transport, keyService: pinned });
        await member.start(await issueDevToken(secret, { sub: 'p-1', room: '4321', role: 'patient' }));
        expect(member.epoch).toBe(0n);
        member.close();
        transport.close();
        // Recording is on: the policy API answers from PostgreSQL.
        const operator = await issueDevToken(secret, { sub: 'op-1', role: 'operator' });
        const put = await fetch(`${service.url}/v1/rooms/4321/policy`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
          body: JSON.stringify({ enabled: true, purpose: 'supervision', statement: 'Recorded for supervision. Agree?' }),
        });
        expect(put.status).toBe(201);
        expect(kms.calls.some((c) => c.operation === 'GetPublicKey' && c.keyArn === KeyMetadata!.Arn)).toBe(true);
        // The ops listener: ready (PostgreSQL answers), alive, and its metrics.
        const ready = await fetch(`${service.opsUrl}/readyz`);
        expect({ status: ready.status, body: await ready.json() }).toEqual({ status: 200, body: { status: 'ready', checks: { postgres: 'ok' } } });
        expect((await fetch(`${service.opsUrl}/healthz`)).status).toBe(200);
        const metrics = await (await fetch(`${service.opsUrl}/metrics`)).text();
        expect(metrics).toMatch(/^chaperone_keyservice_consent_to_join_seconds_count\{service="keyservice"\} 0$/m);
        expect(metrics).toMatch(/^chaperone_keyservice_rooms\{service="keyservice"\} 0$/m);
        expect(metrics).toMatch(/^chaperone_record_queue_depth\{service="keyservice"\} 0$/m);
      } finally {
        await service.close();
        for (const name of ['AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) delete process.env[name];
      }
    });
  });
});
