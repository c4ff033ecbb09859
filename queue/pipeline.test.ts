import { jest } from '@jest/globals';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdtemp, open, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CopyObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DisableKeyCommand, EnableKeyCommand, GetPublicKeyCommand, CreateKeyCommand } from '@aws-sdk/client-kms';
import { Redis } from 'ioredis';
import { FlowProducer, Queue } from 'bullmq';
import pg from 'pg';
import { readAudit } from '../audit/index.js';
import { runChaperoneCaptured } from '../cli/testing/run-captured.js';
import { waitFor } from '../devstack/wait-for.js';
import { startRedisServer } from '../devstack/redis-server.js';
import { enqueueSealRecording } from './contract.js';
import { assertCatalogMigrated, listSegments, listTracks } from './catalog.js';
import { codeOfFailedReason } from './errors.js';
import { destroyTrackKey } from './keys/data-keys.js';
import { KmsKeyRoot } from './keys/key-root.js';
import { verifyManifest, type RecordingManifest } from './manifest.js';
import { segmentJobId, recordingJobId } from './jobs.js';
import { ObjectStore } from './object-store.js';
import { Spool } from './spool.js';
import { startSealWorkers } from './workers.js';
import { verifyRecording } from './verify-recording.js';
import { spoolRecording, testMedia } from './testing/media.js';
import { startSealTestStack, type SealTestStack } from './testing/stack.js';
import { containsPlaintextRun, decryptBytes, dumpRedis, failed, getObjectBytes, listObjectKeys, sealedAndReleased, waitForRecording } from './testing/inspect.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

// Integration tests wait for events; these bounds only matter on a heavily loaded machine.
jest.setTimeout(120_000);

/** Runs `chaperone` commands against the stack, configured as the pipeline is (a seal config file). */
async function cliFor(stack: SealTestStack, prefix?: string): Promise<(...args: string[]) => Promise<{ code: number; out: string; err: string }>> {
  const dir = await mkdtemp(join(tmpdir(), 'chaperone-cli-'));
  const configFile = join(dir, 'seal.json');
  await stack.writeSealConfig(configFile, { redisPrefix: prefix });
  return (...args: string[]) => runChaperoneCaptured({ CHAPERONE_SEAL_CONFIG: configFile }, args);
}

describe('sealing pipeline (real Redis, PostgreSQL, s3rver, KMS double)', () => {
  let stack: SealTestStack;

  beforeAll(async () => {
    [stack] = await Promise.all([startSealTestStack(), testMedia()]);
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  });

  test('seals a recording end to end: verified ciphertext objects, catalog rows, signed manifest, spool released', async () => {
    const prefix = stack.prefix();
    const kmsCallsBefore = stack.kms.calls.length;
    const { request, originals, recordingDir } = await spoolRecording(stack.spoolDir);
    const enqueuer = stack.enqueuer(prefix);
    const services = stack.services();
    stack.workers(services, prefix);
    const result = await enqueueSealRecording(enqueuer, request);
    expect(result).toEqual({ recordingId: request.recordingId, status: 'enqueued', segments: 3 });

    const recording = await waitForRecording(stack.pool, request.recordingId, sealedAndReleased);
    expect(existsSync(recordingDir)).toBe(false);

    // Catalog: one row per track and segment, each verified with the hashes of the original files.
    const tracks = await listTracks(stack.pool, request.recordingId);
    expect(tracks.map((t) => [t.trackId, t.participantId, t.kind, t.codec])).toEqual([
      ['t01-video', 'patient-7f3a9c', 'video', 'vp8'],
      ['t02-audio', 'clinician-51b2e0', 'audio', 'opus'],
    ]);
    const segments = await listSegments(stack.pool, request.recordingId);
    expect(segments).toHaveLength(3);
    expect(originals.get('t01-video-s01.webm')!.length).toBeGreaterThan(5 * 1024 * 1024);
    for (const segment of segments) {
      const original = originals.get(segment.spoolFile)!;
      expect(segment).toMatchObject({ state: 'verified', plaintextSha256: sha256(original), plaintextBytes: original.length, failureCode: null });
      expect(segment.spoolReleasedAt).not.toBeNull();
      // s3rver has no SSE: requested, never confirmed, and recorded as such (not claimed).
      expect(segment.sse).toBe('none');
      expect(segment.objectKey).toBe(`recordings/${request.recordingId}/${segment.trackId}/${String(segment.segmentNo).padStart(3, '0')}.esdk`);
    }
    const trackKeys = new Set(segments.map((s) => s.keyRef));
    expect(trackKeys.size).toBe(2); // one key per track, shared by the track's segments

    // Stored objects are ciphertext: no run of the plaintext, no container markers, and they decrypt
    // (through KMS) to exactly the original bytes.
    const client = stack.s3Client();
    expect(await listObjectKeys(client, stack.bucket, `recordings/${request.recordingId}/`)).toEqual([
      `recordings/${request.recordingId}/manifest.esdk`,
      `recordings/${request.recordingId}/t01-video/001.esdk`,
      `recordings/${request.recordingId}/t01-video/002.esdk`,
      `recordings/${request.recordingId}/t02-audio/001.esdk`,
    ]);
    for (const segment of segments) {
      const stored = await getObjectBytes(client, stack.bucket, segment.objectKey!);
      const original = originals.get(segment.spoolFile)!;
      expect(sha256(stored)).toBe(segment.ciphertextSha256);
      expect(containsPlaintextRun(stored, original)).toBe(false);
      for (const marker of [Buffer.from([0x1a, 0x45, 0xdf, 0xa3]), Buffer.from('webm'), Buffer.from('OpusHead'), Buffer.from('V_VP8'), Buffer.from('patient-7f3a9c')]) {
        expect(stored.includes(marker)).toBe(false);
      }
      expect((await decryptBytes(stack.pool, services.keyRoot, segment.keyRef!, stored)).equals(original)).toBe(true);
    }

    // Signed manifest: verifies with the KMS signing key's public key; says what the catalog says.
    const { PublicKey } = await stack.kmsClient.send(new GetPublicKeyCommand({ KeyId: stack.signingKeyArn }));
    const check = verifyManifest(recording.manifest!, recording.manifestSignature, [Buffer.from(PublicKey!)]);
    expect(check).toMatchObject({ valid: true, trusted: true, keyId: stack.signingKeyArn, problems: [] });
    const manifest = check.manifest as RecordingManifest;
    expect(manifest).toMatchObject({
      recordingId: request.recordingId,
      roomId: request.roomId,
      recorder: { id: request.recorderId },
      policy: request.policy,
      consentRefs: request.consentRefs,
      retentionUntilMs: request.endedAtMs + 3650 * 86_400_000,
      encryption: { format: 'aws-encryption-sdk', keyRoot: { kind: 'aws-kms', keyId: stack.rootKeyArn } },
    });
    expect(recording.retentionUntil!.getTime()).toBe(manifest.retentionUntilMs);
    expect(manifest.tracks.map((t) => [t.trackId, t.participantId, t.segments.length, t.decryptFailures])).toEqual([
      ['t01-video', 'patient-7f3a9c', 2, 0],
      ['t02-audio', 'clinician-51b2e0', 1, 2],
    ]);
    for (const t of manifest.tracks) {
      for (const s of t.segments) {
        const row = segments.find((r) => r.trackId === t.trackId && r.segmentNo === s.segmentNo)!;
        expect(s).toMatchObject({ plaintext: { sha256: row.plaintextSha256, bytes: row.plaintextBytes }, ciphertext: { sha256: row.ciphertextSha256, bytes: row.ciphertextBytes }, object: { key: row.objectKey } });
      }
      expect(t.keyRef).toBe(segments.find((r) => r.trackId === t.trackId)!.keyRef);
    }

    // KMS saw identifiers only in encryption contexts; Redis holds no participant id, file name or hash (I5).
    const generated = stack.kms.calls.slice(kmsCallsBefore).filter((c) => c.operation === 'GenerateDataKey');
    expect(generated.map((c) => c.outcome)).toEqual(['ok', 'ok', 'ok']); // two track keys and the recording key, each made once
    for (const call of generated) expect(call.encryptionContextKeys.every((k) => k.startsWith('chaperone-'))).toBe(true);
    const redisText = await dumpRedis(stack.redis.url);
    expect(redisText).toContain(request.recordingId);
    for (const secret of ['patient-7f3a9c', 'clinician-51b2e0', 't01-video-s01.webm', segments[0]!.plaintextSha256!, 'consent-0001']) expect(redisText).not.toContain(secret);

    // Audit trail.
    const events = (await readAudit(stack.pool)).filter((e) => e.subjectId === request.recordingId).map((e) => e.event);
    expect(events).toEqual(['recording.handed-over', 'recording.sealed', 'recording.spool-released']);
  });

  test('objects decrypt only through the KMS key root: a disabled key or another key root cannot open them', async () => {
    const prefix = stack.prefix();
    const { request, originals } = await spoolRecording(stack.spoolDir, { videoSegments: 'small' });
    const services = stack.services();
    stack.workers(services, prefix);
    await enqueueSealRecording(stack.enqueuer(prefix), request);
    await waitForRecording(stack.pool, request.recordingId, sealedAndReleased);
    const [segment] = await listSegments(stack.pool, request.recordingId);
    const stored = await getObjectBytes(stack.s3Client(), stack.bucket, segment!.objectKey!);

    await stack.kmsClient.send(new DisableKeyCommand({ KeyId: stack.rootKeyArn }));
    try {
      await expect(decryptBytes(stack.pool, services.keyRoot, segment!.keyRef!, stored)).rejects.toMatchObject({ code: 'CHAP_SEAL_KMS_KEY_DISABLED' });
    } finally {
      await stack.kmsClient.send(new EnableKeyCommand({ KeyId: stack.rootKeyArn }));
    }
    const other = await stack.kmsClient.send(new CreateKeyCommand({}));
    await expect(decryptBytes(stack.pool, new KmsKeyRoot(stack.kmsClient, other.KeyMetadata!.Arn!), segment!.keyRef!, stored)).rejects.toMatchObject({ code: 'CHAP_SEAL_KEY_ROOT_MISMATCH' });
    expect((await decryptBytes(stack.pool, services.keyRoot, segment!.keyRef!, stored)).equals(originals.get(segment!.spoolFile)!)).toBe(true);
  });

  test('adding the same flow twice changes nothing; a different request under the same id is refused', async () => {
    const prefix = stack.prefix();
    const { request } = await spoolRecording(stack.spoolDir, { videoSegments: 'small' });
    const enqueuer = stack.enqueuer(prefix);
    const queues = stack.queues(prefix);
    expect((await enqueueSealRecording(enqueuer, request)).status).toBe('enqueued');
    const before = { segment: await queues.segment.getJobCounts(), recording: await queues.recording.getJobCounts() };
    expect((await enqueueSealRecording(enqueuer, request)).status).toBe('resubmitted');
    expect({ segment: await queues.segment.getJobCounts(), recording: await queues.recording.getJobCounts() }).toEqual(before);
    // 2 segments × (hash waiting; store and verify waiting-children) + the recording job waiting for children.
    expect(before.segment).toMatchObject({ waiting: 2, 'waiting-children': 4 });
    expect(before.recording).toMatchObject({ 'waiting-children': 1 });
    await expect(enqueueSealRecording(enqueuer, { ...request, endReason: 'aborted' })).rejects.toMatchObject({ code: 'CHAP_SEAL_RECORDING_CONFLICT' });

    stack.workers(stack.services(), prefix);
    await waitForRecording(stack.pool, request.recordingId, sealedAndReleased);
    expect(await enqueueSealRecording(enqueuer, request)).toMatchObject({ status: 'already-sealed' });
    const job = await queues.segment.getJob(segmentJobId('hash-segment', { recordingId: request.recordingId, trackId: 't01-video', segmentNo: 1 }));
    expect(job?.attemptsMade).toBe(1);
    expect(await (await queues.recording.getJob(recordingJobId(request.recordingId)))?.getState()).toBe('completed');
    expect(await listSegments(stack.pool, request.recordingId)).toHaveLength(2);
    const { rows } = await stack.pool.query('select count(*)::int as n from recording_keys where recording_id = $1', [request.recordingId]);
    expect(rows[0].n).toBe(3);
  });

  test('KMS access denied or a disabled key: unrecoverable at once, reported in the catalog and audit log, spool kept', async () => {
    const denied = await stack.kmsClient.send(new CreateKeyCommand({}));
    const disabled = await stack.kmsClient.send(new CreateKeyCommand({}));
    await stack.kmsClient.send(new DisableKeyCommand({ KeyId: disabled.KeyMetadata!.Arn! }));
    stack.kms.denyAccess({ keyId: denied.KeyMetadata!.Arn!, operations: ['GenerateDataKey'] });
    try {
      for (const [keyArn, code] of [
        [denied.KeyMetadata!.Arn!, 'CHAP_SEAL_KMS_ACCESS_DENIED'],
        [disabled.KeyMetadata!.Arn!, 'CHAP_SEAL_KMS_KEY_DISABLED'],
      ] as const) {
        const prefix = stack.prefix();
        const { request, recordingDir } = await spoolRecording(stack.spoolDir, { videoSegments: 'small' });
        stack.workers(stack.services({ keyRoot: new KmsKeyRoot(stack.kmsClient, keyArn) }), prefix);
        await enqueueSealRecording(stack.enqueuer(prefix), request);
        const recording = await waitForRecording(stack.pool, request.recordingId, failed);
        expect(recording).toMatchObject({ failureCode: code, manifest: null, spoolReleasedAt: null });
        expect(recording.failureDetail).toMatch(/then retry the recording$/);
        const queues = stack.queues(prefix);
        const store = await queues.segment.getJob(segmentJobId('store-segment', { recordingId: request.recordingId, trackId: 't02-audio', segmentNo: 1 }));
        await waitFor('store job failed', async () => (await store!.getState()) === 'failed', 90_000);
        const failedStore = await queues.segment.getJob(store!.id!);
        expect(failedStore!.attemptsMade).toBe(1); // UnrecoverableError: no retry spent
        expect(codeOfFailedReason(failedStore!.failedReason)).toBe(code);
        await waitFor('recording job failed', async () => (await (await queues.recording.getJob(recordingJobId(request.recordingId)))!.getState()) === 'failed', 90_000);
        expect((await readdir(recordingDir)).sort()).toEqual(['t01-video-s01.webm', 't02-audio-s01.webm']);
        expect((await listSegments(stack.pool, request.recordingId)).map((s) => s.state)).toEqual(['hashed', 'hashed']);
        const audit = (await readAudit(stack.pool)).filter((e) => e.subjectId === request.recordingId && e.event === 'recording.seal-failed');
        expect(audit[0]).toMatchObject({ outcome: 'failed', details: { code } });
      }
    } finally {
      stack.kms.allowAccess();
    }
  });

  test('chaperone reseal: a recording failed by KMS access denial is sealed again once access is granted, repeating only unfinished work', async () => {
    const key = (await stack.kmsClient.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    stack.kms.denyAccess({ keyId: key, operations: ['GenerateDataKey'] });
    const prefix = stack.prefix();
    const run = await cliFor(stack, prefix);
    const { request, originals } = await spoolRecording(stack.spoolDir, { videoSegments: 'small' });
    const services = stack.services({ keyRoot: new KmsKeyRoot(stack.kmsClient, key) });
    stack.workers(services, prefix);
    try {
      await enqueueSealRecording(stack.enqueuer(prefix), request);
      await waitForRecording(stack.pool, request.recordingId, failed);
      const queues = stack.queues(prefix);
      await waitFor('recording job failed', async () => (await (await queues.recording.getJob(recordingJobId(request.recordingId)))?.getState()) === 'failed', 90_000);
      // Adding the flow again is a no-op while the failed jobs are kept: that is why reseal exists.
      expect((await enqueueSealRecording(stack.enqueuer(prefix), request)).status).toBe('resubmitted');
      expect((await stack.pool.query('select state from recordings where recording_id = $1', [request.recordingId])).rows[0].state).toBe('failed');
    } finally {
      stack.kms.allowAccess();
    }
    const resealed = await run('reseal', request.recordingId);
    expect(resealed).toMatchObject({ code: 0, out: expect.stringContaining('sealing again (previous failure CHAP_SEAL_KMS_ACCESS_DENIED); 2 segment(s) to seal, 0 already verified') });
    await waitForRecording(stack.pool, request.recordingId, sealedAndReleased);
    const report = await verifyRecording({ db: stack.pool, store: services.store, keyRoot: services.keyRoot }, request.recordingId);
    expect(report.ok).toBe(true);
    for (const segment of await listSegments(stack.pool, request.recordingId)) {
      const plain = await decryptBytes(stack.pool, services.keyRoot, segment.keyRef!, await getObjectBytes(stack.s3Client(), stack.bucket, segment.objectKey!));
      expect(sha256(plain)).toBe(sha256(originals.get(segment.spoolFile)!));
    }
    const events = (await readAudit(stack.pool)).filter((e) => e.subjectId === request.recordingId).map((e) => `${e.event}:${e.outcome}`);
    expect(events).toEqual(expect.arrayContaining(['recording.seal-failed:failed', 'recording.reseal-requested:ok', 'recording.sealed:ok']));

    // Refusals name the reason: already sealed, unknown, bad usage.
    const again = await run('reseal', request.recordingId);
    expect(again).toMatchObject({ code: 1, out: expect.stringContaining('already sealed') });
    expect(await run('reseal', 'rec-unknown')).toMatchObject({ code: 1, out: expect.stringContaining('not in the catalog') });
    expect(await run('reseal')).toMatchObject({ code: 2 });
    expect(await run('reseal', '../x')).toMatchObject({ code: 2 });
  });

  test('a spool file that changes after hashing fails permanently and keeps the spool: a new length aborts the upload, new content fails verification', async () => {
    // The second resolve of a file is the store step's: change the file just before it is read again.
    class TamperingSpool extends Spool {
      private readonly seen = new Map<string, number>();
      constructor(
        dir: string,
        private readonly tamper: (path: string) => Promise<void>,
      ) {
        super(dir);
      }
      override async resolve(recordingId: string, file: string) {
        const n = (this.seen.get(file) ?? 0) + 1;
        this.seen.set(file, n);
        if (n === 2 && file === 't01-video-s01.webm') await this.tamper(join(this.recordingDir(recordingId), file));
        return super.resolve(recordingId, file);
      }
    }
    const appendBytes = async (path: string) => appendFile(path, 'tampered');
    const flipOneByte = async (path: string) => {
      const handle = await open(path, 'r+');
      const byte = Buffer.alloc(1);
      await handle.read(byte, 0, 1, 4096);
      byte[0]! ^= 0xff;
      await handle.write(byte, 0, 1, 4096);
      await handle.close();
    };
    for (const [tamper, expected] of [
      [appendBytes, { state: 'hashed', objectKey: null }],
      [flipOneByte, { state: 'stored' }],
    ] as const) {
      const prefix = stack.prefix();
      const { request, recordingDir, originals } = await spoolRecording(stack.spoolDir, { videoSegments: 'big' });
      stack.workers(stack.services({ spool: new TamperingSpool(stack.spoolDir, tamper) }), prefix);
      await enqueueSealRecording(stack.enqueuer(prefix), request);
      const recording = await waitForRecording(stack.pool, request.recordingId, failed);
      expect(recording.failureCode).toBe('CHAP_SEAL_HASH_MISMATCH');
      const video = (await listSegments(stack.pool, request.recordingId)).find((s) => s.trackId === 't01-video')!;
      expect(video).toMatchObject({ ...expected, failureCode: 'CHAP_SEAL_HASH_MISMATCH', plaintextSha256: sha256(originals.get('t01-video-s01.webm')!), spoolReleasedAt: null });
      if (tamper === appendBytes) {
        // The 8 MB file went up as a multipart upload; it was aborted, not completed.
        expect(await listObjectKeys(stack.s3Client(), stack.bucket, `recordings/${request.recordingId}/t01-video/`)).toEqual([]);
        expect((await stack.s3.listIncompleteUploads()).filter((u) => u.key.includes(request.recordingId))).toEqual([]);
      } else {
        expect(video.failureDetail).toContain('decrypts to other bytes than the spool file hashed');
      }
      expect(existsSync(join(recordingDir, 't01-video-s01.webm'))).toBe(true);
      expect(recording.manifest).toBeNull();
    }
  });

  test('crypto-shredding: destroying a track key leaves every copy of the track unreadable; other tracks stay readable', async () => {
    const prefix = stack.prefix();
    const { request, originals } = await spoolRecording(stack.spoolDir, { videoSegments: 'small' });
    const services = stack.services();
    stack.workers(services, prefix);
    await enqueueSealRecording(stack.enqueuer(prefix), request);
    await waitForRecording(stack.pool, request.recordingId, sealedAndReleased);
    const segments = await listSegments(stack.pool, request.recordingId);
    const video = segments.find((s) => s.trackId === 't01-video')!;
    const audio = segments.find((s) => s.trackId === 't02-audio')!;
    const client = stack.s3Client();
    // Copies: a second object (a replica or backup in the bucket) and bytes kept outside S3.
    const backupKey = `backup/${video.objectKey}`;
    await client.send(new CopyObjectCommand({ Bucket: stack.bucket, Key: backupKey, CopySource: `${stack.bucket}/${video.objectKey}` }));
    const offline = await getObjectBytes(client, stack.bucket, video.objectKey!);
    expect((await decryptBytes(stack.pool, services.keyRoot, video.keyRef!, offline)).equals(originals.get(video.spoolFile)!)).toBe(true);
    // Only the track key can open the object: its header holds no KMS-wrapped key.
    expect(offline.includes(Buffer.from('chaperone'))).toBe(true);
    expect(offline.includes(Buffer.from('aws-kms'))).toBe(false);

    expect(await destroyTrackKey(stack.pool, request.recordingId, 't01-video', { role: 'records-officer', id: 'officer-17' })).toBe(true);
    expect(await destroyTrackKey(stack.pool, request.recordingId, 't01-video', { role: 'records-officer', id: 'officer-17' })).toBe(false);
    for (const copy of [await getObjectBytes(client, stack.bucket, video.objectKey!), await getObjectBytes(client, stack.bucket, backupKey), offline]) {
      await expect(decryptBytes(stack.pool, services.keyRoot, video.keyRef!, copy)).rejects.toMatchObject({ code: 'CHAP_SEAL_KEY_DESTROYED' });
      // No other key of the recording opens it either.
      for (const other of [audio.keyRef!, ...(await stack.pool.query(`select key_ref from recording_keys where recording_id = $1 and wrapped_key is not null`, [request.recordingId])).rows.map((r) => r.key_ref as string)]) {
        await expect(decryptBytes(stack.pool, services.keyRoot, other, copy)).rejects.toThrow();
      }
    }
    expect((await decryptBytes(stack.pool, services.keyRoot, audio.keyRef!, await getObjectBytes(client, stack.bucket, audio.objectKey!))).equals(originals.get(audio.spoolFile)!)).toBe(true);
    const report = await verifyRecording({ db: stack.pool, store: services.store, keyRoot: services.keyRoot }, request.recordingId);
    expect(report.ok).toBe(false);
    expect(report.segments.map((s) => [s.trackId, s.ok])).toEqual([
      ['t01-video', false],
      ['t02-audio', true],
    ]);
    expect(report.segments[0]!.problems.join()).toContain('CHAP_SEAL_KEY_DESTROYED');
    const audit = (await readAudit(stack.pool)).filter((e) => e.subjectId === request.recordingId && e.event === 'recording.key-destroyed');
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actorRole: 'records-officer', details: { trackId: 't01-video', keyRef: video.keyRef } });
  });

  test('chaperone verify: a clear report with progress on stderr; an altered object or manifest fails and is named', async () => {
    const prefix = stack.prefix();
    const { request } = await spoolRecording(stack.spoolDir, { videoSegments: 'big+small' });
    stack.workers(stack.services(), prefix);
    await enqueueSealRecording(stack.enqueuer(prefix), request);
    await waitForRecording(stack.pool, request.recordingId, sealedAndReleased);
    const run = await cliFor(stack);

    const good = await run('verify', request.recordingId);
    expect({ code: good.code, err: good.code === 0 ? "" : good.err }).toEqual({ code: 0, err: "" });
    expect(good.out).toContain(`recording ${request.recordingId}: VERIFIED`);
    expect(good.out).toContain(`signature valid (key ${stack.signingKeyArn}; signed by the configured key)`);
    expect(good.out).toMatch(/ok +track t01-video segment 1 +7\.\d MiB/);
    expect(good.out).toContain('3 segment(s)');
    expect(good.err).toMatch(/verifying segment 1\/3 \(t01-video #1\)/);
    expect(good.err.split('\n').length).toBeGreaterThan(4);

    const json = await run('verify', request.recordingId, '--json');
    expect(JSON.parse(json.out)).toMatchObject({ ok: true, manifest: { valid: true, trusted: true }, totals: { segments: 3 } });
    expect(await run('verify')).toMatchObject({ code: 2 });
    expect(await run('verify', 'no/such')).toMatchObject({ code: 2 });
    expect((await run('verify', 'rec-unknown')).out).toContain('is not in the catalog');

    // Alter one stored object: flip a byte in the middle of its ciphertext.
    const audio = (await listSegments(stack.pool, request.recordingId)).find((s) => s.trackId === 't02-audio')!;
    const client = stack.s3Client();
    const bytes = await getObjectBytes(client, stack.bucket, audio.objectKey!);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    await client.send(new PutObjectCommand({ Bucket: stack.bucket, Key: audio.objectKey!, Body: bytes }));
    const altered = await run('verify', request.recordingId);
    expect(altered.code).toBe(1);
    expect(altered.out).toContain(`recording ${request.recordingId}: FAILED`);
    expect(altered.out).toMatch(/FAIL +track t02-audio segment 1/);
    expect(altered.out).toContain('failed: t02-audio#1');
    expect(altered.out).toMatch(/ok +track t01-video segment 1/);

    // Alter the manifest in the catalog: the signature no longer covers it.
    await stack.pool.query(`update recordings set manifest = replace(manifest, '"decryptFailures":2', '"decryptFailures":0') where recording_id = $1`, [request.recordingId]);
    const forged = await run('verify', request.recordingId);
    expect(forged.code).toBe(1);
    expect(forged.out).toContain('manifest: INVALID');
    expect(forged.out).toMatch(/differs from the signed/);
    const verified = (await readAudit(stack.pool)).filter((e) => e.subjectId === request.recordingId && e.event === 'recording.verified').map((e) => e.outcome);
    expect(verified).toEqual(['ok', 'ok', 'failed', 'failed']);
  });

  test('Redis restarted mid-flow (AOF): the jobs survive and the flow resumes to the same result', async () => {
    const redisDir = await mkdtemp(join(tmpdir(), 'chaperone-redis-restart-'));
    const port = stack.redis.port + 1000 > 65000 ? stack.redis.port - 1000 : stack.redis.port + 1000;
    let redis = await startRedisServer({ port, dir: redisDir });
    const prefix = stack.prefix();
    // Hold every UploadPart until released, so the restart happens while a segment is mid-upload.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let hit!: () => void;
    const hitGate = new Promise<void>((resolve) => (hit = resolve));
    const s3Client = stack.s3Client((client) =>
      client.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === 'UploadPartCommand') {
            hit();
            await released;
          }
          return next(args);
        },
        { step: 'initialize', name: 'holdUploadParts' },
      ),
    );
    const services = stack.services();
    const gated = { ...services, store: new ObjectStore({ client: s3Client, bucket: stack.bucket, partSizeBytes: 5 * 1024 * 1024, queueSize: 2, sseKmsKeyId: undefined, requireSse: false, logger: stack.logger }) };
    const flows = new FlowProducer({ connection: { url: redis.url }, prefix });
    const recordingQueue = new Queue('chaperone-seal-recording', { connection: { url: redis.url }, prefix });
    flows.on('error', () => undefined);
    recordingQueue.on('error', () => undefined);
    const workers = startSealWorkers(gated, { connection: { url: redis.url }, prefix, backoffMaxMs: 2000 });
    try {
      const { request } = await spoolRecording(stack.spoolDir, { videoSegments: 'big' });
      await enqueueSealRecording({ pool: stack.pool, flows, retry: { attempts: 40, backoffBaseMs: 200 } }, request);
      await hitGate;
      await redis.kill('SIGTERM'); // a clean shutdown writes the AOF; the directory is kept
      redis = await startRedisServer({ port, dir: redisDir });
      const probe = new Redis(redis.url);
      try {
        // The flow is still there after the restart: the recording job waits for its children.
        expect(await (await recordingQueue.getJob(recordingJobId(request.recordingId)))!.getState()).toBe('waiting-children');
        await waitFor('workers reconnected', async () => (await workers.segment.getBackend().client).status === 'ready' && (await workers.recording.getBackend().client).status === 'ready', 90_000);
      } finally {
        probe.disconnect();
      }
      release();
      await waitForRecording(stack.pool, request.recordingId, sealedAndReleased);
      expect(await (await recordingQueue.getJob(recordingJobId(request.recordingId)))!.getState()).toBe('completed');
      const report = await verifyRecording({ db: stack.pool, store: services.store, keyRoot: services.keyRoot }, request.recordingId);
      expect(report.ok).toBe(true);
    } finally {
      release();
      await workers.close();
      await flows.close();
      await recordingQueue.close();
      await redis.stop();
    }
  });

  test('S3 unreachable for 30 s: retried with backoff, spool kept until verified, then sealed', async () => {
    const prefix = stack.prefix();
    const { request, recordingDir } = await spoolRecording(stack.spoolDir, { videoSegments: 'small' });
    const queues = stack.queues(prefix);
    stack.workers(stack.services(), prefix);
    await stack.s3.pause();
    const outageStartedAt = Date.now();
    try {
      await enqueueSealRecording(stack.enqueuer(prefix), request);
      const storeId = segmentJobId('store-segment', { recordingId: request.recordingId, trackId: 't01-video', segmentNo: 1 });
      // The outage lasts until three failed attempts were seen and at least 30 s have passed, whichever is later.
      await waitFor('store retried', async () => ((await queues.segment.getJob(storeId))?.attemptsMade ?? 0) >= 3, 90_000);
      expect((await readdir(recordingDir)).sort()).toEqual(['t01-video-s01.webm', 't02-audio-s01.webm']);
      expect((await listSegments(stack.pool, request.recordingId)).map((s) => s.state)).toEqual(['hashed', 'hashed']);
      const stored = await queues.segment.getJob(storeId);
      expect(['delayed', 'active', 'waiting']).toContain(await stored!.getState());
      expect(codeOfFailedReason(stored!.failedReason)).toBe('CHAP_SEAL_S3_UNAVAILABLE');
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 30_000 - (Date.now() - outageStartedAt))));
      expect(existsSync(join(recordingDir, 't01-video-s01.webm'))).toBe(true);
    } finally {
      await stack.s3.resume();
    }
    const recording = await waitForRecording(stack.pool, request.recordingId, sealedAndReleased);
    expect(recording.failureCode).toBeNull();
    expect(existsSync(recordingDir)).toBe(false);
    const store = await queues.segment.getJob(segmentJobId('store-segment', { recordingId: request.recordingId, trackId: 't01-video', segmentNo: 1 }));
    expect(store!.attemptsMade).toBeGreaterThanOrEqual(5);
    expect(await store!.getState()).toBe('completed');
  }, 180_000);

  test('the service refuses a database without the catalog migration', async () => {
    await expect(assertCatalogMigrated(stack.pool)).resolves.toBeUndefined();
    await stack.pool.query('create schema if not exists empty_catalog');
    const elsewhere = new pg.Client({ connectionString: stack.postgres.url, options: '-c search_path=empty_catalog' });
    await elsewhere.connect();
    try {
      await expect(assertCatalogMigrated(elsewhere)).rejects.toMatchObject({ code: 'CHAP_SEAL_CATALOG_STATE', message: expect.stringContaining('run the migrations') });
    } finally {
      await elsewhere.end();
    }
  });
});
