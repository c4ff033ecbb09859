-- Records lifecycle (issue 6, range 0300–0399; 0300 is the access side): legal holds, deletions (with their
-- progress, so an interrupted deletion resumes) and tombstones (what was deleted, by whom, when and why).
-- Times are epoch milliseconds (UTC). Identifiers and hashes only; the one text written by people is a
-- hold's or deletion's reason, which records staff are told must name a matter or request, never a patient.

create table legal_holds (
  hold_id           text primary key check (hold_id ~ '^hold-[0-9a-f-]{36}$'),
  recording_id      text not null references recordings (recording_id),
  reason            text not null check (length(reason) between 10 and 500),
  placed_by_role    text not null,
  placed_by_id      text not null check (placed_by_id ~ '^[!-~]{1,128}$'),
  placed_at_ms      bigint not null,
  released_by_role  text,
  released_by_id    text check (released_by_id ~ '^[!-~]{1,128}$'),
  released_at_ms    bigint,
  release_reason    text check (length(release_reason) between 10 and 500),
  -- First time the retention sweep found the recording expired but kept it because of this hold (audited once).
  retention_blocked_at_ms bigint,
  check ((released_at_ms is null) = (released_by_id is null) and (released_at_ms is null) = (release_reason is null) and (released_at_ms is null) = (released_by_role is null))
);
-- At most one active hold per recording; released holds stay as history.
create unique index legal_holds_active on legal_holds (recording_id) where released_at_ms is null;

-- A hold, once released, is history: only the release columns may be filled in, once.
create function legal_holds_guard() returns trigger
language plpgsql as $$
begin
  if TG_OP = 'DELETE' then
    raise exception 'DELETE on legal_holds is refused: release the hold instead' using errcode = 'CHA01';
  end if;
  if OLD.released_at_ms is not null
     or NEW.hold_id <> OLD.hold_id or NEW.recording_id <> OLD.recording_id or NEW.reason <> OLD.reason
     or NEW.placed_by_role <> OLD.placed_by_role or NEW.placed_by_id <> OLD.placed_by_id or NEW.placed_at_ms <> OLD.placed_at_ms then
    raise exception 'legal hold % can only be released once; its placement is history', OLD.hold_id using errcode = 'CHA01';
  end if;
  return NEW;
end
$$;
create trigger legal_holds_guard before update or delete on legal_holds for each row execute function legal_holds_guard();

-- One deletion per target (a whole recording, or one track of it). The row is written, with its audit
-- event, before anything is destroyed; each step records its completion before the next starts, so a
-- deletion interrupted anywhere is resumed by running it again (every step is idempotent).
create table recording_deletions (
  deletion_id       text primary key check (deletion_id ~ '^del-[0-9a-f-]{36}$'),
  recording_id      text not null references recordings (recording_id),
  scope             text not null check (scope in ('recording', 'track')),
  -- '' for the whole recording.
  track_id          text not null default '',
  reason_code       text not null check (reason_code in ('retention-expired', 'patient-request', 'records-request', 'legal-order')),
  reason            text check (length(reason) between 10 and 500),
  requested_by_role text not null,
  requested_by_id   text not null check (requested_by_id ~ '^[!-~]{1,128}$'),
  requested_at_ms   bigint not null,
  -- requested → keys-destroyed → objects-purged → completed
  state             text not null default 'requested' check (state in ('requested', 'keys-destroyed', 'objects-purged', 'completed')),
  attempts          integer not null default 0,
  last_error        text check (length(last_error) <= 1000),
  -- What the purge found and removed, kept for the tombstone (object keys, version ids, counts).
  purge_report      jsonb,
  completed_at_ms   bigint,
  unique (recording_id, scope, track_id),
  check ((scope = 'recording') = (track_id = '')),
  check ((state = 'completed') = (completed_at_ms is not null))
);
create index recording_deletions_open on recording_deletions (requested_at_ms) where state <> 'completed';

create function recording_deletions_guard() returns trigger
language plpgsql as $$
begin
  if TG_OP = 'DELETE' then
    raise exception 'DELETE on recording_deletions is refused: a deletion is a record' using errcode = 'CHA01';
  end if;
  if OLD.state = 'completed' then
    raise exception 'deletion % is completed and cannot change', OLD.deletion_id using errcode = 'CHA01';
  end if;
  return NEW;
end
$$;
create trigger recording_deletions_guard before update or delete on recording_deletions for each row execute function recording_deletions_guard();

-- The catalog's memory of what was deleted: written once, when a deletion completes, never changed.
-- `content` is canonical JSON: per segment its object key, plaintext and ciphertext SHA-256 and sizes and
-- the object versions removed; the data keys destroyed; derivatives removed. `content_sha256` is its hash.
create table recording_tombstones (
  deletion_id       text primary key references recording_deletions (deletion_id),
  recording_id      text not null references recordings (recording_id),
  scope             text not null check (scope in ('recording', 'track')),
  track_id          text not null default '',
  participant_id    text,
  reason_code       text not null,
  deleted_by_role   text not null,
  deleted_by_id     text not null,
  requested_at_ms   bigint not null,
  deleted_at_ms     bigint not null,
  manifest_sha256   text,
  content           text not null,
  content_sha256    text not null check (content_sha256 ~ '^[0-9a-f]{64}$')
);
create index recording_tombstones_recording on recording_tombstones (recording_id);
create trigger recording_tombstones_no_update before update or delete on recording_tombstones for each row execute function refuse_change();
create trigger recording_tombstones_no_truncate before truncate on recording_tombstones for each statement execute function refuse_change();

revoke all on legal_holds, recording_deletions, recording_tombstones from public;
grant select, insert, update on legal_holds, recording_deletions to chaperone_app;
grant select, insert on recording_tombstones to chaperone_app;
