import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import {
  KeyPackageValidator,
  MAX_FRAME_CHARS,
  decodeClientMessage,
  encodeServerMessage,
  parseKeyPackage,
  type ClientMessage,
  type CredentialValidator,
  type DeliveryErrorCode,
  type ReceivedKeyPackage,
  type ServerMessage,
} from '../e2ee/mls/index.js';
import { admitEveryone, type AdmissionPolicy } from './admission-policy.js';
import type { ExternalSenderSigner } from './external-sender.js';
import { silentLogger, type Logger } from './logger.js';
import { CLOSE_POLICY, Room, type ClientLink, type Principal, type RoomSnapshot } from './room.js';
import { TokenError, type TokenVerifier, type VerifiedToken } from './tokens.js';

/**
 * The key service's first slice: the MLS delivery service over WebSocket (e2ee/mls/delivery-protocol.ts)
 * on a Node http server. One Room per call (room id from the verified token). Bad input — malformed
 * JSON, unknown types, garbage base64 or MLS bytes, wrong tokens — gets a typed error message, and the
 * connection is closed where the protocol cannot go on; the service and the other rooms carry on (I9).
 */

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
  /** Called before each joiner's Add is proposed (issue 4: consent). Default: admit everyone. */
  policy?: AdmissionPolicy;
  /** Credential checks applied to KeyPackages, the same as members apply. */
  credentialValidator?: CredentialValidator;
}

export interface KeyService {
  /** http://host:port */
  url: string;
  /** ws://host:port/mls — the delivery endpoint. */
  wsUrl: string;
  /** The roster and state of a room, for operators, tests and issue 4's consent gating. */
  room(roomId: string): RoomSnapshot | undefined;
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
  const policy = options.policy ?? admitEveryone;
  const validator = new KeyPackageValidator(options.credentialValidator);
  const rooms = new Map<string, Room>();
  const connections = new Set<Connection>();

  const roomFor = (roomId: string): Room => {
    let room = rooms.get(roomId);
    if (room === undefined) {
      const created: Room = new Room({
        roomId,
        signer: options.externalSender,
        policy,
        logger,
        commitTimeoutMs,
        onEmpty: () => {
          if (rooms.get(roomId) === created) rooms.delete(roomId);
        },
      });
      room = created;
      rooms.set(roomId, room);
    }
    return room;
  };

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    if (request.method === 'GET' && request.url === '/healthz') {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      return;
    }
    response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not-found"}');
  });
  const wss = new WebSocketServer({ server, path: DELIVERY_PATH, maxPayload: MAX_FRAME_CHARS * 4 });

  wss.on('connection', (socket: WebSocket) => {
    const connection = new Connection(socket, {
      logger,
      helloTimeoutMs,
      tokens: options.tokens,
      externalSender: options.externalSender,
      validator,
      roomFor,
      onClosed: () => connections.delete(connection),
    });
    connections.add(connection);
  });
  wss.on('error', (error) => logger.error({ err: error.name }, 'websocket server error'));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  logger.info({ host: address.address, port: address.port }, 'key service listening');

  let closing: Promise<void> | undefined;
  return {
    url: `http://${hostForUrl}:${address.port}`,
    wsUrl: `ws://${hostForUrl}:${address.port}${DELIVERY_PATH}`,
    room: (roomId) => rooms.get(roomId)?.snapshot(),
    close() {
      closing ??= (async () => {
        for (const connection of connections) connection.shutdown();
        for (const room of rooms.values()) room.close();
        rooms.clear();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        await new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
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
  validator: KeyPackageValidator;
  roomFor: (roomId: string) => Room;
  onClosed: () => void;
}

/**
 * One client connection: authenticate (hello), accept one KeyPackage, then relay the member's MLS
 * messages to its room. Messages are handled one at a time, in order.
 */
class Connection implements ClientLink {
  readonly connectionId = randomUUID();
  private phase: 'awaiting-hello' | 'authenticating' | 'awaiting-key-package' | 'validating' | 'in-room' | 'closed' = 'awaiting-hello';
  private principal: (Principal & { room: string }) | undefined;
  private room: Room | undefined;
  private queue: Promise<void> = Promise.resolve();
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

  private fail(code: DeliveryErrorCode, message: string, closeCode: number): void {
    this.send({ type: 'error', code, message, fatal: true });
    this.close(closeCode, code);
    this.deps.logger.info({ connectionId: this.connectionId, roomId: this.principal?.room, code }, 'connection refused');
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
        return this.inRoom((room) => room.commit(this, message.epoch, message.commit, message.welcome));
      case 'leave':
        return this.inRoom((room) => room.leave(this));
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
    try {
      await this.deps.validator.validate(keyPackage);
    } catch {
      return this.fail('invalid-key-package', 'the KeyPackage did not validate', CLOSE_POLICY);
    }
    if (this.phase !== 'validating') return; // closed meanwhile
    const room = this.deps.roomFor(principal.room);
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
