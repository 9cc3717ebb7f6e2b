-- ringproof schema v11 (SQLite): the login and API-secret throttle (ringproof_core::throttle).
-- Statements end with ';' at the end of a line: the migration runner splits on that.
--
-- The per-username failure counts become the throttle's rows, keyed by a scope and a
-- keyed hash of an address, a name or both (`login/pair:…`, `api_secret/ip:…`): no
-- address or name is stored in clear. The old per-username counts mean nothing under the
-- new keys and are dropped (they would have been purged within a day anyway).
DELETE FROM login_failures;
ALTER TABLE login_failures RENAME TO auth_throttle;
ALTER TABLE auth_throttle RENAME COLUMN username TO throttle_key;
-- Purging rows a day after their last failure (or window start).
DROP INDEX login_failures_by_age;
CREATE INDEX auth_throttle_by_age ON auth_throttle (last_failure_at);
