import type { Credential } from 'ts-mls';
import { defaultCredentialTypes } from 'ts-mls';
import { utf8Decode, utf8Encode } from './bytes.js';

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
 * Room to grow (issue 4: key-service-issued recorder credentials): a new `format` value, or a credential
 * type other than basic, is decoded by a new branch here and validated by the CredentialValidator; the
 * version-1 form keeps meaning what it means.
 */

export type MemberKind = 'participant' | 'recorder';

export interface ParticipantIdentity {
  /** Pseudonymous subject id from the platform token (never a real name). */
  id: string;
  kind: MemberKind;
  /** Display name shown in every member's roster. */
  name: string;
}

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
const KIND_CODE: Record<ChaperoneIdentity['kind'], number> = { participant: 1, recorder: 2, 'key-service': 16 };
const CODE_KIND = new Map<number, ChaperoneIdentity['kind']>(
  Object.entries(KIND_CODE).map(([kind, code]) => [code, kind as ChaperoneIdentity['kind']]),
);
export const MAX_ID_BYTES = 128;
export const MAX_NAME_BYTES = 256;
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
  if (typeof identity.name !== 'string') return 'name must be a string';
  let nameBytes: Uint8Array;
  try {
    nameBytes = utf8Encode(identity.name);
  } catch {
    return 'name must be well-formed Unicode';
  }
  if (nameBytes.length < 1 || nameBytes.length > MAX_NAME_BYTES) return `name must be 1..${MAX_NAME_BYTES} UTF-8 bytes`;
  if (identity.name !== identity.name.normalize('NFC')) return 'name must be in Unicode NFC';
  if (identity.name.trim() !== identity.name) return 'name must not start or end with whitespace';
  if (FORBIDDEN_NAME_CHARS.test(identity.name)) return 'name must not contain control or bidi-formatting characters';
  return undefined;
}

/** The canonical bytes of an identity. Throws CredentialError if the identity breaks the rules. */
export function encodeIdentity(identity: ChaperoneIdentity): Uint8Array {
  const problem = identityProblem(identity);
  if (problem !== undefined) throw new CredentialError(problem);
  const id = utf8Encode(identity.id);
  const name = utf8Encode(identity.name);
  const out = new Uint8Array(3 + id.length + 2 + name.length);
  out[0] = FORMAT_V1;
  out[1] = KIND_CODE[identity.kind];
  out[2] = id.length;
  out.set(id, 3);
  out[3 + id.length] = name.length >> 8;
  out[4 + id.length] = name.length & 0xff;
  out.set(name, 5 + id.length);
  return out;
}

/** Parses canonical identity bytes. Throws CredentialError for anything that is not exactly canonical. */
export function decodeIdentity(bytes: Uint8Array): ChaperoneIdentity {
  if (!(bytes instanceof Uint8Array) || bytes.length < 3) throw new CredentialError('identity is truncated');
  if (bytes[0] !== FORMAT_V1) throw new CredentialError('unknown identity format');
  const kind = CODE_KIND.get(bytes[1]!);
  if (kind === undefined) throw new CredentialError('unknown identity kind');
  const idLength = bytes[2]!;
  const nameAt = 3 + idLength;
  if (bytes.length < nameAt + 2) throw new CredentialError('identity is truncated');
  const nameLength = (bytes[nameAt]! << 8) | bytes[nameAt + 1]!;
  if (bytes.length !== nameAt + 2 + nameLength) throw new CredentialError('identity length does not match its contents');
  const id = utf8Decode(bytes.subarray(3, nameAt));
  const name = utf8Decode(bytes.subarray(nameAt + 2));
  if (id === undefined || name === undefined) throw new CredentialError('identity is not valid UTF-8');
  const identity = { id, kind, name } as ChaperoneIdentity;
  const problem = identityProblem(identity);
  if (problem !== undefined) throw new CredentialError(problem);
  return identity;
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
