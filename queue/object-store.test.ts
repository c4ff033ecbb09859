import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { freePort } from '../devstack/free-port.js';
import { startS3Server, type S3Server } from '../devstack/s3-server.js';
import { silentLogger } from './logger.js';
import { ObjectStore } from './object-store.js';

describe('object store against the s3rver launcher', () => {
  let s3: S3Server;
  let client: S3Client;
  let store: ObjectStore;

  beforeAll(async () => {
    s3 = await startS3Server({ port: await freePort() });
    client = new S3Client({ ...s3.clientConfig, maxAttempts: 1 });
    store = new ObjectStore({ client, bucket: s3.buckets[0]!, partSizeBytes: 5 * 1024 * 1024, queueSize: 2, sseKmsKeyId: 'alias/recordings', requireSse: false, logger: silentLogger });
  });
  afterAll(async () => {
    client?.destroy();
    await s3?.stop();
  });

  test('streams a multipart upload, reads it back byte-identical, with an S3-style multipart ETag; SSE honestly unconfirmed', async () => {
    const body = randomBytes(12 * 1024 * 1024 + 17);
    const put = await store.putStream('a/b.esdk', Readable.from([body.subarray(0, 4e6), body.subarray(4e6)]), { 'chaperone-format': 'test' });
    expect(put.sse).toBe('none');
    const partMd5 = (from: number, to: number) => createHash('md5').update(body.subarray(from, to)).digest();
    const mib5 = 5 * 1024 * 1024;
    const expected = `${createHash('md5').update(Buffer.concat([partMd5(0, mib5), partMd5(mib5, 2 * mib5), partMd5(2 * mib5, body.length)])).digest('hex')}-3`;
    expect(put.etag).toBe(`"${expected}"`);
    const { body: stream } = await store.getStream('a/b.esdk');
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(body)).toBe(true);
    const head = await client.send(new GetObjectCommand({ Bucket: store.bucket, Key: 'a/b.esdk' }));
    expect(head.ETag).toBe(`"${expected}"`);
    expect(head.Metadata).toEqual({ 'chaperone-format': 'test' });
    await head.Body!.transformToByteArray();
  });

  test('incomplete uploads are listed and aborted; a wrong part ETag is refused (InvalidPart)', async () => {
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: store.bucket, Key: 'left/over' }));
    await client.send(new UploadPartCommand({ Bucket: store.bucket, Key: 'left/over', UploadId, PartNumber: 1, Body: randomBytes(1000) }));
    expect(await s3.listIncompleteUploads()).toEqual([{ key: 'left/over', uploadId: UploadId }]);
    await expect(
      client.send(new CompleteMultipartUploadCommand({ Bucket: store.bucket, Key: 'left/over', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"00000000000000000000000000000000"' }] } })),
    ).rejects.toMatchObject({ name: 'InvalidPart' });
    expect(await store.abortIncompleteUploads('left/over')).toBe(1);
    expect(await s3.listIncompleteUploads()).toEqual([]);
    expect(await store.abortIncompleteUploads('left/over')).toBe(0);
  });

  test('while paused the endpoint refuses connections (a transient, retryable failure); resume serves the same data', async () => {
    await store.putStream('kept', Readable.from([Buffer.from('still here')]), {});
    await s3.pause();
    try {
      await expect(store.getStream('kept')).rejects.toMatchObject({ code: 'CHAP_SEAL_S3_UNAVAILABLE', permanent: false });
    } finally {
      await s3.resume();
    }
    const { body } = await store.getStream('kept');
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('still here');
  });

  test('a part that fails aborts the multipart upload: nothing stored, no upload left open', async () => {
    const failing = new S3Client({ ...s3.clientConfig, maxAttempts: 1 });
    failing.middlewareStack.add(
      (next, context) => async (args) => {
        const request = args.request as { query?: Record<string, string> };
        if (context.commandName === 'UploadPartCommand' && request.query?.partNumber === '2') throw Object.assign(new Error('connection reset'), { name: 'TimeoutError' });
        return next(args);
      },
      { step: 'build', name: 'failSecondPart' },
    );
    const failingStore = new ObjectStore({ client: failing, bucket: s3.buckets[0]!, partSizeBytes: 5 * 1024 * 1024, queueSize: 2, sseKmsKeyId: undefined, requireSse: false, logger: silentLogger });
    await expect(failingStore.putStream('broken/upload', Readable.from([randomBytes(16 * 1024 * 1024)]), {})).rejects.toMatchObject({ code: 'CHAP_SEAL_S3_UNAVAILABLE', permanent: false });
    expect(await s3.listIncompleteUploads()).toEqual([]);
    await expect(store.getStream('broken/upload')).rejects.toMatchObject({ code: 'CHAP_SEAL_S3_OBJECT_MISSING' });
    failing.destroy();
  });

  test('with the SDK computing CRC32 checksums (production setting) parts still arrive intact', async () => {
    const checksummed = new S3Client({ ...s3.clientConfig, requestChecksumCalculation: 'WHEN_SUPPORTED', responseChecksumValidation: 'WHEN_SUPPORTED' });
    const checksummedStore = new ObjectStore({ client: checksummed, bucket: s3.buckets[0]!, partSizeBytes: 5 * 1024 * 1024, queueSize: 2, sseKmsKeyId: undefined, requireSse: false, logger: silentLogger });
    const body = randomBytes(11 * 1024 * 1024);
    await checksummedStore.putStream('crc/object', Readable.from([body]), {});
    const { body: stream } = await store.getStream('crc/object');
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(body)).toBe(true);
    checksummed.destroy();
  });

  test('part bodies are sent as a signed request with an unsigned payload: no second SHA-256 pass over the bytes', async () => {
    const seen: Array<{ command: string; contentSha256: string | undefined; signedHeaders: string | undefined }> = [];
    const watched = new S3Client({ ...s3.clientConfig, maxAttempts: 1 });
    // After signing (deserialize runs last on the way out): what actually goes on the wire.
    watched.middlewareStack.add(
      (next, context) => (args) => {
        const headers = (args.request as { headers: Record<string, string> }).headers;
        seen.push({ command: context.commandName!, contentSha256: headers['x-amz-content-sha256'], signedHeaders: /SignedHeaders=([^,]+)/.exec(headers.authorization ?? '')?.[1] });
        return next(args);
      },
      { step: 'deserialize', name: 'watchSignedRequests' },
    );
    const watchedStore = new ObjectStore({ client: watched, bucket: s3.buckets[0]!, partSizeBytes: 5 * 1024 * 1024, queueSize: 2, sseKmsKeyId: undefined, requireSse: false, logger: silentLogger });
    const body = randomBytes(6 * 1024 * 1024);
    await watchedStore.putStream('unsigned/multipart', Readable.from([body]), {});
    await watchedStore.putStream('unsigned/small', Readable.from([body.subarray(0, 1000)]), {});
    const parts = seen.filter((r) => r.command === 'UploadPartCommand' || r.command === 'PutObjectCommand');
    expect(parts.map((r) => r.command)).toEqual(['UploadPartCommand', 'UploadPartCommand', 'PutObjectCommand']);
    for (const r of parts) {
      expect(r.contentSha256).toBe('UNSIGNED-PAYLOAD');
      expect(r.signedHeaders?.split(';')).toContain('x-amz-content-sha256');
    }
    // Other requests keep the SDK's own payload hash.
    expect(seen.find((r) => r.command === 'CompleteMultipartUploadCommand')?.contentSha256).toMatch(/^[0-9a-f]{64}$/);
    const { body: stream } = await store.getStream('unsigned/multipart');
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(body)).toBe(true);
    watched.destroy();
  });
});
