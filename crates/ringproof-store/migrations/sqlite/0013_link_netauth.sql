-- ringproof schema v13 (sqlite): network authentication of link clicks through the operator.
-- Statements end with ';' at the end of a line: the migration runner splits on that.

-- Why phone_match is what it is (a short reason: verified, not_verified, deadline, …).
ALTER TABLE link_sessions ADD COLUMN match_reason TEXT;
-- While the operator authenticates the device: the SHA-256 of the OIDC state (how the
-- callback finds the link), the deadline, and what finishing needs, sealed (NULL once settled).
ALTER TABLE link_sessions ADD COLUMN auth_state_hash BLOB;
ALTER TABLE link_sessions ADD COLUMN auth_deadline INTEGER;
ALTER TABLE link_sessions ADD COLUMN auth_sealed BLOB;
CREATE UNIQUE INDEX link_sessions_by_auth_state ON link_sessions (auth_state_hash);
