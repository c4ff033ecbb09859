import { registerRecording } from '../../queue/catalog.js';
import type { SealRecordingRequest } from '../../queue/seal-request.js';
import type { SealServices } from '../../queue/services.js';
import { sealRecording } from '../../queue/steps/seal-recording.js';
import { hashSegment, storeSegment, verifySegment } from '../../queue/steps/segment-steps.js';
import { spoolRecording, type SpoolFixture } from '../../queue/testing/media.js';

/**
 * A sealed recording for records tests and the playback benchmark: spooled like the recorder writes it
 * (queue/testing/media.ts), then run through the pipeline's own steps — hash, store, verify per segment,
 * then seal (signed manifest, catalog, spool released) — in this process, without queues: the same
 * objects, keys and manifest the workers make, in a fraction of the time.
 */
export async function sealSteps(services: SealServices, request: SealRecordingRequest): Promise<void> {
  await registerRecording(services.pool, request);
  for (const track of request.tracks) {
    for (const [i] of track.segments.entries()) {
      const key = { recordingId: request.recordingId, trackId: track.trackId, segmentNo: i + 1 };
      await hashSegment(services, key);
      await storeSegment(services, key);
      await verifySegment(services, key);
    }
  }
  await sealRecording(services, request.recordingId);
}

export async function sealedFixture(
  services: SealServices,
  spoolDir: string,
  options: { videoSegments?: 'big+small' | 'big' | 'small'; edit?: (request: SealRecordingRequest) => void } = {},
): Promise<SpoolFixture> {
  const fixture = await spoolRecording(spoolDir, { videoSegments: options.videoSegments ?? 'small' });
  options.edit?.(fixture.request);
  await sealSteps(services, fixture.request);
  return fixture;
}
