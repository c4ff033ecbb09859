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
