-- Sealing pipeline (issue 5): the recording catalog. Identifiers only (pseudonymous participant ids, room,
-- policy and consent ids); no names and no plaintext keys. A recording has tracks (one per participant and
-- kind); a track has segments (one spool file each, sealed as one S3 object); data keys are stored wrapped
-- by the key root (KMS), one per recording and one per track. Destroying a wrapped key (crypto-shredding)
-- nulls it and stamps destroyed_at; the row stays as the record that it was destroyed.

create table recordings (
  recording_id      text primary key check (recording_id ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$'),
  room_id           text not null,
  recorder_id       text not null,
  policy_id         text not null,
  policy_version    integer not null check (policy_version > 0),
  purpose           text not null,
  retention_days    integer not null check (retention_days > 0),
  consent_refs      text[] not null,
  started_at_ms     bigint not null,
  ended_at_ms       bigint not null,
  end_reason        text,
  track_manifest_file text,
  -- SHA-256 of the canonical enqueue request: a second enqueue must be the same request.
  request_sha256    text not null,
  state             text not null default 'spooled' check (state in ('spooled', 'sealing', 'sealed', 'failed')),
  failure_code      text,
  failure_detail    text,
  -- The signed manifest: canonical JSON exactly as hashed and signed, and the signature block.
  manifest          text,
  manifest_sha256   text,
  manifest_signature jsonb,
  manifest_object_key text,
  retention_until   timestamptz,
  created_at        timestamptz not null default now(),
  sealed_at         timestamptz,
  spool_released_at timestamptz,
  check ((state = 'sealed') = (manifest is not null and sealed_at is not null))
);

create table recording_tracks (
  recording_id      text not null references recordings (recording_id) on delete cascade,
  track_id          text not null check (track_id ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$'),
  participant_id    text not null,
  kind              text not null check (kind in ('audio', 'video')),
  codec             text not null check (codec in ('vp8', 'opus')),
  started_at_ms     bigint not null,
  ended_at_ms       bigint not null,
  frames_received   bigint not null,
  frames_written    bigint not null,
  decrypt_failures  bigint not null,
  gaps              jsonb not null,
  primary key (recording_id, track_id)
);

create table recording_segments (
  recording_id      text not null,
  track_id          text not null,
  segment_no        integer not null check (segment_no between 1 and 999),
  spool_file        text not null,
  started_at_ms     bigint not null,
  ended_at_ms       bigint not null,
  duration_ms       bigint not null,
  frames_received   bigint not null,
  frames_written    bigint not null,
  gaps              jsonb not null,
  session           integer,
  frames_before_key_frame bigint,
  writer_error      text,
  -- Progress only; a failure is recorded beside it (failure_code) so a retry resumes where it stopped.
  state             text not null default 'spooled' check (state in ('spooled', 'hashed', 'stored', 'verified')),
  plaintext_sha256  text check (plaintext_sha256 ~ '^[0-9a-f]{64}$'),
  plaintext_bytes   bigint,
  ciphertext_sha256 text check (ciphertext_sha256 ~ '^[0-9a-f]{64}$'),
  ciphertext_bytes  bigint,
  object_key        text,
  object_version_id text,
  object_etag       text,
  sse               text,
  key_ref           text,
  hashed_at         timestamptz,
  stored_at         timestamptz,
  verified_at       timestamptz,
  failure_code      text,
  failure_detail    text,
  spool_released_at timestamptz,
  primary key (recording_id, track_id, segment_no),
  unique (recording_id, spool_file),
  foreign key (recording_id, track_id) references recording_tracks (recording_id, track_id) on delete cascade,
  check (state not in ('hashed', 'stored', 'verified') or plaintext_sha256 is not null),
  check (state not in ('stored', 'verified') or (ciphertext_sha256 is not null and object_key is not null and key_ref is not null)),
  check (spool_released_at is null or state = 'verified')
);

create table recording_keys (
  recording_id      text not null references recordings (recording_id) on delete cascade,
  scope             text not null check (scope in ('recording', 'track')),
  -- '' for the recording key.
  track_id          text not null default '',
  -- The name objects use for this key (ESDK raw AES keyring key name); never reused.
  key_ref           text not null unique check (key_ref ~ '^dk-[0-9a-f-]{36}$'),
  root_kind         text not null check (root_kind in ('aws-kms', 'local-raw-aes')),
  -- KMS key ARN, or the local root key's fingerprint.
  root_key_id       text not null,
  wrapped_key       bytea,
  encryption_context jsonb not null,
  created_at        timestamptz not null default now(),
  destroyed_at      timestamptz,
  primary key (recording_id, scope, track_id),
  check ((scope = 'recording') = (track_id = '')),
  check ((wrapped_key is null) = (destroyed_at is not null))
);

create index recording_segments_state on recording_segments (state) where state <> 'verified';
