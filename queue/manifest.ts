import { canonicalJson, sha256Hex } from './canonical-json.js';
import type { RecordingRow, SegmentRow, TrackRow } from './catalog.js';
import { verifySignature, type ManifestSigner } from './manifest-signer.js';

/**
 * The signed manifest of a recording: everything needed to check it later without trusting the catalog —
 * per track the pseudonymous participant, kind, codec, times and completeness; per segment the plaintext
 * and ciphertext SHA-256 and sizes, the object key (and version) and the key reference; the policy version,
 * purpose and retention deadline; the consent statement references; the recorder's identity. Serialized as
 * canonical JSON (RFC 8785 for integer-only JSON), hashed with SHA-256, and the hash signed inside a short
 * statement (so the KMS RAW message limit of 4096 bytes holds for any number of tracks).
 */

export const MANIFEST_FORMAT = 'chaperone-recording-manifest/v1';
export const SIGNATURE_FORMAT = 'chaperone-manifest-signature/v1';
export const STATEMENT_FORMAT = 'chaperone-manifest-statement/v1';

export interface ManifestSegment {
  segmentNo: number;
  startedAtMs: number;
  endedAtMs: number;
  durationMs: number;
  framesReceived: number;
  framesWritten: number;
  gaps: Array<{ atMs: number; durationMs: number }>;
  writerError?: string;
  plaintext: { sha256: string; bytes: number };
  ciphertext: { sha256: string; bytes: number };
  object: { key: string; versionId?: string; sse: string };
}

export interface ManifestTrack {
  trackId: string;
  participantId: string;
  kind: 'audio' | 'video';
  codec: 'vp8' | 'opus';
  startedAtMs: number;
  endedAtMs: number;
  framesReceived: number;
  framesWritten: number;
  decryptFailures: number;
  gaps: Array<{ atMs: number; durationMs: number }>;
  /** The track key every segment is encrypted under (destroying it shreds the track). */
  keyRef: string | null;
  segments: ManifestSegment[];
}

export interface RecordingManifest {
  format: typeof MANIFEST_FORMAT;
  recordingId: string;
  roomId: string;
  recorder: { id: string };
  policy: { policyId: string; policyVersion: number; purpose: string; retentionDays: number; part2: boolean };
  retentionUntilMs: number;
  consentRefs: string[];
  startedAtMs: number;
  endedAtMs: number;
  endReason?: string;
  sealedAtMs: number;
  encryption: { format: 'aws-encryption-sdk'; suite: string; frameLengthBytes: number; keyRoot: { kind: string; keyId: string } };
  storage: { bucket: string };
  tracks: ManifestTrack[];
}

export interface ManifestSignature {
  format: typeof SIGNATURE_FORMAT;
  algorithm: string;
  keyId: string;
  /** DER SubjectPublicKeyInfo, base64. */
  publicKeySpki: string;
  manifestSha256: string;
  /** base64. */
  signature: string;
  signedAtMs: number;
}

const DAY_MS = 86_400_000;

export function buildManifest(params: {
  recording: RecordingRow;
  tracks: readonly TrackRow[];
  segments: readonly SegmentRow[];
  sealedAtMs: number;
  keyRoot: { kind: string; keyId: string };
  suite: string;
  frameLengthBytes: number;
  bucket: string;
}): RecordingManifest {
  const { recording, tracks, segments } = params;
  return {
    format: MANIFEST_FORMAT,
    recordingId: recording.recordingId,
    roomId: recording.roomId,
    recorder: { id: recording.recorderId },
    policy: { policyId: recording.policyId, policyVersion: recording.policyVersion, purpose: recording.purpose, retentionDays: recording.retentionDays, part2: recording.part2 },
    // The retention clock runs from the end of the recording.
    retentionUntilMs: recording.endedAtMs + recording.retentionDays * DAY_MS,
    consentRefs: [...recording.consentRefs],
    startedAtMs: recording.startedAtMs,
    endedAtMs: recording.endedAtMs,
    ...(recording.endReason ? { endReason: recording.endReason } : {}),
    sealedAtMs: params.sealedAtMs,
    encryption: { format: 'aws-encryption-sdk', suite: params.suite, frameLengthBytes: params.frameLengthBytes, keyRoot: { ...params.keyRoot } },
    storage: { bucket: params.bucket },
    tracks: tracks.map((track) => {
      const own = segments.filter((s) => s.trackId === track.trackId).sort((a, b) => a.segmentNo - b.segmentNo);
      return {
        trackId: track.trackId,
        participantId: track.participantId,
        kind: track.kind,
        codec: track.codec,
        startedAtMs: track.startedAtMs,
        endedAtMs: track.endedAtMs,
        framesReceived: track.framesReceived,
        framesWritten: track.framesWritten,
        decryptFailures: track.decryptFailures,
        gaps: track.gaps.map((g) => ({ atMs: g.atMs, durationMs: g.durationMs })),
        keyRef: own[0]?.keyRef ?? null,
        segments: own.map((s) => ({
          segmentNo: s.segmentNo,
          startedAtMs: s.startedAtMs,
          endedAtMs: s.endedAtMs,
          durationMs: s.durationMs,
          framesReceived: s.framesReceived,
          framesWritten: s.framesWritten,
          gaps: s.gaps.map((g) => ({ atMs: g.atMs, durationMs: g.durationMs })),
          ...(s.writerError ? { writerError: s.writerError } : {}),
          plaintext: { sha256: s.plaintextSha256!, bytes: s.plaintextBytes! },
          ciphertext: { sha256: s.ciphertextSha256!, bytes: s.ciphertextBytes! },
          object: { key: s.objectKey!, ...(s.objectVersionId ? { versionId: s.objectVersionId } : {}), sse: s.sse ?? 'none' },
        })),
      };
    }),
  };
}

export function serializeManifest(manifest: RecordingManifest): string {
  return canonicalJson(manifest);
}

/** The bytes that are signed: a short canonical statement binding the recording id to the manifest hash. */
export function signingStatement(recordingId: string, manifestSha256: string): Buffer {
  return Buffer.from(canonicalJson({ format: STATEMENT_FORMAT, recordingId, manifestSha256 }), 'utf8');
}

export async function signManifest(signer: ManifestSigner, recordingId: string, manifestText: string, signedAtMs: number): Promise<ManifestSignature> {
  const manifestSha256 = sha256Hex(manifestText);
  const signature = await signer.sign(signingStatement(recordingId, manifestSha256));
  return {
    format: SIGNATURE_FORMAT,
    algorithm: await signer.algorithm(),
    keyId: await signer.keyId(),
    publicKeySpki: (await signer.publicKeySpki()).toString('base64'),
    manifestSha256,
    signature: signature.toString('base64'),
    signedAtMs,
  };
}

export interface ManifestCheck {
  /** Canonical, hash matches, signature verifies with the key in the block. */
  valid: boolean;
  /** The signing key is one the verifier trusts (undefined when no trusted keys were given). */
  trusted: boolean | undefined;
  problems: string[];
  manifest: RecordingManifest | undefined;
  keyId: string | undefined;
}

/**
 * Checks a stored manifest and its signature block: the text must be the canonical form of what it says,
 * hash to the signed digest, and carry a valid signature; `trustedSpki` (DER SPKI keys) decides trust.
 */
export function verifyManifest(manifestText: string, signatureBlock: unknown, trustedSpki?: readonly Buffer[]): ManifestCheck {
  const problems: string[] = [];
  let manifest: RecordingManifest | undefined;
  try {
    manifest = JSON.parse(manifestText) as RecordingManifest;
    if (canonicalJson(manifest) !== manifestText) problems.push('manifest text is not in canonical form (altered after signing?)');
    if (manifest.format !== MANIFEST_FORMAT) problems.push(`manifest format is ${String(manifest.format)}, expected ${MANIFEST_FORMAT}`);
  } catch (error) {
    problems.push(`manifest is not valid canonical JSON: ${(error as Error).message}`);
  }
  const block = signatureBlock as Partial<ManifestSignature> | null;
  if (!block || block.format !== SIGNATURE_FORMAT || typeof block.signature !== 'string' || typeof block.publicKeySpki !== 'string' || typeof block.manifestSha256 !== 'string') {
    problems.push('signature block is missing or malformed');
    return { valid: false, trusted: undefined, problems, manifest, keyId: undefined };
  }
  const digest = sha256Hex(manifestText);
  if (digest !== block.manifestSha256) problems.push(`manifest SHA-256 ${digest} differs from the signed ${block.manifestSha256}`);
  const spki = Buffer.from(block.publicKeySpki, 'base64');
  const recordingId = manifest?.recordingId ?? '';
  if (!verifySignature(String(block.algorithm), spki, signingStatement(recordingId, block.manifestSha256), Buffer.from(block.signature, 'base64'))) {
    problems.push(`signature does not verify (${String(block.algorithm)}, key ${String(block.keyId)})`);
  }
  const trusted = trustedSpki === undefined ? undefined : trustedSpki.some((k) => k.equals(spki));
  return { valid: problems.length === 0, trusted, problems, manifest, keyId: block.keyId };
}
