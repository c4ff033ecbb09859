-- Sealing pipeline: the recording's policy carries the 42 CFR Part 2 flag (substance-use-disorder care) into
-- the catalog and the signed manifest, so access can be narrowed from the catalog alone. Rows sealed before
-- this migration came from policies without the flag in the seal request; they are recorded as false.
alter table recordings add column part2 boolean not null default false;
