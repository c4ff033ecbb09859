import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { DEFAULT_FRAME_LENGTH } from './envelope.js';
import { ConfigError } from './errors.js';
import { ENVIRONMENT_VARIABLE, environmentOf, isLocalEndpoint, readJsonConfigFile, refuseDevelopmentDataStores, type Environment } from '../ops/config-source.js';
import { KmsKeyRoot, LocalRawAesKeyRoot, type KeyRoot } from './keys/key-root.js';
import { createLogger, type Logger } from './logger.js';
import { KmsManifestSigner, LocalEd25519ManifestSigner, type ManifestSigner } from './manifest-signer.js';
import { ObjectStore } from './object-store.js';
import type { SealServices } from './services.js';
import { Spool } from './spool.js';
import type { SealWorkerOptions } from './workers.js';

/**
 * The pipeline service's configuration: one JSON document, validated once at start (unknown keys and bad
 * values refused with the field named), then frozen. Nothing is repaired silently. In `production` mode
 * the development shortcuts are refused outright: the local raw-AES key root, the local manifest signing
 * key, static credentials, plain-HTTP or loopback endpoints (s3rver, the KMS double), relaxed S3
 * checksums, uploads without confirmed SSE-KMS, plaintext Redis (redis://) and PostgreSQL without
 * sslmode=require/verify-*. CHAPERONE_ENV=production forces production mode (a development file is refused).
 */

export type Mode = 'development' | 'production';

export interface AwsEndpointConfig {
  region: string;
  /** Only to point at a local double/emulator; production uses the regional AWS endpoint. */
  endpoint?: string;
  /** Development only; production uses the SDK's default credential chain (role, environment). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export interface SealConfig {
  mode: Mode;
  spoolDir: string;
  redis: { url: string; prefix: string };
  database: { url: string };
  s3: AwsEndpointConfig & {
    bucket: string;
    forcePathStyle: boolean;
    /** 'when-required' only for servers that store aws-chunked framing (s3rver). */
    checksums: 'when-supported' | 'when-required';
    partSizeMiB: number;
    queueSize: number;
    sseKmsKeyId?: string;
    requireSse: boolean;
  };
  kms?: AwsEndpointConfig;
  keyRoot: { kind: 'aws-kms'; keyId: string } | { kind: 'local-raw-aes'; keyFile: string };
  signer: { kind: 'aws-kms'; keyId: string } | { kind: 'local-ed25519'; keyFile: string };
  worker: { segmentConcurrency: number; recordingConcurrency: number; lockDurationMs: number; stalledIntervalMs: number; maxStalledCount: number; backoffMaxMs: number };
  encryption: { frameLengthBytes: number };
  log: { level: 'debug' | 'info' | 'warn' | 'error' | 'silent' };
}

type Obj = Record<string, unknown>;

// The messages below say what the value must be; the fix is to correct it in the file.
const invalid = (field: string, message: string) => new ConfigError(field, message, 'correct it in the pipeline configuration (CHAPERONE_SEAL_CONFIG)');
const refused = (field: string, message: string) => new ConfigError(field, 'is a development default, refused in production', message, 'CHAP_CONFIG_REFUSED_IN_PRODUCTION');

function obj(value: unknown, field: string, keys: readonly string[]): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(field, 'must be an object');
  for (const key of Object.keys(value)) if (!keys.includes(key)) throw invalid(`${field}.${key}`, `unknown key (known: ${keys.join(', ')})`);
  return value as Obj;
}

function str(o: Obj, field: string, path: string, pattern?: RegExp, what = 'a non-empty string'): string {
  const v = o[field];
  if (typeof v !== 'string' || v.length === 0 || (pattern && !pattern.test(v))) throw invalid(`${path}.${field}`.replace(/^\./, ''), `must be ${what}`);
  return v;
}

function optStr(o: Obj, field: string, path: string, pattern?: RegExp, what?: string): string | undefined {
  return o[field] === undefined ? undefined : str(o, field, path, pattern, what);
}

function int(o: Obj, field: string, path: string, fallback: number, min: number, max: number): number {
  const v = o[field] ?? fallback;
  if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) throw invalid(`${path}.${field}`, `must be an integer from ${min} to ${max}`);
  return v as number;
}

function bool(o: Obj, field: string, path: string, fallback: boolean): boolean {
  const v = o[field] ?? fallback;
  if (typeof v !== 'boolean') throw invalid(`${path}.${field}`, 'must be true or false');
  return v;
}

const URL_PATTERN = /^https?:\/\/[^\s]+$/;
const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d$/;

function aws(o: Obj, path: string): AwsEndpointConfig {
  const out: AwsEndpointConfig = { region: str(o, 'region', path, REGION_PATTERN, 'an AWS region such as eu-west-1') };
  const endpoint = optStr(o, 'endpoint', path, URL_PATTERN, 'an http(s) URL');
  if (endpoint) out.endpoint = endpoint;
  if (o.credentials !== undefined) {
    const c = obj(o.credentials, `${path}.credentials`, ['accessKeyId', 'secretAccessKey']);
    out.credentials = { accessKeyId: str(c, 'accessKeyId', `${path}.credentials`), secretAccessKey: str(c, 'secretAccessKey', `${path}.credentials`) };
  }
  return out;
}

/**
 * `environment` is CHAPERONE_ENV: under "production" the file must be in production mode too (or name no
 * mode, which then means production), so a development file cannot slip into a production deployment.
 */
export function parseSealConfig(value: unknown, options: { environment?: Environment } = {}): Readonly<SealConfig> {
  const root = obj(value, 'config', ['mode', 'spoolDir', 'redis', 'database', 's3', 'kms', 'keyRoot', 'signer', 'worker', 'encryption', 'log']);
  const mode = root.mode ?? (options.environment === 'production' ? 'production' : 'development');
  if (mode !== 'development' && mode !== 'production') throw invalid('mode', 'must be "development" or "production"');
  if (options.environment === 'production' && mode !== 'production') {
    throw refused('mode', 'CHAPERONE_ENV=production runs the pipeline in production mode only: set "mode": "production" (or remove "mode")');
  }
  const redis = obj(root.redis, 'redis', ['url', 'prefix']);
  const database = obj(root.database, 'database', ['url']);
  const s3 = obj(root.s3, 's3', ['bucket', 'region', 'endpoint', 'credentials', 'forcePathStyle', 'checksums', 'partSizeMiB', 'queueSize', 'sseKmsKeyId', 'requireSse']);
  const keyRoot = obj(root.keyRoot, 'keyRoot', ['kind', 'keyId', 'keyFile']);
  const signer = obj(root.signer, 'signer', ['kind', 'keyId', 'keyFile']);
  const worker = obj(root.worker ?? {}, 'worker', ['segmentConcurrency', 'recordingConcurrency', 'lockDurationMs', 'stalledIntervalMs', 'maxStalledCount', 'backoffMaxMs']);
  const encryption = obj(root.encryption ?? {}, 'encryption', ['frameLengthBytes']);
  const log = obj(root.log ?? {}, 'log', ['level']);

  const checksums = s3.checksums ?? 'when-supported';
  if (checksums !== 'when-supported' && checksums !== 'when-required') throw invalid('s3.checksums', 'must be "when-supported" or "when-required"');
  const config: SealConfig = {
    mode,
    spoolDir: str(root, 'spoolDir', '', /^\//, 'an absolute path'),
    redis: { url: str(redis, 'url', 'redis', /^rediss?:\/\//, 'a redis:// or rediss:// URL'), prefix: (optStr(redis, 'prefix', 'redis', /^[a-z][a-z0-9-]{0,31}$/, 'a lowercase prefix') ?? 'chaperone') },
    database: { url: str(database, 'url', 'database', /^postgres(ql)?:\/\//, 'a postgres:// URL') },
    s3: {
      ...aws(s3, 's3'),
      bucket: str(s3, 'bucket', 's3', /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name'),
      forcePathStyle: bool(s3, 'forcePathStyle', 's3', false),
      checksums,
      partSizeMiB: int(s3, 'partSizeMiB', 's3', 8, 5, 512),
      queueSize: int(s3, 'queueSize', 's3', 2, 1, 16),
      requireSse: bool(s3, 'requireSse', 's3', mode === 'production'),
    },
    keyRoot:
      keyRoot.kind === 'aws-kms'
        ? { kind: 'aws-kms', keyId: str(keyRoot, 'keyId', 'keyRoot', /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/.+$/, 'the full ARN of a symmetric KMS key') }
        : keyRoot.kind === 'local-raw-aes'
          ? { kind: 'local-raw-aes', keyFile: str(keyRoot, 'keyFile', 'keyRoot', /^\//, 'an absolute path') }
          : (() => {
              throw invalid('keyRoot.kind', 'must be "aws-kms" or "local-raw-aes"');
            })(),
    signer:
      signer.kind === 'aws-kms'
        ? { kind: 'aws-kms', keyId: str(signer, 'keyId', 'signer', /^(arn:aws[a-z-]*:kms:.+|alias\/.+|[0-9a-f-]{36})$/, 'a KMS key id, ARN or alias of an asymmetric SIGN_VERIFY key') }
        : signer.kind === 'local-ed25519'
          ? { kind: 'local-ed25519', keyFile: str(signer, 'keyFile', 'signer', /^\//, 'an absolute path') }
          : (() => {
              throw invalid('signer.kind', 'must be "aws-kms" or "local-ed25519"');
            })(),
    worker: {
      segmentConcurrency: int(worker, 'segmentConcurrency', 'worker', 2, 1, 64),
      recordingConcurrency: int(worker, 'recordingConcurrency', 'worker', 2, 1, 64),
      lockDurationMs: int(worker, 'lockDurationMs', 'worker', 30_000, 1000, 600_000),
      stalledIntervalMs: int(worker, 'stalledIntervalMs', 'worker', 30_000, 500, 600_000),
      maxStalledCount: int(worker, 'maxStalledCount', 'worker', 2, 1, 10),
      backoffMaxMs: int(worker, 'backoffMaxMs', 'worker', 300_000, 100, 3_600_000),
    },
    encryption: { frameLengthBytes: int(encryption, 'frameLengthBytes', 'encryption', DEFAULT_FRAME_LENGTH, 4096, 4 * 1024 * 1024) },
    log: { level: (log.level ?? 'info') as SealConfig['log']['level'] },
  };
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(config.log.level)) throw invalid('log.level', 'must be debug, info, warn, error or silent');
  const sse = optStr(s3, 'sseKmsKeyId', 's3', /^(arn:aws[a-z-]*:kms:.+|alias\/.+|[0-9a-f-]{36})$/, 'a KMS key id, ARN or alias');
  if (sse) config.s3.sseKmsKeyId = sse;
  if (root.kms !== undefined) config.kms = aws(obj(root.kms, 'kms', ['region', 'endpoint', 'credentials']), 'kms');
  if ((config.keyRoot.kind === 'aws-kms' || config.signer.kind === 'aws-kms') && !config.kms) throw invalid('kms', 'is required when keyRoot or signer uses aws-kms');
  if (config.s3.requireSse && !config.s3.sseKmsKeyId) throw invalid('s3.sseKmsKeyId', 'is required when s3.requireSse is true');

  if (mode === 'production') {
    if (config.keyRoot.kind === 'local-raw-aes') {
      throw refused('keyRoot.kind', 'the local raw-AES key root keeps the root key in this process; production requires a customer-managed KMS key (keyRoot: {kind: "aws-kms", keyId: <key ARN>})');
    }
    if (config.signer.kind === 'local-ed25519') throw refused('signer.kind', 'production manifests are signed by an asymmetric KMS key (signer: {kind: "aws-kms", keyId})');
    if (!config.s3.requireSse) throw refused('s3.requireSse', 'production requires S3 to confirm SSE-KMS on every upload (set true, with s3.sseKmsKeyId)');
    if (config.s3.checksums !== 'when-supported') throw refused('s3.checksums', 'production keeps S3 integrity checksums on ("when-supported")');
    for (const [field, endpoint] of [['s3.endpoint', config.s3.endpoint], ['kms.endpoint', config.kms?.endpoint]] as const) {
      if (endpoint && !endpoint.startsWith('https://')) throw refused(field, 'must be https in production');
      // s3rver, the KMS double and other stand-ins listen on loopback; production uses AWS (or a VPC endpoint).
      if (endpoint && isLocalEndpoint(endpoint)) throw refused(field, 'a loopback endpoint is a local stand-in (s3rver, a KMS double): remove it (the regional AWS endpoint) or set your VPC endpoint');
    }
    try {
      refuseDevelopmentDataStores({ redis: ['redis.url', config.redis.url], postgres: ['database.url', config.database.url] });
    } catch (error) {
      if (error instanceof ConfigError) throw refused(error.field, error.fix);
      throw error;
    }
    if (config.s3.credentials || config.kms?.credentials) throw refused(config.s3.credentials ? 's3.credentials' : 'kms.credentials', 'static credentials are for development; production uses the default credential chain (IAM role)');
  }
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Reads the JSON configuration named by CHAPERONE_SEAL_CONFIG, under CHAPERONE_ENV (ops/config-source.ts). */
export async function loadSealConfig(env: NodeJS.ProcessEnv = process.env): Promise<Readonly<SealConfig>> {
  const environment = environmentOf(env[ENVIRONMENT_VARIABLE]);
  const path = env.CHAPERONE_SEAL_CONFIG;
  if (!path) throw new ConfigError('CHAPERONE_SEAL_CONFIG', 'is not set', 'set it to the pipeline configuration file (JSON)');
  return parseSealConfig(readJsonConfigFile('CHAPERONE_SEAL_CONFIG', path), { environment });
}

/** Development key files are created on first use (0600); production never reads local key files. */
async function devKeyFile(path: string, create: () => string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const content = create();
    await writeFile(path, content, { mode: 0o600, flag: 'wx' }).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    return readFile(path, 'utf8');
  }
}

export interface BuiltServices {
  services: SealServices;
  workerOptions: SealWorkerOptions;
  s3: S3Client;
  kms: KMSClient | undefined;
  close(): Promise<void>;
}

export async function createSealServices(config: Readonly<SealConfig>, options: { logger?: Logger } = {}): Promise<BuiltServices> {
  const logger = options.logger ?? createLogger({ level: config.log.level });
  const kms = config.kms
    ? new KMSClient({ region: config.kms.region, ...(config.kms.endpoint ? { endpoint: config.kms.endpoint } : {}), ...(config.kms.credentials ? { credentials: { ...config.kms.credentials } } : {}) })
    : undefined;
  const checksum = config.s3.checksums === 'when-required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
  const s3 = new S3Client({
    region: config.s3.region,
    forcePathStyle: config.s3.forcePathStyle,
    requestChecksumCalculation: checksum,
    responseChecksumValidation: checksum,
    ...(config.s3.endpoint ? { endpoint: config.s3.endpoint } : {}),
    // Copies: the SDK writes into the credentials object, and the configuration is frozen.
    ...(config.s3.credentials ? { credentials: { ...config.s3.credentials } } : {}),
  });
  let keyRoot: KeyRoot;
  if (config.keyRoot.kind === 'aws-kms') {
    keyRoot = new KmsKeyRoot(kms!, config.keyRoot.keyId);
  } else {
    const hex = (await devKeyFile(config.keyRoot.keyFile, () => `${randomBytes(32).toString('hex')}\n`)).trim();
    if (!/^[0-9a-f]{64}$/.test(hex)) throw invalid('keyRoot.keyFile', 'must hold 64 hex digits (a 256-bit key)');
    keyRoot = new LocalRawAesKeyRoot(Buffer.from(hex, 'hex'));
    logger.warn({ keyRoot: keyRoot.keyId }, 'development key root (local raw AES): not for production');
  }
  let signer: ManifestSigner;
  if (config.signer.kind === 'aws-kms') {
    signer = new KmsManifestSigner(kms!, config.signer.keyId);
  } else {
    signer = LocalEd25519ManifestSigner.fromPkcs8Pem(await devKeyFile(config.signer.keyFile, () => LocalEd25519ManifestSigner.generate().toPkcs8Pem()));
    logger.warn({ signer: await signer.keyId() }, 'development manifest signer (local Ed25519): not for production');
  }
  const pool = new pg.Pool({ connectionString: config.database.url, max: config.worker.segmentConcurrency + config.worker.recordingConcurrency + 2 });
  pool.on('error', (error) => logger.warn({ error: error.message }, 'idle database connection failed'));
  const store = new ObjectStore({
    client: s3,
    bucket: config.s3.bucket,
    partSizeBytes: config.s3.partSizeMiB * 1024 * 1024,
    queueSize: config.s3.queueSize,
    sseKmsKeyId: config.s3.sseKmsKeyId,
    requireSse: config.s3.requireSse,
    logger,
  });
  const services: SealServices = { pool, store, keyRoot, signer, spool: new Spool(config.spoolDir), logger, frameLengthBytes: config.encryption.frameLengthBytes };
  return {
    services,
    s3,
    kms,
    workerOptions: {
      connection: { url: config.redis.url },
      prefix: config.redis.prefix,
      segmentConcurrency: config.worker.segmentConcurrency,
      recordingConcurrency: config.worker.recordingConcurrency,
      lockDurationMs: config.worker.lockDurationMs,
      stalledIntervalMs: config.worker.stalledIntervalMs,
      maxStalledCount: config.worker.maxStalledCount,
      backoffMaxMs: config.worker.backoffMaxMs,
    },
    async close() {
      await pool.end();
      s3.destroy();
      kms?.destroy();
    },
  };
}
