// Records lifecycle benchmark: `npm run bench -- lifecycle [--mib=128] [--runs=3] [--recordings=10]`. Seals one
// synthetic track of that size with the pipeline's own steps (KMS double key root and signer, s3rver in this
// process on tmpfs when it fits), then measures:
//
//   export_mibps         median track size / time of a right-of-access export to the recipient's RSA key,
//                        written to a counting sink: read back and checked against the manifest (one full
//                        decrypt + both SHA-256), then decrypted again into the tar inside AES-256-CBC + HMAC.
//   export_limit_mibps   the Encryption SDK decrypt alone over the same ciphertext, in memory.
//   export_ratio         export_mibps / export_limit_mibps (two decrypt passes by design: ≤ 0.5 expected).
//   delete_track_ms      deletion of that track on request: request + audit, key destroyed, object versions
//                        listed and removed, tombstone + audit.
//   sweep_ms_per_recording  one retention pass over `recordings` expired recordings, divided by their number.
//   export_check_ms / export_write_ms  the two passes of one export (medians); load_average: the machine's.
//   s3_get_mibps         one plain GET of the object: s3rver runs in this process, so every export pass
//                        also pays the stand-in's own work on the same thread (S3 would not).
//
// bench/run.ts bundles this file and prints the returned report as the last stdout line.

import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadavg } from 'node:os';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { migrate } from '../db/migrate.js';
import { freePort } from '../devstack/free-port.js';
import { startKmsDouble } from '../devstack/kms-double/index.js';
import { startPostgresServer } from '../devstack/postgres-server.js';
import { startS3Server } from '../devstack/s3-server.js';
import { listSegments } from '../queue/catalog.js';
import { decryptingStream } from '../queue/envelope.js';
import { openDataKey } from '../queue/keys/data-keys.js';
import { KmsKeyRoot } from '../queue/keys/key-root.js';
import { silentLogger } from '../queue/logger.js';
import { KmsManifestSigner } from '../queue/manifest-signer.js';
import { ObjectStore } from '../queue/object-store.js';
import type { SealRecordingRequest } from '../queue/seal-request.js';
import type { SealServices } from '../queue/services.js';
import { spoolRecording } from '../queue/testing/media.js';
import { Spool } from '../queue/spool.js';
import { exportBundle } from '../records/export/export-bundle.js';
import { ManualClock } from '../records/lifecycle/clock.js';
import { deleteOnRequest, type DeletionDeps } from '../records/lifecycle/deletion.js';
import { sweepRetention } from '../records/lifecycle/retention-sweep.js';
import { principalFromToken } from '../records/principal.js';
import { sealSteps } from '../records/testing/seal-directly.js';
import { numberArg } from './support/args.js';
import { writeSyntheticTrack } from './support/synthetic-track.js';
import { s3StandInDirectory } from './support/s3-stand-in.js';

export interface BenchContext {
  readonly repoRoot: string;
  readonly workDir: string;
  readonly args: readonly string[];
  readonly progress: (message: string) => void;
}

export interface LifecycleBenchReport {
  bench: 'lifecycle';
  export_mibps: number;
  export_limit_mibps: number;
  export_ratio: number;
  /** Median time of the read-back check of every segment before the first byte. */
  export_check_ms: number;
  /** Median time of the streaming pass (decrypt again into the encrypted tar). */
  export_write_ms: number;
  /** The object fetched once from s3rver, which runs in this process (its work shares the thread with the export). */
  s3_get_mibps: number;
  /** 1-minute load average at the end: these machines are shared; read the figures against it. */
  load_average: number;
  delete_track_ms: number;
  sweep_ms_per_recording: number;
  bytes: number;
  runs: number;
  recordings: number;
  s3_on_tmpfs: boolean;
}

const MiB = 1024 * 1024;
const run$ = promisify(execFile);


const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;


export async function run(context: BenchContext): Promise<LifecycleBenchReport> {
  const sizeMib = numberArg(context.args, 'mib', 128, 8, 4096);
  const runs = numberArg(context.args, 'runs', 3, 1, 10);
  const recordings = numberArg(context.args, 'recordings', 10, 1, 200);
  const bytes = sizeMib * MiB;
  const dir = join(context.workDir, 'lifecycle');
  await rm(dir, { recursive: true, force: true });
  const { dir: s3Dir, tmpfs } = await s3StandInDirectory(dir, bytes);
  const spoolDir = join(dir, 'spool');
  await mkdir(spoolDir, { recursive: true });

  context.progress(`starting PostgreSQL, the KMS double and s3rver (${tmpfs ? 'tmpfs' : 'disk'})`);
  const [postgres, kms, s3] = await Promise.all([
    freePort().then((port) => startPostgresServer({ port })),
    freePort().then((port) => startKmsDouble({ port })),
    freePort().then((port) => startS3Server({ port, dir: s3Dir })),
  ]);
  const kmsClient = new KMSClient({ endpoint: kms.endpoint, region: kms.region, credentials: kms.credentials });
  const s3Client = new S3Client({ ...s3.clientConfig });
  const pool = new pg.Pool({ connectionString: postgres.url, max: 6 });
  try {
    const client = await pool.connect();
    await migrate(client, join(context.repoRoot, 'db', 'migrations')).finally(() => client.release());
    const root = await kmsClient.send(new CreateKeyCommand({ Description: 'bench root' }));
    const signing = await kmsClient.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY' }));
    const services: SealServices = {
      pool,
      store: new ObjectStore({ client: s3Client, bucket: s3.buckets[0]!, partSizeBytes: 8 * MiB, queueSize: 2, sseKmsKeyId: undefined, requireSse: false, logger: silentLogger }),
      keyRoot: new KmsKeyRoot(kmsClient, root.KeyMetadata!.Arn!),
      signer: new KmsManifestSigner(kmsClient, signing.KeyMetadata!.Arn!),
      spool: new Spool(spoolDir),
      logger: silentLogger,
      frameLengthBytes: MiB,
    };
    const clock = new ManualClock(Date.now());
    const deletion: DeletionDeps = { pool, purge: { s3: s3Client, bucket: s3.buckets[0]!, allowUnlistableVersions: true }, clock, logger: silentLogger };

    const recordingId = `bench-lifecycle-${process.pid}`;
    await mkdir(join(spoolDir, recordingId), { recursive: true, mode: 0o700 });
    context.progress(`writing a ${sizeMib} MiB synthetic track and sealing it`);
    await writeSyntheticTrack(join(spoolDir, recordingId, 't01-video-s01.webm'), bytes);
    const t0 = Date.now() - 3_600_000;
    const track = { kind: 'video' as const, codec: 'vp8' as const, startedAtMs: t0, endedAtMs: t0 + 600_000, framesReceived: 1, framesWritten: 1, decryptFailures: 0, gaps: [] };
    const request: SealRecordingRequest = {
      recordingId,
      roomId: 'room-bench',
      recorderId: 'recorder-bench',
      policy: { policyId: 'policy-bench', policyVersion: 1, purpose: 'medical-record', retentionDays: 30, part2: false },
      consentRefs: [],
      startedAtMs: t0,
      endedAtMs: t0 + 600_000,
      tracks: [{ ...track, trackId: 't01-video', participantId: 'patient-bench', segments: [{ file: 't01-video-s01.webm', startedAtMs: t0, endedAtMs: t0 + 600_000, durationMs: 600_000, framesReceived: 1, framesWritten: 1, gaps: [] }] }],
    };
    await sealSteps(services, request);
    const [segment] = await listSegments(pool, recordingId);

    context.progress('measuring the limit: Encryption SDK decrypt alone, in memory');
    const getStart = performance.now();
    const got = await services.store.getStream(segment!.objectKey!);
    const chunks: Buffer[] = [];
    for await (const chunk of got.body as AsyncIterable<Buffer>) chunks.push(chunk);
    const s3GetMibps = bytes / MiB / ((performance.now() - getStart) / 1000);
    const ciphertext = Buffer.concat(chunks);
    chunks.length = 0;
    const limits: number[] = [];
    for (let i = 0; i < 2; i++) {
      const key = await openDataKey(pool, services.keyRoot, segment!.keyRef!);
      try {
        const start = performance.now();
        const feed = Readable.from((function* () {
          for (let o = 0; o < ciphertext.length; o += MiB) yield ciphertext.subarray(o, o + MiB);
        })());
        await pipeline(feed, decryptingStream(key), new Writable({ write: (_c, _e, cb) => cb() }));
        limits.push(bytes / MiB / ((performance.now() - start) / 1000));
      } finally {
        key.dispose();
      }
    }
    const limitMibps = Math.max(...limits);

    context.progress(`exporting the track ${runs} time(s) to an RSA-3072 recipient key`);
    await run$('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:3072', '-out', join(dir, 'r.pem')]);
    const { stdout: recipientPublicKey } = await run$('openssl', ['pkey', '-in', join(dir, 'r.pem'), '-pubout']);
    const officer = principalFromToken({ subject: 'officer-bench', role: 'records-officer' });
    const exportDeps = { pool, store: services.store, keyRoot: services.keyRoot, trustedSignerKeys: [await services.signer.publicKeySpki()], clock, logger: silentLogger };
    const rates: number[] = [];
    const checkMs: number[] = [];
    const writeMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      const sink = new Writable({ highWaterMark: 4 * MiB, write: (_c, _e, cb) => cb() });
      const start = performance.now();
      let writingAt = start;
      await exportBundle(exportDeps, officer, { recordingId, participantId: 'patient-bench', recipientPublicKey }, sink, (p) => {
        if (p.phase === 'writing') writingAt = performance.now();
      });
      const end = performance.now();
      checkMs.push(writingAt - start);
      writeMs.push(end - writingAt);
      rates.push(bytes / MiB / ((end - start) / 1000));
    }
    const exportMibps = median(rates);

    context.progress('deleting the track on request');
    const deleteStart = performance.now();
    await deleteOnRequest(deletion, officer, { recordingId, trackId: 't01-video', reasonCode: 'records-request', reason: 'benchmark deletion of a synthetic track' });
    const deleteTrackMs = performance.now() - deleteStart;

    context.progress(`sealing ${recordings} small recordings and sweeping them as expired`);
    for (let i = 0; i < recordings; i++) {
      const fixture = await spoolRecording(spoolDir, { videoSegments: 'small', recordingId: `bench-sweep-${process.pid}-${i}` });
      await sealSteps(services, fixture.request);
    }
    clock.set(Date.now() + 40 * 365 * 86_400_000);
    const sweepStart = performance.now();
    const swept = await sweepRetention(deletion);
    const sweepMs = performance.now() - sweepStart;
    if (swept.deleted.length < recordings) throw new Error(`the sweep deleted ${swept.deleted.length} of ${recordings} recordings`);

    return {
      bench: 'lifecycle',
      export_mibps: round(exportMibps),
      export_limit_mibps: round(limitMibps),
      export_ratio: round(exportMibps / limitMibps, 3),
      export_check_ms: round(median(checkMs)),
      export_write_ms: round(median(writeMs)),
      s3_get_mibps: round(s3GetMibps),
      load_average: round(loadavg()[0]!, 2),
      delete_track_ms: round(deleteTrackMs),
      sweep_ms_per_recording: round(sweepMs / swept.deleted.length),
      bytes,
      runs,
      recordings: swept.deleted.length,
      s3_on_tmpfs: tmpfs,
    };
  } finally {
    await pool.end();
    kmsClient.destroy();
    s3Client.destroy();
    await Promise.all([postgres.stop(), kms.stop(), s3.stop()]);
    await rm(s3Dir, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  }
}
