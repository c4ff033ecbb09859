import type { SealRecordingRequest } from '../queue/index.js';
import type { RecordJobData } from './record-job.js';
import { MANIFEST_FILE } from './call-recording.js';
import type { RecordingTrackManifest } from './track-manifest.js';

/**
 * Hands a finished recording to the sealing pipeline (queue/contract.ts): the recorder's track manifest,
 * identifiers only, becomes the seal request. The spool stays until the pipeline has stored and verified
 * every file; the pipeline removes it.
 *
 * `consentRefs` are the consent-ledger statements the recording ran under (queue/consent-refs.ts
 * consentRefsFor, over the recording's room, policy version and time window).
 */
export function sealRequestFor(job: RecordJobData, manifest: RecordingTrackManifest, consentRefs: readonly string[]): SealRecordingRequest {
  const policy = job.policy;
  if (policy === undefined) {
    // The key service always dispatches with its policy; a job without one cannot say how long to keep the
    // recording or who may see it, so the spool is kept for an operator rather than sealed with a guess.
    throw new Error(`record job ${job.recordingId} carries no recording policy (policyVersion, purpose, retentionDays, part2); the spool is kept unsealed`);
  }
  return {
    recordingId: manifest.recordingId,
    roomId: manifest.roomId,
    recorderId: manifest.sessions[0]?.recorderId ?? 'unknown',
    policy: {
      policyId: `${manifest.roomId}:v${policy.policyVersion}`,
      policyVersion: policy.policyVersion,
      purpose: policy.purpose,
      retentionDays: policy.retentionDays,
      part2: policy.part2,
    },
    consentRefs: [...consentRefs],
    startedAtMs: Math.round(manifest.startedAtMs),
    endedAtMs: Math.round(manifest.endedAtMs),
    endReason: manifest.endReason,
    trackManifestFile: MANIFEST_FILE,
    // Track and segment entries are the spool contract's shapes already (track-manifest.ts); times are
    // rounded to whole milliseconds as the contract requires.
    tracks: manifest.tracks.map(({ keyFrameRequests: _requests, ...track }) => ({
      ...track,
      startedAtMs: Math.round(track.startedAtMs),
      endedAtMs: Math.round(track.endedAtMs),
      segments: track.segments.map((segment) => ({
        ...segment,
        startedAtMs: Math.round(segment.startedAtMs),
        endedAtMs: Math.round(segment.endedAtMs),
      })),
    })),
  };
}
