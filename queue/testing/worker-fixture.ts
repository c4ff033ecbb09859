import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { KmsKeyRoot } from '../keys/key-root.js';
import { createLogger, silentLogger } from '../logger.js';
import { KmsManifestSigner } from '../manifest-signer.js';
import { ObjectStore } from '../object-store.js';
import { Spool } from '../spool.js';
import { installSignalHandlers, startSealWorkers } from '../workers.js';

/**
 * Sealing workers in a process of their own, for crash tests (SIGKILL, SIGTERM). Wired from the JSON in
 * CHAPERONE_FIXTURE; reports on stdout, one word per line: "ready", "mid-upload", "drained", "exit <code>".
 * The fault is injected in the S3 client (an SDK middleware), not in pipeline code:
 *   hang-after-first-part  the first UploadPart goes through, later ones never return (then SIGKILL);
 *   slow-parts             "mid-upload" when the first UploadPart starts; every part waits 1.5 s (then SIGTERM).
 */

interface FixtureConfig {
  redisUrl: string;
  prefix: string;
  databaseUrl: string;
  spoolDir: string;
  bucket: string;
  s3: ConstructorParameters<typeof S3Client>[0];
  kms: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  rootKeyArn: string;
  signingKeyArn: string;
  lockDurationMs: number;
  /** Workers share a stalled-check rate limit in Redis (the last checker's interval), so tests set it everywhere. */
  stalledIntervalMs: number;
  fault: 'hang-after-first-part' | 'slow-parts';
}

const config = JSON.parse(process.env.CHAPERONE_FIXTURE ?? '{}') as FixtureConfig;
const say = (line: string) => process.stdout.write(`${line}\n`);
const logger = process.env.CHAPERONE_TEST_LOG ? createLogger({ destination: process.stderr as unknown as import('pino').DestinationStream }) : silentLogger;

const s3 = new S3Client({ ...config.s3, maxAttempts: 1 });
let parts = 0;
s3.middlewareStack.add(
  (next, context) => async (args) => {
    if (context.commandName !== 'UploadPartCommand') return next(args);
    parts += 1;
    const part = parts;
    if (config.fault === 'hang-after-first-part') {
      if (part > 1) return new Promise<never>(() => undefined);
      const result = await next(args);
      say('mid-upload');
      return result;
    }
    if (part === 1) say('mid-upload');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    return next(args);
  },
  { step: 'initialize', name: 'crashTestFault' },
);
const kms = new KMSClient(config.kms);
const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 4 });
const services = {
  pool,
  store: new ObjectStore({ client: s3, bucket: config.bucket, partSizeBytes: 5 * 1024 * 1024, queueSize: 2, sseKmsKeyId: undefined, requireSse: false, logger }),
  keyRoot: new KmsKeyRoot(kms, config.rootKeyArn),
  signer: new KmsManifestSigner(kms, config.signingKeyArn),
  spool: new Spool(config.spoolDir),
  logger,
  frameLengthBytes: 1024 * 1024,
};
const workers = startSealWorkers(services, {
  connection: { url: config.redisUrl },
  prefix: config.prefix,
  segmentConcurrency: 1,
  recordingConcurrency: 1,
  lockDurationMs: config.lockDurationMs,
  stalledIntervalMs: config.stalledIntervalMs,
});
installSignalHandlers(workers, logger, (code) => {
  if (code === 0) say('drained');
  say(`exit ${code}`);
  void pool.end().finally(() => process.exit(code));
});
await Promise.all([workers.segment.waitUntilReady(), workers.recording.waitUntilReady()]);
say('ready');
