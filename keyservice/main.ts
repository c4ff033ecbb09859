import { readFile } from 'node:fs/promises';
import { KMSClient } from '@aws-sdk/client-kms';
import pg from 'pg';
import { LocalEd25519ExternalSender, type ExternalSenderSigner } from './external-sender.js';
import { BullMqRecorderDispatcher } from './bullmq-recorder-dispatcher.js';
import { startKeyService, type KeyService, type RecordingOptions } from './key-service.js';
import { KmsEd25519ExternalSender } from './kms-external-sender.js';
import { silentLogger, type Logger } from './logger.js';
import { RECORDER_REMOVAL_TIMEOUT_MS } from './recording-gate.js';
import { JanusSfuModeration } from './sfu-moderation.js';
import { createHs256TokenVerifier, createJwtVerifier, MIN_DEV_SECRET_BYTES, type TokenVerifier } from './tokens.js';

/**
 * Start functions for the key service process (the CLI wiring lives with the deployment code). The
 * configuration is read once, checked, and refused with the offending variable named — never repaired.
 *
 *   KEYSERVICE_HOST                      listen address (default 127.0.0.1)
 *   KEYSERVICE_PORT                      listen port (default 8443; 0 = any free port)
 *   KEYSERVICE_COMMIT_TIMEOUT_MS         default 3000
 *
 * Platform tokens — production: the platform's asymmetric JWTs,
 *   KEYSERVICE_TOKEN_JWKS_URL            its JWKS endpoint, or
 *   KEYSERVICE_TOKEN_PUBLIC_KEY_FILE     an SPKI PEM public key, with
 *   KEYSERVICE_TOKEN_ALGORITHMS          e.g. "EdDSA" or "ES256,EdDSA" (never HS*)
 *   KEYSERVICE_TOKEN_ISSUER, KEYSERVICE_TOKEN_AUDIENCE
 * — or development only: KEYSERVICE_DEV_TOKEN_SECRET_FILE (HS256 shared secret, at least 32 bytes).
 *
 * The external sender's signing key (the group's only external sender; it also signs recorder
 * credentials) — at most one of:
 *   KEYSERVICE_EXTERNAL_SENDER_KMS_KEY_ID  an AWS KMS key (ECC_NIST_EDWARDS25519, SIGN_VERIFY): production.
 *                                          Region and credentials from the AWS SDK's usual environment;
 *                                          KEYSERVICE_KMS_ENDPOINT overrides the endpoint (VPC endpoint, tests).
 *   KEYSERVICE_EXTERNAL_SENDER_KEY_FILE    Ed25519 PKCS#8 PEM (the embedded default)
 *   neither                                a fresh in-memory key (development; groups do not survive a restart)
 *
 * Recording (issue 4) — on when KEYSERVICE_DATABASE_URL is set; then also required:
 *   KEYSERVICE_REDIS_URL                 BullMQ (record jobs, stop events)
 *   KEYSERVICE_SFU_ROOMS                 "numeric": a room id of digits is that VideoRoom number (the only
 *                                        mapping so far); other rooms are not recorded
 * and optional:
 *   KEYSERVICE_JANUS_URL                 Janus WebSocket for SFU moderation (drop a recorder whose removal
 *                                        nobody commits); KEYSERVICE_JANUS_ROOM_SECRET_FILE its room secret
 *   KEYSERVICE_RECORDER_REMOVAL_TIMEOUT_MS   default RECORDER_REMOVAL_TIMEOUT_MS
 *   KEYSERVICE_PUBLIC_HTTP_URL, KEYSERVICE_PUBLIC_WS_URL   what recorders are told (default: the listen address)
 */
export interface KeyServiceConfig {
  host: string;
  port: number;
  commitTimeoutMs: number;
  tokens:
    | { kind: 'dev'; secret: Uint8Array }
    | { kind: 'jwt'; jwksUrl?: string; publicKeyPem?: string; algorithms: string[]; issuer: string; audience: string };
  externalSender: { kind: 'kms'; keyId: string; endpoint: string | undefined } | { kind: 'file'; pem: string } | { kind: 'ephemeral' };
  recording:
    | {
        databaseUrl: string;
        redisUrl: string;
        sfuRooms: 'numeric';
        janusUrl: string | undefined;
        janusRoomSecret: string | undefined;
        removalTimeoutMs: number;
        publicUrls: { http: string; ws: string } | undefined;
      }
    | undefined;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

type Env = Record<string, string | undefined>;

const set = (env: Env, name: string): string | undefined => {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
};

async function readConfigFile(variable: string, path: string, encoding?: 'utf8'): Promise<string | Uint8Array> {
  try {
    return encoding === 'utf8' ? await readFile(path, 'utf8') : new Uint8Array(await readFile(path));
  } catch {
    throw new ConfigError(variable, 'cannot be read');
  }
}

function url(variable: string, value: string, protocols: string[]): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(variable, 'must be a URL');
  }
  if (!protocols.includes(parsed.protocol)) throw new ConfigError(variable, `must be a ${protocols.join(' or ')} URL`);
  return value;
}

export async function keyServiceConfigFromEnv(env: Env): Promise<KeyServiceConfig> {
  const host = env.KEYSERVICE_HOST ?? '127.0.0.1';
  const port = parseInteger('KEYSERVICE_PORT', env.KEYSERVICE_PORT ?? '8443', 0, 65535);
  const commitTimeoutMs = parseInteger('KEYSERVICE_COMMIT_TIMEOUT_MS', env.KEYSERVICE_COMMIT_TIMEOUT_MS ?? '3000', 100, 60_000);

  // Tokens: exactly one source.
  const jwks = set(env, 'KEYSERVICE_TOKEN_JWKS_URL');
  const publicKeyFile = set(env, 'KEYSERVICE_TOKEN_PUBLIC_KEY_FILE');
  const secretFile = set(env, 'KEYSERVICE_DEV_TOKEN_SECRET_FILE');
  let tokens: KeyServiceConfig['tokens'];
  if (jwks !== undefined || publicKeyFile !== undefined) {
    if (jwks !== undefined && publicKeyFile !== undefined) throw new ConfigError('KEYSERVICE_TOKEN_PUBLIC_KEY_FILE', 'set either it or KEYSERVICE_TOKEN_JWKS_URL, not both');
    if (secretFile !== undefined) throw new ConfigError('KEYSERVICE_DEV_TOKEN_SECRET_FILE', 'must not be set with production token verification');
    const algorithms = (set(env, 'KEYSERVICE_TOKEN_ALGORITHMS') ?? '').split(',').map((a) => a.trim()).filter((a) => a !== '');
    if (algorithms.length === 0) throw new ConfigError('KEYSERVICE_TOKEN_ALGORITHMS', 'is required (e.g. "EdDSA")');
    if (algorithms.some((a) => !/^(EdDSA|ES256|ES384|ES512|RS256|RS384|RS512|PS256|PS384|PS512)$/.test(a))) {
      throw new ConfigError('KEYSERVICE_TOKEN_ALGORITHMS', 'lists an algorithm that is not an asymmetric JWS algorithm');
    }
    const issuer = set(env, 'KEYSERVICE_TOKEN_ISSUER');
    if (issuer === undefined) throw new ConfigError('KEYSERVICE_TOKEN_ISSUER', 'is required');
    const audience = set(env, 'KEYSERVICE_TOKEN_AUDIENCE');
    if (audience === undefined) throw new ConfigError('KEYSERVICE_TOKEN_AUDIENCE', 'is required');
    tokens = {
      kind: 'jwt',
      algorithms,
      issuer,
      audience,
      ...(jwks === undefined ? {} : { jwksUrl: url('KEYSERVICE_TOKEN_JWKS_URL', jwks, ['https:', 'http:']) }),
      ...(publicKeyFile === undefined ? {} : { publicKeyPem: (await readConfigFile('KEYSERVICE_TOKEN_PUBLIC_KEY_FILE', publicKeyFile, 'utf8')) as string }),
    };
  } else {
    if (secretFile === undefined) {
      throw new ConfigError('KEYSERVICE_TOKEN_JWKS_URL', 'set it (or KEYSERVICE_TOKEN_PUBLIC_KEY_FILE), or KEYSERVICE_DEV_TOKEN_SECRET_FILE for development');
    }
    const secret = (await readConfigFile('KEYSERVICE_DEV_TOKEN_SECRET_FILE', secretFile)) as Uint8Array;
    if (secret.length < MIN_DEV_SECRET_BYTES) throw new ConfigError('KEYSERVICE_DEV_TOKEN_SECRET_FILE', `must hold at least ${MIN_DEV_SECRET_BYTES} bytes`);
    tokens = { kind: 'dev', secret };
  }

  // External sender: at most one source.
  const kmsKeyId = set(env, 'KEYSERVICE_EXTERNAL_SENDER_KMS_KEY_ID');
  const keyFile = set(env, 'KEYSERVICE_EXTERNAL_SENDER_KEY_FILE');
  let externalSender: KeyServiceConfig['externalSender'];
  if (kmsKeyId !== undefined) {
    if (keyFile !== undefined) throw new ConfigError('KEYSERVICE_EXTERNAL_SENDER_KEY_FILE', 'set either it or KEYSERVICE_EXTERNAL_SENDER_KMS_KEY_ID, not both');
    const endpoint = set(env, 'KEYSERVICE_KMS_ENDPOINT');
    externalSender = { kind: 'kms', keyId: kmsKeyId, endpoint: endpoint === undefined ? undefined : url('KEYSERVICE_KMS_ENDPOINT', endpoint, ['https:', 'http:']) };
  } else if (keyFile !== undefined) {
    externalSender = { kind: 'file', pem: (await readConfigFile('KEYSERVICE_EXTERNAL_SENDER_KEY_FILE', keyFile, 'utf8')) as string };
  } else {
    externalSender = { kind: 'ephemeral' };
  }

  // Recording: all of it or none.
  const databaseUrl = set(env, 'KEYSERVICE_DATABASE_URL');
  let recording: KeyServiceConfig['recording'];
  if (databaseUrl === undefined) {
    for (const name of ['KEYSERVICE_REDIS_URL', 'KEYSERVICE_SFU_ROOMS', 'KEYSERVICE_JANUS_URL', 'KEYSERVICE_RECORDER_REMOVAL_TIMEOUT_MS']) {
      if (set(env, name) !== undefined) throw new ConfigError(name, 'is a recording setting: set KEYSERVICE_DATABASE_URL too');
    }
    recording = undefined;
  } else {
    const redisUrl = set(env, 'KEYSERVICE_REDIS_URL');
    if (redisUrl === undefined) throw new ConfigError('KEYSERVICE_REDIS_URL', 'is required when recording is on (KEYSERVICE_DATABASE_URL is set)');
    const sfuRooms = set(env, 'KEYSERVICE_SFU_ROOMS');
    if (sfuRooms !== 'numeric') throw new ConfigError('KEYSERVICE_SFU_ROOMS', 'must be "numeric" (a room id of digits is that VideoRoom number)');
    const janusUrl = set(env, 'KEYSERVICE_JANUS_URL');
    const janusSecretFile = set(env, 'KEYSERVICE_JANUS_ROOM_SECRET_FILE');
    const httpUrl = set(env, 'KEYSERVICE_PUBLIC_HTTP_URL');
    const wsUrl = set(env, 'KEYSERVICE_PUBLIC_WS_URL');
    if ((httpUrl === undefined) !== (wsUrl === undefined)) throw new ConfigError(httpUrl === undefined ? 'KEYSERVICE_PUBLIC_HTTP_URL' : 'KEYSERVICE_PUBLIC_WS_URL', 'set both public URLs or neither');
    recording = {
      databaseUrl: url('KEYSERVICE_DATABASE_URL', databaseUrl, ['postgres:', 'postgresql:']),
      redisUrl: url('KEYSERVICE_REDIS_URL', redisUrl, ['redis:', 'rediss:']),
      sfuRooms,
      janusUrl: janusUrl === undefined ? undefined : url('KEYSERVICE_JANUS_URL', janusUrl, ['ws:', 'wss:']),
      janusRoomSecret: janusSecretFile === undefined ? undefined : ((await readConfigFile('KEYSERVICE_JANUS_ROOM_SECRET_FILE', janusSecretFile, 'utf8')) as string).trim(),
      removalTimeoutMs: parseInteger('KEYSERVICE_RECORDER_REMOVAL_TIMEOUT_MS', env.KEYSERVICE_RECORDER_REMOVAL_TIMEOUT_MS ?? String(RECORDER_REMOVAL_TIMEOUT_MS), 200, 60_000),
      publicUrls:
        httpUrl === undefined || wsUrl === undefined
          ? undefined
          : { http: url('KEYSERVICE_PUBLIC_HTTP_URL', httpUrl, ['https:', 'http:']), ws: url('KEYSERVICE_PUBLIC_WS_URL', wsUrl, ['wss:', 'ws:']) },
    };
  }
  return Object.freeze({ host, port, commitTimeoutMs, tokens, externalSender, recording });
}

/** VideoRoom number of a room id under KEYSERVICE_SFU_ROOMS=numeric. */
export function numericSfuRoom(roomId: string): number | undefined {
  if (!/^[1-9][0-9]{0,14}$/.test(roomId)) return undefined;
  return Number(roomId);
}

export async function startConfiguredKeyService(config: KeyServiceConfig, logger: Logger = silentLogger): Promise<KeyService> {
  let externalSender: ExternalSenderSigner;
  const kmsClients: KMSClient[] = [];
  if (config.externalSender.kind === 'kms') {
    const client = new KMSClient(config.externalSender.endpoint === undefined ? {} : { endpoint: config.externalSender.endpoint });
    kmsClients.push(client);
    try {
      externalSender = await KmsEd25519ExternalSender.create({ client, keyId: config.externalSender.keyId });
    } catch (error) {
      client.destroy();
      throw new ConfigError('KEYSERVICE_EXTERNAL_SENDER_KMS_KEY_ID', (error as Error).message);
    }
  } else if (config.externalSender.kind === 'file') {
    try {
      externalSender = LocalEd25519ExternalSender.fromPkcs8Pem(config.externalSender.pem);
    } catch {
      throw new ConfigError('KEYSERVICE_EXTERNAL_SENDER_KEY_FILE', 'is not an Ed25519 PKCS#8 PEM key');
    }
  } else {
    externalSender = LocalEd25519ExternalSender.generate();
    logger.warn({}, 'external sender key generated in memory');
  }

  let tokens: TokenVerifier;
  if (config.tokens.kind === 'dev') {
    tokens = createHs256TokenVerifier({ secret: config.tokens.secret });
    logger.warn({}, 'development token verifier (HS256 shared secret)');
  } else {
    const { jwksUrl, publicKeyPem, algorithms, issuer, audience } = config.tokens;
    tokens = await createJwtVerifier({
      algorithms,
      issuer,
      audience,
      ...(jwksUrl === undefined ? { publicKey: { spkiPem: publicKeyPem!, algorithm: algorithms[0]! } } : { jwksUrl }),
    });
  }

  let recording: RecordingOptions | undefined;
  let pool: pg.Pool | undefined;
  let dispatcher: BullMqRecorderDispatcher | undefined;
  if (config.recording !== undefined) {
    const settings = config.recording;
    pool = new pg.Pool({ connectionString: settings.databaseUrl, max: 10 });
    const redis = new URL(settings.redisUrl);
    dispatcher = new BullMqRecorderDispatcher({
      connection: {
        host: redis.hostname,
        port: Number(redis.port || 6379),
        ...(redis.password === '' ? {} : { password: decodeURIComponent(redis.password) }),
        ...(redis.protocol === 'rediss:' ? { tls: {} } : {}),
      },
    });
    recording = {
      pool,
      dispatcher,
      sfuRoomFor: numericSfuRoom,
      removalTimeoutMs: settings.removalTimeoutMs,
      ...(settings.janusUrl === undefined
        ? {}
        : { sfu: new JanusSfuModeration({ url: settings.janusUrl, roomFor: numericSfuRoom, ...(settings.janusRoomSecret === undefined ? {} : { secret: settings.janusRoomSecret }) }) }),
    };
  }
  const service = await startKeyService({
    host: config.host,
    port: config.port,
    tokens,
    externalSender,
    commitTimeoutMs: config.commitTimeoutMs,
    logger,
    ...(recording === undefined ? {} : { recording }),
    ...(config.recording?.publicUrls === undefined ? {} : { publicUrls: config.recording.publicUrls }),
  });
  const close = service.close.bind(service);
  return Object.assign(service, {
    async close() {
      await close();
      await dispatcher?.close();
      await pool?.end();
      for (const client of kmsClients) client.destroy();
    },
  });
}

function parseInteger(variable: string, value: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(value)) throw new ConfigError(variable, 'must be an integer');
  const n = Number(value);
  if (n < min || n > max) throw new ConfigError(variable, `must be between ${min} and ${max}`);
  return n;
}
