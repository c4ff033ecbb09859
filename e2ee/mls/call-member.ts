import { DEFAULT_SFRAME_SUITE, sframeBaseKeyLength } from '../keys/constants.js';
import type { CredentialValidator } from './credential-validator.js';
import type { ClientMessage, DeliveryErrorCode, ServerMessage } from './delivery-protocol.js';
import { TypedEmitter } from './emitter.js';
import { MlsSessionError } from './errors.js';
import { sameExternalSender, type ExternalSenderInfo } from './external-sender.js';
import { MemberKeyPackage } from './key-package.js';
import { MlsSession, type PendingCommit, type ProcessOutcome, type RosterEntry } from './mls-session.js';
import { identityProblem, type ParticipantIdentity } from './participant-credential.js';

/**
 * A call member's side of the MLS delivery protocol (delivery-protocol.ts): authenticate, hand over a
 * KeyPackage, create the group or join it from a Welcome, follow the key service's proposals and other
 * members' commits, commit when the service asks, and announce every epoch's SFrame key and roster.
 * Isomorphic: the room page, the recorder page and Node tests all use it over their own transport.
 *
 * Committing: the service asks one member at a time (`commit-request`) and accepts exactly one commit
 * per epoch. A member holds its commit unapplied until `commit-accepted`; if another member's commit
 * arrives first (or `commit-rejected`), it drops its own and processes the winner's.
 *
 * Keys: `epoch` fires only for epochs whose SFrame key may be used (see MlsSession: an epoch entered by
 * a path-less removal is "unhealed" and skipped). `removed` fires when a commit removes this member; by
 * then the session holds no state for the new epoch, nor any other.
 */

export interface DeliveryTransport {
  send(message: ClientMessage): void;
  onMessage(listener: (message: ServerMessage) => void): void;
  onClose(listener: () => void): void;
}

export interface EpochUpdate {
  epoch: bigint;
  ownLeafIndex: number;
  /** The epoch's SFrame base_key (RFC 9605 §5.2), AEAD.Nk bytes, for the media worker. */
  sframeEpochSecret: Uint8Array;
  roster: RosterEntry[];
}

export type CallMemberErrorCode =
  /** The delivery service sent an error (see `serverCode`). */
  | 'server-error'
  /** The connection to the delivery service closed. */
  | 'transport-closed'
  /** An MLS message was refused or could not be processed (see `cause`, an MlsSessionError). */
  | 'mls-error'
  /** The delivery service named a different external sender than the one this member expects. */
  | 'untrusted-key-service'
  /** The service sent a message that makes no sense in this member's state. */
  | 'protocol-violation';

export class CallMemberError extends Error {
  override readonly name = 'CallMemberError';
  constructor(
    readonly code: CallMemberErrorCode,
    message: string,
    readonly fatal: boolean,
    options?: { cause?: unknown; serverCode?: DeliveryErrorCode },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.serverCode = options?.serverCode;
  }
  readonly serverCode: DeliveryErrorCode | undefined;
}

export interface CallMemberEvents {
  epoch: EpochUpdate;
  removed: { epoch: bigint };
  error: CallMemberError;
}

export interface CallMemberOptions {
  identity: ParticipantIdentity;
  transport: DeliveryTransport;
  /** The credential-validation hook applied to every member credential. */
  authService?: CredentialValidator;
  /** Pin the key service's external-sender key; otherwise the one announced in `hello-ok` is used. */
  keyService?: ExternalSenderInfo;
  /** SFrame cipher suite whose AEAD.Nk sizes the exported key. Default AES_128_GCM_SHA256_128. */
  sframeSuite?: number;
}

type Phase = 'idle' | 'authenticating' | 'waiting' | 'member' | 'removed' | 'closed' | 'failed';

export class CallMember extends TypedEmitter<CallMemberEvents> {
  private phase: Phase = 'idle';
  private session: MlsSession | undefined;
  private keyPackage: MemberKeyPackage | undefined;
  private keyService: ExternalSenderInfo | undefined;
  private pending: PendingCommit | undefined;
  private queue: Promise<void> = Promise.resolve();
  private started: { resolve: () => void; reject: (error: Error) => void } | undefined;
  private readonly identity: ParticipantIdentity;
  private readonly transport: DeliveryTransport;
  private readonly validator: CredentialValidator | undefined;
  private readonly sframeSuite: number;

  constructor(options: CallMemberOptions) {
    super();
    const problem = identityProblem(options.identity);
    if (problem !== undefined || (options.identity.kind !== 'participant' && options.identity.kind !== 'recorder')) {
      throw new TypeError(`options.identity: ${problem ?? 'kind must be participant or recorder'}`);
    }
    if (options.transport === undefined) throw new TypeError('options.transport is required');
    const suite = options.sframeSuite ?? DEFAULT_SFRAME_SUITE;
    if (sframeBaseKeyLength(suite) === undefined) throw new TypeError('options.sframeSuite is not an SFrame cipher suite');
    this.identity = { ...options.identity };
    this.transport = options.transport;
    this.validator = options.authService;
    this.keyService = options.keyService;
    this.sframeSuite = suite;
    this.transport.onMessage((message) => {
      this.queue = this.queue.then(() => this.handle(message)).catch((error: unknown) => this.fail(asMemberError(error)));
    });
    this.transport.onClose(() => {
      this.queue = this.queue.then(() => this.onTransportClosed());
    });
  }

  /** Authenticates with `token` and resolves once this member is in the group (created or welcomed). */
  start(token: string): Promise<void> {
    if (this.phase !== 'idle') return Promise.reject(new CallMemberError('protocol-violation', 'start() may be called once', false));
    if (typeof token !== 'string' || token.length === 0) return Promise.reject(new TypeError('token must be a non-empty string'));
    this.phase = 'authenticating';
    return new Promise<void>((resolve, reject) => {
      this.started = { resolve, reject };
      this.transport.send({ type: 'hello', token });
    });
  }

  /** Leaf index → identity of every member in the current epoch (empty when not in a group). */
  roster(): RosterEntry[] {
    return this.session?.active ? this.session.roster() : [];
  }

  get epoch(): bigint | undefined {
    return this.session?.active ? this.session.epoch : undefined;
  }

  get ownLeafIndex(): number | undefined {
    return this.session?.active ? this.session.ownLeafIndex : undefined;
  }

  /** Leaves: asks the service to remove this member, then forgets the group and its keys. */
  close(): void {
    if (this.phase === 'closed') return;
    const wasInCall = this.phase === 'member' || this.phase === 'waiting' || this.phase === 'authenticating';
    this.phase = 'closed';
    if (wasInCall) {
      try {
        this.transport.send({ type: 'leave' });
      } catch {
        // The connection may already be gone; the service removes members whose connection closes.
      }
    }
    this.forget();
    this.started?.reject(new CallMemberError('transport-closed', 'closed before joining', true));
    this.started = undefined;
  }

  private async handle(message: ServerMessage): Promise<void> {
    if (this.phase === 'closed' || this.phase === 'removed' || this.phase === 'failed') return;
    switch (message.type) {
      case 'hello-ok':
        return this.onHelloOk(message.externalSender);
      case 'create-group':
        return this.onCreateGroup(message.groupId, message.externalSender);
      case 'awaiting-welcome':
        return;
      case 'welcome':
        return this.onWelcome(message.welcome);
      case 'proposal':
        return this.onProposal(message.message);
      case 'commit-request':
        return this.onCommitRequest(message.epoch);
      case 'commit-accepted':
        return this.onCommitAccepted(message.epoch);
      case 'commit-rejected':
        if (this.pending?.epoch === message.epoch) this.pending = undefined;
        return;
      case 'commit':
        return this.onCommit(message.epoch, message.message);
      case 'error': {
        const error = new CallMemberError('server-error', message.message, message.fatal, { serverCode: message.code });
        if (message.fatal) this.fail(error);
        else this.emit('error', error);
        return;
      }
    }
  }

  private async onHelloOk(announced: ExternalSenderInfo): Promise<void> {
    if (this.phase !== 'authenticating') throw new CallMemberError('protocol-violation', 'unexpected hello-ok', true);
    if (this.keyService !== undefined && !sameExternalSender(this.keyService, announced)) {
      throw new CallMemberError('untrusted-key-service', 'the service announced an external sender other than the pinned one', true);
    }
    this.keyService = announced;
    this.keyPackage = await MemberKeyPackage.generate(this.identity);
    this.phase = 'waiting';
    this.transport.send({ type: 'key-package', keyPackage: this.keyPackage.message });
  }

  private async onCreateGroup(groupId: Uint8Array, externalSender: ExternalSenderInfo): Promise<void> {
    const { keyService, keyPackage } = this.requireWaiting();
    if (!sameExternalSender(keyService, externalSender)) {
      throw new CallMemberError('untrusted-key-service', 'create-group names another external sender', true);
    }
    this.session = await MlsSession.create({ groupId, keyPackage, keyService, ...this.validatorOption() });
    this.keyPackage = undefined;
    this.phase = 'member';
    this.transport.send({ type: 'group-created', groupId });
    await this.announceEpoch();
    this.resolveStart();
  }

  private async onWelcome(welcome: Uint8Array): Promise<void> {
    const { keyService, keyPackage } = this.requireWaiting();
    this.session = await MlsSession.join({ welcome, keyPackage, keyService, ...this.validatorOption() });
    this.keyPackage = undefined;
    this.phase = 'member';
    if (this.session.healed) await this.announceEpoch();
    this.resolveStart();
  }

  private async onProposal(bytes: Uint8Array): Promise<void> {
    const session = this.requireMember();
    try {
      await session.processMessage(bytes);
    } catch (error) {
      // A refused proposal (forged, wrong type, not from the key service) is dropped; the group goes on.
      this.emit('error', new CallMemberError('mls-error', 'a proposal was refused', false, { cause: error }));
    }
  }

  private async onCommitRequest(epoch: bigint): Promise<void> {
    const session = this.requireMember();
    if (this.pending !== undefined || session.epoch !== epoch) return;
    const pending = await session.createCommit();
    if (pending === undefined) return;
    this.pending = pending;
    this.transport.send({
      type: 'commit',
      epoch: pending.epoch,
      commit: pending.commit,
      ...(pending.welcome === undefined ? {} : { welcome: pending.welcome }),
    });
  }

  private async onCommitAccepted(epoch: bigint): Promise<void> {
    const session = this.requireMember();
    const pending = this.pending;
    if (pending === undefined || pending.epoch !== epoch) {
      throw new CallMemberError('protocol-violation', 'commit-accepted for a commit this member did not send', true);
    }
    this.pending = undefined;
    await this.afterCommit(session.applyCommit(pending));
  }

  private async onCommit(epoch: bigint, bytes: Uint8Array): Promise<void> {
    const session = this.requireMember();
    if (this.pending?.epoch === epoch) this.pending = undefined; // another member's commit won this epoch
    let outcome: ProcessOutcome;
    try {
      outcome = await session.processMessage(bytes);
    } catch (error) {
      // The service accepted a commit this member cannot follow: it is out of the group's key schedule.
      throw new CallMemberError('mls-error', 'could not process the epoch commit', true, { cause: error });
    }
    await this.afterCommit(outcome);
  }

  private async afterCommit(outcome: ProcessOutcome): Promise<void> {
    if (outcome.kind !== 'commit') return;
    if (outcome.removed) {
      this.phase = 'removed';
      this.forget();
      this.emit('removed', { epoch: outcome.epoch });
      return;
    }
    if (outcome.healed) await this.announceEpoch();
  }

  private async announceEpoch(): Promise<void> {
    const session = this.requireMember();
    const sframeEpochSecret = await session.exportSFrameBaseKey(this.sframeSuite);
    this.emit('epoch', { epoch: session.epoch, ownLeafIndex: session.ownLeafIndex, sframeEpochSecret, roster: session.roster() });
  }

  private onTransportClosed(): void {
    if (this.phase === 'closed' || this.phase === 'removed' || this.phase === 'failed') return;
    this.fail(new CallMemberError('transport-closed', 'the connection to the key service closed', true));
  }

  private fail(error: CallMemberError): void {
    if (this.phase === 'closed' || this.phase === 'removed' || this.phase === 'failed') return;
    if (!error.fatal) {
      this.emit('error', error);
      return;
    }
    this.phase = 'failed';
    this.forget();
    if (this.started !== undefined) {
      this.started.reject(error);
      this.started = undefined;
    }
    this.emit('error', error);
  }

  private forget(): void {
    this.pending = undefined;
    this.keyPackage = undefined;
    this.session?.close();
  }

  private resolveStart(): void {
    this.started?.resolve();
    this.started = undefined;
  }

  private requireWaiting(): { keyService: ExternalSenderInfo; keyPackage: MemberKeyPackage } {
    if (this.phase !== 'waiting' || this.keyService === undefined || this.keyPackage === undefined) {
      throw new CallMemberError('protocol-violation', 'not waiting to join', true);
    }
    return { keyService: this.keyService, keyPackage: this.keyPackage };
  }

  private requireMember(): MlsSession {
    if (this.phase !== 'member' || this.session === undefined || !this.session.active) {
      throw new CallMemberError('protocol-violation', 'not a member of the group', true);
    }
    return this.session;
  }

  private validatorOption(): { validator?: CredentialValidator } {
    return this.validator === undefined ? {} : { validator: this.validator };
  }
}

function asMemberError(error: unknown): CallMemberError {
  if (error instanceof CallMemberError) return error;
  if (error instanceof MlsSessionError) return new CallMemberError('mls-error', error.message, true, { cause: error });
  return new CallMemberError('mls-error', 'unexpected failure', true, { cause: error });
}
