import type { Queryable } from '../queue/catalog.js';
import { getRecording, listSegments, type RecordingRow } from '../queue/catalog.js';
import { segmentObjectContext } from '../queue/envelope.js';
import { verifyManifest, type ManifestSegment, type ManifestTrack, type RecordingManifest } from '../queue/manifest.js';
import { RecordsError } from './errors.js';
import { IntegrityError, type SignedObject } from './verified-stream.js';

/**
 * From a playback target to the object to stream and the signed values to check it against — or the
 * reason it cannot be played. Trusts nothing but the manifest signature: the recording must be sealed,
 * its manifest must verify under a trusted signing key, the segment must be in the manifest, and the
 * catalog's hashes and object key must agree with the manifest (an edited catalog row is an integrity
 * failure, not a different truth). A recording or track with a deletion on record (recording_deletions,
 * migration 0310 — from the moment it is requested, before its keys are destroyed), a destroyed key, or a
 * recording in a state the pipeline does not know is `gone`.
 */

const PIPELINE_STATES = new Set(['spooled', 'sealing', 'sealed', 'failed']);

export interface PlayableSegment {
  recording: RecordingRow;
  manifest: RecordingManifest;
  track: ManifestTrack;
  segment: ManifestSegment;
  object: SignedObject;
  mediaType: string;
}

/** The recording must be sealed and not deleted; its manifest must verify. */
export async function sealedRecording(db: Queryable, recordingId: string, trustedSignerKeys: readonly Buffer[]): Promise<{ recording: RecordingRow; manifest: RecordingManifest; deletedTracks: ReadonlySet<string> }> {
  const recording = await getRecording(db, recordingId);
  if (!recording) throw new RecordsError('not-found', `recording ${recordingId} is not in the catalog`, { field: 'recordingId' });
  const deleted = await deletionsOf(db, recordingId);
  if (deleted.recording || !PIPELINE_STATES.has(recording.state)) throw new RecordsError('gone', `recording ${recordingId} was deleted; nothing of it can be played`);
  if (recording.state !== 'sealed' || !recording.manifest) {
    throw new RecordsError('not-playable', `recording ${recordingId} is ${recording.state}, not sealed: it can be played once the pipeline has sealed and verified it`);
  }
  const check = verifyManifest(recording.manifest, recording.manifestSignature, trustedSignerKeys);
  if (!check.valid || check.trusted !== true || !check.manifest) {
    throw new IntegrityError('signature', `the manifest of ${recordingId} does not verify under a trusted signing key`);
  }
  if (check.manifest.recordingId !== recordingId || recording.manifestSha256 !== (recording.manifestSignature as { manifestSha256?: string } | null)?.manifestSha256) {
    throw new IntegrityError('catalog-mismatch', `the catalog entry of ${recordingId} disagrees with its signed manifest`);
  }
  return { recording, manifest: check.manifest, deletedTracks: deleted.tracks };
}

/** Deletions on record for a recording (any state: requested counts), whole or per track. */
export async function deletionsOf(db: Queryable, recordingId: string): Promise<{ recording: boolean; tracks: ReadonlySet<string> }> {
  const { rows } = await db.query<{ scope: string; track_id: string }>('select scope, track_id from recording_deletions where recording_id = $1', [recordingId]);
  return { recording: rows.some((r) => r.scope === 'recording'), tracks: new Set(rows.filter((r) => r.scope === 'track').map((r) => r.track_id)) };
}

/** Whether the live (not destroyed) key `keyRef` exists. */
export async function keyIsLive(db: Queryable, keyRef: string): Promise<boolean> {
  const { rows } = await db.query<{ live: boolean }>('select wrapped_key is not null as live from recording_keys where key_ref = $1', [keyRef]);
  return rows[0]?.live === true;
}

export async function resolveSegment(
  db: Queryable,
  target: { recordingId: string; trackId: string; segmentNo: number },
  trustedSignerKeys: readonly Buffer[],
): Promise<PlayableSegment> {
  const { recording, manifest, deletedTracks } = await sealedRecording(db, target.recordingId, trustedSignerKeys);
  const track = manifest.tracks.find((t) => t.trackId === target.trackId);
  if (!track) throw new RecordsError('not-found', `recording ${target.recordingId} has no track ${target.trackId}`, { field: 'trackId' });
  const segment = track.segments.find((s) => s.segmentNo === target.segmentNo);
  if (!segment) throw new RecordsError('not-found', `track ${target.trackId} has no segment ${target.segmentNo}`, { field: 'segmentNo' });
  if (deletedTracks.has(target.trackId) || !track.keyRef || !(await keyIsLive(db, track.keyRef))) {
    throw new RecordsError('gone', `track ${target.trackId} of ${target.recordingId} was deleted (its key is destroyed); it can no longer be played`);
  }
  const row = (await listSegments(db, target.recordingId)).find((s) => s.trackId === target.trackId && s.segmentNo === target.segmentNo);
  if (!row || row.plaintextSha256 !== segment.plaintext.sha256 || row.ciphertextSha256 !== segment.ciphertext.sha256 || row.objectKey !== segment.object.key) {
    throw new IntegrityError('catalog-mismatch', `the catalog entry of ${target.recordingId}/${target.trackId}/${target.segmentNo} disagrees with the signed manifest`);
  }
  return {
    recording,
    manifest,
    track,
    segment,
    mediaType: track.kind === 'video' ? 'video/webm' : 'audio/webm',
    object: {
      objectKey: segment.object.key,
      versionId: segment.object.versionId,
      keyRef: track.keyRef,
      context: segmentObjectContext(target.recordingId, target.trackId, target.segmentNo),
      plaintext: segment.plaintext,
      ciphertext: segment.ciphertext,
    },
  };
}
