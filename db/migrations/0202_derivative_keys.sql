-- Data keys per derivative (records service composites): a derivative made from several tracks gets a key of
-- its own, so deleting any one of its source tracks can crypto-shred every copy of it (ARCHITECTURE.md I8)
-- while the recording key and the other tracks stay. track_id holds the derivative id for this scope.
alter table recording_keys drop constraint recording_keys_scope_check;
alter table recording_keys add constraint recording_keys_scope_check check (scope in ('recording', 'track', 'derivative'));
