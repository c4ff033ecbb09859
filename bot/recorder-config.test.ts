import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, recorderConfigFromEnv } from './recorder-config.js';

/** The recorder's configuration: refused with the setting and the fix named; production refuses development defaults. */

const base = {
  CHAPERONE_REDIS_URL: 'redis://127.0.0.1:6379',
  CHAPERONE_KEY_SERVICE_URL: 'http://keyservice:8443',
  CHAPERONE_SFU_URL: 'ws://janus:8188',
  CHAPERONE_DEV_TOKEN_SECRET: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA',
};
const production = {
  CHAPERONE_ENV: 'production',
  CHAPERONE_REDIS_URL: 'rediss://redis.internal:6380',
  CHAPERONE_DATABASE_URL: 'postgres://recorder@db.internal/chaperone?sslmode=verify-full',
  CHAPERONE_KEY_SERVICE_URL: 'http://chaperone-keyservice:8443',
  CHAPERONE_SFU_URL: 'wss://janus.internal/ws',
  CHAPERONE_RECORDER_TOKEN_FILE: '/etc/chaperone/secrets/recorder-token/token',
};

function refusal(env: Record<string, string | undefined>): ConfigError {
  try {
    recorderConfigFromEnv(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('configuration was accepted');
}

describe('recorder configuration', () => {
  test('development defaults are accepted, production settings too', () => {
    expect(recorderConfigFromEnv(base)).toMatchObject({ maxConcurrentCalls: 4, spoolDir: '/var/spool/chaperone', production: false, ops: { host: '127.0.0.1', port: 9464 } });
    expect(recorderConfigFromEnv(production)).toMatchObject({ production: true, tokenFile: production.CHAPERONE_RECORDER_TOKEN_FILE });
  });

  test.each([
    ['an unknown CHAPERONE_RECORDER_* variable', { CHAPERONE_RECORDER_MAX_CALL: '2' }, 'CHAPERONE_RECORDER_MAX_CALL', /remove it or correct its name/],
    ['a call limit out of range', { CHAPERONE_RECORDER_MAX_CALLS: '0' }, 'CHAPERONE_RECORDER_MAX_CALLS', /set an integer from 1 to 64/],
    ['a key service URL with a path', { CHAPERONE_KEY_SERVICE_URL: 'http://keyservice:8443/v1' }, 'CHAPERONE_KEY_SERVICE_URL', /no path/],
    ['no SFU', { CHAPERONE_SFU_URL: undefined }, 'CHAPERONE_SFU_URL', /set it to the SFU's WebSocket URL/],
    ['an http SFU URL', { CHAPERONE_SFU_URL: 'http://janus:8188' }, 'CHAPERONE_SFU_URL', /ws:\/\/ or wss:\/\//],
    ['no token', { CHAPERONE_DEV_TOKEN_SECRET: undefined }, 'CHAPERONE_RECORDER_TOKEN_FILE', /recorder service token/],
    ['a relative spool', { CHAPERONE_RECORDER_SPOOL_DIR: 'spool' }, 'CHAPERONE_RECORDER_SPOOL_DIR', /absolute path/],
    ['a bad ops port', { CHAPERONE_OPS_PORT: '99999' }, 'CHAPERONE_OPS_PORT', /set an integer from 0 to 65535/],
  ])('refuses %s, naming the setting and the fix', (_what, change, field, fix) => {
    const error = refusal({ ...base, ...change });
    expect(error).toMatchObject({ field, code: 'CHAP_CONFIG_INVALID' });
    expect(error.message).toMatch(fix);
  });

  test.each([
    ['the development token issuer', { CHAPERONE_DEV_TOKEN_SECRET: 'c2VjcmV0' }, 'CHAPERONE_DEV_TOKEN_SECRET', /set CHAPERONE_RECORDER_TOKEN_FILE/],
    ['plaintext Redis', { CHAPERONE_REDIS_URL: 'redis://redis.internal:6379' }, 'CHAPERONE_REDIS_URL', /rediss:\/\//],
    ['a loopback Redis', { CHAPERONE_REDIS_URL: 'rediss://127.0.0.1:6380' }, 'CHAPERONE_REDIS_URL', /managed Redis/],
    ['PostgreSQL without TLS required', { CHAPERONE_DATABASE_URL: 'postgres://recorder@db.internal/chaperone' }, 'CHAPERONE_DATABASE_URL', /sslmode=verify-full/],
  ])('production refuses %s', (_what, change, field, fix) => {
    const error = refusal({ ...production, ...change });
    expect(error).toMatchObject({ field, code: 'CHAP_CONFIG_REFUSED_IN_PRODUCTION' });
    expect(error.fix).toMatch(fix);
    expect(error.message).not.toContain('redis.internal'); // values (possibly credentials) are never echoed
  });

  test('settings come from CHAPERONE_CONFIG_FILE; unknown keys in it are refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recorder-config-'));
    try {
      const file = join(dir, 'recorder.json');
      writeFileSync(file, JSON.stringify({ ...base, CHAPERONE_RECORDER_MAX_CALLS: 2 }));
      expect(recorderConfigFromEnv({ CHAPERONE_CONFIG_FILE: file }).maxConcurrentCalls).toBe(2);
      writeFileSync(file, JSON.stringify({ ...base, CHAPERONE_RECORDER_MAXCALLS: 2 }));
      expect(refusal({ CHAPERONE_CONFIG_FILE: file })).toMatchObject({ field: 'CHAPERONE_RECORDER_MAXCALLS', problem: 'is not a known setting' });
      writeFileSync(file, JSON.stringify({ ...base, CHAPERONE_RECORDER_MAX_CALLS: { n: 2 } }));
      expect(refusal({ CHAPERONE_CONFIG_FILE: file })).toMatchObject({ field: 'CHAPERONE_RECORDER_MAX_CALLS' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
