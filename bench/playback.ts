// Playback benchmark: `npm run bench -- playback [--mib=512] [--runs=3]`. Seals one synthetic track of that
// size with the pipeline's own steps (KMS key root and manifest signer on the KMS double, s3rver in a child
// process on tmpfs), starts the records service from its real entry point (records/main.ts, development
// mode) in a child process of its own, and plays the track through the real HTTP endpoint with curl:
// playback token → session → GET of the whole media, repeated `runs` times.
//
//   ttfb_ms      median time from request to first byte of a full playback (curl time_starttransfer):
//                header checks, key unwrap, the first frames through decryption and both hashes, and the
//                8 MiB hold-back window filled (verified-stream.ts).
//   mibps        median size / total time of a full playback (the whole object decrypted, both SHA-256
//                verified against the signed manifest before the tail is released).
//   limit_mibps  the Encryption SDK decrypt alone over the same ciphertext, in memory, in this process:
//                what playback could reach if S3, hashing and HTTP cost nothing.
//   ratio        median over the runs of (playback MiB/s / decrypt-alone MiB/s), each playback paired with a
//                decrypt-alone pass just before it (so load changes on a shared machine move both).
//   seek_ttfb_ms first byte of `Range: bytes=<half>-`: no ranged decrypt exists, so a seek decrypts (and
//                hashes) from the start — this is the cost of seeking to the middle.
//   s3_get_mibps the same object fetched from the S3 stand-in and dropped: what the stand-in allows.
//   verify_limit_mibps  decrypt plus both SHA-256 (ciphertext and plaintext) in memory, one core: the
//                work every playback must do, without S3 and HTTP.
//   service_cpu_ms_per_mib  CPU time (user + system) of the records service per MiB played, over the full
//                playbacks: its own cost, less sensitive to a busy machine than MiB/s.
//   service_peak_rss_mib  peak resident memory of the records service process (VmHWM) after every playback
//                and the seek: what the chart's memory request for the records service starts from.
//
// bench/run.ts bundles this file and prints the returned report as the last stdout line. The same bundle,
// started with CHAPERONE_BENCH_ROLE=s3-server or =records, is the s3rver child or the records service.

import { execFile, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { KMSClient } from '@aws-sdk/client-kms';
import pg from 'pg';
import { migrate } from '../db/migrate.js';
import { freePort } from '../devstack/free-port.js';
import { startKmsDouble } from '../devstack/kms-double/index.js';
import { startPostgresServer } from '../devstack/postgres-server.js';
import { issueDevToken } from '../keyservice/tokens.js';
import { listSegments } from '../queue/catalog.js';
import { createSealServices, loadSealConfig } from '../queue/config.js';
import { decryptingStream } from '../queue/envelope.js';
import { openDataKey } from '../queue/keys/data-keys.js';
import { silentLogger } from '../queue/logger.js';
import type { SealRecordingRequest } from '../queue/seal-request.js';
import { sealSteps } from '../records/testing/seal-directly.js';
import { numberArg } from './support/args.js';
import { writeBenchSealConfig } from './support/bench-seal-config.js';
import { writeSyntheticTrack } from './support/synthetic-track.js';
import { processCpuMs, processPeakRssMib, startBenchChild, stopBenchChild } from './support/bench-child.js';
import { STREAMING_SERVICE_NODE_FLAGS } from '../queue/node-flags.js';
import { s3StandInDirectory, serveS3StandInIfAsked } from './support/s3-stand-in.js';

export interface BenchContext {
  readonly repoRoot: string;
  readonly workDir: string;
  readonly args: readonly string[];
  readonly progress: (message: string) => void;
}

export interface PlaybackBenchReport {
  bench: 'playback';
  ttfb_ms: number;
  mibps: number;
  limit_mibps: number;
  ratio: number;
  seek_ttfb_ms: number;
  s3_get_mibps: number;
  verify_limit_mibps: number;
  service_cpu_ms_per_mib: number;
  service_peak_rss_mib: number;
  bytes: number;
  runs: number;
  hold_back_mib: number;
  s3_on_tmpfs: boolean;
  mibps_measures: string;
}

const MiB = 1024 * 1024;
const execFileAsync = promisify(execFile);

if (await serveS3StandInIfAsked()) {
  // this process is the s3rver child
} else if (process.env.CHAPERONE_BENCH_ROLE === 'records') {
  // The production entry point, configured by its environment.
  await import('../records/main.js');
}






const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

const BUNDLE = fileURLToPath(import.meta.url);

export async function run(context: BenchContext): Promise<PlaybackBenchReport> {
  const sizeMib = numberArg(context.args, 'mib', 512, 16, 8192);
  const runs = numberArg(context.args, 'runs', 3, 1, 20);
  const bytes = sizeMib * MiB;
  const dir = join(context.workDir, 'playback');
  await rm(dir, { recursive: true, force: true });
  const { dir: s3Dir, tmpfs } = await s3StandInDirectory(dir, bytes);
  const spoolDir = join(dir, 'spool');
  await mkdir(spoolDir, { recursive: true });

  context.progress(`starting PostgreSQL, the KMS double and s3rver (child process, ${tmpfs ? 'tmpfs' : 'disk'})`);
  const s3Port = await freePort();
  const [postgres, kms, s3Child] = await Promise.all([
    freePort().then((port) => startPostgresServer({ port })),
    freePort().then((port) => startKmsDouble({ port })),
    startBenchChild(BUNDLE, 's3-server', { CHAPERONE_BENCH_S3_PORT: String(s3Port), CHAPERONE_BENCH_S3_DIR: s3Dir }, (line) => line === 'ready'),
  ]);
  const kmsClient = new KMSClient({ endpoint: kms.endpoint, region: kms.region, credentials: kms.credentials });
  let records: ChildProcess | undefined;
  let closeServices: (() => Promise<void>) | undefined;
  try {
    const client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    await migrate(client, join(context.repoRoot, 'db', 'migrations')).finally(() => client.end());
    const configFile = join(dir, 'seal-config.json');
    // Redis is not used by the records service or by sealing in-process.
    await writeBenchSealConfig(
      configFile,
      { kmsClient, kms, databaseUrl: postgres.url, redis: { url: 'redis://127.0.0.1:1' }, s3Port, spoolDir },
      { s3: () => ({ partSizeMiB: 8, queueSize: 2 }), extra: { log: { level: 'error' } } },
    );
    const built = await createSealServices(await loadSealConfig({ CHAPERONE_SEAL_CONFIG: configFile }), { logger: silentLogger });
    closeServices = () => built.close();
    const services = built.services;

    const recordingId = `bench-playback-${process.pid}`;
    await mkdir(join(spoolDir, recordingId), { recursive: true, mode: 0o700 });
    context.progress(`writing a ${sizeMib} MiB synthetic track and sealing it (hash, encrypt, upload, verify, sign)`);
    await writeSyntheticTrack(join(spoolDir, recordingId, 't01-video-s01.webm'), bytes);
    const t0 = Date.now() - 3_600_000;
    const request: SealRecordingRequest = {
      recordingId,
      roomId: 'room-bench',
      recorderId: 'recorder-bench',
      policy: { policyId: 'policy-bench', policyVersion: 1, purpose: 'medical-record', retentionDays: 30, part2: false },
      consentRefs: ['consent-bench'],
      startedAtMs: t0,
      endedAtMs: t0 + 600_000,
      tracks: [
        {
          trackId: 't01-video',
          participantId: 'patient-bench',
          kind: 'video',
          codec: 'vp8',
          startedAtMs: t0,
          endedAtMs: t0 + 600_000,
          framesReceived: 18_000,
          framesWritten: 18_000,
          decryptFailures: 0,
          gaps: [],
          segments: [{ file: 't01-video-s01.webm', startedAtMs: t0, endedAtMs: t0 + 600_000, durationMs: 600_000, framesReceived: 18_000, framesWritten: 18_000, gaps: [] }],
        },
      ],
    };
    await sealSteps(services, request);
    const [segment] = await listSegments(services.pool, recordingId);

    context.progress('measuring the limit: Encryption SDK decrypt alone of the same object, in memory');
    const got = await services.store.getStream(segment!.objectKey!);
    const s3Start = performance.now();
    const chunks: Buffer[] = [];
    for await (const chunk of got.body as AsyncIterable<Buffer>) chunks.push(chunk);
    const s3GetMibps = bytes / MiB / ((performance.now() - s3Start) / 1000);
    const ciphertext = Buffer.concat(chunks);
    chunks.length = 0;
    /** One pass of the Encryption SDK decrypt alone over the ciphertext in memory, MiB/s. */
    const decryptAlone = async (): Promise<number> => {
      // A fresh key object per pass, as each playback opens its own.
      const key = await openDataKey(services.pool, services.keyRoot, segment!.keyRef!);
      try {
        const start = performance.now();
        const feed = Readable.from((function* () {
          for (let offset = 0; offset < ciphertext.length; offset += MiB) yield ciphertext.subarray(offset, offset + MiB);
        })());
        await pipeline(feed, decryptingStream(key), new Writable({ write: (_c, _e, cb) => cb() }));
        return bytes / MiB / ((performance.now() - start) / 1000);
      } finally {
        key.dispose();
      }
    };
    let verifyLimitMibps = 0;
    {
      const key = await openDataKey(services.pool, services.keyRoot, segment!.keyRef!);
      try {
        const start = performance.now();
        const cipherHash = createHash('sha256');
        const plainHash = createHash('sha256');
        const feed = Readable.from((function* () {
          for (let offset = 0; offset < ciphertext.length; offset += MiB) {
            const chunk = ciphertext.subarray(offset, offset + MiB);
            cipherHash.update(chunk);
            yield chunk;
          }
        })());
        await pipeline(feed, decryptingStream(key), new Writable({ write: (c: Buffer, _e, cb) => (plainHash.update(c), cb()) }));
        if (plainHash.digest('hex') !== segment!.plaintextSha256 || cipherHash.digest('hex') !== segment!.ciphertextSha256) throw new Error('the in-memory pass does not reproduce the sealed hashes');
        verifyLimitMibps = bytes / MiB / ((performance.now() - start) / 1000);
      } finally {
        key.dispose();
      }
    }
    // Sanity: GetObject returned what was sealed.
    if (ciphertext.length !== segment!.ciphertextBytes) throw new Error('the stored object has another size than sealed');

    context.progress('starting the records service (records/main.ts) in a child process');
    const secretFile = join(dir, 'dev-token-secret');
    const secret = randomBytes(32);
    await writeFile(secretFile, secret, { mode: 0o600 });
    const port = await freePort();
    records = await startBenchChild(
      BUNDLE,
      'records',
      { CHAPERONE_SEAL_CONFIG: configFile, CHAPERONE_RECORDS_DEV_TOKEN_SECRET_FILE: secretFile, CHAPERONE_RECORDS_PORT: String(port), CHAPERONE_RECORDS_WORK_DIR: join(dir, 'work'), CHAPERONE_RECORDS_INSECURE_COOKIES: 'true', CHAPERONE_OPS_PORT: '0' },
      (line) => line.includes('records service ready'),
      // As deploy/entrypoint.sh starts it.
      STREAMING_SERVICE_NODE_FLAGS,
    );
    const base = `http://127.0.0.1:${port}`;
    const bearer = `Bearer ${await issueDevToken(secret, { sub: 'ro-bench', role: 'records-officer' }, { audience: 'chaperone-records' })}`;
    const issued = await fetch(`${base}/v1/recordings/${recordingId}/tracks/t01-video/segments/1/playback-tokens`, { method: 'POST', headers: { authorization: bearer } });
    if (issued.status !== 201) throw new Error(`playback token refused: ${issued.status} ${await issued.text()}`);
    const { token } = (await issued.json()) as { token: string };
    const opened = await fetch(`${base}/v1/playback/sessions`, { method: 'POST', headers: { authorization: bearer, 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
    if (opened.status !== 201) throw new Error(`playback session refused: ${opened.status} ${await opened.text()}`);
    const session = (await opened.json()) as { url: string; secret: string };
    const headerFile = join(dir, 'secret-header');
    await writeFile(headerFile, `x-chaperone-playback-secret: ${session.secret}\n`, { mode: 0o600 });
    const curl = async (extra: string[]) => {
      const { stdout } = await execFileAsync('curl', ['-s', '-o', '/dev/null', '-H', `@${headerFile}`, ...extra, '-w', '%{http_code} %{time_starttransfer} %{time_total} %{size_download}', `${base}${session.url}`]);
      const [code, ttfb, total, size] = stdout.trim().split(' ');
      return { code: Number(code), ttfbMs: Number(ttfb) * 1000, totalMs: Number(total) * 1000, size: Number(size) };
    };
    // Each playback is paired with a limit pass right before it, so a machine whose load changes during
    // the run (shared CI) moves both; the ratio is the median of the pairs' ratios.
    const ttfbs: number[] = [];
    const rates: number[] = [];
    const limits: number[] = [];
    const ratios: number[] = [];
    let serviceCpuMs = 0;
    for (let i = 0; i < runs; i++) {
      limits.push(await decryptAlone());
      const cpuBefore = await processCpuMs(records.pid!);
      const result = await curl([]);
      serviceCpuMs += (await processCpuMs(records.pid!)) - cpuBefore;
      if (result.code !== 200 || result.size !== bytes) throw new Error(`playback ${i + 1}: HTTP ${result.code}, ${result.size} of ${bytes} bytes`);
      ttfbs.push(result.ttfbMs);
      rates.push(bytes / MiB / (result.totalMs / 1000));
      ratios.push(rates[i]! / limits[i]!);
      context.progress(`run ${i + 1}/${runs}: decrypt alone ${round(limits[i]!)} MiB/s; playback first byte ${round(result.ttfbMs)} ms, ${round(rates[i]!)} MiB/s`);
    }
    const serviceCpuMsPerMib = serviceCpuMs;
    const seek = await curl(['-H', `Range: bytes=${Math.floor(bytes / 2)}-`]);
    if (seek.code !== 206 || seek.size !== bytes - Math.floor(bytes / 2)) throw new Error(`seek: HTTP ${seek.code}, ${seek.size} bytes`);
    const serviceRssMib = await processPeakRssMib(records.pid!);
    const mibps = median(rates);
    return {
      bench: 'playback',
      ttfb_ms: round(median(ttfbs)),
      mibps: round(mibps),
      limit_mibps: round(median(limits)),
      ratio: round(median(ratios), 3),
      seek_ttfb_ms: round(seek.ttfbMs),
      s3_get_mibps: round(s3GetMibps),
      verify_limit_mibps: round(verifyLimitMibps),
      service_cpu_ms_per_mib: round(serviceCpuMsPerMib / ((runs * bytes) / MiB), 2),
      service_peak_rss_mib: round(serviceRssMib),
      bytes,
      runs,
      hold_back_mib: 8,
      s3_on_tmpfs: tmpfs,
      mibps_measures: 'size / curl time_total of a full GET of the media URL: S3 read, ESDK decrypt, ciphertext and plaintext SHA-256 checked against the signed manifest, HTTP to curl',
    };
  } finally {
    await stopBenchChild(records);
    await closeServices?.();
    kmsClient.destroy();
    await stopBenchChild(s3Child);
    await Promise.all([postgres.stop(), kms.stop()]);
    await rm(s3Dir, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  }
}
