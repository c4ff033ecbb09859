import { DeleteObjectCommand, ListObjectsV2Command, ListObjectVersionsCommand, type S3Client } from '@aws-sdk/client-s3';
import { LifecycleError } from './errors.js';

/**
 * Removes objects from S3 for good. In a versioned bucket a plain DELETE only adds a delete marker and
 * keeps every earlier version, so this lists every version AND every delete marker under a prefix
 * (ListObjectVersions, paginated) and deletes each by VersionId; then it lists again and repeats until
 * nothing is left (a writer racing the purge), and fails if something still is.
 *
 * Endpoints without ListObjectVersions: s3rver, the development stand-in, has no versioning at all and
 * answers MethodNotAllowed. The purge then cannot prove that no older version survives, so it does not
 * pretend to: with `allowUnlistableVersions` false (production) it refuses (CHAP_RECORDS_VERSIONS_UNLISTABLE);
 * with it true (development) it deletes the current objects, and reports `versions: "unlistable"` — which
 * the deletion records in its report, its tombstone and its audit event. Crypto-shredding (the destroyed
 * data key) is what keeps any surviving copy unreadable either way.
 */

export interface RemovedObject {
  key: string;
  /** The version removed; "null" is S3's id for an object written while versioning was off. */
  versionId: string | null;
  deleteMarker: boolean;
}

export interface PurgeResult {
  versions: 'listed' | 'unlistable';
  removed: RemovedObject[];
}

export interface PurgeTarget {
  s3: S3Client;
  bucket: string;
  allowUnlistableVersions: boolean;
}

const UNLISTABLE = new Set(['MethodNotAllowed', 'NotImplemented']);
const MAX_ROUNDS = 5;

function storeError(error: unknown, doing: string): LifecycleError {
  if (error instanceof LifecycleError) return error;
  const name = (error as { name?: string }).name ?? 'Error';
  return new LifecycleError('CHAP_RECORDS_STORE_UNAVAILABLE', `S3 ${doing} failed (${name}): nothing is lost — run the deletion again (it resumes where it stopped)`, undefined, { cause: error });
}

/** `match` keeps exact-key purges exact: a prefix "a/b" must not also take "a/bc". */
async function listVersions(target: PurgeTarget, prefix: string, match: (key: string) => boolean): Promise<RemovedObject[] | 'unlistable'> {
  const found: RemovedObject[] = [];
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  for (;;) {
    let out;
    try {
      out = await target.s3.send(new ListObjectVersionsCommand({ Bucket: target.bucket, Prefix: prefix, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }));
    } catch (error) {
      if (UNLISTABLE.has((error as Error).name)) return 'unlistable';
      throw storeError(error, `listing versions under ${prefix}`);
    }
    for (const v of out.Versions ?? []) if (v.Key && match(v.Key)) found.push({ key: v.Key, versionId: v.VersionId ?? 'null', deleteMarker: false });
    for (const m of out.DeleteMarkers ?? []) if (m.Key && match(m.Key)) found.push({ key: m.Key, versionId: m.VersionId ?? 'null', deleteMarker: true });
    if (!out.IsTruncated) return found;
    keyMarker = out.NextKeyMarker;
    versionIdMarker = out.NextVersionIdMarker;
  }
}

async function listCurrent(target: PurgeTarget, prefix: string, match: (key: string) => boolean): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  for (;;) {
    let out;
    try {
      out = await target.s3.send(new ListObjectsV2Command({ Bucket: target.bucket, Prefix: prefix, ContinuationToken: token }));
    } catch (error) {
      throw storeError(error, `listing objects under ${prefix}`);
    }
    for (const o of out.Contents ?? []) if (o.Key && match(o.Key)) keys.push(o.Key);
    if (!out.IsTruncated) return keys;
    token = out.NextContinuationToken;
  }
}

async function deleteOne(target: PurgeTarget, key: string, versionId: string | null): Promise<void> {
  try {
    await target.s3.send(new DeleteObjectCommand({ Bucket: target.bucket, Key: key, ...(versionId !== null ? { VersionId: versionId } : {}) }));
  } catch (error) {
    throw storeError(error, `delete of ${key}`);
  }
}

/**
 * Purges every object whose key starts with `prefix` (`exact: true`: only the key equal to it), all
 * versions and delete markers. Idempotent: purging what is already gone removes nothing and succeeds.
 */
export async function purgeObjects(target: PurgeTarget, prefix: string, options: { exact?: boolean } = {}): Promise<PurgeResult> {
  if (prefix.length === 0) throw new TypeError('purgeObjects: refusing an empty prefix (it would be the whole bucket)');
  const match = options.exact ? (key: string) => key === prefix : (key: string) => key.startsWith(prefix);
  const removed: RemovedObject[] = [];
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const listed = await listVersions(target, prefix, match);
    if (listed === 'unlistable') {
      if (!target.allowUnlistableVersions) {
        throw new LifecycleError(
          'CHAP_RECORDS_VERSIONS_UNLISTABLE',
          `the S3 endpoint cannot list object versions (ListObjectVersions), so deletion cannot prove that older versions and delete markers under ${prefix} are gone; use an endpoint that supports it (AWS S3 always does), or a development configuration`,
        );
      }
      return purgeCurrentOnly(target, prefix, match, removed);
    }
    if (listed.length === 0) return { versions: 'listed', removed };
    for (const item of listed) {
      await deleteOne(target, item.key, item.versionId);
      removed.push(item);
    }
  }
  throw new LifecycleError('CHAP_RECORDS_STORE_UNAVAILABLE', `objects under ${prefix} kept reappearing after ${MAX_ROUNDS} purge rounds: stop whatever writes there, then run the deletion again`);
}

async function purgeCurrentOnly(target: PurgeTarget, prefix: string, match: (key: string) => boolean, removed: RemovedObject[]): Promise<PurgeResult> {
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const keys = await listCurrent(target, prefix, match);
    if (keys.length === 0) return { versions: 'unlistable', removed };
    for (const key of keys) {
      await deleteOne(target, key, null);
      removed.push({ key, versionId: null, deleteMarker: false });
    }
  }
  throw new LifecycleError('CHAP_RECORDS_STORE_UNAVAILABLE', `objects under ${prefix} kept reappearing after ${MAX_ROUNDS} purge rounds: stop whatever writes there, then run the deletion again`);
}
