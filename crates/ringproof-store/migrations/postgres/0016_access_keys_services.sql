-- ringproof schema v16: access keys and services (the Twilio face: docs/compat-twilio.md).
-- Statements end with ';' at the end of a line: the migration runner splits on that.

-- More credential pairs of a client, in a vendor SDK's shapes: the Account SID (kind
-- 'account', id AC + 32 hex, one per client) and API keys (kind 'api_key', id SK + 32 hex).
-- The secret is never stored, only its SHA-256.
CREATE TABLE access_keys (
    id              TEXT PRIMARY KEY NOT NULL,
    client_id       TEXT NOT NULL REFERENCES clients (id),
    kind            TEXT NOT NULL,
    secret_hash     BYTEA NOT NULL,
    created_at      BIGINT NOT NULL
);

-- A client's keys; and at most one account key per client.
CREATE INDEX access_keys_by_client ON access_keys (client_id, created_at);
CREATE UNIQUE INDEX access_keys_one_account ON access_keys (client_id) WHERE kind = 'account';

-- Services: named configuration sets of a client (id VA + 32 hex); settings as JSON
-- (ringproof_core::service::ServiceSettings), so a setting added later needs no migration.
CREATE TABLE services (
    id              TEXT PRIMARY KEY NOT NULL,
    client_id       TEXT NOT NULL REFERENCES clients (id),
    settings        TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- A client's services in creation order (the list, paged).
CREATE INDEX services_by_client ON services (client_id, created_at, id);
