import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { GetPublicKeyCommand, SignCommand, type KMSClient } from '@aws-sdk/client-kms';
import { identityProblem, type KeyServiceIdentity } from '../e2ee/mls/index.js';
import { DEFAULT_KEY_SERVICE_IDENTITY, type ExternalSenderSigner } from './external-sender.js';

/**
 * The external sender's signing key in AWS KMS (production): an asymmetric ECC_NIST_EDWARDS25519 key
 * with SIGN_VERIFY usage; ciphersuite 0x0001 signs with Ed25519 (RFC 9420 §5.1.2), which KMS calls
 * ED25519_SHA_512 over a RAW message (pure Ed25519, RFC 8032). The private key never leaves KMS: this
 * class sends the SignContent bytes (external proposals, recorder credentials) to `Sign` and checks the
 * signature against the public key it read once with `GetPublicKey`.
 *
 * KMS signs RAW messages of at most 4096 bytes; SignContent of an external Add carries the joiner's
 * KeyPackage, which stays well under that in this profile (bigger input is refused, naming the limit).
 */

export const KMS_RAW_MESSAGE_LIMIT_BYTES = 4096;

export class KmsSignerError extends Error {
  override readonly name = 'KmsSignerError';
  constructor(
    readonly code: 'wrong-key-spec' | 'message-too-large' | 'kms-failed' | 'bad-signature',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class KmsEd25519ExternalSender implements ExternalSenderSigner {
  private constructor(
    private readonly client: KMSClient,
    /** The key's ARN (as GetPublicKey returned it). */
    readonly keyArn: string,
    readonly signaturePublicKey: Uint8Array,
    private readonly spkiDer: Buffer,
    readonly identity: KeyServiceIdentity,
  ) {}

  /** Reads and checks the key (spec, usage, algorithm) once; refuses anything but an Ed25519 signing key. */
  static async create(options: { client: KMSClient; keyId: string; identity?: KeyServiceIdentity }): Promise<KmsEd25519ExternalSender> {
    const identity = options.identity ?? DEFAULT_KEY_SERVICE_IDENTITY;
    const problem = identityProblem(identity);
    if (problem !== undefined || identity.kind !== 'key-service') throw new TypeError(`identity: ${problem ?? 'kind must be key-service'}`);
    if (typeof options.keyId !== 'string' || options.keyId.length === 0) throw new TypeError('keyId must name the KMS key (id, ARN or alias)');
    let response;
    try {
      response = await options.client.send(new GetPublicKeyCommand({ KeyId: options.keyId }));
    } catch (error) {
      if ((error as Error).name === 'UnsupportedOperationException') {
        throw new KmsSignerError('wrong-key-spec', 'the external sender key must be an asymmetric key: KeySpec ECC_NIST_EDWARDS25519 with KeyUsage SIGN_VERIFY', { cause: error });
      }
      throw new KmsSignerError('kms-failed', `GetPublicKey failed (${(error as Error).name}): check the key id and the kms:GetPublicKey permission`, { cause: error });
    }
    if (response.KeySpec !== 'ECC_NIST_EDWARDS25519' || response.KeyUsage !== 'SIGN_VERIFY' || !(response.SigningAlgorithms ?? []).includes('ED25519_SHA_512')) {
      throw new KmsSignerError(
        'wrong-key-spec',
        `the external sender key must be KeySpec ECC_NIST_EDWARDS25519 with KeyUsage SIGN_VERIFY (got ${String(response.KeySpec)}/${String(response.KeyUsage)})`,
      );
    }
    const spkiDer = Buffer.from(response.PublicKey!);
    const jwk = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' }).export({ format: 'jwk' });
    if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new KmsSignerError('wrong-key-spec', 'GetPublicKey did not return an Ed25519 public key');
    return new KmsEd25519ExternalSender(options.client, response.KeyId ?? options.keyId, new Uint8Array(Buffer.from(jwk.x, 'base64url')), spkiDer, { ...identity });
  }

  async sign(content: Uint8Array): Promise<Uint8Array> {
    if (content.length > KMS_RAW_MESSAGE_LIMIT_BYTES) {
      throw new KmsSignerError('message-too-large', `KMS signs RAW messages of at most ${KMS_RAW_MESSAGE_LIMIT_BYTES} bytes (got ${content.length})`);
    }
    let response;
    try {
      response = await this.client.send(new SignCommand({ KeyId: this.keyArn, Message: content, MessageType: 'RAW', SigningAlgorithm: 'ED25519_SHA_512' }));
    } catch (error) {
      throw new KmsSignerError('kms-failed', `Sign failed (${(error as Error).name}): check the key state and the kms:Sign permission`, { cause: error });
    }
    const signature = response.Signature;
    if (signature === undefined || signature.length !== 64) throw new KmsSignerError('bad-signature', 'KMS returned no 64-byte Ed25519 signature');
    const publicKey = createPublicKey({ key: this.spkiDer, format: 'der', type: 'spki' });
    if (!verifySignature(null, content, publicKey, signature)) throw new KmsSignerError('bad-signature', 'the KMS signature does not verify with the key GetPublicKey returned');
    return new Uint8Array(signature);
  }
}
