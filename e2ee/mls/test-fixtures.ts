import { mlsCipherSuite } from './ciphersuite.js';
import type { ExternalProposalSigner } from './external-proposal.js';
import type { ExternalSenderInfo } from './external-sender.js';
import type { IssuedRecorderIdentity } from './participant-credential.js';
import { issueRecorderCredential } from './recorder-credential.js';
import { MemberSignatureKeys } from './signature-keys.js';

/**
 * A key service signing key for tests of the MLS layer (the real one lives in keyservice/). Not a test
 * file itself so the tests of this folder can share it; it holds no secrets beyond what it generates.
 */
export interface TestKeyService {
  info: ExternalSenderInfo;
  signer: ExternalProposalSigner;
  signKey: Uint8Array;
}

export async function testKeyService(id = 'key-service-test'): Promise<TestKeyService> {
  const cs = await mlsCipherSuite();
  const { publicKey, signKey } = await cs.signature.keygen();
  return {
    info: { signaturePublicKey: publicKey, identity: { id, kind: 'key-service', name: 'Chaperone key service' } },
    signer: { signaturePublicKey: publicKey, sign: (content) => cs.signature.sign(signKey, content) },
    signKey,
  };
}

/** A recorder identity issued by `ks` for `groupId`, with the signature keys it is bound to. */
export async function testRecorder(
  ks: TestKeyService,
  groupId: Uint8Array,
  options: { id?: string; room?: string; purpose?: string; notAfter?: number; keys?: MemberSignatureKeys } = {},
): Promise<{ identity: IssuedRecorderIdentity; keys: MemberSignatureKeys }> {
  const keys = options.keys ?? (await MemberSignatureKeys.generate());
  const identity = await issueRecorderCredential(
    {
      id: options.id ?? 'rec-1',
      name: 'Chaperone recorder',
      room: options.room ?? 'room-test',
      groupId,
      purpose: options.purpose ?? 'Medical record',
      notAfter: options.notAfter ?? Math.floor(Date.now() / 1000) + 3600,
      leafSignaturePublicKey: keys.publicKey,
    },
    ks.signer,
  );
  return { identity, keys };
}
