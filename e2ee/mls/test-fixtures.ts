import { mlsCipherSuite } from './ciphersuite.js';
import type { ExternalProposalSigner } from './external-proposal.js';
import type { ExternalSenderInfo } from './external-sender.js';

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
