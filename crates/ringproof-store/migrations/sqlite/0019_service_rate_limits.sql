-- ringproof schema v19: a service's rate limits and their buckets (the Twilio face's
-- Service Rate Limits: docs/compat-twilio.md; rules in ringproof_core::ratelimit).
-- Statements end with ';' at the end of a line: the migration runner splits on that.
--
-- Their counters are rows of guard_counters (scope 'service_rate', keyed by a keyed hash
-- of the bucket and the value a start names): read and written in the same transaction
-- as the guard's own rows, so they need no table here, and no value is stored in clear.

-- A rate limit (id RK + 32 hex): a name a start may give a value for, unique in its service.
CREATE TABLE rate_limits (
    id              TEXT PRIMARY KEY NOT NULL,
    client_id       TEXT NOT NULL REFERENCES clients (id),
    service_id      TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    unique_name     TEXT NOT NULL,
    description     TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- One name per service; also the service's rate limits in creation order (the list).
CREATE UNIQUE INDEX rate_limits_by_name ON rate_limits (service_id, unique_name);
CREATE INDEX rate_limits_by_service ON rate_limits (client_id, service_id, created_at, id);

-- A bucket (id BL + 32 hex): at most max starts per value in any interval_s seconds;
-- one per interval in its rate limit.
CREATE TABLE rate_limit_buckets (
    id              TEXT PRIMARY KEY NOT NULL,
    client_id       TEXT NOT NULL REFERENCES clients (id),
    service_id      TEXT NOT NULL,
    rate_limit_id   TEXT NOT NULL REFERENCES rate_limits (id) ON DELETE CASCADE,
    max             INTEGER NOT NULL,
    interval_s      INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE UNIQUE INDEX rate_limit_buckets_by_interval ON rate_limit_buckets (rate_limit_id, interval_s);
CREATE INDEX rate_limit_buckets_by_service ON rate_limit_buckets (client_id, service_id, created_at, id);
