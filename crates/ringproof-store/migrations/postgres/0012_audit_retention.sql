-- ringproof schema v12: the audit log of administrative actions, and an index for the
-- personal-data erasure (docs/privacy.md).
-- Statements end with ';' at the end of a line: the migration runner splits on that.

-- One row per administrative action (client created or changed, secret rotated, webhook
-- set, guard block, ...). `detail` is a JSON object of setting names and counts: never a
-- secret or a phone number. No foreign key: an entry outlives what it names.
CREATE TABLE audit_log (
    id          BIGSERIAL PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    client_id   TEXT,
    detail      TEXT NOT NULL
);

-- Listing newest first and purging past the audit retention.
CREATE INDEX audit_log_by_time ON audit_log (at);
-- Listing one client's entries.
CREATE INDEX audit_log_by_client ON audit_log (client_id, at);

-- The erasure deletes verifications by age whatever their status.
CREATE INDEX verifications_by_age ON verifications (created_at);
