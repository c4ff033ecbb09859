-- Key service range (0100–0199): recording policies (versioned, per room) and the consent ledger
-- (append-only, hash-chained with chain_link from 0100). Times are epoch milliseconds (UTC); binary values
-- are base64 or hex text, so the chain's canonical form does not depend on session settings.

create table recording_policies (
  room_id text not null check (room_id ~ '^[A-Za-z0-9._:-]{1,128}$'),
  version integer not null check (version >= 1),
  enabled boolean not null,
  purpose text not null check (purpose in ('medical-record', 'supervision', 'quality-review', 'ai-scribe', 'custom')),
  -- The operator's text for a custom purpose (shown to participants; never PHI by policy).
  custom_purpose text check (length(custom_purpose) between 1 and 200),
  statement text not null check (length(statement) between 1 and 4000),
  -- SHA-256 (hex) of the UTF-8 statement text: what consent statements name.
  statement_sha256 text not null check (statement_sha256 ~ '^[0-9a-f]{64}$'),
  retention_days integer not null check (retention_days between 1 and 36500),
  retention_overridden boolean not null,
  consent_mode text not null check (consent_mode in ('all-party', 'one-party')),
  part2 boolean not null,
  created_at_ms bigint not null,
  created_by_role text not null,
  created_by_id text not null check (created_by_id ~ '^[!-~]{1,128}$'),
  primary key (room_id, version),
  check ((purpose = 'custom') = (custom_purpose is not null)),
  -- 42 CFR Part 2: opt-in per participant, so never one-party.
  check (not (part2 and consent_mode = 'one-party'))
);

-- A policy version, once written, is history: changes are new versions.
create trigger recording_policies_no_update before update or delete on recording_policies
  for each row execute function refuse_change();
create trigger recording_policies_no_truncate before truncate on recording_policies
  for each statement execute function refuse_change();

create table consent_ledger (
  seq bigint primary key,
  received_at_ms bigint not null,
  room_id text not null check (room_id ~ '^[A-Za-z0-9._:-]{1,128}$'),
  -- hex of the MLS group id the statement names
  group_id text not null check (group_id ~ '^[0-9a-f]{2,128}$'),
  member_id text not null check (member_id ~ '^[!-~]{1,128}$'),
  leaf_index integer not null check (leaf_index >= 0),
  policy_version integer not null check (policy_version >= 1),
  purpose text not null,
  statement_sha256 text not null check (statement_sha256 ~ '^[0-9a-f]{64}$'),
  decision text not null check (decision in ('grant', 'revoke')),
  issued_at_ms bigint not null,
  -- The signed statement exactly as received (base64), its signature (base64) and the leaf signature
  -- public key it verified against (base64): enough for anyone to verify the entry later.
  statement text not null,
  signature text not null,
  signer_key text not null,
  -- SHA-256 (hex) of the statement bytes: a statement is recorded once (replays are refused).
  statement_digest text not null unique check (statement_digest ~ '^[0-9a-f]{64}$'),
  prev_hash bytea not null,
  row_hash bytea not null
);

create trigger consent_ledger_chain before insert on consent_ledger
  for each row execute function chain_link('received_at_ms', 'room_id', 'group_id', 'member_id', 'leaf_index', 'policy_version',
    'purpose', 'statement_sha256', 'decision', 'issued_at_ms', 'statement', 'signature', 'signer_key', 'statement_digest');
create trigger consent_ledger_no_update before update or delete on consent_ledger
  for each row execute function refuse_change();
create trigger consent_ledger_no_truncate before truncate on consent_ledger
  for each statement execute function refuse_change();

create index consent_ledger_member on consent_ledger (room_id, group_id, member_id, seq);

revoke all on recording_policies, consent_ledger from public;
grant select, insert on recording_policies, consent_ledger to chaperone_app;
