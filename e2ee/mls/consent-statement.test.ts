import { MemberKeyPackage, parseKeyPackage } from './key-package.js';
import { createExternalProposal } from './external-proposal.js';
import {
  ConsentStatementError,
  decodeConsentStatement,
  encodeConsentStatement,
  hashConsentText,
  newConsentNonce,
  verifyConsentSignature,
  type ConsentStatement,
} from './consent-statement.js';
import { MlsSession } from './mls-session.js';
import { testKeyService, type TestKeyService } from './test-fixtures.js';

const groupId = Uint8Array.of(3, 1, 4, 1);

async function statement(overrides: Partial<ConsentStatement> = {}): Promise<ConsentStatement> {
  return {
    room: 'room-1',
    groupId,
    memberId: 'p-alice',
    policyVersion: 2,
    purpose: 'medical-record',
    statementHash: await hashConsentText('This visit will be recorded for your medical record. Do you agree?'),
    decision: 'grant',
    issuedAtMs: 1_790_000_000_123,
    nonce: newConsentNonce(),
    ...overrides,
  };
}

describe('consent statements', () => {
  let ks: TestKeyService;
  beforeAll(async () => {
    ks = await testKeyService();
  });

  it('encode canonically and decode back exactly', async () => {
    const s = await statement();
    const bytes = encodeConsentStatement(s);
    expect(decodeConsentStatement(bytes)).toEqual(s);
    expect(decodeConsentStatement(encodeConsentStatement({ ...s, decision: 'revoke' })).decision).toBe('revoke');
    expect(() => decodeConsentStatement(new Uint8Array([...bytes, 0]))).toThrow(ConsentStatementError);
    expect(() => decodeConsentStatement(bytes.subarray(0, bytes.length - 1))).toThrow(ConsentStatementError);
    const badDecision = bytes.slice();
    badDecision[bytes.length - 16 - 8 - 1] = 7;
    expect(() => decodeConsentStatement(badDecision)).toThrow('decision');
  });

  it.each([
    ['a room id with a slash', { room: 'a/b' }, 'room'],
    ['a member id with a space', { memberId: 'Jane Doe' }, 'memberId'],
    ['policy version 0', { policyVersion: 0 }, 'policyVersion'],
    ['a purpose that is prose', { purpose: 'Medical Record' }, 'purpose'],
    ['a short hash', { statementHash: new Uint8Array(31) }, 'statementHash'],
    ['a short nonce', { nonce: new Uint8Array(8) }, 'nonce'],
  ])('refuses %s, naming the field', async (_what, overrides, field) => {
    const s = await statement(overrides as Partial<ConsentStatement>);
    try {
      encodeConsentStatement(s);
      throw new Error('accepted');
    } catch (error) {
      expect(error).toMatchObject({ name: 'ConsentStatementError', field });
    }
  });

  it('are signed with the member leaf key and verify only against it', async () => {
    const aliceKp = await MemberKeyPackage.generate({ id: 'p-alice', kind: 'participant', name: 'Alice' });
    const a = await MlsSession.create({ groupId, keyPackage: aliceKp, keyService: ks.info });
    const bobKp = await MemberKeyPackage.generate({ id: 'p-bob', kind: 'participant', name: 'Bob' });
    const bobReceived = await parseKeyPackage(bobKp.message);
    const add = await createExternalProposal({ groupId, epoch: 0n, proposal: { kind: 'add', keyPackage: bobReceived }, signer: ks.signer });
    await a.processMessage(add.message);
    const commit = (await a.createCommit())!;
    a.applyCommit(commit);
    const b = await MlsSession.join({ welcome: commit.welcome!, keyPackage: bobKp, keyService: ks.info });

    const bytes = encodeConsentStatement(await statement());
    const signature = await a.signConsentStatement(bytes);
    const aliceKey = (await parseKeyPackage(aliceKp.message)).signaturePublicKey;
    expect(await verifyConsentSignature(bytes, signature, aliceKey)).toBe(true);
    // Bob's signature over Alice's statement does not verify as Alice's.
    expect(await verifyConsentSignature(bytes, await b.signConsentStatement(bytes), aliceKey)).toBe(false);
    expect(await verifyConsentSignature(bytes, await b.signConsentStatement(bytes), bobReceived.signaturePublicKey)).toBe(true);
    const altered = bytes.slice();
    altered[altered.length - 1]! ^= 1;
    expect(await verifyConsentSignature(altered, signature, aliceKey)).toBe(false);
    expect(await verifyConsentSignature(bytes, signature.subarray(1), aliceKey)).toBe(false);
  });
});
