import { Counter, Gauge, type Registry } from 'prom-client';
import type { FrameKind } from './wire/frame-message.js';

/**
 * The recorder's Prometheus metrics. The frame path only bumps plain numbers (a frame costs one
 * increment, no label hashing); the counters read them when Prometheus scrapes.
 *
 *   chaperone_recorder_active_recordings             calls being recorded by this process now
 *   chaperone_recorder_frames_decrypted_total{kind}  frames opened (SFrame) and handed to the recorder process
 *   chaperone_recorder_frames_failed_total{reason}   frames lost: the worker's reasons (decrypt error codes,
 *                                                    sink-closed) as the page reports them, plus
 *                                                    `unattributed` (no roster member for the KID's sender)
 *                                                    and `bad-message` (a malformed frame message)
 *   chaperone_recorder_recordings_total{end_reason}  recordings finished, by how they ended
 */
export interface FrameCounters {
  decrypted(kind: FrameKind): void;
  failed(reason: string, count?: number): void;
}

const REASON = /^[a-z0-9-]{1,40}$/;

export class RecorderMetrics implements FrameCounters {
  private readonly decryptedByKind: Record<FrameKind, number> = { audio: 0, video: 0 };
  private readonly failedByReason = new Map<string, number>();
  private readonly recordings: Counter;

  constructor(registry: Registry, active: () => number) {
    const decryptedByKind = this.decryptedByKind;
    const failedByReason = this.failedByReason;
    new Gauge({
      name: 'chaperone_recorder_active_recordings',
      help: 'Calls this recorder process is recording now',
      registers: [registry],
      collect() {
        this.set(active());
      },
    });
    new Counter({
      name: 'chaperone_recorder_frames_decrypted_total',
      help: 'Frames decrypted in the recorder page and handed to the recorder process, by kind',
      labelNames: ['kind'],
      registers: [registry],
      collect() {
        this.reset();
        for (const kind of ['audio', 'video'] as const) this.inc({ kind }, decryptedByKind[kind]);
      },
    });
    new Counter({
      name: 'chaperone_recorder_frames_failed_total',
      help: 'Frames received but not recorded, by reason',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [reason, count] of failedByReason) this.inc({ reason }, count);
      },
    });
    this.recordings = new Counter({
      name: 'chaperone_recorder_recordings_total',
      help: 'Recordings finished by this process, by how they ended',
      labelNames: ['end_reason'],
      registers: [registry],
    });
  }

  decrypted(kind: FrameKind): void {
    this.decryptedByKind[kind]++;
  }

  failed(reason: string, count = 1): void {
    // Reasons come from the page: bounded to short codes so a label cannot grow without limit.
    const label = REASON.test(reason) ? reason : 'other';
    this.failedByReason.set(label, (this.failedByReason.get(label) ?? 0) + count);
  }

  recordingFinished(endReason: string): void {
    this.recordings.inc({ end_reason: endReason });
  }
}
