-- ringproof schema v4 (SQLite): one-time link sessions ("instant link").
-- Statements end with ';' at the end of a line: the migration runner splits on that.

-- One row per link sent. The token and the VFP are stored as their SHA-256 only. The
-- click columns stay NULL until the one accepted click.
CREATE TABLE link_sessions (
    request_id      TEXT PRIMARY KEY NOT NULL,
    session_id      TEXT NOT NULL UNIQUE,
    client_id       TEXT NOT NULL REFERENCES clients (id),
    to_e164         TEXT NOT NULL,
    target_url      TEXT NOT NULL,
    source_ip       TEXT,
    token_hash      BLOB NOT NULL UNIQUE,
    vfp_hash        BLOB UNIQUE,
    carrier         TEXT NOT NULL,
    line_type       TEXT NOT NULL,
    transaction_id  TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    clicked_at      INTEGER,
    click_ip        TEXT,
    user_agent      TEXT,
    phone_match     TEXT,
    ip_match        BOOLEAN
);

-- Purging sessions past retention.
CREATE INDEX link_sessions_by_expiry ON link_sessions (expires_at);
