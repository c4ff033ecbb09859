import { parseSealConfig } from './config.js';
import { ConfigError } from './errors.js';

const ARN = 'arn:aws:kms:eu-west-1:111122223333:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0';

function production(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    mode: 'production',
    spoolDir: '/var/spool/chaperone',
    redis: { url: 'rediss://redis.internal:6380', prefix: 'chaperone' },
    database: { url: 'postgres://pipeline@db.internal/chaperone' },
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

  test('bad or unknown settings are refused with the field named, never repaired', () => {
    expect(refusal(production({ keyRoot: { kind: 'aws-kms', keyId: 'alias/short' } }))).toMatchObject({ code: 'CHAP_CONFIG_INVALID', field: 'keyRoot.keyId' });
    expect(refusal(production({ worker: { lockDurationMs: 5 } }))).toMatchObject({ field: 'worker.lockDurationMs' });
    expect(refusal(production({ s3: { bucket: 'acme-recordings', region: 'eu-west-1', sseKmsKeyId: ARN, partSize: 8 } }))).toMatchObject({ field: 's3.partSize' });
    expect(refusal(production({ retention: 7 }))).toMatchObject({ field: 'config.retention' });
    expect(refusal(production({ spoolDir: 'relative/spool' }))).toMatchObject({ field: 'spoolDir' });
    expect(refusal(production({ kms: undefined }))).toMatchObject({ field: 'kms' });
  });
});
