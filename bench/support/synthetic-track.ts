import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';

const MiB = 1024 * 1024;

/**
 * A synthetic track of `bytes` incompressible bytes (a random 16 MiB block, varied per block so no two
 * blocks are equal), written with backpressure and synced before the clock starts, so a run does not
 * compete with writeback of its own input.
 */
export async function writeSyntheticTrack(path: string, bytes: number): Promise<void> {
  const block = randomBytes(16 * MiB);
  const out = createWriteStream(path, { highWaterMark: 16 * MiB });
  for (let written = 0, n = 0; written < bytes; n++) {
    const length = Math.min(block.length, bytes - written);
    block.writeUInt32BE(n, (n * 4096) % (block.length - 4));
    if (!out.write(Buffer.from(block.subarray(0, length)))) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    written += length;
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  const handle = await open(path, 'r+');
  await handle.sync();
  await handle.close();
}
