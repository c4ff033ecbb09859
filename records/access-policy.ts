import type { Queryable } from '../audit/index.js';
import type { Principal, PrincipalRole } from './principal.js';

/**
 * WHO may do WHAT with a recording — the one place that decides it (records API routes and the lifecycle
 * half: export, hold, release, delete all call `authorize`). Pure: it judges facts the caller loaded
 * (`loadRecordingFacts`), so it is the same decision everywhere and a table-driven test walks it.
 *
 * Roles (keyservice/tokens.ts PLATFORM_ROLES) and what they may do:
 *
 * | role            | list | play | derive | export | hold / release | delete | audit-read |
 * |-----------------|------|------|--------|--------|----------------|--------|------------|
 * | records-officer | all  | all  | all    | all    | all            | all    | all        |
 * | auditor         | all  | —    | —      | —      | —              | —      | all        |
 * | clinician       | care team's recordings: list, play, derive                       | —  |
 * | patient         | recordings they took part in: list; play and export only their own tracks |
 * | service         | list, delete (the retention sweep; legal hold is checked by the caller)     |
 * | operator, recorder | nothing: they configure and make recordings, they do not read them       |
 *
 * - **Care team** of a recording: a clinician who was a participant of it (a track whose participant_id is
 *   the clinician's token subject), or a clinician assigned to the recording's room in
 *   `records_care_team` (migration 0300; assigned by a records officer, revocable; an assignment counts
 *   while it is not revoked — it is a statement about the room's care, not about one call).
 * - **Patient**: sees a recording when one of its tracks has participant_id = their subject; plays and
 *   exports only tracks whose participant_id is their subject. Whole-recording actions (a composited
 *   derivative, an export of every track) are refused to a patient: they contain other people's media.
 * - **Room scope**: a token that names a room (patients' and clinicians' always do) reaches only that
 *   room's recordings, as in the key service.
 * - Auditors review who did what (audit-read, listing metadata), not the media (minimum necessary,
 *   45 CFR §164.502(b)).
 * - **42 CFR Part 2** (the recording's policy said so; `recordings.part2`, carried from the key service's
 *   policy through the seal request): the key service's policy narrows access to records officers
 *   (keyservice/recording-policy.ts accessRoles), so the care team is refused; a patient keeps access to
 *   their own tracks (§2.23: patients' access to their own records needs no consent).
 *
 * Whether a recording is *playable* (sealed, not deleted, key not destroyed) is not a question of who
 * asks; the playback path checks it separately.
 */

export const RECORD_ACTIONS = ['list', 'play', 'derive', 'export', 'hold', 'release', 'delete', 'audit-read'] as const;
export type RecordAction = (typeof RECORD_ACTIONS)[number];

/** What the decision needs to know about a recording (identifiers only). */
export interface RecordingFacts {
  recordingId: string;
  roomId: string;
  /** participant_id of every track. */
  participantIds: readonly string[];
  /** Clinicians assigned to the room's care team (records_care_team, not revoked). */
  careTeamIds: readonly string[];
  /** 42 CFR Part 2 applies: no care-team access (see the file comment). */
  part2: boolean;
}

export interface TrackFacts {
  recordingId: string;
  trackId: string;
  participantId: string;
}

export type AccessRefusal =
  /** The role may never do this action. */
  | 'role-not-permitted'
  /** The token is scoped to another room. */
  | 'wrong-room'
  /** A clinician outside the recording's care team. */
  | 'not-care-team'
  /** A patient who did not take part in the recording. */
  | 'not-participant'
  /** A patient asking for another participant's track, or for the whole recording. */
  | 'own-tracks-only'
  /** The track named is not one of the recording's. */
  | 'track-not-in-recording'
  /** A clinician asking for a recording made under 42 CFR Part 2. */
  | 'part2-restricted';

export type AccessDecision = { allowed: true } | { allowed: false; reason: AccessRefusal; message: string };

/** Which actions each role may take at all (before relationship checks). */
const ROLE_ACTIONS: Readonly<Record<PrincipalRole, readonly RecordAction[]>> = Object.freeze({
  'records-officer': RECORD_ACTIONS,
  auditor: ['list', 'audit-read'],
  clinician: ['list', 'play', 'derive'],
  patient: ['list', 'play', 'export'],
  service: ['list', 'delete'],
  operator: [],
  recorder: [],
});

const ALLOW: AccessDecision = Object.freeze({ allowed: true });
const refuse = (reason: AccessRefusal, message: string): AccessDecision => ({ allowed: false, reason, message });

/** True when `principal` is on the care team of the recording (see the file comment). */
export function isCareTeam(principal: Principal, recording: RecordingFacts): boolean {
  return principal.role === 'clinician' && (recording.participantIds.includes(principal.subject) || recording.careTeamIds.includes(principal.subject));
}

/**
 * May `principal` do `action` on `recording` (and, when given, on one of its tracks)? Without a track the
 * question is about the recording as a whole (for `play`: a composited derivative; for `export`: every
 * track).
 */
export function authorize(principal: Principal, action: RecordAction, recording: RecordingFacts, track?: TrackFacts): AccessDecision {
  if (!(RECORD_ACTIONS as readonly string[]).includes(action)) throw new TypeError(`authorize: unknown action "${String(action)}"`);
  const allowed = ROLE_ACTIONS[principal.role] ?? [];
  if (!allowed.includes(action)) return refuse('role-not-permitted', `a ${principal.role} may not ${action} recordings`);
  if (principal.room !== undefined && principal.room !== recording.roomId) {
    return refuse('wrong-room', 'the token is scoped to another room than this recording');
  }
  if (track !== undefined && track.recordingId !== recording.recordingId) {
    return refuse('track-not-in-recording', `track ${track.trackId} is not a track of recording ${recording.recordingId}`);
  }
  switch (principal.role) {
    case 'clinician':
      if (recording.part2) return refuse('part2-restricted', 'this recording falls under 42 CFR Part 2: only records officers (and the patient, for their own tracks) may access it');
      return isCareTeam(principal, recording) ? ALLOW : refuse('not-care-team', 'only the care team of a recording may see it: the clinician took no part in it and is not assigned to the room');
    case 'patient':
      if (!recording.participantIds.includes(principal.subject)) return refuse('not-participant', 'a patient sees only recordings they took part in');
      if (action === 'list') return ALLOW;
      if (track === undefined) return refuse('own-tracks-only', `a patient may ${action} only their own tracks, not the whole recording`);
      return track.participantId === principal.subject ? ALLOW : refuse('own-tracks-only', `a patient may ${action} only their own tracks`);
    default:
      return ALLOW;
  }
}

/** The tracks of a recording that `principal` may `action` (e.g. a patient's export: their own). */
export function permittedTracks<T extends TrackFacts>(principal: Principal, action: RecordAction, recording: RecordingFacts, tracks: readonly T[]): T[] {
  return tracks.filter((track) => authorize(principal, action, recording, track).allowed);
}

/**
 * How a listing is narrowed in SQL for a principal, so a page is never filled with rows the caller may not
 * see (each row is still checked with `authorize` after the query).
 * - `all`: every recording (of `room`, when set);
 * - `participant`: recordings with a track whose participant_id is `subject`;
 * - `care-team`: recordings `subject` took part in or whose room assigns them to its care team, except
 *   those under 42 CFR Part 2;
 * - `none`: nothing.
 */
export type ListingScope =
  | { kind: 'all'; room: string | undefined }
  | { kind: 'participant'; subject: string; room: string | undefined }
  | { kind: 'care-team'; subject: string; room: string | undefined }
  | { kind: 'none' };

export function listingScope(principal: Principal): ListingScope {
  if (!(ROLE_ACTIONS[principal.role] ?? []).includes('list')) return { kind: 'none' };
  if (principal.role === 'patient') return { kind: 'participant', subject: principal.subject, room: principal.room };
  if (principal.role === 'clinician') return { kind: 'care-team', subject: principal.subject, room: principal.room };
  return { kind: 'all', room: principal.room };
}

/**
 * The SQL select-list columns `participants` and `care_team` of the facts `authorize` judges, for a query
 * over `recordings r`: who took part (from the tracks) and the clinicians assigned to the room.
 */
export const RECORDING_FACTS_COLUMNS = `coalesce((select array_agg(distinct t.participant_id) from recording_tracks t where t.recording_id = r.recording_id), '{}') as participants,
            coalesce((select array_agg(c.clinician_id) from records_care_team c where c.room_id = r.room_id and c.revoked_at_ms is null), '{}') as care_team`;

/** Loads the facts `authorize` judges; undefined when the recording is not in the catalog. */
export async function loadRecordingFacts(db: Queryable, recordingId: string): Promise<RecordingFacts | undefined> {
  const { rows } = await db.query<{ room_id: string; part2: boolean; participants: string[]; care_team: string[] }>(
    `select r.room_id, r.part2,
            ${RECORDING_FACTS_COLUMNS}
       from recordings r where r.recording_id = $1`,
    [recordingId],
  );
  const row = rows[0];
  if (!row) return undefined;
  return { recordingId, roomId: row.room_id, participantIds: row.participants, careTeamIds: row.care_team, part2: row.part2 };
}

/** Loads a track's facts; undefined when the recording has no such track. */
export async function loadTrackFacts(db: Queryable, recordingId: string, trackId: string): Promise<TrackFacts | undefined> {
  const { rows } = await db.query<{ participant_id: string }>('select participant_id from recording_tracks where recording_id = $1 and track_id = $2', [recordingId, trackId]);
  return rows[0] ? { recordingId, trackId, participantId: rows[0].participant_id } : undefined;
}

/** Care team assignments of a room are set and revoked by records officers only. */
export function authorizeCareTeamChange(principal: Principal, roomId: string): AccessDecision {
  if (principal.role !== 'records-officer') return refuse('role-not-permitted', `a ${principal.role} may not change care team assignments`);
  if (principal.room !== undefined && principal.room !== roomId) return refuse('wrong-room', 'the token is scoped to another room');
  return ALLOW;
}
