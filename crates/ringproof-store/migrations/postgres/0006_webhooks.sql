-- ringproof schema v6: per-verification delivery options (sender id, SMS template, whether
-- it notifies a webhook) as one JSON object, like `policy`; and a client's webhook (URL and
-- sealed secret) as JSON, NULL when it has none.
-- Statements end with ';' at the end of a line: the migration runner splits on that.

ALTER TABLE verifications ADD COLUMN options TEXT NOT NULL DEFAULT '{}';
ALTER TABLE clients ADD COLUMN webhook TEXT;
