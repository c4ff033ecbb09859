-- Records lifecycle (issue 6): one-time download links for right-of-access exports. The token itself is never
-- stored, only its SHA-256; a link is redeemed once (redeemed_at_ms set atomically), by the person it was
-- issued to, before it expires. Rows stay as the record of what was offered and taken.
create table export_downloads (
  download_id       text primary key check (download_id ~ '^dl-[0-9a-f-]{36}$'),
  token_sha256      text not null unique check (token_sha256 ~ '^[0-9a-f]{64}$'),
  recording_id      text not null references recordings (recording_id),
  scope             text not null check (scope in ('participant', 'recording')),
  participant_id    text check (participant_id ~ '^[!-~]{1,128}$'),
  issued_to_role    text not null,
  issued_to_id      text not null check (issued_to_id ~ '^[!-~]{1,128}$'),
  created_at_ms     bigint not null,
  expires_at_ms     bigint not null,
  redeemed_at_ms    bigint,
  check ((scope = 'participant') = (participant_id is not null)),
  check (expires_at_ms > created_at_ms)
);
create index export_downloads_recording on export_downloads (recording_id);

create function export_downloads_guard() returns trigger
language plpgsql as $$
begin
  if TG_OP = 'DELETE' then
    raise exception 'DELETE on export_downloads is refused: a download link is a record' using errcode = 'CHA01';
  end if;
  if OLD.redeemed_at_ms is not null or NEW.download_id <> OLD.download_id or NEW.token_sha256 <> OLD.token_sha256 or NEW.recording_id <> OLD.recording_id
     or NEW.scope <> OLD.scope or NEW.participant_id is distinct from OLD.participant_id or NEW.issued_to_id <> OLD.issued_to_id
     or NEW.issued_to_role <> OLD.issued_to_role or NEW.created_at_ms <> OLD.created_at_ms or NEW.expires_at_ms <> OLD.expires_at_ms then
    raise exception 'download link % can only be redeemed, once', OLD.download_id using errcode = 'CHA01';
  end if;
  return NEW;
end
$$;
create trigger export_downloads_guard before update or delete on export_downloads for each row execute function export_downloads_guard();

revoke all on export_downloads from public;
grant select, insert, update on export_downloads to chaperone_app;
