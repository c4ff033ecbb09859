import { KMSClient } from '@aws-sdk/client-kms';
import pg from 'pg';
import { Gauge } from 'prom-client';
import { LocalEd25519ExternalSender, type ExternalSenderSigner } from './external-sender.js';
import { BullMqRecorderDispatcher } from './bullmq-recorder-dispatcher.js';
import { startKeyService, type KeyService, type RecordingOptions } from './key-service.js';
import { KmsEd25519ExternalSender } from './kms-external-sender.js';
import { silentLogger, type Logger } from './logger.js';
import { RECORDER_REMOVAL_TIMEOUT_MS } from './recording-gate.js';
import { JanusSfuModeration } from './sfu-moderation.js';
import { ConfigError, ConfigSource, isLocalEndpoint, OPS_SETTINGS, opsListenerConfig, refuseDevelopmentDataStores, refusedInProduction, type Environment, type OpsListenerConfig } from '../ops/config-source.js';
import { createMetricsRegistry } from '../ops/metrics.js';
import { postgresReadiness, startOpsServer, type ReadinessCheck } from '../ops/ops-server.js';
import { createHs256TokenVerifier, createJwtVerifier, MIN_DEV_SECRET_BYTES, type TokenVerifier } from './tokens.js';

/**
 * Start functions for the key service process (the CLI wiring lives with the deployment code). The
 * configuration is read once — from the environment, or the JSON file named by CHAPERONE_CONFIG_FILE with
 * the same names (ops/config-source.ts) — checked, and refused with the offending setting and the fix
 * named: never repaired. An unknown KEYSERVICE_* name is refused. CHAPERONE_ENV=production refuses the
 * development defaults: the HS256 development token issuer, a local or in-memory external-sender key, a
 * plain-http or loopback KMS endpoint or JWKS URL, plaintext Redis (redis://) and PostgreSQL without
 * sslmode=require/verify-*.
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
 *
 * Operations: CHAPERONE_OPS_HOST, CHAPERONE_OPS_PORT (default 127.0.0.1:9464) — /metrics, /healthz, /readyz.
 */
export interface KeyServiceConfig {
  environment: Environment;
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
  ops: OpsListenerConfig;
}

export { ConfigError };

/** Every setting the key service reads (CHAPERONE_CONFIG_FILE may hold them too, same names). */
export const KEYSERVICE_SETTINGS = [
  'KEYSERVICE_HOST',
  'KEYSERVICE_PORT',
  'KEYSERVICE_COMMIT_TIMEOUT_MS',
  'KEYSERVICE_TOKEN_JWKS_URL',
  'KEYSERVICE_TOKEN_PUBLIC_KEY_FILE',
  'KEYSERVICE_TOKEN_ALGORITHMS',
  'KEYSERVICE_TOKEN_ISSUER',
  'KEYSERVICE_TOKEN_AUDIENCE',
  'KEYSERVICE_DEV_TOKEN_SECRET_FILE',
  'KEYSERVICE_EXTERNAL_SENDER_KMS_KEY_ID',
  'KEYSERVICE_EXTERNAL_SENDER_KEY_FILE',
  'KEYSERVICE_KMS_ENDPOINT',
  'KEYSERVICE_DATABASE_URL',
  'KEYSERVICE_REDIS_URL',
  'KEYSERVICE_SFU_ROOMS',
  'KEYSERVICE_JANUS_URL',
  'KEYSERVICE_JANUS_ROOM_SECRET_FILE',
  'KEYSERVICE_RECORDER_REMOVAL_TIMEOUT_MS',
  'KEYSERVICE_PUBLIC_HTTP_URL',
  'KEYSERVICE_PUBLIC_WS_URL',
  ...OPS_SETTINGS,
] as const;

type Env = Record<string, string | undefined>;

const ASYMMETRIC_JWS = /^(EdDSA|ES256|ES384|ES512|RS256|RS384|RS512|PS256|PS384|PS512)$/;

export async function keyServiceConfigFromEnv(env: Env): Promise<KeyServiceConfig> {
  const source = ConfigSource.load(env, { known: KEYSERVICE_SETTINGS, prefixes: ['KEYSERVICE_'] });
  const production = source.production;
  const host = source.string('KEYSERVICE_HOST', { pattern: /^[A-Za-z0-9.:-]+$/, what: 'a listen address such as 0.0.0.0', default: '127.0.0.1' })!;
  const port = source.integer('KEYSERVICE_PORT', { default: 8443, min: 0, max: 65535 });
  const commitTimeoutMs = source.integer('KEYSERVICE_COMMIT_TIMEOUT_MS', { default: 3000, min: 100, max: 60_000 });

  // Tokens: exactly one source.
  const jwks = source.get('KEYSERVICE_TOKEN_JWKS_URL');
  const publicKeyFile = source.get('KEYSERVICE_TOKEN_PUBLIC_KEY_FILE');
  const secretFile = source.get('KEYSERVICE_DEV_TOKEN_SECRET_FILE');
  let tokens: KeyServiceConfig['tokens'];
  if (jwks !== undefined || publicKeyFile !== undefined) {
    if (jwks !== undefined && publicKeyFile !== undefined) throw new ConfigError('KEYSERVICE_TOKEN_PUBLIC_KEY_FILE', 'is set together with KEYSERVICE_TOKEN_JWKS_URL', 'set one of the two');
    if (secretFile !== undefined) throw new ConfigError('KEYSERVICE_DEV_TOKEN_SECRET_FILE', 'is set together with production token verification', 'unset it');
    const algorithms = (source.get('KEYSERVICE_TOKEN_ALGORITHMS') ?? '').split(',').map((a) => a.trim()).filter((a) => a !== '');
    if (algorithms.length === 0) throw new ConfigError('KEYSERVICE_TOKEN_ALGORITHMS', 'is not set', 'set the platform\'s JWS algorithms, e.g. "EdDSA" or "ES256,EdDSA"');
    if (algorithms.some((a) => !ASYMMETRIC_JWS.test(a))) {
      throw new ConfigError('KEYSERVICE_TOKEN_ALGORITHMS', 'lists an algorithm that is not an asymmetric JWS algorithm', 'list only EdDSA, ES256/384/512, RS256/384/512 or PS256/384/512');
    }
    const issuer = source.required('KEYSERVICE_TOKEN_ISSUER', "the platform token issuer (the tokens' iss)");
    const audience = source.required('KEYSERVICE_TOKEN_AUDIENCE', "this service's audience (the tokens' aud)");
    const jwksUrl = source.url('KEYSERVICE_TOKEN_JWKS_URL', production ? ['https:'] : ['https:', 'http:']);
    const publicKeyPem = source.fileContents('KEYSERVICE_TOKEN_PUBLIC_KEY_FILE')?.toString('utf8');
    tokens = { kind: 'jwt', algorithms, issuer, audience, ...(jwksUrl === undefined ? {} : { jwksUrl }), ...(publicKeyPem === undefined ? {} : { publicKeyPem }) };
  } else {
    if (secretFile === undefined) {
      throw new ConfigError('KEYSERVICE_TOKEN_JWKS_URL', 'is not set (no token verification is configured)', "set it to the platform's JWKS URL (or KEYSERVICE_TOKEN_PUBLIC_KEY_FILE); KEYSERVICE_DEV_TOKEN_SECRET_FILE in development");
    }
    if (production) throw refusedInProduction('KEYSERVICE_DEV_TOKEN_SECRET_FILE', 'the development token issuer (HS256 shared secret)', "unset it and set KEYSERVICE_TOKEN_JWKS_URL to the platform's JWKS URL");
    const secret = new Uint8Array(source.fileContents('KEYSERVICE_DEV_TOKEN_SECRET_FILE')!);
    if (secret.length < MIN_DEV_SECRET_BYTES) throw new ConfigError('KEYSERVICE_DEV_TOKEN_SECRET_FILE', `holds fewer than ${MIN_DEV_SECRET_BYTES} bytes`, `write a random secret of at least ${MIN_DEV_SECRET_BYTES} bytes`);
    tokens = { kind: 'dev', secret };
  }

  // External sender: at most one source.
  const kmsKeyId = source.get('KEYSERVICE_EXTERNAL_SENDER_KMS_KEY_ID');
  const keyFile = source.get('KEYSERVICE_EXTERNAL_SENDER_KEY_FILE');
  let externalSender: KeyServiceConfig['externalSender'];
  if (kmsKeyId !== undefined) {
    if (keyFile !== undefined) throw new ConfigError('KEYSERVICE_EXTERNAL_SENDER_KEY_FILE', 'is set together with KEYSERVICE_EXTERNAL_SENDER_KMS_KEY_ID', 'set one of the two');
    const endpoint = source.url('KEYSERVICE_KMS_ENDPOINT', production ? ['https:'] : ['https:', 'http:']);
    if (production && endpoint !== undefined && isLocalEndpoint(endpoint)) {
      throw refusedInProduction('KEYSERVICE_KMS_ENDPOINT', 'a loopback KMS endpoint (a KMS double)', 'unset it (the regional AWS endpoint) or set your KMS VPC endpoint');
    }
    externalSender = { kind: 'kms', keyId: kmsKeyId, endpoint };
  } else if (production) {
    throw refusedInProduction(
      keyFile === undefined ? 'KEYSERVICE_EXTERNAL_SENDER_KMS_KEY_ID' : 'KEYSERVICE_EXTERNAL_SENDER_KEY_FILE',
      keyFile === undefined ? 'an in-memory external-sender signing key' : 'a local external-sender signing key file',
      'set KEYSERVICE_EXTERNAL_SENDER_KMS_KEY_ID to an AWS KMS key (ECC_NIST_EDWARDS25519, SIGN_VERIFY)',
    );
  } else if (keyFile !== undefined) {
    externalSender = { kind: 'file', pem: source.fileContents('KEYSERVICE_EXTERNAL_SENDER_KEY_FILE')!.toString('utf8') };
  } else {
    externalSender = { kind: 'ephemeral' };
  }

  // Recording: all of it or none.
  let recording: KeyServiceConfig['recording'];
  if (!source.has('KEYSERVICE_DATABASE_URL')) {
    for (const name of ['KEYSERVICE_REDIS_URL', 'KEYSERVICE_SFU_ROOMS', 'KEYSERVICE_JANUS_URL', 'KEYSERVICE_RECORDER_REMOVAL_TIMEOUT_MS']) {
      if (source.has(name)) throw new ConfigError(name, 'is a recording setting but recording is off', 'set KEYSERVICE_DATABASE_URL too (recording on), or unset it');
    }
    recording = undefined;
  } else {
    const databaseUrl = source.requiredUrl('KEYSERVICE_DATABASE_URL', ['postgres:', 'postgresql:'], 'a postgres:// URL');
    const redisUrl = source.requiredUrl('KEYSERVICE_REDIS_URL', ['redis:', 'rediss:'], 'a rediss:// (or, in development, redis://) URL: recording is on (KEYSERVICE_DATABASE_URL is set)');
    if (production) refuseDevelopmentDataStores({ redis: ['KEYSERVICE_REDIS_URL', redisUrl], postgres: ['KEYSERVICE_DATABASE_URL', databaseUrl] });
    const sfuRooms = source.get('KEYSERVICE_SFU_ROOMS');
    if (sfuRooms !== 'numeric') throw new ConfigError('KEYSERVICE_SFU_ROOMS', sfuRooms === undefined ? 'is not set' : 'is not a known room mapping', 'set "numeric" (a room id of digits is that VideoRoom number)');
    const httpUrl = source.url('KEYSERVICE_PUBLIC_HTTP_URL', ['https:', 'http:']);
    const wsUrl = source.url('KEYSERVICE_PUBLIC_WS_URL', ['wss:', 'ws:']);
    if ((httpUrl === undefined) !== (wsUrl === undefined)) {
      throw new ConfigError(httpUrl === undefined ? 'KEYSERVICE_PUBLIC_HTTP_URL' : 'KEYSERVICE_PUBLIC_WS_URL', 'is not set while the other public URL is', 'set both public URLs or neither');
    }
    recording = {
      databaseUrl,
      redisUrl,
      sfuRooms,
      janusUrl: source.url('KEYSERVICE_JANUS_URL', ['ws:', 'wss:']),
      janusRoomSecret: source.fileContents('KEYSERVICE_JANUS_ROOM_SECRET_FILE')?.toString('utf8').trim(),
      removalTimeoutMs: source.integer('KEYSERVICE_RECORDER_REMOVAL_TIMEOUT_MS', { default: RECORDER_REMOVAL_TIMEOUT_MS, min: 200, max: 60_000 }),
      publicUrls: httpUrl === undefined || wsUrl === undefined ? undefined : { http: httpUrl, ws: wsUrl },
    };
  }
  return Object.freeze({ environment: source.environment, host, port, commitTimeoutMs, tokens, externalSender, recording, ops: opsListenerConfig(source) });
}

/** VideoRoom number of a room id under KEYSERVICE_SFU_ROOMS=numeric. */
export function numericSfuRoom(roomId: string): number | undefined {
  if (!/^[1-9][0-9]{0,14}$/.test(roomId)) return undefined;
  return Number(roomId);
}

export interface ConfiguredKeyService extends KeyService {
  /** The ops listener (/metrics, /healthz, /readyz). */
  opsUrl: string;
}

export async function startConfiguredKeyService(config: KeyServiceConfig, logger: Logger = silentLogger, options: { processMetrics?: boolean } = {}): Promise<ConfiguredKeyService> {
  let externalSender: ExternalSenderSigner;
  const kmsClients: KMSClient[] = [];
  if (config.externalSender.kind === 'kms') {
    const client = new KMSClient(config.externalSender.endpoint === undefined ? {} : { endpoint: config.externalSender.endpoint });
    kmsClients.push(client);
    try {
      externalSender = await KmsEd25519ExternalSender.create({ client, keyId: config.externalSender.keyId });
    } catch (error) {
      client.destroy();
      throw new ConfigError('KEYSERVICE_EXTERNAL_SENDER_KMS_KEY_ID', `is not usable (${(error as Error).message})`, 'name an enabled ECC_NIST_EDWARDS25519 SIGN_VERIFY key the service role may kms:Sign and kms:GetPublicKey with');
    }
  } else if (config.externalSender.kind === 'file') {
    try {
      externalSender = LocalEd25519ExternalSender.fromPkcs8Pem(config.externalSender.pem);
    } catch {
      throw new ConfigError('KEYSERVICE_EXTERNAL_SENDER_KEY_FILE', 'does not hold an Ed25519 PKCS#8 PEM key', 'point it at an Ed25519 private key in PKCS#8 PEM');
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
  const registry = createMetricsRegistry('keyservice', options);
  const service = await startKeyService({
    metrics: registry,
    host: config.host,
    port: config.port,
    tokens,
    externalSender,
    commitTimeoutMs: config.commitTimeoutMs,
    logger,
    ...(recording === undefined ? {} : { recording }),
    ...(config.recording?.publicUrls === undefined ? {} : { publicUrls: config.recording.publicUrls }),
  });
  const readiness: ReadinessCheck[] = [];
  if (pool !== undefined && dispatcher !== undefined) {
    const queue = dispatcher;
    // Ready while PostgreSQL answers: admissions consult the policy and the consent ledger there. Redis
    // carries only record jobs; without it calls go on and dispatches fail (audited), so a Redis outage
    // must not take the delivery service out of its Service — it shows in the record queue gauge instead.
    readiness.push(postgresReadiness('postgres', pool));
    new Gauge({
      name: 'chaperone_record_queue_depth',
      help: 'Record jobs waiting for a recorder (the same queue from every key service replica)',
      registers: [registry],
      async collect() {
        // Redis away: no sample (alert on its absence) rather than a failed scrape of every metric.
        await queue.depth().then(
          (depth) => this.set(depth),
          () => this.reset(),
        );
      },
    });
  }
  const ops = await startOpsServer({ host: config.ops.host, port: config.ops.port, registry, readiness }).catch(async (error: unknown) => {
    await service.close();
    await dispatcher?.close();
    await pool?.end();
    throw new ConfigError('CHAPERONE_OPS_PORT', `cannot be listened on (${(error as NodeJS.ErrnoException).code ?? 'error'})`, 'choose a free port');
  });
  const close = service.close.bind(service);
  return Object.assign(service, {
    opsUrl: ops.url,
    async close() {
      await ops.close();
      await close();
      await dispatcher?.close();
      await pool?.end();
      for (const client of kmsClients) client.destroy();
    },
  });
}
