import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../ops/config-source.js';
import { lifecycleConfigFromEnv } from './config.js';

describe('lifecycle process configuration', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lifecycle-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const base = { CHAPERONE_SEAL_CONFIG: '/etc/chaperone/seal.json' };
  const refusal = (env: Record<string, string>) => {
    try {
      lifecycleConfigFromEnv(env);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return { field: (error as ConfigError).field, code: (error as ConfigError).code, fix: (error as ConfigError).fix };
    }
    throw new Error('accepted');
  };

  test('defaults: an hourly sweep, the ops listener on 127.0.0.1:9464', () => {
    expect(lifecycleConfigFromEnv(base)).toEqual({ production: false, sealConfigPath: '/etc/chaperone/seal.json', everyMs: 3_600_000, ops: { host: '127.0.0.1', port: 9464 } });
    expect(lifecycleConfigFromEnv({ ...base, CHAPERONE_ENV: 'production', CHAPERONE_RETENTION_SWEEP_EVERY_MS: '600000' })).toMatchObject({ production: true, everyMs: 600_000 });
  });

  test('bad and unknown settings are refused by name with the fix', () => {
    expect(refusal({ ...base, CHAPERONE_RETENTION_SWEEP_EVERY_MS: '999' })).toMatchObject({ field: 'CHAPERONE_RETENTION_SWEEP_EVERY_MS', fix: expect.stringMatching(/integer from 1000 to 86400000/) });
    expect(refusal({ ...base, CHAPERONE_RETENTION_SWEEP_EVERY_MS: '1h' }).field).toBe('CHAPERONE_RETENTION_SWEEP_EVERY_MS');
    expect(refusal({ ...base, CHAPERONE_RETENTION_SWEEP_EVERY: '1000' })).toMatchObject({ field: 'CHAPERONE_RETENTION_SWEEP_EVERY', code: 'CHAP_CONFIG_INVALID' });
    expect(refusal({ ...base, CHAPERONE_LIFECYCLE_REPLICAS: '2' }).field).toBe('CHAPERONE_LIFECYCLE_REPLICAS');
    expect(refusal({}).field).toBe('CHAPERONE_SEAL_CONFIG');
    expect(refusal({ ...base, CHAPERONE_OPS_PORT: '-1' }).field).toBe('CHAPERONE_OPS_PORT');
    expect(refusal({ ...base, CHAPERONE_ENV: 'staging' }).field).toBe('CHAPERONE_ENV');
  });

  test('settings from CHAPERONE_CONFIG_FILE; unknown keys there refused too', async () => {
    const file = join(dir, 'lifecycle.json');
    await writeFile(file, JSON.stringify({ CHAPERONE_SEAL_CONFIG: '/etc/chaperone/seal.json', CHAPERONE_RETENTION_SWEEP_EVERY_MS: 60_000 }));
    expect(lifecycleConfigFromEnv({ CHAPERONE_CONFIG_FILE: file })).toMatchObject({ sealConfigPath: '/etc/chaperone/seal.json', everyMs: 60_000 });
    await writeFile(file, JSON.stringify({ CHAPERONE_SEAL_CONFIG: '/etc/chaperone/seal.json', sweepEvery: 60_000 }));
    expect(refusal({ CHAPERONE_CONFIG_FILE: file }).field).toBe('sweepEvery');
  });
});
