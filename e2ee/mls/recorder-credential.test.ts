import { createCommit, createGroup, defaultProposalTypes, unsafeTestingAuthenticationService } from 'ts-mls';
import { mlsCipherSuite } from './ciphersuite.js';
import { externalSendersExtensions } from './external-sender.js';
import { encodeMlsMessage } from './mls-message.js';
import { MemberKeyPackage, parseKeyPackage } from './key-package.js';
import { createExternalProposal } from './external-proposal.js';
import { inspectCommit } from './commit-inspection.js';
import { MlsSession } from './mls-session.js';
import { decodeIdentity, encodeIdentity, type IssuedRecorderIdentity, type ParticipantIdentity } from './participant-credential.js';
import { RECORDER_CREDENTIAL_CLOCK_SKEW_SEC, issueRecorderCredential, recorderCredentialProblem } from './recorder-credential.js';
import { MemberSignatureKeys } from './signature-keys.js';
import { testKeyService, testRecorder, type TestKeyService } from './test-fixtures.js';

const alice: ParticipantIdentity = { id: 'p-alice', kind: 'participant', name: 'Alice' };
const bob: ParticipantIdentity = { id: 'p-bob', kind: 'participant', name: 'Bob' };
const groupId = Uint8Array.of(9, 8, 7, 6);

/** Alice and Bob in a group; returns a function proposing (as the key service) the Add of a KeyPackage. */
async function twoMembers(ks: TestKeyService) {
  const a = await MlsSession.create({ groupId, keyPackage: await MemberKeyPackage.generate(alice), keyService: ks.info });
  const bobKp = await MemberKeyPackage.generate(bob);
  const add = await createExternalProposal({ groupId, epoch: 0n, proposal: { kind: 'add', keyPackage: await parseKeyPackage(bobKp.message) }, signer: ks.signer });
  await a.processMessage(add.message);
  const commit = (await a.createCommit())!;
  a.applyCommit(commit);
  const b = await MlsSession.join({ welcome: commit.welcome!, keyPackage: bobKp, keyService: ks.info });
  const proposeAdd = async (kp: MemberKeyPackage, signer = ks.signer) =>
    createExternalProposal({ groupId, epoch: a.epoch, proposal: { kind: 'add', keyPackage: await parseKeyPackage(kp.message) }, signer });
  return { a, b, proposeAdd };
}

describe('recorder credentials issued by the key service', () => {
  let ks: TestKeyService;
  beforeAll(async () => {
    ks = await testKeyService();
  });

  it('encodes as identity format 2 and decodes back exactly', async () => {
    const { identity } = await testRecorder(ks, groupId, { purpose: 'Quality review' });
    const bytes = encodeIdentity(identity);
    expect(bytes[0]).toBe(2);
    expect(decodeIdentity(bytes)).toEqual(identity);
    expect(() => decodeIdentity(new Uint8Array([...bytes, 0]))).toThrow('identity length does not match its contents');
    const participantWithIssuance = { ...alice, issuance: identity.issuance } as ParticipantIdentity;
    expect(() => encodeIdentity(participantWithIssuance)).toThrow('only a recorder identity carries an issuance');
  });

  it('is valid only for its leaf key, its group and before not_after, and only when the key service signed it', async () => {
    const keys = await MemberSignatureKeys.generate();
    const now = Math.floor(Date.now() / 1000);
    const { identity } = await testRecorder(ks, groupId, { keys, notAfter: now + 60 });
    const context = { keyService: ks.info, groupId, nowSec: now };
    expect(await recorderCredentialProblem(identity, keys.publicKey, context)).toBeUndefined();
    const otherKeys = await MemberSignatureKeys.generate();
    expect(await recorderCredentialProblem(identity, otherKeys.publicKey, context)).toBe('recorder credential was not issued by the key service');
    expect(await recorderCredentialProblem(identity, keys.publicKey, { ...context, groupId: Uint8Array.of(1) })).toBe('recorder credential is for another group');
    expect(await recorderCredentialProblem(identity, keys.publicKey, { ...context, room: 'elsewhere' })).toBe('recorder credential is for another room');
    expect(await recorderCredentialProblem(identity, keys.publicKey, { ...context, nowSec: now + 61 + RECORDER_CREDENTIAL_CLOCK_SKEW_SEC })).toBe(
      'recorder credential has expired',
    );
    const impostor = await testKeyService('impostor');
    const forged = await testRecorder(impostor, groupId, { keys });
    expect(await recorderCredentialProblem(forged.identity, keys.publicKey, context)).toBe('recorder credential was not issued by the key service');
    // Any change to a signed field breaks it, e.g. a more innocent purpose.
    const edited: IssuedRecorderIdentity = { ...identity, issuance: { ...identity.issuance, purpose: 'Nothing' } };
    expect(await recorderCredentialProblem(edited, keys.publicKey, context)).toBe('recorder credential was not issued by the key service');
  });

  it('members accept the Add of an issued recorder and list it with its purpose', async () => {
    const { a, b, proposeAdd } = await twoMembers(ks);
    const recorder = await testRecorder(ks, groupId, { purpose: 'Medical record' });
    const kp = await MemberKeyPackage.generate(recorder.identity, recorder.keys);
    const add = await proposeAdd(kp);
    await b.processMessage(add.message);
    await a.processMessage(add.message);
    const commit = (await a.createCommit())!;
    a.applyCommit(commit);
    await b.processMessage(commit.commit);
    const r = await MlsSession.join({ welcome: commit.welcome!, keyPackage: kp, keyService: ks.info });
    for (const m of [a, b, r]) {
      expect(m.roster()).toEqual([
        { leafIndex: 0, ...alice },
        { leafIndex: 1, ...bob },
        { leafIndex: 2, id: 'rec-1', kind: 'recorder', name: 'Chaperone recorder', purpose: 'Medical record' },
      ]);
    }
  });

  it.each([
    ['a self-made recorder credential (format 1)', 'self-made'],
    ['a recorder credential signed by another key', 'impostor'],
    ['a recorder credential issued for another group', 'other-group'],
    ['an expired recorder credential', 'expired'],
  ])('members refuse %s, even proposed by the key service', async (_what, variant) => {
    const { a, proposeAdd } = await twoMembers(ks);
    let kp: MemberKeyPackage;
    if (variant === 'self-made') {
      kp = await MemberKeyPackage.generate({ id: 'rec-1', kind: 'recorder', name: 'Chaperone recorder' });
    } else {
      const issuer = variant === 'impostor' ? await testKeyService('impostor') : ks;
      const recorder = await testRecorder(issuer, variant === 'other-group' ? Uint8Array.of(1, 1) : groupId, {
        ...(variant === 'expired' ? { notAfter: Math.floor(Date.now() / 1000) - RECORDER_CREDENTIAL_CLOCK_SKEW_SEC - 10 } : {}),
      });
      kp = await MemberKeyPackage.generate(recorder.identity, recorder.keys);
    }
    const add = await proposeAdd(kp);
    await expect(a.processMessage(add.message)).rejects.toMatchObject({ name: 'MlsSessionError' });
    expect(a.pendingProposals).toBe(0);
  });

  it('a joiner refuses a group whose tree holds a recorder issued for another group', async () => {
    // A creator that validates nothing (raw ts-mls) admits a recorder issued for another group; the
    // credential's signature is the key service's, so only the post-join group check can catch it.
    const cs = await mlsCipherSuite();
    const context = { cipherSuite: cs, authService: unsafeTestingAuthenticationService };
    const creator = await MemberKeyPackage.generate(alice);
    const recorder = await testRecorder(ks, Uint8Array.of(5, 5));
    const recorderKp = await MemberKeyPackage.generate(recorder.identity, recorder.keys);
    const bobKp = await MemberKeyPackage.generate(bob);
    const state = await createGroup({ context, groupId, keyPackage: creator.keyPackage, privateKeyPackage: creator.privateKeys, extensions: externalSendersExtensions(ks.info) });
    const result = await createCommit({
      context,
      state,
      extraProposals: [
        { proposalType: defaultProposalTypes.add, add: { keyPackage: recorderKp.keyPackage } },
        { proposalType: defaultProposalTypes.add, add: { keyPackage: bobKp.keyPackage } },
      ],
      ratchetTreeExtension: true,
    });
    await expect(MlsSession.join({ welcome: encodeMlsMessage(result.welcome!), keyPackage: bobKp, keyService: ks.info })).rejects.toMatchObject({
      code: 'invalid-credential',
      message: 'recorder credential is for another group',
    });
  });

  it('refuses a commit whose UpdatePath changes the committer credential (e.g. to a recorder)', async () => {
    const { a, b } = await twoMembers(ks);
    // Bob commits with a path whose leaf carries a different credential: forge it by committing from a
    // session whose state claims another identity for Bob's leaf.
    const stateOf = (m: MlsSession) => (m as unknown as { state: { ratchetTree: Array<{ nodeType: number; leaf: { credential: { identity: Uint8Array } } } | undefined> } }).state;
    const commit = (await b.createCommit())!; // an empty commit always has a path
    expect(inspectCommit(commit.commit).hasPath).toBe(true);
    // Make Alice believe Bob's leaf had another credential: the (unchanged) commit now "changes" it.
    const bobLeaf = stateOf(a).ratchetTree[2]!;
    const original = bobLeaf.leaf.credential;
    bobLeaf.leaf.credential = { ...original, identity: encodeIdentity({ id: 'p-bob', kind: 'participant', name: 'Robert' }) };
    await expect(a.processMessage(commit.commit)).rejects.toMatchObject({ code: 'refused-commit', message: expect.stringContaining('credential or signature key') });
    bobLeaf.leaf.credential = original;
    await expect(a.processMessage(commit.commit)).resolves.toMatchObject({ kind: 'commit' });
  });

  it('issuing refuses a request that is not a valid credential, naming the problem', async () => {
    const keys = await MemberSignatureKeys.generate();
    const base = { id: 'rec-1', name: 'Recorder', room: 'room-1', groupId, purpose: 'Medical record', notAfter: 10, leafSignaturePublicKey: keys.publicKey };
    await expect(issueRecorderCredential({ ...base, room: 'bad room' }, ks.signer)).rejects.toThrow('issuance.room must be a room id');
    await expect(issueRecorderCredential({ ...base, leafSignaturePublicKey: Uint8Array.of(1) }, ks.signer)).rejects.toThrow('32-byte');
    await expect(issueRecorderCredential(base, { ...ks.signer, sign: async () => new Uint8Array(64) })).rejects.toThrow('does not verify');
  });
});
