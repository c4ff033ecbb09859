import { createHash, createPublicKey, randomBytes, verify as nodeVerify } from 'node:crypto';
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GetPublicKeyCommand,
  KMS,
  KMSClient,
  ReEncryptCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  VerifyCommand,
} from '@aws-sdk/client-kms';
import { buildClient, CommitmentPolicy, KmsKeyringNode } from '@aws-crypto/client-node';
import { ed25519ph } from '@noble/curves/ed25519.js';
import { startKmsDouble, type KmsDouble } from './index.js';
import { freePort } from '../free-port.js';

describe('KMS double (AWS JSON 1.1, driven by @aws-sdk/client-kms)', () => {
  let kms: KmsDouble;
  let client: KMSClient;
  const ctx = { recordingId: 'rec-1', trackId: 'trk-1' };

  beforeAll(async () => {
    kms = await startKmsDouble({ port: await freePort() });
    client = new KMSClient({ endpoint: kms.endpoint, region: kms.region, credentials: kms.credentials });
  });
  afterAll(async () => {
    client?.destroy();
    await kms?.stop();
  });

  async function symmetricKey(): Promise<string> {
    const { KeyMetadata } = await client.send(new CreateKeyCommand({ Description: 'test' }));
    return KeyMetadata!.Arn!;
  }

  test('keys have full ARNs and resolve by id, ARN and alias; an unknown key is NotFoundException', async () => {
    const { KeyMetadata } = await client.send(new CreateKeyCommand({ Description: 'recordings' }));
    expect(KeyMetadata).toMatchObject({ KeyState: 'Enabled', Enabled: true, KeyUsage: 'ENCRYPT_DECRYPT', KeySpec: 'SYMMETRIC_DEFAULT', AWSAccountId: kms.accountId });
    expect(KeyMetadata!.Arn).toBe(`arn:aws:kms:${kms.region}:${kms.accountId}:key/${KeyMetadata!.KeyId}`);
    expect(KeyMetadata!.CreationDate).toBeInstanceOf(Date);
    await client.send(new CreateAliasCommand({ AliasName: 'alias/chaperone-recordings', TargetKeyId: KeyMetadata!.KeyId }));
    for (const id of [KeyMetadata!.KeyId!, KeyMetadata!.Arn!, 'alias/chaperone-recordings', `arn:aws:kms:${kms.region}:${kms.accountId}:alias/chaperone-recordings`]) {
      const { KeyMetadata: described } = await client.send(new DescribeKeyCommand({ KeyId: id }));
      expect(described!.Arn).toBe(KeyMetadata!.Arn);
    }
    await expect(client.send(new DescribeKeyCommand({ KeyId: '00000000-0000-0000-0000-000000000000' }))).rejects.toMatchObject({ name: 'NotFoundException' });
    await expect(client.send(new DescribeKeyCommand({ KeyId: `arn:aws:kms:eu-west-1:${kms.accountId}:key/${KeyMetadata!.KeyId}` }))).rejects.toMatchObject({ name: 'NotFoundException' });
  });

  test('data keys: the blob names its key, and only the exact encryption context opens it', async () => {
    const keyArn = await symmetricKey();
    const other = await symmetricKey();
    const { Plaintext, CiphertextBlob, KeyId } = await client.send(new GenerateDataKeyCommand({ KeyId: keyArn, KeySpec: 'AES_256', EncryptionContext: ctx }));
    expect(KeyId).toBe(keyArn);
    expect(Plaintext).toHaveLength(32);
    expect(Buffer.from(CiphertextBlob!).includes(Buffer.from(Plaintext!))).toBe(false);
    // Self-describing: no KeyId needed.
    const opened = await client.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: ctx }));
    expect(Buffer.from(opened.Plaintext!).equals(Buffer.from(Plaintext!))).toBe(true);
    expect(opened.KeyId).toBe(keyArn);
    await expect(client.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { ...ctx, trackId: 'trk-2' } }))).rejects.toMatchObject({ name: 'InvalidCiphertextException' });
    await expect(client.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { recordingId: 'rec-1' } }))).rejects.toMatchObject({ name: 'InvalidCiphertextException' });
    await expect(client.send(new DecryptCommand({ CiphertextBlob }))).rejects.toMatchObject({ name: 'InvalidCiphertextException' });
    await expect(client.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: ctx, KeyId: other }))).rejects.toMatchObject({ name: 'IncorrectKeyException' });
    const tampered = Buffer.from(CiphertextBlob!);
    tampered[tampered.length - 1]! ^= 1;
    await expect(client.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: ctx }))).rejects.toMatchObject({ name: 'InvalidCiphertextException' });

    const secret = randomBytes(48);
    const encrypted = await client.send(new EncryptCommand({ KeyId: keyArn, Plaintext: secret, EncryptionContext: ctx }));
    const moved = await client.send(new ReEncryptCommand({ CiphertextBlob: encrypted.CiphertextBlob, SourceEncryptionContext: ctx, DestinationKeyId: other, DestinationEncryptionContext: { purpose: 'rotation' } }));
    expect(moved).toMatchObject({ SourceKeyId: keyArn, KeyId: other });
    const back = await client.send(new DecryptCommand({ CiphertextBlob: moved.CiphertextBlob, EncryptionContext: { purpose: 'rotation' } }));
    expect(Buffer.from(back.Plaintext!).equals(secret)).toBe(true);
  });

  test('key states: Disabled and PendingDeletion refuse use with the errors KMS gives; deletion is final', async () => {
    const keyArn = await symmetricKey();
    const { CiphertextBlob } = await client.send(new GenerateDataKeyCommand({ KeyId: keyArn, KeySpec: 'AES_256', EncryptionContext: ctx }));
    await client.send(new DisableKeyCommand({ KeyId: keyArn }));
    expect((await client.send(new DescribeKeyCommand({ KeyId: keyArn }))).KeyMetadata).toMatchObject({ KeyState: 'Disabled', Enabled: false });
    await expect(client.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: ctx }))).rejects.toMatchObject({ name: 'DisabledException' });
    await expect(client.send(new GenerateDataKeyCommand({ KeyId: keyArn, KeySpec: 'AES_256' }))).rejects.toMatchObject({ name: 'DisabledException' });
    await client.send(new EnableKeyCommand({ KeyId: keyArn }));
    await client.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: ctx }));

    await expect(client.send(new ScheduleKeyDeletionCommand({ KeyId: keyArn, PendingWindowInDays: 3 }))).rejects.toMatchObject({ name: 'ValidationException' });
    const scheduled = await client.send(new ScheduleKeyDeletionCommand({ KeyId: keyArn, PendingWindowInDays: 7 }));
    expect(scheduled).toMatchObject({ KeyId: keyArn, KeyState: 'PendingDeletion', PendingWindowInDays: 7 });
    expect(scheduled.DeletionDate!.getTime()).toBeGreaterThan(Date.now() + 6 * 86_400_000);
    await expect(client.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: ctx }))).rejects.toMatchObject({ name: 'KMSInvalidStateException' });
    await expect(client.send(new EnableKeyCommand({ KeyId: keyArn }))).rejects.toMatchObject({ name: 'KMSInvalidStateException' });
    await client.send(new CancelKeyDeletionCommand({ KeyId: keyArn }));
    expect((await client.send(new DescribeKeyCommand({ KeyId: keyArn }))).KeyMetadata!.KeyState).toBe('Disabled');

    await client.send(new ScheduleKeyDeletionCommand({ KeyId: keyArn, PendingWindowInDays: 7 }));
    kms.completeKeyDeletion(keyArn);
    await expect(client.send(new DescribeKeyCommand({ KeyId: keyArn }))).rejects.toMatchObject({ name: 'NotFoundException' });
    await expect(client.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: ctx }))).rejects.toMatchObject({ name: 'InvalidCiphertextException' });
  });

  test('ECC_NIST_P256: ECDSA_SHA_256 signatures (DER) verify offline with the SPKI from GetPublicKey', async () => {
    const { KeyMetadata } = await client.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }));
    expect(KeyMetadata!.SigningAlgorithms).toEqual(['ECDSA_SHA_256']);
    const keyId = KeyMetadata!.Arn!;
    const message = Buffer.from('manifest digest statement');
    const { PublicKey, KeySpec } = await client.send(new GetPublicKeyCommand({ KeyId: keyId }));
    expect(KeySpec).toBe('ECC_NIST_P256');
    const publicKey = createPublicKey({ key: Buffer.from(PublicKey!), format: 'der', type: 'spki' });
    const raw = await client.send(new SignCommand({ KeyId: keyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' }));
    expect(nodeVerify('sha256', message, publicKey, Buffer.from(raw.Signature!))).toBe(true);
    const digest = createHash('sha256').update(message).digest();
    const fromDigest = await client.send(new SignCommand({ KeyId: keyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' }));
    expect(nodeVerify('sha256', message, publicKey, Buffer.from(fromDigest.Signature!))).toBe(true);
    expect((await client.send(new VerifyCommand({ KeyId: keyId, Message: message, Signature: raw.Signature, SigningAlgorithm: 'ECDSA_SHA_256' }))).SignatureValid).toBe(true);
    await expect(client.send(new VerifyCommand({ KeyId: keyId, Message: Buffer.from('other'), Signature: raw.Signature, SigningAlgorithm: 'ECDSA_SHA_256' }))).rejects.toMatchObject({ name: 'KMSInvalidSignatureException' });
    await expect(client.send(new SignCommand({ KeyId: keyId, Message: message, SigningAlgorithm: 'ED25519_SHA_512' }))).rejects.toMatchObject({ name: 'InvalidKeyUsageException' });
    await expect(client.send(new SignCommand({ KeyId: keyId, Message: randomBytes(4097), SigningAlgorithm: 'ECDSA_SHA_256' }))).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(client.send(new EncryptCommand({ KeyId: keyId, Plaintext: message }))).rejects.toMatchObject({ name: 'InvalidKeyUsageException' });
  });

  test('ECC_NIST_EDWARDS25519: ED25519_SHA_512 (RAW, 64-byte RFC 8032 signature) and ED25519_PH_SHA_512 (DIGEST)', async () => {
    const { KeyMetadata } = await client.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY' }));
    expect(KeyMetadata!.SigningAlgorithms).toEqual(['ED25519_SHA_512', 'ED25519_PH_SHA_512']);
    const keyId = KeyMetadata!.KeyId!;
    const { PublicKey } = await client.send(new GetPublicKeyCommand({ KeyId: keyId }));
    const publicKey = createPublicKey({ key: Buffer.from(PublicKey!), format: 'der', type: 'spki' });
    expect(publicKey.asymmetricKeyType).toBe('ed25519');
    // What an MLS external sender needs: the raw 32-byte key (RFC 9420 signature_key) and a pure Ed25519 signature.
    const rawPublic = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
    expect(rawPublic).toHaveLength(32);
    const content = randomBytes(300);
    const signed = await client.send(new SignCommand({ KeyId: keyId, Message: content, MessageType: 'RAW', SigningAlgorithm: 'ED25519_SHA_512' }));
    expect(signed.Signature).toHaveLength(64);
    expect(nodeVerify(null, content, publicKey, Buffer.from(signed.Signature!))).toBe(true);
    await expect(client.send(new SignCommand({ KeyId: keyId, Message: createHash('sha512').update(content).digest(), MessageType: 'DIGEST', SigningAlgorithm: 'ED25519_SHA_512' }))).rejects.toMatchObject({ name: 'ValidationException' });

    const digest = createHash('sha512').update(content).digest();
    const prehashed = await client.send(new SignCommand({ KeyId: keyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'ED25519_PH_SHA_512' }));
    expect(ed25519ph.verify(prehashed.Signature!, digest, rawPublic)).toBe(true);
    expect((await client.send(new VerifyCommand({ KeyId: keyId, Message: digest, MessageType: 'DIGEST', Signature: prehashed.Signature, SigningAlgorithm: 'ED25519_PH_SHA_512' }))).SignatureValid).toBe(true);
    await client.send(new DisableKeyCommand({ KeyId: keyId }));
    await expect(client.send(new SignCommand({ KeyId: keyId, Message: content, SigningAlgorithm: 'ED25519_SHA_512' }))).rejects.toMatchObject({ name: 'DisabledException' });
  });

  test('SigV4 is checked: a wrong secret or an unknown access key is refused', async () => {
    const wrongSecret = new KMSClient({ endpoint: kms.endpoint, region: kms.region, credentials: { accessKeyId: kms.credentials.accessKeyId, secretAccessKey: 'wrong' } });
    await expect(wrongSecret.send(new CreateKeyCommand({}))).rejects.toMatchObject({ name: 'InvalidSignatureException' });
    wrongSecret.destroy();
    const unknown = new KMSClient({ endpoint: kms.endpoint, region: kms.region, credentials: { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'x' } });
    await expect(unknown.send(new CreateKeyCommand({}))).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
    unknown.destroy();
  });

  test('access can be denied per key and operation; the call log records outcomes and never key material', async () => {
    const keyArn = await symmetricKey();
    kms.clearCalls();
    kms.denyAccess({ keyId: keyArn, operations: ['GenerateDataKey'] });
    await expect(client.send(new GenerateDataKeyCommand({ KeyId: keyArn, KeySpec: 'AES_256', EncryptionContext: ctx }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining(`kms:GenerateDataKey on resource: ${keyArn}`),
    });
    await client.send(new EncryptCommand({ KeyId: keyArn, Plaintext: Buffer.from('x') }));
    kms.allowAccess();
    const { Plaintext } = await client.send(new GenerateDataKeyCommand({ KeyId: keyArn, KeySpec: 'AES_256', EncryptionContext: ctx }));
    expect(kms.calls.map((c) => [c.operation, c.outcome])).toEqual([
      ['GenerateDataKey', 'AccessDeniedException'],
      ['Encrypt', 'ok'],
      ['GenerateDataKey', 'ok'],
    ]);
    expect(kms.calls[2]).toMatchObject({ keyArn, accessKeyId: kms.credentials.accessKeyId, encryptionContextKeys: ['recordingId', 'trackId'] });
    expect(JSON.stringify(kms.calls)).not.toContain(Buffer.from(Plaintext!).toString('base64'));
  });

  test('injected server faults are retried by the SDK like real KMS 500s', async () => {
    const keyArn = await symmetricKey();
    kms.clearCalls();
    kms.injectFault({ operation: 'GenerateDataKey', error: 'KMSInternalException', times: 1 });
    await client.send(new GenerateDataKeyCommand({ KeyId: keyArn, KeySpec: 'AES_256' }));
    expect(kms.calls.map((c) => c.outcome)).toEqual(['KMSInternalException', 'ok']);
  });

  test('the AWS Encryption SDK KMS keyring works against it unmodified', async () => {
    const keyArn = await symmetricKey();
    // The Encryption SDK calls the aggregated client's methods (kms.generateDataKey), so it gets a KMS, not a KMSClient.
    const aggregated = new KMS({ endpoint: kms.endpoint, region: kms.region, credentials: kms.credentials });
    const keyring = new KmsKeyringNode({ generatorKeyId: keyArn, clientProvider: () => aggregated });
    const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    const plaintext = randomBytes(1000);
    const { result } = await encrypt(keyring, plaintext, { encryptionContext: ctx });
    const { plaintext: back, messageHeader } = await decrypt(keyring, result);
    expect(Buffer.from(back).equals(plaintext)).toBe(true);
    expect(messageHeader.encryptionContext).toMatchObject(ctx);
  });
});
