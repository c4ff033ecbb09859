import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { REPO_ROOT } from './helm.js';

/**
 * The key service's process entry (deploy/keyservice.ts), bundled as scripts/build.mjs does and run as a process:
 * bad settings stop it with exit 2 and the variable named; CHAPERONE_ENV=production refuses development defaults.
 */
let dir: string;
let bundle: string;
beforeAll(async () => {
  // Inside the repository so the bundle's external packages resolve from node_modules.
  mkdirSync(join(REPO_ROOT, '.tmp'), { recursive: true });
  dir = mkdtempSync(join(REPO_ROOT, '.tmp/keyservice-entry-'));
  bundle = join(dir, 'keyservice.mjs');
  await build({ absWorkingDir: REPO_ROOT, entryPoints: ['deploy/keyservice.ts'], bundle: true, format: 'esm', platform: 'node', target: 'node24', packages: 'external', outfile: bundle, logLevel: 'silent' });
  writeFileSync(join(dir, 'dev-secret'), 'x'.repeat(48));
  writeFileSync(join(dir, 'spki.pem'), '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n');
}, 30_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const start = (env: Record<string, string>) => {
  const result = spawnSync(process.execPath, [bundle], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', KEYSERVICE_PORT: '0', CHAPERONE_OPS_PORT: '0', ...env }, timeout: 20_000 });
  return { status: result.status, stderr: result.stderr };
};

const production = () => ({
  CHAPERONE_ENV: 'production',
  KEYSERVICE_TOKEN_PUBLIC_KEY_FILE: join(dir, 'spki.pem'),
  KEYSERVICE_TOKEN_ALGORITHMS: 'EdDSA',
  KEYSERVICE_TOKEN_ISSUER: 'https://issuer.example',
  KEYSERVICE_TOKEN_AUDIENCE: 'chaperone',
});

/**
 * The process entry only reports what the configuration (keyservice/main.ts) refuses; each refusal is
 * tested there. Here: that a refusal stops the bundled process with exit 2 and the setting and fix named.
 */

describe('key service process entry (deploy/keyservice.ts)', () => {
  test('a bad setting stops it with exit 2, naming the variable', () => {
    expect(start({ KEYSERVICE_PORT: 'eighty' })).toEqual({ status: 2, stderr: 'keyservice: refusing to start: KEYSERVICE_PORT: is not an integer from 0 to 65535; set an integer from 0 to 65535 (default 8443)\n' });
  });

  test('production refuses the development token issuer', () => {
    const result = start({ CHAPERONE_ENV: 'production', KEYSERVICE_DEV_TOKEN_SECRET_FILE: join(dir, 'dev-secret') });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^keyservice: refusing to start: KEYSERVICE_DEV_TOKEN_SECRET_FILE: the development token issuer \(HS256 shared secret\) is a development default, refused when CHAPERONE_ENV=production; unset it and set KEYSERVICE_TOKEN_JWKS_URL/);
  });

  test('production refuses an in-memory or file signing key for the external sender', () => {
    const ephemeral = start(production());
    expect(ephemeral.status).toBe(2);
    expect(ephemeral.stderr).toMatch(/^keyservice: refusing to start: KEYSERVICE_EXTERNAL_SENDER_KMS_KEY_ID: an in-memory external-sender signing key is a development default, refused when CHAPERONE_ENV=production; set KEYSERVICE_EXTERNAL_SENDER_KMS_KEY_ID to an AWS KMS key/);
    const file = start({ ...production(), KEYSERVICE_EXTERNAL_SENDER_KEY_FILE: join(dir, 'spki.pem') });
    expect(file.status).toBe(2);
    expect(file.stderr).toMatch(/^keyservice: refusing to start: KEYSERVICE_EXTERNAL_SENDER_KEY_FILE: a local external-sender signing key file is a development default/);
  });

  test('an unknown CHAPERONE_ENV is refused rather than treated as development', () => {
    const result = start({ CHAPERONE_ENV: 'prod', KEYSERVICE_DEV_TOKEN_SECRET_FILE: join(dir, 'dev-secret') });
    expect(result).toEqual({ status: 2, stderr: 'keyservice: refusing to start: CHAPERONE_ENV: is neither "production" nor "development"; set CHAPERONE_ENV=production or CHAPERONE_ENV=development\n' });
  });
});
