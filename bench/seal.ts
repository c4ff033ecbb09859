// Sealing benchmark: `npm run bench -- seal [--sizes=1,4]` (GiB). Seals one synthetic track per size
// through the real pipeline — the pipeline service itself (queue/main.ts, development mode, KMS key root
// and KMS manifest signer) in a child process of its own, BullMQ flow on a private Redis, catalog in a
// private PostgreSQL, the KMS double, s3rver in another child process — and compares with the limit
// measured in the same run on the same bytes: Node's SHA-256 and AES-256-GCM, on one core, one after the
// other: limit = 1 / (1/h + 1/a).
//
//   mibps            size / (enqueue → segment stored): hash pass, encrypt + upload pass, catalogued.
//                    This is the work the limit models (one hash and one encryption of every byte).
//   verify_mibps     size / (stored → verified): read back, decrypt, both hashes.
//   end_to_end_mibps size / (enqueue → recording sealed, manifest signed, spool released).
//   peak_rss_mib     peak RSS (VmHWM) of the sealing service process, a fresh one per size.
//   upload_only_mibps the same bytes uploaded raw to the same S3 stand-in: what the stand-in itself allows
//                    (s3rver MD5s every part and writes it; on a 2-core machine it competes with sealing).
//   service_cpu_ms_per_mib  CPU time of the service per MiB until stored, next to limit_cpu_ms_per_mib
//                    (= 1000 / limit_mibps): the pipeline's own cost, less sensitive to a busy machine.
//
// CHAPERONE_BENCH_PROF=<dir> writes a V8 CPU profile of the sealing service child into <dir> (--cpu-prof).
//
// bench/run.ts bundles this file and prints the returned report as the last stdout line. The same bundle,
// started with CHAPERONE_BENCH_ROLE=s3-server or =seal-worker, is the s3rver child or the service child.

import type { ChildProcess } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KMSClient } from '@aws-sdk/client-kms';
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { FlowProducer } from 'bullmq';
import pg from 'pg';
import { migrate } from '../db/migrate.js';
import { freePort } from '../devstack/free-port.js';
import { startKmsDouble } from '../devstack/kms-double/index.js';
import { startPostgresServer } from '../devstack/postgres-server.js';
import { startRedisServer } from '../devstack/redis-server.js';
import { getRecording, listSegments } from '../queue/catalog.js';
import { uploadStream } from '../queue/multipart-upload.js';
import { SPOOL_READ_CHUNK_BYTES } from '../queue/spool.js';
import { enqueueSealRecording } from '../queue/contract.js';
import { STREAMING_SERVICE_NODE_FLAGS } from '../queue/node-flags.js';
import { writeBenchSealConfig } from './support/bench-seal-config.js';
import { writeSyntheticTrack } from './support/synthetic-track.js';
import { processCpuMs, processPeakRssMib, startBenchChild, stopBenchChild } from './support/bench-child.js';
import { s3StandInDirectory, serveS3StandInIfAsked } from './support/s3-stand-in.js';

export interface BenchContext {
  readonly repoRoot: string;
  readonly workDir: string;
  readonly args: readonly string[];
  readonly progress: (message: string) => void;
}

interface SizeResult {
  gib: number;
  bytes: number;
  sha256_mibps: number;
  aes_gcm_mibps: number;
  limit_mibps: number;
  mibps: number;
  ratio: number;
  /** The two passes inside `mibps`: hash-segment, then store-segment (encrypt + upload). */
  hash_step_mibps: number;
  store_step_mibps: number;
  verify_mibps: number;
  end_to_end_mibps: number;
  /** Reference: the same bytes uploaded raw (no hashing, no encryption) to the same S3 stand-in, same uploader and part size. */
  upload_only_mibps: number;
  /** CPU time (user + system) of the sealing service per MiB from enqueue to stored, and of the limit (1000 / limit_mibps). */
  service_cpu_ms_per_mib: number;
  limit_cpu_ms_per_mib: number;
  peak_rss_mib: number;
  s3_server_peak_rss_mib: number;
}

export interface SealBenchReport {
  bench: 'seal';
  /** Of the size with the lowest ratio. */
  mibps: number;
  limit_mibps: number;
  ratio: number;
  /** Highest over all sizes. */
  peak_rss_mib: number;
  mibps_measures: string;
  frame_length_bytes: number;
  part_size_bytes: number;
  s3_stand_in_on_tmpfs: boolean;
  sizes: SizeResult[];
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
// Read chunk of the limit passes: the spool's (queue/spool.ts), so both read the same way.
const CHUNK = SPOOL_READ_CHUNK_BYTES;
const FRAME_LENGTH = MiB;
const PART_SIZE = 5 * MiB;

if (await serveS3StandInIfAsked()) {
  // this process is the s3rver child
} else if (process.env.CHAPERONE_BENCH_ROLE === 'seal-worker') {
  // The production entry point, configured by CHAPERONE_SEAL_CONFIG.
  await import('../queue/main.js');
}

const BUNDLE = fileURLToPath(import.meta.url);

function sizesArg(args: readonly string[]): number[] {
  const raw = args.find((a) => a.startsWith('--sizes='))?.slice('--sizes='.length) ?? '1,4';
  const sizes = raw.split(',').map(Number);
  if (sizes.some((s) => !Number.isFinite(s) || s <= 0 || s > 64)) throw new RangeError(`--sizes must be GiB values in (0, 64], got ${raw}`);
  return sizes;
}


/**
 * Throughput (MiB/s) of `work` over the file on this thread, reading the way the hash step does (two
 * reused 4 MiB buffers, the next read overlapping the work): the limit gets the cheapest reads there are.
 */
async function measurePass(path: string, bytes: number, work: (chunk: Buffer) => void, finish: () => void): Promise<number> {
  const started = performance.now();
  const handle = await open(path, 'r');
  try {
    const buffers = [Buffer.allocUnsafeSlow(CHUNK), Buffer.allocUnsafeSlow(CHUNK)];
    let current = 0;
    let pending = handle.read(buffers[0]!, 0, CHUNK, null);
    for (;;) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) break;
      const filled = buffers[current]!;
      current ^= 1;
      pending = handle.read(buffers[current]!, 0, CHUNK, null);
      work(filled.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  finish();
  return bytes / MiB / ((performance.now() - started) / 1000);
}

async function limitOf(path: string, bytes: number): Promise<{ h: number; a: number; limit: number }> {
  const hash = createHash('sha256');
  const h = await measurePass(path, bytes, (c) => hash.update(c), () => hash.digest());
  const cipher = createCipheriv('aes-256-gcm', randomBytes(32), randomBytes(12));
  const a = await measurePass(path, bytes, (c) => void cipher.update(c), () => (cipher.final(), cipher.getAuthTag()));
  return { h, a, limit: 1 / (1 / h + 1 / a) };
}






export async function run(context: BenchContext): Promise<SealBenchReport> {
  const sizes = sizesArg(context.args);
  const dir = join(context.workDir, 'seal');
  await rm(dir, { recursive: true, force: true });
  const spoolDir = join(dir, 'spool');
  const { dir: s3Dir, tmpfs } = await s3StandInDirectory(dir, Math.max(...sizes) * GiB);
  await mkdir(spoolDir, { recursive: true });

  context.progress('starting PostgreSQL, Redis, the KMS double and s3rver (child process)');
  const s3Port = await freePort();
  const [postgres, redis, kms, s3Child] = await Promise.all([
    freePort().then((port) => startPostgresServer({ port })),
    freePort().then((port) => startRedisServer({ port })),
    freePort().then((port) => startKmsDouble({ port })),
    startBenchChild(BUNDLE, 's3-server', { CHAPERONE_BENCH_S3_PORT: String(s3Port), CHAPERONE_BENCH_S3_DIR: s3Dir }, (line) => line === 'ready'),
  ]);
  const pool = new pg.Pool({ connectionString: postgres.url, max: 8 });
  const kmsClient = new KMSClient({ endpoint: kms.endpoint, region: kms.region, credentials: kms.credentials });
  const s3 = new S3Client({
    endpoint: `http://127.0.0.1:${s3Port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const flows = new FlowProducer({ connection: { url: redis.url }, prefix: 'bench' });
  let worker: ChildProcess | undefined;
  try {
    const client = await pool.connect();
    // Bundled into .tmp/bench, so the migrations are named from the repository, not from import.meta.url.
    await migrate(client, join(context.repoRoot, 'db', 'migrations')).finally(() => client.release());
    const configFile = join(dir, 'seal-config.json');
    await writeBenchSealConfig(
      configFile,
      { kmsClient, kms, databaseUrl: postgres.url, redis: { url: redis.url, prefix: 'bench' }, s3Port, spoolDir },
      {
        s3: (rootKeyArn) => ({ partSizeMiB: PART_SIZE / MiB, queueSize: 2, sseKmsKeyId: rootKeyArn, requireSse: false }),
        extra: { worker: { segmentConcurrency: 1, recordingConcurrency: 1 }, encryption: { frameLengthBytes: FRAME_LENGTH }, log: { level: 'info' } },
      },
    );
    const results: SizeResult[] = [];
    for (const gib of sizes) {
      const bytes = Math.round(gib * GiB);
      const recordingId = `bench-${String(gib).replace(".", "p")}gib-${Date.now()}`;
      const file = 't01-video-s01.webm';
      await mkdir(join(spoolDir, recordingId), { recursive: true });
      context.progress(`${gib} GiB: writing the synthetic track`);
      await writeSyntheticTrack(join(spoolDir, recordingId, file), bytes);
      context.progress(`${gib} GiB: measuring the limit (SHA-256, then AES-256-GCM, over the same bytes)`);
      const limit = await limitOf(join(spoolDir, recordingId, file), bytes);
      context.progress(`${gib} GiB: h = ${limit.h.toFixed(0)} MiB/s, a = ${limit.a.toFixed(0)} MiB/s, limit = ${limit.limit.toFixed(0)} MiB/s; raw upload for reference`);
      const uploadStarted = performance.now();
      await uploadStream({ client: s3, bucket: 'chaperone-recordings', key: 'bench-raw', body: createReadStream(join(spoolDir, recordingId, file), { highWaterMark: CHUNK }), partSizeBytes: PART_SIZE, queueSize: 2, contentType: 'application/octet-stream', metadata: {}, sseKmsKeyId: undefined });
      const uploadOnly = bytes / MiB / ((performance.now() - uploadStarted) / 1000);
      await s3.send(new DeleteObjectCommand({ Bucket: 'chaperone-recordings', Key: 'bench-raw' }));
      context.progress(`${gib} GiB: raw upload ${uploadOnly.toFixed(0)} MiB/s; sealing`);
      // The service child runs with the production process's Node flags (deploy/entrypoint.sh).
      worker = await startBenchChild(BUNDLE, 'seal-worker', { CHAPERONE_SEAL_CONFIG: configFile }, (line) => line.includes('sealing workers started'), [...STREAMING_SERVICE_NODE_FLAGS, ...(process.env.CHAPERONE_BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.CHAPERONE_BENCH_PROF}`] : [])]);
      const cpuAtStart = await processCpuMs(worker.pid!);
      let cpuAtStored: number | undefined;
      const t0 = Date.now();
      await enqueueSealRecording(
        { pool, flows },
        {
          recordingId,
          roomId: 'bench-room',
          recorderId: 'bench-recorder',
          policy: { policyId: 'bench', policyVersion: 1, purpose: 'quality-review', retentionDays: 30, part2: false },
          consentRefs: [],
          startedAtMs: t0,
          endedAtMs: t0 + 1000,
          tracks: [
            {
              trackId: 't01-video',
              participantId: 'bench-participant',
              kind: 'video',
              codec: 'vp8',
              startedAtMs: t0,
              endedAtMs: t0 + 1000,
              framesReceived: 0,
              framesWritten: 0,
              decryptFailures: 0,
              gaps: [],
              segments: [{ file, startedAtMs: t0, endedAtMs: t0 + 1000, durationMs: 1000, framesReceived: 0, framesWritten: 0, gaps: [] }],
            },
          ],
        },
      );
      let lastReport = 0;
      for (;;) {
        const recording = await getRecording(pool, recordingId);
        if (recording?.state === 'failed') throw new Error(`sealing failed: ${recording.failureCode}: ${recording.failureDetail}`);
        if (cpuAtStored === undefined) {
          const [segment] = await listSegments(pool, recordingId);
          if (segment && (segment.state === 'stored' || segment.state === 'verified')) cpuAtStored = await processCpuMs(worker.pid!);
        }
        if (recording?.state === 'sealed' && recording.spoolReleasedAt) break;
        if (Date.now() - lastReport > 5000) {
          lastReport = Date.now();
          const [segment] = await listSegments(pool, recordingId);
          context.progress(`${gib} GiB: ${segment?.state ?? 'queued'} after ${((Date.now() - t0) / 1000).toFixed(1)} s, service peak rss ${await processPeakRssMib(worker.pid!)} MiB`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const sealedAt = Date.now();
      const peakRssMib = await processPeakRssMib(worker.pid!);
      const serviceCpuMs = (cpuAtStored ?? (await processCpuMs(worker.pid!))) - cpuAtStart;
      await stopBenchChild(worker);
      const { rows } = await pool.query<{ hashed: Date; stored: Date; verified: Date }>(
        'select hashed_at as hashed, stored_at as stored, verified_at as verified from recording_segments where recording_id = $1',
        [recordingId],
      );
      const hashed = rows[0]!.hashed.getTime();
      const stored = rows[0]!.stored.getTime();
      const verified = rows[0]!.verified.getTime();
      const mib = bytes / MiB;
      const mibps = mib / ((stored - t0) / 1000);
      const result: SizeResult = {
        gib,
        bytes,
        sha256_mibps: Math.round(limit.h),
        aes_gcm_mibps: Math.round(limit.a),
        limit_mibps: Math.round(limit.limit),
        mibps: Math.round(mibps),
        ratio: Number((mibps / limit.limit).toFixed(3)),
        hash_step_mibps: Math.round(mib / ((hashed - t0) / 1000)),
        store_step_mibps: Math.round(mib / ((stored - hashed) / 1000)),
        verify_mibps: Math.round(mib / ((verified - stored) / 1000)),
        end_to_end_mibps: Math.round(mib / ((sealedAt - t0) / 1000)),
        upload_only_mibps: Math.round(uploadOnly),
        service_cpu_ms_per_mib: Number((serviceCpuMs / mib).toFixed(2)),
        limit_cpu_ms_per_mib: Number((1000 / limit.limit).toFixed(2)),
        peak_rss_mib: peakRssMib,
        s3_server_peak_rss_mib: await processPeakRssMib(s3Child.pid!),
      };
      results.push(result);
      context.progress(`${gib} GiB: ${JSON.stringify(result)}`);
      const [segment] = await listSegments(pool, recordingId);
      await s3.send(new DeleteObjectCommand({ Bucket: 'chaperone-recordings', Key: segment!.objectKey! }));
      await rm(join(spoolDir, recordingId), { recursive: true, force: true });
    }
    const worst = results.reduce((a, b) => (b.ratio < a.ratio ? b : a));
    return {
      bench: 'seal',
      mibps: worst.mibps,
      limit_mibps: worst.limit_mibps,
      ratio: worst.ratio,
      peak_rss_mib: Math.max(...results.map((r) => r.peak_rss_mib)),
      mibps_measures: 'plaintext MiB / (enqueue → segment stored: hash pass, then encrypt + multipart upload pass, catalogued)',
      frame_length_bytes: FRAME_LENGTH,
      part_size_bytes: PART_SIZE,
      s3_stand_in_on_tmpfs: tmpfs,
      sizes: results,
    };
  } finally {
    if (worker) await stopBenchChild(worker);
    await flows.close();
    await pool.end();
    s3.destroy();
    kmsClient.destroy();
    await stopBenchChild(s3Child);
    await Promise.all([postgres.stop(), redis.stop(), kms.stop()]);
    await rm(dir, { recursive: true, force: true });
    await rm(s3Dir, { recursive: true, force: true });
  }
}
