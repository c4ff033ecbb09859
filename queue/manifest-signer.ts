import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { GetPublicKeyCommand, SignCommand, type KMSClient } from '@aws-sdk/client-kms';
import { SealError, fromKmsError } from './errors.js';

/**
 * Who signs manifests. Production: an asymmetric KMS key (SIGN_VERIFY; ECC_NIST_P256 → ECDSA_SHA_256,
 * DER signature; ECC_NIST_EDWARDS25519 → ED25519_SHA_512, 64-byte RFC 8032 signature), called with
 * MessageType RAW over a short statement (≤ 4096 bytes, KMS's RAW limit) that carries the manifest's
 * SHA-256. Development: a local Ed25519 key (refused in production by config.ts). Anyone can verify offline
 * with the public key (DER SubjectPublicKeyInfo), which the signature block carries; whether that key is
 * the trusted one is a separate question the verifier answers against its configuration.
 */

export type ManifestSigningAlgorithm = 'ECDSA_SHA_256' | 'ED25519_SHA_512';

export interface ManifestSigner {
  readonly kind: 'aws-kms' | 'local-ed25519';
  /** KMS key ARN, or `local-ed25519:<public key hex prefix>`. */
  keyId(): Promise<string>;
  algorithm(): Promise<ManifestSigningAlgorithm>;
  publicKeySpki(): Promise<Buffer>;
  sign(message: Buffer): Promise<Buffer>;
}

export class KmsManifestSigner implements ManifestSigner {
  readonly kind = 'aws-kms';
  private described: Promise<{ arn: string; algorithm: ManifestSigningAlgorithm; spki: Buffer }> | undefined;

  constructor(
    private readonly kms: KMSClient,
    private readonly configuredKeyId: string,
  ) {}

  private describe(): Promise<{ arn: string; algorithm: ManifestSigningAlgorithm; spki: Buffer }> {
    this.described ??= (async () => {
      try {
        const out = await this.kms.send(new GetPublicKeyCommand({ KeyId: this.configuredKeyId }));
        if (out.KeyUsage !== 'SIGN_VERIFY' || !out.PublicKey || !out.KeyId) throw new SealError('CHAP_SEAL_KMS_REFUSED', `signer.keyId ${this.configuredKeyId} is not a SIGN_VERIFY key`, true);
        const algorithm: ManifestSigningAlgorithm | undefined = out.KeySpec === 'ECC_NIST_P256' ? 'ECDSA_SHA_256' : out.KeySpec === 'ECC_NIST_EDWARDS25519' ? 'ED25519_SHA_512' : undefined;
        if (!algorithm) throw new SealError('CHAP_SEAL_KMS_REFUSED', `signer.keyId: KeySpec ${out.KeySpec} is not supported; use ECC_NIST_P256 or ECC_NIST_EDWARDS25519`, true);
        return { arn: out.KeyId, algorithm, spki: Buffer.from(out.PublicKey) };
      } catch (error) {
        this.described = undefined;
        throw fromKmsError(error, 'GetPublicKey');
      }
    })();
    return this.described;
  }

  async keyId(): Promise<string> {
    return (await this.describe()).arn;
  }

  async algorithm(): Promise<ManifestSigningAlgorithm> {
    return (await this.describe()).algorithm;
  }

  async publicKeySpki(): Promise<Buffer> {
    return (await this.describe()).spki;
  }

  async sign(message: Buffer): Promise<Buffer> {
    const { arn, algorithm } = await this.describe();
    try {
      const out = await this.kms.send(new SignCommand({ KeyId: arn, Message: message, MessageType: 'RAW', SigningAlgorithm: algorithm }));
      if (!out.Signature) throw new SealError('CHAP_SEAL_KMS_REFUSED', 'KMS Sign returned no signature', true);
      return Buffer.from(out.Signature);
    } catch (error) {
      throw fromKmsError(error, 'Sign');
    }
  }
}

export class LocalEd25519ManifestSigner implements ManifestSigner {
  readonly kind = 'local-ed25519';
  private readonly publicKey: KeyObject;

  private constructor(private readonly privateKey: KeyObject) {
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new TypeError('signer: the local manifest key must be Ed25519');
    this.publicKey = createPublicKey(privateKey);
  }

  static generate(): LocalEd25519ManifestSigner {
    return new LocalEd25519ManifestSigner(generateKeyPairSync('ed25519').privateKey);
  }

  static fromPkcs8Pem(pem: string): LocalEd25519ManifestSigner {
    return new LocalEd25519ManifestSigner(createPrivateKey({ key: pem, format: 'pem' }));
  }

  toPkcs8Pem(): string {
    return this.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  }

  async keyId(): Promise<string> {
    return `local-ed25519:${Buffer.from(this.publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('hex').slice(0, 16)}`;
  }

  async algorithm(): Promise<ManifestSigningAlgorithm> {
    return 'ED25519_SHA_512';
  }

  async publicKeySpki(): Promise<Buffer> {
    return this.publicKey.export({ format: 'der', type: 'spki' });
  }

  async sign(message: Buffer): Promise<Buffer> {
    return nodeSign(null, message, this.privateKey);
  }
}

/** Offline verification, as any party can do it with the SPKI public key. */
export function verifySignature(algorithm: string, publicKeySpki: Buffer, message: Buffer, signature: Buffer): boolean {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: publicKeySpki, format: 'der', type: 'spki' });
  } catch {
    return false;
  }
  try {
    if (algorithm === 'ECDSA_SHA_256') return key.asymmetricKeyType === 'ec' && nodeVerify('sha256', message, { key, dsaEncoding: 'der' }, signature);
    if (algorithm === 'ED25519_SHA_512') return key.asymmetricKeyType === 'ed25519' && nodeVerify(null, message, key, signature);
  } catch {
    return false;
  }
  return false;
}
