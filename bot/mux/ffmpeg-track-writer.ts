import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { rename, rm } from 'node:fs/promises';

/**
 * One ffmpeg process per track, spawned directly (fluent-ffmpeg is archived): it reads the track's
 * encoded frames from a pipe (IVF for VP8, Ogg for Opus) and stream-copies them into WebM — no decoding,
 * no re-encoding. Clusters close every second and every packet is flushed, so if ffmpeg, the browser or
 * the recorder is killed, what is on disk plays up to the last second or so.
 *
 * Writes made in one turn of the event loop (the frames of one batch from the page) reach the pipe as one
 * writev at the end of that turn: a pipe write wakes ffmpeg, and per-frame writes made these wake-ups and
 * syscalls the recorder's largest Node cost.
 *
 * States: running → closing → closed | failed. Writes respect the pipe's backpressure.
 */

export type TrackWriterState = 'running' | 'closing' | 'closed' | 'failed';
export type TrackInputFormat = 'ivf' | 'ogg';

export class TrackWriterError extends Error {
  constructor(
    readonly code: 'ffmpeg-exited' | 'ffmpeg-spawn-failed' | 'not-running',
    message: string,
  ) {
    super(message);
    this.name = 'TrackWriterError';
  }
}

/** Cluster length in ms: bounds how much a killed process can lose (the issue allows 2 s). */
export const CLUSTER_TIME_LIMIT_MS = 1000;

const FFMPEG = process.env.CHAPERONE_FFMPEG ?? 'ffmpeg';

export class FfmpegTrackWriter {
  state: TrackWriterState = 'running';
  bytesWritten = 0;
  private readonly child: ChildProcessByStdio<Writable, null, Readable>;
  private readonly exited: Promise<number | null>;
  private stderrTail = '';
  private onExit: ((error: TrackWriterError) => void) | undefined;
  private corked = false;

  constructor(
    readonly outputPath: string,
    format: TrackInputFormat,
  ) {
    this.child = spawn(
      FFMPEG,
      [
        '-hide_banner', '-nostdin', '-loglevel', 'error',
        '-f', format, '-i', 'pipe:0',
        '-map', '0', '-c', 'copy',
        // Keep the segment's timeline from its first received frame: frames before the first key frame
        // cannot be written, and their time stays in the file as a gap instead of being squeezed out.
        '-copyts',
        '-f', 'webm',
        '-cluster_time_limit', String(CLUSTER_TIME_LIMIT_MS),
        '-flush_packets', '1',
        '-y', outputPath,
      ],
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    this.child.stdin.on('error', () => undefined); // EPIPE after ffmpeg died: reported through exit
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString()).slice(-2000);
    });
    this.exited = new Promise((resolve) => {
      this.child.once('error', () => resolve(null));
      this.child.once('exit', (code) => resolve(code));
    });
    void this.exited.then((code) => {
      if (this.state === 'closing' && code === 0) {
        this.state = 'closed';
        return;
      }
      const wasRunning = this.state === 'running';
      this.state = 'failed';
      if (wasRunning) this.onExit?.(new TrackWriterError('ffmpeg-exited', `ffmpeg exited (code ${code}) while recording: ${this.stderrTail.trim().slice(-300)}`));
    });
  }

  /** Called once if ffmpeg dies while the track is still being written. */
  onUnexpectedExit(listener: (error: TrackWriterError) => void): void {
    this.onExit = listener;
  }

  /** Writes bytes, waiting for the pipe to drain when ffmpeg is behind. */
  async write(bytes: Uint8Array): Promise<void> {
    if (this.state !== 'running') throw new TrackWriterError('not-running', `track writer is ${this.state}`);
    this.bytesWritten += bytes.length;
    if (!this.corked) {
      this.corked = true;
      this.child.stdin.cork();
      setImmediate(() => this.uncork());
    }
    if (!this.child.stdin.write(bytes)) {
      this.uncork(); // the pipe is full: let it drain now rather than at the end of the turn
      await new Promise<void>((resolve) => {
        const done = () => {
          this.child.stdin.off('drain', done);
          this.child.off('exit', done);
          resolve();
        };
        this.child.stdin.once('drain', done);
        this.child.once('exit', done);
      });
    }
  }

  private uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.child.stdin.uncork();
  }

  /** Ends input; ffmpeg writes the cues and duration and exits. */
  async close(): Promise<void> {
    this.uncork();
    if (this.state === 'running') {
      this.state = 'closing';
      this.child.stdin.end();
    }
    const code = await this.exited;
    if (this.state === 'failed' && code !== 0) {
      throw new TrackWriterError('ffmpeg-exited', `ffmpeg failed to finalize ${this.outputPath}: ${this.stderrTail.trim().slice(-300)}`);
    }
  }

  /** Stops ffmpeg at once (abort): the file keeps what was flushed. */
  kill(): void {
    this.state = 'failed';
    this.child.kill('SIGKILL');
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
}

/**
 * Rewrites a WebM whose writer was killed (no cues, no duration) into a properly indexed file, stream
 * copy. Returns false if nothing playable could be read from it.
 */
export async function reindexWebm(path: string): Promise<boolean> {
  const temp = `${path}.reindex.webm`;
  const ok = await new Promise<boolean>((resolve) => {
    const child = spawn(FFMPEG, ['-hide_banner', '-nostdin', '-loglevel', 'error', '-i', path, '-map', '0', '-c', 'copy', '-copyts', '-f', 'webm', '-y', temp], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
  if (!ok) {
    await rm(temp, { force: true });
    return false;
  }
  await rename(temp, path);
  return true;
}
