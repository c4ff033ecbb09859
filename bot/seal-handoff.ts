import type { SealRecordingRequest } from '../queue/index.js';
import type { RecordJobData } from './record-job.js';
import { MANIFEST_FILE } from './call-recording.js';
import type { RecordingTrackManifest } from './track-manifest.js';

/**
 * Hands a finished recording to the sealing pipeline (queue/contract.ts): the recorder's track manifest,
 * identifiers only, becomes the seal request. The spool stays until the pipeline has stored and verified
 * every file; the pipeline removes it.
 */
export function sealRequestFor(job: RecordJobData, manifest: RecordingTrackManifest): SealRecordingRequest {
  const policy = job.policy ?? { policyVersion: 0, purpose: 'unspecified', retentionDays: 0, part2: false };
  return {
    recordingId: manifest.recordingId,
    roomId: manifest.roomId,
    recorderId: manifest.sessions[0]?.recorderId ?? 'unknown',
    policy: { policyId: `${manifest.roomId}:v${policy.policyVersion}`, policyVersion: policy.policyVersion, purpose: policy.purpose, retentionDays: policy.retentionDays },
    consentRefs: [],
    startedAtMs: Math.round(manifest.startedAtMs),
    endedAtMs: Math.round(manifest.endedAtMs),
    endReason: manifest.endReason,
    trackManifestFile: MANIFEST_FILE,
    tracks: manifest.tracks.map((track) => ({
      trackId: track.trackId,
      participantId: track.participantId,
      kind: track.kind,
      codec: track.codec,
      startedAtMs: Math.round(track.startedAtMs),
      endedAtMs: Math.round(track.endedAtMs),
      framesReceived: track.framesReceived,
      framesWritten: track.framesWritten,
      decryptFailures: track.decryptFailures,
      gaps: track.gaps,
      segments: track.segments.map((segment) => ({
        file: segment.file,
        startedAtMs: Math.round(segment.startedAtMs),
        endedAtMs: Math.round(segment.endedAtMs),
        durationMs: segment.durationMs,
        framesReceived: segment.framesReceived,
        framesWritten: segment.framesWritten,
        gaps: segment.gaps,
        session: segment.session,
        framesBeforeKeyFrame: segment.framesBeforeKeyFrame,
        ...(segment.writerError ? { writerError: segment.writerError } : {}),
      })),
    })),
  };
}
