import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as signEd25519, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ExternalProposalSigner, KeyServiceIdentity } from '../e2ee/mls/index.js';
import { identityProblem } from '../e2ee/mls/index.js';

/**
 * The key service's identity as the MLS group's only external sender (RFC 9420 §12.1.8.3). The signer
 * only signs bytes it is given (the SignContent of an external proposal, built in e2ee/mls), so the
 * private key can stay in a KMS (issue 4) behind the same interface. This file holds the local Ed25519
 * implementation (ciphersuite 0x0001 signs with Ed25519): generated in memory, or read from a PKCS#8 PEM.
 */
export interface ExternalSenderSigner extends ExternalProposalSigner {
  readonly identity: KeyServiceIdentity;
}

export const DEFAULT_KEY_SERVICE_IDENTITY: KeyServiceIdentity = Object.freeze({
  id: 'chaperone-keyservice',
  kind: 'key-service',
  name: 'Chaperone key service',
});

export class LocalEd25519ExternalSender implements ExternalSenderSigner {
  readonly signaturePublicKey: Uint8Array;
  readonly identity: KeyServiceIdentity;

  private constructor(
    private readonly privateKey: KeyObject,
    identity: KeyServiceIdentity,
  ) {
    const problem = identityProblem(identity);
    if (problem !== undefined || identity.kind !== 'key-service') throw new TypeError(`identity: ${problem ?? 'kind must be key-service'}`);
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new TypeError('the external sender key must be Ed25519');
    const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
    if (typeof jwk.x !== 'string') throw new TypeError('could not read the Ed25519 public key');
    this.signaturePublicKey = new Uint8Array(Buffer.from(jwk.x, 'base64url'));
    this.identity = { ...identity };
  }

  static generate(identity: KeyServiceIdentity = DEFAULT_KEY_SERVICE_IDENTITY): LocalEd25519ExternalSender {
    return new LocalEd25519ExternalSender(generateKeyPairSync('ed25519').privateKey, identity);
  }

  static fromPkcs8Pem(pem: string, identity: KeyServiceIdentity = DEFAULT_KEY_SERVICE_IDENTITY): LocalEd25519ExternalSender {
    return new LocalEd25519ExternalSender(createPrivateKey({ key: pem, format: 'pem' }), identity);
  }

  static async fromFile(path: string, identity: KeyServiceIdentity = DEFAULT_KEY_SERVICE_IDENTITY): Promise<LocalEd25519ExternalSender> {
    return LocalEd25519ExternalSender.fromPkcs8Pem(await readFile(path, 'utf8'), identity);
  }

  /** PKCS#8 PEM of the private key, to persist it (store it like any secret). */
  toPkcs8Pem(): string {
    return this.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  }

  async sign(content: Uint8Array): Promise<Uint8Array> {
    return new Uint8Array(signEd25519(null, content, this.privateKey));
  }
}

export async function generateLocalExternalSender(identity?: KeyServiceIdentity): Promise<LocalEd25519ExternalSender> {
  return LocalEd25519ExternalSender.generate(identity);
}
