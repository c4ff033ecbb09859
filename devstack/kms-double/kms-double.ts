import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { blobKeyArn, openBlob, sealBlob, type EncryptionContext } from './ciphertext-blob.js';
import { KmsError } from './errors.js';
import { KEY_SPECS, KeyStore, publicKeySpki, requireUsable, signWith, signingAlgorithmsOf, verifyWith, type KeySpec, type KeyUsage, type KmsKey } from './key-store.js';
import { verifySigV4, type Credentials } from './sigv4.js';

/**
 * A test double of AWS KMS that speaks its real wire protocol — AWS JSON 1.1 over HTTP POST, the operation
 * in `X-Amz-Target: TrentService.<Op>`, `Content-Type: application/x-amz-json-1.1`, SigV4-signed — so that
 * `@aws-sdk/client-kms` (and the AWS Encryption SDK's KMS keyring on top of it) run unmodified against it.
 *
 * Honest where it matters: ciphertext blobs name their key and authenticate the encryption context (a
 * different context fails), keys are addressed by id, full ARN or alias, key states (Enabled, Disabled,
 * PendingDeletion) refuse use with the errors KMS gives, signatures are real (ECDSA P-256, Ed25519,
 * Ed25519ph) and verifiable offline with the key from GetPublicKey, every request's SigV4 signature is
 * checked against the double's credentials, and every call is logged (operation, key ARN, caller, context
 * keys, outcome — never plaintext or key material).
 *
 * Not modelled: key policies and grants (access is denied on request, see denyAccess), key rotation,
 * multi-Region keys, custom key stores, RSA/HMAC/ML-DSA keys, persistence (keys live as long as the process).
 */

export const KMS_DOUBLE_CREDENTIALS: Readonly<Credentials> = Object.freeze({
  accessKeyId: 'AKIDCHAPERONEKMSDOUBLE',
  secretAccessKey: 'chaperone-kms-double-secret-not-a-real-secret',
});

export interface KmsDoubleOptions {
  port: number;
  host?: string;
  region?: string;
  accountId?: string;
  /** Access keys the double accepts (SigV4). Default: KMS_DOUBLE_CREDENTIALS. */
  credentials?: readonly Credentials[];
}

export interface KmsCall {
  readonly seq: number;
  readonly at: number;
  readonly operation: string;
  /** ARN of the KMS key the call used, when it resolved to one. */
  readonly keyArn: string | undefined;
  readonly accessKeyId: string | undefined;
  /** Keys (not values) of the encryption context sent, to check what a caller binds to. */
  readonly encryptionContextKeys: readonly string[];
  /** 'ok' or the error type returned. */
  readonly outcome: string;
}

export interface AccessDenial {
  /** Key id, ARN or alias; omitted: every key. */
  keyId?: string;
  /** Operations denied (e.g. ['Decrypt']); omitted: every operation on the key. */
  operations?: readonly string[];
}

export interface InjectedFault {
  operation: string;
  error: 'KMSInternalException' | 'ThrottlingException';
  /** How many calls fail; then the fault clears. */
  times: number;
}

export interface KmsDouble {
  /** http://host:port — pass as `endpoint` to KMSClient. */
  readonly endpoint: string;
  readonly region: string;
  readonly accountId: string;
  readonly credentials: Credentials;
  /** Every request, in order (live array). */
  readonly calls: readonly KmsCall[];
  clearCalls(): void;
  /** Makes matching calls fail with AccessDeniedException, as a missing IAM permission does. */
  denyAccess(denial?: AccessDenial): void;
  /** Removes every denial. */
  allowAccess(): void;
  /** Makes the next `times` calls of an operation fail with a server-side (retryable) error. */
  injectFault(fault: InjectedFault): void;
  /** Ends the waiting period of a key pending deletion now: the key is gone for good. */
  completeKeyDeletion(keyId: string): void;
  stop(): Promise<void>;
}

const JSON_11 = 'application/x-amz-json-1.1';
const TARGET_PREFIX = 'TrentService.';
const MAX_BODY_BYTES = 1 << 20;

type Input = Record<string, unknown>;
type Output = Record<string, unknown>;

interface CallContext {
  keyArn: string | undefined;
  contextKeys: string[];
}

function str(input: Input, field: string, required: true): string;
function str(input: Input, field: string, required?: false): string | undefined;
function str(input: Input, field: string, required = false): string | undefined {
  const value = input[field];
  if (value === undefined || value === null) {
    if (required) throw new KmsError('ValidationException', `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`);
    return undefined;
  }
  if (typeof value !== 'string') throw new KmsError('SerializationException', `${field} must be a string`);
  return value;
}

function blob(input: Input, field: string, required: true): Buffer;
function blob(input: Input, field: string, required?: false): Buffer | undefined;
function blob(input: Input, field: string, required = false): Buffer | undefined {
  const value = str(input, field, required as true);
  if (value === undefined) return undefined;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw new KmsError('SerializationException', `${field} must be base64`);
  return Buffer.from(value, 'base64');
}

function context(input: Input, field: string, call: CallContext): EncryptionContext {
  const value = input[field];
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new KmsError('SerializationException', `${field} must be a map of strings`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new KmsError('SerializationException', `${field}.${k} must be a string`);
    call.contextKeys.push(k);
  }
  return value as EncryptionContext;
}

function checkDryRun(input: Input): void {
  if (input.DryRun === true) throw new KmsError('DryRunOperationException', 'The request would have succeeded, but the DryRun option is set.');
}

const epochSeconds = (date: Date) => date.getTime() / 1000;

export async function startKmsDouble(options: KmsDoubleOptions): Promise<KmsDouble> {
  const host = options.host ?? '127.0.0.1';
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '111122223333';
  const credentials = options.credentials ?? [KMS_DOUBLE_CREDENTIALS];
  if (credentials.length === 0) throw new TypeError('credentials: at least one access key is needed');
  const secrets = new Map(credentials.map((c) => [c.accessKeyId, c.secretAccessKey]));
  const store = new KeyStore(region, accountId);
  const calls: KmsCall[] = [];
  let denials: AccessDenial[] = [];
  const faults: InjectedFault[] = [];
  let seq = 0;

  function describe(key: KmsKey): Output {
    const metadata: Output = {
      AWSAccountId: accountId,
      KeyId: key.keyId,
      Arn: key.arn,
      CreationDate: epochSeconds(key.createdAt),
      Enabled: key.state === 'Enabled',
      Description: key.description,
      KeyUsage: key.usage,
      KeyState: key.state,
      Origin: 'AWS_KMS',
      KeyManager: 'CUSTOMER',
      CustomerMasterKeySpec: key.spec,
      KeySpec: key.spec,
      MultiRegion: false,
    };
    if (key.usage === 'ENCRYPT_DECRYPT') metadata.EncryptionAlgorithms = ['SYMMETRIC_DEFAULT'];
    else metadata.SigningAlgorithms = [...signingAlgorithmsOf(key)];
    if (key.deletionDate) {
      metadata.DeletionDate = epochSeconds(key.deletionDate);
      metadata.PendingDeletionWindowInDays = key.pendingWindowInDays;
    }
    return metadata;
  }

  function isDenied(operation: string, key: KmsKey | undefined): boolean {
    return denials.some((d) => {
      if (d.operations && !d.operations.includes(operation)) return false;
      if (d.keyId === undefined) return true;
      if (!key) return false;
      try {
        return store.resolve(d.keyId).keyId === key.keyId;
      } catch {
        return false;
      }
    });
  }

  /** Resolves the key and applies the access check, as IAM evaluates before KMS looks at key state. */
  function useKey(operation: string, keyIdOrAlias: string | undefined, call: CallContext, caller: string, field = 'KeyId'): KmsKey {
    const key = store.resolve(keyIdOrAlias, field);
    call.keyArn = key.arn;
    if (isDenied(operation, key)) {
      throw new KmsError(
        'AccessDeniedException',
        `User: arn:aws:iam::${accountId}:user/${caller} is not authorized to perform: kms:${operation} on resource: ${key.arn} because no identity-based policy allows the kms:${operation} action`,
      );
    }
    return key;
  }

  function dataKeyLength(input: Input): number {
    const spec = str(input, 'KeySpec');
    const numberOfBytes = input.NumberOfBytes;
    if (spec !== undefined && numberOfBytes !== undefined) throw new KmsError('ValidationException', 'Specify either KeySpec or NumberOfBytes, not both.');
    if (spec === 'AES_256') return 32;
    if (spec === 'AES_128') return 16;
    if (spec !== undefined) throw new KmsError('ValidationException', `KeySpec ${spec} is not AES_256 or AES_128.`);
    if (typeof numberOfBytes !== 'number' || !Number.isInteger(numberOfBytes) || numberOfBytes < 1 || numberOfBytes > 1024) {
      throw new KmsError('ValidationException', 'Specify KeySpec (AES_256 or AES_128) or NumberOfBytes (1 to 1024).');
    }
    return numberOfBytes;
  }

  function symmetricEncrypt(key: KmsKey, plaintext: Buffer, ctx: EncryptionContext): Buffer {
    requireUsable(key, 'ENCRYPT_DECRYPT', 'Encrypt');
    return sealBlob(key.arn, key.symmetric!, plaintext, ctx);
  }

  /** Finds the key a blob names, checks a caller-given KeyId against it, and opens the blob. */
  function symmetricDecrypt(operation: string, ciphertext: Buffer, keyId: string | undefined, ctx: EncryptionContext, call: CallContext, caller: string, field: string): { key: KmsKey; plaintext: Buffer } {
    const blobArn = blobKeyArn(ciphertext);
    let key: KmsKey;
    try {
      key = useKey(operation, blobArn, call, caller);
    } catch (error) {
      // The key the blob names is gone: KMS cannot tell this from a blob it never made.
      if (error instanceof KmsError && error.type === 'NotFoundException') throw new KmsError('InvalidCiphertextException', 'The ciphertext refers to a KMS key that does not exist.');
      throw error;
    }
    if (keyId !== undefined) {
      const named = store.resolve(keyId, field);
      if (named.keyId !== key.keyId) throw new KmsError('IncorrectKeyException', `The key ID in the request does not identify the KMS key (${key.arn}) that was used to encrypt the ciphertext.`);
    }
    requireUsable(key, 'ENCRYPT_DECRYPT', operation);
    return { key, plaintext: openBlob(ciphertext, key.symmetric!, ctx) };
  }

  const operations: Record<string, (input: Input, call: CallContext, caller: string) => Output> = {
    CreateKey(input) {
      const spec = (str(input, 'KeySpec') ?? str(input, 'CustomerMasterKeySpec') ?? 'SYMMETRIC_DEFAULT') as KeySpec;
      if (!KEY_SPECS.includes(spec)) throw new KmsError('ValidationException', `KeySpec ${spec} is not supported by the double; use ${KEY_SPECS.join(', ')}.`);
      const usage = (str(input, 'KeyUsage') ?? (spec === 'SYMMETRIC_DEFAULT' ? 'ENCRYPT_DECRYPT' : undefined)) as KeyUsage | undefined;
      if (usage !== 'ENCRYPT_DECRYPT' && usage !== 'SIGN_VERIFY') throw new KmsError('ValidationException', `KeyUsage must be ENCRYPT_DECRYPT or SIGN_VERIFY for KeySpec ${spec}.`);
      checkDryRun(input);
      const key = store.create({ spec, usage, description: str(input, 'Description') ?? '' });
      return { KeyMetadata: describe(key) };
    },
    DescribeKey(input, call, caller) {
      return { KeyMetadata: describe(useKey('DescribeKey', str(input, 'KeyId', true), call, caller)) };
    },
    ListKeys() {
      return { Keys: store.list().map((k) => ({ KeyId: k.keyId, KeyArn: k.arn })), Truncated: false };
    },
    CreateAlias(input, call, caller) {
      const key = useKey('CreateAlias', str(input, 'TargetKeyId', true), call, caller, 'TargetKeyId');
      store.createAlias(str(input, 'AliasName', true), key);
      return {};
    },
    GenerateDataKey(input, call, caller) {
      const key = useKey('GenerateDataKey', str(input, 'KeyId', true), call, caller);
      const length = dataKeyLength(input);
      const ctx = context(input, 'EncryptionContext', call);
      checkDryRun(input);
      const plaintext = randomBytes(length);
      return { KeyId: key.arn, CiphertextBlob: symmetricEncrypt(key, plaintext, ctx).toString('base64'), Plaintext: plaintext.toString('base64') };
    },
    GenerateDataKeyWithoutPlaintext(input, call, caller) {
      const key = useKey('GenerateDataKeyWithoutPlaintext', str(input, 'KeyId', true), call, caller);
      const length = dataKeyLength(input);
      const ctx = context(input, 'EncryptionContext', call);
      checkDryRun(input);
      return { KeyId: key.arn, CiphertextBlob: symmetricEncrypt(key, randomBytes(length), ctx).toString('base64') };
    },
    Encrypt(input, call, caller) {
      const key = useKey('Encrypt', str(input, 'KeyId', true), call, caller);
      const plaintext = blob(input, 'Plaintext', true);
      if (plaintext.length < 1 || plaintext.length > 4096) throw new KmsError('ValidationException', 'Plaintext must be 1 to 4096 bytes.');
      const algorithm = str(input, 'EncryptionAlgorithm') ?? 'SYMMETRIC_DEFAULT';
      if (algorithm !== 'SYMMETRIC_DEFAULT') throw new KmsError('InvalidKeyUsageException', `EncryptionAlgorithm ${algorithm} is not valid for ${key.arn}.`);
      const ctx = context(input, 'EncryptionContext', call);
      checkDryRun(input);
      return { KeyId: key.arn, CiphertextBlob: symmetricEncrypt(key, plaintext, ctx).toString('base64'), EncryptionAlgorithm: algorithm };
    },
    Decrypt(input, call, caller) {
      const ciphertext = blob(input, 'CiphertextBlob', true);
      const ctx = context(input, 'EncryptionContext', call);
      const algorithm = str(input, 'EncryptionAlgorithm') ?? 'SYMMETRIC_DEFAULT';
      if (algorithm !== 'SYMMETRIC_DEFAULT') throw new KmsError('InvalidCiphertextException', `EncryptionAlgorithm ${algorithm} does not match the ciphertext.`);
      const { key, plaintext } = symmetricDecrypt('Decrypt', ciphertext, str(input, 'KeyId'), ctx, call, caller, 'KeyId');
      checkDryRun(input);
      return { KeyId: key.arn, Plaintext: plaintext.toString('base64'), EncryptionAlgorithm: algorithm };
    },
    ReEncrypt(input, call, caller) {
      const ciphertext = blob(input, 'CiphertextBlob', true);
      const sourceCtx = context(input, 'SourceEncryptionContext', call);
      const { key: source, plaintext } = symmetricDecrypt('ReEncryptFrom', ciphertext, str(input, 'SourceKeyId'), sourceCtx, call, caller, 'SourceKeyId');
      const destination = useKey('ReEncryptTo', str(input, 'DestinationKeyId', true), call, caller, 'DestinationKeyId');
      const destinationCtx = context(input, 'DestinationEncryptionContext', call);
      checkDryRun(input);
      return {
        SourceKeyId: source.arn,
        KeyId: destination.arn,
        CiphertextBlob: symmetricEncrypt(destination, plaintext, destinationCtx).toString('base64'),
        SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      };
    },
    Sign(input, call, caller) {
      const key = useKey('Sign', str(input, 'KeyId', true), call, caller);
      const { signature, algorithm } = signWith(key, str(input, 'SigningAlgorithm', true), str(input, 'MessageType'), blob(input, 'Message', true));
      checkDryRun(input);
      return { KeyId: key.arn, Signature: signature.toString('base64'), SigningAlgorithm: algorithm };
    },
    Verify(input, call, caller) {
      const key = useKey('Verify', str(input, 'KeyId', true), call, caller);
      const algorithm = verifyWith(key, str(input, 'SigningAlgorithm', true), str(input, 'MessageType'), blob(input, 'Message', true), blob(input, 'Signature', true));
      checkDryRun(input);
      return { KeyId: key.arn, SignatureValid: true, SigningAlgorithm: algorithm };
    },
    GetPublicKey(input, call, caller) {
      const key = useKey('GetPublicKey', str(input, 'KeyId', true), call, caller);
      if (key.state === 'Disabled') throw new KmsError('DisabledException', `${key.arn} is disabled.`);
      if (key.state === 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
      if (key.usage !== 'SIGN_VERIFY') throw new KmsError('UnsupportedOperationException', `${key.arn} is a symmetric key; it has no public key.`);
      return {
        KeyId: key.arn,
        PublicKey: publicKeySpki(key).toString('base64'),
        CustomerMasterKeySpec: key.spec,
        KeySpec: key.spec,
        KeyUsage: key.usage,
        SigningAlgorithms: [...signingAlgorithmsOf(key)],
      };
    },
    DisableKey(input, call, caller) {
      const key = useKey('DisableKey', str(input, 'KeyId', true), call, caller);
      if (key.state === 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
      key.state = 'Disabled';
      return {};
    },
    EnableKey(input, call, caller) {
      const key = useKey('EnableKey', str(input, 'KeyId', true), call, caller);
      if (key.state === 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
      key.state = 'Enabled';
      return {};
    },
    ScheduleKeyDeletion(input, call, caller) {
      const key = useKey('ScheduleKeyDeletion', str(input, 'KeyId', true), call, caller);
      const days = input.PendingWindowInDays ?? 30;
      if (typeof days !== 'number' || !Number.isInteger(days) || days < 7 || days > 30) {
        throw new KmsError('ValidationException', 'PendingWindowInDays must be an integer from 7 to 30.');
      }
      if (key.state === 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
      key.state = 'PendingDeletion';
      key.pendingWindowInDays = days;
      key.deletionDate = new Date(Date.now() + days * 86_400_000);
      return { KeyId: key.arn, DeletionDate: epochSeconds(key.deletionDate), KeyState: key.state, PendingWindowInDays: days };
    },
    CancelKeyDeletion(input, call, caller) {
      const key = useKey('CancelKeyDeletion', str(input, 'KeyId', true), call, caller);
      if (key.state !== 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${key.arn} is not pending deletion.`);
      key.state = 'Disabled';
      key.deletionDate = undefined;
      key.pendingWindowInDays = undefined;
      return { KeyId: key.arn };
    },
  };

  function respond(res: ServerResponse, status: number, body: Output): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': JSON_11, 'content-length': Buffer.byteLength(text), 'x-amzn-requestid': randomUUID() });
    res.end(text);
  }

  async function readBody(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) throw new KmsError('ValidationException', 'Request body too large.');
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const call: CallContext = { keyArn: undefined, contextKeys: [] };
    let operation = 'unknown';
    let accessKeyId: string | undefined;
    try {
      const body = await readBody(req);
      const target = req.headers['x-amz-target'];
      if (req.method !== 'POST' || typeof target !== 'string' || !target.startsWith(TARGET_PREFIX)) {
        throw new KmsError('UnknownOperationException', 'Requests must be POST with X-Amz-Target: TrentService.<Operation>.');
      }
      operation = target.slice(TARGET_PREFIX.length);
      const caller = verifySigV4({ method: req.method, path: req.url ?? '/', headers: req.headers, body, service: 'kms', secrets });
      accessKeyId = caller.accessKeyId;
      if (caller.region !== region) throw new KmsError('InvalidSignatureException', `Credential should be scoped to a valid region: this endpoint is ${region}.`);
      const contentType = req.headers['content-type'] ?? '';
      if (!contentType.startsWith(JSON_11)) throw new KmsError('SerializationException', `Content-Type must be ${JSON_11}.`);
      const handler = Object.hasOwn(operations, operation) ? operations[operation] : undefined;
      if (!handler) throw new KmsError('UnknownOperationException', `Operation ${operation} is not supported by the KMS double.`);
      let input: unknown;
      try {
        input = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
      } catch {
        throw new KmsError('SerializationException', 'The request body is not valid JSON.');
      }
      if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new KmsError('SerializationException', 'The request body must be a JSON object.');
      const fault = faults.find((f) => f.operation === operation && f.times > 0);
      if (fault) {
        fault.times -= 1;
        throw new KmsError(fault.error, fault.error === 'ThrottlingException' ? 'Rate exceeded' : 'An internal error occurred (injected by the KMS double).');
      }
      const output = handler(input as Input, call, `kms-double-${caller.accessKeyId}`);
      calls.push({ seq: ++seq, at: Date.now(), operation, keyArn: call.keyArn, accessKeyId, encryptionContextKeys: call.contextKeys, outcome: 'ok' });
      respond(res, 200, output);
    } catch (error) {
      // A fault of the double itself is a 500 that names its cause (real KMS would not; this is a test tool).
      const kmsError = error instanceof KmsError ? error : new KmsError('KMSInternalException', `KMS double internal error: ${(error as Error).message}`);
      calls.push({ seq: ++seq, at: Date.now(), operation, keyArn: call.keyArn, accessKeyId, encryptionContextKeys: call.contextKeys, outcome: kmsError.type });
      respond(res, kmsError.status, { __type: kmsError.type, message: kmsError.message });
    }
  }

  const server: Server = createServer((req, res) => {
    void handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://${host}:${port}`,
    region,
    accountId,
    // A fresh object on every read: the SDK writes into the credentials object it is given.
    get credentials() {
      return { ...credentials[0]! };
    },
    calls,
    clearCalls() {
      calls.length = 0;
    },
    denyAccess(denial: AccessDenial = {}) {
      denials.push({ ...denial });
    },
    allowAccess() {
      denials = [];
    },
    injectFault(fault: InjectedFault) {
      if (!Number.isInteger(fault.times) || fault.times < 1) throw new TypeError('injectFault: times must be a positive integer');
      faults.push({ ...fault });
    },
    completeKeyDeletion(keyId: string) {
      store.destroy(store.resolve(keyId));
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
