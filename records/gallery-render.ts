import { spawn } from 'node:child_process';

/**
 * Renders a gallery: every video track as a tile (scaled into W×H, letterboxed), side by side for two,
 * a grid (xstack) for more; every audio track mixed (amix). Each track's segments are concatenated and the
 * track is placed on the recording's timeline by its start offset (black / silence before it). Offline,
 * re-encoded: VP8 + Opus in WebM, with Debian's ffmpeg spawned directly (no wrapper library; see
 * shared/notes/dependencies.md). Input and output are files in a private directory the caller owns.
 *
 * The ffmpeg child is a small state machine: spawned → exited 0 (done) | exited non-zero or killed
 * (RenderError, with the last lines of its stderr, which name only temp file paths) | timed out (killed
 * with SIGKILL, RenderError).
 */

export interface GallerySource {
  trackId: string;
  kind: 'video' | 'audio';
  /** Where the track starts on the recording's timeline, ms from the recording's start. */
  offsetMs: number;
  /** Plaintext segment files, in order. */
  files: readonly string[];
}

export interface GalleryOptions {
  tileWidth?: number;
  tileHeight?: number;
  fps?: number;
  videoBitrate?: string;
  timeoutMs?: number;
}

export class RenderError extends Error {
  override readonly name = 'RenderError';
  readonly code = 'CHAP_RECORDS_RENDER_FAILED' as const;
}

/** The ffmpeg argument list; `mediaType` says whether the result has video. */
export function galleryArgs(sources: readonly GallerySource[], output: string, options: GalleryOptions = {}): { args: string[]; mediaType: 'video/webm' | 'audio/webm' } {
  const W = options.tileWidth ?? 320;
  const H = options.tileHeight ?? 240;
  const fps = options.fps ?? 15;
  const inputs: string[] = [];
  const graph: string[] = [];
  const videoLabels: string[] = [];
  const audioLabels: string[] = [];
  let index = 0;
  for (const [t, source] of sources.entries()) {
    if (source.files.length === 0) continue;
    const parts: string[] = [];
    for (const [j, file] of source.files.entries()) {
      inputs.push('-i', file);
      const label = `${source.kind[0]}${t}_${j}`;
      if (source.kind === 'video') {
        graph.push(`[${index}:v]scale=${W}:${H}:force_original_aspect_ratio=decrease,pad=${W}:${H}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=${fps},format=yuv420p[${label}]`);
      } else {
        graph.push(`[${index}:a]aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo[${label}]`);
      }
      parts.push(`[${label}]`);
      index++;
    }
    const joined = `${source.kind[0]}${t}c`;
    graph.push(
      parts.length === 1
        ? `${parts[0]}${source.kind === 'video' ? 'null' : 'anull'}[${joined}]`
        : `${parts.join('')}concat=n=${parts.length}:v=${source.kind === 'video' ? 1 : 0}:a=${source.kind === 'audio' ? 1 : 0}[${joined}]`,
    );
    const placed = `${source.kind[0]}${t}`;
    const offsetSec = (Math.max(0, source.offsetMs) / 1000).toFixed(3);
    if (source.kind === 'video') {
      graph.push(source.offsetMs > 0 ? `[${joined}]tpad=start_duration=${offsetSec}:start_mode=add:color=black[${placed}]` : `[${joined}]null[${placed}]`);
      videoLabels.push(`[${placed}]`);
    } else {
      graph.push(source.offsetMs > 0 ? `[${joined}]adelay=delays=${Math.round(source.offsetMs)}:all=1[${placed}]` : `[${joined}]anull[${placed}]`);
      audioLabels.push(`[${placed}]`);
    }
  }
  if (videoLabels.length === 0 && audioLabels.length === 0) throw new RenderError('nothing to render: the recording has no playable track');
  if (videoLabels.length === 1) graph.push(`${videoLabels[0]}null[vout]`);
  else if (videoLabels.length === 2) graph.push(`${videoLabels.join('')}hstack=inputs=2[vout]`);
  else if (videoLabels.length > 2) {
    const cols = Math.ceil(Math.sqrt(videoLabels.length));
    const layout = videoLabels.map((_, i) => `${(i % cols) * W}_${Math.floor(i / cols) * H}`).join('|');
    graph.push(`${videoLabels.join('')}xstack=inputs=${videoLabels.length}:layout=${layout}:fill=black[vout]`);
  }
  if (audioLabels.length === 1) graph.push(`${audioLabels[0]}anull[aout]`);
  else if (audioLabels.length > 1) graph.push(`${audioLabels.join('')}amix=inputs=${audioLabels.length}:duration=longest:normalize=0[aout]`);
  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...inputs, '-filter_complex', graph.join(';')];
  if (videoLabels.length > 0) args.push('-map', '[vout]', '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', options.videoBitrate ?? '1M');
  if (audioLabels.length > 0) args.push('-map', '[aout]', '-c:a', 'libopus', '-b:a', '64k');
  args.push('-f', 'webm', output);
  return { args, mediaType: videoLabels.length > 0 ? 'video/webm' : 'audio/webm' };
}

export async function renderGalleryFile(sources: readonly GallerySource[], output: string, options: GalleryOptions = {}): Promise<{ mediaType: 'video/webm' | 'audio/webm' }> {
  const { args, mediaType } = galleryArgs(sources, output, options);
  const timeoutMs = options.timeoutMs ?? 10 * 60_000;
  await new Promise<void>((resolve, reject) => {
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const tail: string[] = [];
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      tail.push(...text.split('\n').filter((line) => line !== ''));
      if (tail.length > 20) tail.splice(0, tail.length - 20);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new RenderError(`ffmpeg could not be started (${(error as NodeJS.ErrnoException).code ?? error.message}): install Debian's ffmpeg`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new RenderError(`ffmpeg ${signal ? `was killed (${signal}${signal === 'SIGKILL' ? `, over ${timeoutMs} ms` : ''})` : `exited with ${code}`}: ${tail.slice(-5).join(' | ')}`));
    });
  });
  return { mediaType };
}
