-- Shared: UUIDs for row ids (gen_random_uuid is built in since PostgreSQL 13; pgcrypto adds digest()).
create extension if not exists pgcrypto;
