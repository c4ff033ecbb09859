import { buildSealFlow, DEFAULT_RETRY } from './flow.js';
import { manifestObjectKey, parseSegmentJobData, recordingJobId, segmentJobId, segmentObjectKey } from './jobs.js';
import { parseSealRecordingRequest, type SealRecordingRequest } from './seal-request.js';
import { SealRequestError } from './errors.js';

/** A request shaped exactly like the recorder's own manifest entries (bot/track-manifest.ts). */
function request(): SealRecordingRequest {
  return {
    recordingId: '6f1c2b9e-0d7a-4c1e-9b55-3a2f8e7d6c10',
    roomId: 'room:cardiology.42',
    recorderId: 'rec-6f1c2b9e',
    policy: { policyId: 'policy-cardiology', policyVersion: 2, purpose: 'medical-record', retentionDays: 3650, part2: false },
    consentRefs: ['consent-1', 'consent-2'],
    startedAtMs: 1_790_000_000_000,
    endedAtMs: 1_790_000_060_000,
    endReason: 'removed-from-group',
    trackManifestFile: 'recording-manifest.json',
    tracks: [
      {
        trackId: 't01-video',
        participantId: 'patient:7f3a9c',
        kind: 'video',
        codec: 'vp8',
        startedAtMs: 1_790_000_000_100,
        endedAtMs: 1_790_000_059_000,
        framesReceived: 1700,
        framesWritten: 1690,
        decryptFailures: 3,
        gaps: [{ atMs: 12_000, durationMs: 900 }],
        segments: [
          { file: 't01-video-s01.webm', startedAtMs: 1_790_000_000_100, endedAtMs: 1_790_000_030_000, durationMs: 29_900, framesReceived: 900, framesWritten: 895, gaps: [], session: 1, framesBeforeKeyFrame: 5 },
          { file: 't01-video-s02.webm', startedAtMs: 1_790_000_031_000, endedAtMs: 1_790_000_059_000, durationMs: 28_000, framesReceived: 800, framesWritten: 795, gaps: [], session: 2, writerError: 'ffmpeg exited with code 1' },
        ],
      },
    ],
  };
}

function fieldOf(value: unknown): string {
  try {
    parseSealRecordingRequest(value);
  } catch (error) {
    if (error instanceof SealRequestError) {
      expect(error.code).toBe('CHAP_SEAL_BAD_REQUEST');
      return error.field!;
    }
    throw error;
  }
  throw new Error('request was accepted');
}

describe('the recorder ↔ pipeline contract', () => {
  test("accepts the recorder's manifest shape and returns a clean copy", () => {
    const input = request();
    const parsed = parseSealRecordingRequest(input);
    expect(parsed).toEqual(input);
    expect(parsed).not.toBe(input);
    expect(parsed.tracks[0]!.segments).not.toBe(input.tracks[0]!.segments);
  });

  test('refuses bad input naming the field: no paths, no unknown (e.g. display name) fields, codec per kind', () => {
    const r = request();
    expect(fieldOf({ ...r, recordingId: 'a/b' })).toBe('recordingId');
    expect(fieldOf({ ...r, recordingId: 'a.b' })).toBe('recordingId');
    expect(fieldOf({ ...r, tracks: [{ ...r.tracks[0]!, displayName: 'Jane Doe' }] })).toBe('tracks[0].displayName');
    expect(fieldOf({ ...r, patientName: 'Jane Doe' })).toBe('request.patientName');
    expect(fieldOf({ ...r, tracks: [{ ...r.tracks[0]!, codec: 'opus' }] })).toBe('tracks[0].codec');
    const seg = r.tracks[0]!.segments[0]!;
    expect(fieldOf({ ...r, tracks: [{ ...r.tracks[0]!, segments: [{ ...seg, file: '../etc/passwd' }] }] })).toBe('tracks[0].segments[0].file');
    expect(fieldOf({ ...r, tracks: [{ ...r.tracks[0]!, segments: [{ ...seg, file: 'sub/dir.webm' }] }] })).toBe('tracks[0].segments[0].file');
    expect(fieldOf({ ...r, tracks: [{ ...r.tracks[0]!, segments: [seg, seg] }] })).toBe('tracks[0].segments[1].file');
    expect(fieldOf({ ...r, tracks: [r.tracks[0]!, r.tracks[0]!] })).toBe('tracks[1].trackId');
    expect(fieldOf({ ...r, startedAtMs: 1.5 })).toBe('startedAtMs');
    expect(fieldOf({ ...r, endedAtMs: r.startedAtMs - 1 })).toBe('endedAtMs');
    expect(fieldOf({ ...r, policy: { ...r.policy, retentionDays: 0 } })).toBe('policy.retentionDays');
    expect(fieldOf({ ...r, policy: { ...r.policy, purpose: 'Medical Record' } })).toBe('policy.purpose');
    expect(fieldOf({ ...r, policy: { ...r.policy, part2: undefined } })).toBe('policy.part2');
    expect(fieldOf({ ...r, consentRefs: ['has space'] })).toBe('consentRefs[0]');
  });

  test('job ids, job data and object keys carry identifiers only, deterministically', () => {
    const r = request();
    const key = { recordingId: r.recordingId, trackId: 't01-video', segmentNo: 2 };
    expect(segmentJobId('store-segment', key)).toBe(`store.${r.recordingId}.t01-video.2`);
    expect(recordingJobId(r.recordingId)).toBe(`seal.${r.recordingId}`);
    expect(segmentObjectKey(r.recordingId, 't01-video', 2)).toBe(`recordings/${r.recordingId}/t01-video/002.esdk`);
    expect(manifestObjectKey(r.recordingId)).toBe(`recordings/${r.recordingId}/manifest.esdk`);
    const flow = buildSealFlow(r.recordingId, [{ trackId: 't01-video', segmentNo: 1 }], DEFAULT_RETRY);
    const serialized = JSON.stringify(flow);
    for (const absent of ['patient:7f3a9c', 't01-video-s01.webm', 'consent-1', 'room:cardiology.42']) expect(serialized).not.toContain(absent);
    expect(flow.children![0]!.opts).toMatchObject({ jobId: `verify.${r.recordingId}.t01-video.1`, failParentOnFailure: true, attempts: 12 });
    expect(buildSealFlow(r.recordingId, [{ trackId: 't01-video', segmentNo: 1 }], DEFAULT_RETRY)).toEqual(flow);
    expect(() => parseSegmentJobData({ ...flow.children![0]!.data, spoolPath: '/x' })).toThrow(TypeError);
  });
});
