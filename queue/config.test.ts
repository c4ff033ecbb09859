import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSealConfig, parseSealConfig } from './config.js';
import { ConfigError } from './errors.js';

const ARN = 'arn:aws:kms:eu-west-1:111122223333:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0';

function production(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    mode: 'production',
    spoolDir: '/var/spool/chaperone',
    redis: { url: 'rediss://redis.internal:6380', prefix: 'chaperone' },
    database: { url: 'postgres://pipeline@db.internal/chaperone?sslmode=verify-full' },
    s3: { bucket: 'acme-recordings', region: 'eu-west-1', sseKmsKeyId: ARN, requireSse: true },
    kms: { region: 'eu-west-1' },
    keyRoot: { kind: 'aws-kms', keyId: ARN },
    signer: { kind: 'aws-kms', keyId: 'alias/chaperone-manifests' },
    ...overrides,
  };
}

function refusal(config: unknown): ConfigError {
  try {
    parseSealConfig(config);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('configuration was accepted');
}

describe('pipeline configuration', () => {
  test('a production configuration is accepted, defaulted and frozen', () => {
    const config = parseSealConfig(production());
    expect(config).toMatchObject({ mode: 'production', s3: { checksums: 'when-supported', partSizeMiB: 8, queueSize: 2, requireSse: true }, worker: { lockDurationMs: 30_000, maxStalledCount: 2 } });
    expect(Object.isFrozen(config) && Object.isFrozen(config.s3)).toBe(true);
  });

  test('production refuses the local raw-AES key root, naming the field and the fix', () => {
    const error = refusal(production({ keyRoot: { kind: 'local-raw-aes', keyFile: '/etc/chaperone/dev-root.key' } }));
    expect(error).toMatchObject({ code: 'CHAP_CONFIG_REFUSED_IN_PRODUCTION', field: 'keyRoot.kind' });
    expect(error.message).toContain('keyRoot: {kind: "aws-kms"');
    // The same configuration is the embedded default in development.
    expect(parseSealConfig(production({ mode: 'development', keyRoot: { kind: 'local-raw-aes', keyFile: '/tmp/dev-root.key' } })).keyRoot.kind).toBe('local-raw-aes');
  });

  test('production refuses the other development shortcuts', () => {
    expect(refusal(production({ signer: { kind: 'local-ed25519', keyFile: '/tmp/k.pem' } }))).toMatchObject({ code: 'CHAP_CONFIG_REFUSED_IN_PRODUCTION', field: 'signer.kind' });
    expect(refusal(production({ s3: { bucket: 'acme-recordings', region: 'eu-west-1', requireSse: false } }))).toMatchObject({ field: 's3.requireSse' });
    expect(refusal(production({ s3: { bucket: 'acme-recordings', region: 'eu-west-1', sseKmsKeyId: ARN, checksums: 'when-required' } }))).toMatchObject({ field: 's3.checksums' });
    expect(refusal(production({ s3: { bucket: 'acme-recordings', region: 'eu-west-1', sseKmsKeyId: ARN, endpoint: 'http://127.0.0.1:9000' } }))).toMatchObject({ field: 's3.endpoint' });
    expect(refusal(production({ kms: { region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } } }))).toMatchObject({ field: 'kms.credentials' });
  });

  test('production refuses local stand-ins and unencrypted data stores, naming the field and the fix', () => {
    const s3 = { bucket: 'acme-recordings', region: 'eu-west-1', sseKmsKeyId: ARN, requireSse: true };
    const s3rver = refusal(production({ s3: { ...s3, endpoint: 'https://localhost:4568' } }));
    expect(s3rver).toMatchObject({ code: 'CHAP_CONFIG_REFUSED_IN_PRODUCTION', field: 's3.endpoint' });
    expect(s3rver.fix).toMatch(/VPC endpoint/);
    expect(refusal(production({ kms: { region: 'eu-west-1', endpoint: 'https://127.0.0.1:4599' } }))).toMatchObject({ field: 'kms.endpoint' });
    const redis = refusal(production({ redis: { url: 'redis://redis.internal:6379' } }));
    expect(redis).toMatchObject({ code: 'CHAP_CONFIG_REFUSED_IN_PRODUCTION', field: 'redis.url' });
    expect(redis.message).toMatch(/rediss:\/\//);
    expect(refusal(production({ database: { url: 'postgres://pipeline@db.internal/chaperone' } }))).toMatchObject({ field: 'database.url' });
    expect(refusal(production({ database: { url: 'postgres://pipeline@db.internal/chaperone?sslmode=disable' } }))).toMatchObject({ field: 'database.url' });
  });

  test('CHAPERONE_ENV=production refuses a development file and makes a file without a mode production', () => {
    const development = production({ mode: 'development', keyRoot: { kind: 'local-raw-aes', keyFile: '/tmp/dev-root.key' } });
    expect(parseSealConfig(development).mode).toBe('development');
    const error = (() => {
      try {
        parseSealConfig(development, { environment: 'production' });
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('accepted');
    })();
    expect(error).toMatchObject({ code: 'CHAP_CONFIG_REFUSED_IN_PRODUCTION', field: 'mode' });
    expect(parseSealConfig(production({ mode: undefined }), { environment: 'production' }).mode).toBe('production');
    expect(() => parseSealConfig(production({ mode: undefined, keyRoot: { kind: 'local-raw-aes', keyFile: '/tmp/k' } }), { environment: 'production' })).toThrow(/keyRoot\.kind/);
  });

  test('loadSealConfig reads the file under CHAPERONE_ENV and names CHAPERONE_SEAL_CONFIG when the file is unusable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'seal-config-'));
    try {
      const file = join(dir, 'seal.json');
      await writeFile(file, JSON.stringify(production({ mode: undefined })));
      expect((await loadSealConfig({ CHAPERONE_SEAL_CONFIG: file, CHAPERONE_ENV: 'production' })).mode).toBe('production');
      await expect(loadSealConfig({ CHAPERONE_SEAL_CONFIG: file, CHAPERONE_ENV: 'staging' })).rejects.toMatchObject({ field: 'CHAPERONE_ENV' });
      await writeFile(file, '{"mode": ');
      await expect(loadSealConfig({ CHAPERONE_SEAL_CONFIG: file })).rejects.toMatchObject({ field: 'CHAPERONE_SEAL_CONFIG', problem: 'names a file that is not JSON' });
      await expect(loadSealConfig({})).rejects.toMatchObject({ field: 'CHAPERONE_SEAL_CONFIG', problem: 'is not set' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('bad or unknown settings are refused with the field named, never repaired', () => {
    expect(refusal(production({ keyRoot: { kind: 'aws-kms', keyId: 'alias/short' } }))).toMatchObject({ code: 'CHAP_CONFIG_INVALID', field: 'keyRoot.keyId' });
    expect(refusal(production({ worker: { lockDurationMs: 5 } }))).toMatchObject({ field: 'worker.lockDurationMs' });
    expect(refusal(production({ s3: { bucket: 'acme-recordings', region: 'eu-west-1', sseKmsKeyId: ARN, partSize: 8 } }))).toMatchObject({ field: 's3.partSize' });
    expect(refusal(production({ retention: 7 }))).toMatchObject({ field: 'config.retention' });
    expect(refusal(production({ spoolDir: 'relative/spool' }))).toMatchObject({ field: 'spoolDir' });
    expect(refusal(production({ kms: undefined }))).toMatchObject({ field: 'kms' });
  });
});
