import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { waitFor } from '../../devstack/wait-for.js';
import { getRecording, type Queryable, type RecordingRow } from '../catalog.js';
import { decryptingStream } from '../envelope.js';
import { openDataKey } from '../keys/data-keys.js';
import type { KeyRoot } from '../keys/key-root.js';

/** Test helpers that look at the stores directly, bypassing the pipeline. */

export async function getObjectBytes(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

export async function listObjectKeys(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!).sort();
}

/** Decrypts ciphertext bytes with the catalogued key `keyRef` (through the key root, i.e. KMS). */
export async function decryptBytes(db: Queryable, keyRoot: KeyRoot, keyRef: string, ciphertext: Buffer): Promise<Buffer> {
  const key = await openDataKey(db, keyRoot, keyRef);
  try {
    const chunks: Buffer[] = [];
    await pipeline(Readable.from([ciphertext]), decryptingStream(key), new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c), cb()) }));
    return Buffer.concat(chunks);
  } finally {
    key.dispose();
  }
}

/** True when some `windowBytes`-long run of `plaintext` (sampled at `samples` offsets, plus its start) occurs in `haystack`. */
export function containsPlaintextRun(haystack: Buffer, plaintext: Buffer, windowBytes = 32, samples = 256): boolean {
  const offsets = new Set<number>([0]);
  for (let i = 0; i < samples; i++) offsets.add(Math.floor(((plaintext.length - windowBytes) * i) / samples));
  for (const offset of offsets) {
    if (offset < 0) continue;
    if (haystack.includes(plaintext.subarray(offset, offset + windowBytes))) return true;
  }
  return false;
}

/** Waits for an event, not for time: the timeout is only an upper bound for a machine under heavy load. */
export async function waitForRecording(db: Queryable, recordingId: string, accept: (r: RecordingRow) => boolean, timeoutMs = 90_000): Promise<RecordingRow> {
  return waitFor(`recording ${recordingId}`, async () => {
    const r = await getRecording(db, recordingId);
    return r && accept(r) ? r : undefined;
  }, timeoutMs, 50);
}

export const sealedAndReleased = (r: RecordingRow) => r.state === 'sealed' && r.spoolReleasedAt !== null;
export const failed = (r: RecordingRow) => r.state === 'failed';

/** Every key and value in Redis (strings, hashes, lists, sets, sorted sets, streams), as one text for grepping. */
export async function dumpRedis(url: string): Promise<string> {
  const redis = new Redis(url);
  try {
    const parts: string[] = [];
    for (const key of await redis.keys('*')) {
      parts.push(key);
      const type = await redis.type(key);
      if (type === 'string') parts.push((await redis.get(key)) ?? '');
      else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
      else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, 0, -1)));
      else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    }
    return parts.join('\n');
  } finally {
    redis.disconnect();
  }
}
