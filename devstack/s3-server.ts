import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { createRequire } from 'node:module';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A local S3-compatible server for tests and the demo: s3rver 3.7.1 in this process, on 127.0.0.1, its own
 * port and directory. No MinIO/moto/LocalStack is reachable here (shared/notes/dependencies.md), so this
 * is what stands in for S3 — with its gaps stated, not hidden:
 *
 * - aws-chunked uploads: with the SDK's default checksum framing s3rver stores the chunk framing inside the
 *   object. `clientConfig` sets requestChecksumCalculation / responseChecksumValidation to WHEN_REQUIRED;
 *   use it for every client of this server.
 * - No signature verification: any credentials (and a tampered presigned URL) are accepted.
 * - No versioning, no Object Lock, no SSE: SSE-KMS headers are accepted and ignored, and responses never
 *   confirm them (`capabilities.sse` is false; a pipeline that requires SSE confirmation must refuse this
 *   server, which it does in production mode).
 * - No ListMultipartUploads and no AbortMultipartUpload in s3rver. This launcher adds both (`launcher`
 *   in `capabilities`), reading and removing s3rver's own upload directories, because the pipeline must
 *   show incomplete uploads being aborted; `listIncompleteUploads()` reads the same directories for tests.
 * - s3rver completes a multipart upload by re-reading every part through an MD5 into a new file, and gives
 *   the object that whole-object MD5 as ETag (S3 gives md5-of-part-MD5s "-N") without checking the part
 *   ETags it was sent. This launcher replaces that completion: parts are appended into the object without
 *   hashing, the ETag is S3's "-N" form, and a part ETag that does not match is refused (InvalidPart), as
 *   S3 does. A completion still copies the object once.
 *
 * `pause()` closes the listener and every open connection (clients see ECONNREFUSED) and keeps the data;
 * `resume()` listens again on the same port and directory — an S3 outage for fault tests.
 */

export interface S3ServerCapabilities {
  sse: false;
  versioning: false;
  objectLock: false;
  verifiesSignatures: false;
  listMultipartUploads: 'launcher';
  abortMultipartUpload: 'launcher';
}

export interface S3Server {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  port: number;
  region: string;
  /** Buckets created at start. */
  buckets: readonly string[];
  dir: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Spread into `new S3Client({...})`: endpoint, region, credentials, path-style, checksum settings this server needs. */
  clientConfig: {
    endpoint: string;
    region: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
    forcePathStyle: true;
    requestChecksumCalculation: 'WHEN_REQUIRED';
    responseChecksumValidation: 'WHEN_REQUIRED';
  };
  capabilities: S3ServerCapabilities;
  listIncompleteUploads(bucket?: string): Promise<Array<{ key: string; uploadId: string }>>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
}

interface FilesystemStore {
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, unknown>, md5: string): Promise<void>;
  putObjectMultipart(bucket: string, uploadId: string, parts: Array<{ number: number; etag: string }>): Promise<{ md5: string; size: number }>;
}

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
  httpServer?: Server;
  store: FilesystemStore;
  middleware: Array<(ctx: KoaContext, next: () => Promise<void>) => Promise<void>>;
}

interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  status: number;
  body: unknown;
  type: string;
}

type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

const require = createRequire(import.meta.url);
const S3rver = require('s3rver') as S3rverConstructor;
const S3Object = require('s3rver/lib/models/object') as new (bucket: string, key: string, content: null, metadata: Record<string, unknown>) => { metadata: Record<string, unknown> };
const S3Error = require('s3rver/lib/models/error') as new (code: string, message: string, detail?: Record<string, unknown>) => Error;

const UPLOADS_DIR = '._S3rver_uploads';
const CREDENTIALS = Object.freeze({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });

const xmlEscape = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

async function incompleteUploads(dir: string, bucket: string): Promise<Array<{ key: string; uploadId: string; initiated: Date }>> {
  const root = join(dir, bucket, UPLOADS_DIR);
  let ids: string[];
  try {
    ids = await readdir(root);
  } catch {
    return [];
  }
  const uploads = [];
  for (const uploadId of ids) {
    try {
      const key = await readFile(join(root, uploadId, 'key'), 'utf8');
      uploads.push({ key, uploadId, initiated: (await stat(join(root, uploadId))).birthtime });
    } catch {
      // Being completed or aborted right now.
    }
  }
  return uploads.sort((a, b) => a.key.localeCompare(b.key) || a.uploadId.localeCompare(b.uploadId));
}

/** ListMultipartUploads and AbortMultipartUpload on top of s3rver's directories (path-style requests). */
function multipartExtensions(dir: string) {
  return async (ctx: KoaContext, next: () => Promise<void>): Promise<void> => {
    const segments = ctx.path.split('/').filter(Boolean).map(decodeURIComponent);
    const bucket = segments[0];
    if (bucket && segments.length === 1 && ctx.method === 'GET' && 'uploads' in ctx.query) {
      const prefix = typeof ctx.query.prefix === 'string' ? ctx.query.prefix : '';
      const uploads = (await incompleteUploads(dir, bucket)).filter((u) => u.key.startsWith(prefix));
      ctx.status = 200;
      ctx.type = 'application/xml';
      ctx.body =
        '<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
        `<Bucket>${xmlEscape(bucket)}</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><Prefix>${xmlEscape(prefix)}</Prefix>` +
        '<MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>' +
        uploads
          .map((u) => `<Upload><Key>${xmlEscape(u.key)}</Key><UploadId>${u.uploadId}</UploadId><Initiated>${u.initiated.toISOString()}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`)
          .join('') +
        '</ListMultipartUploadsResult>';
      return;
    }
    const uploadId = ctx.query.uploadId;
    if (bucket && segments.length > 1 && ctx.method === 'DELETE' && typeof uploadId === 'string') {
      const key = segments.slice(1).join('/');
      const upload = (await incompleteUploads(dir, bucket)).find((u) => u.uploadId === uploadId && u.key === key);
      ctx.type = 'application/xml';
      if (!upload || !/^[0-9a-f]+$/.test(uploadId)) {
        ctx.status = 404;
        ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message><UploadId>${xmlEscape(uploadId)}</UploadId></Error>`;
        return;
      }
      await rm(join(dir, bucket, UPLOADS_DIR, uploadId), { recursive: true, force: true });
      ctx.status = 204;
      ctx.body = null;
      return;
    }
    await next();
  };
}

/** CompleteMultipartUpload as S3 does it: part ETags checked, parts appended (not re-hashed), ETag "<md5 of part MD5s>-N". */
function completeLikeS3(store: FilesystemStore) {
  return async (bucket: string, uploadId: string, parts: Array<{ number: number; etag: string }>): Promise<{ md5: string; size: number }> => {
    const uploadDir = join(store.getResourcePath(bucket, undefined, 'uploads'), uploadId);
    let key: string;
    let metadata: Record<string, unknown>;
    try {
      key = await readFile(join(uploadDir, 'key'), 'utf8');
      metadata = JSON.parse(await readFile(join(uploadDir, 'metadata'), 'utf8')) as Record<string, unknown>;
    } catch {
      throw new S3Error('NoSuchUpload', 'The specified upload does not exist.', { UploadId: uploadId });
    }
    const sorted = [...parts].sort((a, b) => a.number - b.number);
    const md5s: Buffer[] = [];
    for (const part of sorted) {
      const stored = await readFile(join(uploadDir, `${part.number}.md5`), 'utf8').catch(() => undefined);
      if (stored === undefined || stored !== part.etag) {
        throw new S3Error('InvalidPart', 'One or more of the specified parts could not be found or the specified entity tag might not have matched the part\'s entity tag.', { PartNumber: part.number });
      }
      md5s.push(Buffer.from(stored, 'hex'));
    }
    const objectPath = store.getResourcePath(bucket, key, 'object');
    await mkdir(dirname(objectPath), { recursive: true });
    const assembling = `${objectPath}.assembling-${uploadId}`;
    await rename(join(uploadDir, String(sorted[0]!.number)), assembling);
    for (const part of sorted.slice(1)) {
      await pipeline(createReadStream(join(uploadDir, String(part.number)), { highWaterMark: 4 * 1024 * 1024 }), createWriteStream(assembling, { flags: 'a' }));
    }
    await rename(assembling, objectPath);
    const md5 = `${createHash('md5').update(Buffer.concat(md5s)).digest('hex')}-${sorted.length}`;
    await store.putMetadata(bucket, key, new S3Object(bucket, key, null, metadata).metadata, md5);
    await rm(uploadDir, { recursive: true, force: true });
    return { md5, size: (await stat(objectPath)).size };
  };
}

export async function startS3Server(options: { port: number; dir?: string; buckets?: readonly string[]; region?: string }): Promise<S3Server> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'chaperone-s3-')));
  const buckets = options.buckets ?? ['chaperone-recordings'];
  const region = options.region ?? 'us-east-1';
  let instance: S3rverInstance | undefined;

  async function listen(): Promise<void> {
    const server = new S3rver({
      address: '127.0.0.1',
      port: options.port,
      directory: dir,
      silent: true,
      vhostBuckets: false,
      resetOnClose: false,
      configureBuckets: buckets.map((name) => ({ name })),
    });
    // Koa composes middleware when it starts listening, so this runs before s3rver's router.
    server.middleware.unshift(multipartExtensions(dir));
    server.store.putObjectMultipart = completeLikeS3(server.store);
    await server.run();
    instance = server;
  }

  async function close(): Promise<void> {
    const server = instance;
    instance = undefined;
    if (!server) return;
    server.httpServer?.closeAllConnections();
    await server.close();
  }

  await listen();
  const endpoint = `http://127.0.0.1:${options.port}`;
  return {
    endpoint,
    port: options.port,
    region,
    buckets,
    dir,
    get credentials() {
      return { ...CREDENTIALS };
    },
    // A fresh object on every read: the SDK writes into the credentials object it is given.
    get clientConfig() {
      return {
        endpoint,
        region,
        credentials: { ...CREDENTIALS },
        forcePathStyle: true as const,
        requestChecksumCalculation: 'WHEN_REQUIRED' as const,
        responseChecksumValidation: 'WHEN_REQUIRED' as const,
      };
    },
    capabilities: { sse: false, versioning: false, objectLock: false, verifiesSignatures: false, listMultipartUploads: 'launcher', abortMultipartUpload: 'launcher' },
    async listIncompleteUploads(bucket = buckets[0]!) {
      return (await incompleteUploads(dir, bucket)).map(({ key, uploadId }) => ({ key, uploadId }));
    },
    pause: close,
    async resume() {
      if (!instance) await listen();
    },
    async stop() {
      await close();
      if (!options.dir) await rm(dir, { recursive: true, force: true });
    },
  };
}
