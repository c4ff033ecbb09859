import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

/** Test helpers: real encoded VP8 and Opus from ffmpeg, split into frames/packets, and ffprobe. */

const run = promisify(execFile);

export async function encodedVp8Frames(file: string, seconds: number, size = '320x240', color = 'red'): Promise<Uint8Array[]> {
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `color=c=${color}:s=${size}:r=30,noise=alls=20:allf=t`, '-t', String(seconds), '-c:v', 'libvpx', '-g', '60', '-deadline', 'realtime', '-b:v', '500k', '-f', 'ivf', file]);
  const bytes = new Uint8Array(await readFile(file));
  const frames: Uint8Array[] = [];
  let offset = 32;
  while (offset + 12 <= bytes.length) {
    const size = new DataView(bytes.buffer, bytes.byteOffset + offset).getUint32(0, true);
    frames.push(bytes.slice(offset + 12, offset + 12 + size));
    offset += 12 + size;
  }
  return frames;
}

export async function encodedOpusPackets(file: string, seconds: number, toneHz = 440): Promise<Uint8Array[]> {
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=${toneHz}:sample_rate=48000`, '-t', String(seconds), '-c:a', 'libopus', '-frame_duration', '20', '-b:a', '32k', '-f', 'ogg', file]);
  const bytes = new Uint8Array(await readFile(file));
  const packets: Uint8Array[] = [];
  let offset = 0;
  let pending: number[] = [];
  let index = 0;
  while (offset + 27 <= bytes.length) {
    const segments = bytes[offset + 26]!;
    const table = bytes.subarray(offset + 27, offset + 27 + segments);
    let data = offset + 27 + segments;
    for (const lace of table) {
      pending.push(...bytes.subarray(data, data + lace));
      data += lace;
      if (lace < 255) {
        if (index++ >= 2) packets.push(Uint8Array.from(pending)); // skip OpusHead and OpusTags
        pending = [];
      }
    }
    offset = data;
  }
  return packets;
}

export interface ProbedStream {
  codec_name: string;
  codec_type: string;
  width?: number;
  height?: number;
  duration?: string;
  nb_read_frames?: string;
}

export async function ffprobe(file: string): Promise<{ streams: ProbedStream[]; format: { duration?: string; format_name: string } }> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-count_frames', '-show_streams', '-show_format', '-of', 'json', file]);
  return JSON.parse(stdout) as { streams: ProbedStream[]; format: { duration?: string; format_name: string } };
}
