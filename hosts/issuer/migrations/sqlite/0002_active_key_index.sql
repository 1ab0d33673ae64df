-- The queries shared with PostgreSQL say `WHERE active`, and SQLite uses a partial index
-- only for a query whose WHERE clause contains the index's own condition: with
-- `WHERE active = 1` every active-key lookup scanned the table, which keeps every retired
-- key. The unique index is rebuilt with the condition the queries use; it still allows at
-- most one active key (CHECK keeps `active` to 0 or 1, so `active` and `active = 1` select
-- the same rows).
DROP INDEX signing_keys_one_active;
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (active) WHERE active;
