import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { FlowProducer, Queue } from 'bullmq';
import pg from 'pg';
import { migrate } from '../../db/migrate.js';
import { freePort } from '../../devstack/free-port.js';
import { startKmsDouble, type KmsDouble } from '../../devstack/kms-double/index.js';
import { startPostgresServer, type PostgresServer } from '../../devstack/postgres-server.js';
import { startRedisServer, type RedisServer } from '../../devstack/redis-server.js';
import { startS3Server, type S3Server } from '../../devstack/s3-server.js';
import type { SealEnqueuer } from '../contract.js';
import { SEAL_QUEUES } from '../jobs.js';
import { KmsKeyRoot, type KeyRoot } from '../keys/key-root.js';
import { createLogger, silentLogger, type Logger } from '../logger.js';
import { KmsManifestSigner, type ManifestSigner } from '../manifest-signer.js';
import { ObjectStore } from '../object-store.js';
import type { SealServices } from '../services.js';
import { Spool } from '../spool.js';
import { startSealWorkers, type SealWorkerOptions, type SealWorkers } from '../workers.js';
import type { RetryPolicy } from '../flow.js';

/**
 * Everything the pipeline talks to, started for one test file: PostgreSQL (migrated), Redis (noeviction,
 * AOF), the s3rver launcher, the KMS double with a symmetric key-root key and an Ed25519 signing key. Each
 * on its own port and directory, all stopped by `stop()`. Set CHAPERONE_TEST_LOG=1 to see pipeline logs.
 */
export interface SealTestStack {
  postgres: PostgresServer;
  redis: RedisServer;
  s3: S3Server;
  kms: KmsDouble;
  pool: pg.Pool;
  kmsClient: KMSClient;
  /** ARN of the symmetric KMS key (key root and SSE-KMS). */
  rootKeyArn: string;
  /** ARN of the ECC_NIST_EDWARDS25519 signing key. */
  signingKeyArn: string;
  spoolDir: string;
  bucket: string;
  logger: Logger;
  s3Client(customize?: (client: S3Client) => void): S3Client;
  keyRoot(): KeyRoot;
  signer(): ManifestSigner;
  services(overrides?: Partial<SealServices>): SealServices;
  /** Unique BullMQ prefix per test. */
  prefix(): string;
  enqueuer(prefix: string, retry?: RetryPolicy): SealEnqueuer & { close(): Promise<void> };
  queues(prefix: string): { segment: Queue; recording: Queue; close(): Promise<void> };
  workers(services: SealServices, prefix: string, options?: Partial<SealWorkerOptions>): SealWorkers;
  /**
   * Writes a pipeline configuration file (CHAPERONE_SEAL_CONFIG) for this stack, development mode, for the
   * services and CLI commands a test starts: this stack's spool, Redis, PostgreSQL, s3rver and KMS keys.
   */
  writeSealConfig(file: string, options?: { redisPrefix?: string; logLevel?: string }): Promise<void>;
  stop(): Promise<void>;
}

/** Fast retries for tests: a transient failure is retried within a second or two. */
export const TEST_RETRY: RetryPolicy = { attempts: 40, backoffBaseMs: 200 };

let prefixCounter = 0;

export async function startSealTestStack(): Promise<SealTestStack> {
  const [postgres, redis, s3, kms] = await Promise.all([
    freePort().then((port) => startPostgresServer({ port })),
    freePort().then((port) => startRedisServer({ port })),
    freePort().then((port) => startS3Server({ port })),
    freePort().then((port) => startKmsDouble({ port })),
  ]);
  const pool = new pg.Pool({ connectionString: postgres.url, max: 12 });
  const client = await pool.connect();
  try {
    await migrate(client);
  } finally {
    client.release();
  }
  const kmsClient = new KMSClient({ endpoint: kms.endpoint, region: kms.region, credentials: kms.credentials });
  const root = await kmsClient.send(new CreateKeyCommand({ Description: 'chaperone recordings (test)' }));
  const signing = await kmsClient.send(new CreateKeyCommand({ Description: 'chaperone manifests (test)', KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY' }));
  const spoolDir = await mkdtemp(join(tmpdir(), 'chaperone-spool-'));
  const logger = process.env.CHAPERONE_TEST_LOG ? createLogger({ level: 'info' }) : silentLogger;
  const bucket = s3.buckets[0]!;
  const clients: S3Client[] = [];
  const closers: Array<() => Promise<void>> = [];

  const stack: SealTestStack = {
    postgres,
    redis,
    s3,
    kms,
    pool,
    kmsClient,
    rootKeyArn: root.KeyMetadata!.Arn!,
    signingKeyArn: signing.KeyMetadata!.Arn!,
    spoolDir,
    bucket,
    logger,
    s3Client(customize) {
      const client = new S3Client({ ...s3.clientConfig, maxAttempts: 2 });
      customize?.(client);
      clients.push(client);
      return client;
    },
    keyRoot: () => new KmsKeyRoot(kmsClient, stack.rootKeyArn),
    signer: () => new KmsManifestSigner(kmsClient, stack.signingKeyArn),
    services(overrides = {}) {
      const s3Client = stack.s3Client();
      return {
        pool,
        store: new ObjectStore({ client: s3Client, bucket, partSizeBytes: 5 * 1024 * 1024, queueSize: 2, sseKmsKeyId: stack.rootKeyArn, requireSse: false, logger }),
        keyRoot: stack.keyRoot(),
        signer: stack.signer(),
        spool: new Spool(spoolDir),
        logger,
        frameLengthBytes: 1024 * 1024,
        ...overrides,
      };
    },
    prefix: () => `t${++prefixCounter}${Math.random().toString(36).slice(2, 7)}`,
    enqueuer(prefix, retry = TEST_RETRY) {
      const flows = new FlowProducer({ connection: { url: redis.url }, prefix });
      flows.on('error', () => undefined);
      const close = () => flows.close();
      closers.push(close);
      return { pool, flows, retry, close };
    },
    queues(prefix) {
      const segment = new Queue(SEAL_QUEUES.segment, { connection: { url: redis.url }, prefix });
      const recording = new Queue(SEAL_QUEUES.recording, { connection: { url: redis.url }, prefix });
      segment.on('error', () => undefined);
      recording.on('error', () => undefined);
      const close = async () => {
        await Promise.all([segment.close(), recording.close()]);
      };
      closers.push(close);
      return { segment, recording, close };
    },
    workers(services, prefix, options = {}) {
      const workers = startSealWorkers(services, { connection: { url: redis.url }, prefix, backoffMaxMs: 2000, ...options });
      // At teardown every flow is finished; a forced close does not wait out the blocking poll.
      closers.push(() => workers.abort());
      return workers;
    },
    async writeSealConfig(file, options = {}) {
      await writeFile(
        file,
        JSON.stringify({
          mode: 'development',
          spoolDir,
          redis: { url: redis.url, ...(options.redisPrefix ? { prefix: options.redisPrefix } : {}) },
          database: { url: postgres.url },
          s3: { ...s3.clientConfig, requestChecksumCalculation: undefined, responseChecksumValidation: undefined, checksums: 'when-required', bucket },
          kms: { region: kms.region, endpoint: kms.endpoint, credentials: kms.credentials },
          keyRoot: { kind: 'aws-kms', keyId: stack.rootKeyArn },
          signer: { kind: 'aws-kms', keyId: stack.signingKeyArn },
          ...(options.logLevel ? { log: { level: options.logLevel } } : {}),
        }),
      );
    },
    async stop() {
      await Promise.all(closers.map((close) => close().catch(() => undefined)));
      for (const client of clients) client.destroy();
      kmsClient.destroy();
      await pool.end();
      await Promise.all([postgres.stop(), redis.stop(), s3.stop(), kms.stop()]);
      await rm(spoolDir, { recursive: true, force: true });
    },
  };
  return stack;
}
