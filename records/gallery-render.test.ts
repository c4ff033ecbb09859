import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { galleryArgs, renderGalleryFile, RenderError } from './gallery-render.js';

const run = promisify(execFile);

describe('gallery rendering (Debian ffmpeg)', () => {
  let dir: string;
  let video: string;
  let audio: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chaperone-gallery-'));
    video = join(dir, 'v.webm');
    audio = join(dir, 'a.webm');
    const ffmpeg = (args: string[]) => run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
    await Promise.all([
      ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=s=320x240:r=15', '-t', '1', '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', video]),
      ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=300:sample_rate=48000', '-t', '1', '-c:a', 'libopus', audio]),
    ]);
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const probe = async (file: string) =>
    JSON.parse((await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height:format=duration', '-of', 'json', file])).stdout) as {
      streams: Array<{ codec_name: string; width?: number; height?: number }>;
      format: { duration: string };
    };

  test('three video tracks make a 2×2 grid (xstack), two audio tracks are mixed, segments concatenated, offsets kept', async () => {
    const out = join(dir, 'grid.webm');
    const result = await renderGalleryFile(
      [
        { trackId: 't1', kind: 'video', offsetMs: 0, files: [video] },
        { trackId: 't2', kind: 'video', offsetMs: 500, files: [video, video] },
        { trackId: 't3', kind: 'video', offsetMs: 0, files: [video] },
        { trackId: 't4', kind: 'audio', offsetMs: 0, files: [audio] },
        { trackId: 't5', kind: 'audio', offsetMs: 250, files: [audio, audio] },
      ],
      out,
    );
    expect(result.mediaType).toBe('video/webm');
    const info = await probe(out);
    expect(info.streams.map((s) => s.codec_name).sort()).toEqual(['opus', 'vp8']);
    expect(info.streams.find((s) => s.codec_name === 'vp8')).toMatchObject({ width: 640, height: 480 });
    // The longest track: two 1 s segments starting at 0.5 s.
    expect(Number(info.format.duration)).toBeGreaterThan(2.3);
  });

  test('two video tracks side by side (hstack); audio only gives an audio file', async () => {
    expect(galleryArgs([{ trackId: 'a', kind: 'video', offsetMs: 0, files: ['x'] }, { trackId: 'b', kind: 'video', offsetMs: 0, files: ['y'] }], 'o').args.join(' ')).toContain('hstack=inputs=2');
    const out = join(dir, 'audio.webm');
    expect((await renderGalleryFile([{ trackId: 'a', kind: 'audio', offsetMs: 0, files: [audio] }], out)).mediaType).toBe('audio/webm');
    expect((await probe(out)).streams.map((s) => s.codec_name)).toEqual(['opus']);
  });

  test('nothing to render, or input ffmpeg cannot read, is a RenderError', async () => {
    expect(() => galleryArgs([], 'o')).toThrow(RenderError);
    await expect(renderGalleryFile([{ trackId: 'a', kind: 'video', offsetMs: 0, files: [join(dir, 'missing.webm')] }], join(dir, 'never.webm'))).rejects.toThrow(/ffmpeg exited with 1/);
  });
});
