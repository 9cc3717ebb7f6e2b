-- ringproof schema v1 (SQLite). Timestamps are INTEGER milliseconds since the epoch.
-- Statements end with ';' at the end of a line: the migration runner splits on that.

CREATE TABLE clients (
    id              TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    brand           TEXT NOT NULL,
    api_key         TEXT NOT NULL UNIQUE,
    secret_hash     BLOB NOT NULL,
    username        TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    allowed_origins TEXT NOT NULL,
    templates       TEXT NOT NULL,
    policy          TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);

CREATE TABLE verifications (
    id              TEXT PRIMARY KEY NOT NULL,
    client_id       TEXT NOT NULL REFERENCES clients (id),
    to_e164         TEXT NOT NULL,
    status          TEXT NOT NULL,
    workflow        TEXT NOT NULL,
    locale          TEXT NOT NULL,
    brand           TEXT NOT NULL,
    code_length     INTEGER NOT NULL,
    code_hash       BLOB,
    code_expires_at INTEGER NOT NULL,
    sealed_code     BLOB,
    next_step       INTEGER NOT NULL,
    sends           INTEGER NOT NULL,
    resends         INTEGER NOT NULL,
    last_sent_at    INTEGER NOT NULL,
    wrong_checks    INTEGER NOT NULL,
    policy          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
);

-- Lookups of a client's verifications by number (rate limits, "latest for this number").
CREATE INDEX verifications_by_number ON verifications (client_id, to_e164, created_at);
-- Purge of old terminal (and abandoned pending) verifications.
CREATE INDEX verifications_by_status ON verifications (status, updated_at);

-- AUTOINCREMENT so event ids never go backwards, even after the newest rows are purged.
CREATE TABLE events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    verification_id TEXT NOT NULL REFERENCES verifications (id) ON DELETE CASCADE,
    client_id       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    channel         TEXT,
    detail          TEXT,
    at              INTEGER NOT NULL
);

CREATE INDEX events_by_verification ON events (verification_id, id);

CREATE TABLE jobs (
    id              TEXT PRIMARY KEY NOT NULL,
    kind            TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    verification_id TEXT REFERENCES verifications (id) ON DELETE CASCADE,
    due_at          INTEGER NOT NULL,
    payload         BLOB NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending',
    locked_until    INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    buried_at       INTEGER,
    created_at      INTEGER NOT NULL
);

-- Claims, queue counters and "when is the next job due" all walk this index.
CREATE INDEX jobs_by_due ON jobs (state, due_at);
-- Cancelling a verification's pending steps; cascading deletes on purge.
CREATE INDEX jobs_by_verification ON jobs (verification_id);

CREATE TABLE idempotency (
    client_id       TEXT NOT NULL,
    idem_key        TEXT NOT NULL,
    request_hash    BLOB NOT NULL,
    status          INTEGER NOT NULL,
    body            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (client_id, idem_key)
);

CREATE INDEX idempotency_by_age ON idempotency (created_at);
