import type { Queryable } from '../queue/catalog.js';
import { RECORDING_FACTS_COLUMNS, authorize, listingScope, type RecordingFacts } from './access-policy.js';
import { RecordsError } from './errors.js';
import { deletionsOf } from './playable.js';
import type { Principal } from './principal.js';

/**
 * Listing and search of the catalog, narrowed in SQL to what the caller may see (access-policy.ts
 * listingScope) and then checked row by row with `authorize`. Keyset pagination on (started_at_ms desc,
 * recording_id desc) with an opaque cursor. A recording is `playable` only while sealed and not deleted;
 * a recording or track with a deletion on record (recording_deletions) or a destroyed key is listed as
 * `deleted` / not playable (its tombstone stays visible to those who may list it). Patients see only
 * their own tracks of a recording.
 */

/** What a listing row selects from `recordings r`: the recording and the facts its access is judged on. */
const LISTED_COLUMNS = `r.recording_id, r.room_id, r.part2, r.state, r.purpose, r.started_at_ms, r.ended_at_ms, r.sealed_at, r.retention_until,
            ${RECORDING_FACTS_COLUMNS}`;

export interface ListFilters {
  room?: string;
  participant?: string;
  /** started_at_ms >= fromMs */
  fromMs?: number;
  /** started_at_ms < toMs */
  toMs?: number;
  state?: string;
  limit?: number;
  cursor?: string;
}

export interface ListedTrack {
  trackId: string;
  participantId: string;
  kind: string;
  codec: string;
  startedAtMs: number;
  endedAtMs: number;
  playable: boolean;
  /** A deletion of the track (or its recording) is on record. */
  deleted: boolean;
  segments: Array<{ segmentNo: number; durationMs: number; plaintextBytes: number | null }>;
}

export interface ListedRecording {
  recordingId: string;
  roomId: string;
  state: string;
  purpose: string;
  startedAtMs: number;
  endedAtMs: number;
  sealedAtMs: number | null;
  retentionUntilMs: number | null;
  playable: boolean;
  /** A deletion of the whole recording is on record (its tombstone stays listed). */
  deleted: boolean;
  tracks: ListedTrack[];
  derivatives: Array<{ derivativeId: string; kind: string; state: string; playable: boolean }>;
}

export interface ListPage {
  recordings: ListedRecording[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export const MAX_PAGE = 100;

function encodeCursor(startedAtMs: number, recordingId: string): string {
  return Buffer.from(`${startedAtMs}:${recordingId}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): { startedAtMs: number; recordingId: string } {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^(\d{1,16}):([A-Za-z0-9][A-Za-z0-9_-]{0,63})$/.exec(text);
  if (!match) throw new RecordsError('invalid-request', 'cursor is not one this service returned: pass nextCursor back unchanged', { field: 'cursor' });
  return { startedAtMs: Number(match[1]), recordingId: match[2]! };
}

interface Row {
  recording_id: string;
  room_id: string;
  state: string;
  purpose: string;
  started_at_ms: string;
  ended_at_ms: string;
  sealed_at: Date | null;
  retention_until: Date | null;
  participants: string[];
  care_team: string[];
  part2: boolean;
}

export async function listRecordings(db: Queryable, principal: Principal, filters: ListFilters = {}): Promise<ListPage> {
  const scope = listingScope(principal);
  if (scope.kind === 'none') throw new RecordsError('forbidden', `a ${principal.role} may not list recordings`, { reason: 'role-not-permitted' });
  const limit = filters.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new RecordsError('invalid-request', `limit must be an integer from 1 to ${MAX_PAGE}`, { field: 'limit' });
  const where: string[] = [];
  const values: unknown[] = [];
  const bind = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  // A room-scoped token reaches only its room.
  if (scope.room !== undefined) where.push(`r.room_id = ${bind(scope.room)}`);
  if (scope.kind === 'participant') {
    where.push(`exists (select 1 from recording_tracks t where t.recording_id = r.recording_id and t.participant_id = ${bind(scope.subject)})`);
  } else if (scope.kind === 'care-team') {
    const subject = bind(scope.subject);
    where.push(`not r.part2 and (exists (select 1 from recording_tracks t where t.recording_id = r.recording_id and t.participant_id = ${subject})
      or exists (select 1 from records_care_team c where c.room_id = r.room_id and c.clinician_id = ${subject} and c.revoked_at_ms is null))`);
  }
  if (filters.room !== undefined) where.push(`r.room_id = ${bind(filters.room)}`);
  if (filters.participant !== undefined) where.push(`exists (select 1 from recording_tracks t where t.recording_id = r.recording_id and t.participant_id = ${bind(filters.participant)})`);
  if (filters.fromMs !== undefined) where.push(`r.started_at_ms >= ${bind(filters.fromMs)}`);
  if (filters.toMs !== undefined) where.push(`r.started_at_ms < ${bind(filters.toMs)}`);
  if (filters.state !== undefined) where.push(`r.state = ${bind(filters.state)}`);
  if (filters.cursor !== undefined) {
    const after = decodeCursor(filters.cursor);
    where.push(`(r.started_at_ms, r.recording_id) < (${bind(after.startedAtMs)}, ${bind(after.recordingId)})`);
  }
  const { rows } = await db.query<Row>(
    `select ${LISTED_COLUMNS}
       from recordings r
      ${where.length ? `where ${where.join(' and ')}` : ''}
      order by r.started_at_ms desc, r.recording_id desc
      limit ${limit + 1}`,
    values,
  );
  const page = rows.slice(0, limit);
  const recordings: ListedRecording[] = [];
  for (const row of page) {
    const facts: RecordingFacts = { recordingId: row.recording_id, roomId: row.room_id, participantIds: row.participants, careTeamIds: row.care_team, part2: row.part2 };
    if (!authorize(principal, 'list', facts).allowed) continue; // the SQL scope already excludes these; never show one that slipped through
    recordings.push(await describeRecording(db, principal, row, facts));
  }
  const last = page[page.length - 1];
  return { recordings, nextCursor: rows.length > limit && last ? encodeCursor(Number(last.started_at_ms), last.recording_id) : null };
}

/** One recording as the caller may see it; undefined when it does not exist or the caller may not list it. */
export async function getListedRecording(db: Queryable, principal: Principal, recordingId: string): Promise<{ recording: ListedRecording; facts: RecordingFacts } | undefined> {
  const { rows } = await db.query<Row>(
    `select ${LISTED_COLUMNS}
       from recordings r where r.recording_id = $1`,
    [recordingId],
  );
  const row = rows[0];
  if (!row) return undefined;
  const facts: RecordingFacts = { recordingId: row.recording_id, roomId: row.room_id, participantIds: row.participants, careTeamIds: row.care_team, part2: row.part2 };
  return { recording: await describeRecording(db, principal, row, facts), facts };
}

async function describeRecording(db: Queryable, principal: Principal, row: Row, facts: RecordingFacts): Promise<ListedRecording> {
  const deletions = await deletionsOf(db, row.recording_id);
  const sealed = row.state === 'sealed' && !deletions.recording;
  const { rows: tracks } = await db.query<{
    track_id: string;
    participant_id: string;
    kind: string;
    codec: string;
    started_at_ms: string;
    ended_at_ms: string;
    key_live: boolean | null;
    segments: Array<{ segmentNo: number; durationMs: number; plaintextBytes: number | null }>;
  }>(
    `select t.track_id, t.participant_id, t.kind, t.codec, t.started_at_ms, t.ended_at_ms,
            (select k.wrapped_key is not null from recording_keys k where k.recording_id = t.recording_id and k.scope = 'track' and k.track_id = t.track_id) as key_live,
            coalesce((select json_agg(json_build_object('segmentNo', s.segment_no, 'durationMs', s.duration_ms, 'plaintextBytes', s.plaintext_bytes) order by s.segment_no)
                        from recording_segments s where s.recording_id = t.recording_id and s.track_id = t.track_id), '[]') as segments
       from recording_tracks t where t.recording_id = $1 order by t.track_id`,
    [row.recording_id],
  );
  const visible = tracks.filter((t) => principal.role !== 'patient' || authorize(principal, 'play', facts, { recordingId: row.recording_id, trackId: t.track_id, participantId: t.participant_id }).allowed);
  const { rows: derivatives } = await db.query<{ derivative_id: string; kind: string; state: string }>(
    'select derivative_id, kind, state from recording_derivatives where recording_id = $1 order by requested_at',
    [row.recording_id],
  );
  const wholeRecording = authorize(principal, 'play', facts).allowed;
  return {
    recordingId: row.recording_id,
    roomId: row.room_id,
    state: row.state,
    purpose: row.purpose,
    startedAtMs: Number(row.started_at_ms),
    endedAtMs: Number(row.ended_at_ms),
    sealedAtMs: row.sealed_at ? row.sealed_at.getTime() : null,
    retentionUntilMs: row.retention_until ? row.retention_until.getTime() : null,
    playable: sealed,
    deleted: deletions.recording,
    tracks: visible.map((t) => ({
      trackId: t.track_id,
      participantId: t.participant_id,
      kind: t.kind,
      codec: t.codec,
      startedAtMs: Number(t.started_at_ms),
      endedAtMs: Number(t.ended_at_ms),
      playable: sealed && t.key_live === true && !deletions.tracks.has(t.track_id),
      deleted: deletions.recording || deletions.tracks.has(t.track_id),
      segments: t.segments.map((s) => ({ segmentNo: Number(s.segmentNo), durationMs: Number(s.durationMs), plaintextBytes: s.plaintextBytes === null ? null : Number(s.plaintextBytes) })),
    })),
    derivatives: wholeRecording ? derivatives.map((d) => ({ derivativeId: d.derivative_id, kind: d.kind, state: d.state, playable: sealed && d.state === 'ready' })) : [],
  };
}
