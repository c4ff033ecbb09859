import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import {
  KeyPackageValidator,
  MAX_FRAME_CHARS,
  decodeClientMessage,
  encodeServerMessage,
  isIssuedRecorder,
  parseKeyPackage,
  recorderCredentialProblem,
  type ClientMessage,
  type CredentialValidator,
  type DeliveryErrorCode,
  type ExternalSenderInfo,
  type ReceivedKeyPackage,
  type ServerMessage,
} from '../e2ee/mls/index.js';
import { admitEveryone, type AdmissionPolicy } from './admission-policy.js';
import { noAudit, postgresAuditSink, type AuditSink } from './audit-sink.js';
import type { ExternalSenderSigner } from './external-sender.js';
import { buildHttpApi } from './http-api.js';
import { silentLogger, type Logger } from './logger.js';
import type { RecorderDispatcher } from './recorder-dispatcher.js';
import { RecordingGate } from './recording-gate.js';
import { KeyServiceMetrics } from './key-service-metrics.js';
import { CLOSE_POLICY, Room, type ClientLink, type Principal, type RoomSnapshot } from './room.js';
import type { SfuModeration } from './sfu-moderation.js';
import { CALL_ROLES, TokenError, type TokenVerifier, type VerifiedToken } from './tokens.js';

/**
 * The key service: the MLS delivery service over WebSocket (e2ee/mls/delivery-protocol.ts) and the HTTP
 * API (http-api.ts) on one Fastify server. One Room per call (room id from the verified token, or for a
 * recorder from the credential the service issued it). With `recording` configured, the recording gate
 * (recording-gate.ts) decides every admission from the room's policy and the consent ledger. Bad input —
 * malformed JSON, unknown types, garbage base64 or MLS bytes, wrong tokens — gets a typed error message,
 * and the connection is closed where the protocol cannot go on; the service and the other rooms carry on
 * (I9).
 */

export interface RecordingOptions {
  /** PostgreSQL (migrated: db/migrate.ts): policies, the consent ledger, the audit log. */
  pool: pg.Pool;
  dispatcher: RecorderDispatcher;
  /** The SFU's numeric room for a room id (record job data); undefined: no recording in that room. */
  sfuRoomFor: (roomId: string) => number | undefined;
  /** Drops a recorder at the SFU when members do not commit its removal in time. */
  sfu?: SfuModeration;
  /** Default RECORDER_REMOVAL_TIMEOUT_MS. */
  removalTimeoutMs?: number;
  /** Default RECORDER_CREDENTIAL_TTL_SEC. */
  credentialTtlSec?: number;
}

export interface KeyServiceOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  tokens: TokenVerifier;
  externalSender: ExternalSenderSigner;
  logger?: Logger;
  /** How long a member asked to commit has before the request passes to the next member. Default 3000. */
  commitTimeoutMs?: number;
  /** How long a new connection has to authenticate. Default 10000. */
  helloTimeoutMs?: number;
  /**
   * Called before each joiner's Add is proposed. Default: the recording gate when `recording` is set,
   * otherwise admit participants and refuse every recorder.
   */
  policy?: AdmissionPolicy;
  /** Credential checks applied to KeyPackages, the same as members apply. */
  credentialValidator?: CredentialValidator;
  /** Recording policy, consent and recorder membership (issue 4). Absent: no recording. */
  recording?: RecordingOptions;
  /** The URLs recorders are told to use (job data), when they differ from the listening address. */
  publicUrls?: { http: string; ws: string };
  /** Prometheus registry for the service's metrics (key-service-metrics.ts); served by the ops listener. */
  metrics?: Registry;
}

export interface KeyService {
  /** http://host:port */
  url: string;
  /** ws://host:port/mls — the delivery endpoint. */
  wsUrl: string;
  /** The roster and state of a room, for operators and tests. */
  room(roomId: string): RoomSnapshot | undefined;
  /** Proposes the removal of the member with this id (e.g. an operator ends a recorder's membership). */
  removeMember(roomId: string, memberId: string): boolean;
  /** The recording gate, when recording is configured. */
  readonly gate: RecordingGate | undefined;
  /** Resolves once every audit event recorded so far is written. */
  flushAudit(): Promise<void>;
  close(): Promise<void>;
}

export const DELIVERY_PATH = '/mls';
const CLOSE_GOING_AWAY = 1001;
const CLOSE_PROTOCOL = 1002;
const CLOSE_INTERNAL = 1011;

export async function startKeyService(options: KeyServiceOptions): Promise<KeyService> {
  checkOptions(options);
  const logger = options.logger ?? silentLogger;
  const commitTimeoutMs = options.commitTimeoutMs ?? 3000;
  const helloTimeoutMs = options.helloTimeoutMs ?? 10_000;
  const externalSenderInfo: ExternalSenderInfo = { signaturePublicKey: options.externalSender.signaturePublicKey, identity: options.externalSender.identity };
  const audit: AuditSink = options.recording === undefined ? noAudit : postgresAuditSink(options.recording.pool, logger);
  const rooms = new Map<string, Room>();
  const connections = new Set<Connection>();
  const metrics = options.metrics === undefined ? undefined : new KeyServiceMetrics(options.metrics, { rooms: () => rooms.size, connections: () => connections.size });
  let endpoints: { http: string; ws: string } = { http: '', ws: '' };
  const gate =
    options.recording === undefined
      ? undefined
      : new RecordingGate({
          pool: options.recording.pool,
          dispatcher: options.recording.dispatcher,
          signer: options.externalSender,
          audit,
          logger,
          sfuRoomFor: options.recording.sfuRoomFor,
          endpoints: () => options.publicUrls ?? endpoints,
          ...(options.recording.sfu === undefined ? {} : { sfu: options.recording.sfu }),
          ...(options.recording.removalTimeoutMs === undefined ? {} : { removalTimeoutMs: options.recording.removalTimeoutMs }),
          ...(options.recording.credentialTtlSec === undefined ? {} : { credentialTtlSec: options.recording.credentialTtlSec }),
          ...(metrics === undefined ? {} : { onRecorderJoined: (ms: number) => metrics.recorderJoined(ms) }),
        });
  const policy = options.policy ?? gate ?? admitEveryone;
  const validator = new KeyPackageValidator(options.credentialValidator, externalSenderInfo);

  const roomFor = (roomId: string): Room => {
    let room = rooms.get(roomId);
    if (room === undefined) {
      const created: Room = new Room({
        roomId,
        signer: options.externalSender,
        policy,
        logger,
        commitTimeoutMs,
        ...(gate === undefined ? {} : { observer: gate }),
        onEmpty: () => {
          if (rooms.get(roomId) === created) {
            rooms.delete(roomId);
            void gate?.detach(roomId);
          }
        },
      });
      room = created;
      rooms.set(roomId, room);
      gate?.attach(room);
    }
    return room;
  };

  const app = await buildHttpApi({
    tokens: options.tokens,
    logger,
    externalSender: externalSenderInfo,
    deliveryUrl: () => (options.publicUrls ?? endpoints).ws,
    ...(options.recording === undefined || gate === undefined ? {} : { recording: { gate, pool: options.recording.pool } }),
  });
  const server = app.server;
  const wss = new WebSocketServer({ server, path: DELIVERY_PATH, maxPayload: MAX_FRAME_CHARS * 4 });

  wss.on('connection', (socket: WebSocket) => {
    const connection = new Connection(socket, {
      logger,
      helloTimeoutMs,
      tokens: options.tokens,
      externalSender: options.externalSender,
      externalSenderInfo,
      validator,
      roomFor,
      gate,
      audit,
      onClosed: () => connections.delete(connection),
    });
    connections.add(connection);
  });
  wss.on('error', (error) => logger.error({ err: error.name }, 'websocket server error'));

  await app.listen({ host: options.host, port: options.port });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  endpoints = { http: `http://${hostForUrl}:${address.port}`, ws: `ws://${hostForUrl}:${address.port}${DELIVERY_PATH}` };
  logger.info({ host: address.address, port: address.port }, 'key service listening');

  let closing: Promise<void> | undefined;
  return {
    url: endpoints.http,
    wsUrl: endpoints.ws,
    gate,
    room: (roomId) => rooms.get(roomId)?.snapshot(),
    removeMember(roomId, memberId) {
      const room = rooms.get(roomId);
      const member = room?.memberViews().find((m) => m.id === memberId);
      if (room === undefined || member === undefined) return false;
      void room.run(async () => {
        await room.expel(member.leafIndex, 'operator');
      });
      return true;
    },
    flushAudit: () => audit.flush(),
    close() {
      closing ??= (async () => {
        for (const connection of connections) connection.shutdown();
        await gate?.close();
        for (const room of rooms.values()) room.close();
        rooms.clear();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        server.closeAllConnections();
        await app.close();
        await audit.flush();
        logger.info({}, 'key service closed');
      })();
      return closing;
    },
  };
}

function checkOptions(options: KeyServiceOptions): void {
  if (typeof options !== 'object' || options === null) throw new TypeError('options are required');
  if (typeof options.host !== 'string' || options.host.length === 0) throw new TypeError('options.host must be a host name or address');
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) throw new TypeError('options.port must be 0..65535');
  if (typeof options.tokens?.verify !== 'function') throw new TypeError('options.tokens must be a TokenVerifier');
  const sender = options.externalSender;
  if (typeof sender?.sign !== 'function' || !(sender.signaturePublicKey instanceof Uint8Array) || sender.identity?.kind !== 'key-service') {
    throw new TypeError('options.externalSender must be an ExternalSenderSigner');
  }
  for (const name of ['commitTimeoutMs', 'helloTimeoutMs'] as const) {
    const value = options[name];
    if (value !== undefined && (!Number.isFinite(value) || value <= 0)) throw new TypeError(`options.${name} must be a positive number`);
  }
}

interface ConnectionDeps {
  logger: Logger;
  helloTimeoutMs: number;
  tokens: TokenVerifier;
  externalSender: ExternalSenderSigner;
  externalSenderInfo: ExternalSenderInfo;
  validator: KeyPackageValidator;
  roomFor: (roomId: string) => Room;
  gate: RecordingGate | undefined;
  audit: AuditSink;
  onClosed: () => void;
}

/** Refusals of a connection that are membership decisions, and so audited. */
const AUDITED_REFUSALS: ReadonlySet<DeliveryErrorCode> = new Set([
  'identity-mismatch',
  'kind-mismatch',
  'invalid-key-package',
  'role-not-allowed',
  'invalid-token',
]);

/**
 * One client connection: authenticate (hello), accept one KeyPackage, then relay the member's MLS
 * messages to its room. Messages are handled one at a time, in order.
 */
class Connection implements ClientLink {
  readonly connectionId = randomUUID();
  private phase: 'awaiting-hello' | 'authenticating' | 'awaiting-key-package' | 'validating' | 'in-room' | 'closed' = 'awaiting-hello';
  private principal: (Principal & { room: string | undefined }) | undefined;
  private room: Room | undefined;
  private queue: Promise<void> = Promise.resolve();
  private consents: Promise<void> = Promise.resolve();
  private readonly helloTimer: NodeJS.Timeout;

  constructor(
    private readonly socket: WebSocket,
    private readonly deps: ConnectionDeps,
  ) {
    this.helloTimer = setTimeout(() => {
      if (this.phase === 'awaiting-hello' || this.phase === 'authenticating') this.fail('hello-timeout', 'authenticate with hello first', CLOSE_POLICY);
    }, deps.helloTimeoutMs);
    this.helloTimer.unref();
    socket.on('message', (data: RawData, isBinary: boolean) => {
      this.queue = this.queue
        .then(() => this.onFrame(data, isBinary))
        .catch((error: unknown) => {
          this.deps.logger.error({ connectionId: this.connectionId, err: error instanceof Error ? error.name : typeof error }, 'message handling failed');
          this.fail('internal-error', 'the service could not handle the message', CLOSE_INTERNAL);
        });
    });
    socket.on('close', () => {
      clearTimeout(this.helloTimer);
      const wasInRoom = this.room;
      this.phase = 'closed';
      this.deps.onClosed();
      if (wasInRoom !== undefined) void wasInRoom.run(() => wasInRoom.disconnected(this));
    });
    socket.on('error', (error) => this.deps.logger.warn({ connectionId: this.connectionId, err: error.name }, 'socket error'));
  }

  send(message: ServerMessage): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(encodeServerMessage(message));
  }

  close(code: number, reason: string): void {
    if (this.socket.readyState === this.socket.OPEN || this.socket.readyState === this.socket.CONNECTING) this.socket.close(code, reason);
  }

  /** The service is shutting down. */
  shutdown(): void {
    this.send({ type: 'error', code: 'service-closing', message: 'the key service is shutting down', fatal: true });
    this.close(CLOSE_GOING_AWAY, 'service-closing');
  }

  private fail(code: DeliveryErrorCode, message: string, closeCode: number, roomId = this.principal?.room): void {
    this.send({ type: 'error', code, message, fatal: true });
    this.close(closeCode, code);
    this.deps.logger.info({ connectionId: this.connectionId, roomId, code }, 'connection refused');
    if (AUDITED_REFUSALS.has(code)) {
      this.deps.audit.record({
        event: this.principal?.role === 'recorder' ? 'recorder.refused' : 'member.refused',
        outcome: 'refused',
        ...(roomId === undefined ? {} : { roomId }),
        ...(this.principal === undefined ? {} : { subjectId: this.principal.subject, actor: { role: this.principal.role, id: this.principal.subject } }),
        details: { reason: code },
      });
    }
  }

  private async onFrame(data: RawData, isBinary: boolean): Promise<void> {
    if (this.phase === 'closed') return;
    if (isBinary) return this.fail('malformed-message', 'messages are JSON text frames', CLOSE_PROTOCOL);
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
    const decoded = decodeClientMessage(text);
    if (!decoded.ok) {
      const code: DeliveryErrorCode = decoded.error.code === 'unknown-type' ? 'unknown-type' : 'malformed-message';
      return this.fail(code, decoded.error.message, CLOSE_PROTOCOL);
    }
    await this.onMessage(decoded.value);
  }

  private async onMessage(message: ClientMessage): Promise<void> {
    if (this.phase === 'awaiting-hello') {
      if (message.type !== 'hello') return this.fail('not-authenticated', 'the first message must be hello', CLOSE_POLICY);
      return this.onHello(message.token);
    }
    switch (message.type) {
      case 'hello':
        return this.fail('unexpected-message', 'already authenticated', CLOSE_POLICY);
      case 'key-package':
        if (this.phase !== 'awaiting-key-package') return this.fail('unexpected-message', 'one KeyPackage per connection', CLOSE_POLICY);
        return this.onKeyPackage(message.keyPackage);
      case 'group-created':
        return this.inRoom((room) => room.groupCreated(this, message.groupId));
      case 'commit':
        return this.inRoom((room) => room.commit(this, message.epoch, message.commit, message.welcome, message.chained === true));
      case 'leave':
        return this.inRoom((room) => room.leave(this));
      case 'consent': {
        const room = this.room;
        if (this.phase !== 'in-room' || room === undefined) return this.fail('unexpected-message', 'send a KeyPackage first', CLOSE_POLICY);
        // Statements are answered in order, on their own chain: a ledger write never holds up this
        // member's MLS messages (it may be the one asked to commit the recorder's removal).
        this.consents = this.consents.then(async () => {
          const gate = this.deps.gate;
          const outcome = gate === undefined
            ? ({ ok: false, reason: 'no-policy' } as const)
            : await gate.submitConsent(room, { statement: message.statement, signature: message.signature, from: { link: this }, via: 'delivery' });
          this.send(outcome.ok ? { type: 'consent-recorded', policyVersion: outcome.policyVersion, decision: outcome.decision } : { type: 'consent-refused', reason: outcome.reason });
        }).catch((error: unknown) => {
          this.deps.logger.error({ connectionId: this.connectionId, err: error instanceof Error ? error.name : typeof error }, 'consent handling failed');
          this.send({ type: 'consent-refused', reason: 'unavailable' });
        });
        return;
      }
      case 'refusal':
        return this.inRoom(async (room) => {
          this.deps.gate?.clientRefusal(room, this.principal!.subject, message.what, message.code);
        });
    }
  }

  private async onHello(token: string): Promise<void> {
    this.phase = 'authenticating';
    let verified: VerifiedToken;
    try {
      verified = await this.deps.tokens.verify(token);
    } catch (error) {
      const reason = error instanceof TokenError ? error.message : 'token did not verify';
      return this.fail('invalid-token', reason, CLOSE_POLICY);
    }
    if (this.phase !== 'authenticating') return;
    clearTimeout(this.helloTimer);
    this.principal = { subject: verified.subject, role: verified.role, room: verified.room };
    if (!CALL_ROLES.includes(verified.role)) return this.fail('role-not-allowed', `the ${verified.role} role does not join calls`, CLOSE_POLICY);
    if (verified.room === undefined && verified.role !== 'recorder') return this.fail('invalid-token', 'the token must name the room of the call', CLOSE_POLICY);
    this.phase = 'awaiting-key-package';
    const sender = this.deps.externalSender;
    this.send({ type: 'hello-ok', externalSender: { signaturePublicKey: sender.signaturePublicKey, identity: sender.identity } });
    this.deps.logger.info({ connectionId: this.connectionId, roomId: verified.room, role: verified.role }, 'authenticated');
  }

  private async onKeyPackage(bytes: Uint8Array): Promise<void> {
    const principal = this.principal!;
    this.phase = 'validating';
    let keyPackage: ReceivedKeyPackage;
    try {
      keyPackage = await parseKeyPackage(bytes);
    } catch {
      return this.fail('invalid-key-package', 'not a valid KeyPackage for this call', CLOSE_POLICY);
    }
    // Flow 2: the credential identity must match the token; the role fixes the kind.
    if (keyPackage.identity.id !== principal.subject) {
      return this.fail('identity-mismatch', 'the credential id is not the token subject', CLOSE_POLICY);
    }
    const expectedKind = principal.role === 'recorder' ? 'recorder' : 'participant';
    if (keyPackage.identity.kind !== expectedKind) {
      return this.fail('kind-mismatch', `a ${principal.role} token requires a ${expectedKind} credential`, CLOSE_POLICY);
    }
    let roomId = principal.room;
    if (expectedKind === 'recorder') {
      // Flow 5: a recorder holds a credential this service issued, for one room and group, bound to its
      // key. Its room is the credential's (a recorder service token is not scoped to a room).
      const identity = keyPackage.identity;
      if (!isIssuedRecorder(identity)) return this.fail('invalid-key-package', 'a recorder needs a credential issued by the key service', CLOSE_POLICY);
      const problem = await recorderCredentialProblem(identity, keyPackage.signaturePublicKey, {
        keyService: this.deps.externalSenderInfo,
        ...(principal.room === undefined ? {} : { room: principal.room }),
        nowSec: Math.floor(Date.now() / 1000),
      });
      if (problem !== undefined) return this.fail('invalid-key-package', problem, CLOSE_POLICY, identity.issuance.room);
      roomId = identity.issuance.room;
    }
    try {
      await this.deps.validator.validate(keyPackage);
    } catch {
      return this.fail('invalid-key-package', 'the KeyPackage did not validate', CLOSE_POLICY);
    }
    if (this.phase !== 'validating' || roomId === undefined) return; // closed meanwhile
    const room = this.deps.roomFor(roomId);
    this.room = room;
    this.phase = 'in-room';
    await room.run(() => room.admit(this, principal, keyPackage));
  }

  private async inRoom(task: (room: Room) => Promise<void>): Promise<void> {
    const room = this.room;
    if (this.phase !== 'in-room' || room === undefined) return this.fail('unexpected-message', 'send a KeyPackage first', CLOSE_POLICY);
    await room.run(() => task(room));
  }
}
