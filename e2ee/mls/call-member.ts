import { DEFAULT_SFRAME_SUITE, sframeBaseKeyLength } from '../keys/constants.js';
import type { CredentialValidator } from './credential-validator.js';
import { encodeConsentStatement, hashConsentText, newConsentNonce, type ConsentDecision } from './consent-statement.js';
import type { ClientMessage, ConsentRefusalReason, DeliveryErrorCode, RecordingPolicyNotice, RefusedWhat, ServerMessage } from './delivery-protocol.js';
import { TypedEmitter } from './emitter.js';
import { MlsSessionError } from './errors.js';
import { sameExternalSender, type ExternalSenderInfo } from './external-sender.js';
import { MemberKeyPackage } from './key-package.js';
import { MlsSession, type PendingCommit, type ProcessOutcome, type RosterEntry } from './mls-session.js';
import { identityProblem, type ParticipantIdentity } from './participant-credential.js';
import type { MemberSignatureKeys } from './signature-keys.js';

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
 *
 * Consent (ARCHITECTURE.md flow 3): `policy` fires with the room's recording policy; `consent(decision)`
 * signs a statement for exactly that policy with this member's leaf key and resolves when the key
 * service has recorded it (or rejects with `consent-refused` and the reason).
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
  | 'protocol-violation'
  /** The key service refused a consent statement (see `consentRefusal`), or there is no policy to consent to. */
  | 'consent-refused';

export class CallMemberError extends Error {
  override readonly name = 'CallMemberError';
  constructor(
    readonly code: CallMemberErrorCode,
    message: string,
    readonly fatal: boolean,
    options?: { cause?: unknown; serverCode?: DeliveryErrorCode; consentRefusal?: ConsentRefusalReason },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.serverCode = options?.serverCode;
    this.consentRefusal = options?.consentRefusal;
  }
  readonly serverCode: DeliveryErrorCode | undefined;
  readonly consentRefusal: ConsentRefusalReason | undefined;
}

export interface ConsentStatus {
  policyVersion: number;
  granted: number;
  required: number;
}

export interface ConsentReceipt {
  policyVersion: number;
  decision: ConsentDecision;
}

export interface CallMemberEvents {
  epoch: EpochUpdate;
  removed: { epoch: bigint };
  error: CallMemberError;
  policy: RecordingPolicyNotice;
  'consent-status': ConsentStatus;
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
  /** The signature key pair an issued recorder credential is bound to (required for one). */
  signatureKeys?: MemberSignatureKeys;
}

type Phase = 'idle' | 'authenticating' | 'waiting' | 'member' | 'removed' | 'closed' | 'failed';

export class CallMember extends TypedEmitter<CallMemberEvents> {
  private phase: Phase = 'idle';
  private session: MlsSession | undefined;
  private keyPackage: MemberKeyPackage | undefined;
  private keyService: ExternalSenderInfo | undefined;
  private pending: PendingCommit | undefined;
  /** A healing commit chained on `pending` (see MlsSession.createHealingCommit). */
  private pendingNext: PendingCommit | undefined;
  private queue: Promise<void> = Promise.resolve();
  private started: { resolve: () => void; reject: (error: Error) => void } | undefined;
  private readonly identity: ParticipantIdentity;
  private readonly transport: DeliveryTransport;
  private readonly validator: CredentialValidator | undefined;
  private readonly sframeSuite: number;
  private readonly signatureKeys: MemberSignatureKeys | undefined;
  private currentPolicy: RecordingPolicyNotice | undefined;
  private consentWaiters: Array<{ resolve: (receipt: ConsentReceipt) => void; reject: (error: CallMemberError) => void }> = [];

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
    if (options.identity.issuance !== undefined && options.signatureKeys === undefined) {
      throw new TypeError('options.signatureKeys: an issued recorder credential needs the keys it was issued for');
    }
    this.signatureKeys = options.signatureKeys;
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

  /** The room's recording policy as last announced by the key service. */
  get policy(): RecordingPolicyNotice | undefined {
    return this.currentPolicy;
  }

  /**
   * Grants or revokes consent to the current recording policy: a statement (consent-statement.ts) naming
   * this room, group, member, policy version, purpose and the SHA-256 of the statement text, signed with
   * this member's leaf signature key. Resolves when the key service recorded it.
   */
  consent(decision: ConsentDecision): Promise<ConsentReceipt> {
    if (decision !== 'grant' && decision !== 'revoke') return Promise.reject(new TypeError('decision must be grant or revoke'));
    return new Promise<ConsentReceipt>((resolve, reject) => {
      this.queue = this.queue.then(async () => {
        try {
          const session = this.requireMember();
          const policy = this.currentPolicy;
          if (policy === undefined) throw new CallMemberError('consent-refused', 'there is no recording policy to consent to', false, { consentRefusal: 'no-policy' });
          const statement = encodeConsentStatement({
            room: policy.room,
            groupId: session.groupId,
            memberId: this.identity.id,
            policyVersion: policy.version,
            purpose: policy.purpose,
            statementHash: await hashConsentText(policy.statement),
            decision,
            issuedAtMs: Date.now(),
            nonce: newConsentNonce(),
          });
          const signature = await session.signConsentStatement(statement);
          this.consentWaiters.push({ resolve, reject });
          this.transport.send({ type: 'consent', statement, signature });
        } catch (error) {
          reject(error instanceof CallMemberError ? error : new CallMemberError('consent-refused', 'could not sign the statement', false, { cause: error }));
        }
      });
    });
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
        return this.onCommitRequest(message.epoch, message.proposals);
      case 'commit-accepted':
        return this.onCommitAccepted(message.epoch);
      case 'commit-rejected':
        if (this.pending?.epoch === message.epoch) {
          this.pending = undefined;
          this.pendingNext = undefined; // built on the rejected commit
        }
        return;
      case 'commit':
        return this.onCommit(message.epoch, message.message);
      case 'error': {
        const error = new CallMemberError('server-error', message.message, message.fatal, { serverCode: message.code });
        if (message.fatal) this.fail(error);
        else this.emit('error', error);
        return;
      }
      case 'recording-policy':
        this.currentPolicy = { ...message.policy };
        this.emit('policy', { ...message.policy });
        return;
      case 'consent-status':
        this.emit('consent-status', { policyVersion: message.policyVersion, granted: message.granted, required: message.required });
        return;
      case 'consent-recorded':
        this.consentWaiters.shift()?.resolve({ policyVersion: message.policyVersion, decision: message.decision });
        return;
      case 'consent-refused':
        this.consentWaiters
          .shift()
          ?.reject(new CallMemberError('consent-refused', `the key service refused the statement: ${message.reason}`, false, { consentRefusal: message.reason }));
        return;
    }
  }

  private async onHelloOk(announced: ExternalSenderInfo): Promise<void> {
    if (this.phase !== 'authenticating') throw new CallMemberError('protocol-violation', 'unexpected hello-ok', true);
    if (this.keyService !== undefined && !sameExternalSender(this.keyService, announced)) {
      throw new CallMemberError('untrusted-key-service', 'the service announced an external sender other than the pinned one', true);
    }
    this.keyService = announced;
    this.keyPackage = await MemberKeyPackage.generate(this.identity, this.signatureKeys);
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
    try {
      this.session = await MlsSession.join({ welcome, keyPackage, keyService, ...this.validatorOption() });
    } catch (error) {
      this.report('welcome', error);
      throw error;
    }
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
      // A refused proposal (forged, wrong type, not from the key service, a credential the key service
      // did not issue) is dropped; the group goes on. The service is told, for its audit log.
      this.report('proposal', error);
      this.emit('error', new CallMemberError('mls-error', 'a proposal was refused', false, { cause: error }));
    }
  }

  private async onCommitRequest(epoch: bigint, proposals: string[] | undefined): Promise<void> {
    const session = this.requireMember();
    if (this.pending !== undefined || session.epoch !== epoch) return;
    const pending = await session.createCommit(proposals);
    if (pending === undefined) return;
    this.pending = pending;
    this.transport.send({
      type: 'commit',
      epoch: pending.epoch,
      commit: pending.commit,
      ...(pending.welcome === undefined ? {} : { welcome: pending.welcome }),
    });
    // A path-less Remove leaves the epoch unhealed: send the healing commit right behind it.
    if (!pending.healed && pending.covers.removes > 0) {
      const next = await session.createHealingCommit(pending);
      if (next === undefined || this.pending !== pending) return;
      this.pendingNext = next;
      this.transport.send({ type: 'commit', epoch: next.epoch, commit: next.commit, chained: true });
    }
  }

  private async onCommitAccepted(epoch: bigint): Promise<void> {
    const session = this.requireMember();
    const pending = this.pending;
    if (pending === undefined || pending.epoch !== epoch) {
      throw new CallMemberError('protocol-violation', 'commit-accepted for a commit this member did not send', true);
    }
    this.pending = this.pendingNext; // the chained healing commit, if any, now waits for its answer
    this.pendingNext = undefined;
    await this.afterCommit(session.applyCommit(pending));
  }

  private async onCommit(epoch: bigint, bytes: Uint8Array): Promise<void> {
    const session = this.requireMember();
    if (this.pending?.epoch === epoch) {
      // another member's commit won this epoch (and anything chained on ours is void)
      this.pending = undefined;
      this.pendingNext = undefined;
    }
    let outcome: ProcessOutcome;
    try {
      outcome = await session.processMessage(bytes);
    } catch (error) {
      // The service accepted a commit this member cannot follow: it is out of the group's key schedule.
      this.report('commit', error);
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

  /** Tells the service what this member refused (codes only), for its audit log. */
  private report(what: RefusedWhat, error: unknown): void {
    const code = error instanceof MlsSessionError ? error.code : 'mls-failure';
    try {
      this.transport.send({ type: 'refusal', what, code });
    } catch {
      // Reporting is best effort; the refusal itself has already happened.
    }
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
    this.pendingNext = undefined;
    this.keyPackage = undefined;
    this.session?.close();
    this.signatureKeys?.erase();
    const waiters = this.consentWaiters;
    this.consentWaiters = [];
    for (const waiter of waiters) waiter.reject(new CallMemberError('consent-refused', 'left the call before the key service answered', false, { consentRefusal: 'not-a-member' }));
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
