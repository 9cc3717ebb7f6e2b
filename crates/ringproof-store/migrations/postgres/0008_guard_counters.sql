-- ringproof schema v8 (PostgreSQL): the counters of the limits across verifications (guess
-- budgets, send limits), one row per (client, scope, keyed hash). `key_hash` is an HMAC of
-- the number or IP under a server key (zeros for a client-wide row): no raw number or
-- address is stored. `state` is the core's encoded sliding windows.
-- Statements end with ';' at the end of a line: the migration runner splits on that.

CREATE TABLE guard_counters (
    client_id       TEXT NOT NULL,
    scope           TEXT NOT NULL,
    key_hash        BYTEA NOT NULL,
    state           BYTEA NOT NULL,
    expires_at      BIGINT NOT NULL,
    PRIMARY KEY (client_id, scope, key_hash)
);

-- The purge of rows past their windows.
CREATE INDEX guard_counters_by_expiry ON guard_counters (expires_at);
