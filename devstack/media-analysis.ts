import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * Reads recorded files back with ffmpeg/ffprobe for checks: stream facts, the average colour of decoded
 * video frames, and the dominant frequency of decoded audio.
 */
const run = promisify(execFile);

export interface ProbeResult {
  codec: string;
  type: 'audio' | 'video';
  durationS: number;
  frames: number;
  width?: number;
  height?: number;
}

export async function probeMedia(file: string): Promise<ProbeResult> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-count_frames', '-show_streams', '-show_format', '-of', 'json', file], { maxBuffer: 16 * 1024 * 1024 });
  const parsed = JSON.parse(stdout) as {
    streams: Array<{ codec_name: string; codec_type: 'audio' | 'video'; nb_read_frames?: string; width?: number; height?: number }>;
    format: { duration?: string };
  };
  const stream = parsed.streams[0]!;
  return {
    codec: stream.codec_name,
    type: stream.codec_type,
    durationS: Number(parsed.format.duration ?? 0),
    frames: Number(stream.nb_read_frames ?? 0),
    width: stream.width,
    height: stream.height,
  };
}

/** Mean R, G, B (0–255) over `frames` decoded frames spread through the file, scaled to 64x36. */
export async function meanColour(file: string, frames = 10): Promise<{ r: number; g: number; b: number }> {
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', file, '-vf', `fps=2,scale=64:36`, '-frames:v', String(frames), '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], {
    encoding: 'buffer',
    maxBuffer: 64 * 1024 * 1024,
  });
  const bytes = stdout as unknown as Buffer;
  let r = 0;
  let g = 0;
  let b = 0;
  const pixels = bytes.length / 3;
  for (let i = 0; i < bytes.length; i += 3) {
    r += bytes[i]!;
    g += bytes[i + 1]!;
    b += bytes[i + 2]!;
  }
  return { r: r / pixels, g: g / pixels, b: b / pixels };
}

/** Dominant frequency (Hz) of decoded audio, by counting zero crossings of the mono mix. */
export async function dominantFrequency(file: string, seconds = 5): Promise<number> {
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', file, '-t', String(seconds), '-ac', '1', '-ar', '48000', '-f', 'f32le', 'pipe:1'], {
    encoding: 'buffer',
    maxBuffer: 64 * 1024 * 1024,
  });
  const bytes = stdout as unknown as Buffer;
  const samples = new Float32Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 4));
  let crossings = 0;
  let loud = 0;
  for (let i = 1; i < samples.length; i++) {
    if (Math.abs(samples[i]!) > 0.01) loud++;
    if (samples[i - 1]! < 0 && samples[i]! >= 0) crossings++;
  }
  if (loud < samples.length / 10) return 0;
  return crossings / (samples.length / 48000);
}
