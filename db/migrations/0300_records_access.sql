-- Records lifecycle, access half (issue 6; range 0300–0309; the retention/hold/deletion/export half uses
-- 0310+). Identifiers only: pseudonymous subjects, room and recording ids. No tokens are stored, only
-- their random ids (jti) and the SHA-256 of playback-session secrets.

-- Care team assignments: a clinician assigned to a room's care team may see that room's recordings
-- (records/access-policy.ts). Assigned and revoked by records officers; a revoked row stays as the record.
create table records_care_team (
  room_id        text not null check (room_id ~ '^[A-Za-z0-9._:-]{1,128}$'),
  clinician_id   text not null check (clinician_id ~ '^[!-~]{1,128}$'),
  assigned_by    text not null check (assigned_by ~ '^[!-~]{1,128}$'),
  assigned_at_ms bigint not null,
  revoked_at_ms  bigint,
  revoked_by     text check (revoked_by ~ '^[!-~]{1,128}$'),
  primary key (room_id, clinician_id),
  check ((revoked_at_ms is null) = (revoked_by is null))
);

-- Composited derivatives (a gallery rendering of a recording's tracks), encrypted under the recording
-- key, stored at recordings/<recording_id>/derivatives/<derivative_id>.esdk. Deletion of the recording
-- (or of any of its source tracks) must delete these too: records/derivatives.ts listDerivatives.
create table recording_derivatives (
  derivative_id     text primary key check (derivative_id ~ '^dv-[0-9a-f-]{36}$'),
  recording_id      text not null references recordings (recording_id) on delete cascade,
  kind              text not null check (kind in ('gallery')),
  state             text not null default 'rendering' check (state in ('rendering', 'ready', 'failed', 'deleted')),
  -- The sources: [{trackId, segmentNo, plaintextSha256}] in the order they were composited.
  sources           jsonb not null,
  requested_by_role text not null,
  requested_by_id   text not null check (requested_by_id ~ '^[!-~]{1,128}$'),
  requested_at      timestamptz not null default now(),
  object_key        text unique,
  object_version_id text,
  object_etag       text,
  key_ref           text,
  plaintext_sha256  text check (plaintext_sha256 ~ '^[0-9a-f]{64}$'),
  plaintext_bytes   bigint,
  ciphertext_sha256 text check (ciphertext_sha256 ~ '^[0-9a-f]{64}$'),
  ciphertext_bytes  bigint,
  media_type        text,
  -- Canonical JSON of what the derivative is (ids, sources, hashes) and its signature by the manifest
  -- signing key: integrity of a derivative is checked against this, as a segment's is against the manifest.
  record            text,
  record_signature  jsonb,
  ready_at          timestamptz,
  failure_code      text,
  deleted_at        timestamptz,
  check (state <> 'ready' or (object_key is not null and key_ref is not null and plaintext_sha256 is not null and ciphertext_sha256 is not null
                              and record is not null and record_signature is not null and ready_at is not null))
);
create index recording_derivatives_recording on recording_derivatives (recording_id);

-- Playback tokens (records/playback-tokens.ts): one row per token id. A token is single-use: redeeming
-- it opens a playback session bound to the same user; the session's secret is kept only as SHA-256.
create table records_playback_tokens (
  jti               text primary key check (jti ~ '^[A-Za-z0-9_-]{22}$'),
  subject           text not null check (subject ~ '^[!-~]{1,128}$'),
  role              text not null,
  recording_id      text not null,
  target_kind       text not null check (target_kind in ('segment', 'derivative')),
  track_id          text,
  segment_no        integer,
  derivative_id     text,
  issued_at_ms      bigint not null,
  expires_at_ms     bigint not null,
  redeemed_at_ms    bigint,
  session_id        text unique check (session_id ~ '^[A-Za-z0-9_-]{22}$'),
  session_secret_sha256 text check (session_secret_sha256 ~ '^[0-9a-f]{64}$'),
  session_expires_at_ms bigint,
  check (expires_at_ms > issued_at_ms),
  check ((target_kind = 'segment') = (track_id is not null and segment_no is not null and derivative_id is null)),
  check ((redeemed_at_ms is null) = (session_id is null)),
  check ((session_id is null) = (session_secret_sha256 is null)),
  check ((session_id is null) = (session_expires_at_ms is null))
);
create index records_playback_tokens_expiry on records_playback_tokens (expires_at_ms);
