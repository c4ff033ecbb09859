import { createReadStream, type ReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { lstat, open as openFile, readdir, realpath, rmdir, unlink } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { SealError } from './errors.js';

/**
 * The recorder's spool as the pipeline sees it: `<spoolDir>/<recordingId>/<file>`. Paths come from the
 * catalog (validated names, no separators), are resolved without following links out of the recording's
 * directory, and must be regular files. The pipeline only reads here, and removes a file only after its
 * sealed copy is verified and the manifest is committed (seal-recording).
 */
export const SPOOL_READ_CHUNK_BYTES = 4 * 1024 * 1024;

export class Spool {
  constructor(readonly dir: string) {}

  recordingDir(recordingId: string): string {
    return join(this.dir, recordingId);
  }

  /** Absolute path of a spool file, checked: inside the recording directory, a regular file, not a link. */
  async resolve(recordingId: string, file: string): Promise<{ path: string; size: number }> {
    if (file.includes('/') || file.includes('\\') || file.includes('..') || file.includes('\0')) {
      throw new SealError('CHAP_SEAL_SPOOL_UNSAFE', `spool file name ${JSON.stringify(file)} is not a plain file name`, true);
    }
    const path = join(this.recordingDir(recordingId), file);
    let stats;
    try {
      stats = await lstat(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new SealError('CHAP_SEAL_SPOOL_MISSING', `spool file ${recordingId}/${file} does not exist: the recorder's spool is incomplete (nothing was sealed for it)`, true);
      }
      throw new SealError('CHAP_SEAL_SPOOL_MISSING', `spool file ${recordingId}/${file} cannot be read (${(error as NodeJS.ErrnoException).code})`, false, { cause: error });
    }
    if (!stats.isFile()) throw new SealError('CHAP_SEAL_SPOOL_UNSAFE', `spool entry ${recordingId}/${file} is not a regular file (links are not followed)`, true);
    const real = await realpath(path);
    const root = await realpath(this.recordingDir(recordingId));
    if (!real.startsWith(root + sep)) throw new SealError('CHAP_SEAL_SPOOL_UNSAFE', `spool file ${recordingId}/${file} resolves outside its recording directory`, true);
    return { path: real, size: stats.size };
  }

  /** Reads in 4 MiB chunks: fewer, larger reads cost less CPU per byte (encryption frames slice them). */
  open(path: string): ReadStream {
    return createReadStream(path, { highWaterMark: SPOOL_READ_CHUNK_BYTES });
  }

  /**
   * SHA-256 and size of a file, reading into two reused buffers: the next read runs (on the thread pool)
   * while this thread hashes the previous one, and nothing is allocated per chunk, so hashing a 4 GiB
   * file leaves no garbage behind.
   */
  async hashFile(path: string): Promise<{ sha256: string; bytes: number }> {
    const handle = await openFile(path, 'r');
    try {
      const hash = createHash('sha256');
      const buffers = [Buffer.allocUnsafeSlow(SPOOL_READ_CHUNK_BYTES), Buffer.allocUnsafeSlow(SPOOL_READ_CHUNK_BYTES)];
      let bytes = 0;
      let current = 0;
      let pending = handle.read(buffers[current]!, 0, SPOOL_READ_CHUNK_BYTES, null);
      for (;;) {
        const { bytesRead } = await pending;
        if (bytesRead === 0) break;
        const filled = buffers[current]!;
        current ^= 1;
        pending = handle.read(buffers[current]!, 0, SPOOL_READ_CHUNK_BYTES, null);
        hash.update(filled.subarray(0, bytesRead));
        bytes += bytesRead;
      }
      return { sha256: hash.digest('hex'), bytes };
    } finally {
      await handle.close();
    }
  }

  /** Removes one sealed file; a file already gone is fine (the release is idempotent). */
  async remove(recordingId: string, file: string): Promise<boolean> {
    try {
      await unlink(join(this.recordingDir(recordingId), file));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw new SealError('CHAP_SEAL_SPOOL_UNSAFE', `could not remove spool file ${recordingId}/${file} (${(error as NodeJS.ErrnoException).code}); will retry`, false, { cause: error });
    }
  }

  /** Removes the recording directory if nothing is left in it; returns the names left otherwise. */
  async removeDirIfEmpty(recordingId: string): Promise<string[]> {
    const dir = this.recordingDir(recordingId);
    let left: string[];
    try {
      left = await readdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    if (left.length > 0) return left;
    await rmdir(dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT' && error.code !== 'ENOTEMPTY') throw error;
    });
    return [];
  }
}
