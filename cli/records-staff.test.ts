import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SignJWT } from 'jose';
import { DEV_TOKEN_AUDIENCE, DEV_TOKEN_ISSUER } from '../keyservice/tokens.js';
import { listObjectKeys } from '../queue/testing/inspect.js';
import { testMedia } from '../queue/testing/media.js';
import { startSealTestStack, type SealTestStack } from '../queue/testing/stack.js';
import { sealer, type Sealer } from '../records/lifecycle/testing/sealed-recording.js';
import { runChaperoneCaptured } from './testing/run-captured.js';

jest.setTimeout(120_000);

const run = promisify(execFile);
const SECRET = 'records-cli-test-secret-0123456789abcdef';

/**
 * The records-staff commands as a person runs them: a seal configuration file, a platform token file for
 * their identity (development HS256 verifier), exit codes and messages that say what to do.
 */
describe('chaperone hold / release / delete / export / audit verify', () => {
  let stack: SealTestStack;
  let seal: Sealer;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  const token = async (sub: string, role: string, room?: string) => {
    const file = join(dir, `${sub}.jwt`);
    const jwt = await new SignJWT({ role, ...(room ? { room } : {}) })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(sub)
      .setIssuer(DEV_TOKEN_ISSUER)
      .setAudience(DEV_TOKEN_AUDIENCE)
      .setExpirationTime('10m')
      .sign(Buffer.from(SECRET));
    await writeFile(file, jwt);
    return file;
  };
  const cli = (...args: string[]) => runChaperoneCaptured(env, args);

  beforeAll(async () => {
    [stack] = await Promise.all([startSealTestStack(), testMedia()]);
    seal = sealer(stack);
    dir = await mkdtemp(join(tmpdir(), 'chaperone-records-cli-'));
    const configFile = join(dir, 'seal.json');
    await stack.writeSealConfig(configFile, { logLevel: 'silent' });
    await writeFile(join(dir, 'dev-secret'), SECRET);
    env = { CHAPERONE_SEAL_CONFIG: configFile, RECORDS_DEV_TOKEN_SECRET_FILE: join(dir, 'dev-secret') };
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a records officer holds, is refused deletion, releases, deletes one track; verify reports it deleted; others are refused with the reason', async () => {
    const { recording } = await seal.seal();
    const id = recording.recordingId;
    const officer = await token('officer-17', 'records-officer');
    const patient = await token('patient-7f3a9c', 'patient', 'room-telehealth-42');

    expect(await cli('hold', id)).toMatchObject({ code: 2, err: expect.stringContaining('--reason is required') });
    expect(await cli('hold', id, '--reason', 'litigation hold, matter LIT-9')).toMatchObject({ code: 2, err: expect.stringContaining('--token-file') });
    expect(await cli('hold', id, '--reason', 'litigation hold, matter LIT-9', '--token-file', patient)).toMatchObject({
      code: 1,
      err: expect.stringContaining('CHAP_RECORDS_FORBIDDEN — a patient may not hold recordings'),
    });
    const held = await cli('hold', id, '--reason', 'litigation hold, matter LIT-9', '--token-file', officer);
    expect(held).toMatchObject({ code: 0, out: expect.stringContaining(`recording ${id}: on legal hold hold-`) });
    const refused = await cli('delete', id, '--track', 't01-video', '--reason-code', 'patient-request', '--reason', 'erasure request ER-77 received', '--token-file', officer);
    expect(refused).toMatchObject({ code: 1, err: expect.stringContaining('CHAP_RECORDS_ON_HOLD') });
    expect(refused.err).toContain('chaperone release');
    expect(await cli('release', id, '--reason', 'matter LIT-9 closed', '--token-file', officer)).toMatchObject({ code: 0 });
    const deleted = await cli('delete', id, '--track', 't01-video', '--reason-code', 'patient-request', '--reason', 'erasure request ER-77 received', '--token-file', officer);
    expect(deleted).toMatchObject({ code: 0, out: expect.stringContaining(`track t01-video of recording ${id}: deleted`) });
    expect(deleted.err).toMatch(/deletion requested: del-[0-9a-f-]{36} \(requested\)\ndeletion: data keys destroyed\ndeletion: objects purged \(1 object versions\)\ndeletion: completed, tombstone written\n/);
    expect(await listObjectKeys(stack.s3Client(), stack.bucket, `recordings/${id}/t01-video/`)).toEqual([]);

    const verified = await cli('verify', id);
    expect(verified.code).toBe(0);
    expect(verified.out).toContain(`recording ${id}: VERIFIED`);
    expect(verified.out).toMatch(/del +track t01-video segment 1 +deleted per tombstone del-/);
    expect(verified.out).toMatch(/ok +track t02-audio segment 1/);

    // Exports: the officer for the clinician's track; the bundle lists what DECRYPT.txt says.
    const { stdout: pub } = await run('sh', ['-c', `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out ${dir}/r.pem && openssl pkey -in ${dir}/r.pem -pubout`]);
    await writeFile(join(dir, 'r.pub.pem'), pub);
    const out = join(dir, 'bundle.tar');
    const exported = await cli('export', id, '--participant', 'clinician-51b2e0', '--recipient-key', join(dir, 'r.pub.pem'), '--out', out, '--token-file', officer);
    expect(exported).toMatchObject({ code: 0, out: expect.stringContaining(`${out}: export of recording ${id} (t02-audio; 1 segment(s))`) });
    expect(exported.err).toContain('checking against the manifest segment 1/1 (t02-audio #1)');
    expect((await run('tar', ['tf', out])).stdout.split('\n').filter(Boolean)).toEqual(['DECRYPT.txt', 'key.rsa-oaep', 'bundle.tar.enc', 'bundle.tar.enc.hmac']);
    // The patient's own track is deleted: nothing to export, said plainly; no file is left behind.
    const none = await cli('export', id, '--recipient-key', join(dir, 'r.pub.pem'), '--out', join(dir, 'none.tar'), '--token-file', patient);
    expect(none).toMatchObject({ code: 1, err: expect.stringContaining('CHAP_RECORDS_DELETED') });
    await expect(stat(join(dir, 'none.tar.partial'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(join(dir, 'none.tar'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('an interrupted delete says how to resume, and --resume finishes it', async () => {
    const { recording } = await seal.seal();
    const id = recording.recordingId;
    const officer = await token('officer-17', 'records-officer');
    await stack.s3.pause();
    let interrupted;
    try {
      interrupted = await cli('delete', id, '--reason-code', 'legal-order', '--reason', 'court order CO-2026-77 to destroy', '--token-file', officer);
    } finally {
      await stack.s3.resume();
    }
    expect(interrupted.code).toBe(1);
    expect(interrupted.err).toContain('CHAP_RECORDS_STORE_UNAVAILABLE');
    const resume = /resume with: chaperone delete --resume (del-[0-9a-f-]{36})/.exec(interrupted.err);
    expect(resume).not.toBeNull();
    const patient = await token('patient-7f3a9c', 'patient', 'room-telehealth-42');
    expect(await cli('delete', '--resume', resume![1]!, '--token-file', patient)).toMatchObject({ code: 1, err: expect.stringContaining('CHAP_RECORDS_FORBIDDEN') });
    const resumed = await cli('delete', '--resume', resume![1]!, '--token-file', officer);
    expect(resumed).toMatchObject({ code: 0, out: expect.stringContaining(`recording ${id}: deleted (deletion ${resume![1]}`) });
    expect(await listObjectKeys(stack.s3Client(), stack.bucket, `recordings/${id}/`)).toEqual([]);
    expect((await cli('verify', id)).out).toContain('DELETED');
  });

  test('audit verify: intact, with its head to keep as an anchor; a wrong anchor is found', async () => {
    const good = await cli('audit', 'verify');
    expect(good.code).toBe(0);
    const head = /head: (\d+):([0-9a-f]{64})/.exec(good.out);
    expect(good.out).toContain('audit log: INTACT');
    expect(head).not.toBeNull();
    expect(await cli('audit', 'verify', '--anchor', `${head![1]}:${head![2]}`)).toMatchObject({ code: 0 });
    const bad = await cli('audit', 'verify', '--anchor', `${head![1]}:${'0'.repeat(64)}`);
    expect(bad).toMatchObject({ code: 1, out: expect.stringContaining('does not match the anchor given') });
    expect(await cli('audit', 'verify', '--anchor', 'nonsense')).toMatchObject({ code: 2 });
    expect(await cli('audit')).toMatchObject({ code: 2 });
  });
});
