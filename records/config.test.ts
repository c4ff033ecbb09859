import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../ops/config-source.js';
import { recordsConfigFromEnv } from './config.js';

describe('records service configuration', () => {
  let dir: string;
  let secretFile: string;
  let shortFile: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'records-config-'));
    secretFile = join(dir, 'secret');
    shortFile = join(dir, 'short');
    await writeFile(secretFile, Buffer.alloc(32, 7));
    await writeFile(shortFile, Buffer.alloc(8, 7));
  });
  const base = () => ({ CHAPERONE_SEAL_CONFIG: '/etc/chaperone/seal.json', CHAPERONE_RECORDS_DEV_TOKEN_SECRET_FILE: secretFile });
  const refusal = (env: Record<string, string>) => {
    try {
      recordsConfigFromEnv(env);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return { field: (error as ConfigError).field, code: (error as ConfigError).code };
    }
    throw new Error('accepted');
  };

  test('development defaults: HS256 dev tokens for audience chaperone-records, 2-minute tokens, 8 MiB hold-back', () => {
    const config = recordsConfigFromEnv(base());
    expect(config).toMatchObject({ production: false, host: '127.0.0.1', port: 8444, tokenTtlMs: 120_000, sessionTtlMs: 1_800_000, holdBackBytes: 8 * 1024 * 1024, secureCookies: true });
    expect(config.tokens).toMatchObject({ kind: 'dev', audience: 'chaperone-records' });
    expect(Object.isFrozen(config)).toBe(true);
  });

  test('an unknown CHAPERONE_RECORDS_ variable is refused by name', () => {
    expect(refusal({ ...base(), CHAPERONE_RECORDS_TOKEN_TTL: '60' })).toEqual({ field: 'CHAPERONE_RECORDS_TOKEN_TTL', code: 'CHAP_CONFIG_INVALID' });
  });

  test('bad values are refused with the setting named', () => {
    expect(refusal({ ...base(), CHAPERONE_RECORDS_TOKEN_TTL_SEC: '301' }).field).toBe('CHAPERONE_RECORDS_TOKEN_TTL_SEC');
    expect(refusal({ ...base(), CHAPERONE_RECORDS_PORT: 'http' }).field).toBe('CHAPERONE_RECORDS_PORT');
    expect(refusal({ ...base(), CHAPERONE_RECORDS_DEV_TOKEN_SECRET_FILE: shortFile }).field).toBe('CHAPERONE_RECORDS_DEV_TOKEN_SECRET_FILE');
    expect(refusal({ ...base(), CHAPERONE_RECORDS_PLAYBACK_KEY_FILE: shortFile }).field).toBe('CHAPERONE_RECORDS_PLAYBACK_KEY_FILE');
    expect(refusal({ ...base(), CHAPERONE_RECORDS_WORK_DIR: 'relative/dir' }).field).toBe('CHAPERONE_RECORDS_WORK_DIR');
    expect(refusal({ CHAPERONE_RECORDS_DEV_TOKEN_SECRET_FILE: secretFile }).field).toBe('CHAPERONE_SEAL_CONFIG');
    expect(refusal({ CHAPERONE_SEAL_CONFIG: '/x.json' }).field).toBe('CHAPERONE_RECORDS_TOKEN_JWKS_URL');
    expect(refusal({ ...base(), CHAPERONE_RECORDS_TOKEN_JWKS_URL: 'https://platform.example/jwks', CHAPERONE_RECORDS_TOKEN_ALGORITHMS: 'HS256' }).field).toBe('CHAPERONE_RECORDS_DEV_TOKEN_SECRET_FILE');
  });

  test('production refuses the development defaults, each by name', () => {
    const prod = { CHAPERONE_ENV: 'production' };
    expect(refusal({ ...prod, ...base() })).toEqual({ field: 'CHAPERONE_RECORDS_DEV_TOKEN_SECRET_FILE', code: 'CHAP_CONFIG_REFUSED_IN_PRODUCTION' });
    const jwt = { ...prod, CHAPERONE_SEAL_CONFIG: '/s.json', CHAPERONE_RECORDS_TOKEN_JWKS_URL: 'https://platform.example/jwks', CHAPERONE_RECORDS_TOKEN_ALGORITHMS: 'EdDSA', CHAPERONE_RECORDS_TOKEN_ISSUER: 'platform' };
    expect(refusal(jwt)).toEqual({ field: 'CHAPERONE_RECORDS_PLAYBACK_KEY_FILE', code: 'CHAP_CONFIG_REFUSED_IN_PRODUCTION' });
    expect(refusal({ ...jwt, CHAPERONE_RECORDS_PLAYBACK_KEY_FILE: secretFile })).toEqual({ field: 'CHAPERONE_RECORDS_WORK_DIR', code: 'CHAP_CONFIG_REFUSED_IN_PRODUCTION' });
    const complete = { ...jwt, CHAPERONE_RECORDS_PLAYBACK_KEY_FILE: secretFile, CHAPERONE_RECORDS_WORK_DIR: '/run/chaperone/records' };
    expect(refusal({ ...complete, CHAPERONE_RECORDS_INSECURE_COOKIES: 'true' }).field).toBe('CHAPERONE_RECORDS_INSECURE_COOKIES');
    expect(recordsConfigFromEnv(complete)).toMatchObject({ production: true, secureCookies: true, tokens: { kind: 'jwt', algorithms: ['EdDSA'], audience: 'chaperone-records' } });
    expect(refusal({ ...complete, CHAPERONE_ENV: 'prod' }).field).toBe('CHAPERONE_ENV');
    // The platform's keys only over TLS, and never a loopback (development) issuer.
    expect(refusal({ ...complete, CHAPERONE_RECORDS_TOKEN_JWKS_URL: 'http://platform.example/jwks' })).toEqual({ field: 'CHAPERONE_RECORDS_TOKEN_JWKS_URL', code: 'CHAP_CONFIG_REFUSED_IN_PRODUCTION' });
    expect(refusal({ ...complete, CHAPERONE_RECORDS_TOKEN_JWKS_URL: 'https://127.0.0.1:8443/jwks' })).toEqual({ field: 'CHAPERONE_RECORDS_TOKEN_JWKS_URL', code: 'CHAP_CONFIG_REFUSED_IN_PRODUCTION' });
  });

  test('the ops listener and CHAPERONE_CONFIG_FILE go through the shared mechanics (unknown keys refused by name)', async () => {
    expect(recordsConfigFromEnv(base()).ops).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(recordsConfigFromEnv({ ...base(), CHAPERONE_OPS_HOST: '0.0.0.0', CHAPERONE_OPS_PORT: '9100' }).ops).toEqual({ host: '0.0.0.0', port: 9100 });
    expect(refusal({ ...base(), CHAPERONE_OPS_PORT: '70000' }).field).toBe('CHAPERONE_OPS_PORT');
    const file = join(dir, 'records.json');
    await writeFile(file, JSON.stringify({ CHAPERONE_RECORDS_PORT: 8500, CHAPERONE_OPS_PORT: 9500 }));
    expect(recordsConfigFromEnv({ ...base(), CHAPERONE_CONFIG_FILE: file })).toMatchObject({ port: 8500, ops: { port: 9500 } });
    // A variable wins over the file (a Secret mounted as a variable overrides the ConfigMap).
    expect(recordsConfigFromEnv({ ...base(), CHAPERONE_CONFIG_FILE: file, CHAPERONE_RECORDS_PORT: '8600' }).port).toBe(8600);
    await writeFile(file, JSON.stringify({ CHAPERONE_RECORDS_PORTS: 8500 }));
    expect(refusal({ ...base(), CHAPERONE_CONFIG_FILE: file })).toEqual({ field: 'CHAPERONE_RECORDS_PORTS', code: 'CHAP_CONFIG_INVALID' });
    expect(refusal({ ...base(), CHAPERONE_CONFIG_FILE: join(dir, 'missing.json') }).field).toBe('CHAPERONE_CONFIG_FILE');
  });
});
