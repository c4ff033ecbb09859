import { readAudit, verifyAuditChain, type AuditRecord } from '../audit/index.js';
import {
  createExternalProposal,
  encodeConsentStatement,
  hashConsentText,
  newConsentNonce,
  MemberKeyPackage,
  MemberSignatureKeys,
  parseKeyPackage,
  type MlsSession,
  type ParticipantIdentity,
  type ServerMessage,
} from '../e2ee/mls/index.js';
import { testKeyService, testRecorder } from '../e2ee/mls/test-fixtures.js';
import { verifyConsentLedger } from './consent-ledger.js';
import { generateLocalExternalSender, type LocalEd25519ExternalSender } from './external-sender.js';
import { startKeyService, type KeyService } from './key-service.js';
import { MemoryRecorderDispatcher } from './recorder-dispatcher.js';
import { RECORDER_REMOVAL_TIMEOUT_MS } from './recording-gate.js';
import type { RecordJobData } from './recorder-jobs.js';
import type { SfuModeration } from './sfu-moderation.js';
import { joinTestMember, recorderStandIn, startTestDatabase, until, type RecorderStandIn, type TestDatabase, type TestMember } from './test-support.js';
import { createDevTokenAuthority, type DevTokenAuthority } from './tokens.js';

/**
 * The recording gate end to end in Node: real PostgreSQL (policy, ledger, audit), the real key service
 * over real WebSockets and HTTP, real MLS on every member, a recorder stand-in doing what the recorder
 * does (credential over HTTP, join with it). Only the dispatcher and the SFU are test doubles here (the
 * BullMQ dispatcher and the Janus kick have their own tests against real Redis and Janus).
 */

const STATEMENT = 'This visit will be recorded for your medical record. The recording is encrypted and kept for 10 years. Do you agree?';
// The production default: the tests where members do commit must not race it. A shorter value made a
// member's removal commit on a loaded machine (MLS commit in JS, seconds at load 20) lose to the timeout.
const REMOVAL_TIMEOUT_MS = RECORDER_REMOVAL_TIMEOUT_MS;

let db: TestDatabase;
let service: KeyService;
let tokens: DevTokenAuthority;
let dispatcher: MemoryRecorderDispatcher;
let sender: LocalEd25519ExternalSender;
const drops: Array<{ roomId: string; recorderId: string }> = [];
const sfu: SfuModeration = {
  async dropRecorder(target) {
    drops.push(target);
    return { dropped: 1 };
  },
};
const open: Array<{ close(): void }> = [];
let roomCounter = 0;
const newRoom = () => `gate-${++roomCounter}`;

beforeAll(async () => {
  db = await startTestDatabase();
  tokens = await createDevTokenAuthority();
  dispatcher = new MemoryRecorderDispatcher();
  sender = await generateLocalExternalSender();
  service = await startKeyService({
    host: '127.0.0.1',
    port: 0,
    tokens: tokens.verifier,
    externalSender: sender,
    commitTimeoutMs: 400,
    recording: { pool: db.pool, dispatcher, sfu, sfuRoomFor: () => 1234, removalTimeoutMs: REMOVAL_TIMEOUT_MS },
  });
}, 60_000);

afterEach(() => {
  for (const item of open.splice(0)) item.close();
});

afterAll(async () => {
  await service?.close();
  await db?.stop();
});

const person = (id: string, name: string): ParticipantIdentity => ({ id, kind: 'participant', name });

async function join(room: string, identity: ParticipantIdentity, options: Parameters<typeof joinTestMember>[4] = {}): Promise<TestMember> {
  const member = await joinTestMember(service, tokens, room, identity, options);
  open.push(member);
  return member;
}

async function setPolicy(room: string, body: Record<string, unknown> = {}) {
  const token = await tokens.issue({ sub: 'op-1', role: 'operator' });
  const response = await fetch(`${service.url}/v1/rooms/${room}/policy`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ enabled: true, purpose: 'medical-record', statement: STATEMENT, ...body }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { policy: { version: number } }).policy;
}

function nextDispatch(room: string): Promise<RecordJobData> {
  return new Promise((resolve) => {
    const off = dispatcher.on((event) => {
      if (event.kind === 'dispatch' && event.job.roomId === room) {
        off();
        resolve(event.job);
      }
    });
  });
}

async function admitRecorder(room: string, job: RecordJobData): Promise<RecorderStandIn> {
  const recorder = await recorderStandIn(service, tokens, job);
  open.push(recorder);
  return recorder;
}

const snapshot = (room: string) => service.room(room)!;
const hasRecorder = (room: string) => snapshot(room).members.some((m) => m.kind === 'recorder');
const rosterHasRecorder = (m: TestMember) => m.epochs.at(-1)?.roster.some((e) => e.kind === 'recorder') ?? false;

async function auditOf(room: string): Promise<AuditRecord[]> {
  await service.flushAudit();
  return readAudit(db.pool, { roomId: room, limit: 5000 });
}

/** Three members with a policy; returns them after each saw the policy. */
async function threeMembers(room: string) {
  await setPolicy(room);
  const a = await join(room, person('p-ana', 'Ana'));
  const b = await join(room, person('c-ben', 'Dr. Ben'), { role: 'clinician' });
  const c = await join(room, person('p-cy', 'Cy'));
  await until(() => [a, b, c].every((m) => m.policies.length > 0 && m.epochs.at(-1)?.epoch === snapshot(room).epoch), 'members at the same epoch with the policy');
  return [a, b, c] as const;
}

describe('recording gate: consent → membership', () => {
  it('admits the recorder only after every member consented, lists it everywhere with its purpose, and removes it at a revocation', async () => {
    const room = newRoom();
    const [a, b, c] = await threeMembers(room);
    expect(a.policies.at(-1)).toMatchObject({ room, version: 1, enabled: true, purpose: 'medical-record', purposeLabel: 'Medical record', statement: STATEMENT, consentMode: 'all-party' });

    await a.member.consent('grant');
    await b.member.consent('grant');
    await until(() => a.statuses.some((s) => s.granted === 2 && s.required === 3), 'status 2 of 3');
    expect(dispatcher.dispatched.filter((j) => j.roomId === room)).toHaveLength(0);

    const dispatched = nextDispatch(room);
    await c.member.consent('grant');
    const job = await dispatched;
    expect(job).toMatchObject({ roomId: room, sfuRoom: 1234, policyVersion: 1, purpose: 'medical-record', part2: false, retentionDays: 3650 });
    expect(JSON.stringify(job)).not.toMatch(/Ana|Ben|Cy|STATEMENT|record for your/);
    const recorder = await admitRecorder(room, job);
    await until(() => [a, b, c, recorder].every((m) => m.epochs.at(-1)?.epoch === snapshot(room).epoch && rosterHasRecorder(m)), 'every roster lists the recorder');
    for (const m of [a, b, c, recorder]) {
      expect(m.epochs.at(-1)!.roster.find((e) => e.kind === 'recorder')).toMatchObject({ id: 'recorder-svc', name: 'Chaperone recorder', purpose: 'Medical record' });
      expect(m.epochs.at(-1)!.sframeEpochSecret).toEqual(a.epochs.at(-1)!.sframeEpochSecret);
    }

    // Revocation: the recorder is proposed for removal at once, removed, and the epoch healed.
    const revokedAt = Date.now();
    await b.member.consent('revoke');
    await until(() => recorder.removed.length === 1, 'the recorder removed');
    await until(() => !hasRecorder(room) && snapshot(room).healed, 'healed without the recorder');
    await until(() => [a, b, c].every((m) => m.epochs.at(-1)?.epoch === snapshot(room).epoch), 'members at the healed epoch');
    expect(Date.now() - revokedAt).toBeLessThan(1000);
    for (const m of [a, b, c]) {
      expect(rosterHasRecorder(m)).toBe(false);
      expect(m.epochs.at(-1)!.sframeEpochSecret).not.toEqual(recorder.epochs.at(-1)!.sframeEpochSecret);
    }
    expect(dispatcher.stopped).toContainEqual({ jobId: job.jobId, roomId: room, reason: 'consent-revoked' });

    const events = (await auditOf(room)).map((e) => e.event);
    for (const expected of ['policy.changed', 'consent.granted', 'recorder.dispatched', 'recorder.credential-issued', 'recorder.admitted', 'recorder.joined', 'consent.revoked', 'recorder.removal-proposed', 'recorder.stop-requested', 'recorder.removed']) {
      expect(events).toContain(expected);
    }
    expect(events.indexOf('recorder.removal-proposed')).toBeLessThan(events.indexOf('recorder.removed'));
    expect(events.filter((e) => e === 'consent.granted')).toHaveLength(3);
    const text = JSON.stringify(await auditOf(room), (_key, value) => (typeof value === 'bigint' ? value.toString() : value));
    for (const name of ['Ana', 'Ben', 'Cy', 'eyJ', 'Medical record', 'agree']) expect(text).not.toContain(name);
  });

  it('removes the recorder before a joiner without consent is added, and re-admits one once the joiner consents', async () => {
    const room = newRoom();
    const [a, b, c] = await threeMembers(room);
    const firstJob = nextDispatch(room);
    for (const m of [a, b, c]) await m.member.consent('grant');
    const recorder = await admitRecorder(room, await firstJob);
    await until(() => hasRecorder(room) && a.epochs.at(-1)?.epoch === snapshot(room).epoch && rosterHasRecorder(a), 'recorder in');
    const recorderLastEpoch = () => recorder.epochs.at(-1)!.epoch;

    const d = await join(room, person('p-dee', 'Dee'));
    // The joiner never shares an epoch with the recorder: it never sees it, and its first epoch comes
    // after the recorder's last one (plus the healing commit).
    await until(() => recorder.removed.length === 1, 'the recorder told it was removed');
    expect(d.epochs[0]!.epoch).toBeGreaterThan(recorderLastEpoch() + 1n);
    expect(d.epochs.every((e) => !e.roster.some((entry) => entry.kind === 'recorder'))).toBe(true);
    expect(dispatcher.stopped.some((s) => s.roomId === room && s.reason === 'joiner-without-consent')).toBe(true);

    // The joiner consents: recording is authorized again and a new job is dispatched.
    await until(() => d.policies.length > 0, 'the joiner sees the policy');
    const secondJob = nextDispatch(room);
    await d.member.consent('grant');
    const job = await secondJob;
    const again = await admitRecorder(room, job);
    await until(() => [a, b, c, d].every((m) => m.epochs.at(-1)?.epoch === snapshot(room).epoch && rosterHasRecorder(m)), 'the new recorder listed everywhere');
    expect(again.errors).toEqual([]);
    const events = (await auditOf(room)).map((e) => e.event);
    expect(events.filter((e) => e === 'recorder.dispatched')).toHaveLength(2);
  });

  it('refuses and audits: a forged external proposal, self-made and foreign recorder credentials, a statement signed by another member, a replay, an old policy version', async () => {
    const room = newRoom();
    const refusalsBefore = (await auditOf(room)).length;
    expect(refusalsBefore).toBe(0);
    let inject: ((message: ServerMessage) => void) | undefined;
    await setPolicy(room);
    const a = await join(room, person('p-al', 'Al'), {
      wrap: (t) => ({
        send: (m) => t.send(m),
        onClose: (l) => t.onClose(l),
        onMessage: (l) => {
          inject = l;
          t.onMessage(l);
        },
      }),
    });
    const b = await join(room, person('p-bo', 'Bo'));
    await until(() => a.epochs.at(-1)?.epoch === snapshot(room).epoch && b.epochs.at(-1)?.epoch === snapshot(room).epoch, 'two members');

    // 1. An external proposal signed by another key, slipped to Al as if from the service.
    const impostor = await testKeyService('impostor');
    const kp = await parseKeyPackage((await MemberKeyPackage.generate(person('p-x', 'X'))).message);
    const groupId = ((a.member as unknown as { session: MlsSession }).session).groupId;
    const forged = await createExternalProposal({ groupId, epoch: snapshot(room).epoch, proposal: { kind: 'add', keyPackage: kp }, signer: impostor.signer });
    inject!({ type: 'proposal', epoch: snapshot(room).epoch, message: forged.message });
    await until(() => a.errors.some((e) => e.code === 'mls-error'), 'Al refuses the proposal');

    // 2. A self-made recorder credential, and one signed by another key, with a recorder token.
    // (The recorder service token names the room here so the refusal is filed under it; without a room
    // claim a self-made credential names no room at all.)
    const scoped = await tokens.issue({ sub: 'recorder-svc', role: 'recorder', room });
    await expect(join(room, { id: 'recorder-svc', kind: 'recorder', name: 'Chaperone recorder' }, { token: scoped })).rejects.toMatchObject({
      serverCode: 'invalid-key-package',
    });
    const foreign = await testRecorder(impostor, groupId, { id: 'recorder-svc', room });
    await expect(join(room, foreign.identity, { signatureKeys: foreign.keys })).rejects.toMatchObject({ serverCode: 'invalid-key-package' });

    // 3. A statement naming Al, signed by Bo's leaf key; and Bo submitting Al's statement.
    const statement = encodeConsentStatement({
      room,
      groupId,
      memberId: 'p-al',
      policyVersion: 1,
      purpose: 'medical-record',
      statementHash: await hashConsentText(STATEMENT),
      decision: 'grant',
      issuedAtMs: Date.now(),
      nonce: newConsentNonce(),
    });
    const bosSignature = await (b.member as unknown as { session: MlsSession }).session.signConsentStatement(statement);
    a.transport.send({ type: 'consent', statement, signature: bosSignature });
    const alsSignature = await (a.member as unknown as { session: MlsSession }).session.signConsentStatement(statement);
    b.transport.send({ type: 'consent', statement, signature: alsSignature });
    const refused = async (reason: string) => (await auditOf(room)).some((e) => e.event === 'consent.refused' && e.details.reason === reason);
    await until(async () => (await refused('bad-signature')) && (await refused('wrong-member')), 'both refusals answered');

    // 4. A replay of a recorded statement.
    await a.member.consent('grant');
    const granted = a.sent.filter((m) => m.type === 'consent').at(-1)!;
    a.transport.send(granted);

    // 5. Consent for an old policy version (the operator publishes version 2 first).
    await setPolicy(room, { purpose: 'quality-review' });
    await until(() => a.policies.at(-1)?.version === 2, 'Al sees version 2');
    const old = encodeConsentStatement({
      room,
      groupId,
      memberId: 'p-al',
      policyVersion: 1,
      purpose: 'medical-record',
      statementHash: await hashConsentText(STATEMENT),
      decision: 'grant',
      issuedAtMs: Date.now(),
      nonce: newConsentNonce(),
    });
    a.transport.send({ type: 'consent', statement: old, signature: await (a.member as unknown as { session: MlsSession }).session.signConsentStatement(old) });

    const wanted = [
      { event: 'member.refused-message', reason: 'bad-signature' },
      { event: 'recorder.refused', reason: 'invalid-key-package' },
      { event: 'consent.refused', reason: 'bad-signature' },
      { event: 'consent.refused', reason: 'wrong-member' },
      { event: 'consent.refused', reason: 'replayed' },
      { event: 'consent.refused', reason: 'stale-policy' },
    ];
    await until(async () => {
      const events = await auditOf(room);
      return wanted.every((w) => events.some((e) => e.event === w.event && e.outcome === 'refused' && (e.details.reason === w.reason || e.details.code === w.reason)));
    }, 'every refusal audited');
    const events = await auditOf(room);
    expect(events.filter((e) => e.event === 'recorder.refused')).toHaveLength(2);
    expect(events.find((e) => e.event === 'member.refused-message')).toMatchObject({ subjectId: 'p-al', details: { what: 'proposal', code: 'bad-signature' } });
    // Nothing of it changed anything: no recorder was ever dispatched here.
    expect(dispatcher.dispatched.filter((j) => j.roomId === room)).toHaveLength(0);
    expect(b.errors).toEqual([]);
  });

  it('accepts consent over HTTP too, and refuses credentials to recorders without a current job', async () => {
    const room = newRoom();
    await setPolicy(room, { purpose: 'supervision' });
    const a = await join(room, person('p-hal', 'Hal'));
    await until(() => a.policies.length > 0, 'policy');
    const groupId = (a.member as unknown as { session: MlsSession }).session.groupId;
    const statement = encodeConsentStatement({
      room,
      groupId,
      memberId: 'p-hal',
      policyVersion: 1,
      purpose: 'supervision',
      statementHash: await hashConsentText(STATEMENT),
      decision: 'grant',
      issuedAtMs: Date.now(),
      nonce: newConsentNonce(),
    });
    const signature = await (a.member as unknown as { session: MlsSession }).session.signConsentStatement(statement);
    const post = async (sub: string, body: unknown) =>
      fetch(`${service.url}/v1/rooms/${room}/consents`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await tokens.issue({ sub, room, role: 'patient' })}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const dispatched = nextDispatch(room);
    const ok = await post('p-hal', { statement: Buffer.from(statement).toString('base64'), signature: Buffer.from(signature).toString('base64') });
    expect(ok.status).toBe(201);
    expect(await ok.json()).toEqual({ policyVersion: 1, decision: 'grant' });
    const job = await dispatched;
    // Someone else's token submitting Hal's statement is not Hal.
    const other = await post('p-nobody', { statement: Buffer.from(statement).toString('base64'), signature: Buffer.from(signature).toString('base64') });
    expect(other.status).toBe(409);
    expect(await other.json()).toMatchObject({ error: { code: 'not-a-member' } });

    const recorderToken = await tokens.issue({ sub: 'recorder-svc', role: 'recorder' });
    const keys = await MemberSignatureKeys.generate();
    const ask = (jobId: string) =>
      fetch(`${service.url}/v1/rooms/${room}/recorder-credentials`, {
        method: 'POST',
        headers: { authorization: `Bearer ${recorderToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ jobId, signaturePublicKey: Buffer.from(keys.publicKey).toString('base64') }),
      });
    const wrongJob = await ask('rec-not-this-one');
    expect(wrongJob.status).toBe(409);
    expect(await wrongJob.json()).toMatchObject({ error: { code: 'no-dispatch' } });
    expect((await ask(job.jobId)).status).toBe(201);
    // Authorization ends (Hal revokes): the job is stopped and no credential is issued for it any more.
    await a.member.consent('revoke');
    const late = await ask(job.jobId);
    expect(late.status).toBe(409);
  });

  it('when no member commits the removal within the timeout, tells the recorder to stop and has the SFU drop it', async () => {
    const room = newRoom();
    await setPolicy(room);
    let stall = false;
    const stalling = { wrap: (t: TestMember['transport']) => ({ send: (m: Parameters<typeof t.send>[0]) => t.send(m), onClose: (l: () => void) => t.onClose(l), onMessage: (l: (m: ServerMessage) => void) => t.onMessage((m) => (stall && m.type === 'commit-request' ? undefined : l(m))) }) };
    const a = await join(room, person('p-sam', 'Sam'), stalling);
    const dispatched = nextDispatch(room);
    await until(() => a.policies.length > 0, 'policy');
    await a.member.consent('grant');
    const job = await dispatched;
    const recorder = await admitRecorder(room, job);
    await until(() => hasRecorder(room) && rosterHasRecorder(a), 'recorder in');
    stall = true; // Sam (the only member who may commit) stops committing
    const revokedAt = Date.now();
    await a.member.consent('revoke');
    await until(() => drops.some((d) => d.roomId === room), 'the SFU drop', REMOVAL_TIMEOUT_MS + 10_000);
    expect(Date.now() - revokedAt).toBeGreaterThanOrEqual(REMOVAL_TIMEOUT_MS - 50);
    expect(drops.filter((d) => d.roomId === room)).toEqual([{ roomId: room, recorderId: 'recorder-svc' }]);
    expect(dispatcher.stopped.filter((s) => s.jobId === job.jobId).map((s) => s.reason)).toEqual(['consent-revoked', 'removal-timeout']);
    const events = await auditOf(room);
    expect(events.find((e) => e.event === 'recorder.removal-timeout')).toMatchObject({ outcome: 'failed', details: { timeoutMs: REMOVAL_TIMEOUT_MS } });
    expect(events.find((e) => e.event === 'recorder.sfu-dropped')).toMatchObject({ outcome: 'ok', details: { dropped: 1 } });
    void recorder;
  });

  it('a new policy version needs everyone to consent again: the recorder leaves at once; a disabled policy keeps it out', async () => {
    const room = newRoom();
    await setPolicy(room);
    const a = await join(room, person('p-vi', 'Vi'));
    const b = await join(room, person('p-wu', 'Wu'));
    await until(() => [a, b].every((m) => m.policies.length > 0 && m.epochs.at(-1)?.epoch === snapshot(room).epoch), 'policy');
    const dispatched = nextDispatch(room);
    await a.member.consent('grant');
    await b.member.consent('grant');
    const recorder = await admitRecorder(room, await dispatched);
    await until(() => hasRecorder(room), 'recorder in');
    await setPolicy(room, { purpose: 'quality-review' });
    await until(() => recorder.removed.length === 1 && !hasRecorder(room), 'recorder removed at the new version');
    expect(dispatcher.stopped.filter((x) => x.roomId === room).map((x) => x.reason)).toEqual(['policy-changed']);
    await until(() => a.policies.at(-1)?.version === 2, 'members see version 2');
    // Consent to version 2, but the operator switched recording off: nothing is dispatched.
    await setPolicy(room, { enabled: false, purpose: 'quality-review' });
    await until(() => a.policies.at(-1)?.version === 3, 'members see version 3');
    await a.member.consent('grant');
    await b.member.consent('grant');
    expect(dispatcher.dispatched.filter((j) => j.roomId === room)).toHaveLength(1);
    const status = await (await fetch(`${service.url}/v1/rooms/${room}/consent-status`, { headers: { authorization: `Bearer ${await tokens.issue({ sub: 'op-1', role: 'operator' })}` } })).json();
    expect(status).toEqual({ policyVersion: 3, granted: 2, required: 2, authorized: false, recorderPresent: false });
  });

  it('one-party mode (set explicitly): one grant records, and a joiner sees the notice without removing the recorder', async () => {
    const room = newRoom();
    await setPolicy(room, { consentMode: 'one-party' });
    const clinician = await join(room, person('c-xu', 'Dr. Xu'), { role: 'clinician' });
    const patient = await join(room, person('p-yo', 'Yo'));
    await until(() => [clinician, patient].every((m) => m.policies.length > 0), 'policy');
    expect(patient.policies.at(-1)).toMatchObject({ consentMode: 'one-party' });
    const dispatched = nextDispatch(room);
    await clinician.member.consent('grant');
    const recorder = await admitRecorder(room, await dispatched);
    await until(() => hasRecorder(room) && rosterHasRecorder(patient), 'recorder in');
    const late = await join(room, person('p-zed', 'Zed'));
    await until(() => late.policies.length > 0 && rosterHasRecorder(late), 'the joiner sees the notice and the recorder');
    expect(recorder.removed).toHaveLength(0);
    // The consenting party withdraws: recording stops.
    await clinician.member.consent('revoke');
    await until(() => recorder.removed.length === 1, 'recorder removed');
  });

  it('keeps a crashed recorder’s job open for a rejoin with a new key; a deliberate leave ends the job', async () => {
    const room = newRoom();
    await setPolicy(room);
    const a = await join(room, person('p-kim', 'Kim'));
    await until(() => a.policies.length > 0, 'policy');
    const dispatched = nextDispatch(room);
    await a.member.consent('grant');
    const job = await dispatched;
    const first = await admitRecorder(room, job);
    await until(() => hasRecorder(room) && rosterHasRecorder(a), 'recorder in');
    // The recorder's process dies: its connection drops without a word.
    first.transport.socket.terminate();
    await until(() => !hasRecorder(room) && snapshot(room).healed, 'the crashed recorder removed');
    // It comes back for the same job with a new key: a new credential, a new member, no new job.
    const second = await admitRecorder(room, job);
    await until(() => hasRecorder(room) && rosterHasRecorder(a), 'the recorder rejoined');
    expect(second.keys.publicKey).not.toEqual(first.keys.publicKey);
    expect(dispatcher.dispatched.filter((j) => j.roomId === room)).toHaveLength(1);
    let events = (await auditOf(room)).map((e) => e.event);
    expect(events).toEqual(expect.arrayContaining(['recorder.crashed', 'recorder.rejoined']));
    // Now it finishes on purpose (leave): the job ends, and — still authorized — a new one is dispatched.
    const next = nextDispatch(room);
    second.member.close();
    const replacement = await next;
    expect(replacement.jobId).not.toBe(job.jobId);
    events = (await auditOf(room)).map((e) => e.event);
    expect(events).toContain('recorder.job-ended');
    // The old job's credential is not issued again.
    await expect(recorderStandIn(service, tokens, job)).rejects.toThrow(/409/);
  });

  it('keeps both chains verifiable', async () => {
    await service.flushAudit();
    expect(await verifyAuditChain(db.pool)).toMatchObject({ ok: true, problems: [] });
    expect(await verifyConsentLedger(db.pool)).toMatchObject({ ok: true, problems: [] });
    const ledger = await db.pool.query('select count(*)::int as n from consent_ledger');
    expect(ledger.rows[0].n).toBeGreaterThan(8);
  });
});
