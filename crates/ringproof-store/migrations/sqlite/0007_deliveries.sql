-- ringproof schema v7: sends a provider accepted, kept to match its delivery receipts by the
-- provider's message id. `status` is NULL until a receipt arrives, then moves forward once:
-- sent -> delivered | undelivered | failed. No number is stored here (region only).
-- Statements end with ';' at the end of a line: the migration runner splits on that.

CREATE TABLE deliveries (
    provider            TEXT NOT NULL,
    provider_message_id TEXT NOT NULL,
    client_id           TEXT NOT NULL,
    verification_id     TEXT NOT NULL REFERENCES verifications (id) ON DELETE CASCADE,
    channel             TEXT NOT NULL,
    region              TEXT,
    sent_at             INTEGER NOT NULL,
    send_seq            INTEGER NOT NULL,
    status              TEXT,
    updated_at          INTEGER NOT NULL,
    PRIMARY KEY (provider, provider_message_id)
);

CREATE INDEX deliveries_by_verification ON deliveries (verification_id);
