-- ringproof schema v2 (SQLite): login sessions for the faces that log in (Signzy).
-- Statements end with ';' at the end of a line: the migration runner splits on that.

-- Access tokens, by the SHA-256 of the token; the token itself is never stored.
CREATE TABLE access_tokens (
    token_hash      BLOB PRIMARY KEY NOT NULL,
    client_id       TEXT NOT NULL REFERENCES clients (id),
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
);

-- Revoking a client's tokens.
CREATE INDEX access_tokens_by_client ON access_tokens (client_id);

-- Consecutive failed logins per username (known or not), for the lockout rule.
CREATE TABLE login_failures (
    username        TEXT PRIMARY KEY NOT NULL,
    failures        INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL,
    locked_until    INTEGER
);
