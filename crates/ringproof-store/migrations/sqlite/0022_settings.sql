-- ringproof schema v22: settings of the installation that every node must agree on, one
-- row each. The first is `server_key_fingerprint`: a one-way fingerprint of the keys
-- derived from the server secret (never the secret or a key), written by the first start;
-- a node whose secret yields another fingerprint refuses to start (crates/ringproof-server
-- startup.rs), since its codes, seals and counters would not match the others'.
-- Statements end with ';' at the end of a line: the migration runner splits on that.

CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
