import { QueueEvents, Worker, UnrecoverableError, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { CallRecorder, type CallRecorderEnvironment } from './call-recorder.js';
import { FrameSinkServer } from './frame-sink-server.js';
import { RecorderBrowser } from './recorder-browser.js';
import { RECORD_QUEUE, RECORDER_STOP_EVENT, RecordJobError, parseRecordJobData, type RecordJobData, type RecordJobResult } from './record-job.js';
import type { RecordingTrackManifest } from './track-manifest.js';
import type { RecorderMetrics } from './recorder-metrics.js';

/**
 * The recorder process: a BullMQ worker taking record jobs, one Chromium for the process and one browser
 * context per call, up to `maxConcurrentCalls` at once. SIGTERM finishes the current recordings (their
 * files are finalized and handed on) and exits; SIGINT aborts them.
 */

export interface RecorderServiceOptions extends Omit<CallRecorderEnvironment, 'browser' | 'frameSink'> {
  redisUrl: string;
  maxConcurrentCalls?: number;
  /** Called with each finished recording's track manifest (e.g. to enqueue its sealing). */
  onRecordingFinished?: (job: RecordJobData, manifest: RecordingTrackManifest) => Promise<void>;
  queuePrefix?: string;
  /** Prometheus metrics (frame counters, recordings by end reason). */
  metrics?: RecorderMetrics;
}

export interface RecorderService {
  /** Recorders of the calls in progress, by recording id. */
  active(): ReadonlyMap<string, CallRecorder>;
  browser: RecorderBrowser;
  /** Finish current recordings, then stop taking jobs. */
  drain(): Promise<void>;
  /** Abort current recordings at once. */
  abort(): Promise<void>;
  /** False once draining or aborting: the process takes no new calls (readiness). */
  accepting(): boolean;
  /** Redis answers on the worker's connection (readiness). */
  ping(): Promise<string>;
}

export async function startRecorderService(options: RecorderServiceOptions): Promise<RecorderService> {
  const browser = new RecorderBrowser();
  const frameSink = await FrameSinkServer.start();
  const active = new Map<string, CallRecorder>();
  const connection = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const environment: CallRecorderEnvironment = { ...options, browser, frameSink, ...(options.metrics ? { frameCounters: options.metrics } : {}) };
  let accepting = true;

  const worker = new Worker<unknown, RecordJobResult>(
    RECORD_QUEUE,
    async (job: Job<unknown, RecordJobResult>) => {
      let data;
      try {
        data = parseRecordJobData(job.data);
      } catch (error) {
        if (error instanceof RecordJobError) throw new UnrecoverableError(error.message);
        throw error;
      }
      const recorder = new CallRecorder(data, environment);
      active.set(data.recordingId, recorder);
      try {
        const manifest = await recorder.run().catch((error: unknown) => {
          options.metrics?.recordingFinished('failed');
          throw error;
        });
        options.metrics?.recordingFinished(manifest.endReason);
        await options.onRecordingFinished?.(data, manifest);
        return {
          recordingId: data.recordingId,
          endReason: manifest.endReason,
          tracks: manifest.tracks.length,
          segments: manifest.tracks.reduce((n, t) => n + t.segments.length, 0),
        };
      } finally {
        active.delete(data.recordingId);
      }
    },
    {
      connection,
      prefix: options.queuePrefix,
      concurrency: options.maxConcurrentCalls ?? 4,
      // A call lasts as long as it lasts; the lock is renewed while the recorder runs.
      lockDuration: 60_000,
      stalledInterval: 30_000,
    },
  );
  worker.on('error', (error) => options.log?.('record worker error', { error: error.message }));
  // The key service publishes a stop on the queue's event stream when authorization ends (its removal
  // of the recorder from the group is what actually stops decryption; this finishes the job promptly).
  // BullMQ does not close a connection it was handed: closeAll does.
  const eventsConnection = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const events = new QueueEvents(RECORD_QUEUE, { connection: eventsConnection, prefix: options.queuePrefix });
  events.on(RECORDER_STOP_EVENT as 'error', ((event: { jobId?: string; reason?: string }) => {
    const recorder = event.jobId ? active.get(event.jobId) : undefined;
    if (recorder) {
      options.log?.('recorder stop requested', { recordingId: event.jobId, reason: event.reason });
      recorder.stop('stopped');
    }
  }) as never);

  const closeAll = async () => {
    await worker.close();
    await events.close();
    await frameSink.close();
    await browser.close();
    connection.disconnect();
    eventsConnection.disconnect();
  };

  return {
    active: () => active,
    browser,
    accepting: () => accepting,
    ping: () => connection.ping(),
    async drain() {
      accepting = false;
      for (const recorder of active.values()) recorder.stop('shutdown');
      await closeAll();
    },
    async abort() {
      accepting = false;
      for (const recorder of active.values()) recorder.abort();
      await closeAll();
    },
  };
}
