-- Key service range (0100–0199). The hash-chain mechanism for append-only tables, and the audit log
-- (ARCHITECTURE.md I7; shared/notes/dependencies.md, "Audit log").
--
-- A chained table has `seq bigint primary key`, `prev_hash bytea`, `row_hash bytea`, and content columns
-- of type text, bigint, integer or boolean only — never timestamptz (its text form follows the session
-- time zone; times are stored as epoch milliseconds instead) and never bytea (its text form follows
-- bytea_output; binary values are stored as base64 or hex text). Its BEFORE INSERT trigger is
-- chain_link('col1', 'col2', ...) naming the content columns in hash order; audit/hash-chain.ts
-- recomputes the same hash to verify.
--
-- row_hash = SHA-256( 'chaperone-chain-v1' 0x00 table_name 0x00 prev_hash int8(seq)
--                     { 0x00 if NULL | 0x01 int4(byte_length) utf8(text value) } for each column )
-- where the text value is (to_jsonb(row) ->> column), integers are big-endian (int4send/int8send),
-- and prev_hash of the first row is 32 zero bytes.

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'chaperone_app') then
    -- The services' group role. Deployments grant it to their login roles; it may INSERT and SELECT
    -- chained tables and nothing else on them.
    create role chaperone_app nologin;
  end if;
end
$$;

create function chain_link() returns trigger
language plpgsql as $$
declare
  last_seq bigint;
  last_hash bytea;
  row_json jsonb;
  payload bytea;
  col text;
  val text;
  val_bytes bytea;
begin
  -- One appender at a time per chain, held until the transaction ends, so every row links to the row
  -- committed before it. (Two-key advisory locks do not collide with the migration runner's one-key lock.)
  perform pg_advisory_xact_lock(1667785062, hashtext(TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME));
  execute format('select seq, row_hash from %I.%I order by seq desc limit 1', TG_TABLE_SCHEMA, TG_TABLE_NAME)
    into last_seq, last_hash;
  NEW.seq := coalesce(last_seq, 0) + 1;
  NEW.prev_hash := coalesce(last_hash, decode(repeat('00', 32), 'hex'));
  row_json := to_jsonb(NEW);
  payload := convert_to('chaperone-chain-v1', 'UTF8') || '\x00'::bytea || convert_to(TG_TABLE_NAME, 'UTF8') || '\x00'::bytea
    || NEW.prev_hash || int8send(NEW.seq);
  foreach col in array TG_ARGV loop
    if not row_json ? col then
      raise exception 'chain_link: % has no column %', TG_TABLE_NAME, col;
    end if;
    val := row_json ->> col;
    if val is null then
      payload := payload || '\x00'::bytea;
    else
      val_bytes := convert_to(val, 'UTF8');
      payload := payload || '\x01'::bytea || int4send(octet_length(val_bytes)) || val_bytes;
    end if;
  end loop;
  NEW.row_hash := sha256(payload);
  return NEW;
end
$$;

create function refuse_change() returns trigger
language plpgsql as $$
begin
  raise exception '% on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME
    using errcode = 'CHA01', hint = 'append a new row instead';
end
$$;

create table audit_log (
  seq bigint primary key,
  occurred_at_ms bigint not null default (floor(extract(epoch from clock_timestamp()) * 1000))::bigint,
  event text not null check (event ~ '^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$' and length(event) <= 64),
  outcome text not null check (outcome in ('ok', 'refused', 'failed')),
  actor_role text check (length(actor_role) <= 32),
  actor_id text check (actor_id ~ '^[!-~]{1,128}$'),
  room_id text check (room_id ~ '^[A-Za-z0-9._:-]{1,128}$'),
  subject_id text check (subject_id ~ '^[!-~]{1,128}$'),
  -- Canonical JSON (sorted keys) of identifiers and codes only: never PHI, never key material.
  details text not null default '{}' check (length(details) <= 8192),
  prev_hash bytea not null,
  row_hash bytea not null
);

create trigger audit_log_chain before insert on audit_log
  for each row execute function chain_link('occurred_at_ms', 'event', 'outcome', 'actor_role', 'actor_id', 'room_id', 'subject_id', 'details');
create trigger audit_log_no_update before update or delete on audit_log
  for each row execute function refuse_change();
create trigger audit_log_no_truncate before truncate on audit_log
  for each statement execute function refuse_change();

create index audit_log_room on audit_log (room_id, seq) where room_id is not null;

revoke all on audit_log from public;
grant select, insert on audit_log to chaperone_app;
