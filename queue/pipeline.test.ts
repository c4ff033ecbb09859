import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { DisableKeyCommand, EnableKeyCommand, GetPublicKeyCommand, CreateKeyCommand } from '@aws-sdk/client-kms';
import { readAudit } from '../audit/index.js';
import { enqueueSealRecording } from './contract.js';
import { listSegments, listTracks } from './catalog.js';
import { KmsKeyRoot } from './keys/key-root.js';
import { verifyManifest, type RecordingManifest } from './manifest.js';
import { segmentJobId, recordingJobId } from './jobs.js';
import { spoolRecording, testMedia } from './testing/media.js';
import { startSealTestStack, type SealTestStack } from './testing/stack.js';
import { containsPlaintextRun, decryptBytes, dumpRedis, getObjectBytes, listObjectKeys, sealedAndReleased, waitForRecording } from './testing/inspect.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('sealing pipeline (real Redis, PostgreSQL, s3rver, KMS double)', () => {
  let stack: SealTestStack;

  beforeAll(async () => {
    [stack] = await Promise.all([startSealTestStack(), testMedia()]);
  }, 60_000);
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
});
