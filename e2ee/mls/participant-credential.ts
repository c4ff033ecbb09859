import type { Credential } from 'ts-mls';
import { defaultCredentialTypes } from 'ts-mls';
import { concatBytes, utf8Decode, utf8Encode } from './bytes.js';

/**
 * Who a leaf is: the identity inside every member's MLS basic credential (RFC 9420 §5.3), and inside the
 * key service's own credential in `external_senders`.
 *
 * Canonical encoding, version 1 (exactly one byte string per identity; decoding refuses anything else):
 *
 *     uint8  format = 1
 *     uint8  kind          1 = participant, 2 = recorder, 16 = key-service
 *     uint8  id_length     1..128
 *     opaque id[id_length]          ASCII 0x21..0x7e (the token's pseudonymous subject)
 *     uint16 name_length   1..256   (big-endian)
 *     opaque name[name_length]      UTF-8, NFC, no control or bidi-override characters, not padded
 *
 * Version 2 — a recorder credential issued by the key service (issue 4; ARCHITECTURE.md flow 5). RFC 9420
 * §5.3 leaves the binding of identity to signature key to the application ("the AS"); for a recorder
 * this project's AS is the key service, and members check its statement themselves:
 *
 *     uint8  format = 2
 *     uint8  kind = 2               recorder (nothing else is issued)
 *     uint8  id_length; opaque id   as in version 1 (the recorder service's token subject)
 *     uint16 name_length; opaque name
 *     uint8  room_length; opaque room          1..128 of [A-Za-z0-9._:-]: the room it was issued for
 *     uint8  group_id_length; opaque group_id  1..64: the MLS group it may join (RFC 9420 §8.1 group_id)
 *     uint16 purpose_length; opaque purpose    1..256 UTF-8, same rules as name: shown in every roster
 *     uint64 not_after                          seconds since the Unix epoch (UTC)
 *     uint8  signature_length; opaque signature the key service's signature (recorder-credential.ts)
 *
 * The signature covers every field before it AND the leaf's signature public key, so the credential
 * cannot be moved to another key, room or group, or used after `not_after`. A version-1 identity of
 * kind recorder still decodes (that is how a self-made one is recognised) but no validator accepts it.
 */

export type MemberKind = 'participant' | 'recorder';

export interface ParticipantIdentity {
  /** Pseudonymous subject id from the platform token (never a real name). */
  id: string;
  kind: MemberKind;
  /** Display name shown in every member's roster. */
  name: string;
  /** Present exactly on a key-service-issued recorder credential (format 2). */
  issuance?: RecorderIssuance;
}

/** What the key service states about a recorder (format 2); see the file comment. */
export interface RecorderIssuance {
  room: string;
  groupId: Uint8Array;
  purpose: string;
  /** Seconds since the Unix epoch after which members refuse the credential. */
  notAfter: number;
  /** The key service's signature over the fields and the leaf signature key (recorder-credential.ts). */
  signature: Uint8Array;
}

/** A recorder identity as issued, with its issuance. */
export type IssuedRecorderIdentity = ParticipantIdentity & { kind: 'recorder'; issuance: RecorderIssuance };

/** The key service's identity, carried in the group's external_senders extension. */
export interface KeyServiceIdentity {
  id: string;
  kind: 'key-service';
  name: string;
}

export type ChaperoneIdentity = ParticipantIdentity | KeyServiceIdentity;

export class CredentialError extends Error {
  override readonly name = 'CredentialError';
  readonly code = 'invalid-credential' as const;
}

const FORMAT_V1 = 1;
const FORMAT_ISSUED_RECORDER = 2;
const KIND_CODE: Record<ChaperoneIdentity['kind'], number> = { participant: 1, recorder: 2, 'key-service': 16 };
const CODE_KIND = new Map<number, ChaperoneIdentity['kind']>(
  Object.entries(KIND_CODE).map(([kind, code]) => [code, kind as ChaperoneIdentity['kind']]),
);
export const MAX_ID_BYTES = 128;
export const MAX_NAME_BYTES = 256;
export const MAX_GROUP_ID_BYTES = 64;
const ROOM_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
const ID_PATTERN = /^[\x21-\x7e]+$/;
// C0/C1 controls, and formatting characters that can reorder or hide text in a roster (bidi controls,
// zero-width characters, BOM).
const FORBIDDEN_NAME_CHARS = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/u;

/** Checks an identity against the rules above; returns the reason it is not acceptable, if any. */
export function identityProblem(identity: ChaperoneIdentity): string | undefined {
  if (typeof identity !== 'object' || identity === null) return 'identity must be an object';
  if (!(identity.kind in KIND_CODE)) return 'kind must be participant, recorder or key-service';
  if (typeof identity.id !== 'string' || identity.id.length < 1 || identity.id.length > MAX_ID_BYTES || !ID_PATTERN.test(identity.id)) {
    return `id must be 1..${MAX_ID_BYTES} printable ASCII characters without spaces`;
  }
  const nameProblem = displayTextProblem(identity.name, 'name');
  if (nameProblem !== undefined) return nameProblem;
  if ('issuance' in identity && identity.issuance !== undefined) {
    if (identity.kind !== 'recorder') return 'only a recorder identity carries an issuance';
    return issuanceProblem(identity.issuance);
  }
  return undefined;
}

function displayTextProblem(text: unknown, field: string): string | undefined {
  if (typeof text !== 'string') return `${field} must be a string`;
  let bytes: Uint8Array;
  try {
    bytes = utf8Encode(text);
  } catch {
    return `${field} must be well-formed Unicode`;
  }
  if (bytes.length < 1 || bytes.length > MAX_NAME_BYTES) return `${field} must be 1..${MAX_NAME_BYTES} UTF-8 bytes`;
  if (text !== text.normalize('NFC')) return `${field} must be in Unicode NFC`;
  if (text.trim() !== text) return `${field} must not start or end with whitespace`;
  if (FORBIDDEN_NAME_CHARS.test(text)) return `${field} must not contain control or bidi-formatting characters`;
  return undefined;
}

function issuanceProblem(issuance: RecorderIssuance): string | undefined {
  if (typeof issuance !== 'object' || issuance === null) return 'issuance must be an object';
  if (typeof issuance.room !== 'string' || !ROOM_PATTERN.test(issuance.room)) return 'issuance.room must be a room id';
  if (!(issuance.groupId instanceof Uint8Array) || issuance.groupId.length < 1 || issuance.groupId.length > MAX_GROUP_ID_BYTES) {
    return `issuance.groupId must be 1..${MAX_GROUP_ID_BYTES} bytes`;
  }
  const purposeProblem = displayTextProblem(issuance.purpose, 'issuance.purpose');
  if (purposeProblem !== undefined) return purposeProblem;
  if (!Number.isSafeInteger(issuance.notAfter) || issuance.notAfter < 0) return 'issuance.notAfter must be seconds since the epoch';
  if (!(issuance.signature instanceof Uint8Array) || issuance.signature.length < 1 || issuance.signature.length > 255) {
    return 'issuance.signature must be 1..255 bytes';
  }
  return undefined;
}

/** The canonical bytes of an identity. Throws CredentialError if the identity breaks the rules. */
export function encodeIdentity(identity: ChaperoneIdentity): Uint8Array {
  const problem = identityProblem(identity);
  if (problem !== undefined) throw new CredentialError(problem);
  if ('issuance' in identity && identity.issuance !== undefined) {
    const signature = identity.issuance.signature;
    return concatBytes(issuedRecorderTbsFields(identity as IssuedRecorderIdentity), Uint8Array.of(signature.length), signature);
  }
  return concatBytes(Uint8Array.of(FORMAT_V1, KIND_CODE[identity.kind]), shortText(identity.id), longText(identity.name));
}

/**
 * The format-2 bytes up to (not including) the signature: the fields the key service signs, before the
 * leaf key is appended (recorder-credential.ts).
 */
export function issuedRecorderTbsFields(identity: IssuedRecorderIdentity): Uint8Array {
  const { issuance } = identity;
  const notAfter = new Uint8Array(8);
  let value = BigInt(issuance.notAfter);
  for (let i = 7; i >= 0; i--) {
    notAfter[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return concatBytes(
    Uint8Array.of(FORMAT_ISSUED_RECORDER, KIND_CODE.recorder),
    shortText(identity.id),
    longText(identity.name),
    shortText(issuance.room),
    Uint8Array.of(issuance.groupId.length),
    issuance.groupId,
    longText(issuance.purpose),
    notAfter,
  );
}

function shortText(text: string): Uint8Array {
  const bytes = utf8Encode(text);
  return concatBytes(Uint8Array.of(bytes.length), bytes);
}

function longText(text: string): Uint8Array {
  const bytes = utf8Encode(text);
  return concatBytes(Uint8Array.of(bytes.length >> 8, bytes.length & 0xff), bytes);
}

/** Parses canonical identity bytes. Throws CredentialError for anything that is not exactly canonical. */
export function decodeIdentity(bytes: Uint8Array): ChaperoneIdentity {
  if (!(bytes instanceof Uint8Array) || bytes.length < 3) throw new CredentialError('identity is truncated');
  const format = bytes[0];
  if (format !== FORMAT_V1 && format !== FORMAT_ISSUED_RECORDER) throw new CredentialError('unknown identity format');
  const kind = CODE_KIND.get(bytes[1]!);
  if (kind === undefined) throw new CredentialError('unknown identity kind');
  if (format === FORMAT_ISSUED_RECORDER && kind !== 'recorder') throw new CredentialError('only recorders are issued credentials');
  const reader = new Reader(bytes, 2);
  const id = reader.text(1);
  const name = reader.text(2);
  let identity: ChaperoneIdentity;
  if (format === FORMAT_V1) {
    identity = { id, kind, name } as ChaperoneIdentity;
  } else {
    const room = reader.text(1);
    const groupId = reader.bytes(1);
    const purpose = reader.text(2);
    const notAfterBig = reader.uint64();
    const signature = reader.bytes(1);
    if (notAfterBig > BigInt(Number.MAX_SAFE_INTEGER)) throw new CredentialError('issuance.notAfter is out of range');
    identity = { id, kind: 'recorder', name, issuance: { room, groupId, purpose, notAfter: Number(notAfterBig), signature } };
  }
  if (!reader.done) throw new CredentialError('identity length does not match its contents');
  const problem = identityProblem(identity);
  if (problem !== undefined) throw new CredentialError(problem);
  return identity;
}

class Reader {
  constructor(
    private readonly source: Uint8Array,
    private offset: number,
  ) {}

  get done(): boolean {
    return this.offset === this.source.length;
  }

  bytes(prefixBytes: 1 | 2): Uint8Array {
    if (this.offset + prefixBytes > this.source.length) throw new CredentialError('identity is truncated');
    const length = prefixBytes === 1 ? this.source[this.offset]! : (this.source[this.offset]! << 8) | this.source[this.offset + 1]!;
    const start = this.offset + prefixBytes;
    if (start + length > this.source.length) throw new CredentialError('identity length does not match its contents');
    this.offset = start + length;
    return this.source.slice(start, start + length);
  }

  text(prefixBytes: 1 | 2): string {
    const text = utf8Decode(this.bytes(prefixBytes));
    if (text === undefined) throw new CredentialError('identity is not valid UTF-8');
    return text;
  }

  uint64(): bigint {
    if (this.offset + 8 > this.source.length) throw new CredentialError('identity is truncated');
    let value = 0n;
    for (let i = 0; i < 8; i++) value = (value << 8n) | BigInt(this.source[this.offset + i]!);
    this.offset += 8;
    return value;
  }
}

export function isParticipantIdentity(identity: ChaperoneIdentity): identity is ParticipantIdentity {
  return identity.kind === 'participant' || identity.kind === 'recorder';
}

/** The MLS basic credential (RFC 9420 §5.3) carrying a member's identity. */
export function participantCredential(identity: ParticipantIdentity): Credential {
  if (!isParticipantIdentity(identity)) throw new CredentialError('kind must be participant or recorder');
  return { credentialType: defaultCredentialTypes.basic, identity: encodeIdentity(identity) };
}

/** The MLS basic credential of the key service (its entry in external_senders). */
export function keyServiceCredential(identity: KeyServiceIdentity): Credential {
  if (identity.kind !== 'key-service') throw new CredentialError('kind must be key-service');
  return { credentialType: defaultCredentialTypes.basic, identity: encodeIdentity(identity) };
}

/** The identity inside an MLS credential. Throws CredentialError for non-basic or malformed credentials. */
export function identityFromCredential(credential: Credential): ChaperoneIdentity {
  if (credential.credentialType !== defaultCredentialTypes.basic || !('identity' in credential)) {
    throw new CredentialError('only basic credentials are accepted');
  }
  return decodeIdentity(credential.identity);
}

/** Whether an identity is a key-service-issued recorder credential (format 2). */
export function isIssuedRecorder(identity: ChaperoneIdentity): identity is IssuedRecorderIdentity {
  return identity.kind === 'recorder' && 'issuance' in identity && identity.issuance !== undefined;
}
