import { Readable } from 'node:stream';
import {
  getRecording,
  listSegments,
  listTracks,
  markRecordingSpoolReleased,
  markSegmentSpoolReleased,
  requireRecording,
  saveSealedManifest,
} from '../catalog.js';
import { ESDK_SUITE_NAME, encryptShielded, manifestObjectContext } from '../envelope.js';
import { SealError } from '../errors.js';
import { manifestObjectKey } from '../jobs.js';
import { getOrCreateDataKey } from '../keys/data-keys.js';
import { buildManifest, serializeManifest, signManifest, verifyManifest } from '../manifest.js';
import type { SealServices } from '../services.js';
import type { StepOutcome } from './segment-steps.js';

/**
 * seal-recording, the flow's parent: runs once every segment is verified. Builds and signs the manifest,
 * stores an encrypted copy next to the tracks (under the recording key), commits the catalog entry
 * (recording `sealed`, manifest, signature, retention deadline, audit event) and only then releases the
 * spool: each sealed file is removed and the release recorded. Re-running after a partial release
 * finishes the release and changes nothing else.
 */
export async function sealRecording(services: SealServices, recordingId: string): Promise<StepOutcome> {
  const { pool, store, keyRoot, signer, spool, logger, frameLengthBytes } = services;
  let recording = await requireRecording(pool, recordingId);
  if (recording.state === 'sealed' && recording.spoolReleasedAt) return { done: true, skipped: true };

  if (recording.state !== 'sealed') {
    const [tracks, segments] = await Promise.all([listTracks(pool, recordingId), listSegments(pool, recordingId)]);
    const pending = segments.filter((s) => s.state !== 'verified');
    if (pending.length > 0) {
      throw new SealError('CHAP_SEAL_CATALOG_STATE', `recording ${recordingId} has ${pending.length} segment(s) not verified (${pending.map((s) => `${s.trackId}/${s.segmentNo}:${s.state}`).join(', ')})`, true);
    }
    const sealedAtMs = Date.now();
    const manifest = buildManifest({
      recording,
      tracks,
      segments,
      sealedAtMs,
      keyRoot: { kind: keyRoot.kind, keyId: keyRoot.keyId },
      suite: ESDK_SUITE_NAME,
      frameLengthBytes,
      bucket: store.bucket,
    });
    const text = serializeManifest(manifest);
    const signature = await signManifest(signer, recordingId, text, sealedAtMs);
    const check = verifyManifest(text, signature, [await signer.publicKeySpki()]);
    if (!check.valid) throw new SealError('CHAP_SEAL_SIGNATURE_INVALID', `the manifest signature just made does not verify: ${check.problems.join('; ')}`, false);

    const objectKey = manifestObjectKey(recordingId);
    const recordingKey = await getOrCreateDataKey(pool, keyRoot, 'recording', recordingId);
    try {
      const bundle = Buffer.from(JSON.stringify({ manifest: text, signature }), 'utf8');
      const run = encryptShielded(Readable.from([bundle]), recordingKey, manifestObjectContext(recordingId), { frameLength: frameLengthBytes });
      const uploaded = store.putStream(objectKey, run.output, { 'chaperone-format': 'chaperone-manifest/v1' }).catch((error: unknown) => {
        run.abandon();
        throw error;
      });
      const [, put] = await Promise.all([run.done, uploaded]);
      logger.info({ recordingId, objectKey, sse: put.sse }, 'manifest copy stored');
    } finally {
      recordingKey.dispose();
    }
    await saveSealedManifest(pool, recording, {
      manifest: text,
      manifestSha256: signature.manifestSha256,
      signature: { ...signature },
      manifestObjectKey: objectKey,
      retentionUntil: new Date(manifest.retentionUntilMs),
      bytes: segments.reduce((n, s) => n + (s.plaintextBytes ?? 0), 0),
      segments: segments.length,
    });
    recording = (await getRecording(pool, recordingId))!;
    if (recording.state !== 'sealed') throw new SealError('CHAP_SEAL_CATALOG_STATE', `recording ${recordingId} is ${recording.state} after sealing`, true);
    logger.info({ recordingId, segments: segments.length, manifestSha256: signature.manifestSha256 }, 'recording sealed');
  }

  // Spool release: only now, with every segment verified and the manifest committed.
  const segments = await listSegments(pool, recordingId);
  for (const segment of segments) {
    if (segment.spoolReleasedAt) continue;
    await spool.remove(recordingId, segment.spoolFile);
    await markSegmentSpoolReleased(pool, segment);
  }
  if (recording.trackManifestFile) await spool.remove(recordingId, recording.trackManifestFile);
  const left = await spool.removeDirIfEmpty(recordingId);
  if (left.length > 0) logger.warn({ recordingId, entriesLeft: left.length }, 'spool directory still holds files the pipeline did not seal; left in place');
  await markRecordingSpoolReleased(pool, recording);
  logger.info({ recordingId }, 'spool released');
  return { done: true, skipped: false };
}
