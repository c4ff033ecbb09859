import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { appendAudit } from '../audit/index.js';
import { inTransaction } from '../db/transaction.js';
import type { Queryable } from '../queue/catalog.js';
import { canonicalJson, sha256Hex } from '../queue/canonical-json.js';
import { encryptShielded, segmentObjectContext } from '../queue/envelope.js';
import { SealError } from '../queue/errors.js';
import { getOrCreateDataKey } from '../queue/keys/data-keys.js';
import type { KeyRoot } from '../queue/keys/key-root.js';
import { verifySignature, type ManifestSigner } from '../queue/manifest-signer.js';
import type { ObjectStore } from '../queue/object-store.js';
import { RecordsError } from './errors.js';
import { renderGalleryFile, type GallerySource } from './gallery-render.js';
import { keyIsLive, sealedRecording } from './playable.js';
import type { Principal } from './principal.js';
import { IntegrityError, verifiedPlaintext, type SignedObject } from './verified-stream.js';

/**
 * Composited derivatives: a gallery file rendered on request from a recording's per-track files.
 *
 * Flow: the recording's signed manifest is verified; every segment of every live track is decrypted
 * through the verified stream (verified-stream.ts: hashes checked against the manifest) into a private
 * temp dir (0700, under the service's workDir — tmpfs or encrypted storage in production); ffmpeg renders
 * (gallery-render.ts); the result is hashed, encrypted with the Encryption SDK under the RECORDING key
 * (the key that also encrypts the manifest copy; suite 0x0478) and uploaded; read back and verified;
 * then a derivative record — canonical JSON of ids, sources (track, segment, plaintext SHA-256), hashes,
 * object — is signed with the manifest signing key and catalogued (recording_derivatives). The temp dir
 * is removed whatever happens.
 *
 * Object keys: `recordings/<recordingId>/derivatives/<derivativeId>.esdk` (derivativeId = `dv-<uuid>`),
 * under the recording's prefix. The row is written (state `rendering`, object_key set) BEFORE anything is
 * uploaded, so deletion finds every derivative — ready, failed or still rendering — with
 * `listDerivatives(db, recordingId)`. Each derivative is encrypted under a data key of its own (scope
 * `derivative` in recording_keys, KMS-rooted like the track keys): deleting a recording or ANY of its
 * source tracks destroys that key (records/lifecycle/deletion.ts), so a copy of the derivative kept
 * anywhere — a backup — is unreadable, and purges its objects. Playback refuses a derivative any of whose
 * source tracks has a destroyed key.
 */

export const DERIVATIVE_RECORD_FORMAT = 'chaperone-derivative/v1';
export const DERIVATIVE_STATEMENT_FORMAT = 'chaperone-derivative-statement/v1';
export const DERIVATIVE_OBJECT_FORMAT = 'chaperone-derivative-object/v1';

export function derivativeObjectKey(recordingId: string, derivativeId: string): string {
  return `recordings/${recordingId}/derivatives/${derivativeId}.esdk`;
}

/** Encryption context of a derivative object: identifiers only. */
export function derivativeObjectContext(recordingId: string, derivativeId: string): Record<string, string> {
  return { 'chaperone-object': 'derivative', 'chaperone-recording': recordingId, 'chaperone-derivative': derivativeId };
}

export interface DerivativeSource {
  trackId: string;
  segmentNo: number;
  plaintextSha256: string;
}

export interface DerivativeRecord {
  derivativeId: string;
  recordingId: string;
  kind: 'gallery';
  state: 'rendering' | 'ready' | 'failed' | 'deleted';
  sources: DerivativeSource[];
  /** Always set (deterministic from the ids): the object may exist even when the state is not `ready`. */
  objectKey: string;
  objectVersionId: string | null;
  keyRef: string | null;
  plaintext: { sha256: string; bytes: number } | null;
  ciphertext: { sha256: string; bytes: number } | null;
  mediaType: string | null;
  requestedBy: { role: string; id: string };
  failureCode: string | null;
}

interface DerivativeRow {
  derivative_id: string;
  recording_id: string;
  kind: 'gallery';
  state: DerivativeRecord['state'];
  sources: DerivativeSource[];
  requested_by_role: string;
  requested_by_id: string;
  object_key: string | null;
  object_version_id: string | null;
  key_ref: string | null;
  plaintext_sha256: string | null;
  plaintext_bytes: string | null;
  ciphertext_sha256: string | null;
  ciphertext_bytes: string | null;
  media_type: string | null;
  record: string | null;
  record_signature: { algorithm: string; publicKeySpki: string; signature: string; recordSha256: string } | null;
  failure_code: string | null;
}

function fromRow(r: DerivativeRow): DerivativeRecord {
  return {
    derivativeId: r.derivative_id,
    recordingId: r.recording_id,
    kind: r.kind,
    state: r.state,
    sources: r.sources,
    objectKey: r.object_key ?? derivativeObjectKey(r.recording_id, r.derivative_id),
    objectVersionId: r.object_version_id,
    keyRef: r.key_ref,
    plaintext: r.plaintext_sha256 ? { sha256: r.plaintext_sha256, bytes: Number(r.plaintext_bytes) } : null,
    ciphertext: r.ciphertext_sha256 ? { sha256: r.ciphertext_sha256, bytes: Number(r.ciphertext_bytes) } : null,
    mediaType: r.media_type,
    requestedBy: { role: r.requested_by_role, id: r.requested_by_id },
    failureCode: r.failure_code,
  };
}

/** Every derivative of a recording, in every state (for deletion: each one's object key and version). */
export async function listDerivatives(db: Queryable, recordingId: string): Promise<DerivativeRecord[]> {
  const { rows } = await db.query<DerivativeRow>('select * from recording_derivatives where recording_id = $1 order by requested_at, derivative_id', [recordingId]);
  return rows.map(fromRow);
}

function statement(derivativeId: string, recordSha256: string): Buffer {
  return Buffer.from(canonicalJson({ format: DERIVATIVE_STATEMENT_FORMAT, derivativeId, recordSha256 }), 'utf8');
}

export interface PlayableDerivative {
  roomId: string;
  derivative: DerivativeRecord;
  object: SignedObject;
  mediaType: string;
}

/**
 * A ready derivative to play: its signed record must verify under a trusted key and agree with the
 * catalog row; the recording must be sealed and every source track's key live.
 */
export async function resolveDerivative(db: Queryable, recordingId: string, derivativeId: string, trustedSignerKeys: readonly Buffer[]): Promise<PlayableDerivative> {
  const { recording, deletedTracks } = await sealedRecording(db, recordingId, trustedSignerKeys);
  const { rows } = await db.query<DerivativeRow>('select * from recording_derivatives where derivative_id = $1 and recording_id = $2', [derivativeId, recordingId]);
  const row = rows[0];
  if (!row) throw new RecordsError('not-found', `recording ${recordingId} has no derivative ${derivativeId}`, { field: 'derivativeId' });
  if (row.state === 'deleted') throw new RecordsError('gone', `derivative ${derivativeId} was deleted`);
  if (row.state !== 'ready') throw new RecordsError('not-playable', `derivative ${derivativeId} is ${row.state}, not ready`);
  const sig = row.record_signature;
  const spki = sig ? Buffer.from(sig.publicKeySpki, 'base64') : undefined;
  if (
    !row.record ||
    !sig ||
    !spki ||
    !trustedSignerKeys.some((k) => k.equals(spki)) ||
    sha256Hex(row.record) !== sig.recordSha256 ||
    !verifySignature(sig.algorithm, spki, statement(derivativeId, sig.recordSha256), Buffer.from(sig.signature, 'base64'))
  ) {
    throw new IntegrityError('signature', `the record of derivative ${derivativeId} does not verify under a trusted signing key`);
  }
  const record = JSON.parse(row.record) as {
    derivativeId: string;
    recordingId: string;
    sources: DerivativeSource[];
    plaintext: { sha256: string; bytes: number };
    ciphertext: { sha256: string; bytes: number };
    object: { key: string; versionId?: string };
    keyRef: string;
    mediaType: string;
  };
  if (
    record.derivativeId !== derivativeId ||
    record.recordingId !== recordingId ||
    record.object.key !== row.object_key ||
    record.keyRef !== row.key_ref ||
    record.plaintext.sha256 !== row.plaintext_sha256 ||
    record.ciphertext.sha256 !== row.ciphertext_sha256
  ) {
    throw new IntegrityError('catalog-mismatch', `the catalog row of derivative ${derivativeId} disagrees with its signed record`);
  }
  for (const trackId of new Set(record.sources.map((s) => s.trackId))) {
    const { rows: keys } = await db.query<{ key_ref: string }>(`select key_ref from recording_keys where recording_id = $1 and scope = 'track' and track_id = $2`, [recordingId, trackId]);
    if (deletedTracks.has(trackId) || !keys[0] || !(await keyIsLive(db, keys[0].key_ref))) throw new RecordsError('gone', `derivative ${derivativeId} contains track ${trackId}, which was deleted; it can no longer be played`);
  }
  return {
    roomId: recording.roomId,
    derivative: fromRow(row),
    mediaType: record.mediaType,
    object: {
      objectKey: record.object.key,
      versionId: record.object.versionId,
      keyRef: record.keyRef,
      context: derivativeObjectContext(recordingId, derivativeId),
      plaintext: record.plaintext,
      ciphertext: record.ciphertext,
    },
  };
}

export interface DerivativeDeps {
  pool: pg.Pool;
  store: ObjectStore;
  keyRoot: KeyRoot;
  signer: ManifestSigner;
  trustedSignerKeys: readonly Buffer[];
  workDir: string;
  frameLengthBytes: number;
}

async function hashFile(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/**
 * Renders, encrypts, stores, verifies, signs and catalogues a gallery derivative of `recordingId` for
 * `principal` (already authorized to derive). Audited: records.derivative-created (ok or failed).
 */
export async function createGalleryDerivative(deps: DerivativeDeps, principal: Principal, recordingId: string): Promise<DerivativeRecord> {
  const { recording, manifest, deletedTracks } = await sealedRecording(deps.pool, recordingId, deps.trustedSignerKeys);
  const tracks = [];
  for (const track of manifest.tracks) {
    if (!deletedTracks.has(track.trackId) && track.keyRef && track.segments.length > 0 && (await keyIsLive(deps.pool, track.keyRef))) tracks.push(track);
  }
  if (tracks.length === 0) throw new RecordsError('not-playable', `recording ${recordingId} has no live track to render`);
  const derivativeId = `dv-${randomUUID()}`;
  const objectKey = derivativeObjectKey(recordingId, derivativeId);
  const sources: DerivativeSource[] = tracks.flatMap((t) => t.segments.map((s) => ({ trackId: t.trackId, segmentNo: s.segmentNo, plaintextSha256: s.plaintext.sha256 })));
  await deps.pool.query(
    `insert into recording_derivatives (derivative_id, recording_id, kind, sources, requested_by_role, requested_by_id, object_key) values ($1, $2, 'gallery', $3, $4, $5, $6)`,
    [derivativeId, recordingId, JSON.stringify(sources), principal.role, principal.subject, objectKey],
  );
  const dir = await mkdtemp(join(deps.workDir, 'render-'));
  try {
    // 1. Decrypt every source, verified against the manifest, into the private dir.
    const gallery: GallerySource[] = [];
    let n = 0;
    for (const track of tracks) {
      const files: string[] = [];
      for (const segment of track.segments) {
        const file = join(dir, `in-${++n}.webm`);
        const handle = await open(file, 'wx', 0o600);
        try {
          for await (const chunk of verifiedPlaintext(deps, {
            objectKey: segment.object.key,
            versionId: segment.object.versionId,
            keyRef: track.keyRef!,
            context: segmentObjectContext(recordingId, track.trackId, segment.segmentNo),
            plaintext: segment.plaintext,
            ciphertext: segment.ciphertext,
          })) {
            await handle.write(chunk);
          }
        } finally {
          await handle.close();
        }
        files.push(file);
      }
      gallery.push({ trackId: track.trackId, kind: track.kind, offsetMs: track.segments[0]!.startedAtMs - manifest.startedAtMs, files });
    }
    // 2. Render offline.
    const output = join(dir, 'gallery.webm');
    const { mediaType } = await renderGalleryFile(gallery, output);
    const plaintext = await hashFile(output);
    // 3. Encrypt under a key of the derivative's own (deleting any source track destroys it: I8) and store.
    const key = await getOrCreateDataKey(deps.pool, deps.keyRoot, 'derivative', recordingId, derivativeId);
    let ciphertext: { sha256: string; bytes: number };
    let versionId: string | undefined;
    try {
      const run = encryptShielded(createReadStream(output, { highWaterMark: deps.frameLengthBytes }), key, derivativeObjectContext(recordingId, derivativeId), {
        frameLength: deps.frameLengthBytes,
        expectedBytes: plaintext.bytes,
        describe: `derivative ${derivativeId}`,
      });
      const uploaded = deps.store.putStream(objectKey, run.output, { 'chaperone-format': DERIVATIVE_OBJECT_FORMAT }).catch((error: unknown) => {
        run.abandon();
        throw error;
      });
      const [produced, put] = await Promise.allSettled([run.done, uploaded]);
      if (produced.status === 'rejected') throw produced.reason;
      if (put.status === 'rejected') throw put.reason;
      ciphertext = { sha256: run.ciphertext.sha256, bytes: run.ciphertext.bytes };
      versionId = put.value.versionId;
    } finally {
      key.dispose();
    }
    const object: SignedObject = { objectKey, versionId, keyRef: key.keyRef, context: derivativeObjectContext(recordingId, derivativeId), plaintext, ciphertext };
    // 4. Read back through the same verified path playback uses.
    for await (const chunk of verifiedPlaintext(deps, object, { holdBackBytes: 0 })) void chunk;
    // 5. Sign the record and catalogue it, with its audit event, in one transaction.
    const record = canonicalJson({
      format: DERIVATIVE_RECORD_FORMAT,
      derivativeId,
      recordingId,
      kind: 'gallery',
      manifestSha256: recording.manifestSha256,
      sources,
      mediaType,
      plaintext,
      ciphertext,
      object: { key: objectKey, ...(versionId ? { versionId } : {}) },
      keyRef: key.keyRef,
      createdAtMs: Date.now(),
    });
    const recordSha256 = sha256Hex(record);
    const signature = {
      format: DERIVATIVE_STATEMENT_FORMAT,
      algorithm: await deps.signer.algorithm(),
      keyId: await deps.signer.keyId(),
      publicKeySpki: (await deps.signer.publicKeySpki()).toString('base64'),
      recordSha256,
      signature: (await deps.signer.sign(statement(derivativeId, recordSha256))).toString('base64'),
    };
    await inTransaction(deps.pool, async (client) => {
      await client.query(
        `update recording_derivatives set state = 'ready', object_version_id = $2, key_ref = $3, plaintext_sha256 = $4, plaintext_bytes = $5, ciphertext_sha256 = $6,
           ciphertext_bytes = $7, media_type = $8, record = $9, record_signature = $10, ready_at = now() where derivative_id = $1 and state = 'rendering'`,
        [derivativeId, versionId ?? null, key.keyRef, plaintext.sha256, plaintext.bytes, ciphertext.sha256, ciphertext.bytes, mediaType, record, JSON.stringify(signature)],
      );
      await appendAudit(client, {
        event: 'records.derivative-created',
        actor: { role: principal.role, id: principal.subject },
        roomId: recording.roomId,
        subjectId: recordingId,
        details: { derivativeId, kind: 'gallery', sources: sources.length, bytes: plaintext.bytes },
      });
    });
    return (await listDerivatives(deps.pool, recordingId)).find((d) => d.derivativeId === derivativeId)!;
  } catch (error) {
    const code = error instanceof IntegrityError ? `integrity-${error.problem}` : error instanceof SealError ? error.code : ((error as { code?: string }).code ?? 'failed');
    await deps.pool.query(`update recording_derivatives set state = 'failed', failure_code = $2 where derivative_id = $1 and state = 'rendering'`, [derivativeId, String(code).slice(0, 64)]);
    await appendAudit(deps.pool, {
      event: 'records.derivative-created',
      outcome: 'failed',
      actor: { role: principal.role, id: principal.subject },
      roomId: recording.roomId,
      subjectId: recordingId,
      details: { derivativeId, code: String(code).slice(0, 64) },
    });
    throw error;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
