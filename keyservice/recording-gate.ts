import { createHash, randomUUID } from 'node:crypto';
import type pg from 'pg';
import {
  ConsentStatementError,
  decodeConsentStatement,
  encodeIdentity,
  issueRecorderCredential,
  verifyConsentSignature,
  type ConsentRefusalReason,
  type ConsentStatement,
  type DeliveryErrorCode,
  type IssuedRecorderIdentity,
  type ServerMessage,
} from '../e2ee/mls/index.js';
import type { AdmissionDecision, AdmissionPolicy, JoinerView, RoomView } from './admission-policy.js';
import { ApiError } from './api-errors.js';
import type { AuditSink } from './audit-sink.js';
import { appendConsent, isRecorded, latestDecisions, ReplayedStatementError, type ConsentEntryInput, type LatestDecision } from './consent-ledger.js';
import type { ExternalSenderSigner } from './external-sender.js';
import type { Logger } from './logger.js';
import type { RecorderDispatcher } from './recorder-dispatcher.js';
import type { RecordJobData, RecorderStopReason } from './recorder-jobs.js';
import { loadCurrentPolicy, policyNotice, writePolicy, type RecordingPolicy, type RecordingPolicyInput } from './recording-policy.js';
import type { ClientLink, Room, RoomMemberView, RoomObserver } from './room.js';
import type { SfuModeration } from './sfu-moderation.js';

/**
 * The recording gate: consent → membership (ARCHITECTURE.md flows 3–5 and 7; invariants I3 and I4).
 *
 * It watches every room (RoomObserver), decides every admission (AdmissionPolicy), and after every change
 * — a member joining or leaving, a joiner waiting, a statement, a policy version — asks one question:
 * is recording authorized? All-party (the default, and always under 42 CFR Part 2): the policy is on and
 * every current human member holds an unrevoked grant for the current policy version, signed with its
 * current leaf key, and no human joiner is waiting (a joiner has not consented yet). One-party (only when
 * the operator set it): the policy is on and one current human member holds such a grant.
 *
 *  - Authorized and no recorder → dispatch a record job (RecorderDispatcher); the recorder then obtains
 *    a credential (`issueCredential`, only for that job, bound to this room, group and its key) and is
 *    admitted only if it is still authorized and is exactly the recorder the credential was issued to.
 *  - Not authorized → propose Remove(recorder) at once (Room.expel), withdraw a recorder's Add not yet
 *    committed, and tell the recorder to stop. The room commits the recorder's Remove alone, before any
 *    joiner's Add (Room.committableRefs), so a joiner never enters an epoch the recorder can read. If no
 *    member commits the removal within `removalTimeoutMs` (RECORDER_REMOVAL_TIMEOUT_MS), the SFU adapter
 *    drops the recorder too.
 *
 * Consent statements (e2ee/mls/consent-statement.ts) are verified against the signer's leaf in the group
 * the service tracks, then written to the hash-chained ledger with their audit event. A revocation acts
 * before it is written (a failed write cannot keep a recorder in); a grant counts only once written.
 *
 * Everything for one room runs inside that room's queue (Room.run), so decisions see a stable roster.
 */

/** How long members have to commit the recorder's removal before the SFU drops it. */
export const RECORDER_REMOVAL_TIMEOUT_MS = 3000;
/** How long an issued recorder credential is valid (members refuse it after; the recorder is re-issued one per job). */
export const RECORDER_CREDENTIAL_TTL_SEC = 4 * 3600;
/** How far a statement's own clock may be from the service's. */
export const CONSENT_CLOCK_SKEW_MS = 5 * 60_000;

export interface RecordingGateOptions {
  pool: pg.Pool;
  dispatcher: RecorderDispatcher;
  /** Signs recorder credentials: the external-sender key members already pin. */
  signer: ExternalSenderSigner;
  audit: AuditSink;
  logger: Logger;
  sfu?: SfuModeration;
  removalTimeoutMs?: number;
  /** Default RECORDER_REJOIN_GRACE_MS. */
  rejoinGraceMs?: number;
  credentialTtlSec?: number;
  recorderName?: string;
  /** Where recorders reach this service (job data). Set once the service listens. */
  endpoints: () => { http: string; ws: string };
  /** The SFU's numeric room for a key-service room (job data); undefined: no recording there. */
  sfuRoomFor: (roomId: string) => number | undefined;
  /** A dispatched recorder became a member for the first time (not a rejoin): ms since authorization. */
  onRecorderJoined?: (consentToJoinMs: number) => void;
}

interface Dispatch {
  jobId: string;
  /** When recording became authorized and the job was dispatched. */
  dispatchedAtMs: number;
  policyVersion: number;
  groupIdHex: string;
  recorderId: string | undefined;
  signatureKey: string | undefined;
  /** The recorder became a member under this dispatch. */
  joined: boolean;
  /** It had been a member before (a rejoin after a crash is not a new consent-to-join). */
  joinedBefore: boolean;
  /**
   * Set when the job's recorder crashed (its connection dropped without `leave`) while recording was
   * still authorized: until `byMs` it may obtain a new credential for the same job and rejoin (same
   * recording, a new member: issue 8); after that the job is stopped (`rejoin-timeout`).
   */
  rejoin: { byMs: number; timer: NodeJS.Timeout } | undefined;
}

/** How long a recorder whose connection dropped (a crash) has to rejoin under the same job. */
export const RECORDER_REJOIN_GRACE_MS = 20_000;

interface RemovalWatch {
  leafIndex: number;
  recorderId: string;
  jobId: string | undefined;
  timer: NodeJS.Timeout;
  reason: RecorderStopReason;
}

interface GateRoom {
  room: Room;
  policy: RecordingPolicy | undefined;
  policyLoaded: boolean;
  decisions: { groupIdHex: string; byMember: Map<string, LatestDecision> } | undefined;
  dispatch: Dispatch | undefined;
  removal: RemovalWatch | undefined;
  lastStatus: string | undefined;
  roster: Map<number, { id: string; kind: string }>;
  evaluating: boolean;
  again: boolean;
}

export interface Authorization {
  authorized: boolean;
  /** Why not, when not. */
  reason: RecorderStopReason | undefined;
  granted: number;
  required: number;
}

export interface ConsentSubmission {
  statement: Uint8Array;
  signature: Uint8Array;
  /** The member's delivery connection, or (HTTP) its token subject. */
  from: { link: ClientLink } | { memberId: string };
  via: 'delivery' | 'http';
}

export type ConsentOutcome = { ok: true; policyVersion: number; decision: 'grant' | 'revoke' } | { ok: false; reason: ConsentRefusalReason };

interface Checked {
  entry: ConsentEntryInput;
  decision: LatestDecision;
  decisions: Map<string, LatestDecision>;
  refuse: (reason: ConsentRefusalReason) => ConsentOutcome;
}

export interface IssuedCredential {
  identity: IssuedRecorderIdentity;
  credential: Uint8Array;
  groupId: Uint8Array;
}

export class RecordingGate implements AdmissionPolicy, RoomObserver {
  private readonly rooms = new Map<string, GateRoom>();
  private readonly removalTimeoutMs: number;
  private readonly rejoinGraceMs: number;
  private readonly credentialTtlSec: number;
  private readonly recorderName: string;
  private closed = false;

  constructor(private readonly options: RecordingGateOptions) {
    this.removalTimeoutMs = options.removalTimeoutMs ?? RECORDER_REMOVAL_TIMEOUT_MS;
    this.rejoinGraceMs = options.rejoinGraceMs ?? RECORDER_REJOIN_GRACE_MS;
    if (!Number.isFinite(this.rejoinGraceMs) || this.rejoinGraceMs <= 0) throw new TypeError('options.rejoinGraceMs must be a positive number');
    this.credentialTtlSec = options.credentialTtlSec ?? RECORDER_CREDENTIAL_TTL_SEC;
    this.recorderName = options.recorderName ?? 'Chaperone recorder';
    if (!Number.isFinite(this.removalTimeoutMs) || this.removalTimeoutMs <= 0) throw new TypeError('options.removalTimeoutMs must be a positive number');
    if (!Number.isInteger(this.credentialTtlSec) || this.credentialTtlSec < 60) throw new TypeError('options.credentialTtlSec must be an integer >= 60');
  }

  // ---- rooms ----------------------------------------------------------------------------------------

  /** The key service created a room. */
  attach(room: Room): void {
    this.rooms.set(room.roomId, {
      room,
      policy: undefined,
      policyLoaded: false,
      decisions: undefined,
      dispatch: undefined,
      removal: undefined,
      lastStatus: undefined,
      roster: new Map(),
      evaluating: false,
      again: false,
    });
  }

  /** The room emptied (or the service closes): stop its recorder job, forget it. */
  async detach(roomId: string): Promise<void> {
    const g = this.rooms.get(roomId);
    if (g === undefined) return;
    this.rooms.delete(roomId);
    if (g.removal !== undefined) clearTimeout(g.removal.timer);
    if (g.dispatch !== undefined) await this.stopDispatch(g, 'room-ended');
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const roomId of [...this.rooms.keys()]) await this.detach(roomId);
  }

  /** Authorization in a room now (for the API's status route and tests). */
  async status(roomId: string): Promise<(Authorization & { policyVersion: number | undefined; recorderPresent: boolean }) | undefined> {
    const g = this.rooms.get(roomId);
    if (g === undefined) return undefined;
    let result: (Authorization & { policyVersion: number | undefined; recorderPresent: boolean }) | undefined;
    await g.room.run(async () => {
      const auth = await this.authorization(g);
      result = { ...auth, policyVersion: g.policy?.version, recorderPresent: g.room.memberViews().some((m) => m.kind === 'recorder') };
    });
    return result;
  }

  /** The current policy of a room (loaded from PostgreSQL when the room is not live). */
  async currentPolicy(roomId: string): Promise<RecordingPolicy | undefined> {
    const g = this.rooms.get(roomId);
    if (g === undefined) return loadCurrentPolicy(this.options.pool, roomId);
    await this.ensurePolicy(g);
    return g.policy;
  }

  /** Whether a live room holds a human member with this id (HTTP consent route). */
  room(roomId: string): Room | undefined {
    return this.rooms.get(roomId)?.room;
  }

  // ---- RoomObserver ---------------------------------------------------------------------------------

  async memberReady(room: Room, link: ClientLink, member: { leafIndex: number; id: string; kind: string }): Promise<void> {
    const g = this.rooms.get(room.roomId);
    if (g === undefined) return;
    await this.ensurePolicy(g);
    if (g.policy !== undefined) link.send({ type: 'recording-policy', policy: policyNotice(g.policy) });
    if (member.kind === 'participant') g.lastStatus = undefined; // the next evaluation re-sends the counts to everyone
  }

  async changed(room: Room): Promise<void> {
    const g = this.rooms.get(room.roomId);
    if (g === undefined || this.closed) return;
    this.auditRosterChanges(g);
    await this.evaluate(g);
  }

  refused(room: Room, what: { kind: 'commit' | 'connection'; code: string; memberId?: string }): void {
    this.options.audit.record({
      event: what.kind === 'commit' ? 'commit.rejected' : 'member.refused',
      outcome: 'refused',
      roomId: room.roomId,
      ...(what.memberId === undefined ? {} : { subjectId: what.memberId }),
      details: { reason: what.code },
    });
  }

  // ---- AdmissionPolicy ------------------------------------------------------------------------------

  async beforeAdmit(view: RoomView, joiner: JoinerView): Promise<AdmissionDecision> {
    const g = this.rooms.get(view.roomId);
    if (g === undefined) return { admit: false, reason: 'room not tracked' };
    if (joiner.kind === 'participant') {
      // All-party: the joiner's arrival made recording unauthorized and the recorder was expelled
      // (evaluate); name it again so no commit can add the joiner while the recorder stays (the room
      // commits the recorder's Remove first). One-party: the recorder stays; the joiner sees the notice.
      const auth = await this.authorization(g);
      const recorders = auth.authorized ? [] : g.room.memberViews().filter((m) => m.kind === 'recorder').map((m) => m.leafIndex);
      this.options.audit.record({ event: 'member.admitted', roomId: view.roomId, subjectId: joiner.id, details: { kind: joiner.kind, role: joiner.role } });
      return recorders.length > 0 ? { admit: true, alsoRemove: recorders } : { admit: true };
    }
    const refusal = await this.recorderRefusal(g, joiner);
    if (refusal !== undefined) {
      this.options.audit.record({ event: 'recorder.refused', outcome: 'refused', roomId: view.roomId, subjectId: joiner.id, details: { reason: refusal } });
      this.options.logger.info({ roomId: view.roomId, reason: refusal }, 'recorder refused');
      return { admit: false, reason: refusal };
    }
    this.options.audit.record({
      event: 'recorder.admitted',
      roomId: view.roomId,
      subjectId: joiner.id,
      details: { jobId: g.dispatch!.jobId, policyVersion: g.dispatch!.policyVersion, epoch: view.epoch.toString() },
    });
    return { admit: true };
  }

  private async recorderRefusal(g: GateRoom, joiner: JoinerView): Promise<string | undefined> {
    const auth = await this.authorization(g);
    if (!auth.authorized) return `recording is not authorized (${auth.reason ?? 'unknown'})`;
    const dispatch = g.dispatch;
    if (dispatch === undefined) return 'no record job is waiting for a recorder';
    if (dispatch.recorderId !== joiner.id || dispatch.signatureKey !== joiner.signatureKey) return 'this recorder was not issued the credential of the current job';
    if (dispatch.groupIdHex !== hex(g.room.currentGroupId)) return 'the credential was issued for an earlier group';
    if (g.room.memberViews().some(liveRecorder)) return 'a recorder is already in the call';
    return undefined;
  }

  // ---- consent --------------------------------------------------------------------------------------

  /**
   * A consent statement from a member. Takes the room's queue itself (never call it inside Room.run):
   * the checks and, for a revocation, its effect run in the queue; the ledger write runs outside it, so
   * a slow database never holds up the room's commits; a grant takes effect once written.
   */
  async submitConsent(room: Room, submission: ConsentSubmission): Promise<ConsentOutcome> {
    const g = this.rooms.get(room.roomId);
    if (g === undefined) return { ok: false, reason: 'not-a-member' };
    let checked: Checked | ConsentOutcome = { ok: false, reason: 'not-a-member' };
    await room.run(async () => {
      checked = await this.checkConsent(g, room, submission);
      if ('entry' in checked && checked.entry.decision === 'revoke') {
        // Act first: the recorder leaves whether or not the write below succeeds.
        checked.decisions.set(checked.decision.memberId, checked.decision);
        await this.evaluate(g);
      }
    });
    const outcome = checked as Checked | ConsentOutcome;
    if (!('entry' in outcome)) return outcome;
    const { entry, decision, refuse } = outcome;
    try {
      await appendConsent(this.options.pool, entry);
    } catch (error) {
      if (error instanceof ReplayedStatementError) return refuse('replayed'); // the first copy already took effect
      this.options.logger.error({ roomId: room.roomId, err: error instanceof Error ? error.name : typeof error }, 'consent not recorded');
      // A revocation has taken effect regardless (no grant counts for this member); a grant has not.
      return refuse('unavailable');
    }
    if (entry.decision === 'grant') {
      await room.run(async () => {
        // Still the same member with the same leaf key, and nothing newer from it meanwhile?
        const member = room.memberViews().find((m) => m.id === decision.memberId);
        const decisions = g.decisions?.groupIdHex === entry.groupIdHex ? g.decisions.byMember : undefined;
        const newer = decisions?.get(decision.memberId);
        if (member?.signatureKey === decision.signerKey && decisions !== undefined && (newer === undefined || newer.issuedAtMs < decision.issuedAtMs)) {
          decisions.set(decision.memberId, decision);
        }
        await this.evaluate(g);
      });
    }
    this.options.logger.info({ roomId: room.roomId, leafIndex: entry.leafIndex, decision: entry.decision, policyVersion: entry.policyVersion }, 'consent recorded');
    return { ok: true, policyVersion: entry.policyVersion, decision: entry.decision };
  }

  /** Everything that can refuse a statement, in the room's queue; returns what to write and apply. */
  private async checkConsent(g: GateRoom, room: Room, submission: ConsentSubmission): Promise<Checked | ConsentOutcome> {
    const memberHint = 'link' in submission.from ? room.memberOf(submission.from.link)?.id : submission.from.memberId;
    const refuse = (reason: ConsentRefusalReason): ConsentOutcome => {
      this.options.audit.record({
        event: 'consent.refused',
        outcome: 'refused',
        roomId: room.roomId,
        ...(memberHint === undefined ? {} : { subjectId: memberHint, actor: { role: 'participant', id: memberHint } }),
        details: { reason, via: submission.via },
      });
      this.options.logger.info({ roomId: room.roomId, reason }, 'consent refused');
      return { ok: false, reason };
    };

    let statement: ConsentStatement;
    try {
      statement = decodeConsentStatement(submission.statement);
    } catch (error) {
      if (error instanceof ConsentStatementError) return refuse('malformed-statement');
      throw error;
    }
    const member: RoomMemberView | undefined =
      'link' in submission.from ? room.memberOf(submission.from.link) : room.memberViews().find((m) => m.id === memberHint && m.kind === 'participant');
    if (member === undefined || member.kind !== 'participant' || member.leaving || member.expelled) return refuse('not-a-member');
    if (statement.room !== room.roomId) return refuse('wrong-room');
    if (!room.isActive || hex(statement.groupId) !== hex(room.currentGroupId)) return refuse('wrong-group');
    if (statement.memberId !== member.id) return refuse('wrong-member');
    const signerKey = Buffer.from(member.signatureKey, 'base64');
    if (!(await verifyConsentSignature(submission.statement, submission.signature, signerKey))) return refuse('bad-signature');
    let recorded: boolean;
    try {
      recorded = await isRecorded(this.options.pool, submission.statement);
    } catch {
      return refuse('unavailable');
    }
    if (recorded) return refuse('replayed');
    await this.ensurePolicy(g);
    const policy = g.policy;
    if (policy === undefined) return refuse('no-policy');
    if (statement.policyVersion !== policy.version) return refuse('stale-policy');
    if (statement.purpose !== policy.purpose) return refuse('wrong-purpose');
    if (hex(statement.statementHash) !== policy.statementSha256) return refuse('wrong-statement');
    if (Math.abs(statement.issuedAtMs - Date.now()) > CONSENT_CLOCK_SKEW_MS) return refuse('stale-time');
    let decisions: Map<string, LatestDecision>;
    try {
      decisions = await this.ensureDecisions(g);
    } catch {
      return refuse('unavailable');
    }
    const previous = decisions.get(member.id);
    if (previous !== undefined && statement.issuedAtMs <= previous.issuedAtMs) return refuse('stale-time');
    return {
      refuse,
      decisions,
      decision: { memberId: member.id, decision: statement.decision, policyVersion: statement.policyVersion, signerKey: member.signatureKey, issuedAtMs: statement.issuedAtMs },
      entry: {
        roomId: room.roomId,
        groupIdHex: hex(statement.groupId),
        memberId: member.id,
        memberRole: member.role,
        leafIndex: member.leafIndex,
        policyVersion: statement.policyVersion,
        purpose: statement.purpose,
        statementSha256: policy.statementSha256,
        decision: statement.decision,
        issuedAtMs: statement.issuedAtMs,
        statement: submission.statement,
        signature: submission.signature,
        signerKey,
        via: submission.via,
      },
    };
  }

  /** A refusal a member made on its own (a forged proposal, an unissued credential): audit it. */
  clientRefusal(room: Room, subjectId: string, what: string, code: string): void {
    this.options.audit.record({ event: 'member.refused-message', outcome: 'refused', roomId: room.roomId, subjectId, details: { what, code } });
  }

  // ---- policy ---------------------------------------------------------------------------------------

  /** Writes a new policy version (operator) and applies it to the live room at once. */
  async setPolicy(roomId: string, input: RecordingPolicyInput, actor: { role: string; id: string }): Promise<RecordingPolicy> {
    const policy = await writePolicy(this.options.pool, roomId, input, actor);
    const g = this.rooms.get(roomId);
    if (g !== undefined) {
      await g.room.run(async () => {
        if (g.policy === undefined || g.policy.version < policy.version) g.policy = policy;
        g.policyLoaded = true;
        g.room.broadcast({ type: 'recording-policy', policy: policyNotice(g.policy) });
        await this.evaluate(g);
      });
    }
    return policy;
  }

  // ---- recorder credentials -------------------------------------------------------------------------

  /**
   * Issues the credential for a dispatched job (HTTP, role recorder): only while recording is authorized,
   * only for the current job, bound to this room, its current group and the recorder's key.
   */
  async issueCredential(roomId: string, request: { recorderId: string; jobId: string; signaturePublicKey: Uint8Array }): Promise<IssuedCredential> {
    const g = this.rooms.get(roomId);
    const refuse = (code: 'not-authorized' | 'no-dispatch', message: string, reason: string): never => {
      this.options.audit.record({
        event: 'recorder.credential-refused',
        outcome: 'refused',
        roomId,
        subjectId: request.recorderId,
        actor: { role: 'recorder', id: request.recorderId },
        details: { reason, jobId: request.jobId },
      });
      throw new ApiError(code, message, { reason });
    };
    if (g === undefined) return refuse('not-authorized', 'no call is in progress in this room', 'no-call');
    let issued: IssuedCredential | undefined;
    let failure: unknown;
    await g.room.run(async () => {
      try {
        issued = await this.issueInQueue(g, roomId, request, refuse);
      } catch (error) {
        failure = error;
      }
    });
    if (failure !== undefined) throw failure;
    if (issued === undefined) throw new ApiError('internal-error', 'the credential could not be issued');
    return issued;
  }

  private async issueInQueue(
    g: GateRoom,
    roomId: string,
    request: { recorderId: string; jobId: string; signaturePublicKey: Uint8Array },
    refuse: (code: 'not-authorized' | 'no-dispatch', message: string, reason: string) => never,
  ): Promise<IssuedCredential> {
    const dispatch = g.dispatch;
    if (dispatch === undefined || dispatch.jobId !== request.jobId) return refuse('no-dispatch', 'no record job with this id is waiting in this room', 'no-dispatch');
    const auth = await this.authorization(g);
    if (!auth.authorized) return refuse('not-authorized', 'recording is not authorized in this room now', auth.reason ?? 'not-authorized');
    if (!g.room.isActive || hex(g.room.currentGroupId) !== dispatch.groupIdHex) return refuse('no-dispatch', 'the record job was for an earlier call', 'group-changed');
    // A recorder of this job that crashed (its connection dropped) may come back with a new key.
    const present = g.room.memberViews().some(liveRecorder) || g.room.joinerViews().some((j) => j.kind === 'recorder');
    if (present) return refuse('no-dispatch', 'a recorder for this job is already in the call', 'recorder-present');
    const policy = g.policy!;
    const identity = await issueRecorderCredential(
      {
        id: request.recorderId,
        name: this.recorderName,
        room: roomId,
        groupId: g.room.currentGroupId,
        purpose: policy.purposeLabel,
        notAfter: Math.floor(Date.now() / 1000) + this.credentialTtlSec,
        leafSignaturePublicKey: request.signaturePublicKey,
      },
      this.options.signer,
    );
    dispatch.recorderId = request.recorderId;
    dispatch.signatureKey = Buffer.from(request.signaturePublicKey).toString('base64');
    this.options.audit.record({
      event: 'recorder.credential-issued',
      roomId,
      subjectId: request.recorderId,
      actor: { role: 'recorder', id: request.recorderId },
      details: { jobId: dispatch.jobId, policyVersion: dispatch.policyVersion, notAfter: identity.issuance.notAfter },
    });
    return { identity, credential: encodeIdentity(identity), groupId: g.room.currentGroupId };
  }

  // ---- evaluation -----------------------------------------------------------------------------------

  private async ensurePolicy(g: GateRoom): Promise<void> {
    if (g.policyLoaded) return;
    const policy = await loadCurrentPolicy(this.options.pool, g.room.roomId);
    if (!g.policyLoaded) {
      g.policy = policy;
      g.policyLoaded = true;
    }
  }

  private async ensureDecisions(g: GateRoom): Promise<Map<string, LatestDecision>> {
    const groupIdHex = hex(g.room.currentGroupId);
    if (g.decisions?.groupIdHex !== groupIdHex) {
      g.decisions = { groupIdHex, byMember: await latestDecisions(this.options.pool, g.room.roomId, groupIdHex) };
    }
    return g.decisions.byMember;
  }

  private async authorization(g: GateRoom): Promise<Authorization> {
    await this.ensurePolicy(g);
    const policy = g.policy;
    const humans = g.room.memberViews().filter((m) => m.kind === 'participant' && !m.leaving && !m.expelled);
    const humanJoiners = g.room.joinerViews().filter((j) => j.kind === 'participant');
    if (policy === undefined) return { authorized: false, reason: 'no-policy', granted: 0, required: humans.length + humanJoiners.length };
    const allParty = policy.consentMode === 'all-party' || policy.part2;
    const required = allParty ? humans.length + humanJoiners.length : Math.min(1, humans.length);
    if (!g.room.isActive) return { authorized: false, reason: 'room-ended', granted: 0, required };
    const decisions = await this.ensureDecisions(g);
    const holds = (m: RoomMemberView) => {
      const d = decisions.get(m.id);
      return d !== undefined && d.decision === 'grant' && d.policyVersion === policy.version && d.signerKey === m.signatureKey;
    };
    const granted = humans.filter(holds).length;
    if (!policy.enabled) return { authorized: false, reason: 'policy-disabled', granted, required };
    if (humans.length === 0) return { authorized: false, reason: 'consent-missing', granted, required };
    if (allParty) {
      if (humanJoiners.length > 0) return { authorized: false, reason: 'joiner-without-consent', granted, required };
      if (granted < humans.length) {
        const revoked = humans.some((m) => decisions.get(m.id)?.decision === 'revoke' && decisions.get(m.id)?.signerKey === m.signatureKey);
        const stale = humans.some((m) => decisions.get(m.id) !== undefined && decisions.get(m.id)!.policyVersion !== policy.version);
        return { authorized: false, reason: revoked ? 'consent-revoked' : stale ? 'policy-changed' : 'consent-missing', granted, required };
      }
      return { authorized: true, reason: undefined, granted, required };
    }
    if (granted >= 1) return { authorized: true, reason: undefined, granted, required };
    const revoked = humans.some((m) => decisions.get(m.id)?.decision === 'revoke');
    return { authorized: false, reason: revoked ? 'consent-revoked' : 'consent-missing', granted, required };
  }

  /** Re-decides the room; runs inside its queue. Re-entrant calls fold into one more pass. */
  private async evaluate(g: GateRoom): Promise<void> {
    if (g.evaluating) {
      g.again = true;
      return;
    }
    g.evaluating = true;
    try {
      do {
        g.again = false;
        await this.evaluateOnce(g);
      } while (g.again && !this.closed);
    } finally {
      g.evaluating = false;
    }
  }

  private async evaluateOnce(g: GateRoom): Promise<void> {
    const room = g.room;
    const auth = await this.authorization(g);
    this.sendStatus(g, auth);
    const recorders = room.memberViews().filter((m) => m.kind === 'recorder');
    this.watchRemovalDone(g);
    if (!room.isActive) {
      if (g.dispatch !== undefined) await this.stopDispatch(g, 'room-ended');
      g.decisions = undefined;
      return;
    }
    // The dispatched recorder was a member and is no longer a live one. A crash (its connection dropped
    // without `leave`) while recording stays authorized keeps the job open for a rejoin; leaving
    // deliberately, or being expelled, ends the job.
    const dispatch = g.dispatch;
    if (dispatch?.joined && !recorders.some((r) => r.id === dispatch.recorderId && liveRecorder(r))) {
      const member = recorders.find((r) => r.id === dispatch.recorderId);
      const departure = member === undefined ? room.takeDeparture(dispatch.recorderId!) : member.expelled ? 'expelled' : member.leaving ? 'left' : 'disconnected';
      if (departure === 'disconnected' && auth.authorized) {
        dispatch.joined = false;
        dispatch.signatureKey = undefined; // a rejoin brings a new key, and needs a new credential
        this.openRejoin(g, dispatch);
      } else if (departure !== 'disconnected') {
        g.dispatch = undefined;
        this.options.audit.record({ event: 'recorder.job-ended', roomId: room.roomId, details: { jobId: dispatch.jobId, reason: departure ?? 'left' } });
      }
    }
    const current = g.dispatch;
    if (current !== undefined && !current.joined && recorders.some((r) => r.id === current.recorderId && r.signatureKey === current.signatureKey && liveRecorder(r))) {
      current.joined = true;
      if (current.rejoin === undefined && !current.joinedBefore) this.options.onRecorderJoined?.(Date.now() - current.dispatchedAtMs);
      current.joinedBefore = true;
      if (current.rejoin !== undefined) {
        clearTimeout(current.rejoin.timer);
        current.rejoin = undefined;
        this.options.audit.record({ event: 'recorder.rejoined', roomId: room.roomId, details: { jobId: current.jobId } });
      }
    }
    if (auth.authorized) {
      if (g.dispatch === undefined && recorders.length === 0 && !room.joinerViews().some((j) => j.kind === 'recorder')) await this.dispatch(g);
      return;
    }
    const reason = auth.reason ?? 'consent-missing';
    for (const recorder of recorders) {
      if (recorder.expelled) continue;
      await room.expel(recorder.leafIndex, reason);
      this.options.audit.record({
        event: 'recorder.removal-proposed',
        roomId: room.roomId,
        subjectId: recorder.id,
        details: { reason, leafIndex: recorder.leafIndex, epoch: room.currentEpoch.toString() },
      });
      this.options.logger.info({ roomId: room.roomId, leafIndex: recorder.leafIndex, reason }, 'recorder removal proposed');
      this.startRemovalWatch(g, recorder, reason);
    }
    const withdrawn = await room.withdrawJoiners((j) => j.kind === 'recorder', 'refused-by-policy' satisfies DeliveryErrorCode, 'recording is no longer authorized');
    if (withdrawn > 0) {
      this.options.audit.record({ event: 'recorder.withdrawn', outcome: 'refused', roomId: room.roomId, details: { reason, count: withdrawn } });
    }
    if (g.dispatch !== undefined) await this.stopDispatch(g, reason);
  }

  private async dispatch(g: GateRoom): Promise<void> {
    const policy = g.policy!;
    const jobId = `rec-${randomUUID()}`;
    const groupIdHex = hex(g.room.currentGroupId);
    const endpoints = this.options.endpoints();
    const sfuRoom = this.options.sfuRoomFor(g.room.roomId);
    if (sfuRoom === undefined) {
      this.options.audit.record({ event: 'recorder.dispatch-failed', outcome: 'failed', roomId: g.room.roomId, details: { reason: 'no-sfu-room' } });
      return;
    }
    const job: RecordJobData = {
      jobId,
      roomId: g.room.roomId,
      sfuRoom,
      policyVersion: policy.version,
      purpose: policy.purpose,
      part2: policy.part2,
      retentionDays: policy.retentionDays,
      keyServiceUrl: endpoints.http,
      deliveryUrl: endpoints.ws,
      dispatchedAtMs: Date.now(),
    };
    g.dispatch = { jobId, dispatchedAtMs: job.dispatchedAtMs, policyVersion: policy.version, groupIdHex, recorderId: undefined, signatureKey: undefined, joined: false, joinedBefore: false, rejoin: undefined };
    try {
      await this.options.dispatcher.dispatch(job);
    } catch (error) {
      g.dispatch = undefined;
      this.options.audit.record({ event: 'recorder.dispatch-failed', outcome: 'failed', roomId: g.room.roomId, details: { jobId } });
      this.options.logger.error({ roomId: g.room.roomId, jobId, err: error instanceof Error ? error.name : typeof error }, 'dispatch failed');
      return;
    }
    this.options.audit.record({ event: 'recorder.dispatched', roomId: g.room.roomId, details: { jobId, policyVersion: policy.version, purpose: policy.purpose } });
    this.options.logger.info({ roomId: g.room.roomId, jobId, policyVersion: policy.version }, 'recorder dispatched');
  }

  /** Keeps a crashed recorder's job open for `rejoinGraceMs` (in the room's queue), then stops it. */
  private openRejoin(g: GateRoom, dispatch: Dispatch): void {
    if (dispatch.rejoin !== undefined) return;
    const timer = setTimeout(() => {
      void g.room.run(async () => {
        if (g.dispatch !== dispatch || dispatch.joined) return;
        await this.stopDispatch(g, 'rejoin-timeout');
        await this.evaluate(g);
      });
    }, this.rejoinGraceMs);
    timer.unref();
    dispatch.rejoin = { byMs: Date.now() + this.rejoinGraceMs, timer };
    this.options.audit.record({ event: 'recorder.crashed', roomId: g.room.roomId, details: { jobId: dispatch.jobId, rejoinGraceMs: this.rejoinGraceMs } });
    this.options.logger.warn({ roomId: g.room.roomId, jobId: dispatch.jobId }, 'recorder connection lost; job open for a rejoin');
  }

  private async stopDispatch(g: GateRoom, reason: RecorderStopReason): Promise<void> {
    const dispatch = g.dispatch;
    if (dispatch === undefined) return;
    g.dispatch = undefined;
    if (dispatch.rejoin !== undefined) clearTimeout(dispatch.rejoin.timer);
    try {
      await this.options.dispatcher.stop({ jobId: dispatch.jobId, roomId: g.room.roomId, reason });
      this.options.audit.record({ event: 'recorder.stop-requested', roomId: g.room.roomId, details: { jobId: dispatch.jobId, reason } });
    } catch (error) {
      this.options.audit.record({ event: 'recorder.stop-failed', outcome: 'failed', roomId: g.room.roomId, details: { jobId: dispatch.jobId, reason } });
      this.options.logger.error({ roomId: g.room.roomId, jobId: dispatch.jobId, err: error instanceof Error ? error.name : typeof error }, 'stop failed');
    }
  }

  private startRemovalWatch(g: GateRoom, recorder: RoomMemberView, reason: RecorderStopReason): void {
    if (g.removal !== undefined) return;
    const jobId = g.dispatch?.recorderId === recorder.id ? g.dispatch.jobId : undefined;
    const timer = setTimeout(() => {
      void g.room.run(() => this.onRemovalTimeout(g));
    }, this.removalTimeoutMs);
    timer.unref();
    g.removal = { leafIndex: recorder.leafIndex, recorderId: recorder.id, jobId, timer, reason };
  }

  /** The recorder's removal is done once it is out of the roster and the epoch is healed. */
  private watchRemovalDone(g: GateRoom): void {
    const removal = g.removal;
    if (removal === undefined) return;
    const stillThere = g.room.memberViews().some((m) => m.leafIndex === removal.leafIndex && m.id === removal.recorderId);
    if (stillThere || (g.room.isActive && !g.room.isHealed)) return;
    clearTimeout(removal.timer);
    g.removal = undefined;
    this.options.audit.record({
      event: 'recorder.removed',
      roomId: g.room.roomId,
      subjectId: removal.recorderId,
      details: { reason: removal.reason, epoch: g.room.currentEpoch.toString() },
    });
    this.options.logger.info({ roomId: g.room.roomId, epoch: g.room.currentEpoch.toString() }, 'recorder removed');
  }

  private async onRemovalTimeout(g: GateRoom): Promise<void> {
    const removal = g.removal;
    if (removal === undefined || this.rooms.get(g.room.roomId) !== g) return;
    g.removal = undefined;
    this.options.audit.record({
      event: 'recorder.removal-timeout',
      outcome: 'failed',
      roomId: g.room.roomId,
      subjectId: removal.recorderId,
      details: { timeoutMs: this.removalTimeoutMs, reason: removal.reason },
    });
    this.options.logger.warn({ roomId: g.room.roomId, timeoutMs: this.removalTimeoutMs }, 'recorder removal timed out');
    if (removal.jobId !== undefined) {
      try {
        await this.options.dispatcher.stop({ jobId: removal.jobId, roomId: g.room.roomId, reason: 'removal-timeout' });
      } catch {
        // recorded below by the SFU step's outcome; the cryptographic removal is still pending
      }
    }
    let dropped = 0;
    try {
      dropped = (await this.options.sfu?.dropRecorder({ roomId: g.room.roomId, recorderId: removal.recorderId }))?.dropped ?? 0;
    } catch (error) {
      this.options.logger.error({ roomId: g.room.roomId, err: error instanceof Error ? error.name : typeof error }, 'sfu drop failed');
    }
    this.options.audit.record({
      event: 'recorder.sfu-dropped',
      outcome: dropped > 0 ? 'ok' : 'failed',
      roomId: g.room.roomId,
      subjectId: removal.recorderId,
      details: { dropped, stopRequested: removal.jobId !== undefined },
    });
  }

  private sendStatus(g: GateRoom, auth: Authorization): void {
    if (g.policy === undefined) return;
    const key = `${g.policy.version}/${auth.granted}/${auth.required}`;
    if (key === g.lastStatus) return;
    g.lastStatus = key;
    const message: ServerMessage = { type: 'consent-status', policyVersion: g.policy.version, granted: auth.granted, required: auth.required };
    g.room.broadcast(message);
  }

  private auditRosterChanges(g: GateRoom): void {
    const now = new Map(g.room.memberViews().map((m) => [m.leafIndex, { id: m.id, kind: m.kind }]));
    for (const [leafIndex, member] of now) {
      const before = g.roster.get(leafIndex);
      if (before?.id === member.id) continue;
      this.options.audit.record({
        event: member.kind === 'recorder' ? 'recorder.joined' : 'member.joined',
        roomId: g.room.roomId,
        subjectId: member.id,
        details: { leafIndex, epoch: g.room.currentEpoch.toString() },
      });
    }
    for (const [leafIndex, member] of g.roster) {
      if (now.get(leafIndex)?.id === member.id) continue;
      if (member.kind === 'recorder' && g.removal?.recorderId === member.id) continue; // recorder.removed, once healed (watchRemovalDone)
      // The dispatched recorder's departure is read by evaluate (crash or not); anyone else's here.
      const departure = member.kind === 'recorder' && g.dispatch?.recorderId === member.id ? undefined : g.room.takeDeparture(member.id);
      this.options.audit.record({
        event: member.kind === 'recorder' ? 'recorder.left' : 'member.removed',
        roomId: g.room.roomId,
        subjectId: member.id,
        details: { leafIndex, epoch: g.room.currentEpoch.toString(), ...(departure === undefined ? {} : { reason: departure }) },
      });
    }
    g.roster = now;
  }
}

/** A recorder member that is connected and not on its way out. */
function liveRecorder(member: RoomMemberView): boolean {
  return member.kind === 'recorder' && member.connected && !member.leaving && !member.expelled;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** SHA-256 hex of text (for tests and the API). */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
