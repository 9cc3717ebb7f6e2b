-- ringproof schema v5 (SQLite): per-client controls (products switched off, test mode with its
-- number allowlist, the number blocklist) as one JSON object, like `policy`. '{}' is the
-- default: every product enabled, no test mode, empty lists.
-- Statements end with ';' at the end of a line: the migration runner splits on that.

ALTER TABLE clients ADD COLUMN controls TEXT NOT NULL DEFAULT '{}';
