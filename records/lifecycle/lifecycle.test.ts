import { jest } from '@jest/globals';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAudit, verifyAuditChain } from '../../audit/index.js';
import { listDataKeys } from '../../queue/keys/data-keys.js';
import { decryptBytes, getObjectBytes, listObjectKeys } from '../../queue/testing/inspect.js';
import { testMedia } from '../../queue/testing/media.js';
import { startSealTestStack, type SealTestStack } from '../../queue/testing/stack.js';
import { verifyRecording } from '../../queue/verify-recording.js';
import { createGalleryDerivative, listDerivatives } from '../derivatives.js';
import { principalFromToken, servicePrincipal, type Principal } from '../principal.js';
import { ManualClock } from './clock.js';
import { deleteOnRequest, getDeletion, listDeletions, resumeOpenDeletions, runDeletion, requestDeletion, type DeletionDeps } from './deletion.js';
import { activeHold, listHolds, placeHold, releaseHold } from './legal-hold.js';
import { startLifecycleWorker } from './retention-scheduler.js';
import { sweepRetention } from './retention-sweep.js';
import { deletedParts, listTombstones } from './tombstone.js';
import { sealer, type Sealer } from './testing/sealed-recording.js';

jest.setTimeout(120_000);

const DAY_MS = 86_400_000;
const officer: Principal = principalFromToken({ subject: 'officer-17', role: 'records-officer' });
const patient: Principal = principalFromToken({ subject: 'patient-7f3a9c', role: 'patient', room: 'room-telehealth-42' });
const clinician: Principal = principalFromToken({ subject: 'clinician-51b2e0', role: 'clinician', room: 'room-telehealth-42' });
const auditor: Principal = principalFromToken({ subject: 'auditor-3', role: 'auditor' });
const REASON = 'records request RR-2026-0042 (patient right to erasure)';

describe('records lifecycle: legal hold, deletion, retention (real PostgreSQL, Redis, s3rver, KMS double)', () => {
  let stack: SealTestStack;
  let seal: Sealer;
  let clock: ManualClock;
  let deps: DeletionDeps;

  beforeAll(async () => {
    [stack] = await Promise.all([startSealTestStack(), testMedia()]);
    seal = sealer(stack);
    clock = new ManualClock(1_800_000_000_000);
    deps = { pool: stack.pool, purge: { s3: stack.s3Client(), bucket: stack.bucket, allowUnlistableVersions: true }, clock, logger: stack.logger };
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const verifyDeps = () => ({
    db: stack.pool,
    store: seal.services.store,
    keyRoot: seal.services.keyRoot,
    deletions: async (id: string) => {
      const parts = await deletedParts(stack.pool, id);
      return { recording: parts.recording, tracks: parts.tracks };
    },
  });

  test('deleting one track: its objects (every version) and key are gone, a backup copy no longer decrypts, the other track still decrypts and verifies', async () => {
    const { fixture, recording } = await seal.seal();
    const id = recording.recordingId;
    const client = stack.s3Client();
    const videoKey = `recordings/${id}/t01-video/001.esdk`;
    // A copy of the ciphertext taken before deletion: a stand-in for a bucket backup or replica.
    const backup = await getObjectBytes(client, stack.bucket, videoKey);
    const videoKeyRef = (await listDataKeys(stack.pool, id)).find((k) => k.trackId === 't01-video')!.keyRef;
    expect((await decryptBytes(stack.pool, seal.services.keyRoot, videoKeyRef, backup)).equals(fixture.originals.get('t01-video-s01.webm')!)).toBe(true);

    // A stray under the track's prefix that the catalog does not name (say, a second upload of a retried segment).
    const stray = `recordings/${id}/t01-video/001.esdk.second-upload`;
    await client.send(new PutObjectCommand({ Bucket: stack.bucket, Key: stray, Body: backup }));

    const deletion = await deleteOnRequest(deps, officer, { recordingId: id, trackId: 't01-video', reasonCode: 'patient-request', reason: REASON });
    expect(deletion).toMatchObject({ state: 'completed', scope: 'track', trackId: 't01-video', reasonCode: 'patient-request', requestedBy: { role: 'records-officer', id: 'officer-17' } });

    // Objects: nothing left under the track; the other track and the manifest copy are untouched.
    expect(await listObjectKeys(client, stack.bucket, `recordings/${id}/`)).toEqual([`recordings/${id}/manifest.esdk`, `recordings/${id}/t02-audio/001.esdk`]);
    // Key: destroyed; the backup copy cannot be decrypted by anyone through the key root.
    const keys = await listDataKeys(stack.pool, id);
    expect(keys.find((k) => k.trackId === 't01-video')!.destroyedAt).not.toBeNull();
    expect(keys.find((k) => k.trackId === 't02-audio')!.destroyedAt).toBeNull();
    await expect(decryptBytes(stack.pool, seal.services.keyRoot, videoKeyRef, backup)).rejects.toMatchObject({ code: 'CHAP_SEAL_KEY_DESTROYED' });

    // The other track decrypts to the original bytes, and the recording verifies with the track reported deleted.
    const audio = await getObjectBytes(client, stack.bucket, `recordings/${id}/t02-audio/001.esdk`);
    const audioKeyRef = keys.find((k) => k.trackId === 't02-audio')!.keyRef;
    expect((await decryptBytes(stack.pool, seal.services.keyRoot, audioKeyRef, audio)).equals(fixture.originals.get('t02-audio-s01.webm')!)).toBe(true);
    const report = await verifyRecording(verifyDeps(), id);
    expect(report.ok).toBe(true);
    expect(report.manifestCopy.ok).toBe(true);
    expect(report.segments.map((s) => [s.trackId, s.ok, s.deleted?.deletionId ?? null])).toEqual([
      ['t01-video', true, deletion.deletionId],
      ['t02-audio', true, null],
    ]);
    // Without the tombstones the same check fails: the deleted track is not silently passed.
    expect((await verifyRecording({ ...verifyDeps(), deletions: undefined }, id)).ok).toBe(false);

    // Tombstone: ids, hashes, who, when, why; what was removed — and the s3rver caveat recorded, not hidden.
    const [tombstone] = await listTombstones(stack.pool, id);
    expect(tombstone).toMatchObject({ deletionId: deletion.deletionId, scope: 'track', trackId: 't01-video', participantId: 'patient-7f3a9c', reasonCode: 'patient-request', deletedBy: { id: 'officer-17' } });
    expect(tombstone!.content.tracks[0]!.segments[0]).toMatchObject({ objectKey: videoKey, plaintextSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(tombstone!.content.keysDestroyed).toEqual([{ keyRef: videoKeyRef, scope: 'track', trackId: 't01-video' }]);
    expect(tombstone!.content.objectsRemoved).toEqual([
      { key: videoKey, versionId: null, deleteMarker: false },
      { key: stray, versionId: null, deleteMarker: false },
    ]);
    expect(tombstone!.content.versions).toBe('unlistable'); // s3rver has no ListObjectVersions

    // Audited in order, and the chain verifies.
    const events = (await readAudit(stack.pool, { roomId: 'room-telehealth-42', limit: 5000 })).filter((e) => e.subjectId === id).map((e) => `${e.event}:${e.outcome}`);
    expect(events.slice(-3)).toEqual(['recording.deletion-requested:ok', 'recording.key-destroyed:ok', 'recording.track-deleted:ok']);
    expect((await verifyAuditChain(stack.pool)).ok).toBe(true);

    // Asking again changes nothing; the tombstone cannot be altered.
    expect(await deleteOnRequest(deps, officer, { recordingId: id, trackId: 't01-video', reasonCode: 'patient-request', reason: REASON })).toMatchObject({ deletionId: deletion.deletionId, state: 'completed' });
    await expect(stack.pool.query(`update recording_tombstones set reason_code = 'x' where deletion_id = $1`, [deletion.deletionId])).rejects.toMatchObject({ code: 'CHA01' });
  });

  test('deleting a track removes every derivative made from it (object purged, catalog row marked deleted, listed in the tombstone)', async () => {
    const { recording } = await seal.seal();
    const id = recording.recordingId;
    const workDir = await mkdtemp(join(tmpdir(), 'chaperone-derivative-'));
    try {
      const derivative = await createGalleryDerivative(
        { pool: stack.pool, store: seal.services.store, keyRoot: seal.services.keyRoot, signer: seal.services.signer, trustedSignerKeys: [await seal.services.signer.publicKeySpki()], workDir, frameLengthBytes: 1024 * 1024 },
        officer,
        id,
      );
      expect(await listObjectKeys(stack.s3Client(), stack.bucket, derivative.objectKey)).toEqual([derivative.objectKey]);
      // A copy of the derivative taken before the deletion (a backup): readable now, under its own key.
      const backup = await getObjectBytes(stack.s3Client(), stack.bucket, derivative.objectKey);
      expect((await decryptBytes(stack.pool, seal.services.keyRoot, derivative.keyRef!, backup)).length).toBe(derivative.plaintext!.bytes);
      const deletion = await deleteOnRequest(deps, officer, { recordingId: id, trackId: 't02-audio', reasonCode: 'patient-request', reason: REASON });
      // Deleting one of its source tracks shredded the derivative's key: the backup no longer decrypts (I8)…
      await expect(decryptBytes(stack.pool, seal.services.keyRoot, derivative.keyRef!, backup)).rejects.toMatchObject({ code: 'CHAP_SEAL_KEY_DESTROYED' });
      // …while the recording's other track stays readable.
      expect((await verifyRecording(verifyDeps(), id)).ok).toBe(true);
      expect(await listObjectKeys(stack.s3Client(), stack.bucket, `recordings/${id}/derivatives/`)).toEqual([]);
      expect((await listDerivatives(stack.pool, id)).map((d) => [d.derivativeId, d.state])).toEqual([[derivative.derivativeId, 'deleted']]);
      const [tombstone] = await listTombstones(stack.pool, id);
      expect(tombstone).toMatchObject({ deletionId: deletion.deletionId, content: { derivativesRemoved: [derivative.derivativeId] } });
      expect(tombstone!.content.keysDestroyed.map((k) => [k.scope, k.trackId])).toEqual([['derivative', derivative.derivativeId], ['track', 't02-audio']]);
      expect(tombstone!.content.objectsRemoved.map((o) => o.key).sort()).toEqual([derivative.objectKey, `recordings/${id}/t02-audio/001.esdk`].sort());
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  });

  test('a production purge refuses an endpoint that cannot list object versions: keys destroyed, no object removed, resumable', async () => {
    const { recording } = await seal.seal();
    const id = recording.recordingId;
    const strict: DeletionDeps = { ...deps, purge: { ...deps.purge, allowUnlistableVersions: false } };
    await expect(deleteOnRequest(strict, officer, { recordingId: id, trackId: 't02-audio', reasonCode: 'records-request', reason: REASON })).rejects.toMatchObject({
      code: 'CHAP_RECORDS_VERSIONS_UNLISTABLE',
    });
    const [pending] = await listDeletions(stack.pool, id);
    // Keys go first (so nothing is readable whatever happens next); the objects wait for a capable endpoint.
    expect(pending).toMatchObject({ state: 'keys-destroyed', lastError: expect.stringContaining('CHAP_RECORDS_VERSIONS_UNLISTABLE') });
    expect(await listObjectKeys(stack.s3Client(), stack.bucket, `recordings/${id}/t02-audio/`)).toHaveLength(1);
    expect(await runDeletion(deps, pending!.deletionId)).toMatchObject({ state: 'completed' });
  });

  test('hold, release and delete: refused to every role but records officers, each refusal audited; bad input names the field', async () => {
    const { recording } = await seal.seal();
    const id = recording.recordingId;
    const hdeps = { pool: stack.pool, clock };
    for (const who of [patient, clinician, auditor, servicePrincipal('chaperone-retention')]) {
      await expect(placeHold(hdeps, who, { recordingId: id, reason: REASON })).rejects.toMatchObject({ code: 'CHAP_RECORDS_FORBIDDEN', statusCode: 403 });
      await expect(releaseHold(hdeps, who, { recordingId: id, reason: REASON })).rejects.toMatchObject({ code: 'CHAP_RECORDS_FORBIDDEN' });
    }
    for (const who of [patient, clinician, auditor]) {
      await expect(requestDeletion(deps, who, { recordingId: id, trackId: 't01-video', reasonCode: 'patient-request', reason: REASON })).rejects.toMatchObject({ code: 'CHAP_RECORDS_FORBIDDEN' });
    }
    const refused = (await readAudit(stack.pool, { roomId: 'room-telehealth-42', limit: 5000 })).filter((e) => e.subjectId === id && e.outcome === 'refused');
    expect(refused.map((e) => `${e.event}/${e.actorRole}`).sort()).toEqual(
      [
        'recording.delete/auditor',
        'recording.delete/clinician',
        'recording.delete/patient',
        'recording.hold/auditor',
        'recording.hold/clinician',
        'recording.hold/patient',
        'recording.hold/service',
        'recording.release/auditor',
        'recording.release/clinician',
        'recording.release/patient',
        'recording.release/service',
      ].sort(),
    );
    await expect(placeHold(hdeps, officer, { recordingId: id, reason: 'x' })).rejects.toMatchObject({ code: 'CHAP_RECORDS_BAD_INPUT', field: 'reason' });
    await expect(placeHold(hdeps, officer, { recordingId: '../etc', reason: REASON })).rejects.toMatchObject({ code: 'CHAP_RECORDS_BAD_INPUT', field: 'recordingId' });
    await expect(placeHold(hdeps, officer, { recordingId: 'no-such-recording', reason: REASON })).rejects.toMatchObject({ code: 'CHAP_RECORDS_UNKNOWN_RECORDING', statusCode: 404 });
    await expect(releaseHold(hdeps, officer, { recordingId: id, reason: REASON })).rejects.toMatchObject({ code: 'CHAP_RECORDS_NO_ACTIVE_HOLD' });
    await expect(requestDeletion(deps, officer, { recordingId: id, reasonCode: 'retention-expired', reason: REASON })).rejects.toMatchObject({ field: 'reasonCode' });
    await expect(requestDeletion(deps, officer, { recordingId: id, trackId: 't09-none', reasonCode: 'records-request', reason: REASON })).rejects.toMatchObject({ code: 'CHAP_RECORDS_UNKNOWN_TRACK' });

    // A hold blocks deletion on request, of a track or of the whole recording; the refusal is audited.
    const hold = await placeHold(hdeps, officer, { recordingId: id, reason: 'litigation hold, matter LIT-2026-118' });
    await expect(placeHold(hdeps, officer, { recordingId: id, reason: REASON })).rejects.toMatchObject({ code: 'CHAP_RECORDS_ON_HOLD' });
    for (const trackId of ['t01-video', undefined]) {
      await expect(requestDeletion(deps, officer, { recordingId: id, trackId, reasonCode: 'patient-request', reason: REASON })).rejects.toMatchObject({ code: 'CHAP_RECORDS_ON_HOLD' });
    }
    expect(await listDeletions(stack.pool, id)).toEqual([]);
    expect(await listObjectKeys(stack.s3Client(), stack.bucket, `recordings/${id}/`)).toHaveLength(3);
    const released = await releaseHold(hdeps, officer, { recordingId: id, reason: 'matter LIT-2026-118 closed by court order' });
    expect(released.holdId).toBe(hold.holdId);
    expect(await activeHold(stack.pool, id)).toBeUndefined();
    expect((await listHolds(stack.pool, id))[0]!.released).toMatchObject({ by: { id: 'officer-17' } });
    await expect(stack.pool.query('delete from legal_holds where hold_id = $1', [hold.holdId])).rejects.toMatchObject({ code: 'CHA01' });
    const events = (await readAudit(stack.pool, { roomId: 'room-telehealth-42', limit: 5000 })).filter((e) => e.subjectId === id).map((e) => `${e.event}:${e.outcome}`);
    expect(events.slice(-4)).toEqual(['recording.hold-placed:ok', 'recording.deletion-requested:refused', 'recording.deletion-requested:refused', 'recording.hold-released:ok']);
    // The reason text stays in the catalog; the audit log only has its hash.
    expect((await stack.pool.query("select 1 from audit_log where details like '%LIT-2026%'")).rowCount).toBe(0);

    // Released: the patient's track can now be deleted on request.
    expect(await deleteOnRequest(deps, officer, { recordingId: id, trackId: 't01-video', reasonCode: 'patient-request', reason: REASON })).toMatchObject({ state: 'completed' });
  });

  test('retention sweep under a controllable clock: expired recordings deleted, held ones kept, both audited; the BullMQ job scheduler runs it', async () => {
    const [{ recording: expiring }, { recording: held }] = [await seal.seal(), await seal.seal()];
    const deadline = expiring.retentionUntil!.getTime();
    expect(deadline).toBe(expiring.endedAtMs + expiring.retentionDays * DAY_MS);
    await placeHold({ pool: stack.pool, clock }, officer, { recordingId: held.recordingId, reason: 'litigation hold, matter LIT-2026-200' });

    // A day before the deadline nothing is due.
    clock.set(deadline - DAY_MS);
    let result = await sweepRetention(deps);
    expect(result.deleted).not.toContain(expiring.recordingId);
    expect(result.held).not.toContain(held.recordingId);

    // Past it: the expired one is deleted, the held one kept.
    clock.set(deadline + 1);
    result = await sweepRetention(deps);
    expect(result.deleted).toContain(expiring.recordingId);
    expect(result.held).toContain(held.recordingId);
    expect(result.failed).toEqual([]);
    expect(await listObjectKeys(stack.s3Client(), stack.bucket, `recordings/${expiring.recordingId}/`)).toEqual([]);
    expect((await listDataKeys(stack.pool, expiring.recordingId)).every((k) => k.destroyedAt !== null)).toBe(true);
    expect(await listObjectKeys(stack.s3Client(), stack.bucket, `recordings/${held.recordingId}/`)).toHaveLength(3);
    const [tombstone] = await listTombstones(stack.pool, expiring.recordingId);
    expect(tombstone).toMatchObject({ scope: 'recording', reasonCode: 'retention-expired', deletedBy: { role: 'service', id: 'chaperone-retention' }, deletedAtMs: deadline + 1 });
    const verified = await verifyRecording(verifyDeps(), expiring.recordingId);
    expect(verified).toMatchObject({ ok: true, deleted: { deletionId: tombstone!.deletionId } });
    expect(verified.segments.every((s) => s.deleted && s.ok)).toBe(true);

    // A second pass deletes nothing more and does not audit the same hold again.
    await sweepRetention(deps);
    const audit = await readAudit(stack.pool, { roomId: 'room-telehealth-42', limit: 5000 });
    expect(audit.filter((e) => e.subjectId === held.recordingId && e.event === 'retention.deletion-blocked')).toEqual([
      expect.objectContaining({ outcome: 'refused', actorRole: 'service', actorId: 'chaperone-retention' }),
    ]);
    expect(audit.filter((e) => e.subjectId === expiring.recordingId).map((e) => e.event)).toEqual(
      expect.arrayContaining(['recording.deletion-requested', 'recording.key-destroyed', 'recording.deleted']),
    );

    // Released: the scheduler's next tick deletes it (job scheduler every second; the clock is past the deadline).
    await releaseHold({ pool: stack.pool, clock }, officer, { recordingId: held.recordingId, reason: 'matter LIT-2026-200 settled, hold lifted' });
    const sweeps: number[] = [];
    const lifecycle = await startLifecycleWorker(deps, { connection: { url: stack.redis.url }, prefix: stack.prefix(), everyMs: 1000, onSweep: (r) => sweeps.push(r.deleted.length) });
    try {
      const schedulers = await lifecycle.queue.getJobSchedulers();
      expect(schedulers).toEqual([expect.objectContaining({ key: 'chaperone-retention-sweep', every: 1000 })]);
      const { waitFor } = await import('../../devstack/wait-for.js');
      await waitFor('the held recording deleted by a scheduled sweep', async () => (await listTombstones(stack.pool, held.recordingId)).length === 1, 60_000, 100);
    } finally {
      await lifecycle.close();
    }
    expect(sweeps.length).toBeGreaterThan(0);
    expect(await listObjectKeys(stack.s3Client(), stack.bucket, `recordings/${held.recordingId}/`)).toEqual([]);
    expect((await verifyAuditChain(stack.pool)).ok).toBe(true);
  });

  test('an interrupted deletion resumes: S3 away after the keys were destroyed; the next run finishes it; a hold cannot be placed meanwhile', async () => {
    const { recording } = await seal.seal();
    const id = recording.recordingId;
    await stack.s3.pause();
    try {
      await expect(deleteOnRequest(deps, officer, { recordingId: id, reasonCode: 'legal-order', reason: 'court order CO-2026-77 to destroy' })).rejects.toMatchObject({ code: 'CHAP_RECORDS_STORE_UNAVAILABLE' });
    } finally {
      await stack.s3.resume();
    }
    const [pending] = await listDeletions(stack.pool, id);
    expect(pending).toMatchObject({ state: 'keys-destroyed', attempts: 1, lastError: expect.stringContaining('CHAP_RECORDS_STORE_UNAVAILABLE') });
    // Recorded before acting: the keys are gone even though the objects are still there.
    expect((await listDataKeys(stack.pool, id)).every((k) => k.destroyedAt !== null)).toBe(true);
    expect(await listObjectKeys(stack.s3Client(), stack.bucket, `recordings/${id}/`)).toHaveLength(3);
    await expect(placeHold({ pool: stack.pool, clock }, officer, { recordingId: id, reason: 'late hold, matter LIT-2026-300' })).rejects.toMatchObject({ code: 'CHAP_RECORDS_DELETION_IN_PROGRESS' });
    const audit = await readAudit(stack.pool, { roomId: 'room-telehealth-42', limit: 5000 });
    expect(audit.filter((e) => e.subjectId === id).map((e) => `${e.event}:${e.outcome}`)).toContain('recording.deletion-interrupted:failed');

    const resumed = await resumeOpenDeletions(deps);
    expect(resumed.completed).toContain(pending!.deletionId);
    expect(await getDeletion(stack.pool, pending!.deletionId)).toMatchObject({ state: 'completed', attempts: 2, lastError: undefined });
    expect(await listObjectKeys(stack.s3Client(), stack.bucket, `recordings/${id}/`)).toEqual([]);
    const listed = await stack.s3Client().send(new ListObjectsV2Command({ Bucket: stack.bucket, Prefix: `recordings/${id}/` }));
    expect(listed.KeyCount).toBe(0);
    const [tombstone] = await listTombstones(stack.pool, id);
    expect(tombstone!.content.objectsRemoved.map((o) => o.key).sort()).toEqual([
      `recordings/${id}/manifest.esdk`,
      `recordings/${id}/t01-video/001.esdk`,
      `recordings/${id}/t02-audio/001.esdk`,
    ]);
    // A track of a deleted recording cannot be deleted on its own any more.
    await expect(requestDeletion(deps, officer, { recordingId: id, trackId: 't01-video', reasonCode: 'patient-request', reason: REASON })).rejects.toMatchObject({ code: 'CHAP_RECORDS_DELETED' });
  });
});
