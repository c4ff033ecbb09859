import { defaultProposalTypes, encode, mlsExporter, mlsMessageEncoder, processMessage, proposeExternal, unsafeTestingAuthenticationService, type ClientState } from 'ts-mls';
import { decodeMlsMessage } from './mls-message.js';
import { MLS_CIPHERSUITE_ID, mlsCipherSuite } from './ciphersuite.js';
import { inspectCommit, inspectWelcome } from './commit-inspection.js';
import { createExternalProposal } from './external-proposal.js';
import { MemberKeyPackage, parseKeyPackage, KeyPackageValidator } from './key-package.js';
import { MlsSession } from './mls-session.js';
import { MlsSessionError } from './errors.js';
import type { ParticipantIdentity } from './participant-credential.js';
import { testKeyService, testRecorder, type TestKeyService } from './test-fixtures.js';
import type { MemberSignatureKeys } from './signature-keys.js';

const alice: ParticipantIdentity = { id: 'p-alice', kind: 'participant', name: 'Alice' };
const bob: ParticipantIdentity = { id: 'p-bob', kind: 'participant', name: 'Bob' };
const carol: ParticipantIdentity = { id: 'p-carol', kind: 'participant', name: 'Carol' };
const groupId = Uint8Array.of(1, 2, 3, 4);

async function addByExternalProposal(ks: TestKeyService, members: MlsSession[], joiner: ParticipantIdentity, keys?: MemberSignatureKeys) {
  const kp = await MemberKeyPackage.generate(joiner, keys);
  const received = await parseKeyPackage(kp.message);
  const epoch = members[0]!.epoch;
  const proposal = await createExternalProposal({ groupId, epoch, proposal: { kind: 'add', keyPackage: received }, signer: ks.signer });
  for (const m of members) expect(await m.processMessage(proposal.message)).toEqual({ kind: 'proposal', proposalType: 'add' });
  const pending = (await members[0]!.createCommit())!;
  expect(inspectCommit(pending.commit).proposalRefs).toEqual([proposal.ref]);
  expect(inspectWelcome(pending.welcome!).newMemberRefs).toEqual([received.ref]);
  members[0]!.applyCommit(pending);
  for (const m of members.slice(1)) await m.processMessage(pending.commit);
  const joined = await MlsSession.join({ welcome: pending.welcome!, keyPackage: kp, keyService: ks.info });
  return joined;
}

async function removeByExternalProposal(ks: TestKeyService, members: MlsSession[], committer: MlsSession, leafIndex: number) {
  const proposal = await createExternalProposal({ groupId, epoch: committer.epoch, proposal: { kind: 'remove', leafIndex }, signer: ks.signer });
  for (const m of members) await m.processMessage(proposal.message);
  const pending = (await committer.createCommit())!;
  committer.applyCommit(pending);
  return pending;
}

describe('MlsSession', () => {
  let ks: TestKeyService;
  beforeAll(async () => {
    ks = await testKeyService();
  });

  it('creates a group whose only GroupContext extension is external_senders = key service', async () => {
    const a = await MlsSession.create({ groupId, keyPackage: await MemberKeyPackage.generate(alice), keyService: ks.info });
    expect(a.epoch).toBe(0n);
    expect(a.roster()).toEqual([{ leafIndex: 0, ...alice }]);
    const state = (a as unknown as { state: { groupContext: { extensions: Array<{ extensionType: number }> } } }).state;
    expect(state.groupContext.extensions.map((e) => e.extensionType)).toEqual([5]);
  });

  it('adds members by the key service external proposals; all agree on roster and SFrame key', async () => {
    const a = await MlsSession.create({ groupId, keyPackage: await MemberKeyPackage.generate(alice), keyService: ks.info });
    const b = await addByExternalProposal(ks, [a], bob);
    const c = await addByExternalProposal(ks, [a, b], carol);
    for (const m of [a, b, c]) {
      expect(m.epoch).toBe(2n);
      expect(m.roster()).toEqual([
        { leafIndex: 0, ...alice },
        { leafIndex: 1, ...bob },
        { leafIndex: 2, ...carol },
      ]);
    }
    const keys = await Promise.all([a, b, c].map((m) => m.exportSFrameBaseKey()));
    expect(keys[0]).toHaveLength(16);
    expect(keys[1]).toEqual(keys[0]);
    expect(keys[2]).toEqual(keys[0]);
    expect([a.ownLeafIndex, b.ownLeafIndex, c.ownLeafIndex]).toEqual([0, 1, 2]);
  });

  it('a removed member cannot follow the group: it has no state, and cannot compute the healed epoch', async () => {
    const a = await MlsSession.create({ groupId, keyPackage: await MemberKeyPackage.generate(alice), keyService: ks.info });
    const b = await addByExternalProposal(ks, [a], bob);
    const recorder = await testRecorder(ks, groupId);
    const r = await addByExternalProposal(ks, [a, b], recorder.identity, recorder.keys);
    const lastKeyOfRecorder = await r.exportSFrameBaseKey();
    // A malicious recorder keeps a copy of its state to keep trying after removal.
    const hostile = await MlsSession.load(r.save());

    const removal = await removeByExternalProposal(ks, [a, b, r, hostile], a, 2);
    await b.processMessage(removal.commit);
    expect(await r.processMessage(removal.commit)).toMatchObject({ kind: 'commit', removed: true });
    expect(r.active).toBe(false);
    expect(() => r.epoch).toThrow(MlsSessionError);

    // ts-mls 2.0.0-rc.10 sends a single-Remove commit without UpdatePath: that epoch is unhealed.
    const removalHadPath = inspectCommit(removal.commit).hasPath;
    if (!removalHadPath) {
      expect(a.healed).toBe(false);
      expect(b.healed).toBe(false);
      await expect(a.exportSFrameBaseKey()).rejects.toMatchObject({ code: 'invalid-state' });
      const heal = (await b.createCommit())!;
      expect(inspectCommit(heal.commit)).toMatchObject({ hasPath: true, proposalRefs: [] });
      b.applyCommit(heal);
      await a.processMessage(heal.commit);
      await expect(hostile.processMessage(removal.commit)).resolves.toMatchObject({ removed: true });
    }
    expect(a.healed && b.healed).toBe(true);
    const newKey = await a.exportSFrameBaseKey();
    expect(await b.exportSFrameBaseKey()).toEqual(newKey);
    expect(newKey).not.toEqual(lastKeyOfRecorder);
    expect(a.roster().map((e) => e.id)).toEqual([alice.id, bob.id]);
  });

  it('a hostile removed member that keeps processing with ts-mls directly learns only the unhealed epoch', async () => {
    const cs = await mlsCipherSuite();
    const a = await MlsSession.create({ groupId, keyPackage: await MemberKeyPackage.generate(alice), keyService: ks.info });
    const b = await addByExternalProposal(ks, [a], bob);
    const recorder = await testRecorder(ks, groupId);
    const r = await addByExternalProposal(ks, [a, b], recorder.identity, recorder.keys);
    const stateOf = (m: MlsSession) => (m as unknown as { state: ClientState }).state;
    const context = { cipherSuite: cs, authService: unsafeTestingAuthenticationService };
    const exporter = (state: ClientState) => mlsExporter(state.keySchedule.exporterSecret, 'SFrame 1.0 Base Key', new Uint8Array(0), 16, cs);

    const removal = await removeByExternalProposal(ks, [a, b, r], a, 2);
    await b.processMessage(removal.commit);
    // The recorder ignores "removedFromGroup" and drives ts-mls itself.
    let hostile = stateOf(r);
    hostile = (await processMessage({ context, state: hostile, message: decodeMlsMessage(removal.commit) as never })).newState;
    expect(hostile.groupActiveState.kind).toBe('removedFromGroup');
    const hadPath = inspectCommit(removal.commit).hasPath;
    if (!hadPath) {
      // ts-mls 2.0.0-rc.10: the path-less removal commit lets the removed member compute the next epoch.
      expect(await exporter(hostile)).toEqual(await exporter(stateOf(a)));
      expect(a.healed).toBe(false); // ... which is why no SFrame key is ever derived for it
      const heal = (await a.createCommit())!;
      a.applyCommit(heal);
      await b.processMessage(heal.commit);
      // Its UpdatePath is encrypted to the copath resolution of the new tree, where the recorder's leaf is
      // blank: nothing in it is for the recorder. (Feeding it to ts-mls anyway does not fail cleanly:
      // rc.10 spins for ~12 s and dies with "RangeError: Invalid array length" — MlsSession never does it.)
      expect(inspectCommit(heal.commit).hasPath).toBe(true);
    }
    expect(a.healed).toBe(true);
    expect(await a.exportSFrameBaseKey()).not.toEqual(await exporter(hostile));
    expect(await b.exportSFrameBaseKey()).toEqual(await a.exportSFrameBaseKey());
  });

  it('canary: ts-mls 2.0.0-rc.10 omits the UpdatePath of a commit covering exactly one Remove', async () => {
    // When this fails, ts-mls emits the path itself (RFC 9420 §12.4); the healing machinery then idles.
    const a = await MlsSession.create({ groupId, keyPackage: await MemberKeyPackage.generate(alice), keyService: ks.info });
    const b = await addByExternalProposal(ks, [a], bob);
    await addByExternalProposal(ks, [a, b], carol);
    const removal = await removeByExternalProposal(ks, [a], a, 2);
    expect(inspectCommit(removal.commit).hasPath).toBe(false);
  });

  it('builds the healing commit on its own pending path-less Remove, so both can go out at once', async () => {
    const a = await MlsSession.create({ groupId, keyPackage: await MemberKeyPackage.generate(alice), keyService: ks.info });
    const b = await addByExternalProposal(ks, [a], bob);
    const c = await addByExternalProposal(ks, [a, b], carol);
    const remove = await createExternalProposal({ groupId, epoch: 2n, proposal: { kind: 'remove', leafIndex: 2 }, signer: ks.signer });
    for (const m of [a, b, c]) await m.processMessage(remove.message);
    const removal = (await a.createCommit())!;
    const heal = await a.createHealingCommit(removal);
    if (removal.healed) {
      expect(heal).toBeUndefined(); // the library emitted the path itself: nothing to heal
      return;
    }
    expect(heal).toMatchObject({ epoch: 3n, healed: true, covers: { adds: 0, removes: 0 } });
    expect(inspectCommit(heal!.commit)).toMatchObject({ epoch: 3n, hasPath: true, proposalRefs: [] });
    // The service accepted both, in order: a applies them; b processes them; c is out.
    a.applyCommit(removal);
    a.applyCommit(heal!);
    await b.processMessage(removal.commit);
    expect(b.healed).toBe(false);
    await b.processMessage(heal!.commit);
    expect([a.healed, b.healed, a.epoch, b.epoch]).toEqual([true, true, 4n, 4n]);
    expect(await b.exportSFrameBaseKey()).toEqual(await a.exportSFrameBaseKey());
    expect(await c.processMessage(removal.commit)).toMatchObject({ removed: true });
  });

  it('commits its Removes alone when the library would admit a joiner without an UpdatePath', async () => {
    const a = await MlsSession.create({ groupId, keyPackage: await MemberKeyPackage.generate(alice), keyService: ks.info });
    const b = await addByExternalProposal(ks, [a], bob);
    const remove = await createExternalProposal({ groupId, epoch: 1n, proposal: { kind: 'remove', leafIndex: 1 }, signer: ks.signer });
    const add = await createExternalProposal({
      groupId,
      epoch: 1n,
      proposal: { kind: 'add', keyPackage: await parseKeyPackage((await MemberKeyPackage.generate(carol)).message) },
      signer: ks.signer,
    });
    await a.processMessage(remove.message);
    await a.processMessage(add.message);
    void b;
    const pending = (await a.createCommit())!;
    const summary = inspectCommit(pending.commit);
    if (summary.hasPath) expect(pending.covers).toEqual({ adds: 1, removes: 1 });
    else {
      expect(pending.covers).toEqual({ adds: 0, removes: 1 });
      expect(pending.welcome).toBeUndefined();
    }
  });

  it('commits only the proposals the delivery service asks for', async () => {
    const a = await MlsSession.create({ groupId, keyPackage: await MemberKeyPackage.generate(alice), keyService: ks.info });
    const b = await addByExternalProposal(ks, [a], bob);
    const add = await createExternalProposal({
      groupId,
      epoch: 1n,
      proposal: { kind: 'add', keyPackage: await parseKeyPackage((await MemberKeyPackage.generate(carol)).message) },
      signer: ks.signer,
    });
    await a.processMessage(add.message);
    await b.processMessage(add.message);
    // The service withdrew the Add (e.g. a revocation arrived): an empty request commits nothing of it.
    const none = (await a.createCommit([]))!;
    expect(inspectCommit(none.commit)).toMatchObject({ proposalRefs: [], hasPath: true });
    expect(none.welcome).toBeUndefined();
    const all = (await a.createCommit([add.ref]))!;
    expect(inspectCommit(all.commit).proposalRefs).toEqual([add.ref]);
    // An unknown ref is ignored: the member commits what it holds of the request.
    const unknown = (await a.createCommit([Buffer.alloc(32, 9).toString('base64')]))!;
    expect(inspectCommit(unknown.commit).proposalRefs).toEqual([]);
  });

  it('refuses a proposal signed by any key other than the key service', async () => {
    const a = await MlsSession.create({ groupId, keyPackage: await MemberKeyPackage.generate(alice), keyService: ks.info });
    const impostor = await testKeyService('impostor');
    const forged = await createExternalProposal({
      groupId,
      epoch: 0n,
      proposal: { kind: 'add', keyPackage: await parseKeyPackage((await MemberKeyPackage.generate(bob)).message) },
      signer: impostor.signer,
    });
    await expect(a.processMessage(forged.message)).rejects.toMatchObject({ name: 'MlsSessionError', code: 'bad-signature' });
    expect(a.pendingProposals).toBe(0);
  });

  it('refuses proposals from the key service other than Add and Remove, and proposals from anyone else', async () => {
    const cs = await mlsCipherSuite();
    const a = await MlsSession.create({ groupId, keyPackage: await MemberKeyPackage.generate(alice), keyService: ks.info });
    const groupInfo = { groupContext: (a as unknown as { state: { groupContext: never } }).state.groupContext } as never;
    const gce = await proposeExternal(
      groupInfo,
      { proposalType: defaultProposalTypes.group_context_extensions, groupContextExtensions: { extensions: [] } },
      ks.info.signaturePublicKey,
      ks.signKey,
      cs,
    );
    await expect(a.processMessage(encode(mlsMessageEncoder, gce))).rejects.toMatchObject({ code: 'refused-proposal' });
    expect(a.pendingProposals).toBe(0);
  });

  it('builds external proposals byte-identical to ts-mls proposeExternal', async () => {
    const cs = await mlsCipherSuite();
    const a = await MlsSession.create({ groupId, keyPackage: await MemberKeyPackage.generate(alice), keyService: ks.info });
    const groupInfo = { groupContext: (a as unknown as { state: { groupContext: never } }).state.groupContext } as never;
    const received = await parseKeyPackage((await MemberKeyPackage.generate(bob)).message);
    const ours = await createExternalProposal({ groupId, epoch: 0n, proposal: { kind: 'add', keyPackage: received }, signer: ks.signer });
    const theirs = await proposeExternal(groupInfo, { proposalType: defaultProposalTypes.add, add: { keyPackage: received.keyPackage } }, ks.info.signaturePublicKey, ks.signKey, cs);
    expect(ours.message).toEqual(encode(mlsMessageEncoder, theirs));
    await a.processMessage(ours.message);
    const refs = Object.keys((a as unknown as { state: { unappliedProposals: object } }).state.unappliedProposals);
    expect(refs).toEqual([ours.ref]);
  });

  it('saves and loads, re-attaching the credential validator', async () => {
    const a = await MlsSession.create({ groupId, keyPackage: await MemberKeyPackage.generate(alice), keyService: ks.info });
    const seen: string[] = [];
    const loaded = await MlsSession.load(a.save(), { validator: { validateMember: (id) => (seen.push(id.id), id.id !== 'p-bob') } });
    expect(loaded.roster()).toEqual(a.roster());
    expect(await loaded.exportSFrameBaseKey()).toEqual(await a.exportSFrameBaseKey());
    // Bob's credential is refused by the re-attached validator as soon as his Add is proposed.
    const kp = await parseKeyPackage((await MemberKeyPackage.generate(bob)).message);
    const proposal = await createExternalProposal({ groupId, epoch: 0n, proposal: { kind: 'add', keyPackage: kp }, signer: ks.signer });
    await expect(loaded.processMessage(proposal.message)).rejects.toMatchObject({ name: 'MlsSessionError', code: 'invalid-credential' });
    expect(loaded.pendingProposals).toBe(0);
    expect(seen).toContain('p-bob');
    await expect(MlsSession.load(Uint8Array.of(1, 0, 5))).rejects.toMatchObject({ code: 'malformed-message' });
  });

  it('parses and validates KeyPackages like members do', async () => {
    const recorder = await testRecorder(ks, groupId);
    const kp = await MemberKeyPackage.generate(recorder.identity, recorder.keys);
    const received = await parseKeyPackage(kp.message);
    expect(received.identity).toEqual(recorder.identity);
    await new KeyPackageValidator(undefined, ks.info).validate(received);
    // Without the key service to check the issuer against, a recorder is refused.
    await expect(new KeyPackageValidator().validate(received)).rejects.toBeInstanceOf(MlsSessionError);
    await expect(new KeyPackageValidator({ validateMember: () => false }, ks.info).validate(received)).rejects.toBeInstanceOf(MlsSessionError);
    const tampered = kp.message.slice();
    tampered[tampered.length - 5]! ^= 1; // inside the KeyPackage signature
    const bad = await parseKeyPackage(tampered);
    await expect(new KeyPackageValidator(undefined, ks.info).validate(bad)).rejects.toBeInstanceOf(MlsSessionError);
    await expect(parseKeyPackage(Uint8Array.of(0, 1, 0, 5, 9))).rejects.toMatchObject({ code: 'malformed-message' });
    await expect(parseKeyPackage(new Uint8Array([...kp.message, 0]))).rejects.toMatchObject({ code: 'malformed-message' });
    expect(MLS_CIPHERSUITE_ID).toBe(1);
  });
});
