-- ringproof schema v18: a verification's service as a column, so "the newest verification
-- to a number in a service" (the Twilio face's fetch and check by To) is one indexed read
-- within the service, not the client's newest of any service filtered afterwards.
-- Statements end with ';' at the end of a line: the migration runner splits on that.

-- Derived from the options JSON the verification already carries (Options::service), so
-- every write stays as it is and rows from before this migration have it too. STORED (the
-- only kind PostgreSQL has): adding it rewrites the table once, under an exclusive lock.
ALTER TABLE verifications ADD COLUMN service_id TEXT GENERATED ALWAYS AS ((options::jsonb) ->> 'service') STORED;

-- Verifications in a service, by number, newest last; only those made in a service.
CREATE INDEX verifications_by_service ON verifications (client_id, service_id, to_e164, created_at) WHERE service_id IS NOT NULL;
