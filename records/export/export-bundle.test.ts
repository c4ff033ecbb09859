import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { finished } from 'node:stream/promises';
import { promisify } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { KmsManifestSigner } from '../../queue/manifest-signer.js';
import { readAudit } from '../../audit/index.js';
import { appendConsent } from '../../keyservice/consent-ledger.js';
import { testMedia } from '../../queue/testing/media.js';
import { startSealTestStack, type SealTestStack } from '../../queue/testing/stack.js';
import { principalFromToken, type Principal } from '../principal.js';
import { ManualClock } from '../lifecycle/clock.js';
import { deleteOnRequest } from '../lifecycle/deletion.js';
import { sealer, type Sealer } from '../lifecycle/testing/sealed-recording.js';
import { exportBundle, type ExportDeps, type ExportRequest } from './export-bundle.js';

jest.setTimeout(120_000);

const run = promisify(execFile);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const officer: Principal = principalFromToken({ subject: 'officer-17', role: 'records-officer' });
const patient: Principal = principalFromToken({ subject: 'patient-7f3a9c', role: 'patient', room: 'room-telehealth-42' });
const clinician: Principal = principalFromToken({ subject: 'clinician-51b2e0', role: 'clinician', room: 'room-telehealth-42' });

/** The indented command lines of a README section, as a recipient would copy them. */
function commands(text: string, from: string, to?: string): string[] {
  const start = text.indexOf(from);
  const end = to ? text.indexOf(to, start) : text.length;
  return text
    .slice(start, end)
    .split('\n')
    .filter((line) => /^ {3}\S/.test(line))
    .map((line) => line.trim());
}

async function sh(dir: string, script: string): Promise<string> {
  const { stdout } = await run('sh', ['-ec', script], { cwd: dir });
  return stdout;
}

describe('export bundle (right of access): verifiable with sha256sum and openssl alone', () => {
  let stack: SealTestStack;
  let seal: Sealer;
  let deps: ExportDeps;
  let work: string;
  let recipientPem: string;

  beforeAll(async () => {
    [stack] = await Promise.all([startSealTestStack(), testMedia()]);
    seal = sealer(stack);
    deps = {
      pool: stack.pool,
      store: seal.services.store,
      keyRoot: seal.services.keyRoot,
      trustedSignerKeys: [await seal.services.signer.publicKeySpki()],
      clock: new ManualClock(1_800_000_000_000),
      logger: stack.logger,
    };
    work = await mkdtemp(join(tmpdir(), 'chaperone-export-test-'));
    // The recipient makes their key pair with standard tools.
    await run('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', join(work, 'recipient-key.pem')]);
    await run('openssl', ['pkey', '-in', join(work, 'recipient-key.pem'), '-pubout', '-out', join(work, 'recipient.pub.pem')]);
    recipientPem = await readFile(join(work, 'recipient.pub.pem'), 'utf8');
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function exportTo(dir: string, who: Principal, request: Omit<ExportRequest, 'recipientPublicKey'>) {
    const file = join(dir, 'export.tar');
    const out = createWriteStream(file);
    const result = await exportBundle(deps, who, { ...request, recipientPublicKey: recipientPem }, out);
    out.end();
    await finished(out);
    return { result, file };
  }

  test('a patient exports their own track; the recipient decrypts with openssl and verifies every file as the README says', async () => {
    const { fixture, recording } = await seal.seal();
    const id = recording.recordingId;
    await appendConsent(stack.pool, {
      roomId: 'room-telehealth-42',
      groupIdHex: 'abcd01',
      memberId: 'patient-7f3a9c',
      memberRole: 'patient',
      leafIndex: 1,
      policyVersion: 3,
      purpose: 'medical-record',
      statementSha256: 'a'.repeat(64),
      decision: 'grant',
      issuedAtMs: 1_790_000_000_000,
      statement: Buffer.from(`statement for ${id}`),
      signature: Buffer.alloc(64, 7),
      signerKey: Buffer.alloc(32, 9),
      via: 'delivery',
    });
    const dir = await mkdtemp(join(work, 'patient-'));
    const { result, file } = await exportTo(dir, patient, { recordingId: id });
    expect(result).toMatchObject({ scope: 'participant', participantIds: ['patient-7f3a9c'], tracks: ['t01-video'], segments: 1 });
    expect(sha256(await readFile(file))).toBe(result.bundleSha256);

    // What the recipient does: DECRYPT.txt's commands, verbatim, with their private key beside them.
    await run('tar', ['xf', 'export.tar'], { cwd: dir });
    await writeFile(join(dir, 'recipient-key.pem'), await readFile(join(work, 'recipient-key.pem')));
    const decrypt = await readFile(join(dir, 'DECRYPT.txt'), 'utf8');
    expect(decrypt).not.toContain('patient-7f3a9c');
    const steps = commands(decrypt, '1. Unwrap', 'Then follow');
    expect(steps.length).toBeGreaterThanOrEqual(6);
    expect(await sh(dir, steps.join('\n'))).toContain('OK');
    const bundle = join(dir, 'chaperone-export');
    expect((await readdir(join(bundle, 'tracks'))).sort()).toEqual(['t01-video-s001.webm']); // the clinician's audio is not theirs
    expect((await readFile(join(bundle, 'tracks', 't01-video-s001.webm'))).equals(fixture.originals.get('t01-video-s01.webm')!)).toBe(true);

    // README.txt's verification steps, verbatim.
    const readme = await readFile(join(bundle, 'README.txt'), 'utf8');
    const [signatureStep] = commands(readme, '1. The signature', '2. The statement');
    expect(await sh(bundle, signatureStep!)).toMatch(/Signature Verified Successfully|Verified OK/);
    const [hashStep, statementStep] = commands(readme, '2. The statement', '3. The media');
    const manifestHash = (await sh(bundle, hashStep!)).split(' ')[0];
    expect(await sh(bundle, statementStep!)).toContain(`"manifestSha256":"${manifestHash}"`);
    expect(manifestHash).toBe(recording.manifestSha256);
    const [sumsStep] = commands(readme, '3. The media', '4. Every hash');
    expect((await sh(bundle, sumsStep!)).trim()).toBe('tracks/t01-video-s001.webm: OK');
    const [inManifestStep] = commands(readme, '4. Every hash', '5. The signing key');
    expect((await sh(bundle, inManifestStep!)).trim().split('\n').every((l) => l.endsWith('in manifest'))).toBe(true);
    const [fingerprintStep] = commands(readme, '5. The signing key', 'If any step fails');
    expect((await sh(bundle, fingerprintStep!)).split(' ')[0]).toBe(sha256(deps.trustedSignerKeys[0]!));
    const consentFiles = await readdir(join(bundle, 'consent'));
    expect(consentFiles).toHaveLength(1);
    expect(JSON.parse(await readFile(join(bundle, 'consent', consentFiles[0]!), 'utf8'))).toMatchObject({ memberId: 'patient-7f3a9c', decision: 'grant' });

    // An altered signed file fails step 1; an altered bundle fails the HMAC check before decryption.
    await writeFile(join(bundle, 'manifest-statement.json'), (await readFile(join(bundle, 'manifest-statement.json'), 'utf8')).replace(/"manifestSha256":"(.)/, (_m, c: string) => `"manifestSha256":"${c === '0' ? '1' : '0'}`));
    await expect(sh(bundle, signatureStep!)).rejects.toThrow();
    const enc = await readFile(join(dir, 'bundle.tar.enc'));
    enc[enc.length - 40] = enc[enc.length - 40]! ^ 1;
    await writeFile(join(dir, 'bundle.tar.enc'), enc);
    await expect(sh(dir, steps.slice(0, 4).join('\n'))).rejects.toThrow();

    const audit = (await readAudit(stack.pool, { roomId: 'room-telehealth-42', limit: 5000 })).filter((e) => e.subjectId === id && e.event === 'recording.exported');
    expect(audit).toEqual([expect.objectContaining({ outcome: 'ok', actorRole: 'patient', actorId: 'patient-7f3a9c', details: expect.objectContaining({ bundleSha256: result.bundleSha256, trackIds: 't01-video', tracks: 1 }) })]);
  });

  test('a manifest signed with ECDSA P-256 (the other KMS signing key type) verifies with README step 1 as well', async () => {
    const key = await stack.kmsClient.send(new CreateKeyCommand({ Description: 'p-256 manifests (test)', KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }));
    const signer = new KmsManifestSigner(stack.kmsClient, key.KeyMetadata!.Arn!);
    const { recording } = await sealer(stack, { signer }).seal();
    const dir = await mkdtemp(join(work, 'p256-'));
    const file = join(dir, 'export.tar');
    const out = createWriteStream(file);
    await exportBundle({ ...deps, trustedSignerKeys: [await signer.publicKeySpki()] }, patient, { recordingId: recording.recordingId, recipientPublicKey: recipientPem }, out);
    out.end();
    await finished(out);
    await run('tar', ['xf', 'export.tar'], { cwd: dir });
    await writeFile(join(dir, 'recipient-key.pem'), await readFile(join(work, 'recipient-key.pem')));
    await sh(dir, commands(await readFile(join(dir, 'DECRYPT.txt'), 'utf8'), '1. Unwrap', 'Then follow').join('\n'));
    const bundle = join(dir, 'chaperone-export');
    const readme = await readFile(join(bundle, 'README.txt'), 'utf8');
    const [signatureStep] = commands(readme, '1. The signature', '2. The statement');
    expect(signatureStep).toContain('openssl dgst -sha256 -verify');
    expect(await sh(bundle, signatureStep!)).toContain('Verified OK');
  });

  test('refusals: a patient asks for the whole recording or another participant, a clinician exports, a weak recipient key', async () => {
    const { recording } = await seal.seal();
    const id = recording.recordingId;
    const sink = () => new PassThrough().resume();
    await expect(exportBundle(deps, patient, { recordingId: id, scope: 'recording', recipientPublicKey: recipientPem }, sink())).rejects.toMatchObject({ code: 'CHAP_RECORDS_FORBIDDEN' });
    await expect(exportBundle(deps, patient, { recordingId: id, participantId: 'clinician-51b2e0', recipientPublicKey: recipientPem }, sink())).rejects.toMatchObject({ code: 'CHAP_RECORDS_FORBIDDEN' });
    await expect(exportBundle(deps, clinician, { recordingId: id, recipientPublicKey: recipientPem }, sink())).rejects.toMatchObject({ code: 'CHAP_RECORDS_BAD_INPUT', field: 'participantId' });
    await expect(exportBundle(deps, clinician, { recordingId: id, participantId: 'clinician-51b2e0', recipientPublicKey: recipientPem }, sink())).rejects.toMatchObject({ code: 'CHAP_RECORDS_FORBIDDEN' });
    await run('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024', '-out', join(work, 'weak.pem')]);
    const { stdout: weak } = await run('openssl', ['pkey', '-in', join(work, 'weak.pem'), '-pubout']);
    await expect(exportBundle(deps, patient, { recordingId: id, recipientPublicKey: weak }, sink())).rejects.toMatchObject({ code: 'CHAP_RECORDS_BAD_INPUT', field: 'recipientPublicKey' });
    await expect(exportBundle(deps, patient, { recordingId: id, recipientPublicKey: 'not a key' }, sink())).rejects.toMatchObject({ field: 'recipientPublicKey' });
    const refused = (await readAudit(stack.pool, { roomId: 'room-telehealth-42', limit: 5000 })).filter((e) => e.subjectId === id && e.outcome === 'refused');
    expect(refused.map((e) => `${e.event}/${e.actorRole}/${String(e.details.reason)}`).sort()).toEqual([
      'recording.export/clinician/role-not-permitted',
      'recording.export/patient/own-tracks-only',
      'recording.export/patient/own-tracks-only',
    ]);
  });

  test('a records officer exports the whole recording after one track was deleted: the deleted track is left out and its tombstone included; an altered object fails closed', async () => {
    const { recording } = await seal.seal();
    const id = recording.recordingId;
    const purge = { s3: stack.s3Client(), bucket: stack.bucket, allowUnlistableVersions: true };
    await deleteOnRequest({ pool: stack.pool, purge, clock: deps.clock, logger: stack.logger }, officer, { recordingId: id, trackId: 't02-audio', reasonCode: 'patient-request', reason: 'erasure request ER-2026-9 from the participant' });
    const dir = await mkdtemp(join(work, 'officer-'));
    const { result } = await exportTo(dir, officer, { recordingId: id, scope: 'recording' });
    expect(result).toMatchObject({ scope: 'recording', tracks: ['t01-video'], deletedTracks: ['t02-audio'] });
    await run('tar', ['xf', 'export.tar'], { cwd: dir });
    await writeFile(join(dir, 'recipient-key.pem'), await readFile(join(work, 'recipient-key.pem')));
    await sh(dir, commands(await readFile(join(dir, 'DECRYPT.txt'), 'utf8'), '1. Unwrap', 'Then follow').join('\n'));
    const tomb = JSON.parse(await readFile(join(dir, 'chaperone-export', 'tombstones.json'), 'utf8')) as Array<{ trackId: string }>;
    expect(tomb.map((t) => t.trackId)).toEqual(['t02-audio']);
    expect(await readFile(join(dir, 'chaperone-export', 'README.txt'), 'utf8')).toContain('DELETED TRACKS');

    // Someone overwrites the stored video object: the export refuses before writing a byte, and says so in the audit log.
    await stack.s3Client().send(new PutObjectCommand({ Bucket: stack.bucket, Key: `recordings/${id}/t01-video/001.esdk`, Body: Buffer.alloc(4096, 1) }));
    const out = new PassThrough();
    let written = 0;
    out.on('data', (c: Buffer) => (written += c.length));
    await expect(exportBundle(deps, officer, { recordingId: id, scope: 'recording', recipientPublicKey: recipientPem }, out)).rejects.toMatchObject({ code: 'CHAP_RECORDS_INTEGRITY' });
    expect(written).toBe(0);
    const failed = (await readAudit(stack.pool, { roomId: 'room-telehealth-42', limit: 5000 })).filter((e) => e.subjectId === id && e.event === 'recording.exported');
    expect(failed.map((e) => e.outcome)).toEqual(['ok', 'failed']);
  });
});
