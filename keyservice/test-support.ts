import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import pg from 'pg';
import { MIGRATIONS_DIR, migrate } from '../db/migrate.js';
import { freePort } from '../devstack/free-port.js';
import { startPostgresServer, type PostgresServer } from '../devstack/postgres-server.js';
import {
  CallMember,
  MemberSignatureKeys,
  base64Decode,
  base64Encode,
  decodeIdentity,
  type CallMemberError,
  type ConsentStatus,
  type DeliveryTransport,
  type EpochUpdate,
  type ExternalSenderInfo,
  type ParticipantIdentity,
  type RecordingPolicyNotice,
} from '../e2ee/mls/index.js';
import type { KeyService } from './key-service.js';
import type { RecordJobData } from './recorder-jobs.js';
import type { DevTokenAuthority, PlatformRole } from './tokens.js';
import { connectDeliveryTransport, type WsDeliveryTransport } from './ws-delivery-transport.js';

/**
 * Shared by the key service's integration tests and the consent end-to-end test and benchmark (not a
 * test itself): a migrated throwaway PostgreSQL with an application role, Node call members, and a
 * recorder stand-in that does what the real recorder does to obtain its credential and join.
 */

export interface TestDatabase {
  server: PostgresServer;
  /** Superuser: migrations, and playing the attacker. */
  admin: pg.Client;
  /** The services' role (chaperone_app): INSERT and SELECT on chained tables only. */
  pool: pg.Pool;
  stop(): Promise<void>;
}

let roleCounter = 0;

export async function startTestDatabase(): Promise<TestDatabase> {
  const server = await startPostgresServer({ port: await freePort() });
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  // Bundled (the benchmark), db/migrate.ts looks next to the bundle; fall back to the repository's folder.
  await migrate(admin, existsSync(MIGRATIONS_DIR) ? MIGRATIONS_DIR : resolve('db/migrations'));
  const role = `ks_app_${process.pid}_${++roleCounter}`;
  await admin.query(`create role ${role} login in role chaperone_app`);
  const pool = new pg.Pool({ connectionString: server.url.replace('chaperone@', `${role}@`), max: 8 });
  return {
    server,
    admin,
    pool,
    async stop() {
      await pool.end().catch(() => undefined);
      await admin.end().catch(() => undefined);
      await server.stop();
    },
  };
}

export interface TestMember {
  identity: ParticipantIdentity;
  member: CallMember;
  transport: WsDeliveryTransport;
  epochs: EpochUpdate[];
  removed: bigint[];
  errors: CallMemberError[];
  policies: RecordingPolicyNotice[];
  statuses: ConsentStatus[];
  /** Every message the member sent (to replay one). */
  sent: Array<Parameters<DeliveryTransport['send']>[0]>;
  close(): void;
}

export async function joinTestMember(
  service: KeyService,
  tokens: DevTokenAuthority,
  room: string,
  identity: ParticipantIdentity,
  options: {
    role?: PlatformRole;
    token?: string;
    signatureKeys?: MemberSignatureKeys;
    keyService?: ExternalSenderInfo;
    wsUrl?: string;
    wrap?: (transport: WsDeliveryTransport) => DeliveryTransport;
  } = {},
): Promise<TestMember> {
  const transport = await connectDeliveryTransport(options.wsUrl ?? service.wsUrl);
  const sent: TestMember['sent'] = [];
  const base = options.wrap ? options.wrap(transport) : transport;
  const recording: DeliveryTransport = {
    send: (message) => {
      sent.push(message);
      base.send(message);
    },
    onMessage: (listener) => base.onMessage(listener),
    onClose: (listener) => base.onClose(listener),
  };
  const member = new CallMember({
    identity,
    transport: recording,
    ...(options.signatureKeys === undefined ? {} : { signatureKeys: options.signatureKeys }),
    ...(options.keyService === undefined ? {} : { keyService: options.keyService }),
  });
  const result: TestMember = {
    identity,
    member,
    transport,
    epochs: [],
    removed: [],
    errors: [],
    policies: [],
    statuses: [],
    sent,
    close: () => {
      member.close();
      transport.close();
    },
  };
  member.on('epoch', (e) => result.epochs.push(e));
  member.on('removed', (e) => result.removed.push(e.epoch));
  member.on('error', (e) => result.errors.push(e));
  member.on('policy', (p) => result.policies.push(p));
  member.on('consent-status', (s) => result.statuses.push(s));
  const role = options.role ?? (identity.kind === 'recorder' ? 'recorder' : 'patient');
  const token = options.token ?? (await tokens.issue({ sub: identity.id, role, ...(role === 'recorder' ? {} : { room }) }));
  await member.start(token);
  return result;
}

export interface RecorderStandIn extends TestMember {
  keys: MemberSignatureKeys;
  /** The credential response body. */
  issued: { credential: string; recorderId: string; roomId: string; groupId: string; purpose: string; notAfter: number; deliveryUrl: string };
}

/**
 * What the recorder does for a record job (recorder-jobs.ts): generate its signature keys, obtain the
 * credential with its service token, and join with it. Resolves once it is in the group.
 */
export async function recorderStandIn(service: KeyService, tokens: DevTokenAuthority, job: RecordJobData, options: { recorderId?: string } = {}): Promise<RecorderStandIn> {
  const recorderId = options.recorderId ?? 'recorder-svc';
  const keys = await MemberSignatureKeys.generate();
  const token = await tokens.issue({ sub: recorderId, role: 'recorder' });
  const response = await fetch(`${service.url}/v1/rooms/${encodeURIComponent(job.roomId)}/recorder-credentials`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ jobId: job.jobId, signaturePublicKey: base64Encode(keys.publicKey) }),
  });
  const body = (await response.json()) as RecorderStandIn['issued'] & { externalSender: { signaturePublicKey: string; credential: string } };
  if (response.status !== 201) throw new Error(`credential refused: ${response.status} ${JSON.stringify(body)}`);
  const identity = decodeIdentity(base64Decode(body.credential)!) as ParticipantIdentity;
  const keyService: ExternalSenderInfo = {
    signaturePublicKey: base64Decode(body.externalSender.signaturePublicKey)!,
    identity: decodeIdentity(base64Decode(body.externalSender.credential)!) as ExternalSenderInfo['identity'],
  };
  const member = await joinTestMember(service, tokens, job.roomId, identity, { token, signatureKeys: keys, keyService, wsUrl: body.deliveryUrl });
  return { ...member, keys, issued: body };
}

export async function until(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 8000): Promise<void> {
  const start = Date.now();
  while (!(await predicate())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
