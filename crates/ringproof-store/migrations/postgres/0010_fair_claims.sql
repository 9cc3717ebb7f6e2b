-- Fair claims (ARCHITECTURE.md, "Fair claims"): a claim probes each client's oldest due
-- job and whether it has one in flight, one index probe each, instead of scanning a
-- flooding client's backlog. The walk over the distinct clients uses it too.
CREATE INDEX jobs_by_client ON jobs (state, client_id, due_at);
