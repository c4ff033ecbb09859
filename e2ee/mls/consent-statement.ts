import { concatBytes, utf8Decode, utf8Encode } from './bytes.js';
import { mlsCipherSuite } from './ciphersuite.js';
import { vector } from './tls.js';

/**
 * A participant's consent statement (ARCHITECTURE.md flow 3): a grant or a revocation for one recording
 * policy version, signed with the participant's MLS signature key — the key of its leaf in the group —
 * so the key service can check it against the member it tracks, and anyone can later check the ledger
 * entry against the public key stored beside it.
 *
 * Canonical encoding, version 1 (decoding refuses anything not exactly canonical):
 *
 *     uint8  format = 1
 *     uint8  room_length; opaque room               [A-Za-z0-9._:-], 1..128
 *     uint8  group_id_length; opaque group_id       the MLS group (RFC 9420 §8.1), 1..64
 *     uint8  member_id_length; opaque member_id     the signer's credential id (pseudonymous), 1..128
 *     uint32 policy_version                          1..2^31-1
 *     uint8  purpose_length; opaque purpose          the policy's purpose code, [a-z-], 1..32
 *     opaque statement_hash[32]                      SHA-256 of the UTF-8 consent statement text shown
 *     uint8  decision                                1 = grant, 2 = revoke
 *     uint64 issued_at_ms                            the signer's clock, ms since the Unix epoch (UTC)
 *     opaque nonce[16]                               random: two statements never have the same bytes
 *
 * Signature: SignWithLabel (RFC 9420 §5.1.2) construction with a label outside the "MLS 1.0 " namespace:
 *     SignContent = opaque label<V> = "Chaperone 1.0 ConsentStatementTBS" ‖ opaque content<V> = statement
 * so a consent signature can never be taken for an MLS signature of the same key, or the reverse.
 */

export type ConsentDecision = 'grant' | 'revoke';

export interface ConsentStatement {
  room: string;
  groupId: Uint8Array;
  memberId: string;
  policyVersion: number;
  purpose: string;
  statementHash: Uint8Array;
  decision: ConsentDecision;
  issuedAtMs: number;
  nonce: Uint8Array;
}

export class ConsentStatementError extends Error {
  override readonly name = 'ConsentStatementError';
  readonly code = 'malformed-statement' as const;
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

export const CONSENT_STATEMENT_LABEL = 'Chaperone 1.0 ConsentStatementTBS';
const FORMAT_V1 = 1;
const ROOM = /^[A-Za-z0-9._:-]{1,128}$/;
const MEMBER_ID = /^[\x21-\x7e]{1,128}$/;
const PURPOSE = /^[a-z][a-z-]{0,31}$/;
const DECISION_CODE: Record<ConsentDecision, number> = { grant: 1, revoke: 2 };
export const CONSENT_NONCE_BYTES = 16;
export const MAX_CONSENT_STATEMENT_BYTES = 1 + 129 + 65 + 129 + 4 + 33 + 32 + 1 + 8 + CONSENT_NONCE_BYTES;

function check(statement: ConsentStatement): void {
  if (typeof statement !== 'object' || statement === null) throw new ConsentStatementError('statement', 'must be an object');
  if (typeof statement.room !== 'string' || !ROOM.test(statement.room)) throw new ConsentStatementError('room', 'must be a room id');
  if (!(statement.groupId instanceof Uint8Array) || statement.groupId.length < 1 || statement.groupId.length > 64) {
    throw new ConsentStatementError('groupId', 'must be 1..64 bytes');
  }
  if (typeof statement.memberId !== 'string' || !MEMBER_ID.test(statement.memberId)) throw new ConsentStatementError('memberId', 'must be a pseudonymous id');
  if (!Number.isInteger(statement.policyVersion) || statement.policyVersion < 1 || statement.policyVersion > 0x7fffffff) {
    throw new ConsentStatementError('policyVersion', 'must be a positive 31-bit integer');
  }
  if (typeof statement.purpose !== 'string' || !PURPOSE.test(statement.purpose)) throw new ConsentStatementError('purpose', 'must be a purpose code');
  if (!(statement.statementHash instanceof Uint8Array) || statement.statementHash.length !== 32) {
    throw new ConsentStatementError('statementHash', 'must be a 32-byte SHA-256');
  }
  if (!Object.hasOwn(DECISION_CODE, statement.decision)) throw new ConsentStatementError('decision', 'must be grant or revoke');
  if (!Number.isSafeInteger(statement.issuedAtMs) || statement.issuedAtMs < 0) throw new ConsentStatementError('issuedAtMs', 'must be ms since the epoch');
  if (!(statement.nonce instanceof Uint8Array) || statement.nonce.length !== CONSENT_NONCE_BYTES) {
    throw new ConsentStatementError('nonce', `must be ${CONSENT_NONCE_BYTES} bytes`);
  }
}

function short(bytes: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(bytes.length), bytes);
}

export function encodeConsentStatement(statement: ConsentStatement): Uint8Array {
  check(statement);
  const version = new Uint8Array(4);
  new DataView(version.buffer).setUint32(0, statement.policyVersion);
  const issued = new Uint8Array(8);
  new DataView(issued.buffer).setBigUint64(0, BigInt(statement.issuedAtMs));
  return concatBytes(
    Uint8Array.of(FORMAT_V1),
    short(utf8Encode(statement.room)),
    short(statement.groupId),
    short(utf8Encode(statement.memberId)),
    version,
    short(utf8Encode(statement.purpose)),
    statement.statementHash,
    Uint8Array.of(DECISION_CODE[statement.decision]),
    issued,
    statement.nonce,
  );
}

export function decodeConsentStatement(bytes: Uint8Array): ConsentStatement {
  if (!(bytes instanceof Uint8Array) || bytes.length < 2 || bytes.length > MAX_CONSENT_STATEMENT_BYTES) {
    throw new ConsentStatementError('statement', 'has the wrong length');
  }
  if (bytes[0] !== FORMAT_V1) throw new ConsentStatementError('statement', 'unknown format');
  let offset = 1;
  const take = (length: number, field: string): Uint8Array => {
    if (offset + length > bytes.length) throw new ConsentStatementError(field, 'is truncated');
    const out = bytes.slice(offset, offset + length);
    offset += length;
    return out;
  };
  const shortField = (field: string): Uint8Array => take(take(1, field)[0]!, field);
  const text = (field: string): string => {
    const value = utf8Decode(shortField(field));
    if (value === undefined) throw new ConsentStatementError(field, 'is not UTF-8');
    return value;
  };
  const room = text('room');
  const groupId = shortField('groupId');
  const memberId = text('memberId');
  const policyVersion = new DataView(take(4, 'policyVersion').buffer).getUint32(0);
  const purpose = text('purpose');
  const statementHash = take(32, 'statementHash');
  const decisionCode = take(1, 'decision')[0];
  const decision = decisionCode === 1 ? 'grant' : decisionCode === 2 ? 'revoke' : undefined;
  if (decision === undefined) throw new ConsentStatementError('decision', 'must be grant or revoke');
  const issued = new DataView(take(8, 'issuedAtMs').buffer).getBigUint64(0);
  if (issued > BigInt(Number.MAX_SAFE_INTEGER)) throw new ConsentStatementError('issuedAtMs', 'is out of range');
  const nonce = take(CONSENT_NONCE_BYTES, 'nonce');
  if (offset !== bytes.length) throw new ConsentStatementError('statement', 'has trailing bytes');
  const statement: ConsentStatement = { room, groupId, memberId, policyVersion, purpose, statementHash, decision, issuedAtMs: Number(issued), nonce };
  check(statement);
  return statement;
}

/** The bytes a member signs (and the key service verifies) for an encoded statement. */
export function consentSignContent(statementBytes: Uint8Array): Uint8Array {
  return concatBytes(vector(utf8Encode(CONSENT_STATEMENT_LABEL)), vector(statementBytes));
}

/** Checks a statement's signature against a leaf signature public key (Ed25519, ciphersuite 0x0001). */
export async function verifyConsentSignature(statementBytes: Uint8Array, signature: Uint8Array, signaturePublicKey: Uint8Array): Promise<boolean> {
  if (!(signature instanceof Uint8Array) || signature.length !== 64 || !(signaturePublicKey instanceof Uint8Array) || signaturePublicKey.length !== 32) {
    return false;
  }
  const cs = await mlsCipherSuite();
  try {
    return await cs.signature.verify(signaturePublicKey, consentSignContent(statementBytes), signature);
  } catch {
    return false;
  }
}

/** SHA-256 of the consent statement text exactly as shown (UTF-8). */
export async function hashConsentText(text: string): Promise<Uint8Array> {
  const cs = await mlsCipherSuite();
  return cs.hash.digest(utf8Encode(text));
}

/** A fresh random nonce for a statement. */
export function newConsentNonce(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(CONSENT_NONCE_BYTES));
}
