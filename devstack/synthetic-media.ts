import { spawn } from 'node:child_process';
import { access, mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Distinct, checkable camera and microphone input for a synthetic participant: a y4m clip whose frame is
 * dominated by the participant's colour, with a moving test pattern and temporal noise (Chromium's
 * built-in fake pattern is unrealistically cheap to encode — harness.md), and a wav of a pure tone at the
 * participant's own frequency. Chromium loops both files. Files are cached by their parameters.
 */
export interface SyntheticMediaSpec {
  /** Dominant colour as 0xRRGGBB. */
  colorHex: string;
  toneHz: number;
  width?: number;
  height?: number;
  fps?: number;
  seconds?: number;
}

export interface SyntheticMedia {
  videoFile: string;
  audioFile: string;
}

function runFfmpeg(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg failed (${code}): ${stderr.slice(-500)}`))));
  });
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export async function syntheticMedia(dir: string, spec: SyntheticMediaSpec): Promise<SyntheticMedia> {
  const { colorHex, toneHz, width = 640, height = 360, fps = 30, seconds = 4 } = spec;
  await mkdir(dir, { recursive: true });
  const base = join(dir, `${colorHex}-${width}x${height}-${fps}-${seconds}`);
  const videoFile = `${base}.y4m`;
  const audioFile = join(dir, `tone-${toneHz}.wav`);
  if (!(await exists(videoFile))) {
    const box = Math.round(width / 4);
    const graph =
      `color=c=${colorHex}:s=${width}x${height}:r=${fps}[bg];` +
      `testsrc2=s=${box}x${Math.round(box * 9 / 16)}:r=${fps}[fg];` +
      `[bg][fg]overlay=x='mod(t*${Math.round(width / 3)},${width - box})':y=${Math.round(height / 3)},noise=alls=18:allf=t,format=yuv420p`;
    await runFfmpeg(['-f', 'lavfi', '-i', graph, '-t', String(seconds), '-f', 'yuv4mpegpipe', `${videoFile}.part`]);
    await rename(`${videoFile}.part`, videoFile);
  }
  if (!(await exists(audioFile))) {
    await runFfmpeg(['-f', 'lavfi', '-i', `sine=frequency=${toneHz}:sample_rate=48000`, '-t', '10', '-ac', '1', '-f', 'wav', `${audioFile}.part`]);
    await rename(`${audioFile}.part`, audioFile);
  }
  return { videoFile, audioFile };
}
