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
    await expect(keyServiceConfigFromEnv(full)).rejects.toMatchObject({ name: 'ConfigError', variable });
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
      });
      const service = await startConfiguredKeyService(config);
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
      } finally {
        await service.close();
        for (const name of ['AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) delete process.env[name];
      }
    });
  });
});
