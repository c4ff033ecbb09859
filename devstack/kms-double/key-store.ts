import { createHash, generateKeyPairSync, randomBytes, randomUUID, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { ed25519ph } from '@noble/curves/ed25519.js';
import { KmsError } from './errors.js';

/**
 * The KMS keys of the double: identity (key id, full ARN, aliases), spec and usage, and the key state
 * machine of real KMS (https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html):
 *
 *   Enabled ⇄ Disabled (EnableKey/DisableKey); Enabled|Disabled → PendingDeletion (ScheduleKeyDeletion);
 *   PendingDeletion → Disabled (CancelKeyDeletion); PendingDeletion → gone (when the waiting period ends —
 *   the double ends it on request, see KmsDouble.completeKeyDeletion).
 *
 * Key material never leaves this module except as ciphertext blobs and public keys.
 */

export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion';
export type KeySpec = 'SYMMETRIC_DEFAULT' | 'ECC_NIST_P256' | 'ECC_NIST_EDWARDS25519';
export type KeyUsage = 'ENCRYPT_DECRYPT' | 'SIGN_VERIFY';
export type SigningAlgorithm = 'ECDSA_SHA_256' | 'ED25519_SHA_512' | 'ED25519_PH_SHA_512';
export type MessageType = 'RAW' | 'DIGEST';

export const KEY_SPECS: readonly KeySpec[] = ['SYMMETRIC_DEFAULT', 'ECC_NIST_P256', 'ECC_NIST_EDWARDS25519'];

const SIGNING_ALGORITHMS: Record<Exclude<KeySpec, 'SYMMETRIC_DEFAULT'>, readonly SigningAlgorithm[]> = {
  ECC_NIST_P256: ['ECDSA_SHA_256'],
  ECC_NIST_EDWARDS25519: ['ED25519_SHA_512', 'ED25519_PH_SHA_512'],
};

/** Largest RAW message KMS Sign/Verify accepts (bytes). */
export const MAX_RAW_MESSAGE_BYTES = 4096;

interface AsymmetricMaterial {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** P-256 secret scalar or Ed25519 seed (32 bytes), for the digest modes Node's crypto has no API for. */
  secret: Uint8Array;
  /** P-256 uncompressed point (65 bytes) or Ed25519 public key (32 bytes). */
  publicRaw: Uint8Array;
}

export interface KmsKey {
  readonly keyId: string;
  readonly arn: string;
  readonly spec: KeySpec;
  readonly usage: KeyUsage;
  readonly description: string;
  readonly createdAt: Date;
  state: KeyState;
  deletionDate: Date | undefined;
  pendingWindowInDays: number | undefined;
  readonly symmetric: Buffer | undefined;
  readonly asymmetric: AsymmetricMaterial | undefined;
}

function generateAsymmetric(spec: Exclude<KeySpec, 'SYMMETRIC_DEFAULT'>): AsymmetricMaterial {
  if (spec === 'ECC_NIST_P256') {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = privateKey.export({ format: 'jwk' });
    const x = Buffer.from(jwk.x!, 'base64url');
    const y = Buffer.from(jwk.y!, 'base64url');
    return { privateKey, publicKey, secret: Buffer.from(jwk.d!, 'base64url'), publicRaw: Buffer.concat([Buffer.of(4), x, y]) };
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  return { privateKey, publicKey, secret: Buffer.from(jwk.d!, 'base64url'), publicRaw: Buffer.from(jwk.x!, 'base64url') };
}

export class KeyStore {
  private readonly keys = new Map<string, KmsKey>();
  private readonly aliases = new Map<string, string>();

  constructor(
    readonly region: string,
    readonly accountId: string,
  ) {}

  arnOf(keyId: string): string {
    return `arn:aws:kms:${this.region}:${this.accountId}:key/${keyId}`;
  }

  create(params: { spec: KeySpec; usage: KeyUsage; description: string }): KmsKey {
    const { spec, usage, description } = params;
    if (spec === 'SYMMETRIC_DEFAULT' && usage !== 'ENCRYPT_DECRYPT') {
      throw new KmsError('ValidationException', `KeyUsage ${usage} is not compatible with KeySpec SYMMETRIC_DEFAULT.`);
    }
    if (spec !== 'SYMMETRIC_DEFAULT' && usage !== 'SIGN_VERIFY') {
      throw new KmsError('ValidationException', `KeyUsage ${usage} is not compatible with KeySpec ${spec}.`);
    }
    const keyId = randomUUID();
    const key: KmsKey = {
      keyId,
      arn: this.arnOf(keyId),
      spec,
      usage,
      description,
      createdAt: new Date(),
      state: 'Enabled',
      deletionDate: undefined,
      pendingWindowInDays: undefined,
      symmetric: spec === 'SYMMETRIC_DEFAULT' ? randomBytes(32) : undefined,
      asymmetric: spec === 'SYMMETRIC_DEFAULT' ? undefined : generateAsymmetric(spec),
    };
    this.keys.set(keyId, key);
    return key;
  }

  /** Resolves a key id, key ARN, alias name (`alias/x`) or alias ARN, as KMS does. Unknown → NotFoundException. */
  resolve(keyIdOrAlias: string | undefined, field = 'KeyId'): KmsKey {
    if (typeof keyIdOrAlias !== 'string' || keyIdOrAlias.length === 0) {
      throw new KmsError('ValidationException', `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`);
    }
    let id = keyIdOrAlias;
    const aliasArn = /^arn:aws:kms:([^:]+):(\d{12}):(alias\/.+)$/.exec(id);
    const keyArn = /^arn:aws:kms:([^:]+):(\d{12}):key\/(.+)$/.exec(id);
    if (aliasArn) {
      if (aliasArn[1] !== this.region || aliasArn[2] !== this.accountId) throw new KmsError('NotFoundException', `Alias ${id} is not found.`);
      id = aliasArn[3]!;
    } else if (keyArn) {
      if (keyArn[1] !== this.region || keyArn[2] !== this.accountId) throw new KmsError('NotFoundException', `Key '${id}' does not exist`);
      id = keyArn[3]!;
    }
    if (id.startsWith('alias/')) {
      const target = this.aliases.get(id);
      if (target === undefined) throw new KmsError('NotFoundException', `Alias ${this.aliasArn(id)} is not found.`);
      id = target;
    }
    const key = this.keys.get(id);
    if (!key) throw new KmsError('NotFoundException', `Key '${this.arnOf(id)}' does not exist`);
    return key;
  }

  aliasArn(alias: string): string {
    return `arn:aws:kms:${this.region}:${this.accountId}:${alias}`;
  }

  createAlias(aliasName: string, target: KmsKey): void {
    if (!/^alias\/[a-zA-Z0-9/_-]{1,250}$/.test(aliasName) || aliasName.startsWith('alias/aws/')) {
      throw new KmsError('ValidationException', `AliasName ${aliasName} must match alias/[a-zA-Z0-9/_-]+ and must not begin with alias/aws/.`);
    }
    if (this.aliases.has(aliasName)) throw new KmsError('AlreadyExistsException', `An alias with the name ${this.aliasArn(aliasName)} already exists`);
    this.aliases.set(aliasName, target.keyId);
  }

  aliasesOf(key: KmsKey): string[] {
    return [...this.aliases].filter(([, id]) => id === key.keyId).map(([alias]) => alias);
  }

  /** Ends a key's waiting period: the key and its aliases are gone, as after real deletion. */
  destroy(key: KmsKey): void {
    if (key.state !== 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${key.arn} is not pending deletion.`);
    this.keys.delete(key.keyId);
    for (const [alias, id] of this.aliases) if (id === key.keyId) this.aliases.delete(alias);
  }

  list(): KmsKey[] {
    return [...this.keys.values()];
  }
}

/** Refuses cryptographic use of a key that is not Enabled, with the error real KMS gives for each state. */
export function requireUsable(key: KmsKey, usage: KeyUsage, operation: string): void {
  if (key.state === 'Disabled') throw new KmsError('DisabledException', `${key.arn} is disabled.`);
  if (key.state === 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
  if (key.usage !== usage) {
    throw new KmsError('InvalidKeyUsageException', `You cannot perform this operation (${operation}) on a key with KeyUsage ${key.usage}: ${key.arn}`);
  }
}

export function signingAlgorithmsOf(key: KmsKey): readonly SigningAlgorithm[] {
  return key.spec === 'SYMMETRIC_DEFAULT' ? [] : SIGNING_ALGORITHMS[key.spec];
}

function checkSigningInput(key: KmsKey, algorithm: string | undefined, messageType: string | undefined, message: Buffer): { algorithm: SigningAlgorithm; messageType: MessageType } {
  const type = (messageType ?? 'RAW') as MessageType;
  if (type !== 'RAW' && type !== 'DIGEST') throw new KmsError('ValidationException', `MessageType ${String(messageType)} is not supported; use RAW or DIGEST.`);
  if (!signingAlgorithmsOf(key).includes(algorithm as SigningAlgorithm)) {
    throw new KmsError('InvalidKeyUsageException', `SigningAlgorithm ${String(algorithm)} is not compatible with ${key.arn} (KeySpec ${key.spec}); use one of ${signingAlgorithmsOf(key).join(', ')}.`);
  }
  const alg = algorithm as SigningAlgorithm;
  if (alg === 'ED25519_SHA_512' && type !== 'RAW') throw new KmsError('ValidationException', 'The ED25519_SHA_512 signing algorithm requires MessageType RAW.');
  if (alg === 'ED25519_PH_SHA_512' && type !== 'DIGEST') throw new KmsError('ValidationException', 'The ED25519_PH_SHA_512 signing algorithm requires MessageType DIGEST.');
  if (type === 'RAW' && (message.length < 1 || message.length > MAX_RAW_MESSAGE_BYTES)) {
    throw new KmsError('ValidationException', `Message must be 1 to ${MAX_RAW_MESSAGE_BYTES} bytes for MessageType RAW; sign a digest (MessageType DIGEST) for larger messages.`);
  }
  const digestBytes = alg === 'ECDSA_SHA_256' ? 32 : 64;
  if (type === 'DIGEST' && message.length !== digestBytes) {
    throw new KmsError('ValidationException', `Digest is invalid length for algorithm ${alg}: expected ${digestBytes} bytes, got ${message.length}.`);
  }
  return { algorithm: alg, messageType: type };
}

/**
 * Signs as KMS does: ECDSA_SHA_256 → DER-encoded ECDSA (RFC 3279 §2.2.3) over SHA-256(message), or over
 * the given digest with MessageType DIGEST; ED25519_SHA_512 → 64-byte pure Ed25519 (RFC 8032 §5.1) over the
 * RAW message; ED25519_PH_SHA_512 → Ed25519ph (RFC 8032 §5.1, prehash SHA-512) of the 64-byte DIGEST,
 * which KMS hashes once more (its API reference says the input is hashed twice).
 */
export function signWith(key: KmsKey, algorithm: string | undefined, messageType: string | undefined, message: Buffer): { signature: Buffer; algorithm: SigningAlgorithm } {
  requireUsable(key, 'SIGN_VERIFY', 'Sign');
  const checked = checkSigningInput(key, algorithm, messageType, message);
  const material = key.asymmetric!;
  let signature: Uint8Array;
  if (checked.algorithm === 'ECDSA_SHA_256') {
    const digest = checked.messageType === 'RAW' ? createHash('sha256').update(message).digest() : message;
    signature = p256.sign(digest, material.secret, { prehash: false, format: 'der', lowS: false, extraEntropy: true });
  } else if (checked.algorithm === 'ED25519_SHA_512') {
    signature = nodeSign(null, message, material.privateKey);
  } else {
    signature = ed25519ph.sign(message, material.secret);
  }
  return { signature: Buffer.from(signature), algorithm: checked.algorithm };
}

export function verifyWith(key: KmsKey, algorithm: string | undefined, messageType: string | undefined, message: Buffer, signature: Buffer): SigningAlgorithm {
  requireUsable(key, 'SIGN_VERIFY', 'Verify');
  const checked = checkSigningInput(key, algorithm, messageType, message);
  const material = key.asymmetric!;
  let valid = false;
  try {
    if (checked.algorithm === 'ECDSA_SHA_256') {
      const digest = checked.messageType === 'RAW' ? createHash('sha256').update(message).digest() : message;
      valid = p256.verify(signature, digest, material.publicRaw, { prehash: false, format: 'der', lowS: false });
    } else if (checked.algorithm === 'ED25519_SHA_512') {
      valid = nodeVerify(null, message, material.publicKey, signature);
    } else {
      valid = ed25519ph.verify(signature, message, material.publicRaw);
    }
  } catch {
    valid = false;
  }
  if (!valid) throw new KmsError('KMSInvalidSignatureException', 'The signature is not valid for the message, key and signing algorithm.');
  return checked.algorithm;
}

/** DER SubjectPublicKeyInfo (RFC 5280), what GetPublicKey returns. */
export function publicKeySpki(key: KmsKey): Buffer {
  return key.asymmetric!.publicKey.export({ format: 'der', type: 'spki' });
}
