import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, DisableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { startKmsDouble, type KmsDouble } from '../devstack/kms-double/index.js';
import { freePort } from '../devstack/free-port.js';
import { CallMember, MemberSignatureKeys, issueRecorderCredential, recorderCredentialProblem, type EpochUpdate, type ExternalSenderInfo } from '../e2ee/mls/index.js';
import { LocalEd25519ExternalSender, type ExternalSenderSigner } from './external-sender.js';
import { startKeyService } from './key-service.js';
import { KmsEd25519ExternalSender } from './kms-external-sender.js';
import { createDevTokenAuthority } from './tokens.js';
import { connectDeliveryTransport } from './ws-delivery-transport.js';

/**
 * The external sender's key, both ways: in KMS (through the real @aws-sdk/client-kms against the KMS
 * double, which speaks AWS JSON 1.1) and in a local PKCS#8 file. Each signs external proposals members
 * accept and recorder credentials members verify.
 */

let kms: KmsDouble;
let client: KMSClient;

beforeAll(async () => {
  kms = await startKmsDouble({ port: await freePort() });
  client = new KMSClient({ endpoint: kms.endpoint, region: kms.region, credentials: kms.credentials });
});

afterAll(async () => {
  client?.destroy();
  await kms?.stop();
});

async function key(spec: 'ECC_NIST_EDWARDS25519' | 'ECC_NIST_P256' | 'SYMMETRIC_DEFAULT'): Promise<string> {
  const { KeyMetadata } = await client.send(
    new CreateKeyCommand(spec === 'SYMMETRIC_DEFAULT' ? { Description: 'not a signing key' } : { KeySpec: spec, KeyUsage: 'SIGN_VERIFY', Description: 'external sender' }),
  );
  return KeyMetadata!.Arn!;
}

/** Two members join a room of a key service using `signer`; their Add proposals are signed with it. */
async function callWith(signer: ExternalSenderSigner): Promise<EpochUpdate[][]> {
  const tokens = await createDevTokenAuthority();
  const service = await startKeyService({ host: '127.0.0.1', port: 0, tokens: tokens.verifier, externalSender: signer, commitTimeoutMs: 500 });
  const pinned: ExternalSenderInfo = { signaturePublicKey: signer.signaturePublicKey, identity: signer.identity };
  const members: Array<{ member: CallMember; epochs: EpochUpdate[]; close(): void }> = [];
  try {
    for (const id of ['p-one', 'p-two', 'p-three']) {
      const transport = await connectDeliveryTransport(service.wsUrl);
      const member = new CallMember({ identity: { id, kind: 'participant', name: id }, transport, keyService: pinned });
      const epochs: EpochUpdate[] = [];
      member.on('epoch', (e) => epochs.push(e));
      members.push({ member, epochs, close: () => transport.close() });
      await member.start(await tokens.issue({ sub: id, room: 'room-kms', role: 'patient' }));
    }
    const deadline = Date.now() + 10_000;
    while (!members.every((m) => m.epochs.at(-1)?.epoch === 2n) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return members.map((m) => m.epochs);
  } finally {
    for (const m of members) m.close();
    await service.close();
  }
}

describe('external sender key in KMS (client-kms against the KMS double)', () => {
  test('signs the external proposals of a real call: members verify them against the key GetPublicKey returns', async () => {
    const keyArn = await key('ECC_NIST_EDWARDS25519');
    const signer = await KmsEd25519ExternalSender.create({ client, keyId: keyArn });
    expect(signer.signaturePublicKey).toHaveLength(32);
    kms.clearCalls();
    const epochs = await callWith(signer);
    for (const e of epochs) expect(e.at(-1)!.epoch).toBe(2n);
    expect(epochs[0]!.at(-1)!.sframeEpochSecret).toEqual(epochs[2]!.at(-1)!.sframeEpochSecret);
    const signs = kms.calls.filter((c) => c.operation === 'Sign');
    expect(signs.length).toBeGreaterThanOrEqual(2); // one Add proposal per joiner after the first
    expect(signs.every((c) => c.keyArn === keyArn && c.outcome === 'ok')).toBe(true);
  });

  test('signs recorder credentials members verify', async () => {
    const signer = await KmsEd25519ExternalSender.create({ client, keyId: await key('ECC_NIST_EDWARDS25519') });
    const keys = await MemberSignatureKeys.generate();
    const groupId = Uint8Array.of(1, 2, 3);
    const identity = await issueRecorderCredential(
      { id: 'recorder-svc', name: 'Chaperone recorder', room: 'room-kms', groupId, purpose: 'Medical record', notAfter: Math.floor(Date.now() / 1000) + 60, leafSignaturePublicKey: keys.publicKey },
      signer,
    );
    const context = { keyService: { signaturePublicKey: signer.signaturePublicKey, identity: signer.identity }, groupId, nowSec: Math.floor(Date.now() / 1000) };
    expect(await recorderCredentialProblem(identity, keys.publicKey, context)).toBeUndefined();
  });

  test('refuses a key that is not an Ed25519 signing key, naming the fix; reports a disabled key and oversized input', async () => {
    await expect(KmsEd25519ExternalSender.create({ client, keyId: await key('ECC_NIST_P256') })).rejects.toMatchObject({ code: 'wrong-key-spec', message: expect.stringContaining('ECC_NIST_EDWARDS25519') });
    await expect(KmsEd25519ExternalSender.create({ client, keyId: await key('SYMMETRIC_DEFAULT') })).rejects.toMatchObject({ code: 'wrong-key-spec' });
    await expect(KmsEd25519ExternalSender.create({ client, keyId: 'alias/nothing-here' })).rejects.toMatchObject({ code: 'kms-failed' });
    const keyArn = await key('ECC_NIST_EDWARDS25519');
    const signer = await KmsEd25519ExternalSender.create({ client, keyId: keyArn });
    await expect(signer.sign(new Uint8Array(4097))).rejects.toMatchObject({ code: 'message-too-large' });
    await client.send(new DisableKeyCommand({ KeyId: keyArn }));
    await expect(signer.sign(Uint8Array.of(1, 2, 3))).rejects.toMatchObject({ code: 'kms-failed', message: expect.stringContaining('DisabledException') });
  });
});

describe('external sender key in a local PKCS#8 file (the embedded default)', () => {
  test('loads from the file and signs the proposals of a real call', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ks-key-'));
    try {
      const file = join(dir, 'external-sender.pem');
      await writeFile(file, LocalEd25519ExternalSender.generate().toPkcs8Pem(), { mode: 0o600 });
      const signer = await LocalEd25519ExternalSender.fromFile(file);
      const epochs = await callWith(signer);
      for (const e of epochs) expect(e.at(-1)!.epoch).toBe(2n);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
