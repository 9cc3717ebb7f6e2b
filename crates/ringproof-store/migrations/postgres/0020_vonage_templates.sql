-- ringproof schema v20: Vonage Verify v2 templates and their fragments (the Vonage face:
-- docs/compat-vonage.md; the rules: ringproof_core::vonage_template).
-- Statements end with ';' at the end of a line: the migration runner splits on that.

-- A client's named template (id a UUID, as Vonage's). At most one per client is the
-- default (kept so by the store's update, in one transaction).
CREATE TABLE vonage_templates (
    id              TEXT PRIMARY KEY NOT NULL,
    client_id       TEXT NOT NULL REFERENCES clients (id),
    name            TEXT NOT NULL,
    is_default      BOOLEAN NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- Names are unique per client; the list is paged in creation order.
CREATE UNIQUE INDEX vonage_templates_name ON vonage_templates (client_id, name);
CREATE INDEX vonage_templates_by_client ON vonage_templates (client_id, created_at, id);

-- A template's text for one channel ('sms' or 'voice') and one locale (lowercase tag),
-- in ringproof's placeholder form. client_id is repeated so every read is scoped by it.
CREATE TABLE vonage_template_fragments (
    id              TEXT PRIMARY KEY NOT NULL,
    client_id       TEXT NOT NULL REFERENCES clients (id),
    template_id     TEXT NOT NULL REFERENCES vonage_templates (id),
    channel         TEXT NOT NULL,
    locale          TEXT NOT NULL,
    text            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- One fragment per channel and locale of a template; a template's fragments in order.
CREATE UNIQUE INDEX vonage_template_fragments_one ON vonage_template_fragments (template_id, channel, locale);
CREATE INDEX vonage_template_fragments_by_template ON vonage_template_fragments (template_id, created_at, id);
