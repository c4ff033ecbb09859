import { statfsSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { startS3Server } from '../../devstack/s3-server.js';

const GiB = 1024 * 1024 * 1024;

/**
 * Where a benchmark's S3 stand-in keeps objects: tmpfs (/dev/shm) when it has room for ~2.5× the bytes the
 * run stores (s3rver writes the parts, then the assembled object) plus 1 GiB, else `<workDir>/s3`. A
 * disk-backed s3rver measures this machine's disk (about 200 MB/s of writes on the CI VMs), not the code
 * under test; production S3 is remote. The directory exists on return; the caller removes it.
 */
export async function s3StandInDirectory(workDir: string, storedBytes: number): Promise<{ dir: string; tmpfs: boolean }> {
  try {
    const fs = statfsSync('/dev/shm');
    if (fs.bavail * fs.bsize > 2.5 * storedBytes + GiB) return { dir: await mkdtemp('/dev/shm/chaperone-bench-s3-'), tmpfs: true };
  } catch {
    // no /dev/shm
  }
  const dir = join(workDir, 's3');
  await mkdir(dir, { recursive: true });
  return { dir, tmpfs: false };
}

/**
 * The `s3-server` role of a benchmark bundle (bench-child.ts): s3rver on CHAPERONE_BENCH_S3_PORT over
 * CHAPERONE_BENCH_S3_DIR, "ready" on stdout, stopped by SIGTERM. True when this process is that child.
 */
export async function serveS3StandInIfAsked(): Promise<boolean> {
  if (process.env.CHAPERONE_BENCH_ROLE !== 's3-server') return false;
  const s3 = await startS3Server({ port: Number(process.env.CHAPERONE_BENCH_S3_PORT), dir: process.env.CHAPERONE_BENCH_S3_DIR! });
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => {
    void s3.stop().finally(() => process.exit(0));
  });
  return true;
}
