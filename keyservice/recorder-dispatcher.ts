import type { RecordJobData, RecorderStop } from './recorder-jobs.js';

/**
 * How the key service tells recorders to start and stop (implemented by BullMqRecorderDispatcher; tests
 * use their own). `dispatch` must be idempotent per jobId; `stop` must be safe for a job that already
 * ended or never started. Both carry identifiers only (recorder-jobs.ts).
 */
export interface RecorderDispatcher {
  dispatch(job: RecordJobData): Promise<void>;
  stop(stop: RecorderStop): Promise<void>;
  close(): Promise<void>;
}

/** A dispatcher that only remembers: for tests and for running without recorders. */
export class MemoryRecorderDispatcher implements RecorderDispatcher {
  readonly dispatched: RecordJobData[] = [];
  readonly stopped: RecorderStop[] = [];
  private readonly listeners = new Set<(event: { kind: 'dispatch'; job: RecordJobData } | { kind: 'stop'; stop: RecorderStop }) => void>();

  async dispatch(job: RecordJobData): Promise<void> {
    this.dispatched.push(structuredClone(job));
    for (const listener of this.listeners) listener({ kind: 'dispatch', job: structuredClone(job) });
  }

  async stop(stop: RecorderStop): Promise<void> {
    this.stopped.push({ ...stop });
    for (const listener of this.listeners) listener({ kind: 'stop', stop: { ...stop } });
  }

  /** Subscribes to dispatches and stops; returns the unsubscribe function. */
  on(listener: (event: { kind: 'dispatch'; job: RecordJobData } | { kind: 'stop'; stop: RecorderStop }) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
