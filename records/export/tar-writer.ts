import type { Writable } from 'node:stream';

/**
 * A minimal POSIX ustar writer (IEEE Std 1003.1, pax "ustar" format): regular files only, names up to 100
 * bytes, sizes declared up front (every file's size is known from the signed manifest before its bytes
 * are produced). Enough for `tar xf` (GNU tar, bsdtar, busybox) to unpack a bundle; written by hand so the
 * bundle can be streamed — plaintext is never staged on disk — without a dependency.
 */

const BLOCK = 512;

function octal(value: number, width: number): string {
  // width includes the terminating NUL.
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

export function tarHeader(name: string, size: number, mtimeMs: number, mode = 0o644): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  if (nameBytes.length === 0 || nameBytes.length > 100 || name.includes('..') || name.startsWith('/')) throw new TypeError(`tar entry name "${name}" must be a relative path of 1 to 100 bytes`);
  if (!Number.isSafeInteger(size) || size < 0 || size > 0o77777777777) throw new TypeError(`tar entry ${name}: size must be 0..8 GiB`);
  const header = Buffer.alloc(BLOCK, 0);
  nameBytes.copy(header, 0);
  header.write(octal(mode, 8), 100, 'ascii');
  header.write(octal(0, 8), 108, 'ascii'); // uid
  header.write(octal(0, 8), 116, 'ascii'); // gid
  header.write(octal(size, 12), 124, 'ascii');
  header.write(octal(Math.floor(mtimeMs / 1000), 12), 136, 'ascii');
  header.write('        ', 148, 'ascii'); // checksum field counts as spaces while summing
  header.write('0', 156, 'ascii'); // regular file
  header.write('ustar\0', 257, 'ascii');
  header.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(octal(sum, 7) + ' ', 148, 'ascii');
  return header;
}

export function tarPadding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest, 0);
}

/** Two zero blocks end an archive. */
export const TAR_END = Buffer.alloc(2 * BLOCK, 0);

/** Writes with backpressure. */
export function writeChunk(out: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    out.once('error', onError);
    const ok = out.write(chunk, (error) => {
      if (error) reject(error);
    });
    const done = () => {
      out.off('error', onError);
      resolve();
    };
    if (ok) done();
    else out.once('drain', done);
  });
}

/** Where a tar goes: one awaited write per chunk (a stream with backpressure, a cipher, a hashing counter). */
export type ChunkSink = (chunk: Buffer) => Promise<void>;

export const streamSink =
  (out: Writable): ChunkSink =>
  (chunk) =>
    writeChunk(out, chunk);

/** Streams tar entries into a sink: whole buffers, or chunks of a declared size. */
export class TarStream {
  private readonly write: ChunkSink;
  constructor(
    out: Writable | ChunkSink,
    private readonly mtimeMs: number,
  ) {
    this.write = typeof out === 'function' ? out : streamSink(out);
  }

  async file(name: string, content: Buffer | string): Promise<void> {
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    await this.write(tarHeader(name, bytes.length, this.mtimeMs));
    await this.write(bytes);
    await this.write(tarPadding(bytes.length));
  }

  /** A file whose bytes come from `chunks`; they must add up to exactly `size`, or the archive is refused. */
  async streamedFile(name: string, size: number, chunks: AsyncIterable<Buffer>): Promise<void> {
    await this.write(tarHeader(name, size, this.mtimeMs));
    let written = 0;
    for await (const chunk of chunks) {
      written += chunk.length;
      if (written > size) throw new Error(`tar entry ${name}: more than the declared ${size} bytes`);
      await this.write(chunk);
    }
    if (written !== size) throw new Error(`tar entry ${name}: ${written} bytes, declared ${size}`);
    await this.write(tarPadding(size));
  }

  async end(): Promise<void> {
    await this.write(TAR_END);
  }
}
