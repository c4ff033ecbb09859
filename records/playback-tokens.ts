import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Queryable } from '../queue/catalog.js';
import { RecordsError } from './errors.js';
import type { Principal } from './principal.js';

/**
 * Playback tokens and playback sessions (PostgreSQL table records_playback_tokens, migration 0300).
 *
 * A **playback token** is an opaque signed id: `cpt1.<jti>.<mac>` — 16 random bytes and an HMAC-SHA-256
 * (this service's own playback key) over the jti and everything it is bound to: the user (subject and
 * role), the recording, the target (a track's segment, or a derivative), issue and expiry times. Those
 * bindings live in the database row, not in the token, so the token says nothing about who or what (no
 * PHI, no ids) wherever it travels; the MAC is recomputed from the row, so an altered token — or an
 * altered row — does not verify. Lifetime ≤ 5 minutes.
 *
 * **Replay**, precisely: a token is single-use. Redeeming it (with the platform token of the same user)
 * atomically marks it redeemed and opens a **playback session**: a random session id (goes in the stream
 * URL — opaque) and a random session secret (goes only in an HttpOnly cookie scoped to that URL, or in the
 * `X-Chaperone-Playback-Secret` header; stored here only as its SHA-256). Every stream request — the first
 * GET and each HTTP Range request a player makes while seeking — must present the session's secret. A second
 * redemption of the same token is refused (`token-replayed`) and audited; a session URL without the
 * secret is refused (`session-invalid`). A session lasts `sessionTtlMs` from redemption.
 */

export const TOKEN_PREFIX = 'cpt1';
export const MAX_TOKEN_TTL_MS = 5 * 60_000;
const ID_BYTES = 16;
const B64URL_ID = /^[A-Za-z0-9_-]{22}$/;
const TOKEN_PATTERN = /^cpt1\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export type PlaybackTarget =
  | { kind: 'segment'; recordingId: string; trackId: string; segmentNo: number }
  | { kind: 'derivative'; recordingId: string; derivativeId: string };

export interface PlaybackTokenOptions {
  db: Queryable;
  /** This service's playback signing key (HMAC-SHA-256), at least 32 bytes. */
  key: Uint8Array;
  /** Default 120 s; at most 5 minutes. */
  tokenTtlMs?: number;
  /** How long a redeemed session may stream; default 30 minutes. */
  sessionTtlMs?: number;
  /** Milliseconds since the epoch; injectable so tests can expire tokens. */
  now?: () => number;
}

export interface IssuedToken {
  token: string;
  jti: string;
  expiresAtMs: number;
}

export interface OpenedSession {
  sessionId: string;
  /** Handed to the client once; only its SHA-256 is stored. */
  secret: string;
  expiresAtMs: number;
  target: PlaybackTarget;
  jti: string;
}

export interface SessionGrant {
  sessionId: string;
  subject: string;
  role: string;
  target: PlaybackTarget;
  expiresAtMs: number;
}

interface TokenRow {
  jti: string;
  subject: string;
  role: string;
  recording_id: string;
  target_kind: 'segment' | 'derivative';
  track_id: string | null;
  segment_no: number | null;
  derivative_id: string | null;
  issued_at_ms: string;
  expires_at_ms: string;
  redeemed_at_ms: string | null;
  session_id: string | null;
  session_secret_sha256: string | null;
  session_expires_at_ms: string | null;
}

const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

function targetOf(row: TokenRow): PlaybackTarget {
  return row.target_kind === 'segment'
    ? { kind: 'segment', recordingId: row.recording_id, trackId: row.track_id!, segmentNo: Number(row.segment_no) }
    : { kind: 'derivative', recordingId: row.recording_id, derivativeId: row.derivative_id! };
}

export class PlaybackTokens {
  private readonly db: Queryable;
  private readonly key: Buffer;
  readonly tokenTtlMs: number;
  readonly sessionTtlMs: number;
  private readonly now: () => number;

  constructor(options: PlaybackTokenOptions) {
    if (!(options.key instanceof Uint8Array) || options.key.length < 32) throw new TypeError('playback.key: must be at least 32 bytes');
    const tokenTtlMs = options.tokenTtlMs ?? 120_000;
    if (!Number.isInteger(tokenTtlMs) || tokenTtlMs < 1000 || tokenTtlMs > MAX_TOKEN_TTL_MS) throw new TypeError(`playback.tokenTtlMs: must be an integer from 1000 to ${MAX_TOKEN_TTL_MS} (5 minutes)`);
    const sessionTtlMs = options.sessionTtlMs ?? 30 * 60_000;
    if (!Number.isInteger(sessionTtlMs) || sessionTtlMs < 1000 || sessionTtlMs > 12 * 3600_000) throw new TypeError('playback.sessionTtlMs: must be an integer from 1000 to 43200000 (12 hours)');
    this.db = options.db;
    this.key = Buffer.from(options.key);
    this.tokenTtlMs = tokenTtlMs;
    this.sessionTtlMs = sessionTtlMs;
    this.now = options.now ?? Date.now;
  }

  /** The MAC binds the jti to every column that says who may play what, and until when. */
  private mac(row: Pick<TokenRow, 'jti' | 'subject' | 'role' | 'recording_id' | 'target_kind' | 'track_id' | 'segment_no' | 'derivative_id' | 'issued_at_ms' | 'expires_at_ms'>): Buffer {
    const fields = [
      TOKEN_PREFIX,
      row.jti,
      row.subject,
      row.role,
      row.recording_id,
      row.target_kind,
      row.track_id ?? '',
      row.segment_no === null ? '' : String(row.segment_no),
      row.derivative_id ?? '',
      String(row.issued_at_ms),
      String(row.expires_at_ms),
    ];
    const hmac = createHmac('sha256', this.key);
    // Length-prefixed, so no two field lists give the same input.
    for (const field of fields) hmac.update(`${Buffer.byteLength(field)}:${field};`);
    return hmac.digest();
  }

  /** Issues a token for `principal` (already authorized by the caller) to play `target`. */
  async issue(principal: Principal, target: PlaybackTarget): Promise<IssuedToken> {
    const jti = randomBytes(ID_BYTES).toString('base64url');
    const issuedAtMs = this.now();
    const expiresAtMs = issuedAtMs + this.tokenTtlMs;
    const row = {
      jti,
      subject: principal.subject,
      role: principal.role,
      recording_id: target.recordingId,
      target_kind: target.kind,
      track_id: target.kind === 'segment' ? target.trackId : null,
      segment_no: target.kind === 'segment' ? target.segmentNo : null,
      derivative_id: target.kind === 'derivative' ? target.derivativeId : null,
      issued_at_ms: String(issuedAtMs),
      expires_at_ms: String(expiresAtMs),
    };
    await this.db.query(
      `insert into records_playback_tokens (jti, subject, role, recording_id, target_kind, track_id, segment_no, derivative_id, issued_at_ms, expires_at_ms)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [row.jti, row.subject, row.role, row.recording_id, row.target_kind, row.track_id, row.segment_no, row.derivative_id, issuedAtMs, expiresAtMs],
    );
    return { token: `${TOKEN_PREFIX}.${jti}.${this.mac(row).toString('base64url')}`, jti, expiresAtMs };
  }

  /**
   * Checks a token without redeeming it: well formed, known, MAC valid, not expired. Returns the row's
   * target and the jti. Throws RecordsError token-invalid / token-expired.
   */
  async inspect(token: unknown): Promise<{ jti: string; target: PlaybackTarget; subject: string; role: string; redeemed: boolean }> {
    const match = typeof token === 'string' ? TOKEN_PATTERN.exec(token) : null;
    if (!match) throw new RecordsError('token-invalid', 'the playback token is malformed: ask for a new one', { field: 'token' });
    const [, jti, macText] = match;
    const { rows } = await this.db.query<TokenRow>('select * from records_playback_tokens where jti = $1', [jti]);
    const row = rows[0];
    // The MAC is compared as text, not as decoded bytes: base64url's last character carries two unused
    // bits, and a decoder ignores them, so a token altered there would otherwise still verify.
    const given = Buffer.from(macText!);
    const expected = row ? Buffer.from(this.mac({ ...row, segment_no: row.segment_no === null ? null : Number(row.segment_no) } as TokenRow).toString('base64url')) : undefined;
    // An unknown jti is answered like an altered token: both mean "this is not a token we issued".
    if (!row || !expected || expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new RecordsError('token-invalid', 'the playback token does not verify (altered, or not issued here): ask for a new one', { field: 'token' });
    }
    if (Number(row.expires_at_ms) <= this.now()) throw new RecordsError('token-expired', 'the playback token has expired: ask for a new one', { field: 'token' });
    return { jti: row.jti, target: targetOf(row), subject: row.subject, role: row.role, redeemed: row.redeemed_at_ms !== null };
  }

  /**
   * Redeems a token for `principal`, once: it must verify, be unexpired, have been issued to the same
   * subject and role, and not have been redeemed before. Opens the playback session.
   */
  async redeem(principal: Principal, token: unknown): Promise<OpenedSession> {
    const checked = await this.inspect(token);
    if (checked.subject !== principal.subject || checked.role !== principal.role) {
      throw new RecordsError('token-wrong-user', 'the playback token was issued to another user', { field: 'token' });
    }
    const sessionId = randomBytes(ID_BYTES).toString('base64url');
    const secret = randomBytes(32).toString('base64url');
    const now = this.now();
    const expiresAtMs = now + this.sessionTtlMs;
    const { rowCount } = await this.db.query(
      `update records_playback_tokens set redeemed_at_ms = $2, session_id = $3, session_secret_sha256 = $4, session_expires_at_ms = $5
        where jti = $1 and redeemed_at_ms is null and expires_at_ms > $2`,
      [checked.jti, now, sessionId, sha256Hex(secret), expiresAtMs],
    );
    if (rowCount !== 1) {
      throw new RecordsError('token-replayed', 'the playback token was already used: a token opens one playback session; ask for a new one', { field: 'token' });
    }
    return { sessionId, secret, expiresAtMs, target: checked.target, jti: checked.jti };
  }

  /** Admits one stream request of a session: the secret must match and the session must be live. */
  async admit(sessionId: unknown, secret: unknown): Promise<SessionGrant> {
    if (typeof sessionId !== 'string' || !B64URL_ID.test(sessionId)) throw new RecordsError('session-invalid', 'no such playback session', { field: 'sessionId' });
    if (typeof secret !== 'string' || !SECRET_PATTERN.test(secret)) {
      throw new RecordsError('session-invalid', 'the playback session secret is missing: the player must send the session cookie or X-Chaperone-Playback-Secret', { field: 'secret' });
    }
    const { rows } = await this.db.query<TokenRow>('select * from records_playback_tokens where session_id = $1', [sessionId]);
    const row = rows[0];
    if (!row || !row.session_secret_sha256 || !timingSafeEqual(Buffer.from(row.session_secret_sha256, 'hex'), Buffer.from(sha256Hex(secret), 'hex'))) {
      throw new RecordsError('session-invalid', 'no such playback session, or the secret does not match', { field: 'secret' });
    }
    const expiresAtMs = Number(row.session_expires_at_ms);
    if (expiresAtMs <= this.now()) throw new RecordsError('session-invalid', 'the playback session has expired: ask for a new playback token', { field: 'sessionId' });
    return { sessionId, subject: row.subject, role: row.role, target: targetOf(row), expiresAtMs };
  }

  /** Deletes rows whose token and session have both expired (housekeeping); returns how many. */
  async purgeExpired(olderThanMs = 24 * 3600_000): Promise<number> {
    const cutoff = this.now() - olderThanMs;
    const { rowCount } = await this.db.query(
      'delete from records_playback_tokens where expires_at_ms < $1 and (session_expires_at_ms is null or session_expires_at_ms < $1)',
      [cutoff],
    );
    return rowCount ?? 0;
  }
}
