import { base64Decode, base64Encode } from './bytes.js';
import type { ExternalSenderInfo } from './external-sender.js';
import { decodeIdentity, encodeIdentity } from './participant-credential.js';

/**
 * The one protocol between a call member and the MLS delivery service (the key service): JSON text
 * frames over a WebSocket, one message per frame, each an object with a `type`. Binary MLS messages
 * travel as standard base64 (RFC 4648 §4), epochs as decimal strings (they are uint64, RFC 9420 §8).
 *
 * Authentication is the first message (`hello` with the platform token); tokens never go in URLs.
 * In memory the messages carry decoded values (Uint8Array, bigint); `encode*` / `decode*` convert, and
 * the decoders validate strictly: unknown types, unknown or missing fields, bad base64, bad epochs and
 * oversized fields are refused with a typed ProtocolError naming the field.
 *
 * Flow (ARCHITECTURE.md, flow 2; modelled on Discord DAVE's voice gateway):
 *   client → hello{token}                      server → hello-ok{externalSender}
 *   client → key-package{keyPackage}           server → create-group{groupId, externalSender}   (first joiner)
 *                                                     or awaiting-welcome                        (later joiners)
 *   creator → group-created{groupId}
 *   server → proposal{epoch, message}          (the key service's signed external Add/Remove, to members)
 *   server → commit-request{epoch}             (one member is asked to commit the pending proposals)
 *   member → commit{epoch, commit, welcome?}   server → commit-accepted{epoch} | commit-rejected{epoch, reason}
 *   member → commit{epoch + 1, …, chained}     (the healing commit after a path-less Remove, sent at once:
 *                                               accepted only if the commit it builds on was)
 *   server → commit{epoch, message}            (the winning commit, to every other member)
 *   server → welcome{welcome}                  (to each joiner the commit added)
 *   client → leave                             (or just disconnect: the service proposes the Remove)
 *   server → error{code, message, fatal}       (fatal: the service closes the connection after it)
 *
 * `commit-request.proposals` lists the ProposalRefs the commit may cover: the service withdraws a
 * proposal by leaving it out (a recorder's Add after a revocation) and orders a recorder's Remove before
 * any Add (ARCHITECTURE.md flow 7).
 *
 * Recording consent (flow 3), on the same connection once the member is in the group:
 *   server → recording-policy{policy}          (on joining, and whenever the operator changes it)
 *   client → consent{statement, signature}     (consent-statement.ts, signed with the leaf key)
 *   server → consent-recorded{policyVersion, decision} | consent-refused{reason}
 *   server → consent-status{policyVersion, granted, required}   (counts only: who has not is not said)
 *
 * Refusals a member makes on its own (a proposal not signed by the key service, a credential the key
 * service did not issue, a commit breaking the profile) are reported so the service can audit them:
 *   client → refusal{what, code}               (codes only: never the refused bytes)
 */

export const DELIVERY_PROTOCOL_VERSION = 1;
/** Largest frame either side accepts. */
export const MAX_FRAME_CHARS = 1024 * 1024;
export const MAX_TOKEN_CHARS = 8192;

export type ClientMessage =
  | { type: 'hello'; token: string }
  | { type: 'consent'; statement: Uint8Array; signature: Uint8Array }
  | { type: 'refusal'; what: RefusedWhat; code: string }
  | { type: 'key-package'; keyPackage: Uint8Array }
  | { type: 'group-created'; groupId: Uint8Array }
  /** `chained`: made on top of this member's own commit for epoch − 1, sent before that one was accepted. */
  | { type: 'commit'; epoch: bigint; commit: Uint8Array; welcome?: Uint8Array; chained?: true }
  | { type: 'leave' };

export type CommitRejectReason =
  /** The epoch already has its commit (or the commit is for a future epoch). */
  | 'stale-epoch'
  /** The sender is not a member of the group, or not the leaf the commit claims. */
  | 'not-a-member'
  /** The bytes are not a PublicMessage commit of this group. */
  | 'malformed-commit'
  /** The commit references a proposal the key service did not make in this epoch. */
  | 'unknown-proposal'
  /** The commit carries proposals by value; only the key service proposes in this profile. */
  | 'inline-proposal'
  /** The commit needs an UpdatePath (healing after a path-less removal, or admitting after one). */
  | 'path-required'
  /** The commit covers the committer's own removal (RFC 9420 §12.2). */
  | 'self-removal'
  /** The Welcome is missing, unexpected, or not encrypted to exactly the joiners the commit adds. */
  | 'welcome-mismatch'
  /** The commit's UpdatePath changes the committer's credential or signature key. */
  | 'leaf-changed'
  /** A chained commit whose predecessor (the same member's commit for the epoch before) was not accepted. */
  | 'broken-chain';

/** What a member refused on its own, reported for the audit log. */
export type RefusedWhat = 'proposal' | 'commit' | 'welcome';

/** What every member is shown about recording in its room (the key service's current policy). */
export interface RecordingPolicyNotice {
  room: string;
  /** Policy version; consent statements name it. */
  version: number;
  enabled: boolean;
  /** Purpose code: medical-record, supervision, quality-review, ai-scribe or custom. */
  purpose: string;
  /** How the purpose is shown (the operator's text for a custom purpose). */
  purposeLabel: string;
  /** The consent statement text participants agree to; its SHA-256 goes into their statement. */
  statement: string;
  consentMode: 'all-party' | 'one-party';
  /** 42 CFR Part 2 (substance-use care): opt-in per participant, narrower access later. */
  part2: boolean;
  retentionDays: number;
}

export type ConsentRefusalReason =
  /** The statement or signature does not decode. */
  | 'malformed-statement'
  /** The statement names another room or group than the member's. */
  | 'wrong-room'
  | 'wrong-group'
  /** The statement names another member than the one whose connection sent it. */
  | 'wrong-member'
  /** The sender is not (or no longer) a member of the group. */
  | 'not-a-member'
  /** The signature does not verify against the sender's leaf signature key. */
  | 'bad-signature'
  /** No recording policy, or a version, purpose or statement text other than the current one. */
  | 'no-policy'
  | 'stale-policy'
  | 'wrong-purpose'
  | 'wrong-statement'
  /** The exact statement was submitted before. */
  | 'replayed'
  /** The statement's time is too far from the service's clock, or not after the member's previous one. */
  | 'stale-time'
  /** The service could not record it (storage unavailable); nothing changed. */
  | 'unavailable';

export type DeliveryErrorCode =
  | 'malformed-message'
  | 'unknown-type'
  | 'not-authenticated'
  | 'unexpected-message'
  | 'invalid-token'
  | 'identity-mismatch'
  | 'kind-mismatch'
  | 'invalid-key-package'
  | 'duplicate-key'
  | 'refused-by-policy'
  | 'role-not-allowed'
  | 'hello-timeout'
  | 'internal-error'
  | 'service-closing';

export type ServerMessage =
  | { type: 'hello-ok'; externalSender: ExternalSenderInfo }
  | { type: 'create-group'; groupId: Uint8Array; externalSender: ExternalSenderInfo }
  | { type: 'awaiting-welcome' }
  | { type: 'proposal'; epoch: bigint; message: Uint8Array }
  | { type: 'commit-request'; epoch: bigint; proposals?: string[] }
  | { type: 'commit'; epoch: bigint; message: Uint8Array }
  | { type: 'welcome'; welcome: Uint8Array }
  | { type: 'commit-accepted'; epoch: bigint }
  | { type: 'commit-rejected'; epoch: bigint; reason: CommitRejectReason }
  | { type: 'error'; code: DeliveryErrorCode; message: string; fatal: boolean }
  | { type: 'recording-policy'; policy: RecordingPolicyNotice }
  | { type: 'consent-recorded'; policyVersion: number; decision: 'grant' | 'revoke' }
  | { type: 'consent-refused'; reason: ConsentRefusalReason }
  | { type: 'consent-status'; policyVersion: number; granted: number; required: number };

export type ProtocolErrorCode = 'too-large' | 'malformed-json' | 'unknown-type' | 'invalid-field';

export interface ProtocolError {
  code: ProtocolErrorCode;
  /** The offending field, when one is to blame. */
  field?: string;
  message: string;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: ProtocolError };

// ---- field kinds -------------------------------------------------------------------------------------

type FieldKind =
  | { kind: 'token' }
  | { kind: 'bytes'; maxBytes: number }
  | { kind: 'epoch' }
  | { kind: 'text'; maxChars: number }
  | { kind: 'boolean' }
  | { kind: 'true' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'uint'; max: number }
  | { kind: 'refs'; maxItems: number }
  | { kind: 'object'; fields: Record<string, FieldSpec> }
  | { kind: 'external-sender' };

interface FieldSpec {
  kind: FieldKind;
  optional?: boolean;
}

const MLS_BYTES: FieldKind = { kind: 'bytes', maxBytes: 512 * 1024 };
const GROUP_ID: FieldKind = { kind: 'bytes', maxBytes: 64 };
const EPOCH: FieldKind = { kind: 'epoch' };
const UINT64_MAX = (1n << 64n) - 1n;

const COMMIT_REJECT_REASONS: readonly CommitRejectReason[] = [
  'stale-epoch',
  'not-a-member',
  'malformed-commit',
  'unknown-proposal',
  'inline-proposal',
  'path-required',
  'self-removal',
  'welcome-mismatch',
  'leaf-changed',
  'broken-chain',
];
const CONSENT_REFUSAL_REASONS: readonly ConsentRefusalReason[] = [
  'malformed-statement',
  'wrong-room',
  'wrong-group',
  'wrong-member',
  'not-a-member',
  'bad-signature',
  'no-policy',
  'stale-policy',
  'wrong-purpose',
  'wrong-statement',
  'replayed',
  'stale-time',
  'unavailable',
];
const DECISIONS = ['grant', 'revoke'] as const;
/** MlsErrorCode values (errors.ts), the only codes a refusal report may carry. */
const MLS_ERROR_CODES: readonly string[] = [
  'bad-argument',
  'invalid-state',
  'malformed-message',
  'wrong-group',
  'stale-epoch',
  'future-epoch',
  'refused-proposal',
  'refused-commit',
  'bad-signature',
  'invalid-credential',
  'invalid-group',
  'mls-failure',
];
const POLICY_VERSION: FieldKind = { kind: 'uint', max: 0x7fffffff };
const POLICY_NOTICE: FieldKind = {
  kind: 'object',
  fields: {
    room: { kind: { kind: 'text', maxChars: 128 } },
    version: { kind: POLICY_VERSION },
    enabled: { kind: { kind: 'boolean' } },
    purpose: { kind: { kind: 'text', maxChars: 32 } },
    purposeLabel: { kind: { kind: 'text', maxChars: 256 } },
    statement: { kind: { kind: 'text', maxChars: 4096 } },
    consentMode: { kind: { kind: 'enum', values: ['all-party', 'one-party'] } },
    part2: { kind: { kind: 'boolean' } },
    retentionDays: { kind: { kind: 'uint', max: 36500 } },
  },
};
const DELIVERY_ERROR_CODES: readonly DeliveryErrorCode[] = [
  'malformed-message',
  'unknown-type',
  'not-authenticated',
  'unexpected-message',
  'invalid-token',
  'identity-mismatch',
  'kind-mismatch',
  'invalid-key-package',
  'duplicate-key',
  'refused-by-policy',
  'role-not-allowed',
  'hello-timeout',
  'internal-error',
  'service-closing',
];

const CLIENT_SCHEMA: Record<ClientMessage['type'], Record<string, FieldSpec>> = {
  hello: { token: { kind: { kind: 'token' } } },
  'key-package': { keyPackage: { kind: MLS_BYTES } },
  'group-created': { groupId: { kind: GROUP_ID } },
  commit: { epoch: { kind: EPOCH }, commit: { kind: MLS_BYTES }, welcome: { kind: MLS_BYTES, optional: true }, chained: { kind: { kind: 'true' }, optional: true } },
  leave: {},
  consent: { statement: { kind: { kind: 'bytes', maxBytes: 1024 } }, signature: { kind: { kind: 'bytes', maxBytes: 256 } } },
  refusal: { what: { kind: { kind: 'enum', values: ['proposal', 'commit', 'welcome'] } }, code: { kind: { kind: 'enum', values: MLS_ERROR_CODES } } },
};

const SERVER_SCHEMA: Record<ServerMessage['type'], Record<string, FieldSpec>> = {
  'hello-ok': { externalSender: { kind: { kind: 'external-sender' } } },
  'create-group': { groupId: { kind: GROUP_ID }, externalSender: { kind: { kind: 'external-sender' } } },
  'awaiting-welcome': {},
  proposal: { epoch: { kind: EPOCH }, message: { kind: MLS_BYTES } },
  'commit-request': { epoch: { kind: EPOCH }, proposals: { kind: { kind: 'refs', maxItems: 1024 }, optional: true } },
  commit: { epoch: { kind: EPOCH }, message: { kind: MLS_BYTES } },
  welcome: { welcome: { kind: MLS_BYTES } },
  'commit-accepted': { epoch: { kind: EPOCH } },
  'commit-rejected': { epoch: { kind: EPOCH }, reason: { kind: { kind: 'enum', values: COMMIT_REJECT_REASONS } } },
  error: {
    code: { kind: { kind: 'enum', values: DELIVERY_ERROR_CODES } },
    message: { kind: { kind: 'text', maxChars: 512 } },
    fatal: { kind: { kind: 'boolean' } },
  },
  'recording-policy': { policy: { kind: POLICY_NOTICE } },
  'consent-recorded': { policyVersion: { kind: POLICY_VERSION }, decision: { kind: { kind: 'enum', values: DECISIONS } } },
  'consent-refused': { reason: { kind: { kind: 'enum', values: CONSENT_REFUSAL_REASONS } } },
  'consent-status': { policyVersion: { kind: POLICY_VERSION }, granted: { kind: { kind: 'uint', max: 0xffff } }, required: { kind: { kind: 'uint', max: 0xffff } } },
};

// ---- decoding ----------------------------------------------------------------------------------------

export function decodeClientMessage(text: string): Decoded<ClientMessage> {
  return decodeWith(text, CLIENT_SCHEMA) as Decoded<ClientMessage>;
}

export function decodeServerMessage(text: string): Decoded<ServerMessage> {
  return decodeWith(text, SERVER_SCHEMA) as Decoded<ServerMessage>;
}

function fail(code: ProtocolErrorCode, message: string, field?: string): { ok: false; error: ProtocolError } {
  return { ok: false, error: field === undefined ? { code, message } : { code, field, message } };
}

function decodeWith(text: string, schema: Record<string, Record<string, FieldSpec>>): Decoded<unknown> {
  if (typeof text !== 'string') return fail('malformed-json', 'a message must be a text frame');
  if (text.length > MAX_FRAME_CHARS) return fail('too-large', `a message must be at most ${MAX_FRAME_CHARS} characters`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return fail('malformed-json', 'the message is not JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('malformed-json', 'the message must be a JSON object');
  const record = raw as Record<string, unknown>;
  const type = record.type;
  if (typeof type !== 'string' || !Object.hasOwn(schema, type)) return fail('unknown-type', 'unknown message type', 'type');
  const fields = schema[type]!;
  const parsed = decodeFields(record, fields, ['type']);
  if (!parsed.ok) return parsed;
  return { ok: true, value: { type, ...(parsed.value as Record<string, unknown>) } };
}

function decodeFields(record: Record<string, unknown>, fields: Record<string, FieldSpec>, ignore: readonly string[] = [], prefix = ''): Decoded<unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(record)) {
    if (!ignore.includes(key) && !Object.hasOwn(fields, key)) return fail('invalid-field', `unknown field "${prefix}${key}"`, `${prefix}${key}`);
  }
  for (const [name, spec] of Object.entries(fields)) {
    const value = record[name];
    if (value === undefined) {
      if (spec.optional) continue;
      return fail('invalid-field', `missing field "${prefix}${name}"`, `${prefix}${name}`);
    }
    if (spec.kind.kind === 'object') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('invalid-field', `field "${prefix}${name}": must be an object`, `${prefix}${name}`);
      const nested = decodeFields(value as Record<string, unknown>, spec.kind.fields, [], `${prefix}${name}.`);
      if (!nested.ok) return nested;
      out[name] = nested.value;
      continue;
    }
    const parsed = parseField(spec.kind, value);
    if (!parsed.ok) return fail('invalid-field', `field "${prefix}${name}": ${parsed.reason}`, `${prefix}${name}`);
    out[name] = parsed.value;
  }
  return { ok: true, value: out };
}

function parseField(kind: FieldKind, value: unknown): { ok: true; value: unknown } | { ok: false; reason: string } {
  switch (kind.kind) {
    case 'token':
      if (typeof value !== 'string' || value.length === 0 || value.length > MAX_TOKEN_CHARS) return { ok: false, reason: 'must be a non-empty string' };
      return { ok: true, value };
    case 'text':
      if (typeof value !== 'string' || value.length > kind.maxChars) return { ok: false, reason: `must be a string of at most ${kind.maxChars} characters` };
      return { ok: true, value };
    case 'boolean':
      if (typeof value !== 'boolean') return { ok: false, reason: 'must be a boolean' };
      return { ok: true, value };
    case 'true':
      if (value !== true) return { ok: false, reason: 'must be true when present' };
      return { ok: true, value };
    case 'enum':
      if (typeof value !== 'string' || !kind.values.includes(value)) return { ok: false, reason: 'is not a known value' };
      return { ok: true, value };
    case 'uint':
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > kind.max) return { ok: false, reason: `must be an integer 0..${kind.max}` };
      return { ok: true, value };
    case 'refs': {
      if (!Array.isArray(value) || value.length > kind.maxItems) return { ok: false, reason: `must be an array of at most ${kind.maxItems} refs` };
      for (const item of value) {
        const bytes = typeof item === 'string' ? base64Decode(item) : undefined;
        if (bytes === undefined || bytes.length !== 32) return { ok: false, reason: 'each ref must be base64 of 32 bytes' };
      }
      return { ok: true, value: [...(value as string[])] };
    }
    case 'object':
      return { ok: false, reason: 'objects are decoded by decodeFields' };
    case 'epoch': {
      if (typeof value !== 'string' || !/^(0|[1-9][0-9]{0,19})$/.test(value)) return { ok: false, reason: 'must be a decimal uint64 string' };
      const epoch = BigInt(value);
      if (epoch > UINT64_MAX) return { ok: false, reason: 'must be a decimal uint64 string' };
      return { ok: true, value: epoch };
    }
    case 'bytes': {
      if (typeof value !== 'string' || value.length > Math.ceil(kind.maxBytes / 3) * 4) return { ok: false, reason: 'must be base64 of bounded size' };
      const bytes = base64Decode(value);
      if (bytes === undefined || bytes.length === 0) return { ok: false, reason: 'must be non-empty, canonical, padded base64' };
      return { ok: true, value: bytes };
    }
    case 'external-sender': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'must be an object' };
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record).sort();
      if (keys.length !== 2 || keys[0] !== 'credential' || keys[1] !== 'signaturePublicKey') {
        return { ok: false, reason: 'must have exactly signaturePublicKey and credential' };
      }
      const key = typeof record.signaturePublicKey === 'string' ? base64Decode(record.signaturePublicKey) : undefined;
      const credential = typeof record.credential === 'string' ? base64Decode(record.credential) : undefined;
      if (key === undefined || key.length !== 32) return { ok: false, reason: 'signaturePublicKey must be a base64 Ed25519 key' };
      if (credential === undefined) return { ok: false, reason: 'credential must be base64' };
      try {
        const identity = decodeIdentity(credential);
        if (identity.kind !== 'key-service') return { ok: false, reason: 'credential must be a key-service identity' };
        return { ok: true, value: { signaturePublicKey: key, identity } satisfies ExternalSenderInfo };
      } catch {
        return { ok: false, reason: 'credential must be a canonical key-service identity' };
      }
    }
  }
}

// ---- encoding ----------------------------------------------------------------------------------------

export function encodeClientMessage(message: ClientMessage): string {
  return JSON.stringify(toWire(message));
}

export function encodeServerMessage(message: ServerMessage): string {
  return JSON.stringify(toWire(message));
}

function toWire(message: ClientMessage | ServerMessage): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(message)) {
    if (value === undefined) continue;
    if (value instanceof Uint8Array) out[key] = base64Encode(value);
    else if (typeof value === 'bigint') out[key] = value.toString(10);
    else if (key === 'externalSender') {
      const sender = value as ExternalSenderInfo;
      out[key] = { signaturePublicKey: base64Encode(sender.signaturePublicKey), credential: base64Encode(encodeIdentity(sender.identity)) };
    } else out[key] = value;
  }
  return out;
}
