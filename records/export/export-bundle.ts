import { createHash, createPublicKey } from 'node:crypto';
import type { Writable } from 'node:stream';
import type pg from 'pg';
import { appendAudit } from '../../audit/index.js';
import { canonicalJson } from '../../queue/canonical-json.js';
import { getRecording, listSegments } from '../../queue/catalog.js';
import { parseConsentRef } from '../../queue/consent-refs.js';
import { segmentObjectContext } from '../../queue/envelope.js';
import type { KeyRoot } from '../../queue/keys/key-root.js';
import type { Logger } from '../../queue/logger.js';
import { signingStatement, verifyManifest, type ManifestSignature, type ManifestTrack } from '../../queue/manifest.js';
import type { ObjectStore } from '../../queue/object-store.js';
import { readBack } from '../../queue/read-back.js';
import { auditActor, type Principal } from '../principal.js';
import { requireAllowed } from '../lifecycle/authorization.js';
import type { Clock } from '../lifecycle/clock.js';
import { badInput, LifecycleError } from '../lifecycle/errors.js';
import { checkId } from '../lifecycle/input.js';
import { listTombstones } from '../lifecycle/tombstone.js';
import { bundleCipher, parseRecipientKey, recipientFingerprint } from './bundle-encryption.js';
import { bundleReadme, decryptInstructions } from './readme.js';
import { segmentPlaintext } from './segment-plaintext.js';
import { TarStream, tarPadding, writeChunk, tarHeader, type ChunkSink } from './tar-writer.js';

/**
 * Right of access (45 CFR §164.524): one patient's tracks of a recording — or the whole recording where
 * the access policy allows it (records officers) — as a bundle they can check without trusting us:
 * the media decrypted, the signed manifest with its signature and public key, their consent statements,
 * and a README whose steps use sha256sum and OpenSSL only. Delivered encrypted to a public key the
 * recipient supplies (bundle-encryption.ts), as one tar:
 *
 *   DECRYPT.txt, key.rsa-oaep, bundle.tar.enc, bundle.tar.enc.hmac
 *   bundle.tar = chaperone-export/{README.txt, manifest.json, manifest-statement.json, manifest-signature.bin,
 *                manifest-signing-key.pem, manifest-signature.json, SHA256SUMS, consent/*.json,
 *                tombstones.json?, tracks/<track>-s<NNN>.webm}
 *
 * Integrity first (I6): the manifest signature must verify under a trusted key and the catalog agree with
 * it; every segment is read back, decrypted and hashed against the manifest before a single byte is
 * written; while streaming each is checked again and any difference abandons the bundle. Plaintext is
 * never written to disk: it goes from the decryptor into the tar inside the AES stream. Every export,
 * refused, failed or done, is audited (who, which recording, tracks, recipient key fingerprint, bundle hash).
 */

export const EXPORT_DIR = 'chaperone-export';

export interface ExportDeps {
  pool: pg.Pool;
  store: ObjectStore;
  keyRoot: KeyRoot;
  /** DER SPKI keys whose manifest signatures are trusted (the configured signer's). */
  trustedSignerKeys: readonly Buffer[];
  clock: Clock;
  logger: Logger;
}

export interface ExportRequest {
  recordingId: unknown;
  /** `participant` (default): one participant's tracks; `recording`: every track. */
  scope?: unknown;
  /** Whose tracks; a patient may omit it (their own). */
  participantId?: unknown;
  /** PEM (SPKI) RSA public key of the recipient, ≥ 2048 bits; required unless `delivery` is one-time-download. */
  recipientPublicKey?: unknown;
}

/**
 * How the bundle leaves: `recipient-key` (default) — encrypted to the recipient's public key, safe on any
 * channel; `one-time-download` — the bundle tar itself, streamed once over the API's TLS to the person a
 * single-use download token was issued to (one-time-download.ts).
 */
export type ExportDelivery = 'recipient-key' | 'one-time-download';

export interface ExportResult {
  recordingId: string;
  scope: 'participant' | 'recording';
  participantIds: string[];
  tracks: string[];
  deletedTracks: string[];
  segments: number;
  plaintextBytes: number;
  /** SHA-256 of the delivered file (the outer tar). */
  bundleSha256: string;
  bundleBytes: number;
  /** Fingerprint of the recipient key; undefined for a one-time download. */
  recipientKeySha256: string | undefined;
  delivery: ExportDelivery;
}

export interface ExportProgress {
  phase: 'checking' | 'writing';
  segmentIndex: number;
  segmentCount: number;
  trackId: string;
  segmentNo: number;
}

interface PlannedSegment {
  trackId: string;
  segmentNo: number;
  file: string;
  objectKey: string;
  versionId: string | undefined;
  keyRef: string;
  plaintext: { sha256: string; bytes: number };
  ciphertext: { sha256: string; bytes: number };
}

const entrySize = (bytes: number) => 512 + bytes + tarPadding(bytes).length;

class CountingHash {
  readonly hash = createHash('sha256');
  bytes = 0;
}

function integrity(message: string): LifecycleError {
  return new LifecycleError('CHAP_RECORDS_INTEGRITY', `${message}; nothing was exported — run chaperone verify on the recording and report it to the records office`);
}

export interface AuthorizedExport {
  recordingId: string;
  scope: 'participant' | 'recording';
  /** The participant asked for (scope participant), else undefined. */
  participantId: string | undefined;
  participantIds: string[];
}

/**
 * Checks an export request and asks the access policy (every refusal audited): a whole recording needs
 * `export` on the recording; a participant's tracks need `export` on each of them (a patient: their own).
 */
export async function authorizeExport(db: pg.Pool, principal: Principal, request: Pick<ExportRequest, 'recordingId' | 'scope' | 'participantId'>): Promise<AuthorizedExport> {
  const recordingId = checkId('recordingId', request.recordingId);
  const scope = request.scope === undefined ? 'participant' : request.scope;
  if (scope !== 'participant' && scope !== 'recording') throw badInput('scope', 'must be "participant" (one participant\'s tracks) or "recording" (every track)');
  const { rows: exists } = await db.query('select 1 from recordings where recording_id = $1', [recordingId]);
  if (!exists[0]) throw new LifecycleError('CHAP_RECORDS_UNKNOWN_RECORDING', `recording ${recordingId} is not in the catalog: check the id (chaperone list)`, 'recordingId');
  const { rows: trackRows } = await db.query<{ track_id: string; participant_id: string }>('select track_id, participant_id from recording_tracks where recording_id = $1 order by track_id', [recordingId]);
  if (scope === 'recording') {
    await requireAllowed(db, principal, 'export', recordingId);
    return { recordingId, scope, participantId: undefined, participantIds: [...new Set(trackRows.map((t) => t.participant_id))] };
  }
  const participantId = request.participantId === undefined && principal.role === 'patient' ? principal.subject : checkId('participantId', request.participantId);
  const own = trackRows.filter((t) => t.participant_id === participantId);
  if (own.length === 0) throw new LifecycleError('CHAP_RECORDS_UNKNOWN_TRACK', `recording ${recordingId} has no track of participant ${participantId}`, 'participantId');
  for (const t of own) await requireAllowed(db, principal, 'export', recordingId, t.track_id);
  return { recordingId, scope, participantId, participantIds: [participantId] };
}

export async function exportBundle(
  deps: ExportDeps,
  principal: Principal,
  request: ExportRequest,
  out: Writable,
  onProgress?: (p: ExportProgress) => void,
  options: { delivery?: ExportDelivery } = {},
): Promise<ExportResult> {
  const delivery = options.delivery ?? 'recipient-key';
  checkId('recordingId', request.recordingId);
  const recipient = delivery === 'recipient-key' ? parseRecipientKey(request.recipientPublicKey) : undefined;
  const recipientKeySha256 = recipient ? recipientFingerprint(recipient) : undefined;
  const { recordingId, scope, participantIds } = await authorizeExport(deps.pool, principal, request);
  const recording = (await getRecording(deps.pool, recordingId))!;
  const auditFailure = (code: string) =>
    appendAudit(deps.pool, { event: 'recording.exported', outcome: 'failed', actor: auditActor(principal), roomId: recording.roomId, subjectId: recordingId, details: { code, scope, delivery } }).catch(() => undefined);

  if (recording.state !== 'sealed' || !recording.manifest) throw new LifecycleError('CHAP_RECORDS_NOT_SEALED', `recording ${recordingId} is ${recording.state}: only sealed recordings can be exported`);
  const tombstones = await listTombstones(deps.pool, recordingId);
  if (tombstones.some((t) => t.scope === 'recording')) throw new LifecycleError('CHAP_RECORDS_DELETED', `recording ${recordingId} was deleted; its tombstone is all that is left`);
  const deletedTrackIds = new Set(tombstones.map((t) => t.trackId!));

  try {
    // 1. The manifest, as signed, under a trusted key.
    const check = verifyManifest(recording.manifest, recording.manifestSignature, deps.trustedSignerKeys);
    if (!check.valid || check.trusted === false || !check.manifest) throw integrity(`the manifest of ${recordingId} does not verify (${check.problems.join('; ') || 'untrusted signing key'})`);
    const signature = recording.manifestSignature as ManifestSignature;
    const inScope = (t: ManifestTrack) => participantIds.includes(t.participantId);
    const tracks = check.manifest.tracks.filter((t) => inScope(t) && !deletedTrackIds.has(t.trackId));
    const deletedTracks = check.manifest.tracks.filter((t) => inScope(t) && deletedTrackIds.has(t.trackId)).map((t) => t.trackId);
    if (tracks.length === 0) throw new LifecycleError('CHAP_RECORDS_DELETED', `every requested track of ${recordingId} was deleted (${deletedTracks.join(', ')}); nothing is left to export`);
    const catalog = await listSegments(deps.pool, recordingId);
    const planned: PlannedSegment[] = [];
    for (const track of tracks) {
      if (!track.keyRef) throw integrity(`the manifest names no key for track ${track.trackId}`);
      for (const s of track.segments) {
        const row = catalog.find((c) => c.trackId === track.trackId && c.segmentNo === s.segmentNo);
        if (!row || row.plaintextSha256 !== s.plaintext.sha256 || row.objectKey !== s.object.key) throw integrity(`catalog and manifest disagree on ${track.trackId} segment ${s.segmentNo}`);
        planned.push({
          trackId: track.trackId,
          segmentNo: s.segmentNo,
          file: `tracks/${track.trackId}-s${String(s.segmentNo).padStart(3, '0')}.webm`,
          objectKey: s.object.key,
          versionId: s.object.versionId,
          keyRef: track.keyRef,
          plaintext: s.plaintext,
          ciphertext: s.ciphertext,
        });
      }
    }
    // 2. Every object read back and checked before anything is written.
    for (const [i, seg] of planned.entries()) {
      onProgress?.({ phase: 'checking', segmentIndex: i, segmentCount: planned.length, trackId: seg.trackId, segmentNo: seg.segmentNo });
      const read = await readBack({ db: deps.pool, store: deps.store, keyRoot: deps.keyRoot, objectKey: seg.objectKey, versionId: seg.versionId, keyRef: seg.keyRef, expectedContext: segmentObjectContext(recordingId, seg.trackId, seg.segmentNo) }).catch((error: Error) => {
        const code = (error as { code?: string }).code ?? error.name;
        // A dependency that is away is not an integrity finding: say so, and that a retry is safe.
        if (/UNAVAILABLE/.test(code)) throw new LifecycleError('CHAP_RECORDS_STORE_UNAVAILABLE', `${seg.trackId} segment ${seg.segmentNo} could not be read (${code}); nothing was exported — retry when S3, KMS and PostgreSQL are reachable`);
        throw integrity(`${seg.trackId} segment ${seg.segmentNo} cannot be read back (${code})`);
      });
      if (read.plaintextSha256 !== seg.plaintext.sha256 || read.plaintextBytes !== seg.plaintext.bytes || read.ciphertextSha256 !== seg.ciphertext.sha256) {
        throw integrity(`${seg.trackId} segment ${seg.segmentNo} differs from the signed manifest`);
      }
    }

    // 3. The small files, then the layout of the inner tar (every size is known up front).
    const nowMs = deps.clock.now();
    const spki = Buffer.from(signature.publicKeySpki, 'base64');
    const signingKeyPem = createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({ format: 'pem', type: 'spki' }).toString();
    const consent = await consentStatements(deps.pool, recording.roomId, participantIds, recording.consentRefs);
    const small: Array<[string, Buffer]> = [
      ['README.txt', Buffer.from(bundleReadme({
        recordingId,
        scope,
        participantIds,
        exportedAtIso: new Date(nowMs).toISOString(),
        signatureAlgorithm: signature.algorithm,
        signingKeyId: signature.keyId,
        signingKeyFingerprint: createHash('sha256').update(spki).digest('hex'),
        manifestSha256: signature.manifestSha256,
        trackFiles: planned.map((p) => p.file),
        deletedTracks,
        consentFiles: consent.length,
      }))],
      ['manifest.json', Buffer.from(recording.manifest, 'utf8')],
      ['manifest-statement.json', signingStatement(recordingId, signature.manifestSha256)],
      ['manifest-signature.bin', Buffer.from(signature.signature, 'base64')],
      ['manifest-signing-key.pem', Buffer.from(signingKeyPem)],
      ['manifest-signature.json', Buffer.from(`${JSON.stringify(signature, null, 2)}\n`)],
      ['SHA256SUMS', Buffer.from(planned.map((p) => `${p.plaintext.sha256}  ${p.file}\n`).join(''))],
      ...consent.map(([name, body]): [string, Buffer] => [`consent/${name}`, body]),
    ];
    if (deletedTracks.length) {
      small.push(['tombstones.json', Buffer.from(`${JSON.stringify(tombstones.filter((t) => deletedTracks.includes(t.trackId!)).map((t) => ({ deletionId: t.deletionId, trackId: t.trackId, reasonCode: t.reasonCode, deletedAtMs: t.deletedAtMs, deletedBy: t.deletedBy, contentSha256: t.contentSha256 })), null, 2)}\n`)]);
    }
    // 4. Stream. Recipient key: outer tar ← [DECRYPT.txt, key.rsa-oaep, bundle.tar.enc ← AES(inner tar),
    //    bundle.tar.enc.hmac]. One-time download: the inner tar itself.
    const delivered = new CountingHash();
    const deliver: ChunkSink = async (chunk) => {
      delivered.hash.update(chunk);
      delivered.bytes += chunk.length;
      await writeChunk(out, chunk);
    };
    const writeInner = async (inner: TarStream) => {
      for (const [name, body] of small) await inner.file(`${EXPORT_DIR}/${name}`, body);
      for (const [i, seg] of planned.entries()) {
        onProgress?.({ phase: 'writing', segmentIndex: i, segmentCount: planned.length, trackId: seg.trackId, segmentNo: seg.segmentNo });
        await inner.streamedFile(
          `${EXPORT_DIR}/${seg.file}`,
          seg.plaintext.bytes,
          segmentPlaintext({ db: deps.pool, store: deps.store, keyRoot: deps.keyRoot }, { ...seg, context: segmentObjectContext(recordingId, seg.trackId, seg.segmentNo) }),
        );
      }
      await inner.end();
    };
    if (!recipient) {
      await writeInner(new TarStream(deliver, nowMs));
    } else {
      const innerBytes = small.reduce((n, [, b]) => n + entrySize(b.length), 0) + planned.reduce((n, p) => n + entrySize(p.plaintext.bytes), 0) + 1024;
      const encryptedBytes = innerBytes - (innerBytes % 16) + 16; // AES-CBC with PKCS#7 always adds 1..16 bytes
      const outer = new TarStream(deliver, nowMs);
      const cipher = bundleCipher(recipient);
      await outer.file('DECRYPT.txt', decryptInstructions({ recordingId, recipientFingerprint: recipientKeySha256! }));
      await outer.file('key.rsa-oaep', cipher.wrappedKey);
      await deliver(tarHeader('bundle.tar.enc', encryptedBytes, nowMs));
      let encrypted = 0;
      const pump = (async () => {
        for await (const chunk of cipher.encryptor as AsyncIterable<Buffer>) {
          encrypted += chunk.length;
          await deliver(chunk);
        }
      })();
      try {
        await writeInner(new TarStream(cipher.encryptor, nowMs));
        cipher.encryptor.end();
        await pump;
      } catch (error) {
        cipher.encryptor.destroy();
        await pump.catch(() => undefined);
        throw error;
      }
      if (encrypted !== encryptedBytes) throw new Error(`bundle.tar.enc is ${encrypted} bytes, expected ${encryptedBytes}`);
      await deliver(tarPadding(encryptedBytes));
      await outer.file('bundle.tar.enc.hmac', `${cipher.macHex()}\n`);
      await outer.end();
    }

    const result: ExportResult = {
      recordingId,
      scope,
      participantIds,
      tracks: tracks.map((t) => t.trackId),
      deletedTracks,
      segments: planned.length,
      plaintextBytes: planned.reduce((n, p) => n + p.plaintext.bytes, 0),
      bundleSha256: delivered.hash.digest('hex'),
      bundleBytes: delivered.bytes,
      recipientKeySha256,
      delivery,
    };
    await appendAudit(deps.pool, {
      event: 'recording.exported',
      actor: auditActor(principal),
      roomId: recording.roomId,
      subjectId: recordingId,
      details: {
        scope,
        participantId: scope === 'participant' ? participantIds[0]! : null,
        tracks: result.tracks.length,
        trackIds: result.tracks.join(',').slice(0, 256),
        segments: result.segments,
        plaintextBytes: result.plaintextBytes,
        bundleSha256: result.bundleSha256,
        delivery,
        recipientKeySha256: recipientKeySha256 ?? null,
        manifestSha256: signature.manifestSha256,
      },
    });
    deps.logger.info({ recordingId, scope, segments: result.segments, bundleBytes: result.bundleBytes }, 'export bundle written');
    return result;
  } catch (error) {
    await auditFailure((error as { code?: string }).code ?? 'CHAP_RECORDS_INTEGRITY');
    throw error;
  }
}

/** The exported participants' consent-ledger entries in the recording's room, flagged when the manifest cites them. */
async function consentStatements(db: pg.Pool, roomId: string, participantIds: readonly string[], consentRefs: readonly string[]): Promise<Array<[string, Buffer]>> {
  const cited = new Map(consentRefs.map(parseConsentRef).filter((r) => r !== undefined).map((r) => [r.seq, r.statementDigest]));
  const { rows } = await db.query<Record<string, unknown>>(
    `select seq::text as seq, received_at_ms::text as received_at_ms, member_id, leaf_index, policy_version, purpose, statement_sha256, decision,
            issued_at_ms::text as issued_at_ms, statement, signature, signer_key, statement_digest
       from consent_ledger where room_id = $1 and member_id = any($2) order by seq`,
    [roomId, participantIds],
  );
  return rows.map((r) => {
    const seq = Number(r.seq);
    const entry = {
      ledgerSeq: seq,
      memberId: r.member_id,
      decision: r.decision,
      policyVersion: Number(r.policy_version),
      purpose: r.purpose,
      policyStatementSha256: r.statement_sha256,
      issuedAtMs: Number(r.issued_at_ms),
      receivedAtMs: Number(r.received_at_ms),
      leafIndex: Number(r.leaf_index),
      statementBase64: r.statement,
      signatureBase64: r.signature,
      signerPublicKeyBase64: r.signer_key,
      statementDigest: r.statement_digest,
      citedByManifest: cited.get(seq) === r.statement_digest,
    };
    return [`${String(seq).padStart(8, '0')}-${String(r.decision)}.json`, Buffer.from(`${JSON.stringify(JSON.parse(canonicalJson(entry)), null, 2)}\n`)];
  });
}
