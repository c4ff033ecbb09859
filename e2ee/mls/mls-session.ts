import type { AuthenticationService, ClientState, Credential, IncomingMessageCallback, MlsContext, ProposalWithSender } from 'ts-mls';
import {
  clientStateDecoder,
  clientStateEncoder,
  contentTypes,
  createCommit,
  createGroup,
  defaultProposalTypes,
  encode,
  joinGroup,
  mlsExporter,
  processMessage,
  nodeTypes,
  senderTypes,
  wireformats,
  zeroOutUint8Array,
} from 'ts-mls';
import { SFRAME_MLS_EXPORTER_LABEL, sframeBaseKeyLength, DEFAULT_SFRAME_SUITE } from '../keys/constants.js';
import { bytesEqual, concatBytes } from './bytes.js';
import { mlsCipherSuite } from './ciphersuite.js';
import { createAuthService, type CredentialValidator } from './credential-validator.js';
import { fromLibraryError, MlsSessionError } from './errors.js';
import { checkGroupExternalSender, externalSendersExtensions, type ExternalSenderInfo } from './external-sender.js';
import { KEY_SERVICE_SENDER_INDEX } from './external-proposal.js';
import type { MemberKeyPackage } from './key-package.js';
import { decodeMlsMessage, encodeMlsMessage } from './mls-message.js';
import { decodeIdentity, encodeIdentity, identityFromCredential, isIssuedRecorder, isParticipantIdentity, type MemberKind } from './participant-credential.js';
import { consentSignContent } from './consent-statement.js';
import { recorderCredentialProblem } from './recorder-credential.js';
import { vector } from './tls.js';

/**
 * One member's MLS state for one call (RFC 9420), wrapped for this project's profile:
 *
 *  - The GroupContext carries exactly one extension, external_senders = [key service] (external-sender.ts).
 *  - Proposals are accepted ONLY from that external sender and ONLY Add or Remove (§12.1.8 lets an
 *    external sender propose more; ts-mls does not restrict it, so this class does, before ts-mls sees
 *    the message). Members send no proposals of their own.
 *  - Commits are PublicMessages (§6.2) so the delivery service can read them and pick one per epoch,
 *    and they may cover the key service's proposals only by reference — never proposals by value.
 *  - Credentials go through the CredentialValidator (credential-validator.ts), re-attached on load.
 *
 * The "unhealed epoch" rule. RFC 9420 §12.4 requires an UpdatePath in any commit that covers a Remove:
 * without one, the commit_secret is zero and the removed member, who knows the old init_secret, can
 * compute the new epoch's secrets. ts-mls 2.0.0-rc.10 omits the path when a commit covers exactly one
 * Remove (its `needsUpdatePath` tests `removes > 1`; 1.6.4 tests `> 0`). So this class marks an epoch
 * entered by a path-less commit covering a Remove as *unhealed*, and an epoch entered from an unhealed one
 * without a path stays unhealed. In an unhealed epoch:
 *    - no SFrame key is handed out for it (`healed` is false; CallMember keeps the previous key),
 *    - this member's next commit is an empty commit — which always carries an UpdatePath — dropping
 *      pending proposals (the delivery service re-proposes them in the next epoch),
 *    - a commit that would admit a joiner without a path is refused (a joiner must never enter an epoch
 *      the removed member can compute).
 * A committer also never combines a path-less Remove with an Add: it commits the Removes alone first.
 * When ts-mls emits the path itself, none of this triggers and a single commit does it all.
 *
 * Membership is fixed per leaf: a commit's UpdatePath may refresh the committer's HPKE keys but not
 * change its credential or signature key (RFC 9420 §7.3 allows both; this profile does not), so nobody
 * becomes a recorder — or stops being one — except by the key service's Add and Remove. Recorder
 * credentials must be issued by the key service for this very group (recorder-credential.ts).
 */

export interface RosterEntry {
  leafIndex: number;
  id: string;
  kind: MemberKind;
  name: string;
  /** A recorder's purpose, as the key service issued it (recorders only). */
  purpose?: string;
}

export interface MlsSessionOptions {
  /** The key service this member expects as the group's only external sender. */
  keyService: ExternalSenderInfo;
  validator?: CredentialValidator;
}

export type ProcessOutcome =
  | { kind: 'proposal'; proposalType: 'add' | 'remove' }
  | { kind: 'commit'; epoch: bigint; removed: boolean; healed: boolean }
  /** A handshake message of an earlier epoch: nothing to do (a commit superseded it). */
  | { kind: 'stale' };

/** A commit this member made, not yet applied: the delivery service decides whether it wins the epoch. */
export interface PendingCommit {
  /** The epoch the commit was made in. */
  readonly epoch: bigint;
  /** MLSMessage(PublicMessage) bytes of the commit. */
  readonly commit: Uint8Array;
  /** MLSMessage(Welcome) bytes for the joiners it adds (the ratchet tree is in the GroupInfo). */
  readonly welcome: Uint8Array | undefined;
  readonly covers: { adds: number; removes: number };
  /** @internal */ readonly newState: ClientState;
  /** @internal */ readonly healed: boolean;
  /** @internal */ readonly consumed: Uint8Array[];
}

const STATE_FORMAT = 1;

export class MlsSession {
  private state: ClientState | undefined;
  private healedEpoch: boolean;
  private readonly context: MlsContext;

  private constructor(
    state: ClientState,
    healed: boolean,
    private readonly keyService: ExternalSenderInfo,
    auth: SessionAuth,
    cipherSuite: MlsContext['cipherSuite'],
  ) {
    this.state = state;
    this.healedEpoch = healed;
    auth.group.groupId = state.groupContext.groupId;
    this.context = { cipherSuite, authService: auth.service };
  }

  /** Creates a new group (epoch 0) whose only external sender is the key service (RFC 9420 §11). */
  static async create(params: MlsSessionOptions & { groupId: Uint8Array; keyPackage: MemberKeyPackage }): Promise<MlsSession> {
    const { groupId, keyPackage, keyService } = params;
    if (!(groupId instanceof Uint8Array) || groupId.length === 0) throw new MlsSessionError('bad-argument', 'groupId must be non-empty bytes');
    const cs = await mlsCipherSuite();
    const auth = authServiceFor(params);
    auth.group.groupId = groupId;
    let state: ClientState;
    try {
      state = await createGroup({
        context: { cipherSuite: cs, authService: auth.service },
        groupId,
        keyPackage: keyPackage.keyPackage,
        privateKeyPackage: keyPackage.privateKeys,
        extensions: externalSendersExtensions(keyService),
      });
    } catch (error) {
      throw fromLibraryError(error, 'create group', 'invalid-group');
    }
    return new MlsSession(state, true, keyService, auth, cs);
  }

  /**
   * Joins from a Welcome (RFC 9420 §12.4.3.1), checking the group names exactly the key service. The
   * ratchet tree travels inside the Welcome's GroupInfo (ratchet_tree extension, §12.4.3.3): commits
   * are made with it, so no out-of-band tree is needed.
   */
  static async join(params: MlsSessionOptions & { welcome: Uint8Array; keyPackage: MemberKeyPackage }): Promise<MlsSession> {
    const { keyService, keyPackage } = params;
    const message = decodeMlsMessage(params.welcome);
    if (message.wireformat !== wireformats.mls_welcome) throw new MlsSessionError('malformed-message', 'not a Welcome');
    const cs = await mlsCipherSuite();
    const auth = authServiceFor(params); // group unknown until the Welcome is opened: checked below
    let state: ClientState;
    try {
      state = await joinGroup({
        context: { cipherSuite: cs, authService: auth.service },
        welcome: message.welcome,
        keyPackage: keyPackage.keyPackage,
        privateKeys: keyPackage.privateKeys,
      });
    } catch (error) {
      throw fromLibraryError(error, 'join group', 'invalid-credential');
    }
    checkGroupExternalSender(state.groupContext.extensions, keyService);
    // Recorder credentials were checked while joining without the group id: now with it.
    for (const node of state.ratchetTree) {
      if (node === undefined || node.nodeType !== nodeTypes.leaf) continue;
      const identity = identityFromCredential(node.leaf.credential);
      if (!isIssuedRecorder(identity)) continue;
      const problem = await recorderCredentialProblem(identity, node.leaf.signaturePublicKey, {
        keyService,
        groupId: state.groupContext.groupId,
        nowSec: Math.floor(Date.now() / 1000),
      });
      if (problem !== undefined) {
        wipe(state);
        throw new MlsSessionError('invalid-credential', problem);
      }
    }
    // The delivery service admits joiners only into healed epochs (see the class comment).
    return new MlsSession(state, true, keyService, auth, cs);
  }

  /**
   * Restores a session saved with `save()`. The credential validator is not part of the saved state
   * (ts-mls keeps the AuthenticationService outside ClientState): it is attached again here.
   */
  static async load(bytes: Uint8Array, options: { validator?: CredentialValidator } = {}): Promise<MlsSession> {
    if (!(bytes instanceof Uint8Array) || bytes.length < 3 || bytes[0] !== STATE_FORMAT) {
      throw new MlsSessionError('malformed-message', 'not a saved MLS session');
    }
    const healed = bytes[1] === 1;
    if (bytes[1] !== 0 && bytes[1] !== 1) throw new MlsSessionError('malformed-message', 'not a saved MLS session');
    let offset = 2;
    const readVector = (): Uint8Array => {
      const first = bytes[offset];
      if (first === undefined) throw new MlsSessionError('malformed-message', 'saved session is truncated');
      const prefix = first >> 6 === 0 ? 1 : first >> 6 === 1 ? 2 : first >> 6 === 2 ? 4 : 0;
      if (prefix === 0 || offset + prefix > bytes.length) throw new MlsSessionError('malformed-message', 'saved session is truncated');
      let length = first & 0x3f;
      for (let i = 1; i < prefix; i++) length = length * 256 + bytes[offset + i]!;
      const start = offset + prefix;
      if (start + length > bytes.length) throw new MlsSessionError('malformed-message', 'saved session is truncated');
      offset = start + length;
      return bytes.subarray(start, start + length);
    };
    const signaturePublicKey = readVector().slice();
    const identity = decodeIdentity(readVector());
    if (identity.kind !== 'key-service') throw new MlsSessionError('malformed-message', 'saved key service identity is not a key service');
    const decoded = clientStateDecoder(bytes, offset);
    if (decoded === undefined || offset + decoded[1] !== bytes.length) throw new MlsSessionError('malformed-message', 'saved MLS state does not decode');
    const keyService: ExternalSenderInfo = { signaturePublicKey, identity };
    const cs = await mlsCipherSuite();
    const auth = authServiceFor({ keyService, ...(options.validator === undefined ? {} : { validator: options.validator }) });
    return new MlsSession(decoded[0], healed, keyService, auth, cs);
  }

  /**
   * The whole session as bytes, including private keys: store it only where key material may live
   * (never in logs, Redis or job data; ARCHITECTURE.md I5).
   */
  save(): Uint8Array {
    const state = this.requireState();
    return concatBytes(
      Uint8Array.of(STATE_FORMAT, this.healedEpoch ? 1 : 0),
      vector(this.keyService.signaturePublicKey),
      vector(encodeIdentity(this.keyService.identity)),
      encode(clientStateEncoder, state),
    );
  }

  get active(): boolean {
    return this.state !== undefined;
  }

  get epoch(): bigint {
    return this.requireState().groupContext.epoch;
  }

  get groupId(): Uint8Array {
    return this.requireState().groupContext.groupId.slice();
  }

  get ownLeafIndex(): number {
    return this.requireState().privatePath.leafIndex;
  }

  /** False while the current epoch may be known to a member removed without an UpdatePath. */
  get healed(): boolean {
    return this.healedEpoch;
  }

  /** How many accepted proposals wait for a commit. */
  get pendingProposals(): number {
    return this.state === undefined ? 0 : Object.keys(this.state.unappliedProposals).length;
  }

  /** Leaf index → identity, from the ratchet tree (RFC 9420 §7.1); leaves are even node indices. */
  roster(): RosterEntry[] {
    const state = this.state;
    if (state === undefined) return [];
    const entries: RosterEntry[] = [];
    state.ratchetTree.forEach((node, nodeIndex) => {
      if (node === undefined || node.nodeType !== nodeTypes.leaf) return;
      const identity = identityFromCredential(node.leaf.credential); // validated on the way in
      if (!isParticipantIdentity(identity)) return;
      const entry: RosterEntry = { leafIndex: nodeIndex / 2, id: identity.id, kind: identity.kind, name: identity.name };
      if (isIssuedRecorder(identity)) entry.purpose = identity.issuance.purpose;
      entries.push(entry);
    });
    return entries;
  }

  /**
   * The epoch's SFrame base_key, MLS-Exporter("SFrame 1.0 Base Key", "", AEAD.Nk) (RFC 9605 §5.2;
   * RFC 9420 §8.5 for the exporter). Refused in an unhealed epoch.
   */
  async exportSFrameBaseKey(sframeSuite: number = DEFAULT_SFRAME_SUITE): Promise<Uint8Array> {
    const state = this.requireState();
    const length = sframeBaseKeyLength(sframeSuite);
    if (length === undefined) throw new MlsSessionError('bad-argument', 'unknown SFrame cipher suite');
    if (!this.healedEpoch) throw new MlsSessionError('invalid-state', 'no SFrame key for an unhealed epoch');
    return mlsExporter(state.keySchedule.exporterSecret, SFRAME_MLS_EXPORTER_LABEL, new Uint8Array(0), length, this.context.cipherSuite);
  }

  /**
   * Processes a handshake message from the delivery service: an external proposal of the key service,
   * or another member's commit. Throws MlsSessionError (state unchanged) for anything refused.
   */
  async processMessage(bytes: Uint8Array): Promise<ProcessOutcome> {
    const state = this.requireState();
    const message = decodeMlsMessage(bytes);
    if (message.wireformat !== wireformats.mls_public_message) {
      throw new MlsSessionError('malformed-message', 'handshake messages must be PublicMessages in this profile');
    }
    const content = message.publicMessage.content;
    if (!equalBytes(content.groupId, state.groupContext.groupId)) throw new MlsSessionError('wrong-group', 'message for another group');
    if (content.epoch < state.groupContext.epoch) return { kind: 'stale' };
    if (content.epoch > state.groupContext.epoch) throw new MlsSessionError('future-epoch', 'message for a later epoch');

    if (content.contentType === contentTypes.proposal) {
      // RFC 9420 §12.1.8: only the listed external sender; this profile: only it, only Add or Remove.
      if (content.sender.senderType !== senderTypes.external || content.sender.senderIndex !== KEY_SERVICE_SENDER_INDEX) {
        throw new MlsSessionError('refused-proposal', 'proposals are accepted only from the key service');
      }
      const type = content.proposal.proposalType;
      if (type !== defaultProposalTypes.add && type !== defaultProposalTypes.remove) {
        throw new MlsSessionError('refused-proposal', 'the key service may propose only Add or Remove');
      }
      // RFC 9420 §5.3.1: validate the joiner's credential now, not only when committing, so a refused
      // joiner (e.g. a recorder the key service did not issue for this group) never enters a commit.
      if (content.proposal.proposalType === defaultProposalTypes.add && 'add' in content.proposal) {
        const leaf = content.proposal.add.keyPackage.leafNode;
        if (!(await this.context.authService.validateCredential(leaf.credential, leaf.signaturePublicKey))) {
          throw new MlsSessionError('invalid-credential', "the proposed member's credential is refused");
        }
      }
      let result;
      try {
        result = await processMessageWith(this.context, state, message);
      } catch (error) {
        throw fromLibraryError(error, 'proposal', 'refused-proposal');
      }
      this.state = result.newState;
      return { kind: 'proposal', proposalType: type === defaultProposalTypes.add ? 'add' : 'remove' };
    }

    if (content.contentType !== contentTypes.commit) throw new MlsSessionError('malformed-message', 'application data is not expected here');
    if (content.sender.senderType !== senderTypes.member) throw new MlsSessionError('refused-commit', 'commits must come from members');
    const hasPath = content.commit.path !== undefined;
    if (content.commit.path !== undefined) {
      const current = state.ratchetTree[content.sender.leafIndex * 2];
      const next = content.commit.path.leafNode;
      if (
        current === undefined ||
        current.nodeType !== nodeTypes.leaf ||
        !bytesEqual(current.leaf.signaturePublicKey, next.signaturePublicKey) ||
        !sameCredential(current.leaf.credential, next.credential)
      ) {
        throw new MlsSessionError('refused-commit', "a commit may not change the committer's credential or signature key");
      }
    }
    let refusal: string | undefined;
    let covers = { adds: 0, removes: 0 };
    const callback: IncomingMessageCallback = (incoming) => {
      if (incoming.kind !== 'commit') return 'accept' as const;
      covers = countCovered(incoming.proposals);
      refusal = commitRefusal(incoming.proposals, hasPath, this.healedEpoch);
      return refusal === undefined ? ('accept' as const) : ('reject' as const);
    };
    let result;
    try {
      result = await processMessageWith(this.context, state, message, callback);
    } catch (error) {
      throw fromLibraryError(error, 'commit', 'refused-commit');
    }
    if (refusal !== undefined || result.kind !== 'newState' || result.actionTaken !== 'accept') {
      throw new MlsSessionError('refused-commit', refusal ?? 'commit refused');
    }
    const healed = hasPath || (this.healedEpoch && covers.removes === 0);
    return this.adopt(result.newState, healed, result.consumed);
  }

  /**
   * Commits the pending proposals (RFC 9420 §12.4) as a PublicMessage with the ratchet tree in the
   * Welcome's GroupInfo, without applying it: call `applyCommit` once the delivery service accepts it,
   * or drop it if another member's commit won the epoch. Returns undefined when this member should not
   * commit (its own removal is pending: §12.2 forbids committing it).
   *
   * `proposalRefs` (base64 ProposalRefs) limits the commit to the proposals the delivery service asked
   * for: it may withdraw a proposal (e.g. the recorder's Add after a revocation) or order Removes before
   * Adds. Without it, every pending proposal is committed.
   */
  async createCommit(proposalRefs?: readonly string[]): Promise<PendingCommit | undefined> {
    const state = this.requireState();
    const own = state.privatePath.leafIndex;
    const wanted = proposalRefs === undefined ? undefined : new Set(proposalRefs);
    const pending = Object.entries(state.unappliedProposals).filter(([ref]) => wanted === undefined || wanted.has(ref));
    if (pending.some(([, p]) => p.proposal.proposalType === defaultProposalTypes.remove && 'remove' in p.proposal && p.proposal.remove.removed === own)) {
      return undefined;
    }
    // Unhealed epoch: an empty commit, which always has an UpdatePath (see the class comment).
    let selected = this.healedEpoch ? pending : [];
    let made = await this.commitWith(state, selected);
    if (!made.hasPath && made.covers.removes > 0 && made.covers.adds > 0) {
      // Never admit a joiner in a commit the removed member could follow: Removes first, alone.
      selected = pending.filter(([, p]) => p.proposal.proposalType === defaultProposalTypes.remove);
      made = await this.commitWith(state, selected);
    }
    const healed = made.hasPath || (this.healedEpoch && made.covers.removes === 0);
    return {
      epoch: state.groupContext.epoch,
      commit: made.commit,
      welcome: made.welcome,
      covers: made.covers,
      newState: made.newState,
      healed,
      consumed: made.consumed,
    };
  }

  /**
   * The healing commit that follows `after` (this member's own path-less commit covering a Remove, not yet
   * accepted): an empty commit — which always carries an UpdatePath — made on the epoch `after` leads to.
   * Sending it right behind `after` (marked chained) saves a round trip to the delivery service, which
   * accepts it only if it accepted `after` (see the class comment on unhealed epochs).
   */
  async createHealingCommit(after: PendingCommit): Promise<PendingCommit | undefined> {
    const state = this.requireState();
    if (after.healed || after.epoch !== state.groupContext.epoch) return undefined;
    const made = await this.commitWith({ ...after.newState, unappliedProposals: {} }, []);
    if (!made.hasPath) return undefined;
    return {
      epoch: after.epoch + 1n,
      commit: made.commit,
      welcome: undefined,
      covers: made.covers,
      newState: made.newState,
      healed: true,
      consumed: made.consumed,
    };
  }

  /** Applies this member's own commit after the delivery service accepted it. */
  applyCommit(pending: PendingCommit): ProcessOutcome {
    const state = this.requireState();
    if (pending.epoch !== state.groupContext.epoch) throw new MlsSessionError('stale-epoch', 'the pending commit is for another epoch');
    return this.adopt(pending.newState, pending.healed, pending.consumed);
  }

  /**
   * Signs an encoded consent statement with this member's leaf signature key (consent-statement.ts), so
   * the key service can verify it against the leaf it tracks for this member.
   */
  async signConsentStatement(statementBytes: Uint8Array): Promise<Uint8Array> {
    const state = this.requireState();
    return this.context.cipherSuite.signature.sign(state.signaturePrivateKey, consentSignContent(statementBytes));
  }

  /** Forgets the group and zeroes the secrets this session held. */
  close(): void {
    const state = this.state;
    this.state = undefined;
    if (state !== undefined) wipe(state);
  }

  private async commitWith(state: ClientState, proposals: Array<[string, ProposalWithSender]>) {
    const selection: ClientState = { ...state, unappliedProposals: Object.fromEntries(proposals) };
    let result;
    try {
      result = await createCommit({ context: this.context, state: selection, wireAsPublicMessage: true, ratchetTreeExtension: true });
    } catch (error) {
      throw fromLibraryError(error, 'create commit', 'refused-commit');
    }
    if (result.commit.wireformat !== wireformats.mls_public_message) throw new MlsSessionError('mls-failure', 'commit is not a PublicMessage');
    return {
      commit: encodeMlsMessage(result.commit),
      welcome: result.welcome === undefined ? undefined : encodeMlsMessage(result.welcome),
      hasPath: result.commit.publicMessage.content.contentType === contentTypes.commit && result.commit.publicMessage.content.commit.path !== undefined,
      covers: countCovered(proposals.map(([, p]) => p)),
      newState: result.newState,
      consumed: result.consumed,
    };
  }

  private adopt(newState: ClientState, healed: boolean, consumed: Uint8Array[]): ProcessOutcome {
    const removed = newState.groupActiveState.kind === 'removedFromGroup';
    for (const secret of consumed) zeroOutUint8Array(secret);
    if (removed) {
      // Removed (RFC 9420 §12.2): keep nothing, not even the epoch the commit led to.
      this.state = undefined;
      wipe(newState);
      return { kind: 'commit', epoch: newState.groupContext.epoch, removed: true, healed: false };
    }
    this.state = newState;
    this.healedEpoch = healed;
    return { kind: 'commit', epoch: newState.groupContext.epoch, removed: false, healed };
  }

  private requireState(): ClientState {
    if (this.state === undefined) throw new MlsSessionError('invalid-state', 'this member is not in a group');
    return this.state;
  }
}

interface SessionAuth {
  service: AuthenticationService;
  /** The group recorder credentials must name; set once known. */
  group: { groupId: Uint8Array | undefined };
}

function authServiceFor(options: { keyService: ExternalSenderInfo; validator?: CredentialValidator }): SessionAuth {
  const keyService = options.keyService;
  const group: SessionAuth['group'] = { groupId: undefined };
  const service = createAuthService({
    keyService: () => keyService,
    groupId: () => group.groupId,
    ...(options.validator === undefined ? {} : { validator: options.validator }),
  });
  return { service, group };
}

function sameCredential(a: Credential, b: Credential): boolean {
  if (a.credentialType !== b.credentialType || !('identity' in a) || !('identity' in b)) return false;
  return bytesEqual(a.identity, b.identity);
}

async function processMessageWith(
  context: MlsContext,
  state: ClientState,
  message: ReturnType<typeof decodeMlsMessage>,
  callback?: IncomingMessageCallback,
) {
  if (message.wireformat !== wireformats.mls_public_message) throw new MlsSessionError('malformed-message', 'not a PublicMessage');
  return processMessage({ context, state, message, ...(callback === undefined ? {} : { callback }) });
}

function countCovered(proposals: ProposalWithSender[]): { adds: number; removes: number } {
  let adds = 0;
  let removes = 0;
  for (const p of proposals) {
    if (p.proposal.proposalType === defaultProposalTypes.add) adds++;
    else if (p.proposal.proposalType === defaultProposalTypes.remove) removes++;
  }
  return { adds, removes };
}

/** Why a commit breaks this profile, or undefined when it does not. */
function commitRefusal(proposals: ProposalWithSender[], hasPath: boolean, healed: boolean): string | undefined {
  for (const p of proposals) {
    // Referenced proposals keep their original sender; the key service's have no leaf index. A proposal
    // with a sender leaf index is one the committer put in by value (or a member proposal): refused.
    if (p.senderLeafIndex !== undefined) return 'commits may cover only the key service proposals, by reference';
    const type = p.proposal.proposalType;
    if (type !== defaultProposalTypes.add && type !== defaultProposalTypes.remove) return 'commits may cover only Add and Remove';
  }
  const { adds, removes } = countCovered(proposals);
  if (!hasPath && adds > 0 && (removes > 0 || !healed)) return 'an UpdatePath is required to admit a joiner after a removal';
  return undefined;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Best-effort zeroing of the epoch secrets a state holds (JavaScript cannot promise erasure). */
function wipe(state: ClientState): void {
  const ks = state.keySchedule as unknown as Record<string, Uint8Array>;
  for (const value of Object.values(ks)) if (value instanceof Uint8Array) zeroOutUint8Array(value);
  zeroOutUint8Array(state.signaturePrivateKey);
  for (const key of Object.values(state.privatePath.privateKeys)) if (key instanceof Uint8Array) zeroOutUint8Array(key);
}
