import { randomBytes } from 'node:crypto';
import type { Page } from 'puppeteer-core';
import { CallRecording } from './call-recording.js';
import { base64Decode, decodeIdentity } from '../e2ee/mls/index.js';
import type { FrameSinkServer } from './frame-sink-server.js';
import type { RecorderBrowser } from './recorder-browser.js';
import type { RecorderCredentialSource } from './recorder-credentials.js';
import type { RecordingEndReason, RecordingTrackManifest } from './track-manifest.js';
import type { PageControlMessage } from './wire/control-message.js';
import type { RecorderConfig } from './page/recorder-page-protocol.js';
import type { RecordJobData } from './record-job.js';
import type { FrameCounters } from './recorder-metrics.js';

/**
 * Records one call, as an explicit state machine:
 *
 *   joining → recording → finalizing → done
 *      ↑          │ page or browser crashed: rejoin as a new member, new files of the same recording
 *      └──────────┘
 *   any state → failed (could not join after retries)
 *
 * It ends when the recorder is removed from the MLS group (a revocation: it finalizes at once), when the
 * room has had no participant for a while, or when told to stop (SIGTERM: finish; SIGINT: abort).
 */

export type CallRecorderState = 'joining' | 'recording' | 'finalizing' | 'done' | 'failed';

export type RecordCallJob = RecordJobData;

export interface CallRecorderEnvironment {
  browser: RecorderBrowser;
  frameSink: FrameSinkServer;
  /** URL of the bundled recorder page (http://127.0.0.1:…/recorder/index.html). */
  pageUrl: string;
  sfuUrl: string;
  credentials: RecorderCredentialSource;
  spoolDir: string;
  /** Restarts allowed after crashes before the recording fails. */
  maxRestarts?: number;
  /** How long the room may have no participant before the recording ends. */
  emptyRoomGraceMs?: number;
  joinTimeoutMs?: number;
  log?: (event: string, fields: Record<string, unknown>) => void;
  /** Process-wide frame counters (metrics). */
  frameCounters?: FrameCounters;
}

export class CallRecorderError extends Error {
  constructor(
    readonly code: 'join-failed' | 'too-many-restarts',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CallRecorderError';
  }
}

type SessionEnd = 'removed' | 'crashed' | 'stopped' | 'room-empty';

const RETRY_DELAY_MS = 250;
/** Time for the leave message to reach the key service before the page goes. */
const LEAVE_FLUSH_MS = 100;
/** Longest wait, after the page closed, for the frames it sent to be handled. */
const SOCKET_DRAIN_TIMEOUT_MS = 2000;

function recorderIdOf(credential: string): string {
  const bytes = base64Decode(credential);
  return bytes ? decodeIdentity(bytes).id : 'unknown';
}

export class CallRecorder {
  state: CallRecorderState = 'joining';
  readonly recording: CallRecording;
  private stopRequested: RecordingEndReason | undefined;
  private endSession: ((end: SessionEnd) => void) | undefined;
  private currentPage: Page | undefined;
  private readonly stateListeners = new Set<(state: CallRecorderState) => void>();
  readonly joinTimesMs: number[] = [];

  constructor(
    readonly job: RecordCallJob,
    private readonly env: CallRecorderEnvironment,
  ) {
    this.recording = new CallRecording(env.spoolDir, job.recordingId, job.roomId, env.frameCounters);
  }

  onState(listener: (state: CallRecorderState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  private setState(state: CallRecorderState): void {
    if (this.state === state) return;
    this.state = state;
    this.env.log?.('recorder state', { recordingId: this.job.recordingId, state });
    this.stateListeners.forEach((listener) => listener(state));
  }

  /** Finish: stop receiving, finalize the files. */
  stop(reason: RecordingEndReason = 'stopped'): void {
    this.stopRequested ??= reason;
    this.endSession?.('stopped');
  }

  /** Abort: kill the writers at once (files keep what was flushed), then end. */
  abort(): void {
    this.stopRequested = 'aborted';
    this.recording.abort();
    this.endSession?.('stopped');
  }

  async run(): Promise<RecordingTrackManifest> {
    await this.recording.prepare();
    const maxRestarts = this.env.maxRestarts ?? 5;
    let restarts = 0;
    let endReason: RecordingEndReason = 'stopped';
    const unsubscribeCrash = this.env.browser.onCrash(() => this.endSession?.('crashed'));
    try {
      for (let session = 1; ; session++) {
        let end: SessionEnd;
        try {
          end = await this.runSession(session);
        } catch (error) {
          if (this.stopRequested) break;
          restarts++;
          this.env.log?.('recorder session failed', { recordingId: this.job.recordingId, session, error: (error as Error).message });
          if (restarts > maxRestarts) {
            this.setState('failed');
            await this.recording.finalize('failed');
            throw new CallRecorderError('too-many-restarts', `recording ${this.job.recordingId} could not rejoin after ${maxRestarts} restarts`, { cause: error });
          }
          // e.g. the key service still lists the previous membership: it goes when its connection drops.
          await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS * restarts));
          continue;
        }
        if (end === 'removed') {
          endReason = 'removed-from-group';
          break;
        }
        if (end === 'room-empty') {
          endReason = 'room-empty';
          break;
        }
        if (end === 'stopped' || this.stopRequested) {
          endReason = this.stopRequested ?? 'stopped';
          break;
        }
        restarts++;
        if (restarts > maxRestarts) {
          this.setState('failed');
          await this.recording.finalize('failed');
          throw new CallRecorderError('too-many-restarts', `recording ${this.job.recordingId} crashed ${restarts} times`);
        }
        this.setState('joining');
      }
    } finally {
      unsubscribeCrash();
    }
    this.setState('finalizing');
    const manifest = await this.recording.finalize(endReason);
    this.setState('done');
    return manifest;
  }

  private async runSession(session: number): Promise<SessionEnd> {
    this.setState('joining');
    let resolveEnd!: (end: SessionEnd) => void;
    const ended = new Promise<SessionEnd>((resolve) => (resolveEnd = resolve));
    let done = false;
    this.endSession = (end) => {
      if (!done) {
        done = true;
        resolveEnd(end);
      }
    };
    if (this.stopRequested) return 'stopped';
    const emptyRoomGraceMs = this.env.emptyRoomGraceMs ?? 15_000;
    let emptyTimer: NodeJS.Timeout | undefined;
    const onControl = (message: PageControlMessage) => {
      if (message.type === 'removed') this.endSession?.('removed');
      if (message.type === 'roster') {
        const participants = message.members.filter((m) => m.kind === 'participant').length;
        clearTimeout(emptyTimer);
        emptyTimer = participants === 0 ? setTimeout(() => this.endSession?.('room-empty'), emptyRoomGraceMs) : undefined;
      }
    };
    const callSecret = randomBytes(24).toString('base64url');
    // Resolves once the page's frame socket has closed and every message it delivered was handled.
    let socketDrained!: () => void;
    const drained = new Promise<void>((resolve) => (socketDrained = resolve));
    let socketOpened = false;
    const unregister = this.env.frameSink.register(callSecret, (connection) => {
      socketOpened = true;
      return this.recording.sessionHandler(session, connection, {
        onControl,
        onClose: () => {
          socketDrained();
          this.endSession?.('crashed');
        },
      });
    });
    const browser = await this.env.browser.get();
    const context = await browser.createBrowserContext();
    let endedBy: SessionEnd = 'crashed';
    let page: Page | undefined;
    try {
      page = await context.newPage();
      this.currentPage = page;
      page.once('error', () => this.endSession?.('crashed'));
      page.once('close', () => this.endSession?.('crashed'));
      page.on('pageerror', (error) => this.env.log?.('recorder page error', { recordingId: this.job.recordingId, session, error: (error as Error).name }));
      await page.goto(this.env.pageUrl);
      const startedAt = Date.now();
      this.env.log?.('recorder page loaded', { recordingId: this.job.recordingId, session });
      const signaturePublicKey = await page.evaluate(() => window.chaperoneRecorder.createSignatureKey());
      const issued = await this.env.credentials.obtain({ roomId: this.job.roomId, jobId: this.job.recordingId, signaturePublicKey });
      this.env.log?.('recorder credential issued', { recordingId: this.job.recordingId, session, ms: Date.now() - startedAt });
      const config: RecorderConfig = {
        deliveryUrl: issued.deliveryUrl,
        sfuUrl: this.env.sfuUrl,
        sfuRoom: this.job.sfuRoom,
        token: issued.token,
        credential: issued.credential,
        frameSinkUrl: this.env.frameSink.url,
        callSecret,
      };
      const joinTimeoutMs = this.env.joinTimeoutMs ?? 20_000;
      let joinTimer: NodeJS.Timeout | undefined;
      const joined = await Promise.race([
        page.evaluate((c) => window.chaperoneRecorder.start(c), config),
        ended.then((end) => {
          throw new Error(`session ended while joining: ${end}`);
        }),
        new Promise<never>((_, reject) => {
          joinTimer = setTimeout(() => reject(new CallRecorderError('join-failed', `did not join within ${joinTimeoutMs} ms`)), joinTimeoutMs);
        }),
      ]).finally(() => clearTimeout(joinTimer));
      const joinMs = Date.now() - startedAt;
      this.joinTimesMs.push(joinMs);
      this.recording.sessionJoined(session, recorderIdOf(issued.credential), Date.now(), joinMs);
      this.env.log?.('recorder joined', { recordingId: this.job.recordingId, session, epoch: joined.epoch, joinMs });
      this.setState('recording');
      endedBy = await ended;
      return endedBy;
    } finally {
      done = true;
      clearTimeout(emptyTimer);
      this.currentPage = undefined;
      unregister();
      // Finishing (not crashing, not removed): say so, so the key service ends the job rather than
      // holding it open for a rejoin. Then closing the context drops the page's connections.
      if (endedBy === 'stopped' || endedBy === 'room-empty') {
        await page?.evaluate(() => window.chaperoneRecorder.leave()).catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, LEAVE_FLUSH_MS));
      }
      await context.close().catch(() => undefined);
      // Frames and counts the page sent before it closed are still being handled: let them reach the
      // files (and the counts) before the session's segments close.
      if (socketOpened) await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, SOCKET_DRAIN_TIMEOUT_MS))]);
      // Counts only (no names): what each receive stream got, to tell a starved call from a lossy one.
      this.env.log?.('recorder session streams', { recordingId: this.job.recordingId, session, endedBy, streams: this.recording.streamFigures(session) });
      await this.recording.endSession(session, endedBy);
    }
  }

  /** The recorder page of the current session (tests use it to crash the page). */
  page(): Page | undefined {
    return this.currentPage;
  }
}
