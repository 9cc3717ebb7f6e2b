-- ringproof schema v3 (SQLite): indexes for purging login sessions.
-- Statements end with ';' at the end of a line: the migration runner splits on that.

-- Purging expired access tokens.
CREATE INDEX access_tokens_by_expiry ON access_tokens (expires_at);

-- Purging failure counts a day after their last failure (rows for probed usernames).
CREATE INDEX login_failures_by_age ON login_failures (last_failure_at);
