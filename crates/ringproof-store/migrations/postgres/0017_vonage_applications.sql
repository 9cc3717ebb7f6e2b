-- ringproof schema v17: Vonage applications and used JWT ids (the Vonage face:
-- docs/compat-vonage.md).
-- Statements end with ';' at the end of a line: the migration runner splits on that.

-- An application of a client: its id (a UUID, what the JWTs' application_id claims name)
-- and the PEM public key its RS256 tokens verify under (no secret is stored).
CREATE TABLE vonage_applications (
    id              TEXT PRIMARY KEY NOT NULL,
    client_id       TEXT NOT NULL REFERENCES clients (id),
    public_key      TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

CREATE INDEX vonage_applications_by_client ON vonage_applications (client_id);

-- The JWTs already used, by a hash of the application and the jti, until the token could
-- no longer be current: a token seen twice is a replay. Rows past keep_until are removed
-- on the way in.
CREATE TABLE used_token_ids (
    key             BYTEA PRIMARY KEY NOT NULL,
    keep_until      BIGINT NOT NULL
);

CREATE INDEX used_token_ids_by_time ON used_token_ids (keep_until);
