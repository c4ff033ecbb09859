import { randomBytes } from 'node:crypto';
import {
  createExternalProposal,
  encodeIdentity,
  inspectCommit,
  inspectWelcome,
  type CommitRejectReason,
  type CommitSummary,
  type DeliveryErrorCode,
  type ExternalSenderInfo,
  type MemberKind,
  type ReceivedKeyPackage,
  type ServerMessage,
} from '../e2ee/mls/index.js';
import type { AdmissionDecision, AdmissionPolicy, RoomView } from './admission-policy.js';
import type { ExternalSenderSigner } from './external-sender.js';
import type { Logger } from './logger.js';
import type { PlatformRole } from './tokens.js';

/**
 * One call's MLS group as the delivery service sees it (RFC 9420 §14, the Delivery Service; flow 2 of
 * ARCHITECTURE.md). The service is the group's only external sender: it proposes every Add and Remove,
 * asks one member to commit, accepts exactly one commit per epoch, fans it out and routes the Welcome.
 *
 * State it keeps: the group id and epoch, the roster (leaf index → {id, kind}) — which issue 4's
 * consent gating builds on — the joiners waiting for an Add, and the proposals of the current epoch by
 * ProposalRef. It never holds group secrets: it reads commits (PublicMessages) but cannot verify their
 * signatures or membership tags, which need the GroupContext only members have; members do that.
 *
 * Roster tracking follows RFC 9420 §12.3: a commit's Removes blank their leaves, then its Adds take the
 * leftmost blank leaf, extending the tree when none is blank (§7.7) — i.e. the smallest free index.
 *
 * Liveness: a commit request times out and passes to the next member; a member that disconnects is
 * proposed for removal; proposals a commit did not cover are proposed again in the next epoch; if no
 * member is left to commit, the group is dissolved and the next joiner creates a fresh one. Every event
 * runs through one queue per room, so a room's state changes one at a time.
 *
 * Healing (see e2ee/mls/mls-session.ts): after a path-less commit that covers a Remove, the epoch is
 * unhealed; the service then proposes nothing and asks for an empty commit, and refuses commits that
 * would admit a joiner without an UpdatePath.
 *
 * What a commit may cover: every commit request names the ProposalRefs it wants committed, and a commit
 * covering anything else is rejected. That is how the recording gate (issue 4) withdraws a recorder's Add
 * that a revocation overtook, and how a recorder's Remove goes first, alone, before any joiner is added
 * (ARCHITECTURE.md flow 7). A commit whose UpdatePath changes the committer's credential or signature
 * key is rejected too: nobody becomes (or stops being) a recorder except by the service's proposals.
 *
 * Observers (the recording gate) hear of every roster change inside the room's queue, and may act on
 * the room through `expel` and `withdrawJoiner`, also run through the queue.
 */

/** The service's handle on one client connection. */
export interface ClientLink {
  readonly connectionId: string;
  send(message: ServerMessage): void;
  close(code: number, reason: string): void;
}

export interface Principal {
  subject: string;
  role: PlatformRole;
}

interface Joiner {
  link: ClientLink;
  id: string;
  kind: MemberKind;
  role: PlatformRole;
  keyPackage: ReceivedKeyPackage;
  admitted: boolean;
}

interface Member {
  leafIndex: number;
  id: string;
  kind: MemberKind;
  role: PlatformRole;
  signatureKey: string;
  /** The canonical identity bytes of its credential (base64): a commit may not change them. */
  credential: string;
  link: ClientLink | undefined;
  leaving: boolean;
  /** Why the service itself removes this member (the recording gate), if it does. */
  expelled: string | undefined;
}

/** What the room tells an observer (the recording gate); called inside the room's queue. */
export interface RoomObserver {
  /** The roster, the waiting joiners or the epoch changed (including the group being dissolved). */
  changed(room: Room): void | Promise<void>;
  /** A member's connection is now in the group: the observer may send it messages (the policy). */
  memberReady(room: Room, link: ClientLink, member: { leafIndex: number; id: string; kind: MemberKind }): void | Promise<void>;
  /** A commit was rejected or a connection refused: for the audit log. */
  refused?(room: Room, what: { kind: 'commit' | 'connection'; code: string; memberId?: string }): void | Promise<void>;
}

/** A member as the recording gate sees it. */
export interface RoomMemberView {
  leafIndex: number;
  id: string;
  kind: MemberKind;
  role: PlatformRole;
  /** Base64 of the leaf signature public key: consent statements are verified against it. */
  signatureKey: string;
  connected: boolean;
  leaving: boolean;
  expelled: boolean;
}

export interface RoomJoinerView {
  id: string;
  kind: MemberKind;
  role: PlatformRole;
  signatureKey: string;
  /** Its Add is proposed (not yet committed). */
  proposed: boolean;
}

type PendingProposal = { kind: 'add'; joiner: Joiner } | { kind: 'remove'; leafIndex: number };

export interface RoomSnapshot {
  roomId: string;
  phase: 'empty' | 'creating' | 'active';
  epoch: bigint;
  healed: boolean;
  members: Array<{ leafIndex: number; id: string; kind: MemberKind; connected: boolean; leaving: boolean }>;
  joinersWaiting: number;
  pendingProposals: number;
}

export interface RoomOptions {
  roomId: string;
  signer: ExternalSenderSigner;
  policy: AdmissionPolicy;
  logger: Logger;
  commitTimeoutMs: number;
  /** Called when the room holds nobody any more. */
  onEmpty: () => void;
  observer?: RoomObserver;
}

/** Close codes (RFC 6455 §7.4): 1000 normal (removed from the group), 1008 policy violation. */
export const CLOSE_NORMAL = 1000;
export const CLOSE_POLICY = 1008;

export class Room {
  readonly roomId: string;
  private phase: 'empty' | 'creating' | 'active' = 'empty';
  private groupId: Uint8Array = new Uint8Array(0);
  private epoch = 0n;
  private healed = true;
  private creator: Joiner | undefined;
  private readonly members = new Map<number, Member>();
  private joiners: Joiner[] = [];
  private proposals = new Map<string, PendingProposal>();
  private commitRequest: { leafIndex: number; timer: NodeJS.Timeout } | undefined;
  /** Why members removed by the last commits left (read once by the recording gate). */
  private readonly departures = new Map<string, 'expelled' | 'left' | 'disconnected'>();
  /** Who committed the last accepted epoch (chained commits build on it). */
  private lastCommit: { epoch: bigint; leafIndex: number } | undefined;
  private triedCommitters = new Set<number>();
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly externalSender: ExternalSenderInfo;

  constructor(private readonly options: RoomOptions) {
    this.roomId = options.roomId;
    this.externalSender = { signaturePublicKey: options.signer.signaturePublicKey, identity: options.signer.identity };
  }

  /** Runs `task` after every earlier event of this room; a failing task never stops the queue. */
  run(task: () => void | Promise<void>): Promise<void> {
    const next = this.queue.then(async () => {
      if (this.closed) return;
      await task();
    });
    this.queue = next.catch((error: unknown) => {
      this.options.logger.error({ roomId: this.roomId, err: errorName(error) }, 'room event failed');
    });
    return this.queue;
  }

  snapshot(): RoomSnapshot {
    return {
      roomId: this.roomId,
      phase: this.phase,
      epoch: this.epoch,
      healed: this.healed,
      members: [...this.members.values()]
        .sort((a, b) => a.leafIndex - b.leafIndex)
        .map((m) => ({ leafIndex: m.leafIndex, id: m.id, kind: m.kind, connected: m.link !== undefined, leaving: m.leaving })),
      joinersWaiting: this.joiners.length + (this.creator === undefined ? 0 : 1),
      pendingProposals: this.proposals.size,
    };
  }

  get isEmpty(): boolean {
    return this.members.size === 0 && this.joiners.length === 0 && this.creator === undefined;
  }

  /** Signature keys present in the room: a joiner must bring a fresh one (ts-mls refuses duplicates). */
  hasSignatureKey(key: string): boolean {
    if ([...this.members.values()].some((m) => m.signatureKey === key)) return true;
    if (this.creator?.keyPackage.signaturePublicKey && b64(this.creator.keyPackage.signaturePublicKey) === key) return true;
    return this.joiners.some((j) => b64(j.keyPackage.signaturePublicKey) === key);
  }

  /** The group's id (empty before the first member created it). */
  get currentGroupId(): Uint8Array {
    return this.groupId.slice();
  }

  get currentEpoch(): bigint {
    return this.epoch;
  }

  get isHealed(): boolean {
    return this.healed;
  }

  get isActive(): boolean {
    return this.phase === 'active';
  }

  memberViews(): RoomMemberView[] {
    return [...this.members.values()]
      .sort((a, b) => a.leafIndex - b.leafIndex)
      .map((m) => ({
        leafIndex: m.leafIndex,
        id: m.id,
        kind: m.kind,
        role: m.role,
        signatureKey: m.signatureKey,
        connected: m.link !== undefined,
        leaving: m.leaving,
        expelled: m.expelled !== undefined,
      }));
  }

  joinerViews(): RoomJoinerView[] {
    const proposed = new Set([...this.proposals.values()].flatMap((p) => (p.kind === 'add' ? [p.joiner] : [])));
    const all = this.creator === undefined ? this.joiners : [this.creator, ...this.joiners];
    return all.map((j) => ({ id: j.id, kind: j.kind, role: j.role, signatureKey: b64(j.keyPackage.signaturePublicKey), proposed: proposed.has(j) }));
  }

  /**
   * Why the member with this id was removed from the group (and forgets it): expelled by the service,
   * left (it said `leave`), or disconnected (its connection dropped without a word — a crash).
   */
  takeDeparture(memberId: string): 'expelled' | 'left' | 'disconnected' | undefined {
    const reason = this.departures.get(memberId);
    this.departures.delete(memberId);
    return reason;
  }

  /** The connection of a member, to send it messages (the gate's policy notices). */
  linkOf(leafIndex: number): ClientLink | undefined {
    return this.members.get(leafIndex)?.link;
  }

  /** The member a connection belongs to. */
  memberOf(link: ClientLink): RoomMemberView | undefined {
    const member = this.memberByLink(link);
    return member === undefined ? undefined : this.memberViews().find((m) => m.leafIndex === member.leafIndex);
  }

  /** Sends a message to every connected member. */
  broadcast(message: ServerMessage): void {
    for (const member of this.members.values()) member.link?.send(message);
  }

  // ---- commands of the recording gate (run them through `run`) ---------------------------------------

  /** Proposes the removal of a member at once (the recorder, when consent no longer holds). */
  async expel(leafIndex: number, reason: string): Promise<boolean> {
    const member = this.members.get(leafIndex);
    if (member === undefined || this.phase !== 'active') return false;
    if (member.expelled === undefined) {
      member.expelled = reason;
      this.options.logger.info({ roomId: this.roomId, leafIndex, reason }, 'member expelled');
    }
    await this.scheduleWork();
    return true;
  }

  /**
   * Withdraws waiting joiners (a recorder whose authorization ended before its Add was committed): their
   * Add proposals, if made, are withdrawn — the next commit request leaves them out, and a commit still
   * covering one is rejected — and their connections are refused.
   */
  async withdrawJoiners(which: (joiner: RoomJoinerView) => boolean, code: DeliveryErrorCode, message: string): Promise<number> {
    const views = this.joinerViews();
    const withdrawn = this.joiners.filter((_, i) => which(views[this.creator === undefined ? i : i + 1]!));
    if (withdrawn.length === 0) return 0;
    this.joiners = this.joiners.filter((j) => !withdrawn.includes(j));
    let changedProposals = false;
    for (const [ref, proposal] of this.proposals) {
      if (proposal.kind === 'add' && withdrawn.includes(proposal.joiner)) {
        this.proposals.delete(ref);
        changedProposals = true;
      }
    }
    for (const joiner of withdrawn) this.refuse(joiner.link, code, message);
    if (changedProposals && this.commitRequest !== undefined) {
      // Ask again with the new list; a commit made from the old request is rejected when it arrives.
      const leafIndex = this.commitRequest.leafIndex;
      this.clearCommitRequest();
      this.triedCommitters.delete(leafIndex);
    }
    await this.scheduleWork();
    return withdrawn.length;
  }

  // ---- events --------------------------------------------------------------------------------------

  /** A connection presented a valid KeyPackage matching its token. */
  async admit(link: ClientLink, principal: Principal, keyPackage: ReceivedKeyPackage): Promise<void> {
    if (this.hasSignatureKey(b64(keyPackage.signaturePublicKey))) {
      this.refuse(link, 'duplicate-key', 'this signature key is already in the room');
      return;
    }
    if (keyPackage.identity.kind === 'recorder' && this.phase !== 'active') {
      // A recorder never starts a call: its credential names a group that must exist (flow 5).
      this.refuse(link, 'refused-by-policy', 'a recorder can only join a call in progress');
      return;
    }
    const joiner: Joiner = { link, id: keyPackage.identity.id, kind: keyPackage.identity.kind, role: principal.role, keyPackage, admitted: false };
    if (this.phase === 'empty') {
      this.startCreating(joiner);
      return;
    }
    this.joiners.push(joiner);
    link.send({ type: 'awaiting-welcome' });
    await this.options.observer?.changed(this);
    await this.scheduleWork();
  }

  async groupCreated(link: ClientLink, groupId: Uint8Array): Promise<void> {
    const creator = this.creator;
    if (this.phase !== 'creating' || creator === undefined || creator.link !== link) {
      this.refuse(link, 'unexpected-message', 'group-created from a connection that was not asked to create the group');
      return;
    }
    if (!equalBytes(groupId, this.groupId)) {
      this.refuse(link, 'unexpected-message', 'group-created names another group id');
      return;
    }
    this.creator = undefined;
    this.phase = 'active';
    this.epoch = 0n;
    this.healed = true;
    this.members.set(0, memberFrom(creator, 0));
    this.options.logger.info({ roomId: this.roomId, connectionId: link.connectionId, epoch: '0' }, 'group created');
    await this.options.observer?.memberReady(this, link, { leafIndex: 0, id: creator.id, kind: creator.kind });
    await this.options.observer?.changed(this);
    await this.scheduleWork();
  }

  async commit(link: ClientLink, claimedEpoch: bigint, commitBytes: Uint8Array, welcomeBytes: Uint8Array | undefined, chained = false): Promise<void> {
    const member = this.memberByLink(link);
    const reject = (reason: CommitRejectReason) => {
      link.send({ type: 'commit-rejected', epoch: claimedEpoch, reason });
      this.options.logger.info({ roomId: this.roomId, connectionId: link.connectionId, reason }, 'commit rejected');
      // The member asked to commit made a commit from an outdated request (a proposal was withdrawn
      // meanwhile): ask it again with the current list, right after the rejection.
      if (reason === 'unknown-proposal' && member !== undefined && this.commitRequest?.leafIndex === member.leafIndex && claimedEpoch === this.epoch) {
        link.send({ type: 'commit-request', epoch: this.epoch, proposals: this.committableRefs() });
      }
      void this.options.observer?.refused?.(this, { kind: 'commit', code: reason, ...(member === undefined ? {} : { memberId: member.id }) });
    };
    if (this.phase !== 'active' || member === undefined) return reject('not-a-member');
    let summary: CommitSummary;
    try {
      summary = inspectCommit(commitBytes);
    } catch {
      return reject('malformed-commit');
    }
    if (!equalBytes(summary.groupId, this.groupId)) return reject('malformed-commit');
    if (summary.epoch !== this.epoch || claimedEpoch !== this.epoch) return reject('stale-epoch');
    if (summary.committerLeafIndex !== member.leafIndex) return reject('not-a-member');
    // A chained commit builds on its sender's own commit for the epoch before: only if that one won.
    if (chained && (this.lastCommit?.epoch !== this.epoch - 1n || this.lastCommit.leafIndex !== member.leafIndex)) return reject('broken-chain');
    if (summary.inlineProposalTypes.length > 0) return reject('inline-proposal');
    if (new Set(summary.proposalRefs).size !== summary.proposalRefs.length) return reject('malformed-commit');
    if (summary.pathLeaf !== undefined) {
      const identity = summary.pathLeaf.credentialIdentity;
      if (b64(summary.pathLeaf.signaturePublicKey) !== member.signatureKey || identity === undefined || b64(identity) !== member.credential) {
        return reject('leaf-changed');
      }
    }
    const committable = new Set(this.committableRefs());
    const covered: PendingProposal[] = [];
    for (const ref of summary.proposalRefs) {
      const proposal = this.proposals.get(ref);
      if (proposal === undefined || !committable.has(ref)) return reject('unknown-proposal');
      covered.push(proposal);
    }
    const removes = covered.filter((p): p is { kind: 'remove'; leafIndex: number } => p.kind === 'remove');
    const adds = covered.filter((p): p is { kind: 'add'; joiner: Joiner } => p.kind === 'add');
    if (removes.some((p) => p.leafIndex === member.leafIndex)) return reject('self-removal');
    if (!summary.hasPath && (!this.healed || (adds.length > 0 && removes.length > 0))) return reject('path-required');
    if (adds.length > 0) {
      if (welcomeBytes === undefined) return reject('welcome-mismatch');
      let refs: string[];
      try {
        refs = inspectWelcome(welcomeBytes).newMemberRefs;
      } catch {
        return reject('welcome-mismatch');
      }
      const expected = adds.map((a) => a.joiner.keyPackage.ref).sort();
      if (refs.length !== expected.length || [...refs].sort().some((r, i) => r !== expected[i])) return reject('welcome-mismatch');
    } else if (welcomeBytes !== undefined) {
      return reject('welcome-mismatch');
    }

    // Accepted: the epoch's one commit (RFC 9420 §14: the DS orders handshake messages).
    const epoch = this.epoch;
    this.clearCommitRequest();
    for (const other of this.members.values()) {
      if (other === member || other.link === undefined) continue;
      other.link.send({ type: 'commit', epoch, message: commitBytes });
    }
    link.send({ type: 'commit-accepted', epoch });

    // RFC 9420 §12.3: Removes first, then Adds at the leftmost free leaf, in commit order.
    for (const removal of removes) {
      const removed = this.members.get(removal.leafIndex);
      this.members.delete(removal.leafIndex);
      if (removed !== undefined) {
        this.departures.set(removed.id, removed.expelled !== undefined ? 'expelled' : removed.leaving ? 'left' : 'disconnected');
      }
      if (removed?.link !== undefined) removed.link.close(CLOSE_NORMAL, 'removed from the group');
    }
    const added: Array<{ link: ClientLink; leafIndex: number; id: string; kind: MemberKind }> = [];
    for (const add of adds) {
      const leafIndex = this.freeLeafIndex();
      this.members.set(leafIndex, memberFrom(add.joiner, leafIndex));
      this.joiners = this.joiners.filter((j) => j !== add.joiner);
      add.joiner.link.send({ type: 'welcome', welcome: welcomeBytes! });
      added.push({ link: add.joiner.link, leafIndex, id: add.joiner.id, kind: add.joiner.kind });
    }
    this.lastCommit = { epoch, leafIndex: member.leafIndex };
    this.epoch = epoch + 1n;
    this.healed = summary.hasPath || (this.healed && removes.length === 0);
    this.proposals = new Map();
    this.triedCommitters = new Set();
    this.options.logger.info(
      { roomId: this.roomId, epoch: this.epoch.toString(), committer: member.leafIndex, adds: adds.length, removes: removes.length, healed: this.healed },
      'commit accepted',
    );
    for (const joined of added) await this.options.observer?.memberReady(this, joined.link, { leafIndex: joined.leafIndex, id: joined.id, kind: joined.kind });
    await this.options.observer?.changed(this);
    await this.scheduleWork();
  }

  /** A member asked to leave (or a joiner gave up): propose its removal. */
  async leave(link: ClientLink): Promise<void> {
    const member = this.memberByLink(link);
    if (member !== undefined) {
      member.leaving = true;
      // Observers learn that the departure is deliberate (a recorder finishing, not crashing).
      await this.options.observer?.changed(this);
      await this.scheduleWork();
      return;
    }
    await this.disconnected(link);
  }

  /** A connection closed. Members are proposed for removal; joiners and creators are forgotten. */
  async disconnected(link: ClientLink): Promise<void> {
    const member = this.memberByLink(link);
    if (member !== undefined) {
      member.link = undefined;
      this.options.logger.info({ roomId: this.roomId, connectionId: link.connectionId, leafIndex: member.leafIndex }, 'member disconnected');
      if (this.commitRequest?.leafIndex === member.leafIndex) this.clearCommitRequest();
    } else if (this.creator?.link === link) {
      this.creator = undefined;
      this.resetGroup();
    } else {
      this.joiners = this.joiners.filter((j) => j.link !== link);
    }
    await this.options.observer?.changed(this);
    await this.scheduleWork();
  }

  /** Stops timers; the room accepts no further events. */
  close(): void {
    this.clearCommitRequest();
    this.closed = true;
  }

  // ---- internals -----------------------------------------------------------------------------------

  private startCreating(joiner: Joiner): void {
    this.phase = 'creating';
    this.lastCommit = undefined;
    this.creator = joiner;
    this.groupId = new Uint8Array(randomBytes(16));
    this.epoch = 0n;
    this.healed = true;
    joiner.link.send({ type: 'create-group', groupId: this.groupId, externalSender: this.externalSender });
    this.options.logger.info({ roomId: this.roomId, connectionId: joiner.link.connectionId }, 'asked to create the group');
  }

  /** Dissolves the group (no member left who could commit); the next joiner creates a new one. */
  private resetGroup(): void {
    this.clearCommitRequest();
    for (const member of this.members.values()) member.link?.close(CLOSE_NORMAL, 'the group ended');
    this.members.clear();
    this.proposals = new Map();
    this.triedCommitters = new Set();
    this.phase = 'empty';
    this.creator = undefined;
    this.options.logger.info({ roomId: this.roomId }, 'group dissolved');
    const next = this.joiners.shift();
    if (next !== undefined) {
      next.admitted = false;
      this.startCreating(next);
    }
  }

  /** Proposes what the roster needs and makes sure one member is asked to commit it. */
  private async scheduleWork(): Promise<void> {
    if (this.phase === 'active') {
      const committers = this.eligibleCommitters();
      if (committers.length === 0) {
        this.resetGroup();
        await this.options.observer?.changed(this);
      } else if (this.healed) {
        await this.proposeRemovals();
        await this.proposeAdds();
      }
      if (this.phase === 'active' && (this.proposals.size > 0 || !this.healed)) this.requestCommit();
    }
    if (this.isEmpty && this.phase !== 'creating') {
      this.close();
      this.options.onEmpty();
    }
  }

  private async proposeRemovals(extra: number[] = []): Promise<void> {
    const pendingRemovals = new Set([...this.proposals.values()].flatMap((p) => (p.kind === 'remove' ? [p.leafIndex] : [])));
    const wanted = [...this.members.values()].filter((m) => m.link === undefined || m.leaving || m.expelled !== undefined).map((m) => m.leafIndex);
    for (const leafIndex of [...wanted, ...extra]) {
      if (pendingRemovals.has(leafIndex) || !this.members.has(leafIndex)) continue;
      pendingRemovals.add(leafIndex);
      await this.propose({ kind: 'remove', leafIndex });
    }
  }

  private async proposeAdds(): Promise<void> {
    const pendingAdds = new Set([...this.proposals.values()].flatMap((p) => (p.kind === 'add' ? [p.joiner] : [])));
    for (const joiner of [...this.joiners]) {
      if (pendingAdds.has(joiner)) continue;
      if (!joiner.admitted) {
        let decision: AdmissionDecision;
        try {
          decision = await this.options.policy.beforeAdmit(this.view(), {
            id: joiner.id,
            kind: joiner.kind,
            role: joiner.role,
            signatureKey: b64(joiner.keyPackage.signaturePublicKey),
          });
        } catch {
          decision = { admit: false, reason: 'admission-policy-failed' };
        }
        if (!this.joiners.includes(joiner)) continue; // left while the policy decided
        if (!decision.admit) {
          this.joiners = this.joiners.filter((j) => j !== joiner);
          this.refuse(joiner.link, 'refused-by-policy', decision.reason);
          await this.options.observer?.changed(this);
          continue;
        }
        joiner.admitted = true;
        if (decision.alsoRemove !== undefined && decision.alsoRemove.length > 0) await this.proposeRemovals(decision.alsoRemove);
      }
      await this.propose({ kind: 'add', joiner });
    }
  }

  private async propose(proposal: PendingProposal): Promise<void> {
    const signed = await createExternalProposal({
      groupId: this.groupId,
      epoch: this.epoch,
      proposal: proposal.kind === 'add' ? { kind: 'add', keyPackage: proposal.joiner.keyPackage } : proposal,
      signer: this.options.signer,
    });
    this.proposals.set(signed.ref, proposal);
    for (const member of this.members.values()) member.link?.send({ type: 'proposal', epoch: this.epoch, message: signed.message });
    this.options.logger.info(
      { roomId: this.roomId, epoch: this.epoch.toString(), proposal: proposal.kind, ...(proposal.kind === 'remove' ? { leafIndex: proposal.leafIndex } : {}) },
      'proposed',
    );
  }

  /** Members that can commit: connected, not leaving, not about to be removed, not a recorder. */
  private eligibleCommitters(): Member[] {
    const removing = new Set([...this.proposals.values()].flatMap((p) => (p.kind === 'remove' ? [p.leafIndex] : [])));
    return [...this.members.values()]
      .filter((m) => m.link !== undefined && !m.leaving && m.expelled === undefined && !removing.has(m.leafIndex) && m.kind !== 'recorder')
      .sort((a, b) => a.leafIndex - b.leafIndex);
  }

  /**
   * The ProposalRefs the next commit may cover: none in an unhealed epoch (an empty, healing commit);
   * only the Removes while a recorder's Remove is pending (the recorder leaves before anyone joins);
   * otherwise every pending proposal.
   */
  committableRefs(): string[] {
    if (!this.healed) return [];
    const entries = [...this.proposals.entries()];
    const recorderRemoval = entries.some(([, p]) => p.kind === 'remove' && this.members.get(p.leafIndex)?.kind === 'recorder');
    return entries.filter(([, p]) => !recorderRemoval || p.kind === 'remove').map(([ref]) => ref);
  }

  /** Asks the lowest eligible leaf not yet tried this epoch; after a timeout the next one. */
  private requestCommit(): void {
    if (this.commitRequest !== undefined) return;
    const eligible = this.eligibleCommitters();
    if (eligible.length === 0) return;
    let candidate = eligible.find((m) => !this.triedCommitters.has(m.leafIndex));
    if (candidate === undefined) {
      this.triedCommitters = new Set();
      candidate = eligible[0]!;
    }
    const leafIndex = candidate.leafIndex;
    const epoch = this.epoch;
    this.triedCommitters.add(leafIndex);
    const timer = setTimeout(() => {
      void this.run(async () => {
        if (this.commitRequest?.leafIndex !== leafIndex || this.epoch !== epoch) return;
        this.commitRequest = undefined;
        this.options.logger.warn({ roomId: this.roomId, epoch: epoch.toString(), leafIndex }, 'commit request timed out');
        await this.scheduleWork();
      });
    }, this.options.commitTimeoutMs);
    timer.unref();
    this.commitRequest = { leafIndex, timer };
    candidate.link!.send({ type: 'commit-request', epoch, proposals: this.committableRefs() });
  }

  private clearCommitRequest(): void {
    if (this.commitRequest !== undefined) clearTimeout(this.commitRequest.timer);
    this.commitRequest = undefined;
  }

  private freeLeafIndex(): number {
    let index = 0;
    while (this.members.has(index)) index++;
    return index;
  }

  private memberByLink(link: ClientLink): Member | undefined {
    for (const member of this.members.values()) if (member.link === link) return member;
    return undefined;
  }

  private refuse(link: ClientLink, code: DeliveryErrorCode, message: string): void {
    link.send({ type: 'error', code, message, fatal: true });
    link.close(CLOSE_POLICY, code);
    this.options.logger.info({ roomId: this.roomId, connectionId: link.connectionId, code }, 'connection refused');
  }

  private view(): RoomView {
    return {
      roomId: this.roomId,
      epoch: this.epoch,
      members: [...this.members.values()].map((m) => ({ leafIndex: m.leafIndex, id: m.id, kind: m.kind, connected: m.link !== undefined })),
    };
  }
}

function memberFrom(joiner: Joiner, leafIndex: number): Member {
  return {
    leafIndex,
    id: joiner.id,
    kind: joiner.kind,
    role: joiner.role,
    signatureKey: b64(joiner.keyPackage.signaturePublicKey),
    credential: b64(encodeIdentity(joiner.keyPackage.identity)),
    link: joiner.link,
    leaving: false,
    expelled: undefined,
  };
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
