import { enqueueSealRecording } from '../../../queue/contract.js';
import { sealedAndReleased, waitForRecording } from '../../../queue/testing/inspect.js';
import { spoolRecording, type SpoolFixture } from '../../../queue/testing/media.js';
import type { SealTestStack } from '../../../queue/testing/stack.js';
import type { SealWorkers } from '../../../queue/workers.js';
import type { RecordingRow } from '../../../queue/catalog.js';
import type { SealServices } from '../../../queue/services.js';

/**
 * Lifecycle tests start from what the pipeline really produces: a recording spooled like the recorder
 * writes it (small synthetic media: one 1 s VP8 segment for the patient's video track, one Opus segment
 * for the clinician's audio track), sealed by the real workers against the test stack.
 */
export interface Sealer {
  services: SealServices;
  seal(options?: { recordingId?: string }): Promise<{ fixture: SpoolFixture; recording: RecordingRow }>;
}

export function sealer(stack: SealTestStack, overrides: Partial<SealServices> = {}): Sealer {
  const prefix = stack.prefix();
  const services = stack.services(overrides);
  const enqueuer = stack.enqueuer(prefix);
  let workers: SealWorkers | undefined;
  return {
    services,
    async seal(options = {}) {
      workers ??= stack.workers(services, prefix);
      const fixture = await spoolRecording(stack.spoolDir, { videoSegments: 'small', ...options });
      await enqueueSealRecording(enqueuer, fixture.request);
      const recording = await waitForRecording(stack.pool, fixture.request.recordingId, sealedAndReleased);
      return { fixture, recording };
    },
  };
}
